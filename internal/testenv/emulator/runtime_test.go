package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// helloReply mirrors testdata/hello's reply.
type helloReply struct {
	Echo            json.RawMessage `json:"echo"`
	RequestID       string          `json:"requestId"`
	AccessKeyID     string          `json:"accessKeyId"`
	AccessKeySecret string          `json:"accessKeySecret"`
	SecurityToken   string          `json:"securityToken"`
	Region          string          `json:"region"`
	AccountID       string          `json:"accountId"`
	RetryCount      int             `json:"retryCount"`
	FunctionName    string          `json:"functionName"`
	Handler         string          `json:"handler"`
	Memory          string          `json:"memory"`
	Timeout         int             `json:"timeout"`
	ServiceName     string          `json:"serviceName"`
	Qualifier       string          `json:"qualifier"`
	VersionID       string          `json:"versionId"`
	DeadlineMS      int64           `json:"deadlineMs"`
}

// MustBuildHello builds testdata/hello the way the function is built.
func MustBuildHello(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "go build testdata/hello: %s", out)
	return bin
}

// MustStartRuntime starts a Runtime that is closed when tb ends.
func MustStartRuntime(tb testing.TB) (*emulator.Runtime, string) {
	tb.Helper()
	rt := emulator.NewRuntime()
	addr, err := rt.Start()
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, rt.Close()) })
	return rt, addr
}

// MustRunFunction starts bin against the runtime at addr and waits for its
// first poll. The process is killed before the runtime closes, because the
// SDK retries a failed poll in a tight loop.
func MustRunFunction(tb testing.TB, rt *emulator.Runtime, addr, bin string) {
	tb.Helper()
	before := rt.PollCount()
	var out bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = []string{"FC_RUNTIME_API=" + addr}
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("function output:\n%s", out.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rt.WaitPoll(ctx, before+1)
	require.NoError(tb, err, "function never polled")
}

func invokeCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestRuntimeWithHelloFunction(t *testing.T) {
	bin := MustBuildHello(t)
	rt, addr := MustStartRuntime(t)
	MustRunFunction(t, rt, addr, bin)

	t.Run("OK_EchoesPayload", func(t *testing.T) {
		out, err := rt.Invoke(invokeCtx(t), []byte(`{"echo":{"a":[1,2]}}`), emulator.Invocation{RequestID: "req-echo"})
		require.NoError(t, err)
		require.Nil(t, out.Err)
		var got helloReply
		require.NoError(t, json.Unmarshal(out.Payload, &got))
		assert.JSONEq(t, `{"a":[1,2]}`, string(got.Echo))
		assert.Equal(t, "req-echo", got.RequestID)
		assert.Equal(t, "req-echo", out.RequestID)
		assert.Positive(t, out.Elapsed)
	})

	t.Run("OK_HeadersReachFCContext", func(t *testing.T) {
		inv := emulator.Invocation{
			RequestID: "req-headers",
			Timeout:   42 * time.Second,
			Credentials: emulator.Credentials{
				AccessKeyID: "STS.testkeyid", AccessKeySecret: "test-key-secret", SecurityToken: "test-token",
			},
			Region: "cn-shanghai", AccountID: "9999999999999999",
			FunctionName: "fn", Handler: "bootstrap", MemoryMB: 512,
			ServiceName: "svc", Qualifier: "prod", VersionID: "3",
			RetryCount: 2,
		}
		before := time.Now()
		out, err := rt.Invoke(invokeCtx(t), []byte(`{}`), inv)
		after := time.Now()
		require.NoError(t, err)
		require.Nil(t, out.Err)
		var got helloReply
		require.NoError(t, json.Unmarshal(out.Payload, &got))
		want := helloReply{
			RequestID: "req-headers", AccessKeyID: "STS.testkeyid", AccessKeySecret: "test-key-secret",
			SecurityToken: "test-token", Region: "cn-shanghai", AccountID: "9999999999999999", RetryCount: 2,
			FunctionName: "fn", Handler: "bootstrap", Memory: "512", Timeout: 42, ServiceName: "svc",
			Qualifier: "prod", VersionID: "3", DeadlineMS: got.DeadlineMS,
		}
		assert.Equal(t, want, got)
		// The deadline is the dispatch time plus the timeout.
		assert.GreaterOrEqual(t, got.DeadlineMS, before.Add(42*time.Second).UnixMilli())
		assert.LessOrEqual(t, got.DeadlineMS, after.Add(42*time.Second).UnixMilli())
	})

	t.Run("OK_DefaultsFilled", func(t *testing.T) {
		out, err := rt.Invoke(invokeCtx(t), []byte(`{}`), emulator.Invocation{})
		require.NoError(t, err)
		var got helloReply
		require.NoError(t, json.Unmarshal(out.Payload, &got))
		assert.NotEmpty(t, got.RequestID)
		assert.Equal(t, out.RequestID, got.RequestID)
		assert.Equal(t, emulator.DefaultRegion, got.Region)
		assert.Equal(t, emulator.DefaultAccountID, got.AccountID)
		assert.Equal(t, emulator.DefaultFunctionName, got.FunctionName)
		assert.Equal(t, emulator.DefaultHandler, got.Handler)
		assert.Equal(t, strconv.Itoa(emulator.DefaultMemoryMB), got.Memory)
		assert.Equal(t, int(emulator.DefaultInvocationTimeout/time.Second), got.Timeout)
		assert.Empty(t, got.AccessKeyID, "no credentials unless given")
	})

	t.Run("OK_FunctionErrorCollected", func(t *testing.T) {
		out, err := rt.Invoke(invokeCtx(t), []byte(`{"fail":"boom"}`), emulator.Invocation{RequestID: "req-fail"})
		require.NoError(t, err)
		require.NotNil(t, out.Err)
		assert.Equal(t, emulator.FunctionError{Message: "boom", Type: "helloError"}, *out.Err)
		assert.Nil(t, out.Payload)
	})

	t.Run("OK_SequentialInvocationsOneInstance", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range 5 {
			out, err := rt.Invoke(invokeCtx(t), []byte(`{"echo":`+strconv.Itoa(i)+`}`), emulator.Invocation{})
			require.NoError(t, err)
			var got helloReply
			require.NoError(t, json.Unmarshal(out.Payload, &got))
			assert.Equal(t, strconv.Itoa(i), string(got.Echo))
			seen[got.RequestID] = true
		}
		assert.Len(t, seen, 5, "each invocation gets its own request id")
	})

	t.Run("OK_SameRequestIDAgainAfterCompletion", func(t *testing.T) {
		// Function Compute retries an event with the same request id.
		for retry := range 2 {
			out, err := rt.Invoke(invokeCtx(t), []byte(`{}`), emulator.Invocation{RequestID: "req-retried", RetryCount: retry})
			require.NoError(t, err)
			var got helloReply
			require.NoError(t, json.Unmarshal(out.Payload, &got))
			assert.Equal(t, retry, got.RetryCount)
		}
	})
}

// poll is a raw GET .../next, as the SDK sends it.
type poll struct {
	resp *http.Response
	body []byte
	err  error
}

func startPoll(ctx context.Context, addr string) <-chan poll {
	return startPollOn(ctx, http.DefaultClient, addr)
}

// startPollOn polls with c: give each emulated instance its own client, so
// that no two share a connection.
func startPollOn(ctx context.Context, c *http.Client, addr string) <-chan poll {
	ch := make(chan poll, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/2020-11-11/runtime/invocation/next", nil)
		if err != nil {
			ch <- poll{err: err}
			return
		}
		resp, err := c.Do(req)
		if err != nil {
			ch <- poll{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		ch <- poll{resp: resp, body: body, err: err}
	}()
	return ch
}

func post(tb testing.TB, url, body string) *http.Response {
	tb.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(tb, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(tb, resp.Body.Close())
	return resp
}

func TestRuntimeNextBlocksUntilInvocation(t *testing.T) {
	rt, addr := MustStartRuntime(t)
	polled := startPoll(context.Background(), addr)
	_, err := rt.WaitPoll(invokeCtx(t), 1)
	require.NoError(t, err)
	select {
	case p := <-polled:
		t.Fatalf("next answered before any invocation was queued: %+v", p)
	default:
	}

	outcome := make(chan emulator.Outcome, 1)
	go func() {
		out, err := rt.Invoke(context.Background(), []byte(`{"x":1}`), emulator.Invocation{RequestID: "req-1", Timeout: 1500 * time.Millisecond, RetryCount: 1})
		assert.NoError(t, err)
		outcome <- out
	}()
	p := <-polled
	require.NoError(t, p.err)
	require.Equal(t, http.StatusOK, p.resp.StatusCode)
	assert.Equal(t, `{"x":1}`, string(p.body))
	for name, want := range map[string]string{
		"x-fc-request-id":        "req-1",
		"x-fc-function-timeout":  "2", // rounded up to whole seconds
		"x-fc-retry-count":       "1",
		"x-fc-region":            emulator.DefaultRegion,
		"x-fc-account-id":        emulator.DefaultAccountID,
		"x-fc-function-name":     emulator.DefaultFunctionName,
		"x-fc-function-handler":  emulator.DefaultHandler,
		"x-fc-function-memory":   strconv.Itoa(emulator.DefaultMemoryMB),
		"x-fc-qualifier":         emulator.DefaultQualifier,
		"x-fc-access-key-id":     "",
		"x-fc-security-token":    "",
		"x-fc-access-key-secret": "",
	} {
		assert.Equal(t, want, p.resp.Header.Get(name), name)
	}
	_, err = strconv.ParseInt(p.resp.Header.Get("x-fc-function-deadline"), 10, 64)
	assert.NoError(t, err, "deadline is epoch milliseconds")

	resp := post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-1/response", `{"ok":true}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	out := <-outcome
	assert.Equal(t, `{"ok":true}`, string(out.Payload))
	assert.Nil(t, out.Err)

	// The outcome is collected once; a second post for the id is refused.
	resp = post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-1/response", `{"ok":true}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestRuntimeAbandonedPollDoesNotTakeInvocation(t *testing.T) {
	rt, addr := MustStartRuntime(t)
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := startPoll(ctx, addr)
	_, err := rt.WaitPoll(invokeCtx(t), 1)
	require.NoError(t, err)
	cancel()
	require.Error(t, (<-abandoned).err)
	require.Eventually(t, func() bool { return rt.Waiting() == 0 }, 10*time.Second, time.Millisecond,
		"the server never noticed the client left")

	live := startPoll(context.Background(), addr)
	outcome := make(chan error, 1)
	go func() {
		_, err := rt.Invoke(context.Background(), []byte(`{}`), emulator.Invocation{RequestID: "req-live"})
		outcome <- err
	}()
	p := <-live
	require.NoError(t, p.err)
	require.Equal(t, "req-live", p.resp.Header.Get("x-fc-request-id"))
	post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-live/response", `{}`)
	require.NoError(t, <-outcome)
}

func TestRuntimeErrorOutcome(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantErr    *emulator.FunctionError
	}{
		{"OK", `{"errorMessage":"bad","errorType":"InvalidParameter","stackTrace":[]}`, http.StatusOK,
			&emulator.FunctionError{Message: "bad", Type: "InvalidParameter"}},
		{"ErrNotJSON", `not json`, http.StatusBadRequest, nil},
		{"ErrEmptyObject", `{}`, http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, addr := MustStartRuntime(t)
			polled := startPoll(context.Background(), addr)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			outcome := make(chan emulator.Outcome, 1)
			go func() {
				out, _ := rt.Invoke(ctx, []byte(`{}`), emulator.Invocation{RequestID: "req-err"})
				outcome <- out
			}()
			require.NoError(t, (<-polled).err)
			resp := post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-err/error", tt.body)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantErr == nil {
				cancel() // a rejected post leaves the invocation running
				assert.Nil(t, (<-outcome).Err)
				return
			}
			out := <-outcome
			assert.Equal(t, tt.wantErr, out.Err)
		})
	}
}

func TestRuntimeUnknownRequests(t *testing.T) {
	_, addr := MustStartRuntime(t)
	base := "http://" + addr
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"ErrNextWrongMethod", http.MethodPost, "/2020-11-11/runtime/invocation/next", http.StatusMethodNotAllowed},
		{"ErrResponseWrongMethod", http.MethodGet, "/2020-11-11/runtime/invocation/abc/response", http.StatusMethodNotAllowed},
		{"ErrErrorWrongMethod", http.MethodPut, "/2020-11-11/runtime/invocation/abc/error", http.StatusMethodNotAllowed},
		{"ErrUnknownRequestID", http.MethodPost, "/2020-11-11/runtime/invocation/no-such-id/response", http.StatusBadRequest},
		{"ErrUnknownRequestIDError", http.MethodPost, "/2020-11-11/runtime/invocation/no-such-id/error", http.StatusBadRequest},
		{"ErrUnknownAction", http.MethodPost, "/2020-11-11/runtime/invocation/abc/retry", http.StatusNotFound},
		{"ErrWrongVersion", http.MethodGet, "/2018-06-01/runtime/invocation/next", http.StatusNotFound},
		{"ErrRoot", http.MethodGet, "/", http.StatusNotFound},
		{"ErrTooDeep", http.MethodPost, "/2020-11-11/runtime/invocation/abc/response/x", http.StatusNotFound},
		{"ErrEmptyID", http.MethodPost, "/2020-11-11/runtime/invocation//response", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(`{"errorMessage":"m","errorType":"t"}`))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode, "got %d, want %d", resp.StatusCode, tt.want)
			var body emulator.FunctionError
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "error bodies are JSON")
			assert.NotEmpty(t, body.Type)
		})
	}
}

func TestRuntimeInvokeEnds(t *testing.T) {
	t.Run("ErrContextEndedBeforeDispatch", func(t *testing.T) {
		rt, _ := MustStartRuntime(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := rt.Invoke(ctx, []byte(`{}`), emulator.Invocation{})
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("ErrContextEndedWhileRunning", func(t *testing.T) {
		rt, addr := MustStartRuntime(t)
		polled := startPoll(context.Background(), addr)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := rt.Invoke(ctx, []byte(`{}`), emulator.Invocation{RequestID: "req-slow"})
			done <- err
		}()
		require.NoError(t, (<-polled).err)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		// The withdrawn invocation's late outcome is refused.
		resp := post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-slow/response", `{}`)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("ErrDuplicateRequestID", func(t *testing.T) {
		rt, addr := MustStartRuntime(t)
		polled := startPoll(context.Background(), addr)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := rt.Invoke(ctx, []byte(`{}`), emulator.Invocation{RequestID: "req-dup"})
			done <- err
		}()
		p := <-polled
		require.NoError(t, p.err)
		require.Equal(t, "req-dup", p.resp.Header.Get("x-fc-request-id"))
		_, err := rt.Invoke(invokeCtx(t), []byte(`{}`), emulator.Invocation{RequestID: "req-dup"})
		require.ErrorIs(t, err, emulator.ErrDuplicateRequestID)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})

	t.Run("ErrRuntimeClosed", func(t *testing.T) {
		rt := emulator.NewRuntime()
		addr, err := rt.Start()
		require.NoError(t, err)
		polled := startPoll(context.Background(), addr)
		_, err = rt.WaitPoll(invokeCtx(t), 1)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := rt.Invoke(context.Background(), []byte(`{}`), emulator.Invocation{RequestID: "req-closed"})
			done <- err
		}()
		require.NoError(t, (<-polled).err)
		require.NoError(t, rt.Close())
		require.ErrorIs(t, <-done, emulator.ErrRuntimeClosed)
		_, err = rt.Invoke(context.Background(), nil, emulator.Invocation{})
		require.ErrorIs(t, err, emulator.ErrRuntimeClosed)
		_, err = rt.WaitPoll(context.Background(), 2)
		require.ErrorIs(t, err, emulator.ErrRuntimeClosed)
	})
}

// TestRuntimeOneInvocationAtATime: an instance serves one invocation at a
// time, as Function Compute's instances do with instance concurrency 1. A
// second poll gets the next invocation only after the first's outcome.
func TestRuntimeOneInvocationAtATime(t *testing.T) {
	rt, addr := MustStartRuntime(t)
	outcomes := make(chan emulator.Outcome, 2)
	invoke := func(id string) {
		out, err := rt.Invoke(context.Background(), []byte(`{}`), emulator.Invocation{RequestID: id})
		assert.NoError(t, err)
		outcomes <- out
	}
	first := startPoll(context.Background(), addr)
	_, err := rt.WaitPoll(invokeCtx(t), 1)
	require.NoError(t, err)
	go invoke("req-1")
	p1 := <-first
	require.NoError(t, p1.err)
	require.Equal(t, "req-1", p1.resp.Header.Get("x-fc-request-id"))

	go invoke("req-2")
	second := startPoll(context.Background(), addr)
	_, err = rt.WaitPoll(invokeCtx(t), 2)
	require.NoError(t, err)
	require.Never(t, func() bool { return len(second) > 0 }, 200*time.Millisecond, 10*time.Millisecond,
		"a second invocation was handed out while the first ran")
	assert.Equal(t, 1, rt.Running())

	post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-1/response", `{}`)
	p2 := <-second
	require.NoError(t, p2.err)
	assert.Equal(t, "req-2", p2.resp.Header.Get("x-fc-request-id"))
	assert.Equal(t, "req-1", (<-outcomes).RequestID, "the first finished before the second started")
	post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-2/response", `{}`)
	assert.Equal(t, "req-2", (<-outcomes).RequestID)
}

// TestRuntimeExitedInstanceStrandsNothing: an instance is killed while it
// runs an invocation and, as fc-runtime-go-sdk does (fc/invoke_loop.go polls
// again as soon as it hands an invocation to its handler), while its next
// poll waits, and the server has not yet noticed that poll's connection
// close (here it stays open: the emulated instance's client lives on). The
// runtime is told the instance exited; then a new instance polls. The
// running invocation fails with ErrInstanceExited, the dead instance's poll
// is answered without an invocation, and the next invocation goes to the
// new instance.
func TestRuntimeExitedInstanceStrandsNothing(t *testing.T) {
	rt, addr := MustStartRuntime(t)
	client := func() *http.Client {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	dead, fresh := client(), client()
	invoke := func(id string) <-chan error {
		ch := make(chan error, 1)
		go func() {
			out, err := rt.Invoke(invokeCtx(t), []byte(`{}`), emulator.Invocation{RequestID: id})
			if err == nil {
				assert.Equal(t, id, out.RequestID)
			}
			ch <- err
		}()
		return ch
	}

	first := startPollOn(invokeCtx(t), dead, addr)
	_, err := rt.WaitPoll(invokeCtx(t), 1)
	require.NoError(t, err)
	stranded := invoke("req-1")
	p1 := <-first
	require.NoError(t, p1.err)
	require.Equal(t, "req-1", p1.resp.Header.Get("x-fc-request-id"))
	deadPoll := startPollOn(invokeCtx(t), dead, addr)
	_, err = rt.WaitPoll(invokeCtx(t), 2)
	require.NoError(t, err)

	rt.InstanceExited()
	require.ErrorIs(t, <-stranded, emulator.ErrInstanceExited)
	assert.Zero(t, rt.Running(), "the dead instance's invocation is still running")
	p2 := <-deadPoll
	require.NoError(t, p2.err)
	assert.Equal(t, http.StatusGone, p2.resp.StatusCode)
	assert.Empty(t, p2.resp.Header.Get("x-fc-request-id"))

	// The dead instance's connection is still open and still polling.
	again := startPollOn(invokeCtx(t), dead, addr)
	p3 := <-again
	require.NoError(t, p3.err)
	assert.Equal(t, http.StatusGone, p3.resp.StatusCode)

	live := startPollOn(invokeCtx(t), fresh, addr)
	_, err = rt.WaitPoll(invokeCtx(t), 4)
	require.NoError(t, err)
	next := invoke("req-2")
	p4 := <-live
	require.NoError(t, p4.err)
	require.Equal(t, "req-2", p4.resp.Header.Get("x-fc-request-id"))
	post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-2/response", `{}`)
	require.NoError(t, <-next)

	// A late outcome from the dead instance is refused.
	resp := post(t, "http://"+addr+"/2020-11-11/runtime/invocation/req-1/response", `{}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
