package deploy_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deployPolicyRel is the policy of the RAM user who deploys: what `make
// role`, `make deploy` (fc3), `make eventbridge`, `make invoke` and `make
// remove` need, and nothing else (docs/deploy.md, "The deploying user").
const deployPolicyRel = "docs/deploy-policy.json"

// fc3Actions are the Function Compute 3.0 actions the fc3 component calls to
// deploy, inspect and remove a function with s.yaml's props (functions,
// triggers, concurrency and async config), and `s invoke`. The list follows
// FC 3.0's API reference (one RAM action per API); which of them fc3
// 0.1.22 calls for a given command is read from its documented commands
// (deploy, remove, info, invoke), assumed where it lists no API.
var fc3Actions = []string{
	"fc:CreateFunction", "fc:GetFunction", "fc:UpdateFunction", "fc:DeleteFunction",
	"fc:CreateTrigger", "fc:GetTrigger", "fc:UpdateTrigger", "fc:DeleteTrigger", "fc:ListTriggers",
	"fc:PutConcurrencyConfig", "fc:GetConcurrencyConfig",
	"fc:PutAsyncInvokeConfig", "fc:GetAsyncInvokeConfig", "fc:DeleteAsyncInvokeConfig",
	"fc:InvokeFunction",
}

// ebsetupActions derives the EventBridge actions internal/tools/ebsetup calls from
// its source: the action names passed to its call method.
func ebsetupActions(tb testing.TB) []string {
	tb.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(MustRepoRoot(tb), "internal", "tools", "ebsetup", "client.go"), nil, 0)
	require.NoError(tb, err)
	seen := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "call" {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			a, _ := strconv.Unquote(lit.Value)
			seen["eventbridge:"+a] = true
		}
		return true
	})
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	require.NotEmpty(tb, out, "no EventBridge call found in internal/tools/ebsetup: the derivation is broken")
	return out
}

// ungrantable are actions the API reference says need no RAM authorization
// ("No authorization for this operation"): granting them would grant
// nothing.
var ungrantable = map[string]bool{"eventbridge:CreateServiceLinkedRoleForProduct": true}

// makeRAMActions derives the RAM actions `make role` calls from the
// Makefile's `aliyun ram Xxx` commands.
func makeRAMActions(tb testing.TB) []string {
	tb.Helper()
	re := regexp.MustCompile(`aliyun ram ([A-Z][A-Za-z]+)`)
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(MustReadFile(tb, "Makefile")), -1) {
		seen["ram:"+m[1]] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	require.NotEmpty(tb, out, "the Makefile calls no `aliyun ram` command")
	return out
}

// grants maps each granted action to its statements' resources.
func grants(p policy) map[string][]string {
	out := map[string][]string{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			out[a] = append(out[a], st.Resource...)
		}
	}
	return out
}

func TestDeployPolicyCoversEveryStep(t *testing.T) {
	p := MustLoadPolicyAt(t, deployPolicyRel)
	g := grants(p)
	s := MustLoadSpec(t)
	_, r := fc3Resource(t, s)
	want := append([]string{}, fc3Actions...)
	want = append(want, "ram:PassRole")
	want = append(want, makeRAMActions(t)...)
	for _, a := range ebsetupActions(t) {
		if !ungrantable[a] {
			want = append(want, a)
		}
	}
	if r.Props["logConfig"] == "auto" {
		// fc3 creates the log project and logstore itself.
		want = append(want, "log:CreateProject", "log:CreateLogStore", "log:CreateIndex")
	}
	for _, a := range want {
		assert.Contains(t, g, a, "%s needs %s", deployPolicyRel, a)
	}
	for a := range g {
		assert.False(t, ungrantable[a], "%s needs no RAM authorization: do not grant it", a)
	}
	// Every EventBridge action granted is one ebsetup calls.
	called := map[string]bool{}
	for _, a := range ebsetupActions(t) {
		called[a] = true
	}
	for a := range g {
		if strings.HasPrefix(a, "eventbridge:") {
			assert.True(t, called[a], "%s grants %s, which internal/tools/ebsetup never calls", deployPolicyRel, a)
		}
	}
}

func TestDeployPolicyIsScopedToTheDeployment(t *testing.T) {
	p := MustLoadPolicyAt(t, deployPolicyRel)
	s := MustLoadSpec(t)
	_, r := fc3Resource(t, s)
	fn := fmt.Sprint(r.Props["functionName"])
	v := func(name string) string { return regexp.QuoteMeta(fmt.Sprint(s.Vars[name])) }
	rules := []struct {
		prefix string
		re     *regexp.Regexp
		what   string
	}{
		{"fc:ListFunctions", regexp.MustCompile(`^acs:fc:\*:\*:functions/\*$`), "the function list"},
		{"fc:", regexp.MustCompile(`^acs:fc:\*:\*:functions/` + regexp.QuoteMeta(fn) + `(/.*)?$`), "the function " + fn + " and its parts"},
		{"ram:PassRole", regexp.MustCompile(`^acs:ram::\*:role/` + v("roleName") + `$`), "the function's role"},
		{"ram:CreateServiceLinkedRole", regexp.MustCompile(`^\*$`), "service-linked roles (limited by a condition)"},
		{"ram:", regexp.MustCompile(`^acs:ram::\*:(role|policy)/` + v("roleName") + `$`), "the function's role and policy"},
		{"log:", regexp.MustCompile(`^acs:log:\*:\*:project/.+$`), "log projects"},
		{"eventbridge:", regexp.MustCompile(`^acs:eventbridge:\*:\*:eventbus/` + v("eventBus") + `(/rule/` + v("eventRule") + `)?$`), "the bus and its rule"},
		{"mns:", regexp.MustCompile(`^acs:mns:\*:\*:/queues/` + v("failureQueue") + `(/messages)?$`), "the failure queue"},
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
				var rule *regexp.Regexp
				var what string
				for _, ru := range rules {
					if a == ru.prefix || (strings.HasSuffix(ru.prefix, ":") && strings.HasPrefix(a, ru.prefix)) {
						rule, what = ru.re, ru.what
						break
					}
				}
				require.NotNil(t, rule, "%s: no resource rule for this action", a)
				for _, res := range st.Resource {
					assert.Regexp(t, rule, res, "%s may only name %s", a, what)
				}
				if a == "ram:CreateServiceLinkedRole" {
					assert.Contains(t, string(st.Condition), `"ram:ServiceName"`, "creating service-linked roles must be limited to named services")
				} else {
					assert.NotContains(t, st.Resource, "*", "%s on every resource", a)
				}
			}
		})
	}
}
