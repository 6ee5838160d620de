package handler

// Fuzz targets of every decoder: the request object, the Idempotency-Key
// header, and each trigger's event (HTTP, one EventBridge event, the
// event-streaming array, timer) through Invoke. Seeds are in
// testdata/fuzz/<target>/ and in the f.Add calls; `make fuzz` runs each
// target for FUZZTIME.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/pwreset/pwreset/internal/reset"
)

// checkingRotator validates each request as the real rotator does and
// rotates every target; it records whether it was called.
type checkingRotator struct {
	mu     sync.Mutex
	called int
	keys   []string
	check  *reset.Rotator
}

func newCheckingRotator(tb testing.TB) *checkingRotator {
	tb.Helper()
	rot, err := reset.NewRotator(reset.Config{}, map[reset.Kind]reset.Resetter{
		reset.KindCloudSSO: nopResetter{}, reset.KindFabric: nopResetter{},
	}, nopStore{}, reset.Deps{})
	if err != nil {
		tb.Fatal(err)
	}
	return &checkingRotator{check: rot}
}

func (c *checkingRotator) Rotate(_ context.Context, req reset.Request) ([]reset.Result, error) {
	c.mu.Lock()
	c.called++
	c.keys = append(c.keys, req.IdempotencyKey)
	c.mu.Unlock()
	if err := c.check.ValidateRequest(req); err != nil {
		return nil, err
	}
	out := make([]reset.Result, len(req.Targets))
	for i, t := range req.Targets {
		out[i] = reset.Result{Target: t, Status: reset.StatusRotated, SecretName: t.SecretName("pwreset/"), VersionID: reset.VersionID(req.IdempotencyKey, t)}
	}
	return out, nil
}

type nopResetter struct{}

func (nopResetter) ResetPassword(context.Context, reset.Target, string) error { return nil }

type nopStore struct{}

func (nopStore) CreateSecret(context.Context, string, string, []byte) error         { return nil }
func (nopStore) PutVersion(context.Context, string, string, []byte, []string) error { return nil }
func (nopStore) GetVersion(context.Context, string, string) (reset.SecretVersion, error) {
	return reset.SecretVersion{}, reset.ErrSecretNotFound
}
func (nopStore) GetStaged(context.Context, string, string) (reset.SecretVersion, error) {
	return reset.SecretVersion{}, reset.ErrSecretNotFound
}
func (nopStore) Promote(context.Context, string, string) error { return nil }
func (nopStore) Describe(context.Context, string) error        { return nil }

const fuzzRequestID = "1-fuzz-0000"

func fuzzInvoke(t *testing.T, event []byte) (*checkingRotator, any, error) {
	rot := newCheckingRotator(t)
	h := New(rot, nil)
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: fuzzRequestID})
	out, err := h.Invoke(ctx, event)
	return rot, out, err
}

// quoted finds the string values of a JSON-ish input long enough to be
// worth not echoing.
var quoted = regexp.MustCompile(`"([A-Za-z0-9#!$%^&*()_+=@~]{12,})"`)

// requireNoEcho fails if msg quotes a long string value of input that is
// not a known field name: errors name fields and rules, never values.
func requireNoEcho(t *testing.T, input, msg string) {
	t.Helper()
	for _, m := range quoted.FindAllStringSubmatch(input, -1) {
		v := m[1]
		if knownField(v) || strings.Contains(fieldNames, v) || validName(v) {
			continue
		}
		if strings.Contains(msg, v) {
			t.Fatalf("error %q echoes an input value", msg)
		}
	}
}

var fieldNames = "requirePasswordResetForNextLogin organizationId directoryId isBase64Encoded requestContext specversion triggerName triggerTime"

// requireClassified checks an event's function error: typed, coded, and
// never an internal error (the rotator here never fails, so one would be a
// panic the handler recovered).
func requireClassified(t *testing.T, input []byte, err error) {
	t.Helper()
	var perm *PermanentError
	var retry *RetryableError
	switch {
	case errors.As(err, &perm):
		if perm.Code == "" || perm.Message == "" {
			t.Fatalf("permanent error without code or message: %#v", perm)
		}
		requireNoEcho(t, string(input), perm.Message)
	case errors.As(err, &retry):
		t.Fatalf("retryable error for an input the rotator never fails: %v", retry)
	default:
		t.Fatalf("unclassified error %T", err)
	}
}

func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12"}`))
	f.Add([]byte(`{"targets":[{"target":"fabric","organizationId":"peers-a","username":"asian01","location":"cn-hangzhou"}],"dryRun":true}`))
	f.Add([]byte(`{"target":"cloudsso","password":"Chosen#Pass123"}`))
	f.Add([]byte(`{"target":"cloudsso","directoryId":"d-1","directoryId":"d-2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data, "body")
		if err != nil {
			var re *reset.Error
			if !errors.As(err, &re) || re.Code != reset.EInvalid || re.Field == "" || re.Message == "" {
				t.Fatalf("decode error is not a field error: %#v", err)
			}
			requireNoEcho(t, string(data), err.Error())
			return
		}
		// What decodes re-encodes to the same request.
		again, err := decodeRequest(mustMarshal(t, req), "body")
		if err != nil {
			t.Fatalf("a decoded request does not decode again: %v", err)
		}
		if !jsonEqual(t, req, again) {
			t.Fatalf("round trip changed the request")
		}
		if rr := req.resetRequest("k"); len(rr.Targets) == 0 {
			t.Fatalf("a decoded request names no target")
		}
	})
}

func FuzzIdempotencyKey(f *testing.F) {
	for _, k := range []string{"helpdesk-4711", "", "a b", "ké", strings.Repeat("k", 257), "x,y", `q"`, "\x00"} {
		f.Add(k)
	}
	rot, err := reset.NewRotator(reset.Config{}, map[reset.Kind]reset.Resetter{reset.KindCloudSSO: nopResetter{}}, nopStore{}, reset.Deps{})
	if err != nil {
		f.Fatal(err)
	}
	target := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-1", UserID: "u-1"}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != "" {
			return
		}
		// A key the handler accepts is one reset accepts, and safe to log.
		if err := rot.ValidateRequest(reset.Request{IdempotencyKey: key, Targets: []reset.Target{target}}); err != nil {
			t.Fatalf("the handler accepts a key reset refuses: %v", err)
		}
		for _, c := range key {
			if c <= ' ' || c > '~' || c == '"' || c == '\\' || c == ',' {
				t.Fatalf("accepted key holds %q", c)
			}
		}
		first, again := reset.VersionID(key, target), reset.VersionID(key, target)
		if first != again {
			t.Fatal("version id is not deterministic")
		}
	})
}

func FuzzHTTPEvent(f *testing.F) {
	f.Add(`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12"}`, "POST", "application/json", "key-1", false)
	f.Add(`eyJ0YXJnZXQiOiJjbG91ZHNzbyJ9`, "POST", "", "", true)
	f.Add(`{}`, "GET", "text/plain", "a b", false)
	f.Fuzz(func(t *testing.T, body, method, contentType, key string, b64 bool) {
		headers := map[string]string{}
		if contentType != "" {
			headers["Content-Type"] = contentType
		}
		if key != "" {
			headers[IdempotencyKeyHeader] = key
		}
		ev := HTTPEvent{Version: "v1", Body: body, IsBase64Encoded: b64, Headers: headers,
			RequestContext: HTTPRequestContext{HTTP: HTTPDescription{Method: method}}}
		event := mustMarshal(t, ev)
		rot, out, err := fuzzInvoke(t, event)
		if err != nil {
			t.Fatalf("an HTTP trigger answered with a function error: %v", err)
		}
		resp, ok := out.(*HTTPResponse)
		if !ok {
			t.Fatalf("answered %T", out)
		}
		var r Response
		if err := json.Unmarshal([]byte(resp.Body), &r); err != nil {
			t.Fatalf("body is not a Response: %v", err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if rot.called != 1 || r.Error != nil || len(r.Results) == 0 {
				t.Fatalf("200 without a rotation")
			}
			want := ScopedKey("http", fuzzRequestID)
			if key != "" {
				want = ScopedKey("http", key)
			}
			if rot.keys[0] != want {
				t.Fatalf("rotated under key %q, want %q", rot.keys[0], want)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			if r.Error == nil || r.Error.Message == "" {
				t.Fatalf("%d without an error", resp.StatusCode)
			}
			requireNoEcho(t, body, r.Error.Message)
			if b64 {
				if raw, err := base64.StdEncoding.DecodeString(body); err == nil {
					requireNoEcho(t, string(raw), r.Error.Message)
				}
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// cloudEventJSON builds a CloudEvent around data: raw when data is JSON,
// else as a JSON string.
func cloudEventJSON(t *testing.T, id, data string) []byte {
	raw := json.RawMessage(mustMarshal(t, data))
	if json.Valid([]byte(data)) {
		raw = json.RawMessage(data)
	}
	return mustMarshal(t, CloudEvent{SpecVersion: "1.0", ID: id, Source: "s", Type: "t", Data: raw})
}

func FuzzCloudEvent(f *testing.F) {
	f.Add("evt-1", `{"target":"fabric","organizationId":"peers-a","username":"asian01","location":"cn-hangzhou"}`)
	f.Add("", `{}`)
	f.Add("evt-2", `"{\"target\":\"cloudsso\"}"`)
	f.Add("evt-3", `null`)
	f.Fuzz(func(t *testing.T, id, data string) {
		event := cloudEventJSON(t, id, data)
		rot, out, err := fuzzInvoke(t, event)
		if err != nil {
			requireClassified(t, event, err)
			return
		}
		resp, ok := out.(*Response)
		if !ok || len(resp.Results) == 0 || rot.called != 1 || rot.keys[0] != ScopedKey("eventbridge", "s", id) {
			t.Fatalf("success without a rotation under the event id: %T", out)
		}
	})
}

func FuzzEventStream(f *testing.F) {
	f.Add([]byte(`[{"specversion":"1.0","id":"a","data":{"target":"cloudsso","directoryId":"d-1","userId":"u-1"}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[1,{"specversion":"1.0"}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		event := append([]byte("["), raw...)
		rot, out, err := fuzzInvoke(t, event)
		if err != nil {
			requireClassified(t, event, err)
			return
		}
		resp, ok := out.(*Response)
		if !ok || len(resp.Results) == 0 || rot.called == 0 {
			t.Fatalf("success without a rotation: %T", out)
		}
	})
}

func FuzzTimerEvent(f *testing.F) {
	f.Add("weekly", "2024-06-11T00:00:00Z", `{"targets":[{"target":"cloudsso","directoryId":"d-1","userId":"u-1"}]}`)
	f.Add("", "", "")
	f.Add("a b", "t", `{`)
	f.Fuzz(func(t *testing.T, name, at, payload string) {
		event := mustMarshal(t, TimerEvent{TriggerName: name, TriggerTime: at, Payload: payload})
		rot, out, err := fuzzInvoke(t, event)
		if err != nil {
			requireClassified(t, event, err)
			return
		}
		if _, ok := out.(*Response); !ok || rot.called != 1 || rot.keys[0] != ScopedKey("timer", name, at) {
			t.Fatalf("success without a rotation under the trigger's key: %T", out)
		}
	})
}

// FuzzEvent feeds arbitrary bytes to Invoke: whatever the shape, the answer
// is a typed response or a classified error, never a panic.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `42`, `"x"`, `{"requestContext":1}`, `{"specversion":"1.0"}`, `{"triggerName":"t"}`, `{"target":"cloudsso"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, event []byte) {
		_, out, err := fuzzInvoke(t, event)
		if err != nil {
			requireClassified(t, event, err)
			return
		}
		switch out.(type) {
		case *Response, *HTTPResponse:
		default:
			t.Fatalf("answered %T", out)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(t *testing.T, a, b any) bool {
	return string(mustMarshal(t, a)) == string(mustMarshal(t, b))
}
