// Package e2e_test runs the real pwreset binary the way Function Compute
// runs it — under the emulated runtime API, against the emulated cloud, with
// the function role's STS credentials in each invocation — and checks the
// contract of DESIGN.md from the outside: what the function answers, what
// the cloud ends up holding, how every call was signed, and that no password
// ever leaves KMS and the target.
package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/emulator"
	"github.com/pwreset/pwreset/internal/localrun"
)

// binary is the function, built once by TestMain.
var binary string

// eventsDir holds the sample events; every file in it is run.
const eventsDir = "../../events"

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
			tb.Logf("function output:\n%s", redact(s.Output.String(), s.Cloud.AcceptedPasswords()))
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

func redact(s string, passwords []string) string {
	for _, p := range passwords {
		if p != "" {
			s = strings.ReplaceAll(s, p, "[REDACTED]")
		}
	}
	return s
}

// result is one target's outcome as the contract spells it.
type result struct {
	Target         string          `json:"target"`
	DirectoryID    string          `json:"directoryId"`
	UserID         string          `json:"userId"`
	OrganizationID string          `json:"organizationId"`
	Username       string          `json:"username"`
	Status         string          `json:"status"`
	SecretName     string          `json:"secretName"`
	VersionID      string          `json:"versionId"`
	Error          json.RawMessage `json:"error"`
}

// response is the contract's response body.
type response struct {
	RequestID string   `json:"requestId"`
	Results   []result `json:"results"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// httpResponse is Function Compute 3.0's HTTP trigger response.
type httpResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// isHTTPEvent tells an HTTP trigger event by its requestContext, as Function
// Compute 3.0 shapes it.
func isHTTPEvent(payload []byte) bool {
	var probe struct {
		RequestContext json.RawMessage `json:"requestContext"`
	}
	return json.Unmarshal(payload, &probe) == nil && probe.RequestContext != nil
}

// decodeHTTP decodes an HTTP trigger's answer and its body.
func decodeHTTP(tb testing.TB, out emulator.Outcome) (httpResponse, response) {
	tb.Helper()
	require.Nil(tb, out.Err, "an HTTP trigger answers failures with a status, not a function error")
	var hr httpResponse
	require.NoError(tb, json.Unmarshal(out.Payload, &hr), "HTTP trigger response")
	body := []byte(hr.Body)
	if hr.IsBase64Encoded {
		var err error
		body, err = base64.StdEncoding.DecodeString(hr.Body)
		require.NoError(tb, err)
	}
	var r response
	require.NoError(tb, json.Unmarshal(body, &r), "HTTP body")
	return hr, r
}

// successResults checks that an invocation succeeded the way its trigger
// reports success and returns every target's result.
func successResults(tb testing.TB, event []byte, out emulator.Outcome) []result {
	tb.Helper()
	if isHTTPEvent(event) {
		hr, r := decodeHTTP(tb, out)
		require.Equal(tb, 200, hr.StatusCode, "status; body %s", hr.Body)
		require.Nil(tb, r.Error)
		require.NotEmpty(tb, r.Results)
		return r.Results
	}
	require.Nil(tb, out.Err, "function error")
	results := collectResults(tb, out.Payload)
	require.NotEmpty(tb, results, "response %s", out.Payload)
	return results
}

// collectResults gathers the results of a response, or of an array of them
// (the answer to an event-streaming batch).
func collectResults(tb testing.TB, payload []byte) []result {
	tb.Helper()
	var many []json.RawMessage
	if json.Unmarshal(payload, &many) == nil {
		var all []result
		for _, one := range many {
			all = append(all, collectResults(tb, one)...)
		}
		return all
	}
	var r response
	require.NoError(tb, json.Unmarshal(payload, &r), "response %s", payload)
	require.Nil(tb, r.Error)
	return r.Results
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

// targetPassword is the password in effect on a result's target.
func targetPassword(tb testing.TB, cloud *emulator.Cloud, r result) string {
	tb.Helper()
	var pw string
	var ok bool
	switch r.Target {
	case "cloudsso":
		pw, ok = cloud.SSOPassword(r.DirectoryID, r.UserID)
	case "fabric":
		pw, ok = cloud.FabricPassword(r.OrganizationID, r.Username)
	default:
		tb.Fatalf("unknown target %q", r.Target)
	}
	require.True(tb, ok, "target %s of %s does not exist in the cloud", r.Target, r.SecretName)
	return pw
}

// stagedPassword returns the id and the password of the version of the
// secret that holds stage.
func stagedPassword(tb testing.TB, cloud *emulator.Cloud, name, stage string) (versionID, password string) {
	tb.Helper()
	s, ok := cloud.Secret(name)
	require.True(tb, ok, "secret %s does not exist", name)
	for _, v := range s.Versions {
		for _, st := range v.Stages {
			if st == stage {
				var data struct {
					Password string `json:"password"`
				}
				require.NoError(tb, json.Unmarshal([]byte(v.Data), &data), "secret %s version %s is not the contract's JSON", name, v.VersionID)
				return v.VersionID, data.Password
			}
		}
	}
	tb.Fatalf("secret %s: no version holds %s", name, stage)
	return "", ""
}

// requireInEffect checks the rotation invariant for every result: the target
// has the password of ACSCurrent, and ACSCurrent is the version the result
// names.
func requireInEffect(tb testing.TB, cloud *emulator.Cloud, results []result) {
	tb.Helper()
	for _, r := range results {
		require.Equal(tb, "rotated", r.Status, "%s: status", r.SecretName)
		current, pw := stagedPassword(tb, cloud, r.SecretName, "ACSCurrent")
		assert.Equal(tb, r.VersionID, current, "%s: ACSCurrent is the version the response names", r.SecretName)
		require.NotEmpty(tb, pw, "%s: ACSCurrent holds a password", r.SecretName)
		// Compared, never printed.
		assert.True(tb, pw == targetPassword(tb, cloud, r), "%s: the password in effect on the target is not ACSCurrent's", r.SecretName)
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
func requireNoPasswordIn(tb testing.TB, cloud *emulator.Cloud, texts map[string]string) {
	tb.Helper()
	passwords := cloud.AcceptedPasswords()
	require.NotEmpty(tb, passwords, "the leak check needs the passwords the cloud accepted")
	for name, text := range texts {
		for i, p := range passwords {
			assert.False(tb, p != "" && strings.Contains(text, p), "accepted password #%d appears in %s", i, name)
		}
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
			requireInEffect(t, s.Cloud, res1)

			// A second rotation with a new key: a new version becomes
			// ACSCurrent and the first one ACSPrevious.
			second := withNewIdempotencyKey(t, event, 2)
			inv2 := emulator.Invocation{RequestID: "e2e-" + name + "-2"}
			out2, err := s.Invoke(testCtx(t), second, inv2)
			require.NoError(t, err)
			texts["response 2"] = outcomeText(out2)
			res2 := successResults(t, second, out2)
			requireInEffect(t, s.Cloud, res2)
			before := map[string]string{}
			for _, r := range res1 {
				before[r.SecretName] = r.VersionID
			}
			for _, r := range res2 {
				require.Contains(t, before, r.SecretName, "both runs name the same targets")
				assert.NotEqual(t, before[r.SecretName], r.VersionID, "%s: a new idempotency key makes a new version", r.SecretName)
				previous, _ := stagedPassword(t, s.Cloud, r.SecretName, "ACSPrevious")
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
			requireInEffect(t, s.Cloud, res3)

			requireSignedByRole(t, s)
			logs, err := s.Logs(testCtx(t), inv2.RequestID)
			require.NoError(t, err)
			assert.NotEmpty(t, logs)
			texts["function output"] = s.Output.String()
			requireNoPasswordIn(t, s.Cloud, texts)
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
				hr, r := decodeHTTP(t, out)
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
				hr, r := decodeHTTP(t, out)
				assert.Equal(t, tt.wantStatus, hr.StatusCode, "body %s", hr.Body)
				require.NotNil(t, r.Error)
			} else {
				require.NotNil(t, out.Err, "want a function error, got %s", out.Payload)
				assert.Equal(t, tt.wantType, out.Err.Type)
			}
			// The target kept its password, and it is still ACSCurrent's.
			pw, _ := s.Cloud.SSOPassword(emulator.FixtureDirectoryID, "u-00q8wbq42wiltcrkab13")
			const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab13"
			_, current := stagedPasswordOrNone(t, s.Cloud, name)
			assert.True(t, current == "" || current == pw, "after a failed reset ACSCurrent still matches the target")

			// Once upstream recovers, the retry (same request id, so the
			// same key) finishes the rotation.
			s.Cloud.ClearFaults()
			inv.RetryCount = 1
			out, err = s.Invoke(testCtx(t), tt.event, inv)
			require.NoError(t, err)
			res := successResults(t, tt.event, out)
			requireInEffect(t, s.Cloud, res)
			requireSignedByRole(t, s)
			requireNoPasswordIn(t, s.Cloud, map[string]string{"response": outcomeText(out), "function output": s.Output.String()})
		})
	}
}

// stagedPasswordOrNone is stagedPassword for a secret that may not exist or
// whose ACSCurrent may be the placeholder without a password.
func stagedPasswordOrNone(tb testing.TB, cloud *emulator.Cloud, name string) (string, string) {
	tb.Helper()
	if _, ok := cloud.Secret(name); !ok {
		return "", ""
	}
	return stagedPassword(tb, cloud, name, "ACSCurrent")
}
