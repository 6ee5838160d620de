package reset_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

func TestParseSecretName(t *testing.T) {
	tests := []struct {
		name, in string
		want     reset.Target
		err      string
	}{
		{"OKCloudSSO", "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12",
			reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab12"}, ""},
		{"OKFabric", "pwreset/fabric/peers-aaaaaa2-1eqnj5o5wab12/asian01",
			reset.Target{Kind: reset.KindFabric, OrganizationID: "peers-aaaaaa2-1eqnj5o5wab12", Username: "asian01"}, ""},
		{"ErrOtherPrefix", "other/cloudsso/d-1/u-1", reset.Target{}, "secretName: must be"},
		{"ErrTooFewParts", "pwreset/cloudsso/d-1", reset.Target{}, "secretName: must be"},
		{"ErrTooManyParts", "pwreset/cloudsso/d-1/u-1/x", reset.Target{}, "secretName: must be"},
		{"ErrKind", "pwreset/ldap/a/b", reset.Target{}, "secretName: names no known target kind"},
		{"ErrID", "pwreset/cloudsso/d-1/u-..", reset.Target{}, "secretName: userId: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reset.ParseSecretName("pwreset/", tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.in, got.SecretName("pwreset/"), "the name round-trips")
		})
	}
}

func TestValidVersionID(t *testing.T) {
	target := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-1", UserID: "u-1"}
	tests := []struct {
		in   string
		want bool
	}{
		{reset.VersionID("cli:1:k", target), true},
		{reset.DiscardVersionID(target, reset.VersionID("k", target)), true},
		{"pwreset-placeholder", false},
		{"pwreset-0123456789ABCDEF0123456789abcdef", false},
		{"v1", false},
		{"", false},
		{"pwreset-0123456789abcdef0123456789abcde", false},   // 31 digits
		{"pwreset-0123456789abcdef0123456789abcdef0", false}, // 33 digits
		{"pwreset-0123456789abcdef0123456789abcdeg", false},
		{"xpwreset-0123456789abcdef0123456789abcdef", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, reset.ValidVersionID(tt.in), "ValidVersionID(%q)", tt.in)
	}
}
