package deploy_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fc3 schema does not forbid unknown properties (its top level and most
// objects set no additionalProperties), so a typo such as `timout: 300`
// validates and is silently ignored by the component. unknownProps closes
// that gap: every key of an object the schema describes with properties
// must be one of them, unless the schema allows additional properties.

// schemaNode is one (sub)schema of the vendored document.
type schemaNode = map[string]any

// schemaWalker resolves "#/definitions/X" references against the document.
type schemaWalker struct{ defs map[string]any }

func newSchemaWalker(tb testing.TB, doc any) (schemaWalker, schemaNode) {
	tb.Helper()
	root, ok := doc.(map[string]any)
	require.True(tb, ok, "the schema is an object")
	defs, _ := root["definitions"].(map[string]any)
	return schemaWalker{defs: defs}, root
}

func (w schemaWalker) deref(n schemaNode) schemaNode {
	for i := 0; i < 32; i++ {
		ref, ok := n["$ref"].(string)
		if !ok {
			return n
		}
		next, ok := w.defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		if !ok {
			return n
		}
		n = next
	}
	return n
}

// branches flattens a schema into the alternatives that may describe a
// value: itself and every anyOf/oneOf/allOf branch, dereferenced.
func (w schemaWalker) branches(n schemaNode) []schemaNode {
	n = w.deref(n)
	out := []schemaNode{n}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		list, _ := n[k].([]any)
		for _, b := range list {
			if bn, ok := b.(map[string]any); ok {
				out = append(out, w.branches(bn)...)
			}
		}
	}
	return out
}

// unknownProps lists the paths of keys in v that the schemas ns (any of
// which may describe v) do not know.
func (w schemaWalker) unknownProps(ns []schemaNode, v any, path string) []string {
	var all []schemaNode
	for _, n := range ns {
		all = append(all, w.branches(n)...)
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		described, open := false, false
		props := map[string][]schemaNode{}
		var extra []schemaNode
		for _, n := range all {
			if p, ok := n["properties"].(map[string]any); ok {
				described = true
				for k, s := range p {
					if sn, ok := s.(map[string]any); ok {
						props[k] = append(props[k], sn)
					}
				}
			}
			switch ap := n["additionalProperties"].(type) {
			case bool:
				open = open || ap
			case map[string]any:
				extra = append(extra, ap)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, known := props[k]
			switch {
			case known:
				out = append(out, w.unknownProps(sub, v[k], path+"."+k)...)
			case len(extra) > 0:
				out = append(out, w.unknownProps(extra, v[k], path+"."+k)...)
			case described && !open:
				out = append(out, path+"."+k)
			}
		}
	case []any:
		var items []schemaNode
		for _, n := range all {
			switch it := n["items"].(type) {
			case map[string]any:
				items = append(items, it)
			case []any:
				for _, e := range it {
					if en, ok := e.(map[string]any); ok {
						items = append(items, en)
					}
				}
			}
		}
		if len(items) > 0 {
			for i, e := range v {
				out = append(out, w.unknownProps(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

// triggerConfigDefinitions names, per trigger type s.yaml uses, the schema
// definition of its triggerConfig: the schema accepts any trigger config
// for any type (an anyOf), so a key of the timer's config would pass on an
// HTTP trigger.
var triggerConfigDefinitions = map[string]string{
	"http":        "IHttpTriggerConfig",
	"timer":       "ITimerTriggerConfig",
	"eventbridge": "IEventBridge",
}

// unknownInProps runs both checks on a resource's props.
func unknownInProps(tb testing.TB, props map[string]any) []string {
	tb.Helper()
	w, root := newSchemaWalker(tb, MustLoadSchemaDoc(tb))
	v := jsonValue(tb, props)
	out := w.unknownProps([]schemaNode{root}, v, "props")
	triggers, _ := v.(map[string]any)["triggers"].([]any)
	for i, tr := range triggers {
		m, _ := tr.(map[string]any)
		typ := fmt.Sprint(m["triggerType"])
		def, ok := triggerConfigDefinitions[typ]
		if !ok {
			out = append(out, fmt.Sprintf("props.triggers[%d]: trigger type %q has no known triggerConfig definition", i, typ))
			continue
		}
		n, ok := w.defs[def].(map[string]any)
		require.True(tb, ok, "schema definition %s", def)
		out = append(out, w.unknownProps([]schemaNode{n}, m["triggerConfig"], fmt.Sprintf("props.triggers[%d].triggerConfig", i))...)
	}
	return out
}

func TestSpecUsesOnlyPropsTheSchemaKnows(t *testing.T) {
	for name, r := range MustLoadSpec(t).Resources {
		t.Run(name, func(t *testing.T) {
			assert.Empty(t, unknownInProps(t, r.Props), "props the fc3 %s schema does not know (typos are ignored by the component)", fc3Version)
		})
	}
}

// TestUnknownPropsAreCaught guards the check itself.
func TestUnknownPropsAreCaught(t *testing.T) {
	_, r := fc3Resource(t, MustLoadSpec(t))
	tests := []struct {
		name   string
		mutate func(p map[string]any)
		want   string
	}{
		{"ErrTopLevelTypo", func(p map[string]any) { p["timout"] = 300 }, "props.timout"},
		{"ErrNestedTypo", func(p map[string]any) {
			p["asyncInvokeConfig"].(map[string]any)["maxAsyncRetryAttempt"] = 2
		}, "props.asyncInvokeConfig.maxAsyncRetryAttempt"},
		{"ErrTriggerTypo", func(p map[string]any) {
			p["triggers"].([]any)[0].(map[string]any)["triggerConfig"].(map[string]any)["authtype"] = "function"
		}, "props.triggers[0].triggerConfig.authtype"},
		{"ErrOtherTriggersKey", func(p map[string]any) {
			p["triggers"].([]any)[0].(map[string]any)["triggerConfig"].(map[string]any)["cronExpression"] = "0 0 * * * *"
		}, "props.triggers[0].triggerConfig.cronExpression"},
		{"ErrTriggerEntryTypo", func(p map[string]any) {
			p["triggers"].([]any)[0].(map[string]any)["trigerName"] = "x"
		}, "props.triggers[0].trigerName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := jsonValue(t, r.Props).(map[string]any)
			require.Equal(t, "http", p["triggers"].([]any)[0].(map[string]any)["triggerType"], "the cases edit the HTTP trigger, listed first")
			tt.mutate(p)
			assert.Contains(t, unknownInProps(t, p), tt.want)
		})
	}
}
