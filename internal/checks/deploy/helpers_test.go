// Package deploy_test checks the deployment artefacts that no Go code
// compiles: s.yaml (the Serverless Devs description of the function),
// docs/ram-policy.json (the function role's policy) and
// docs/deploy-policy.json (the deploying user's). It validates s.yaml
// against the fc3 component's JSON Schema (vendored in testdata/), then
// checks what a schema cannot know: that the deployment matches the code it
// deploys.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/deploy"
)

// testAccountID stands in for ${config('AccountID')}, which Serverless Devs
// fills from the credentials of `access`.
const testAccountID = "1234567890123456"

// MustRepoRoot returns the directory holding go.mod, found by walking up from
// the test's working directory.
func MustRepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	require.NoError(tb, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// MustReadFile reads a file relative to the repository root.
func MustReadFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(MustRepoRoot(tb), rel))
	require.NoError(tb, err, "read %s", rel)
	return b
}

// testEnv is what the tests resolve s.yaml's magic variables with: the
// account of ${config('AccountID')} and the environment ${env(...)} reads.
// Only the variables listed here are set, so a default in s.yaml is what the
// tests check unless a test sets the variable.
func testEnv(vars map[string]string) deploy.Env {
	return deploy.Env{
		AccountID: testAccountID,
		Getenv: func(name string) (string, bool) {
			v, ok := vars[name]
			return v, ok
		},
	}
}

// spec and resource are the resolved s.yaml.
type (
	spec     = deploy.Spec
	resource = deploy.Resource
)

// requiredEnv is the environment s.yaml cannot resolve without: the KMS key
// has no default (docs/deploy.md, "Prerequisites").
var requiredEnv = map[string]string{"PWRESET_KMS_KEY_ID": testKMSKeyID}

// testKMSKeyID is an invented key id shaped like KMS's ("key-" and 20
// characters).
const testKMSKeyID = "key-hzz6example0000000001"

// MustLoadSpecEnv parses s.yaml with requiredEnv plus vars in the
// environment and checks its Serverless Devs 3 frame.
func MustLoadSpecEnv(tb testing.TB, vars map[string]string) spec {
	tb.Helper()
	env := map[string]string{}
	for k, v := range requiredEnv {
		env[k] = v
	}
	for k, v := range vars {
		env[k] = v
	}
	s, err := deploy.Load(filepath.Join(MustRepoRoot(tb), "s.yaml"), testEnv(env))
	require.NoError(tb, err, "s.yaml")
	require.Equal(tb, "3.0.0", s.Edition, "s.yaml must use the Serverless Devs 3 format")
	require.NotEmpty(tb, s.Name, "s.yaml: name")
	require.NotEmpty(tb, s.Access, "s.yaml: access")
	require.NotEmpty(tb, s.Resources, "s.yaml: resources")
	return s
}

// MustLoadSpec parses s.yaml with only requiredEnv set.
func MustLoadSpec(tb testing.TB) spec {
	tb.Helper()
	return MustLoadSpecEnv(tb, nil)
}

// jsonValue converts a decoded YAML value into the form encoding/json (and the
// JSON Schema validator) produces, numbers as json.Number.
func jsonValue(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	require.NoError(tb, dec.Decode(&out))
	return out
}

// get walks a path of map keys.
func get(tb testing.TB, v any, path ...string) any {
	tb.Helper()
	cur := v
	for i, k := range path {
		m, ok := cur.(map[string]any)
		require.True(tb, ok, "%s is not a map", strings.Join(path[:i], "."))
		cur, ok = m[k]
		require.True(tb, ok, "%s is missing", strings.Join(path[:i+1], "."))
	}
	return cur
}
