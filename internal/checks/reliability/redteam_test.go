package reliability_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// Red-team attacks on the paths added for fleets: selectors, maxTargets,
// the sweep and continuations. Each hostile request is refused naming the
// field and the rule, and reaches no cloud API.

const (
	rtDir = `"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `"`
	rtOrg = `"target":"fabric","organizationId":"` + emulator.FixtureOrganizationID + `","location":"` + emulator.FixtureLocation + `"`
)

// ids returns n exclude entries, each a well-formed user id.
func ids(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"u-%d"`, i)
	}
	return b.String()
}

var hostileFleetBodies = []struct {
	name, body, field, rule string
}{
	// maxTargets
	{"MaxTargetsHuge", `{` + rtDir + `,"select":{},"maxTargets":100001}`, "maxTargets", "1 to 100000"},
	{"MaxTargetsOverflow", `{` + rtDir + `,"select":{},"maxTargets":1e300}`, "maxTargets", "whole number"},
	{"MaxTargetsInt64Wrap", `{` + rtDir + `,"select":{},"maxTargets":18446744073709551617}`, "maxTargets", "whole number"},
	{"MaxTargetsNegative", `{` + rtDir + `,"select":{},"maxTargets":-1}`, "maxTargets", "whole number"},
	{"MaxTargetsNegativeZero", `{` + rtDir + `,"select":{},"maxTargets":-0}`, "maxTargets", "whole number"},
	{"MaxTargetsZero", `{` + rtDir + `,"select":{},"maxTargets":0}`, "maxTargets", "whole number"},
	{"MaxTargetsFraction", `{` + rtDir + `,"select":{},"maxTargets":1.5}`, "maxTargets", "whole number"},
	{"MaxTargetsString", `{` + rtDir + `,"select":{},"maxTargets":"100"}`, "maxTargets", "must be a number"},
	{"MaxTargetsNull", `{` + rtDir + `,"select":{},"maxTargets":null}`, "maxTargets", "must be a number"},
	{"MaxTargetsBool", `{` + rtDir + `,"select":{},"maxTargets":true}`, "maxTargets", "must be a number"},
	{"MaxTargetsArray", `{` + rtDir + `,"select":{},"maxTargets":[5]}`, "maxTargets", "must be a number"},
	{"MaxTargetsTwice", `{` + rtDir + `,"select":{},"maxTargets":1,"maxTargets":100000}`, "maxTargets", "twice"},
	{"MaxTargetsMissing", `{` + rtDir + `,"select":{}}`, "maxTargets", "is required with select"},
	{"MaxTargetsWithoutSelect", `{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12","maxTargets":5}`, "maxTargets", ""},
	{"MaxTargetsInBatchEntry", `{"targets":[{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12","maxTargets":5}]}`, "targets[0].maxTargets", "is not a known field"},
	// select
	{"SelectWithUserID", `{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12","select":{},"maxTargets":5}`, "userId", "must not be given with select"},
	{"SelectNull", `{` + rtDir + `,"select":null,"maxTargets":5}`, "select", "must be an object"},
	{"SelectArray", `{` + rtDir + `,"select":[],"maxTargets":5}`, "select", "must be an object"},
	{"SelectString", `{` + rtDir + `,"select":"*","maxTargets":5}`, "select", "must be an object"},
	{"SelectUnknownField", `{` + rtDir + `,"select":{"userId":"u-1"},"maxTargets":5}`, "select.userId", "is not a known field"},
	{"SelectPasswordField", `{` + rtDir + `,"select":{"password":"Chosen#Pass123"},"maxTargets":5}`, "select.password", "is not a known field"},
	{"SelectFieldTwice", `{` + rtDir + `,"select":{"status":"Enabled","status":"Disabled"},"maxTargets":5}`, "select.status", "twice"},
	{"SelectTwice", `{` + rtDir + `,"select":{},"select":{"status":"Enabled"},"maxTargets":5}`, "select", "twice"},
	{"SelectWithTargets", `{"targets":[{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12"}],"select":{},"maxTargets":5}`, "select", "must not be given with targets"},
	{"SelectInBatchEntry", `{"targets":[{` + rtDir + `,"select":{}}]}`, "targets[0].select", "is not a known field"},
	{"SelectStatusCase", `{` + rtDir + `,"select":{"status":"enabled"},"maxTargets":5}`, "select.status", `"Enabled" or "Disabled"`},
	{"SelectStatusNumber", `{` + rtDir + `,"select":{"status":1},"maxTargets":5}`, "select.status", "must be a string"},
	{"SelectProvisionType", `{` + rtDir + `,"select":{"provisionType":"SCIM"},"maxTargets":5}`, "select.provisionType", `"Manual" or "Synchronized"`},
	{"SelectPrefixFilterInjection", `{` + rtDir + `,"select":{"userNamePrefix":"a\" or UserName sw \""},"maxTargets":5}`, "select.userNamePrefix", "without spaces or quotes"},
	{"SelectPrefixSingleQuote", `{` + rtDir + `,"select":{"userNamePrefix":"a'"},"maxTargets":5}`, "select.userNamePrefix", "without spaces or quotes"},
	{"SelectPrefixNewline", `{` + rtDir + `,"select":{"userNamePrefix":"a\nb"},"maxTargets":5}`, "select.userNamePrefix", "printable ASCII"},
	{"SelectPrefixNUL", `{` + rtDir + `,"select":{"userNamePrefix":"a\u0000"},"maxTargets":5}`, "select.userNamePrefix", "printable ASCII"},
	{"SelectPrefixUnicode", `{` + rtDir + `,"select":{"userNamePrefix":"ａdmin"},"maxTargets":5}`, "select.userNamePrefix", "printable ASCII"},
	{"SelectPrefixTooLong", `{` + rtDir + `,"select":{"userNamePrefix":"` + strings.Repeat("a", 65) + `"},"maxTargets":5}`, "select.userNamePrefix", "at most 64"},
	{"ExcludeTooMany", `{` + rtDir + `,"select":{"exclude":[` + ids(1001) + `]},"maxTargets":5}`, "select.exclude", "at most 1000"},
	{"ExcludeString", `{` + rtDir + `,"select":{"exclude":"u-1"},"maxTargets":5}`, "select.exclude", "must be an array"},
	{"ExcludeNumber", `{` + rtDir + `,"select":{"exclude":[1]},"maxTargets":5}`, "select.exclude[0]", "must be a string"},
	{"ExcludeWildcard", `{` + rtDir + `,"select":{"exclude":["u-1","u-*"]},"maxTargets":5}`, "select.exclude[1]", "lower-case letters or digits"},
	{"ExcludeTraversal", `{` + rtDir + `,"select":{"exclude":["u-../../x"]},"maxTargets":5}`, "select.exclude[0]", "lower-case letters or digits"},
	{"ExcludeFabricIDOnSSO", `{` + rtDir + `,"select":{"exclude":["asian01"]},"maxTargets":5}`, "select.exclude[0]", "u-"},
	{"FabricSelectStatus", `{` + rtOrg + `,"select":{"status":"Enabled"},"maxTargets":5}`, "select.status", `does not apply to target "fabric"`},
	{"FabricSelectProvisionType", `{` + rtOrg + `,"select":{"provisionType":"Manual"},"maxTargets":5}`, "select.provisionType", `does not apply to target "fabric"`},
	{"FabricSelectPrefix", `{` + rtOrg + `,"select":{"userNamePrefix":"a"},"maxTargets":5}`, "select.userNamePrefix", `does not apply to target "fabric"`},
	{"FabricSelectWithUsername", `{` + rtOrg + `,"username":"asian01","select":{},"maxTargets":5}`, "username", "must not be given with select"},
	{"FabricSelectNoLocation", `{"target":"fabric","organizationId":"` + emulator.FixtureOrganizationID + `","select":{},"maxTargets":5}`, "location", "is required"},
	{"FabricSelectSSOField", `{` + rtOrg + `,"directoryId":"d-00fc2p61ab12","select":{},"maxTargets":5}`, "directoryId", "does not apply"},
	{"SelectNotAllowedDirectory", `{"target":"cloudsso","directoryId":"d-0notallowed","select":{},"maxTargets":5}`, "directoryId", "allow-list"},
	{"SelectNotAllowedOrg", `{"target":"fabric","organizationId":"other-org","location":"cn-hangzhou","select":{},"maxTargets":5}`, "organizationId", "allow-list"},
	{"SelectNoTarget", `{"select":{},"maxTargets":5}`, "target", "is required"},
	// sweep
	{"SweepWithField", `{"sweep":{"prefix":"evil/"}}`, "sweep", "must be an empty object"},
	{"SweepTrue", `{"sweep":true}`, "sweep", "must be an object"},
	{"SweepNull", `{"sweep":null}`, "sweep", "must be an object"},
	{"SweepArray", `{"sweep":[]}`, "sweep", "must be an object"},
	{"SweepTwice", `{"sweep":{},"sweep":{}}`, "sweep", "twice"},
	{"SweepWithTarget", `{"sweep":{},` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12"}`, "sweep", "the only field besides dryRun"},
	{"SweepWithTargets", `{"sweep":{},"targets":[{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12"}]}`, "sweep", "the only field besides dryRun"},
	{"SweepWithSelect", `{"sweep":{},"select":{}}`, "sweep", "the only field besides dryRun"},
	{"SweepWithMaxTargets", `{"sweep":{},"maxTargets":5}`, "sweep", "the only field besides dryRun"},
	{"SweepWithPrefix", `{"sweep":{},"secretNamePrefix":"evil/"}`, "secretNamePrefix", "is not a known field"},
	{"SweepInBatchEntry", `{"targets":[{"sweep":{}}]}`, "targets[0].sweep", "is not a known field"},
	{"SweepStringDryRun", `{"sweep":{},"dryRun":"yes"}`, "dryRun", "true or false"},
	// a continuation is a direct invocation's event only, never a request
	{"ContinuationInRequest", `{"continuation":"e30=","signature":"` + strings.Repeat("00", 32) + `"}`, "continuation", "is not a known field"},
	{"ContinuationBesideTarget", `{` + rtDir + `,"userId":"u-00q8wbq42wiltcrkab12","continuation":"e30="}`, "continuation", "is not a known field"},
}

// TestRedTeamFleetInputRefused sends hostile selector, maxTargets, sweep
// and continuation-shaped requests through the HTTP trigger, EventBridge
// and the timer to the handler as main wires it: each is refused naming
// the field and the rule, and the cloud sees no call.
func TestRedTeamFleetInputRefused(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	f := MustAppFunction(t, cloud, nil)
	for _, b := range hostileFleetBodies {
		for _, tr := range []struct {
			name  string
			event []byte
			http  bool
		}{
			{"HTTP", httpEvent(http.MethodPost, b.body, map[string]string{"Idempotency-Key": "rt-" + b.name}), true},
			{"EventBridge", cloudEventText("rt-"+b.name, b.body), false},
			{"Timer", timerEvent("rt", "2024-06-11T00:00:00Z", b.body), false},
		} {
			t.Run(tr.name+"/"+b.name, func(t *testing.T) {
				a := f.Invoke(t, tr.event, invocation{})
				var msg string
				if tr.http {
					require.NotNil(t, a.HTTP)
					require.Nil(t, a.Err)
					assert.GreaterOrEqual(t, a.HTTP.StatusCode, 400)
					assert.Less(t, a.HTTP.StatusCode, 500)
					require.NotNil(t, a.Response.Error, "answered %+v", a.Response)
					msg = a.Response.Error.Message
				} else {
					require.Error(t, a.Err, "answered %+v", a.Response)
					var perm *handler.PermanentError
					require.ErrorAs(t, a.Err, &perm)
					msg = perm.Message
				}
				assert.Contains(t, msg, b.field, "the message names the field")
				assert.Contains(t, msg, b.rule, "the message states the rule")
				assert.NotContains(t, msg, "Chosen#Pass123")
			})
		}
	}
	assert.Empty(t, cloud.Calls(), "cloud calls for hostile fleet input")
}
