// Package e2e_test runs the real pwreset binary the way Function Compute
// runs it — under the emulated runtime API, against the emulated cloud, with
// the function role's STS credentials in each invocation — and checks the
// contract of DESIGN.md from the outside: what the function answers, what
// the cloud ends up holding, how every call was signed, and that no password
// ever leaves KMS and the target.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// binary is the function, built once by TestMain.
var binary string

// eventsDir holds the sample events; every file in it is run.
const eventsDir = "../../../events"

// decoyEnv puts credentials in the function's environment that the cloud
// does not know: a call signed with them fails, so a passing test proves the
// FC context's STS credentials were used instead.
var decoyEnv = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI5tDecoyEnvironmentKey",
	"ALIBABA_CLOUD_ACCESS_KEY_SECRET=decoy-environment-secret-not-valid",
	"ALIBABA_CLOUD_SECURITY_TOKEN=decoy-environment-token-not-valid",
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pwreset-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	binary = filepath.Join(dir, "main")
	if err := localrun.Build(ctx, binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// MustStart starts the cloud, the runtime API and the function with extra
// environment entries; everything stops when tb ends.
func MustStart(tb testing.TB, env ...string) *localrun.Stack {
	tb.Helper()
	s, err := localrun.Start(testCtx(tb), localrun.Config{Binary: binary, Env: append(append([]string(nil), decoyEnv...), env...)})
	require.NoError(tb, err)
	tb.Cleanup(func() {
		if tb.Failed() {
			// The output is shown with every password the cloud accepted
			// blanked out: a failing test must not leak one either.
			tb.Logf("function output:\n%s", s.Redact(s.Output.String()))
		}
		assert.NoError(tb, s.Close())
	})
	return s
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// decodeHTTP decodes an HTTP trigger's answer.
func decodeHTTP(tb testing.TB, event []byte, out emulator.Outcome) (localrun.HTTPResponse, localrun.Response) {
	tb.Helper()
	require.Nil(tb, out.Err, "an HTTP trigger answers failures with a status, not a function error")
	a, err := localrun.Decode(event, out)
	require.NoError(tb, err)
	require.NotNil(tb, a.HTTP)
	require.Len(tb, a.Responses, 1)
	return *a.HTTP, a.Responses[0]
}

// successResults checks that an invocation succeeded the way its trigger
// reports success (HTTP 200, or a return value and no function error) and
// returns every target's result.
func successResults(tb testing.TB, event []byte, out emulator.Outcome) []localrun.Result {
	tb.Helper()
	a, err := localrun.Decode(event, out)
	require.NoError(tb, err, "response %s", out.Payload)
	require.Nil(tb, a.FunctionError, "function error")
	if localrun.IsHTTPEvent(event) {
		require.NotNil(tb, a.HTTP)
		require.Equal(tb, 200, a.HTTP.StatusCode, "status; body %s", a.HTTP.Body)
	}
	require.True(tb, a.OK(), "response %s", out.Payload)
	require.NotEmpty(tb, a.Results(), "response %s", out.Payload)
	return a.Results()
}

// withNewIdempotencyKey returns event with its idempotency key changed
// (DESIGN.md, "Idempotency"): the HTTP Idempotency-Key header if it has one
// (else the key is the request id, which each run changes), the CloudEvent
// id, the timer's trigger time. A plain request is keyed by the request id.
func withNewIdempotencyKey(tb testing.TB, event []byte, run int) []byte {
	tb.Helper()
	var one map[string]any
	var many []map[string]any
	dec := func(v any) error {
		d := json.NewDecoder(strings.NewReader(string(event)))
		d.UseNumber()
		return d.Decode(v)
	}
	switch {
	case dec(&one) == nil:
		rekey(tb, one, run)
		b, err := json.Marshal(one)
		require.NoError(tb, err)
		return b
	case dec(&many) == nil:
		for _, m := range many {
			rekey(tb, m, run)
		}
		b, err := json.Marshal(many)
		require.NoError(tb, err)
		return b
	}
	tb.Fatalf("event is neither a JSON object nor an array of objects")
	return nil
}

func rekey(tb testing.TB, m map[string]any, run int) {
	tb.Helper()
	suffix := fmt.Sprintf("-e2e-run%d", run)
	if headers, ok := m["headers"].(map[string]any); ok && m["requestContext"] != nil {
		for k, v := range headers {
			if strings.EqualFold(k, "Idempotency-Key") {
				headers[k] = fmt.Sprint(v) + suffix
			}
		}
	}
	if id, ok := m["id"].(string); ok && m["specversion"] != nil {
		m["id"] = id + suffix
	}
	if tt, ok := m["triggerTime"].(string); ok {
		t, err := time.Parse(time.RFC3339, tt)
		require.NoError(tb, err, "timer triggerTime")
		m["triggerTime"] = t.Add(time.Duration(run) * time.Hour).UTC().Format(time.RFC3339)
	}
}

// stagedVersion returns the id of the version of the secret that holds stage.
func stagedVersion(tb testing.TB, s *localrun.Stack, name, stage string) string {
	tb.Helper()
	v, ok := s.Staged(name, stage)
	require.True(tb, ok, "secret %s: no version holds %s", name, stage)
	return v.VersionID
}

// requireInEffect checks the rotation invariant for every result: the target
// has the password of ACSCurrent, and ACSCurrent is the version the result
// names.
func requireInEffect(tb testing.TB, s *localrun.Stack, results []localrun.Result) {
	tb.Helper()
	for _, r := range results {
		require.Equal(tb, "rotated", r.Status, "%s: status", r.SecretName)
		assert.NoError(tb, s.CheckInEffect(r))
	}
}

func resetCalls(cloud *emulator.Cloud) int {
	n := 0
	for _, c := range cloud.Calls() {
		if c.Action == "ResetUserPassword" || c.Action == "ResetFabricOrganizationUserPassword" {
			n++
		}
	}
	return n
}

// requireSignedByRole checks that every cloud call was signed with the
// invocation's STS credentials.
func requireSignedByRole(tb testing.TB, s *localrun.Stack) {
	tb.Helper()
	calls := s.Cloud.Calls()
	require.NotEmpty(tb, calls)
	for _, c := range calls {
		assert.Equal(tb, s.Role.AccessKeyID, c.AccessKeyID, "%s signed by", c.Action)
		assert.Equal(tb, s.Role.SecurityToken, c.SecurityToken, "%s security token", c.Action)
		assert.NotEmpty(tb, c.SignatureAlgorithm, "%s is signed", c.Action)
	}
}

// requireNoPasswordIn checks that no password the cloud ever accepted
// appears in any of texts. Hits are reported by name, not by value.
func requireNoPasswordIn(tb testing.TB, s *localrun.Stack, texts map[string]string) {
	tb.Helper()
	require.NotEmpty(tb, s.Cloud.AcceptedPasswords(), "the leak check needs the passwords the cloud accepted")
	for name, text := range texts {
		assert.False(tb, s.ContainsPassword(text), "a password appears in %s", name)
	}
}

func outcomeText(out emulator.Outcome) string {
	s := string(out.Payload)
	if out.Err != nil {
		s += "\n" + out.Err.Type + "\n" + out.Err.Message
	}
	return s
}

func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no sample events in %s", eventsDir)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			event, err := os.ReadFile(file)
			require.NoError(t, err)
			s := MustStart(t)
			texts := map[string]string{}

			// First rotation.
			first := withNewIdempotencyKey(t, event, 1)
			out1, err := s.Invoke(testCtx(t), first, emulator.Invocation{RequestID: "e2e-" + name + "-1"})
			require.NoError(t, err)
			texts["response 1"] = outcomeText(out1)
			res1 := successResults(t, first, out1)
			requireInEffect(t, s, res1)

			// A second rotation with a new key: a new version becomes
			// ACSCurrent and the first one ACSPrevious.
			second := withNewIdempotencyKey(t, event, 2)
			inv2 := emulator.Invocation{RequestID: "e2e-" + name + "-2"}
			out2, err := s.Invoke(testCtx(t), second, inv2)
			require.NoError(t, err)
			texts["response 2"] = outcomeText(out2)
			res2 := successResults(t, second, out2)
			requireInEffect(t, s, res2)
			before := map[string]string{}
			for _, r := range res1 {
				before[r.SecretName] = r.VersionID
			}
			for _, r := range res2 {
				require.Contains(t, before, r.SecretName, "both runs name the same targets")
				assert.NotEqual(t, before[r.SecretName], r.VersionID, "%s: a new idempotency key makes a new version", r.SecretName)
				previous := stagedVersion(t, s, r.SecretName, "ACSPrevious")
				assert.Equal(t, before[r.SecretName], previous, "%s: the first rotation's version is ACSPrevious", r.SecretName)
			}

			// Function Compute re-delivers the second event: same key, same
			// request id. Nothing is reset again.
			resets := resetCalls(s.Cloud)
			inv2.RetryCount = 1
			out3, err := s.Invoke(testCtx(t), second, inv2)
			require.NoError(t, err)
			texts["replayed response"] = outcomeText(out3)
			res3 := successResults(t, second, out3)
			assert.Equal(t, resets, resetCalls(s.Cloud), "a replay resets nothing")
			require.Len(t, res3, len(res2))
			for i := range res2 {
				assert.Equal(t, res2[i].SecretName, res3[i].SecretName)
				assert.Equal(t, res2[i].VersionID, res3[i].VersionID, "%s: a replay answers the same version", res2[i].SecretName)
			}
			requireInEffect(t, s, res3)

			requireSignedByRole(t, s)
			logs, err := s.Logs(testCtx(t), inv2.RequestID)
			require.NoError(t, err)
			assert.NotEmpty(t, logs)
			texts["function output"] = s.Output.String()
			requireNoPasswordIn(t, s, texts)
		})
	}
}

// httpEvent is a Function Compute 3.0 HTTP trigger event carrying body.
func httpEvent(tb testing.TB, method, body string) []byte {
	tb.Helper()
	ev := map[string]any{
		"version":         "v1",
		"rawPath":         "/",
		"body":            body,
		"isBase64Encoded": false,
		"headers":         map[string]string{"Content-Type": "application/json"},
		"queryParameters": map[string]string{},
		"requestContext": map[string]any{
			"accountId":    "1234567890123456",
			"domainName":   "example.cn-hangzhou.fcapp.run",
			"domainPrefix": "example",
			"http": map[string]string{
				"method": method, "path": "/", "protocol": "HTTP/1.1",
				"sourceIp": "192.0.2.10", "userAgent": "e2e",
			},
			"requestId": "e2e-http",
			"time":      "2024-05-01T08:00:00Z",
			"timeEpoch": "1714550400000",
		},
	}
	b, err := json.Marshal(ev)
	require.NoError(tb, err)
	return b
}

func timerEvent(tb testing.TB, payload string) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]string{"triggerTime": "2024-05-01T08:00:00Z", "triggerName": "rotate-nightly", "payload": payload})
	require.NoError(tb, err)
	return b
}

func TestBadInputMakesNoCloudCall(t *testing.T) {
	s := MustStart(t)
	tests := []struct {
		name       string
		event      []byte
		wantStatus int    // for HTTP events
		wantType   string // for the others
	}{
		{"HTTP_ErrIdentifierOutsideCharset", httpEvent(t, "POST", `{"target":"cloudsso","directoryId":"d-../../x","userId":"u-1"}`), 400, ""},
		{"HTTP_ErrUnknownField", httpEvent(t, "POST", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","password":"Chosen#Pass1"}`), 400, ""},
		{"HTTP_ErrNotJSON", httpEvent(t, "POST", `target=cloudsso`), 400, ""},
		{"HTTP_ErrWrongMethod", httpEvent(t, "GET", ``), 405, ""},
		{"Timer_ErrMissingField", timerEvent(t, `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12"}`), 0, "PermanentError"},
		{"Direct_ErrUnknownTarget", []byte(`{"target":"ldap","userId":"u-1"}`), 0, "PermanentError"},
		{"ErrNotAnEvent", []byte(`"hello"`), 0, "PermanentError"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Cloud.ResetCalls()
			out, err := s.Invoke(testCtx(t), tt.event, emulator.Invocation{RequestID: fmt.Sprintf("e2e-bad-%d", i)})
			require.NoError(t, err)
			if tt.wantStatus != 0 {
				hr, r := decodeHTTP(t, tt.event, out)
				assert.Equal(t, tt.wantStatus, hr.StatusCode, "got %d, want %d; body %s", hr.StatusCode, tt.wantStatus, hr.Body)
				require.NotNil(t, r.Error)
				assert.NotEmpty(t, r.Error.Code)
				assert.NotEmpty(t, r.Error.Message)
			} else {
				require.NotNil(t, out.Err, "want a function error, got %s", out.Payload)
				assert.Equal(t, tt.wantType, out.Err.Type)
			}
			assert.Empty(t, s.Cloud.Calls(), "no cloud call for a bad request")
		})
	}
}

func TestThrottledUpstreamIsRetryable(t *testing.T) {
	const request = `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab13"}`
	tests := []struct {
		name       string
		event      []byte
		wantStatus int
		wantType   string
	}{
		{"HTTP_429", httpEvent(t, "POST", request), 429, ""},
		{"Timer_RetryableError", timerEvent(t, request), 0, "RetryableError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Two attempts per call keep the backoff short.
			s := MustStart(t, "MAX_ATTEMPTS=2")
			s.Cloud.FailNext("ResetUserPassword", 100, 400, "Throttling.User")
			inv := emulator.Invocation{RequestID: "e2e-throttled"}
			out, err := s.Invoke(testCtx(t), tt.event, inv)
			require.NoError(t, err)
			if tt.wantStatus != 0 {
				hr, r := decodeHTTP(t, tt.event, out)
				assert.Equal(t, tt.wantStatus, hr.StatusCode, "body %s", hr.Body)
				require.NotNil(t, r.Error)
			} else {
				require.NotNil(t, out.Err, "want a function error, got %s", out.Payload)
				assert.Equal(t, tt.wantType, out.Err.Type)
			}
			// The target kept its password, and it is still ACSCurrent's.
			pw, _ := s.Cloud.SSOPassword(emulator.FixtureDirectoryID, "u-00q8wbq42wiltcrkab13")
			const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab13"
			if v, ok := s.Staged(name, "ACSCurrent"); ok {
				current, err := localrun.SecretPassword(v)
				require.NoError(t, err)
				// Before the first rotation ACSCurrent holds no password.
				assert.True(t, current == "" || current == pw, "after a failed reset ACSCurrent still matches the target")
			}

			// Once upstream recovers, the retry (same request id, so the
			// same key) finishes the rotation.
			s.Cloud.ClearFaults()
			inv.RetryCount = 1
			out, err = s.Invoke(testCtx(t), tt.event, inv)
			require.NoError(t, err)
			res := successResults(t, tt.event, out)
			requireInEffect(t, s, res)
			requireSignedByRole(t, s)
			requireNoPasswordIn(t, s, map[string]string{"response": outcomeText(out), "function output": s.Output.String()})
		})
	}
}

// TestSDKDebugRefused starts the function with DEBUG=tea, which makes the
// SDKs print every request URL (CloudSSO's carries the password): every
// invocation must fail, naming the variable, before any cloud call.
func TestSDKDebugRefused(t *testing.T) {
	s := MustStart(t, "DEBUG=tea")
	const request = `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12"}`
	out, err := s.Invoke(testCtx(t), timerEvent(t, request), emulator.Invocation{RequestID: "e2e-debug"})
	require.NoError(t, err)
	require.NotNil(t, out.Err, "want a function error, got %s", out.Payload)
	assert.Equal(t, "PermanentError", out.Err.Type)
	assert.Contains(t, out.Err.Message, "DEBUG")
	assert.Empty(t, s.Cloud.Calls(), "no cloud call while the SDKs would dump requests")
}
