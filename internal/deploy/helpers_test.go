// Package deploy_test checks the deployment artefacts that no Go code
// compiles: s.yaml (the Serverless Devs description of the function) and
// docs/ram-policy.json (the function role's policy). It validates s.yaml
// against the fc3 component's JSON Schema, then checks what a schema cannot
// know: that the deployment matches the code it deploys.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
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

// spec is s.yaml with every ${...} resolved the way Serverless Devs resolves it.
type spec struct {
	Vars      map[string]any
	Resources map[string]resource
}

type resource struct {
	Component string
	Actions   map[string][]map[string]any
	Props     map[string]any
}

// MustLoadSpec parses s.yaml and resolves its magic variables.
func MustLoadSpec(tb testing.TB) spec {
	tb.Helper()
	var raw struct {
		Edition   string         `yaml:"edition"`
		Name      string         `yaml:"name"`
		Access    string         `yaml:"access"`
		Vars      map[string]any `yaml:"vars"`
		Resources map[string]struct {
			Component string                      `yaml:"component"`
			Actions   map[string][]map[string]any `yaml:"actions"`
			Props     map[string]any              `yaml:"props"`
		} `yaml:"resources"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(MustReadFile(tb, "s.yaml")))
	dec.KnownFields(true)
	require.NoError(tb, dec.Decode(&raw), "parse s.yaml")
	require.Equal(tb, "3.0.0", raw.Edition, "s.yaml must use the Serverless Devs 3 format")
	require.NotEmpty(tb, raw.Name, "s.yaml: name")
	require.NotEmpty(tb, raw.Access, "s.yaml: access")
	require.NotEmpty(tb, raw.Resources, "s.yaml: resources")

	r := resolver{raw: raw.Vars, done: map[string]any{}}
	out := spec{Vars: map[string]any{}, Resources: map[string]resource{}}
	for name := range raw.Vars {
		v, err := r.variable(name, nil)
		require.NoError(tb, err, "s.yaml: vars.%s", name)
		out.Vars[name] = v
	}
	for name, res := range raw.Resources {
		props, err := r.value(res.Props)
		require.NoError(tb, err, "s.yaml: resources.%s.props", name)
		out.Resources[name] = resource{Component: res.Component, Actions: res.Actions, Props: props.(map[string]any)}
	}
	return out
}

var (
	reWholeVar = regexp.MustCompile(`^\$\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}$`)
	reMagic    = regexp.MustCompile(`\$\{([^}]*)\}`)
	reVarRef   = regexp.MustCompile(`^\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*$`)
	reConfig   = regexp.MustCompile(`^\s*config\(\s*'AccountID'\s*\)\s*$`)
)

// resolver resolves the magic variables s.yaml uses: ${vars.x} and
// ${config('AccountID')}. Like Serverless Devs, a string that is exactly one
// ${vars.x} takes the var's value with its type; inside a longer string the
// value is spliced in as text. Anything else is an error, so s.yaml cannot
// start using a variable these tests do not understand.
type resolver struct {
	raw  map[string]any
	done map[string]any
}

func (r *resolver) variable(name string, seen []string) (any, error) {
	if v, ok := r.done[name]; ok {
		return v, nil
	}
	for _, s := range seen {
		if s == name {
			return nil, fmt.Errorf("vars.%s refers to itself", name)
		}
	}
	raw, ok := r.raw[name]
	if !ok {
		return nil, fmt.Errorf("vars.%s is not defined", name)
	}
	v, err := r.resolve(raw, append(seen, name))
	if err != nil {
		return nil, err
	}
	r.done[name] = v
	return v, nil
}

func (r *resolver) value(v any) (any, error) { return r.resolve(v, nil) }

func (r *resolver) resolve(v any, seen []string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			x, err := r.resolve(e, seen)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			x, err := r.resolve(e, seen)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case string:
		if m := reWholeVar.FindStringSubmatch(v); m != nil {
			return r.variable(m[1], seen)
		}
		var firstErr error
		s := reMagic.ReplaceAllStringFunc(v, func(expr string) string {
			inner := expr[2 : len(expr)-1]
			if reConfig.MatchString(inner) {
				return testAccountID
			}
			if m := reVarRef.FindStringSubmatch(inner); m != nil {
				x, err := r.variable(m[1], seen)
				if err == nil {
					switch x.(type) {
					case map[string]any, []any:
						err = fmt.Errorf("vars.%s is a structure and cannot be spliced into text", m[1])
					default:
						return fmt.Sprint(x)
					}
				}
				if firstErr == nil {
					firstErr = err
				}
				return ""
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("unsupported magic variable %s", expr)
			}
			return ""
		})
		return s, firstErr
	default:
		return v, nil
	}
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
