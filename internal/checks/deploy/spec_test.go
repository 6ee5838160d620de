package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/tools/ebsetup"
)

// schemaRel is the fc3 component's props schema, vendored: devsapp/fc3's
// src/schema.json of the version s.yaml pins (fc3Version). Nothing the tests
// need lives outside the repository.
const schemaRel = "internal/checks/deploy/testdata/fc3-schema.json"

// fc3Version is the fc3 release the vendored schema comes from; s.yaml pins
// its component to it, so the schema checked is the schema deployed.
const fc3Version = "0.1.22"

// MustLoadSchemaDoc reads the vendored schema as a generic JSON document.
func MustLoadSchemaDoc(tb testing.TB) any {
	tb.Helper()
	f, err := os.Open(filepath.Join(MustRepoRoot(tb), schemaRel))
	require.NoError(tb, err, "the fc3 props schema is vendored at %s", schemaRel)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(tb, err, "parse %s", schemaRel)
	return doc
}

// MustCompileSchema compiles the vendored fc3 props schema.
func MustCompileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	c := jsonschema.NewCompiler()
	require.NoError(tb, c.AddResource("file:///fc3-schema.json", MustLoadSchemaDoc(tb)))
	sch, err := c.Compile("file:///fc3-schema.json")
	require.NoError(tb, err, "compile %s", schemaRel)
	return sch
}

// fc3Resource returns the one fc3 resource of s.yaml, the function.
func fc3Resource(tb testing.TB, s spec) (string, resource) {
	tb.Helper()
	var names []string
	for name, r := range s.Resources {
		if r.ComponentName() == "fc3" {
			names = append(names, name)
		}
	}
	require.Len(tb, names, 1, "s.yaml must describe exactly one fc3 resource")
	return names[0], s.Resources[names[0]]
}

func TestSpecMatchesSchema(t *testing.T) {
	sch := MustCompileSchema(t)
	s := MustLoadSpec(t)
	for name, r := range s.Resources {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, "fc3@"+fc3Version, r.Component, "every resource is deployed with the fc3 component the vendored schema belongs to")
			err := sch.Validate(jsonValue(t, r.Props))
			var verr *jsonschema.ValidationError
			if errors.As(err, &verr) {
				t.Fatalf("props do not match the fc3 schema:\n%v", verr)
			}
			require.NoError(t, err)
		})
	}
}

// TestSchemaRejectsBrokenProps guards the validation itself: a schema that
// accepted anything would make TestSpecMatchesSchema pass vacuously.
func TestSchemaRejectsBrokenProps(t *testing.T) {
	sch := MustCompileSchema(t)
	_, r := fc3Resource(t, MustLoadSpec(t))
	tests := []struct {
		name   string
		mutate func(p map[string]any)
	}{
		{"ErrUnknownRuntime", func(p map[string]any) { p["runtime"] = "go2" }},
		{"ErrNoHandler", func(p map[string]any) { delete(p, "handler") }},
		{"ErrTimeoutAsText", func(p map[string]any) { p["timeout"] = "300" }},
		{"ErrMemoryNotMultipleOf64", func(p map[string]any) { p["memorySize"] = 200 }},
		{"ErrUnknownTriggerType", func(p map[string]any) {
			p["triggers"] = []any{map[string]any{"triggerName": "t", "triggerType": "smtp", "triggerConfig": map[string]any{}}}
		}},
		{"ErrTooManyAsyncRetries", func(p map[string]any) {
			p["asyncInvokeConfig"] = map[string]any{"maxAsyncRetryAttempts": 9}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := jsonValue(t, r.Props).(map[string]any)
			tt.mutate(p)
			assert.Error(t, sch.Validate(jsonValue(t, p)))
		})
	}
}

func TestSpecFunction(t *testing.T) {
	s := MustLoadSpec(t)
	_, r := fc3Resource(t, s)
	p := r.Props
	mk := MustParseMakefile(t)

	t.Run("RuntimeGo1", func(t *testing.T) {
		assert.Equal(t, "go1", p["runtime"])
	})
	t.Run("HandlerIsTheBuiltBinary", func(t *testing.T) {
		assert.Equal(t, mk.Binary, p["handler"], "the handler must name the binary `make build` writes")
		assert.Equal(t, mk.Dist, filepath.Clean(fmt.Sprint(p["code"])), "code must be the directory `make build` writes to")
	})
	t.Run("InvokeDefaultEventExists", func(t *testing.T) {
		require.NotEmpty(t, mk.Event, "Makefile: EVENT is not set")
		assert.FileExists(t, filepath.Join(MustRepoRoot(t), "events", mk.Event), "`make invoke` sends events/$(EVENT)")
	})
	t.Run("PreDeployBuilds", func(t *testing.T) {
		steps := r.Actions["pre-deploy"]
		require.NotEmpty(t, steps, "a pre-deploy action must build the binary")
		var runs []string
		for _, st := range steps {
			runs = append(runs, fmt.Sprint(st["run"]))
			assert.Equal(t, ".", filepath.Clean(fmt.Sprint(st["path"])), "pre-deploy runs at the repository root, where the Makefile is")
		}
		assert.Contains(t, runs, "make build")
	})
	t.Run("OneRotationAtATime", func(t *testing.T) {
		assert.EqualValues(t, 1, get(t, p, "concurrencyConfig", "reservedConcurrency"))
		// go1 serves one request per instance; instanceConcurrency would
		// have no effect, and more than 1 would say otherwise.
		assert.NotContains(t, p, "instanceConcurrency", "the go1 runtime ignores instanceConcurrency: leave it out")
	})
	t.Run("PreLocalBuilds", func(t *testing.T) {
		var runs []string
		for _, st := range r.Actions["pre-local"] {
			runs = append(runs, fmt.Sprint(st["run"]))
		}
		assert.Contains(t, runs, "make build", "`s local invoke` runs ./dist/main: a pre-local action must build it")
	})
	t.Run("TimeoutAndMemorySized", func(t *testing.T) {
		timeout, ok := p["timeout"].(int)
		require.True(t, ok, "timeout is an integer")
		assert.GreaterOrEqual(t, timeout, 60, "a batch needs time for backoff and several targets")
		assert.LessOrEqual(t, timeout, 900)
		mem, ok := p["memorySize"].(int)
		require.True(t, ok, "memorySize is an integer")
		assert.LessOrEqual(t, mem, 512, "the work is network-bound")
	})
	t.Run("RoleFromVars", func(t *testing.T) {
		role := fmt.Sprint(p["role"])
		assert.Regexp(t, `^acs:ram::\d+:role/[A-Za-z0-9.@_-]+$`, role)
	})
	t.Run("LogsKept", func(t *testing.T) {
		switch lc := p["logConfig"].(type) {
		case string:
			assert.Equal(t, "auto", lc)
		case map[string]any:
			assert.NotEmpty(t, lc["project"])
			assert.NotEmpty(t, lc["logstore"])
		default:
			t.Fatalf("logConfig must be \"auto\" or a project and logstore, got %#v", lc)
		}
	})
	t.Run("AsyncRetriesBoundedWithFailureDestination", func(t *testing.T) {
		retries, ok := get(t, p, "asyncInvokeConfig", "maxAsyncRetryAttempts").(int)
		require.True(t, ok)
		assert.LessOrEqual(t, retries, 3)
		age, ok := get(t, p, "asyncInvokeConfig", "maxAsyncEventAgeInSeconds").(int)
		require.True(t, ok)
		assert.Positive(t, age)
		dest := fmt.Sprint(get(t, p, "asyncInvokeConfig", "destinationConfig", "onFailure", "destination"))
		assert.Regexp(t, `^acs:(mns:[a-z0-9-]+:\d+:/(queues|topics)/[A-Za-z0-9-]+/messages|fc:[a-z0-9-]+:\d+:functions/[A-Za-z0-9_-]+)$`, dest)
	})
}

func TestSpecEnvironment(t *testing.T) {
	s := MustLoadSpec(t)
	_, r := fc3Resource(t, s)
	env, ok := r.Props["environmentVariables"].(map[string]any)
	require.True(t, ok, "environmentVariables must be a map")

	var got []string
	for k := range env {
		got = append(got, k)
	}
	sort.Strings(got)
	want := configVariableNames(t)
	sort.Strings(want)
	assert.Equal(t, want, got, "s.yaml must set exactly the variables internal/config reads")

	for k, v := range env {
		_, isString := v.(string)
		assert.True(t, isString, "%s: Function Compute takes only string values, got %T", k, v)
	}
	t.Run("LoadsWithoutError", func(t *testing.T) {
		c, err := config.Load(func(name string) string {
			v, _ := env[name].(string)
			return v
		})
		require.NoError(t, err, "the configuration s.yaml deploys must load")
		assert.Equal(t, s.Vars["region"], c.RegionID)
	})
	t.Run("DefaultPrefixIsTheDesignDefault", func(t *testing.T) {
		assert.Equal(t, "pwreset/", env["SECRET_NAME_PREFIX"])
		assert.True(t, reset.ValidPrefix(fmt.Sprint(env["SECRET_NAME_PREFIX"])))
	})
	t.Run("PasswordLengthInRange", func(t *testing.T) {
		var n int
		_, err := fmt.Sscan(fmt.Sprint(env["PASSWORD_LENGTH"]), &n)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, 8)
		assert.LessOrEqual(t, n, 32)
	})
}

// configVariableNames lists the environment variables internal/config
// reads, from config.Variables: a list of names, or a list of structs whose
// Name field is the variable, or a map keyed by the variable.
func configVariableNames(tb testing.TB) []string {
	tb.Helper()
	v := reflect.ValueOf(config.Variables)
	var names []string
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			e := reflect.Indirect(v.Index(i))
			switch e.Kind() {
			case reflect.String:
				names = append(names, e.String())
			case reflect.Struct:
				f := e.FieldByName("Name")
				require.True(tb, f.IsValid() && f.Kind() == reflect.String, "config.Variables elements need a string Name field")
				names = append(names, f.String())
			default:
				tb.Fatalf("config.Variables: unsupported element kind %s", e.Kind())
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			names = append(names, k.String())
		}
	default:
		tb.Fatalf("config.Variables: unsupported kind %s", v.Kind())
	}
	require.NotEmpty(tb, names, "config.Variables lists no variable")
	sort.Strings(names)
	return names
}

// trigger returns the trigger of the given type; there must be exactly one.
func trigger(tb testing.TB, props map[string]any, name string) map[string]any {
	tb.Helper()
	list, ok := props["triggers"].([]any)
	require.True(tb, ok, "triggers must be a list")
	var found []map[string]any
	for _, e := range list {
		m, ok := e.(map[string]any)
		require.True(tb, ok)
		if m["triggerName"] == name {
			found = append(found, m)
		}
	}
	require.Len(tb, found, 1, "want exactly one trigger named %s", name)
	cfg, ok := found[0]["triggerConfig"].(map[string]any)
	require.True(tb, ok, "%s trigger: triggerConfig must be a map", name)
	return cfg
}

func TestSpecTriggers(t *testing.T) {
	s := MustLoadSpec(t)
	_, r := fc3Resource(t, s)

	t.Run("HTTPSignedPostOnly", func(t *testing.T) {
		cfg := trigger(t, r.Props, "http")
		assert.Equal(t, "function", cfg["authType"], "the HTTP trigger must require a signed request")
		assert.Equal(t, []any{"POST"}, cfg["methods"])
		_, isBool := cfg["disableURLInternet"].(bool)
		assert.True(t, isBool, "disableURLInternet must be a boolean (from vars), got %#v", cfg["disableURLInternet"])
	})

	t.Run("NoDefaultBusTrigger", func(t *testing.T) {
		// A rule on the default bus never sees the events applications
		// publish: the custom bus, its rule and the target come from
		// `make eventbridge` (internal/tools/ebsetup).
		list, _ := r.Props["triggers"].([]any)
		for _, e := range list {
			m, _ := e.(map[string]any)
			assert.NotEqual(t, "eventbridge", m["triggerType"], "fc3's eventbridge trigger puts its rule on the default bus")
		}
	})

	t.Run("EventBridgeSetupIsValid", func(t *testing.T) {
		setup, err := ebsetup.FromSpec(s, testAccountID)
		require.NoError(t, err)
		require.NoError(t, validateEventPattern(setup.Pattern()))
		assert.JSONEq(t, `{"source":["pwreset.request"],"type":["pwreset:Reset:Requested"]}`, setup.Pattern(), "the pattern the README documents")
		assert.Equal(t, "pwreset", setup.Bus, "the custom bus the README documents")
	})

	t.Run("TimerPayloadIsAValidRequest", func(t *testing.T) {
		cfg := trigger(t, r.Props, "timer")
		payload, ok := cfg["payload"].(string)
		require.True(t, ok, "the timer's payload is a JSON string")
		targets, err := decodeRequest([]byte(payload))
		require.NoError(t, err)
		assert.NotEmpty(t, targets)
		_, isBool := cfg["enable"].(bool)
		assert.True(t, isBool, "enable must be a boolean")
		assert.Len(t, strings.Fields(fmt.Sprint(cfg["cronExpression"])), 6, "FC cron expressions have six fields, seconds first")
	})

	t.Run("SweepTimerIsOffAndDaily", func(t *testing.T) {
		cfg := trigger(t, r.Props, "sweep")
		assert.JSONEq(t, `{"sweep":{}}`, fmt.Sprint(cfg["payload"]), "the sweep's payload")
		assert.Equal(t, false, cfg["enable"], "the sweep is off by default")
		fields := strings.Fields(fmt.Sprint(cfg["cronExpression"]))
		require.Len(t, fields, 6, "FC cron expressions have six fields, seconds first")
		assert.Equal(t, []string{"*", "*", "*"}, fields[3:], "daily: every day of every month, any weekday")
	})
}

// validateEventPattern checks an EventBridge event pattern: a JSON object
// whose leaves are all arrays (of values or of matching rules).
func validateEventPattern(pattern string) error {
	var v any
	dec := json.NewDecoder(strings.NewReader(pattern))
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("pattern is not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("pattern has trailing data")
	}
	obj, ok := v.(map[string]any)
	if !ok || len(obj) == 0 {
		return errors.New("pattern must be a non-empty JSON object")
	}
	var walk func(path string, v any) error
	walk = func(path string, v any) error {
		switch v := v.(type) {
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("%s: empty array matches nothing", path)
			}
			return nil
		case map[string]any:
			for k, e := range v {
				if err := walk(path+"."+k, e); err != nil {
					return err
				}
			}
			return nil
		default:
			return fmt.Errorf("%s: a pattern's leaves must be arrays, got %T", path, v)
		}
	}
	return walk("$", obj)
}

func TestValidateEventPattern(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"OK", `{"source":["pwreset.request"],"type":["pwreset:Reset:Requested"]}`, false},
		{"OKNested", `{"data":{"target":["cloudsso"]}}`, false},
		{"ErrNotJSON", `{"source":`, true},
		{"ErrLeafNotArray", `{"source":"pwreset.request"}`, true},
		{"ErrEmptyArray", `{"source":[]}`, true},
		{"ErrNotObject", `["pwreset.request"]`, true},
		{"ErrTrailing", `{"source":["a"]} {}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateEventPattern(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// wireTarget and wireRequest spell the request contract of docs/DESIGN.md
// ("Interface contract"): one target, or {"targets": [...]}, plus dryRun.
type wireTarget struct {
	Target                           string `json:"target"`
	DirectoryID                      string `json:"directoryId"`
	UserID                           string `json:"userId"`
	RequirePasswordResetForNextLogin bool   `json:"requirePasswordResetForNextLogin"`
	OrganizationID                   string `json:"organizationId"`
	Username                         string `json:"username"`
	Location                         string `json:"location"`
}

type wireRequest struct {
	wireTarget
	Targets []wireTarget `json:"targets"`
	DryRun  bool         `json:"dryRun"`
}

// decodeRequest decodes a request strictly (unknown fields are errors) and
// validates every target with reset.Target.Validate. It is stricter than the
// handler about duplicates: the function rotates an account named twice once,
// but a schedule that lists one twice is a mistake in s.yaml.
func decodeRequest(b []byte) ([]reset.Target, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var req wireRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode request: trailing data")
	}
	wires := req.Targets
	switch {
	case req.Target != "" && len(req.Targets) > 0:
		return nil, errors.New("a request has either target or targets, not both")
	case req.Target != "":
		wires = []wireTarget{req.wireTarget}
	case len(req.Targets) == 0:
		return nil, errors.New("a request needs target or targets")
	}
	seen := map[string]bool{}
	var out []reset.Target
	for i, w := range wires {
		t := reset.Target{
			Kind:                             reset.Kind(w.Target),
			DirectoryID:                      w.DirectoryID,
			UserID:                           w.UserID,
			RequirePasswordResetForNextLogin: w.RequirePasswordResetForNextLogin,
			OrganizationID:                   w.OrganizationID,
			Username:                         w.Username,
			Location:                         w.Location,
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("targets[%d]: %w", i, err)
		}
		if seen[t.Key()] {
			return nil, fmt.Errorf("targets[%d]: %s appears twice", i, t.Key())
		}
		seen[t.Key()] = true
		out = append(out, t)
	}
	return out, nil
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"OKSingle", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12"}`, 1, false},
		{"OKBatch", `{"targets":[{"target":"fabric","organizationId":"peers-a-1","username":"asian01","location":"cn-hangzhou"},{"target":"cloudsso","directoryId":"d-1","userId":"u-1"}]}`, 2, false},
		{"ErrUnknownField", `{"target":"cloudsso","directoryId":"d-1","userId":"u-1","password":"x"}`, 0, true},
		{"ErrInvalidID", `{"target":"cloudsso","directoryId":"d-../x","userId":"u-1"}`, 0, true},
		{"ErrDuplicate", `{"targets":[{"target":"cloudsso","directoryId":"d-1","userId":"u-1"},{"target":"cloudsso","directoryId":"d-1","userId":"u-1"}]}`, 0, true},
		{"ErrEmpty", `{}`, 0, true},
		{"ErrBoth", `{"target":"cloudsso","directoryId":"d-1","userId":"u-1","targets":[{"target":"cloudsso","directoryId":"d-2","userId":"u-2"}]}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest([]byte(tt.in))
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, tt.want)
		})
	}
}

// makefile holds what the tests read from the Makefile.
type makefile struct {
	Binary string // BINARY
	Dist   string // DIST
	Event  string // EVENT, the default file of `make invoke`
}

var reMakeVar = regexp.MustCompile(`(?m)^([A-Z_]+)\s*(?:\?=|:=|=)\s*(\S+)\s*$`)

// MustParseMakefile reads BINARY and DIST and checks that the build recipe
// writes $(DIST)/$(BINARY) for linux/amd64.
func MustParseMakefile(tb testing.TB) makefile {
	tb.Helper()
	src := string(MustReadFile(tb, "Makefile"))
	vars := map[string]string{}
	for _, m := range reMakeVar.FindAllStringSubmatch(src, -1) {
		vars[m[1]] = m[2]
	}
	mk := makefile{Binary: vars["BINARY"], Dist: vars["DIST"], Event: vars["EVENT"]}
	require.NotEmpty(tb, mk.Binary, "Makefile: BINARY is not set")
	require.NotEmpty(tb, mk.Dist, "Makefile: DIST is not set")

	var build string
	for _, line := range strings.Split(src, "\n") {
		if strings.Contains(line, " build ") && strings.Contains(line, " -o ") {
			build = line
		}
	}
	require.NotEmpty(tb, build, "Makefile: no `go build ... -o` line")
	assert.Contains(tb, build, "-o $(DIST)/$(BINARY)", "the build must write the binary the handler names")
	for _, want := range []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=$(VERSION)"`} {
		assert.Contains(tb, build, want)
	}
	return mk
}

// reARN finds Alibaba Cloud resource names: acs:<service>:<region>:<account>:.
var reARN = regexp.MustCompile(`acs:([a-z0-9-]+):([a-z0-9-]*):([0-9]*):`)

// arns lists every ARN in v's strings, with the path where it was found.
func arns(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			arns(e, path+"."+k, out)
		}
	case []any:
		for i, e := range v {
			arns(e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case string:
		for i, m := range reARN.FindAllString(v, -1) {
			out[fmt.Sprintf("%s#%d", path, i)] = m
		}
	}
}

// TestSpecFollowsRegion deploys s.yaml to two regions: every region the
// function's props name, and every ARN's region, follows vars.region
// (PWRESET_REGION), and every ARN names the deploying account.
func TestSpecFollowsRegion(t *testing.T) {
	for _, region := range []string{"cn-hangzhou", "cn-shanghai", "ap-southeast-1"} {
		t.Run(region, func(t *testing.T) {
			s := MustLoadSpecEnv(t, map[string]string{"PWRESET_REGION": region})
			_, r := fc3Resource(t, s)
			assert.Equal(t, region, r.Props["region"])
			assert.Equal(t, region, get(t, r.Props, "environmentVariables", "ALIBABA_CLOUD_REGION_ID"))
			found := map[string]string{}
			arns(r.Props, "props", found)
			arns(s.Vars, "vars", found)
			require.NotEmpty(t, found)
			for where, arn := range found {
				m := reARN.FindStringSubmatch(arn)
				assert.Equal(t, testAccountID, m[3], "%s: %s names another account", where, arn)
				if m[1] == "ram" {
					assert.Empty(t, m[2], "%s: RAM is global: %s", where, arn)
					continue
				}
				assert.Equal(t, region, m[2], "%s: %s is pinned to another region", where, arn)
			}
			setup, err := ebsetup.FromSpec(s, testAccountID)
			require.NoError(t, err)
			assert.Equal(t, region, setup.Region, "the EventBridge rule lives in the function's region")
		})
	}
}

// TestSpecHasNoPinnedRegion reads s.yaml's text: a region id may appear only
// as vars.region's default and as a Fabric organization's location in the
// sample payload (an organization's own region, not the function's).
func TestSpecHasNoPinnedRegion(t *testing.T) {
	reRegionID := regexp.MustCompile(`\b(cn|ap|eu|us|me)-[a-z]+(-[a-z0-9]+)?\b`)
	for i, line := range strings.Split(string(MustReadFile(t, "s.yaml")), "\n") {
		code, _, _ := strings.Cut(line, "#")
		trimmed := strings.TrimSpace(code)
		if !reRegionID.MatchString(trimmed) {
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "region: ${env('PWRESET_REGION',"):
		case strings.HasPrefix(trimmed, "rotationTargets:"):
		case strings.HasPrefix(trimmed, "cloudssoEndpoint:"):
			// CloudSSO's endpoint is the directory's region, which only
			// six regions serve (docs/endpoints.md).
		default:
			t.Errorf("s.yaml:%d pins a region: %s", i+1, strings.TrimSpace(line))
		}
	}
}
