package reset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testPassword = "Tq7!vN2#xPr9@Lm4"

func TestSecretData(t *testing.T) {
	cases := []struct {
		name   string
		target reset.Target
		pw     string
		want   string
	}{
		{"CloudSSO", sso, testPassword,
			`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","password":"` + testPassword + `"}`},
		{"Fabric", fab, testPassword,
			`{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou","password":"` + testPassword + `"}`},
		{"FabricPlaceholder", fab, "",
			`{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou"}`},
		{"Placeholder", sso, "",
			`{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := reset.SecretData(tc.target, tc.pw)
			assert.Equal(t, tc.want, string(got))
			assert.True(t, json.Valid(got))
		})
	}
}

func TestParseSecretData(t *testing.T) {
	other := ssoWith(func(t *reset.Target) { t.UserID = "u-other" })
	cases := []struct {
		name   string
		data   string
		ok     bool
		target reset.Target // sso when zero
	}{
		{"OK", string(reset.SecretData(sso, testPassword)), true, reset.Target{}},
		{"OKWhitespace", " {\"target\":\"cloudsso\", \"directoryId\":\"d-00fc2p61ab12\",\"userId\":\"u-00q8wbq42wiltcrkab12\",\"password\":\"" + testPassword + "\"}\n", true, reset.Target{}},
		{"ErrOtherUser", string(reset.SecretData(other, testPassword)), false, reset.Target{}},
		{"ErrOtherKind", string(reset.SecretData(fab, testPassword)), false, reset.Target{}},
		{"ErrPlaceholder", string(reset.SecretData(sso, "")), false, reset.Target{}},
		{"ErrNotJSON", testPassword, false, reset.Target{}},
		{"ErrSyntax", `{"target":"cloudsso","password":"` + testPassword + `"`, false, reset.Target{}},
		{"ErrTrailing", string(reset.SecretData(sso, testPassword)) + `{}`, false, reset.Target{}},
		{"ErrUnknownField", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","password":"x","extra":"` + testPassword + `"}`, false, reset.Target{}},
		{"ErrPasswordNotString", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","password":123456789}`, false, reset.Target{}},
		{"ErrFabricFieldInCloudSSO", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","username":"x","password":"` + testPassword + `"}`, false, reset.Target{}},
		{"ErrLocationInCloudSSO", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","location":"cn-hangzhou","password":"` + testPassword + `"}`, false, reset.Target{}},
		// Fabric values: with the location, and as written before it was held.
		{"FabricOK", string(reset.SecretData(fab, testPassword)), true, fab},
		{"FabricOKWithoutLocation", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","password":"` + testPassword + `"}`, true, fab},
		{"FabricOKOtherLocation", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-beijing","password":"` + testPassword + `"}`, true, fab},
		{"ErrFabricOtherUser", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian02","location":"cn-hangzhou","password":"` + testPassword + `"}`, false, fab},
		{"ErrFabricPlaceholder", string(reset.SecretData(fab, "")), false, fab},
		{"ErrFabricLocationNotString", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":7,"password":"` + testPassword + `"}`, false, fab},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := sso
			if tc.target.Kind != "" {
				target = tc.target
			}
			pw, err := reset.ParseSecretData([]byte(tc.data), target)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, testPassword, pw)
				return
			}
			require.Error(t, err)
			assert.Empty(t, pw)
			assert.Equal(t, reset.EInternal, reset.ErrorCodeOf(err))
			assert.NotContains(t, err.Error(), testPassword)
			assert.NotContains(t, err.Error(), "123456789")
			assert.NotContains(t, err.Error(), "Tq7")
		})
	}
}

func TestWithSecretParams(t *testing.T) {
	named := fabWith(func(t *reset.Target) { t.Location = "" }) // as a secret's name gives it
	cases := []struct {
		name     string
		target   reset.Target
		data     string
		location string
		missing  []string
	}{
		{"FromValue", named, string(reset.SecretData(fab, testPassword)), "cn-hangzhou", nil},
		{"FromPlaceholder", named, string(reset.SecretData(fab, "")), "cn-hangzhou", nil},
		{"KeepsOwn", fabWith(func(t *reset.Target) { t.Location = "cn-beijing" }), string(reset.SecretData(fab, testPassword)), "cn-beijing", nil},
		{"OldValue", named, `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","password":"` + testPassword + `"}`, "", []string{"location"}},
		{"InvalidLocation", named, `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"CN/x","password":"x"}`, "", []string{"location"}},
		{"OtherUser", named, string(reset.SecretData(fabWith(func(t *reset.Target) { t.Username = "asian02" }), testPassword)), "", []string{"location"}},
		{"NotJSON", named, testPassword, "", []string{"location"}},
		{"CloudSSOHasNone", sso, string(reset.SecretData(sso, testPassword)), "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, missing := reset.WithSecretParams(tc.target, []byte(tc.data))
			assert.Equal(t, tc.location, got.Location)
			assert.Equal(t, tc.missing, missing)
			assert.Equal(t, tc.target.Key(), got.Key(), "the account stays the same")
		})
	}
}

var reVersionID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func TestVersionID(t *testing.T) {
	v := reset.VersionID("key-1", sso)
	assert.Regexp(t, `^pwreset-[0-9a-f]{32}$`, v)
	assert.Equal(t, v, reset.VersionID("key-1", sso), "deterministic")
	assert.Regexp(t, reVersionID, reset.PlaceholderVersionID)

	seen := map[string]string{}
	add := func(key string, target reset.Target) {
		id := reset.VersionID(key, target)
		assert.Regexp(t, reVersionID, id)
		assert.NotEqual(t, reset.PlaceholderVersionID, id)
		what := fmt.Sprintf("%q %s", key, target.Key())
		if prev, ok := seen[id]; ok {
			t.Errorf("%s and %s share version id %s", prev, what, id)
		}
		seen[id] = what
	}
	for _, key := range []string{"a", "b", "key-1", "key-2", "ab", "a/cloudsso", "", "Timer:2040-01-01T00:00:00Z"} {
		add(key, sso)
		add(key, fab)
		add(key, ssoWith(func(t *reset.Target) { t.UserID = "u-other" }))
	}
	// Fields that do not name the account do not change the version.
	assert.Equal(t, v, reset.VersionID("key-1", ssoWith(func(t *reset.Target) { t.RequirePasswordResetForNextLogin = true })))
}

// BenchmarkRotate measures one rotation against the fakes: the rotator's own
// cost (password, secret data, hashing, bookkeeping), not the network.
func BenchmarkRotate(b *testing.B) {
	e := MustEnv(b, nil)
	e.LogLines = nil
	MustRotate(b, context.Background(), e, req("k0", sso))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		res, err := e.Rotator.Rotate(context.Background(), req(fmt.Sprint("k", i), sso))
		if err != nil || res[0].Status != reset.StatusRotated {
			b.Fatalf("rotation failed: %v", res[0].Err)
		}
	}
}
