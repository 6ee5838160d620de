// Package cli_test runs the built pwreset binary as the operator's command
// line against the local cloud: output, exit statuses, the calls it makes
// (none on bad input), and that no password reaches stdout or stderr.
package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pwreset-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pwreset")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = localrun.Build(ctx, binary)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminKeyID  = emulator.FixtureAccessKeyID
	adminSecret = "placeholder-admin-secret-not-real-0001" // testdata/fixture.json
)

// local is a started local cloud and the environment that points the CLI
// at it, signing with the fixture's static AccessKey from the environment.
type local struct {
	cloud *emulator.Cloud
	env   []string
	home  string
}

func MustStart(tb testing.TB, extra ...string) *local {
	tb.Helper()
	cloud := emulator.New(emulator.DefaultFixture())
	eps, err := cloud.Start()
	require.NoError(tb, err)
	tb.Cleanup(cloud.Close)
	home := tb.TempDir()
	env := []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"KMS_ENDPOINT=" + eps.KMS, "CLOUDSSO_ENDPOINT=" + eps.CloudSSO, "BAAS_ENDPOINT=" + eps.BaaS,
		"ALIBABA_CLOUD_REGION_ID=" + cloud.Region(), "KMS_ENCRYPTION_KEY_ID=" + emulator.FixtureKMSKeyID,
		// No instance metadata service: the chain must not look for one.
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + adminKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + adminSecret,
	}
	return &local{cloud: cloud, env: append(env, extra...), home: home}
}

// run is one run of the binary.
type run struct {
	code           int
	stdout, stderr string
}

// Run runs the binary with args (and stdin), and checks that no password
// the cloud ever accepted appears in what it printed.
func (l *local) Run(tb testing.TB, stdin string, args ...string) run {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = l.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else {
		require.NoError(tb, err)
	}
	for _, pw := range l.cloud.AcceptedPasswords() {
		require.NotContains(tb, r.stdout, pw, "a password on stdout")
		require.NotContains(tb, r.stderr, pw, "a password on stderr")
	}
	return r
}

func ssoSecret() string {
	return "pwreset/cloudsso/" + emulator.FixtureDirectoryID + "/" + emulator.FixtureUserID
}

func ssoRequest(extra string) string {
	return `{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"` + extra + `}`
}

// cliResponse is the --json output of rotate and sweep, read independently
// of the handler's types.
type cliResponse struct {
	Key string `json:"key"`
	localrun.Response
}

func decodeJSON[T any](tb testing.TB, s string) T {
	tb.Helper()
	var v T
	require.NoError(tb, json.Unmarshal([]byte(s), &v), "stdout: %s", s)
	return v
}

// inEffect checks the invariant on the cloud: ACSCurrent of the secret is
// version and holds the password in effect.
func inEffect(tb testing.TB, l *local, secret, version string) {
	tb.Helper()
	st := &localrun.Stack{Cloud: l.cloud}
	require.NoError(tb, st.CheckInEffect(localrun.Result{Target: "cloudsso", DirectoryID: emulator.FixtureDirectoryID,
		UserID: emulator.FixtureUserID, SecretName: secret, VersionID: version}))
}

func TestBadInputCallsNothing(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"ErrNoCommand", nil, "Usage: pwreset COMMAND"},
		{"ErrUnknownCommand", []string{"rotat"}, `unknown command "rotat"`},
		{"ErrUnknownFlag", []string{"rotate", "--force", ssoRequest("")}, "flag provided but not defined: -force"},
		{"ErrNoRequest", []string{"rotate"}, "give the REQUEST JSON"},
		{"ErrTwoRequests", []string{"rotate", ssoRequest(""), ssoRequest("")}, "takes one REQUEST"},
		{"ErrRequestAndFlags", []string{"rotate", ssoRequest(""), "--user-id", "u-1"}, "not both"},
		{"ErrMixedKinds", []string{"rotate", "--user-id", "u-1", "--username", "x"}, "not both"},
		{"ErrUnknownField", []string{"rotate", `{"target":"cloudsso","force":true}`}, "force"},
		{"ErrPassword", []string{"rotate", ssoRequest(`,"password":"Hunter2!Hunter2!"`)}, "password: must not be given"},
		{"ErrUserID", []string{"rotate", "--directory-id", emulator.FixtureDirectoryID, "--user-id", "u-../x"}, "userId: "},
		{"ErrMissingUser", []string{"rotate", "--directory-id", emulator.FixtureDirectoryID}, "userId: is required"},
		{"ErrDryRunFalse", []string{"rotate", "--dry-run", ssoRequest(`,"dryRun":false`)}, "--dry-run: the request sets dryRun to false"},
		{"ErrBadKey", []string{"rotate", "--key", "bad key\x01", ssoRequest("")}, "idempotencyKey: "},
		{"ErrSweepArgument", []string{"sweep", "extra"}, "sweep"},
		{"ErrStatusNoName", []string{"status"}, "name the account"},
		{"ErrStatusForeignName", []string{"status", "other/cloudsso/d-1/u-1"}, "secretName: "},
		{"ErrStatusBadKind", []string{"status", "pwreset/ldap/a/b"}, "no known target kind"},
		{"ErrResolveNoAction", []string{"resolve", ssoSecret()}, "exactly one of --apply"},
		{"ErrResolveBoth", []string{"resolve", ssoSecret(), "--apply", "pwreset-00000000000000000000000000000000", "--discard", "pwreset-00000000000000000000000000000000"}, "exactly one of --apply"},
		{"ErrDiscardUnconfirmed", []string{"resolve", ssoSecret(), "--discard", "pwreset-00000000000000000000000000000000"}, "--discard needs --confirm"},
		{"ErrConfirmWithApply", []string{"resolve", ssoSecret(), "--apply", "pwreset-00000000000000000000000000000000", "--confirm"}, "--confirm goes with --discard only"},
		{"ErrBadVersion", []string{"resolve", ssoSecret(), "--apply", "v1"}, "is not a version id"},
		{"ErrFabricNoLocation", []string{"resolve", "pwreset/fabric/" + emulator.FixtureOrganizationID + "/asian01", "--apply", "pwreset-00000000000000000000000000000000"}, "location: is required"},
		{"ErrVersionArgs", []string{"version", "x"}, "takes no argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := l.Run(t, "", tt.args...)
			assert.Equal(t, 2, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
		})
	}
	assert.Empty(t, l.cloud.Calls(), "bad input reached the cloud")

	t.Run("ErrConfiguration", func(t *testing.T) {
		bad := MustStart(t, "PASSWORD_LENGTH=64")
		r := bad.Run(t, "", "rotate", ssoRequest(""))
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, "PASSWORD_LENGTH: must be an integer from 8 to 32")
		assert.Empty(t, bad.cloud.Calls())
	})
	t.Run("ErrAllowList", func(t *testing.T) {
		off := MustStart(t, "ALLOWED_DIRECTORY_IDS=d-0ther")
		r := off.Run(t, "", "rotate", ssoRequest(""))
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, "directoryId: is not on the allow-list")
		assert.Empty(t, off.cloud.Calls())

		// resolve's concurrency warning reads the secret's versions: an
		// account off the allow-list is refused before it.
		r = off.Run(t, "", "resolve", ssoSecret(), "--apply", "pwreset-00000000000000000000000000000000")
		assert.Equal(t, 2, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
		assert.Contains(t, r.stderr, "directoryId: is not on the allow-list")
		assert.Empty(t, off.cloud.Calls())
	})
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	for _, args := range [][]string{{"--help"}, {"help"}, {"help", "rotate"}, {"rotate", "--help"}, {"status", "-h"}, {"sweep", "--help"}, {"resolve", "--help"}, {"version", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := l.Run(t, "", args...)
			assert.Equal(t, 0, r.code)
			assert.Contains(t, r.stdout, "Usage: pwreset")
			// A command's help is its own: its usage line and its flags.
			cmd := args[0]
			if cmd == "help" && len(args) > 1 {
				cmd = args[1]
			}
			if cmd != "help" && cmd != "--help" {
				assert.Contains(t, r.stdout, "Usage: pwreset "+cmd+" ")
				assert.NotContains(t, r.stdout, "Commands:", "not the general usage")
			}
			if cmd == "rotate" && args[0] == "rotate" {
				assert.Contains(t, r.stdout, "-dry-run")
				assert.Contains(t, r.stdout, "-json")
			}
		})
	}
	r := l.Run(t, "", "version")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "pwreset dev\n", r.stdout)
	assert.Empty(t, l.cloud.Calls())
}

func TestRotate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"JSONArgument", "", []string{"rotate", "--json", ssoRequest("")}},
		{"Stdin", ssoRequest(""), []string{"rotate", "-", "--json"}},
		{"FlagsAfterTarget", "", []string{"rotate", "--directory-id", emulator.FixtureDirectoryID, "--user-id", emulator.FixtureUserID, "--require-reset", "--json", "--log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := MustStart(t)
			r := l.Run(t, tt.stdin, tt.args...)
			require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			out := decodeJSON[cliResponse](t, r.stdout)
			require.Len(t, out.Results, 1)
			res := out.Results[0]
			assert.Equal(t, "rotated", res.Status)
			assert.Equal(t, ssoSecret(), res.SecretName)
			inEffect(t, l, res.SecretName, res.VersionID)
			require.NotEmpty(t, out.Key)
			assert.Contains(t, r.stderr, "idempotency key "+out.Key, "a generated key is printed")

			// The same key finishes the same rotation: a replay.
			again := l.Run(t, "", "rotate", "--key", out.Key, "--json", ssoRequest(""))
			require.Equal(t, 0, again.code, again.stderr)
			replay := decodeJSON[cliResponse](t, again.stdout)
			assert.Equal(t, res.VersionID, replay.Results[0].VersionID)
			assert.True(t, replay.Results[0].Resumed)
			assert.NotContains(t, again.stderr, "idempotency key", "a given key is not printed again")
			if contains(tt.args, "--log") {
				assert.Contains(t, r.stderr, `"msg":"password rotation"`, "--log writes the JSON lines")
				assert.Contains(t, r.stderr, `"trigger":"cli"`)
			}
		})
	}
}

func TestRotateSignsWithOperatorCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     func(home string) []string
		keyID   string
		withSTS bool
	}{
		{"StaticAccessKeyFromEnvironment", func(string) []string { return nil }, adminKeyID, false},
		{"STSFromEnvironment", func(string) []string {
			return []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + emulator.FixtureFunctionRoleKeyID,
				"ALIBABA_CLOUD_ACCESS_KEY_SECRET=placeholder-function-role-secret-0001",
				"ALIBABA_CLOUD_SECURITY_TOKEN=CAISplaceholderFunctionRoleSecurityToken0001"}
		}, emulator.FixtureFunctionRoleKeyID, true},
		{"StaticAccessKeyFromProfile", func(home string) []string {
			dir := filepath.Join(home, ".aliyun")
			require.NoError(t, os.MkdirAll(dir, 0o700))
			cfg := `{"current":"ops","profiles":[{"name":"ops","mode":"AK","access_key_id":"` + adminKeyID +
				`","access_key_secret":"` + adminSecret + `"}]}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600))
			// No key in the environment: the profile signs.
			return []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=", "ALIBABA_CLOUD_ACCESS_KEY_SECRET="}
		}, adminKeyID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := MustStart(t)
			l.env = withEnv(l.env, tt.env(l.home)...)
			r := l.Run(t, "", "rotate", ssoRequest(""))
			require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "rotated    cloudsso "+emulator.FixtureDirectoryID+"/"+emulator.FixtureUserID)
			calls := l.cloud.Calls()
			require.NotEmpty(t, calls)
			for _, c := range calls {
				assert.Equal(t, tt.keyID, c.AccessKeyID, c.Action)
				assert.Equal(t, tt.withSTS, c.SecurityToken != "", c.Action)
			}
		})
	}
}

// withEnv sets each NAME=value of kv in env (an empty value unsets NAME).
func withEnv(env []string, kv ...string) []string {
	for _, s := range kv {
		name, value, _ := strings.Cut(s, "=")
		out := env[:0:0]
		for _, e := range env {
			if !strings.HasPrefix(e, name+"=") {
				out = append(out, e)
			}
		}
		if value != "" {
			out = append(out, s)
		}
		env = out
	}
	return env
}

func TestRotateBatchProgressAndFailure(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	batch := `{"targets":[` + ssoRequest("") + `,{"target":"fabric","organizationId":"` + emulator.FixtureOrganizationID +
		`","username":"asian01","location":"` + emulator.FixtureLocation + `"},{"target":"cloudsso","directoryId":"` +
		emulator.FixtureDirectoryID + `","userId":"u-nosuchuser0000000001"}]}`
	r := l.Run(t, "", "rotate", batch)
	assert.Equal(t, 1, r.code, "a target failed: stdout %q stderr %q", r.stdout, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stderr, "pwreset: ["), "one progress line per target: %s", r.stderr)
	assert.Contains(t, r.stderr, "/3] ")
	assert.Contains(t, r.stdout, "rotated    cloudsso "+emulator.FixtureDirectoryID+"/"+emulator.FixtureUserID)
	assert.Contains(t, r.stdout, "rotated    fabric "+emulator.FixtureOrganizationID+"/asian01")
	assert.Contains(t, r.stdout, "failed     cloudsso "+emulator.FixtureDirectoryID+"/u-nosuchuser0000000001")
	assert.Contains(t, r.stdout, "NotFound: ")

	dry := l.Run(t, "", "rotate", "--dry-run", "--json", batch)
	assert.Equal(t, 0, dry.code, dry.stderr)
	for _, res := range decodeJSON[cliResponse](t, dry.stdout).Results {
		assert.Equal(t, "validated", res.Status)
	}
}

// TestSweep: the sweep command runs the function's sweep through the same
// path: a dry run changes nothing, and the sweep finishes a rotation left
// unfinished (its promote failed) so that ACSCurrent holds the password in
// effect again.
func TestSweep(t *testing.T) {
	t.Parallel()
	l := MustStart(t, "MAX_ATTEMPTS=1")
	// A rotation whose promote fails: the new password is in effect and
	// only ACSPending holds it.
	l.cloud.FailNext("UpdateSecretVersionStage", 1, http.StatusInternalServerError, "InternalFailure")
	rot := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 1, rot.code, rot.stderr)
	pending := decodeJSON[cliResponse](t, rot.stdout).Results[0].VersionID

	l.cloud.ResetCalls()
	dry := l.Run(t, "", "sweep", "--dry-run", "--json")
	require.Equal(t, 0, dry.code, "%s\n%s", dry.stdout, dry.stderr)
	for _, c := range l.cloud.Calls() {
		assert.NotContains(t, []string{"PutSecretValue", "UpdateSecretVersionStage", "ResetUserPassword", "CreateSecret"}, c.Action,
			"a dry sweep changes nothing")
	}

	sw := l.Run(t, "", "sweep", "--json")
	require.Equal(t, 0, sw.code, sw.stderr)
	assert.Equal(t, 1, strings.Count(sw.stderr, "pwreset: [1] "+ssoSecret()[len("pwreset/"):]+" rotated"),
		"a progress line per secret swept, without a total: %s", sw.stderr)
	res := decodeJSON[cliResponse](t, sw.stdout).Results
	require.Len(t, res, 1, sw.stdout)
	assert.Equal(t, "rotated", string(res[0].Status), sw.stdout)
	assert.Equal(t, ssoSecret(), res[0].SecretName)
	inEffect(t, l, ssoSecret(), pending)

	again := l.Run(t, "", "sweep", "--json")
	require.Equal(t, 0, again.code, again.stderr)
	res = decodeJSON[cliResponse](t, again.stdout).Results
	require.Len(t, res, 1, again.stdout)
	assert.Equal(t, "healthy", string(res[0].Status), "nothing left to finish: %s", again.stdout)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	r := l.Run(t, "", "status", ssoSecret())
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such secret "+ssoSecret())

	rot := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 0, rot.code, rot.stderr)
	v := decodeJSON[cliResponse](t, rot.stdout).Results[0].VersionID
	l.cloud.ResetCalls()

	for _, args := range [][]string{
		{"status", ssoSecret(), "--json"},
		{"status", "--json", "--directory-id", emulator.FixtureDirectoryID, "--user-id", emulator.FixtureUserID},
	} {
		r := l.Run(t, "", args...)
		require.Equal(t, 0, r.code, r.stderr)
		st := decodeJSON[struct {
			SecretName string
			State      string
			Versions   []struct {
				VersionID  string
				Stages     []string
				CreateTime string
			}
		}](t, r.stdout)
		assert.Equal(t, ssoSecret(), st.SecretName)
		assert.Equal(t, "finished", st.State)
		require.Len(t, st.Versions, 2, "the placeholder and the rotation")
		var cur string
		for _, ver := range st.Versions {
			assert.NotEmpty(t, ver.CreateTime)
			if contains(ver.Stages, "ACSCurrent") {
				cur = ver.VersionID
			}
		}
		assert.Equal(t, v, cur)
	}
	human := l.Run(t, "", "status", ssoSecret())
	assert.Equal(t, 0, human.code)
	assert.Contains(t, human.stdout, "state    finished")
	assert.Contains(t, human.stdout, v)
	for _, c := range l.cloud.Calls() {
		assert.NotEqual(t, "GetSecretValue", c.Action, "status reads no secret value")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// blocked leaves the fixture user with a finished rotation (returned: its
// version is ACSCurrent and its password in effect) and an unfinished one
// whose reset was refused for good (returned: pending, not current), then
// has a third rotation find the account blocked.
func blocked(t *testing.T, l *local) (current, pending string) {
	t.Helper()
	first := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 0, first.code, first.stderr)
	current = decodeJSON[cliResponse](t, first.stdout).Results[0].VersionID

	l.cloud.FailNext("ResetUserPassword", 1, 400, "InvalidParameter.Password")
	second := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 1, second.code, second.stdout)
	pending = decodeJSON[cliResponse](t, second.stdout).Results[0].VersionID

	// The next rotation rolls pending forward, is refused again: blocked.
	// The CLI warns first: the unfinished rotation is recent.
	l.cloud.FailNext("ResetUserPassword", 1, 400, "InvalidParameter.Password")
	third := l.Run(t, "", "rotate", ssoRequest(""))
	require.Equal(t, 1, third.code, third.stdout)
	assert.Contains(t, third.stdout, "Conflict: the account is blocked")
	assert.Contains(t, third.stdout, pending)
	assert.Contains(t, third.stderr, "warning: "+ssoSecret()+": version "+pending+" is staged ACSPending")
	inEffect(t, l, ssoSecret(), current)

	st := l.Run(t, "", "status", ssoSecret())
	require.Equal(t, 0, st.code)
	assert.Contains(t, st.stdout, "state    unfinished: version "+pending)
	return current, pending
}

func TestResolveApply(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	_, pending := blocked(t, l)

	wrong := l.Run(t, "", "resolve", ssoSecret(), "--apply", "pwreset-0123456789abcdef0123456789abcdef")
	assert.Equal(t, 1, wrong.code)
	assert.Contains(t, wrong.stdout, "is not the pending version")

	r := l.Run(t, "", "resolve", "--apply", pending, ssoSecret(), "--json")
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	out := decodeJSON[map[string]any](t, r.stdout)
	assert.Equal(t, "apply", out["action"])
	assert.Equal(t, "rotated", out["status"])
	inEffect(t, l, ssoSecret(), pending)

	again := l.Run(t, "", "resolve", ssoSecret(), "--apply", pending)
	assert.Equal(t, 1, again.code)
	assert.Contains(t, again.stdout, "already current")

	next := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 0, next.code, next.stdout)
	res := decodeJSON[cliResponse](t, next.stdout).Results[0]
	assert.Empty(t, res.RolledForward, "nothing was left unfinished")
	inEffect(t, l, ssoSecret(), res.VersionID)
}

func TestResolveDiscard(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	current, pending := blocked(t, l)

	// A discard that stops after staging, before its promote, is finished
	// by running it again.
	l.cloud.FailNext("UpdateSecretVersionStage", 1, 400, "InvalidParameter")
	half := l.Run(t, "", "resolve", ssoSecret(), "--discard", pending, "--confirm")
	require.Equal(t, 1, half.code, half.stdout)
	// I1 holds meanwhile: ACSCurrent is unchanged and holds the password in
	// effect.
	inEffect(t, l, ssoSecret(), current)

	r := l.Run(t, "", "resolve", ssoSecret(), "--discard", pending, "--confirm", "--json")
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	out := decodeJSON[map[string]any](t, r.stdout)
	u, _ := out["currentVersionId"].(string)
	require.NotEmpty(t, u)
	assert.NotEqual(t, pending, u)
	inEffect(t, l, ssoSecret(), u)

	sec, ok := l.cloud.Secret(ssoSecret())
	require.True(t, ok)
	for _, v := range sec.Versions {
		switch v.VersionID {
		case pending:
			assert.Empty(t, v.Stages, "the discarded version keeps no stage")
		case u:
			assert.ElementsMatch(t, []string{"ACSCurrent", "ACSPending"}, v.Stages)
		case current:
			assert.Equal(t, []string{"ACSPrevious"}, v.Stages)
		}
	}

	st := l.Run(t, "", "status", ssoSecret())
	assert.Contains(t, st.stdout, "state    finished")

	next := l.Run(t, "", "rotate", "--json", ssoRequest(""))
	require.Equal(t, 0, next.code, next.stdout)
	res := decodeJSON[cliResponse](t, next.stdout).Results[0]
	assert.Empty(t, res.RolledForward)
	inEffect(t, l, ssoSecret(), res.VersionID)
}

func TestFabricByFlags(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	r := l.Run(t, "", "rotate", "--organization-id", emulator.FixtureOrganizationID, "--username", "asian01",
		"--location", emulator.FixtureLocation, "--json")
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	res := decodeJSON[cliResponse](t, r.stdout).Results[0]
	assert.Equal(t, "rotated", res.Status)
	st := &localrun.Stack{Cloud: l.cloud}
	require.NoError(t, st.CheckInEffect(res))

	status := l.Run(t, "", "status", res.SecretName)
	assert.Equal(t, 0, status.code, status.stderr)
	assert.Contains(t, status.stdout, "state    finished")
	byFlags := l.Run(t, "", "status", "--organization-id", emulator.FixtureOrganizationID, "--username", "asian01",
		"--location", emulator.FixtureLocation)
	assert.Equal(t, status.stdout, byFlags.stdout)
}
