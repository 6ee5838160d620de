package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

// fakeRotator is a function-field mock of handler.Rotator that records
// every request and the credentials its context carried.
type fakeRotator struct {
	RotateFn func(ctx context.Context, req reset.Request) ([]reset.Result, error)

	mu    sync.Mutex
	reqs  []reset.Request
	creds []reset.Credentials
}

func (f *fakeRotator) Rotate(ctx context.Context, req reset.Request) ([]reset.Result, error) {
	c, _ := reset.CredentialsFrom(ctx)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.creds = append(f.creds, c)
	f.mu.Unlock()
	if f.RotateFn == nil {
		return rotateAll(ctx, req)
	}
	return f.RotateFn(ctx, req)
}

func (f *fakeRotator) requests() []reset.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reset.Request(nil), f.reqs...)
}

// rotateAll answers every target rotated, as the real rotator would name
// its secret and version.
func rotateAll(_ context.Context, req reset.Request) ([]reset.Result, error) {
	out := make([]reset.Result, len(req.Targets))
	for i, t := range req.Targets {
		status := reset.StatusRotated
		if req.DryRun {
			status = reset.StatusValidated
		}
		out[i] = reset.Result{Target: t, Status: status, SecretName: t.SecretName("pwreset/"), VersionID: reset.VersionID(req.IdempotencyKey, t)}
	}
	return out, nil
}

// failTarget returns a RotateFn under which the targets whose Key is in
// fail get that error, and the others are rotated.
func failTargets(fail map[string]error) func(context.Context, reset.Request) ([]reset.Result, error) {
	return func(ctx context.Context, req reset.Request) ([]reset.Result, error) {
		out, _ := rotateAll(ctx, req)
		for i := range out {
			if err, ok := fail[out[i].Target.Key()]; ok {
				out[i].Status, out[i].Err = reset.StatusFailed, err
			}
		}
		return out, nil
	}
}

// Credentials of the function role in the tests' FC contexts.
var testCreds = fccontext.Credentials{
	AccessKeyId:     "STS.NTPlaceholderFunctionRole01",
	AccessKeySecret: "placeholder-function-role-secret-0001",
	SecurityToken:   "CAISplaceholderFunctionRoleSecurityToken0001",
}

const testRequestID = "1-6650a1f2-0b1c2d3e4f5a6b7c8d9e0f1a"

// MustContext returns a context seeded with an FC context, as the runtime
// makes for each invocation.
func MustContext(tb testing.TB) context.Context {
	tb.Helper()
	return fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID:   testRequestID,
		Credentials: testCreds,
		Region:      "cn-hangzhou",
		AccountId:   "1234567890123456",
		RetryCount:  1,
	})
}

// testHandler is a Handler with a fake rotator and a captured log.
type testHandler struct {
	*handler.Handler
	rot *fakeRotator
	log *bytes.Buffer
}

func MustHandler(tb testing.TB, rot *fakeRotator) testHandler {
	tb.Helper()
	if rot == nil {
		rot = &fakeRotator{}
	}
	var buf bytes.Buffer
	logger := slog.New(handler.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return testHandler{Handler: handler.New(rot, logger), rot: rot, log: &buf}
}

// MustJSON encodes v.
func MustJSON(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

// httpEvent returns an HTTP trigger event POSTing body.
func httpEvent(body string, headers map[string]string) handler.HTTPEvent {
	if headers == nil {
		headers = map[string]string{"Content-Type": "application/json"}
	}
	return handler.HTTPEvent{
		Version: "v1", RawPath: "/", Body: body, Headers: headers, QueryParameters: map[string]string{},
		RequestContext: handler.HTTPRequestContext{
			AccountID: "1234567890123456", RequestID: testRequestID,
			HTTP: handler.HTTPDescription{Method: "POST", Path: "/", Protocol: "HTTP/1.1", SourceIP: "198.51.100.23", UserAgent: "test"},
		},
	}
}

// MustHTTP invokes h with an HTTP event and decodes the response.
func MustHTTP(tb testing.TB, h testHandler, ev handler.HTTPEvent) (*handler.HTTPResponse, handler.Response) {
	tb.Helper()
	out, err := h.Invoke(MustContext(tb), MustJSON(tb, ev))
	require.NoError(tb, err, "an HTTP trigger is always answered with a response")
	resp, ok := out.(*handler.HTTPResponse)
	require.True(tb, ok, "got %T, want *handler.HTTPResponse", out)
	var body handler.Response
	dec := json.NewDecoder(bytes.NewReader([]byte(resp.Body)))
	dec.DisallowUnknownFields()
	require.NoError(tb, dec.Decode(&body), "body: %s", resp.Body)
	return resp, body
}

const (
	cloudssoBody = `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","requirePasswordResetForNextLogin":true}`
	fabricBody   = `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou"}`
	batchBody    = `{"targets":[` +
		`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab13"},` +
		`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab14"},` +
		`{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian02","location":"cn-hangzhou"}]}`
)

var (
	aliceTarget = reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab12", RequirePasswordResetForNextLogin: true}
	fabricUser  = reset.Target{Kind: reset.KindFabric, OrganizationID: "peers-aaaaaa2-1eqnj5o5wab12", Username: "asian01", Location: "cn-hangzhou"}
)
