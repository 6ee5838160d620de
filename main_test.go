package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

type invokeFunc = func(ctx context.Context, event []byte) (any, error)

// MustRun runs run with env and returns the function it started and what it
// printed.
func MustRun(tb testing.TB, env map[string]string) (invokeFunc, *bytes.Buffer) {
	tb.Helper()
	var stdout bytes.Buffer
	var started any
	run(func(name string) string { return env[name] }, &stdout, func(h any) { started = h })
	require.NotNil(tb, started, "run must start the runtime loop")
	f, ok := started.(invokeFunc)
	require.True(tb, ok, "got %T, want %T", started, f)
	return f, &stdout
}

func MustContext(tb testing.TB) context.Context {
	tb.Helper()
	return fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID: "1-main-test",
		Credentials: fccontext.Credentials{
			AccessKeyId: "STS.NTPlaceholderFunctionRole01", AccessKeySecret: "placeholder-function-role-secret-0001",
			SecurityToken: "CAISplaceholderFunctionRoleSecurityToken0001",
		},
	})
}

func httpEvent(tb testing.TB, body string) []byte {
	tb.Helper()
	b, err := json.Marshal(handler.HTTPEvent{
		Body: body, Headers: map[string]string{"Content-Type": "application/json"},
		RequestContext: handler.HTTPRequestContext{HTTP: handler.HTTPDescription{Method: "POST"}},
	})
	require.NoError(tb, err)
	return b
}

// logLines decodes stdout's JSON lines.
func logLines(tb testing.TB, out *bytes.Buffer) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal([]byte(l), &m), "stdout holds JSON lines only: %q", l)
		lines = append(lines, m)
	}
	return lines
}

func TestRunBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // in the message of every invocation's error
	}{
		{"ErrPasswordLength", map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "PASSWORD_LENGTH": "64"},
			[]string{"PASSWORD_LENGTH: must be an integer from 8 to 32"}},
		{"ErrAllowListEntry", map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "ALLOWED_DIRECTORY_IDS": "d-ok,Bad Entry"},
			[]string{"ALLOWED_DIRECTORY_IDS: entry 2"}},
		{"ErrNoRegion", map[string]string{},
			[]string{"ALIBABA_CLOUD_REGION_ID: is required"}},
		{"ErrSeveral", map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "MAX_IN_FLIGHT": "0", "KMS_ENDPOINT": "ftp://kms"},
			[]string{"MAX_IN_FLIGHT: ", "KMS_ENDPOINT: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			invoke, stdout := MustRun(t, tt.env)

			lines := logLines(t, stdout)
			require.Len(t, lines, 2, "the start and the configuration error, logged once, at start-up")
			assertStartLine(t, lines[0])
			lines = lines[1:]
			assert.Equal(t, "ERROR", lines[0]["level"])
			assert.Equal(t, version, lines[0]["version"])
			for _, w := range tt.want {
				assert.Contains(t, lines[0]["error"], w)
			}

			for i := 0; i < 3; i++ {
				// An event (here a direct invocation) fails with a
				// PermanentError...
				out, err := invoke(MustContext(t), []byte(`{"target":"fabric"}`))
				assert.Nil(t, out)
				var perm *handler.PermanentError
				require.True(t, errors.As(err, &perm), "got %T, want *handler.PermanentError", err)
				assert.Equal(t, handler.CodeFunctionMisconfigured, perm.Code)
				for _, w := range tt.want {
					assert.Contains(t, perm.Message, w)
				}
				// ...and an HTTP request gets a 500 that says the same.
				out, err = invoke(MustContext(t), httpEvent(t, `{"target":"fabric"}`))
				require.NoError(t, err)
				resp, ok := out.(*handler.HTTPResponse)
				require.True(t, ok, "got %T, want *handler.HTTPResponse", out)
				assert.Equal(t, 500, resp.StatusCode)
				assert.Contains(t, resp.Body, string(handler.CodeFunctionMisconfigured))
				for _, w := range tt.want {
					assert.Contains(t, resp.Body, w)
				}
			}
			assert.Len(t, logLines(t, stdout), 2, "invocations do not log the configuration error again")
		})
	}
}

// TestRunMisconfiguredCallsNothing: each misconfiguration of endpoints,
// KMS or debug switches answers every invocation FunctionMisconfigured naming
// the variable, and no request reaches the (local) cloud, whose endpoints
// are configured wherever the case does not set its own.
func TestRunMisconfiguredCallsNothing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"ErrKMSKeyMissing", map[string]string{"KMS_ENCRYPTION_KEY_ID": ""}, "KMS_ENCRYPTION_KEY_ID: is required"},
		{"ErrKMSInstance", map[string]string{"KMS_INSTANCE_ID": "instance-1"}, "KMS_INSTANCE_ID: "},
		{"ErrCloudSSOUndocumented", map[string]string{"CLOUDSSO_ENDPOINT": "cloudsso.cn-hangzhou.aliyuncs.com"}, "CLOUDSSO_ENDPOINT: names a host under aliyuncs.com"},
		{"ErrBaaSRegional", map[string]string{"BAAS_ENDPOINT": "baas.cn-hangzhou.aliyuncs.com"}, "BAAS_ENDPOINT: names a host under aliyuncs.com"},
		{"ErrHTTPNotLoopback", map[string]string{"CLOUDSSO_ENDPOINT": "http://cloudsso.cn-shanghai.aliyuncs.com"}, "CLOUDSSO_ENDPOINT: may use http:// only for a loopback host"},
		{"ErrHTTPNotLoopbackKMS", map[string]string{"KMS_ENDPOINT": "http://kms.cn-hangzhou.aliyuncs.com"}, "KMS_ENDPOINT: may use http:// only for a loopback host"},
		{"ErrHTTPNotLoopbackBaaS", map[string]string{"BAAS_ENDPOINT": "http://10.0.0.8:8080"}, "BAAS_ENDPOINT: may use http:// only for a loopback host"},
		{"ErrCloudSSOUndocumentedVPC", map[string]string{"CLOUDSSO_ENDPOINT": "https://cloudsso-vpc.cn-beijing.aliyuncs.com"}, "CLOUDSSO_ENDPOINT: names a host under aliyuncs.com"},
		{"ErrGODEBUGHTTP2Debug1Suffix", map[string]string{"GODEBUG": "http2client=1,http2debug=1"}, "GODEBUG: must not set http2debug"},
		{"ErrEntropyLength", map[string]string{"PASSWORD_LENGTH": "12"}, "bits"},
		{"ErrEntropyExclude", map[string]string{"PASSWORD_EXCLUDE": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}, "PASSWORD_EXCLUDE"},
		{"ErrDEBUGTea", map[string]string{"DEBUG": "tea"}, "DEBUG: must not contain \"tea\""},
		{"ErrGODEBUGHTTP2Debug1", map[string]string{"GODEBUG": "http2debug=1"}, "GODEBUG: must not set http2debug"},
		{"ErrGODEBUGHTTP2Debug2", map[string]string{"GODEBUG": "netdns=go,http2debug=2"}, "GODEBUG: must not set http2debug"},
		{"ErrDEBUGCredential", map[string]string{"DEBUG": "credential"}, "DEBUG: must not contain \"credential\""},
		{"ErrDEBUGDara", map[string]string{"DEBUG": "sdk,dara"}, "DEBUG: must not contain \"dara\""},
		{"ErrFCFunctionName", map[string]string{"FC_FUNCTION_NAME": "svc/pwreset"}, "FC_FUNCTION_NAME: must be a function name"},
		{"ErrFCEndpointAlone", map[string]string{"FUNCTION_COMPUTE_ENDPOINT": "http://127.0.0.1:1"}, "FUNCTION_COMPUTE_ENDPOINT: is set but FC_FUNCTION_NAME is not"},
		{"ErrFCEndpointBad", map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "https://fc.example.com/x"}, "FUNCTION_COMPUTE_ENDPOINT: must be only"},
		{"ErrFCEndpointHTTPNotLoopback", map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "http://10.0.0.8:9000"}, "FUNCTION_COMPUTE_ENDPOINT: may use http:// only for a loopback host"},
		{"ErrFCEndpointUndocumented", map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "fc.cn-hangzhou.aliyuncs.com"}, "FUNCTION_COMPUTE_ENDPOINT: names a host under aliyuncs.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := emulator.New(emulator.DefaultFixture())
			eps, err := cloud.Start()
			require.NoError(t, err)
			t.Cleanup(cloud.Close)
			env := map[string]string{
				"ALIBABA_CLOUD_REGION_ID": cloud.Region(), "KMS_ENDPOINT": eps.KMS, "CLOUDSSO_ENDPOINT": eps.CloudSSO,
				"BAAS_ENDPOINT": eps.BaaS, "KMS_ENCRYPTION_KEY_ID": emulator.FixtureKMSKeyID,
			}
			for k, v := range tt.env {
				env[k] = v
			}
			invoke, _ := MustRun(t, env)
			for _, event := range []string{
				`{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"}`,
				`{"target":"fabric","organizationId":"` + emulator.FixtureOrganizationID + `","username":"asian01","location":"` + emulator.FixtureLocation + `"}`,
			} {
				_, err := invoke(MustContext(t), []byte(event))
				var perm *handler.PermanentError
				require.True(t, errors.As(err, &perm), "got %T (%v), want *handler.PermanentError", err, err)
				assert.Equal(t, handler.CodeFunctionMisconfigured, perm.Code)
				assert.Contains(t, perm.Message, tt.want)
			}
			assert.Empty(t, cloud.Calls(), "a misconfigured function called the cloud")
		})
	}
}

// TestRunWired checks that run builds the real handler from the
// configuration: requests the configuration rejects fail before any cloud
// call (the endpoints here accept no connection).
func TestRunWired(t *testing.T) {
	invoke, stdout := MustRun(t, map[string]string{
		"KMS_ENDPOINT":          "http://127.0.0.1:1",
		"CLOUDSSO_ENDPOINT":     "http://127.0.0.1:1",
		"BAAS_ENDPOINT":         "http://127.0.0.1:1",
		"KMS_ENCRYPTION_KEY_ID": "alias/pwreset",
		"ALLOWED_DIRECTORY_IDS": "d-00fc2p61ab12",
		"LOG_LEVEL":             "debug",
	})
	start := logLines(t, stdout)
	require.Len(t, start, 1, "a good configuration logs only its start")
	assertStartLine(t, start[0])
	stdout.Reset()

	tests := []struct {
		name   string
		body   string
		status int
		code   handler.ErrorCode
		msg    string
	}{
		{"ErrNotOnAllowList", `{"target":"cloudsso","directoryId":"d-0ther","userId":"u-00q8wbq42wiltcrkab12"}`, 403, handler.CodeForbidden, "directoryId: is not on the allow-list"},
		{"ErrInvalidUserID", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-../x"}`, 400, handler.CodeInvalidParameter, "userId: "},
		{"ErrPassword", `{"target":"cloudsso","password":"Hunter2!Hunter2!"}`, 400, handler.CodeInvalidParameter, "password: must not be given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := invoke(MustContext(t), httpEvent(t, tt.body))
			require.NoError(t, err)
			resp, ok := out.(*handler.HTTPResponse)
			require.True(t, ok, "got %T", out)
			assert.Equal(t, tt.status, resp.StatusCode, resp.Body)
			var body handler.Response
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
			require.NotNil(t, body.Error)
			assert.Equal(t, tt.code, body.Error.Code)
			assert.Contains(t, body.Error.Message, tt.msg)
		})
	}
	lines := logLines(t, stdout)
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Equal(t, "1-main-test", l["requestId"], "every line of an invocation carries its request id")
		assert.Equal(t, version, l["version"], "every line carries the release")
	}
	assert.NotContains(t, stdout.String(), "Hunter2!")
}

// assertStartLine checks the line run logs first: the release, so a log
// search finds which build served an invocation.
func assertStartLine(tb testing.TB, line map[string]any) {
	tb.Helper()
	assert.Equal(tb, "INFO", line["level"])
	assert.Equal(tb, "starting", line["msg"])
	assert.Equal(tb, version, line["version"])
	assert.NotEmpty(tb, line["version"])
}

// TestVersionStamp builds the binary the way `make build` does and checks
// that -ldflags -X reaches the variable main logs.
func TestVersionStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "main")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v9.8.7-test", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The runtime API here accepts no connection: the binary logs its start
	// line, then retries the runtime forever. Read the first line, then stop
	// it.
	run := exec.Command(bin)
	run.Env = []string{"FC_RUNTIME_API=127.0.0.1:1", "ALIBABA_CLOUD_REGION_ID=cn-hangzhou", "KMS_ENCRYPTION_KEY_ID=key-hzz6example0000000001"}
	stdout, err := run.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, run.Start())
	defer func() { _ = run.Process.Kill(); _ = run.Wait() }()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(first), &line), "first line: %q", first)
	assert.Equal(t, "v9.8.7-test", line["version"])
	assert.Equal(t, "starting", line["msg"])
}
