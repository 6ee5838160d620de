package aliyun_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// MustServeFunction starts a runtime API and a function instance polling it:
// fail decides, per payload and retry count, whether the function answers
// an error; otherwise it echoes the payload. Both stop when tb ends.
func MustServeFunction(tb testing.TB, fail func(payload string, retry string) bool) *emulator.Runtime {
	tb.Helper()
	rt := emulator.NewRuntime()
	addr, err := rt.Start()
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		base := "http://" + addr + "/" + emulator.RuntimeAPIVersion + "/runtime/invocation/"
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			payload, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return
			}
			id := resp.Header.Get("x-fc-request-id")
			path, body := "/response", payload
			if fail(string(payload), resp.Header.Get("x-fc-retry-count")) {
				path, body = "/error", []byte(`{"errorMessage":"chunk failed","errorType":"Test"}`)
			}
			post, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+id+path, bytes.NewReader(body))
			if r, err := http.DefaultClient.Do(post); err == nil {
				r.Body.Close()
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		_ = rt.Close()
		<-done
	})
	return rt
}

// MustStartFC starts the cloud's Function Compute endpoint on rt and returns
// an invoker of the function and the endpoint's URL.
func MustStartFC(tb testing.TB, cloud *emulator.Cloud, eps emulator.Endpoints, rt *emulator.Runtime) (*aliyun.SelfInvoker, string) {
	tb.Helper()
	role := roleCreds(tb)
	fcURL, err := cloud.StartFC(rt, emulator.FCOptions{
		FunctionName: "pwreset",
		Invocation: emulator.Invocation{Credentials: emulator.Credentials{
			AccessKeyID: role.AccessKeyID, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken,
		}},
		MaxAsyncRetryAttempts: 2,
	})
	require.NoError(tb, err)
	inv, err := aliyun.NewSelfInvoker(MustNew(tb, eps), aliyun.SelfInvokeConfig{Endpoint: fcURL, FunctionName: "pwreset"})
	require.NoError(tb, err)
	return inv, fcURL
}

func waitCtx(tb testing.TB) context.Context {
	tb.Helper()
	// A bound on a hang, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func TestInvokeAsync(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	rt := MustServeFunction(t, func(payload, retry string) bool { return strings.Contains(payload, "flaky") && retry == "0" })
	inv, _ := MustStartFC(t, cloud, eps, rt)
	ctx := roleCtx(t)

	id1, err := inv.InvokeAsync(ctx, []byte(`{"run":"r1","cursor":0}`), "")
	require.NoError(t, leaks.Err(err))
	assert.NotEmpty(t, id1)
	id2, err := inv.InvokeAsync(ctx, []byte(`{"run":"r1","cursor":1,"flaky":true}`), "run-r1-1")
	require.NoError(t, leaks.Err(err))
	atLimit := append([]byte(`"`), bytes.Repeat([]byte{'x'}, aliyun.MaxAsyncPayload-2)...)
	atLimit = append(atLimit, '"')
	_, err = inv.InvokeAsync(ctx, atLimit, "")
	require.NoError(t, leaks.Err(err), "a payload of exactly 128 KB is accepted")

	done, err := cloud.WaitAsyncDone(waitCtx(t), 3)
	require.NoError(t, err)
	require.Len(t, done, 3)
	assert.Equal(t, id1, done[0].RequestID)
	require.Len(t, done[0].Attempts, 1)
	assert.Equal(t, `{"run":"r1","cursor":0}`, string(done[0].Attempts[0].Payload), "the function got the payload")
	assert.Equal(t, id2, done[1].RequestID)
	assert.Equal(t, "run-r1-1", done[1].TaskID)
	require.Len(t, done[1].Attempts, 2, "a function error is retried")
	assert.NotNil(t, done[1].Attempts[0].Err)
	assert.Nil(t, done[1].Attempts[1].Err)
	assert.Len(t, done[2].Payload, aliyun.MaxAsyncPayload)

	call := lastCall(t, cloud, "InvokeFunction")
	assert.Equal(t, http.StatusAccepted, call.Status)
	assert.Equal(t, "Async", call.Params["InvocationType"])
	assert.Equal(t, "pwreset", call.Params["FunctionName"])
	assert.Equal(t, emulator.AlgorithmV3, call.SignatureAlgorithm)
	assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID)
	assert.NotEmpty(t, call.SecurityToken)
}

func TestInvokeAsyncErrors(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	rt := MustServeFunction(t, func(string, string) bool { return false })
	inv, fcURL := MustStartFC(t, cloud, eps, rt)
	other, err := aliyun.NewSelfInvoker(MustNew(t, eps), aliyun.SelfInvokeConfig{Endpoint: fcURL, FunctionName: "another"})
	require.NoError(t, err)
	bad := roleCreds(t)
	bad.AccessKeySecret = "not-the-role-secret"

	tests := []struct {
		name      string
		invoker   *aliyun.SelfInvoker
		payload   []byte
		taskID    string
		fault     func()
		creds     *reset.Credentials
		fn        *reset.FunctionInfo
		want      reset.ErrorCode
		wantCalls int
	}{
		{name: "ErrPayloadTooLarge", invoker: inv, payload: bytes.Repeat([]byte{'x'}, aliyun.MaxAsyncPayload+1), want: reset.EInvalid},
		{name: "ErrBadTaskID", invoker: inv, payload: []byte(`{}`), taskID: "1 bad", want: reset.EInvalid},
		{name: "ErrWrongKey", invoker: inv, payload: []byte(`{}`), creds: &bad, want: reset.EUnavailable, wantCalls: 1},
		{name: "ErrThrottled", invoker: inv, payload: []byte(`{}`), fault: func() {
			cloud.FailNext("InvokeFunction", 1, http.StatusTooManyRequests, "ResourceThrottled")
		}, want: reset.EThrottled, wantCalls: 1},
		{name: "ErrNoFunction", invoker: other, payload: []byte(`{}`), want: reset.EUpstream, wantCalls: 1},
		{name: "ErrNoFunctionNamedByFC", invoker: inv, payload: []byte(`{}`), fn: &reset.FunctionInfo{Name: "another"}, want: reset.EUpstream, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud.ResetCalls()
			if tt.fault != nil {
				tt.fault()
			}
			ctx := roleCtx(t)
			if tt.creds != nil {
				ctx = reset.WithCredentials(ctx, *tt.creds)
			}
			if tt.fn != nil {
				ctx = reset.WithFunction(ctx, *tt.fn)
			}
			_, err := tt.invoker.InvokeAsync(ctx, tt.payload, tt.taskID)
			requireCode(t, leaks.Err(err), tt.want)
			assert.Equal(t, tt.wantCalls, countCalls(cloud, "InvokeFunction"), "round trips")
		})
	}
	assert.Empty(t, cloud.AsyncInvocations(), "nothing refused was queued")
}

func TestNewSelfInvoker(t *testing.T) {
	t.Parallel()
	_, eps := MustStartCloud(t)
	clients := MustNew(t, eps)
	tests := []struct {
		name      string
		cfg       aliyun.SelfInvokeConfig
		wantField string
	}{
		{"OKDefaultEndpoint", aliyun.SelfInvokeConfig{AccountID: "1234567890123456", RegionID: "cn-hangzhou", FunctionName: "pwreset"}, ""},
		{"ErrFunctionName", aliyun.SelfInvokeConfig{Endpoint: "http://127.0.0.1:1", FunctionName: "1bad"}, "FunctionName"},
		{"ErrNoAccount", aliyun.SelfInvokeConfig{RegionID: "cn-hangzhou", FunctionName: "pwreset"}, "AccountID"},
		{"ErrNoRegion", aliyun.SelfInvokeConfig{AccountID: "1234567890123456", FunctionName: "pwreset"}, "RegionID"},
		{"ErrEndpoint", aliyun.SelfInvokeConfig{Endpoint: "ftp://x", FunctionName: "pwreset"}, "Endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := aliyun.NewSelfInvoker(clients, tt.cfg)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			var re *reset.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.wantField, re.Field)
		})
	}
}

// TestInvokeAsyncFunctionFromFC: the function FC names in the invocation's
// context is the one invoked, whatever the environment said; a malformed
// name there falls back to the environment's; an endpoint given in
// FUNCTION_COMPUTE_ENDPOINT is kept whatever account and region FC gives.
func TestInvokeAsyncFunctionFromFC(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	rt := MustServeFunction(t, func(string, string) bool { return false })
	_, fcURL := MustStartFC(t, cloud, eps, rt)
	other, err := aliyun.NewSelfInvoker(MustNew(t, eps), aliyun.SelfInvokeConfig{Endpoint: fcURL, FunctionName: "another"})
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		fn   reset.FunctionInfo
		want reset.ErrorCode // "" for accepted
	}{
		{"OKNameFromFC", reset.FunctionInfo{Name: "pwreset", Region: "cn-shanghai", AccountID: "999"}, ""},
		{"ErrMalformedNameFallsBack", reset.FunctionInfo{Name: "svc/pwreset"}, reset.EUpstream}, // the environment's "another"
	} {
		t.Run(tt.name, func(t *testing.T) {
			cloud.ResetCalls()
			_, err := other.InvokeAsync(reset.WithFunction(roleCtx(t), tt.fn), []byte(`{}`), "")
			call := lastCall(t, cloud, "InvokeFunction")
			if tt.want != "" {
				requireCode(t, err, tt.want)
				assert.Equal(t, "another", call.Params["FunctionName"])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "pwreset", call.Params["FunctionName"])
			assert.Equal(t, http.StatusAccepted, call.Status, "the endpoint given was kept")
		})
	}
}
