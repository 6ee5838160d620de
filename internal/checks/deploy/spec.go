// Package deploy reads s.yaml, the Serverless Devs 3 description of the
// function, the way Serverless Devs reads it: it resolves the magic
// variables the file may use, so that the tests in this package can check
// the resolved props against the fc3 component's schema and against the code
// they deploy, without Node.js. mkzip (make package) lives below it.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Spec is s.yaml with every ${...} resolved.
type Spec struct {
	Edition   string
	Name      string
	Access    string
	Vars      map[string]any
	Resources map[string]Resource
}

// Resource is one entry of s.yaml's resources.
type Resource struct {
	Component string
	Actions   map[string][]map[string]any
	Props     map[string]any
}

// Env is what the magic variables read from outside s.yaml.
type Env struct {
	// AccountID answers ${config('AccountID')}: Serverless Devs fills it
	// from the credentials stored under the spec's access.
	AccountID string
	// Getenv answers ${env('X')}; nil reads nothing (every variable unset).
	Getenv func(string) (string, bool)
	// Dir is the directory ${file('path')} is relative to: s.yaml's own.
	Dir string
}

// ErrUnsupported marks a ${...} expression Resolve does not understand; the
// spec must not use one the tests cannot check.
var ErrUnsupported = errors.New("unsupported magic variable")

// Load reads and resolves the s.yaml at path. A top-level key or a resource
// key that Serverless Devs 3 does not define is an error (a typo would
// otherwise be ignored by s and by the tests).
func Load(path string, env Env) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read spec: %w", err)
	}
	if env.Dir == "" {
		env.Dir = filepath.Dir(path)
	}
	return Parse(b, env)
}

// Parse resolves the spec in b; see Load.
func Parse(b []byte, env Env) (Spec, error) {
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
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return Spec{}, fmt.Errorf("parse spec: %w", err)
	}
	r := resolver{raw: raw.Vars, done: map[string]any{}, env: env}
	out := Spec{Edition: raw.Edition, Name: raw.Name, Access: raw.Access, Vars: map[string]any{}, Resources: map[string]Resource{}}
	for name := range raw.Vars {
		v, err := r.variable(name, nil)
		if err != nil {
			return Spec{}, fmt.Errorf("vars.%s: %w", name, err)
		}
		out.Vars[name] = v
	}
	for name, res := range raw.Resources {
		props, err := r.resolve(res.Props, nil)
		if err != nil {
			return Spec{}, fmt.Errorf("resources.%s.props: %w", name, err)
		}
		m, _ := props.(map[string]any)
		out.Resources[name] = Resource{Component: res.Component, Actions: res.Actions, Props: m}
	}
	return out, nil
}

// ComponentName is the component's name without its pinned version:
// "fc3@0.1.22" is "fc3".
func (r Resource) ComponentName() string {
	name, _, _ := strings.Cut(r.Component, "@")
	return name
}

// ComponentVersion is the version a component is pinned to, or "".
func (r Resource) ComponentVersion() string {
	_, v, _ := strings.Cut(r.Component, "@")
	return v
}

var (
	reMagic    = regexp.MustCompile(`\$\{([^{}]*)\}`)
	reWholeOne = regexp.MustCompile(`^\$\{([^{}]*)\}$`)
	reVarRef   = regexp.MustCompile(`^\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*$`)
	reConfig   = regexp.MustCompile(`^\s*config\(\s*['"]AccountID['"]\s*\)\s*$`)
	// env('X') or env('X', 'default'), either quote; env.X too.
	reEnvCall = regexp.MustCompile(`^\s*env\(\s*(?:'([^']*)'|"([^"]*)")\s*(?:,\s*(?:'([^']*)'|"([^"]*)")\s*)?\)\s*$`)
	reEnvDot  = regexp.MustCompile(`^\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*$`)
	reFile    = regexp.MustCompile(`^\s*file\(\s*(?:'([^']*)'|"([^"]*)")\s*\)\s*$`)
)

// resolver resolves the magic variables of Serverless Devs 3 that pwreset's
// s.yaml and fc3's own examples use: ${vars.x}, ${config('AccountID')},
// ${env('X')}, ${env('X', 'default')}, ${env.X} and ${file('path')}. Like
// Serverless Devs, a string that is exactly one ${vars.x} takes the var's
// value with its type; inside a longer string a value is spliced in as
// text. Anything else is ErrUnsupported.
//
// Sources: the Serverless Devs 3 "yaml" reference (magic variables:
// ${vars.*}, ${env('key', 'default')}, ${config('AccountID')},
// ${file('./path')}) and fc3's examples; an unset variable without a
// default is an error here (assumed: s's behaviour is not documented, so
// the stricter reading is the safe one).
type resolver struct {
	raw  map[string]any
	done map[string]any
	env  Env
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
		if m := reWholeOne.FindStringSubmatch(v); m != nil {
			if vm := reVarRef.FindStringSubmatch(m[1]); vm != nil {
				return r.variable(vm[1], seen)
			}
		}
		var firstErr error
		s := reMagic.ReplaceAllStringFunc(v, func(expr string) string {
			x, err := r.expr(expr[2:len(expr)-1], seen)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return x
		})
		return s, firstErr
	default:
		return v, nil
	}
}

// expr resolves one ${...} inside a longer string, as text.
func (r *resolver) expr(inner string, seen []string) (string, error) {
	if reConfig.MatchString(inner) {
		if r.env.AccountID == "" {
			return "", errors.New("${config('AccountID')}: no account id")
		}
		return r.env.AccountID, nil
	}
	if m := reVarRef.FindStringSubmatch(inner); m != nil {
		x, err := r.variable(m[1], seen)
		if err != nil {
			return "", err
		}
		switch x.(type) {
		case map[string]any, []any:
			return "", fmt.Errorf("vars.%s is a structure and cannot be spliced into text", m[1])
		}
		return fmt.Sprint(x), nil
	}
	if m := reEnvCall.FindStringSubmatch(inner); m != nil {
		name := m[1] + m[2]
		def, hasDef := m[3]+m[4], strings.Contains(inner, ",")
		if v, ok := r.getenv(name); ok {
			return v, nil
		}
		if hasDef {
			return def, nil
		}
		return "", fmt.Errorf("${env('%s')}: not set, and no default", name)
	}
	if m := reEnvDot.FindStringSubmatch(inner); m != nil {
		if v, ok := r.getenv(m[1]); ok {
			return v, nil
		}
		return "", fmt.Errorf("${env.%s}: not set", m[1])
	}
	if m := reFile.FindStringSubmatch(inner); m != nil {
		p := m[1] + m[2]
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.env.Dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("${file('%s')}: %w", m[1]+m[2], err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%w ${%s}", ErrUnsupported, inner)
}

func (r *resolver) getenv(name string) (string, bool) {
	if r.env.Getenv == nil {
		return "", false
	}
	return r.env.Getenv(name)
}
