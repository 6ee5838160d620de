package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/deploy"
)

// TestParseMagicVariables covers the variables a user's usual s.yaml uses:
// fc3's own examples use ${env(...)} and ${file(...)} besides ${vars.x} and
// ${config('AccountID')}.
func TestParseMagicVariables(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "payload.json"), []byte(`{"targets":[]}`), 0o600))
	env := deploy.Env{
		AccountID: "1234567890123456",
		Dir:       dir,
		Getenv: func(k string) (string, bool) {
			v, ok := map[string]string{"REGION": "cn-shanghai", "EMPTY": ""}[k]
			return v, ok
		},
	}
	tests := []struct {
		name    string
		value   string // the YAML of vars.x
		want    any
		wantErr string
	}{
		{"OKEnvSet", `${env('REGION', 'cn-hangzhou')}`, "cn-shanghai", ""},
		{"OKEnvDefault", `${env('UNSET', 'cn-hangzhou')}`, "cn-hangzhou", ""},
		{"OKEnvEmptyDefault", `${env('UNSET', '')}`, "", ""},
		{"OKEnvDoubleQuotes", `${env("REGION")}`, "cn-shanghai", ""},
		{"OKEnvSetEmpty", `${env('EMPTY', 'x')}`, "", ""},
		{"OKEnvDot", `${env.REGION}`, "cn-shanghai", ""},
		{"OKFile", `${file('./payload.json')}`, `{"targets":[]}`, ""},
		{"OKConfigInText", `acs:ram::${config('AccountID')}:role/r`, "acs:ram::1234567890123456:role/r", ""},
		{"OKVarKeepsType", `${vars.flag}`, true, ""},
		{"OKVarInText", `x-${vars.flag}`, "x-true", ""},
		{"OKNested", `acs:mns:${vars.region}:${config('AccountID')}:/queues/q/messages`, "acs:mns:cn-shanghai:1234567890123456:/queues/q/messages", ""},
		{"ErrEnvUnsetNoDefault", `${env('UNSET')}`, nil, "not set"},
		{"ErrEnvDotUnset", `${env.UNSET}`, nil, "not set"},
		{"ErrFileMissing", `${file('./nope.txt')}`, nil, "nope.txt"},
		{"ErrUnsupported", `${resources.other.output}`, nil, "unsupported"},
		{"ErrUndefinedVar", `${vars.nope}`, nil, "not defined"},
		{"ErrSpliceStructure", `x-${vars.map}`, nil, "structure"},
		{"ErrSelf", `${vars.x}`, nil, "itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "edition: 3.0.0\nname: t\naccess: default\nvars:\n" +
				"  flag: true\n  map: {a: 1}\n  region: ${env('REGION', 'cn-hangzhou')}\n" +
				"  x: " + mustJSON(t, tt.value) + "\n" +
				"resources:\n  fn:\n    component: fc3@0.1.22\n    props:\n      v: ${vars.x}\n"
			s, err := deploy.Parse([]byte(src), env)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Vars["x"])
			assert.Equal(t, tt.want, s.Resources["fn"].Props["v"])
			assert.Equal(t, "fc3", s.Resources["fn"].ComponentName())
			assert.Equal(t, "0.1.22", s.Resources["fn"].ComponentVersion())
		})
	}
}

func TestParseRefusesUnknownKeys(t *testing.T) {
	tests := []struct{ name, src string }{
		{"ErrTopLevel", "edition: 3.0.0\nname: t\naccess: default\nresource: {}\n"},
		{"ErrResourceKey", "edition: 3.0.0\nname: t\naccess: default\nresources:\n  fn:\n    component: fc3\n    prop: {}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := deploy.Parse([]byte(tt.src), deploy.Env{})
			assert.Error(t, err)
		})
	}
}

// mustJSON quotes s as a JSON string, which YAML reads as a double-quoted
// scalar.
func mustJSON(tb testing.TB, s string) string {
	tb.Helper()
	b, err := json.Marshal(s)
	require.NoError(tb, err)
	return string(b)
}
