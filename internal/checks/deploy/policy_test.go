package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adaptersDir holds the code that calls the cloud APIs; the policy must
// grant exactly what it calls.
const adaptersDir = "internal/aliyun"

// policy is a RAM policy document. Action and Resource may be a string or a
// list; stringList reads both.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string          `json:"Sid"`
	Effect    string          `json:"Effect"`
	Action    stringList      `json:"Action"`
	Resource  stringList      `json:"Resource"`
	Condition json.RawMessage `json:"Condition"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// MustLoadPolicy reads docs/ram-policy.json strictly: a field the test does
// not know (NotAction, NotResource, a typo) is an error, not a silent grant.
func MustLoadPolicy(tb testing.TB) policy {
	tb.Helper()
	return MustLoadPolicyAt(tb, "docs/ram-policy.json")
}

// MustLoadPolicyAt reads the policy file rel strictly.
func MustLoadPolicyAt(tb testing.TB, rel string) policy {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(MustReadFile(tb, rel)))
	dec.DisallowUnknownFields()
	var p policy
	require.NoError(tb, dec.Decode(&p), "parse %s", rel)
	require.Equal(tb, "1", p.Version)
	require.NotEmpty(tb, p.Statement)
	return p
}

// sdkClients maps each generated SDK the adapters may use to its RAM code and
// client type; an API Xxx of the SDK is a method Xxx(*XxxRequest).
var sdkClients = map[string]struct {
	product string
	client  reflect.Type
}{
	"github.com/alibabacloud-go/kms-20160120/v3/client":   {"kms", reflect.TypeOf(&kms.Client{})},
	"github.com/alibabacloud-go/cloudsso-20210515/client": {"cloudsso", reflect.TypeOf(&cloudsso.Client{})},
}

// apiVersions maps the API versions called through the generic CallApi to
// their RAM codes.
var apiVersions = map[string]string{
	"2016-01-20": "kms",
	"2021-05-15": "cloudsso",
	"2018-12-21": "baas",
	"2023-03-30": "fc",
	// EventBridge's data API, whose PutEvents is signed by hand
	// (internal/aliyun's putEventsAction; docs/wire-facts.md).
	"2015-06-06": "eventbridge",
}

// isAPI reports whether client has the generated API method name.
func isAPI(client reflect.Type, name string) bool {
	m, ok := client.MethodByName(name)
	if !ok || m.Type.NumIn() < 2 {
		return false
	}
	in := m.Type.In(1)
	return in.Kind() == reflect.Pointer && in.Elem().Name() == name+"Request"
}

// calledActions derives the RAM actions the adapters call from their source:
// every SDK request type they build or SDK API method they call
// (kms.PutSecretValueRequest, ResetUserPasswordWithOptions), and every
// Action of a CallApi parameter set, whose Version names the product.
func calledActions(tb testing.TB) []string {
	tb.Helper()
	dir := filepath.Join(MustRepoRoot(tb), adaptersDir)
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err, "the adapters package %s must exist", adaptersDir)

	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		require.NoError(tb, err)
		files = append(files, f)
	}
	require.NotEmpty(tb, files, "%s has no Go source", adaptersDir)

	consts := stringConsts(files)
	actions := map[string]bool{}
	for _, f := range files {
		aliases := map[string]string{} // local name -> import path of an SDK
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if _, ok := sdkClients[path]; !ok {
				continue
			}
			local := "client"
			if imp.Name != nil {
				local = imp.Name.Name
			}
			aliases[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				// sdk.XxxRequest
				if id, ok := n.X.(*ast.Ident); ok {
					if path, ok := aliases[id.Name]; ok && strings.HasSuffix(n.Sel.Name, "Request") {
						sdk := sdkClients[path]
						api := strings.TrimSuffix(n.Sel.Name, "Request")
						if isAPI(sdk.client, api) {
							actions[sdk.product+":"+api] = true
						}
					}
				}
				// client.Xxx(...) or client.XxxWithOptions(...)
				api := strings.TrimSuffix(n.Sel.Name, "WithOptions")
				for _, sdk := range sdkClients {
					if isAPI(sdk.client, api) {
						actions[sdk.product+":"+api] = true
					}
				}
			case *ast.CompositeLit:
				action, version := "", ""
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key, ok := kv.Key.(*ast.Ident)
					if !ok {
						continue
					}
					switch key.Name {
					case "Action":
						action = stringValue(kv.Value, consts)
					case "Version":
						version = stringValue(kv.Value, consts)
					}
				}
				if action != "" {
					product, ok := apiVersions[version]
					require.True(tb, ok, "%s: CallApi of %s with unknown API version %q: add it to apiVersions", fset.Position(n.Pos()), action, version)
					actions[product+":"+action] = true
				}
			}
			return true
		})
	}
	out := make([]string, 0, len(actions))
	for a := range actions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// stringConsts collects the package's string constants, so an Action given
// by name resolves to its value.
func stringConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

// stringValue reads "X", a constant X, or wrapper("X") such as tea.String.
func stringValue(e ast.Expr, consts map[string]string) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, _ := strconv.Unquote(e.Value)
			return s
		}
	case *ast.Ident:
		return consts[e.Name]
	case *ast.CallExpr:
		if len(e.Args) == 1 {
			return stringValue(e.Args[0], consts)
		}
	case *ast.UnaryExpr:
		return stringValue(e.X, consts)
	}
	return ""
}

// platformActions are granted for Function Compute's own use of the role,
// not for calls of the code: KMS encrypting and decrypting secret values with
// the key, FC writing the function's logs and delivering failed async events.
var platformActions = map[string]bool{
	"kms:GenerateDataKey":  true, // CreateSecret/PutSecretValue encrypt with the key
	"kms:Decrypt":          true, // GetSecretValue decrypts with the key
	"log:PostLogStoreLogs": true,
	"mns:SendMessage":      true,
	"fc:InvokeFunction":    true,
}

func TestCalledActionsCoverEveryService(t *testing.T) {
	called := calledActions(t)
	t.Logf("actions %s calls: %v", adaptersDir, called)
	for _, product := range []string{"kms", "cloudsso", "baas"} {
		found := false
		for _, a := range called {
			found = found || strings.HasPrefix(a, product+":")
		}
		assert.True(t, found, "no %s action found in %s: the derivation is broken or the adapter is missing (found %v)", product, adaptersDir, called)
	}
}

func TestPolicyGrantsExactlyWhatTheCodeCalls(t *testing.T) {
	p := MustLoadPolicy(t)
	granted := map[string]bool{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			granted[a] = true
		}
	}
	called := calledActions(t)
	for _, a := range called {
		assert.True(t, granted[a], "the code calls %s but docs/ram-policy.json does not grant it", a)
	}
	isCalled := map[string]bool{}
	for _, a := range called {
		isCalled[a] = true
	}
	for a := range granted {
		assert.True(t, isCalled[a] || platformActions[a], "docs/ram-policy.json grants %s, which neither the code nor the platform needs", a)
	}
}

var (
	reAction            = regexp.MustCompile(`^[a-z]+:[A-Z][A-Za-z0-9]+$`)
	reKMSKey            = regexp.MustCompile(`^acs:kms:[a-z0-9*-]+:[0-9*]+:key/[A-Za-z0-9*-]+$`)
	reKMSAnySecret      = regexp.MustCompile(`^acs:kms:[a-z0-9*-]+:[0-9*]+:secret/\*$`)
	reCloudSSODirectory = regexp.MustCompile(`^acs:cloudsso:[a-z0-9*-]+:[0-9*]+:directory/[a-z0-9*-]+$`)
	reCloudSSO          = regexp.MustCompile(`^acs:cloudsso:[a-z0-9*-]+:[0-9*]+:directory/[a-z0-9*-]+/user/[a-z0-9*-]+$`)
	reBaaS              = regexp.MustCompile(`^acs:baas:[a-z0-9*-]+:[0-9*]+:organization/[a-z0-9*-]+$`)
	reLog               = regexp.MustCompile(`^acs:log:[a-z0-9*-]+:[0-9*]+:project/[a-z0-9*-]+/logstore/[a-z0-9*_-]+$`)
	reMNSQueue          = regexp.MustCompile(`^acs:mns:[a-z0-9*-]+:[0-9*]+:/queues/([A-Za-z0-9*-]+)/messages$`)
	reFCFunction        = regexp.MustCompile(`^acs:fc:[a-z0-9*-]+:[0-9*]+:functions/([A-Za-z0-9*_-]+)$`)
	// One named bus, the outcome events' (the resource form of
	// docs/deploy-policy.json's bus statements); never every bus.
	reEventBus = regexp.MustCompile(`^acs:eventbridge:[a-z0-9*-]+:[0-9*]+:eventbus/([A-Za-z0-9-]+)$`)
)

func TestPolicyIsLeastPrivilege(t *testing.T) {
	p := MustLoadPolicy(t)
	s := MustLoadSpec(t)
	prefix := fmt.Sprint(s.Vars["secretNamePrefix"])
	require.NotEmpty(t, prefix)
	secretARN := regexp.MustCompile(`^acs:kms:[a-z0-9*-]+:[0-9*]+:secret/` + regexp.QuoteMeta(prefix) + `[A-Za-z0-9_/+=.@*-]*$`)

	// resourceRule says which resources each kind of action may name.
	resourceRule := func(action string) (*regexp.Regexp, string) {
		switch {
		case action == "kms:GenerateDataKey" || action == "kms:Decrypt":
			return reKMSKey, "a KMS key"
		case action == "kms:ListSecrets":
			// A listing names no secret: it is granted on the secret type
			// (assumed; docs/wire-facts.md), and the code keeps the prefix.
			return reKMSAnySecret, "the account's secrets"
		case action == "cloudsso:ListUsers" || action == "cloudsso:GetPasswordPolicy":
			// Directory-level actions (GetPasswordPolicy's reference names
			// the Directory resource; ListUsers' is assumed the same).
			return reCloudSSODirectory, "CloudSSO directories"
		case strings.HasPrefix(action, "kms:"):
			return secretARN, "a secret under " + prefix
		case strings.HasPrefix(action, "cloudsso:"):
			return reCloudSSO, "CloudSSO directory users"
		case strings.HasPrefix(action, "baas:"):
			return reBaaS, "BaaS organizations"
		case strings.HasPrefix(action, "log:"):
			return reLog, "log stores"
		case strings.HasPrefix(action, "mns:"):
			return reMNSQueue, "MNS queues"
		case strings.HasPrefix(action, "fc:"):
			return reFCFunction, "functions"
		case action == "eventbridge:PutEvents":
			return reEventBus, "one named event bus"
		}
		return nil, ""
	}

	for i, st := range p.Statement {
		name := st.Sid
		if name == "" {
			name = fmt.Sprintf("Statement[%d]", i)
		}
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "Allow", st.Effect)
			require.NotEmpty(t, st.Action)
			require.NotEmpty(t, st.Resource)
			for _, a := range st.Action {
				assert.NotContains(t, a, "*", "wildcard action %q", a)
				assert.Regexp(t, reAction, a)
				rule, what := resourceRule(a)
				require.NotNil(t, rule, "%s: no resource rule for this action", a)
				for _, r := range st.Resource {
					assert.NotEqual(t, "*", r, "%s on every resource", a)
					assert.Regexp(t, rule, r, "%s may only name %s", a, what)
				}
			}
		})
	}
}

func TestPolicyCoversFailureDestination(t *testing.T) {
	p := MustLoadPolicy(t)
	_, r := fc3Resource(t, MustLoadSpec(t))
	dest := fmt.Sprint(get(t, r.Props, "asyncInvokeConfig", "destinationConfig", "onFailure", "destination"))

	grants := func(action string, re *regexp.Regexp, name string) bool {
		for _, st := range p.Statement {
			for _, a := range st.Action {
				if a != action {
					continue
				}
				for _, res := range st.Resource {
					if m := re.FindStringSubmatch(res); m != nil && (m[1] == name || m[1] == "*") {
						return true
					}
				}
			}
		}
		return false
	}
	// Resource patterns in the policy use * for region and account.
	wild := regexp.MustCompile(`^(acs:[a-z]+):[^:]+:[^:]+:`)
	norm := wild.ReplaceAllString(dest, "$1:*:*:")
	switch {
	case reMNSQueue.MatchString(norm):
		queue := reMNSQueue.FindStringSubmatch(norm)[1]
		assert.True(t, grants("mns:SendMessage", reMNSQueue, queue), "the role must be allowed mns:SendMessage on queue %s, the failure destination", queue)
	case reFCFunction.MatchString(norm):
		fn := reFCFunction.FindStringSubmatch(norm)[1]
		assert.True(t, grants("fc:InvokeFunction", reFCFunction, fn), "the role must be allowed fc:InvokeFunction on %s, the failure destination", fn)
	default:
		t.Fatalf("failure destination %q is neither an MNS queue nor a function", dest)
	}
}

// TestPolicyGrantsProtocolV2 names the calls protocol v2 relies on, so that
// a change to the derivation cannot drop them silently: the pending read
// (kms:GetSecretValue) and the existence checks of a first rotation
// (cloudsso:GetUser, baas:DescribeFabricOrganizationUsers).
func TestPolicyGrantsProtocolV2(t *testing.T) {
	p := MustLoadPolicy(t)
	granted := map[string]bool{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			granted[a] = true
		}
	}
	called := map[string]bool{}
	for _, a := range calledActions(t) {
		called[a] = true
	}
	for _, a := range []string{"kms:GetSecretValue", "cloudsso:GetUser", "baas:DescribeFabricOrganizationUsers",
		// The directory's password rules and the outcome events.
		"cloudsso:GetPasswordPolicy", "eventbridge:PutEvents"} {
		assert.True(t, called[a], "the adapters no longer call %s", a)
		assert.True(t, granted[a], "docs/ram-policy.json does not grant %s", a)
	}
}
