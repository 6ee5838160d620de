package cli_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestRedTeamCLI: flags that try to inject JSON fields or a second
// account, and the names of the continued runs' own secrets (the signing
// key, a run's record) given as an account, are refused with exit status
// 2, naming the field, calling nothing.
func TestRedTeamCLI(t *testing.T) {
	t.Parallel()
	l := MustStart(t)
	v := "pwreset-00000000000000000000000000000000"
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"ErrDirectoryInjection", []string{"rotate", "--directory-id", `d-00fc2p61ab12","userId":"u-1`, "--user-id", emulator.FixtureUserID}, "directoryId: "},
		{"ErrUserInjection", []string{"rotate", "--directory-id", emulator.FixtureDirectoryID, "--user-id", `u-1","password":"Chosen#Pass123`}, "userId: "},
		{"ErrUserNewline", []string{"rotate", "--directory-id", emulator.FixtureDirectoryID, "--user-id", "u-1\nu-2"}, "userId: "},
		{"ErrLocationInjection", []string{"rotate", "--organization-id", emulator.FixtureOrganizationID, "--username", "asian01", "--location", `cn-hangzhou","select":{}`}, "location: "},
		{"ErrUsernameTraversal", []string{"rotate", "--organization-id", emulator.FixtureOrganizationID, "--username", "../../cloudsso/x", "--location", "cn-hangzhou"}, "username: "},
		{"ErrKeyTooLong", []string{"rotate", "--key", strings.Repeat("k", 300), "--directory-id", emulator.FixtureDirectoryID, "--user-id", emulator.FixtureUserID}, "idempotencyKey: "},
		{"ErrRotateContinuation", []string{"rotate", `{"continuation":"e30=","signature":"` + strings.Repeat("00", 32) + `"}`}, "continuation"},
		{"ErrRotateSweepWithField", []string{"rotate", `{"sweep":{"x":1}}`}, "sweep: must be an empty object"},
		{"ErrRotateHugeMaxTargets", []string{"rotate", `{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","select":{},"maxTargets":1e9}`}, "maxTargets: "},
		{"ErrStatusSigningKey", []string{"status", "pwreset/_run-signing-key"}, "secretName: "},
		{"ErrStatusRunRecord", []string{"status", "pwreset/_run-0e5cb9108884b075ff8f4561"}, "secretName: "},
		{"ErrResolveSigningKey", []string{"resolve", "pwreset/_run-signing-key", "--apply", v}, "secretName: "},
		{"ErrResolveRunRecord", []string{"resolve", "pwreset/_run-0e5cb9108884b075ff8f4561", "--discard", v, "--confirm"}, "secretName: "},
		{"ErrStatusTraversal", []string{"status", "pwreset/cloudsso/../_run-signing-key/x"}, "secretName: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := l.Run(t, "", tt.args...)
			assert.Equal(t, 2, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.NotContains(t, r.stderr+r.stdout, "Chosen#Pass123")
		})
	}
	assert.Empty(t, l.cloud.Calls(), "bad input reached the cloud")
}
