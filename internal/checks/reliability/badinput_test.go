package reliability_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// badInput is one malformed or hostile invocation and what its refusal
// must name.
type badInput struct {
	name  string
	event []byte
	http  bool   // an HTTP trigger: answered with a 4xx status
	field string // the field the message must name
	rule  string // a phrase of the rule the message must state
}

const (
	okDir  = `"target":"cloudsso","directoryId":"d-00fc2p61ab12"`
	okUser = `"userId":"u-00q8wbq42wiltcrkab12"`
	okSSO  = `{` + okDir + `,` + okUser + `}`
	okOrg  = `"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01"`
)

// badBodies are hostile requests; each is sent through every trigger. A
// field of "{where}" is the envelope field holding the request.
var badBodies = []struct {
	name, body, field, rule string
}{
	{"EmptyObject", `{}`, "target", "is required"},
	{"MissingDirectoryID", `{"target":"cloudsso"}`, "directoryId", "is required"},
	{"MissingUserID", `{` + okDir + `}`, "userId", "is required"},
	{"NumberDirectoryID", `{"target":"cloudsso","directoryId":123,` + okUser + `}`, "directoryId", "must be a string"},
	{"BoolTarget", `{"target":true}`, "target", "must be a string"},
	{"ArrayUserID", `{` + okDir + `,"userId":["u-1"]}`, "userId", "must be a string"},
	{"NullDirectoryID", `{"target":"cloudsso","directoryId":null,` + okUser + `}`, "directoryId", "null"},
	{"UnknownField", `{` + okDir + `,` + okUser + `,"extra":1}`, "extra", "is not a known field"},
	{"CaseFoldedField", `{"target":"cloudsso","DirectoryId":"d-00fc2p61ab12",` + okUser + `}`, "DirectoryId", "is not a known field"},
	{"DuplicateKey", `{` + okDir + `,"directoryId":"d-00other",` + okUser + `}`, "directoryId", "twice"},
	{"CallerChosenPassword", `{` + okDir + `,` + okUser + `,"password":"Chosen#Pass123"}`, "password", "generates every password"},
	{"CallerChosenPasswordInBatch", `{"targets":[{` + okDir + `,` + okUser + `,"password":"Chosen#Pass123"}]}`, "targets[0].password", "generates every password"},
	{"SecretNameSteering", `{` + okDir + `,` + okUser + `,"secretName":"pwreset/other"}`, "secretName", "is not a known field"},
	{"PrefixSteering", `{` + okDir + `,` + okUser + `,"secretNamePrefix":"evil/"}`, "secretNamePrefix", "is not a known field"},
	{"PathTraversalUserID", `{` + okDir + `,"userId":"u-../../admin"}`, "userId", "lower-case letters or digits"},
	{"SlashInDirectoryID", `{"target":"cloudsso","directoryId":"d-00fc2p61ab12/../x",` + okUser + `}`, "directoryId", "lower-case letters or digits"},
	{"WildcardUserID", `{` + okDir + `,"userId":"u-*"}`, "userId", "lower-case letters or digits"},
	{"WildcardOrganization", `{"target":"fabric","organizationId":"*","username":"asian01","location":"cn-hangzhou"}`, "organizationId", "lower-case letters"},
	{"OrganizationSteering", `{"target":"fabric","organizationId":"peers/../../cloudsso/d-1","username":"asian01","location":"cn-hangzhou"}`, "organizationId", "lower-case letters"},
	{"BackslashUsername", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"x\\..\\y","location":"cn-hangzhou"}`, "username", "letters, digits"},
	{"CyrillicLookalike", `{"target":"cloudsso","directoryId":"d-00fc2p61\u0430b12",` + okUser + `}`, "directoryId", "lower-case letters or digits"},
	{"FullwidthLookalike", `{` + okDir + `,"userId":"u-００q8"}`, "userId", "lower-case letters or digits"},
	{"ZeroWidthSpace", `{` + okDir + `,"userId":"u-00q8wbq42wiltcrkab12\u200b"}`, "userId", "lower-case letters or digits"},
	{"NULInUserID", `{` + okDir + `,"userId":"u-00q8\u0000"}`, "userId", "lower-case letters or digits"},
	{"NewlineInUsername", `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01\nadmin","location":"cn-hangzhou"}`, "username", "letters, digits"},
	{"UpperCaseDirectoryID", `{"target":"cloudsso","directoryId":"D-00FC2P61AB12",` + okUser + `}`, "directoryId", "lower-case letters or digits"},
	{"TooLongUserID", `{` + okDir + `,"userId":"u-` + strings.Repeat("a", 300) + `"}`, "userId", "1 to 62"},
	{"EmptyUserID", `{` + okDir + `,"userId":""}`, "userId", "is required"},
	{"SpaceInLocation", `{` + okOrg + `,"location":"cn hangzhou"}`, "location", "region id"},
	{"MissingLocation", `{` + okOrg + `}`, "location", "is required"},
	{"UnknownTarget", `{"target":"ram","userId":"u-1"}`, "target", "must be one of"},
	{"TargetCase", `{"target":"CloudSSO","directoryId":"d-00fc2p61ab12",` + okUser + `}`, "target", "must be one of"},
	{"FieldOfOtherKind", `{` + okDir + `,` + okUser + `,"username":"asian01"}`, "username", "does not apply"},
	{"StringBool", `{` + okDir + `,` + okUser + `,"requirePasswordResetForNextLogin":"yes"}`, "requirePasswordResetForNextLogin", "true or false"},
	{"StringDryRun", `{` + okDir + `,` + okUser + `,"dryRun":"true"}`, "dryRun", "true or false"},
	{"TargetsObject", `{"targets":{}}`, "targets", "array"},
	{"TargetsEmpty", `{"targets":[]}`, "targets", "at least one"},
	{"TargetsBadEntry", `{"targets":[` + okSSO + `,{` + okDir + `,"userId":"bad"}]}`, "targets[1].userId", "lower-case letters or digits"},
	{"TargetsAndTarget", `{"target":"cloudsso","targets":[` + okSSO + `]}`, "targets", "must not be given with target"},
	{"SameAccountDifferentOptions", `{"targets":[` + okSSO + `,{` + okDir + `,` + okUser + `,"requirePasswordResetForNextLogin":true}]}`, "targets[1].target", "same account"},
	{"TooManyTargets", `{"targets":[` + strings.TrimSuffix(strings.Repeat(okSSO+",", 1001), ",") + `]}`, "targets", "at most 1000"},
	{"NotJSON", `not json`, "{where}", "not valid JSON"},
	{"Truncated", `{"target":"cloudsso",`, "{where}", "not valid JSON"},
	{"TrailingData", okSSO + `{}`, "{where}", "after the request object"},
	{"ArrayRequest", `[` + okSSO + `]`, "{where}", "must be a JSON object"},
	{"NumberRequest", `42`, "{where}", "must be a JSON object"},
	{"DirectoryNotAllowed", `{"target":"cloudsso","directoryId":"d-0notallowed",` + okUser + `}`, "directoryId", "allow-list"},
	{"OrganizationNotAllowed", `{"target":"fabric","organizationId":"other-org","username":"asian01","location":"cn-hangzhou"}`, "organizationId", "allow-list"},
}

// badInputs returns the corpus: every bad body through the HTTP trigger,
// EventBridge and the timer, and the hostile shapes of each trigger itself.
func badInputs() []badInput {
	var out []badInput
	for _, b := range badBodies {
		at := func(where string) string { return strings.ReplaceAll(b.field, "{where}", where) }
		out = append(out,
			badInput{"HTTP/" + b.name, httpEvent(http.MethodPost, b.body, map[string]string{"Idempotency-Key": "bad-" + b.name}), true, at("body"), b.rule},
			badInput{"EventBridge/" + b.name, cloudEventText("bad-"+b.name, b.body), false, at("data"), b.rule},
			badInput{"Timer/" + b.name, timerEvent("bad", "2024-06-11T00:00:00Z", b.body), false, at("payload"), b.rule},
		)
	}
	big := `{` + okDir + `,` + okUser + `,"x":"` + strings.Repeat("a", handler.MaxBodyBytes) + `"}`
	b64 := func(s string) []byte {
		var ev handler.HTTPEvent
		_ = json.Unmarshal(httpEvent(http.MethodPost, base64.StdEncoding.EncodeToString([]byte(s)), nil), &ev)
		ev.IsBase64Encoded = true
		return mustJSON(ev)
	}
	withHeaders := func(h map[string]string) []byte { return httpEvent(http.MethodPost, okSSO, h) }
	out = append(out,
		badInput{"HTTP/MethodGET", httpEvent(http.MethodGet, okSSO, nil), true, "method GET", "use POST"},
		badInput{"HTTP/MethodPUT", httpEvent(http.MethodPut, okSSO, nil), true, "method PUT", "use POST"},
		badInput{"HTTP/MethodDELETE", httpEvent(http.MethodDelete, okSSO, nil), true, "method DELETE", "use POST"},
		badInput{"HTTP/MethodLowercase", httpEvent("post", okSSO, nil), true, "method", "use POST"},
		badInput{"HTTP/MethodEmpty", httpEvent("", okSSO, nil), true, "method", "use POST"},
		badInput{"HTTP/ContentTypeText", withHeaders(map[string]string{"Content-Type": "text/plain"}), true, "Content-Type", "application/json"},
		badInput{"HTTP/ContentTypeLatin1", withHeaders(map[string]string{"Content-Type": "application/json; charset=latin1"}), true, "Content-Type", "utf-8"},
		badInput{"HTTP/ContentTypeForm", withHeaders(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), true, "Content-Type", "application/json"},
		badInput{"HTTP/HugeBody", httpEvent(http.MethodPost, big, nil), true, "body", "at most"},
		badInput{"HTTP/HugeBase64Body", b64(big), true, "body", "at most"},
		badInput{"HTTP/Base64Invalid", func() []byte {
			var ev handler.HTTPEvent
			_ = json.Unmarshal(httpEvent(http.MethodPost, "%%%not-base64%%%", nil), &ev)
			ev.IsBase64Encoded = true
			return mustJSON(ev)
		}(), true, "body", "Base64"},
		badInput{"HTTP/Base64Password", b64(`{` + okDir + `,` + okUser + `,"password":"Chosen#Pass123"}`), true, "password", "generates every password"},
		badInput{"HTTP/Base64PathTraversal", b64(`{` + okDir + `,"userId":"u-/../../x"}`), true, "userId", "lower-case"},
		badInput{"HTTP/EmptyBody", httpEvent(http.MethodPost, "", nil), true, "body", "is empty"},
		badInput{"HTTP/IdempotencyKeySpace", withHeaders(map[string]string{"Idempotency-Key": "a b"}), true, "Idempotency-Key", "printable ASCII"},
		badInput{"HTTP/IdempotencyKeyUnicode", withHeaders(map[string]string{"Idempotency-Key": "kéy"}), true, "Idempotency-Key", "printable ASCII"},
		badInput{"HTTP/IdempotencyKeyControl", withHeaders(map[string]string{"Idempotency-Key": "key\x01"}), true, "Idempotency-Key", "printable ASCII"},
		badInput{"HTTP/IdempotencyKeyTooLong", withHeaders(map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}), true, "Idempotency-Key", "at most 256"},
		badInput{"HTTP/IdempotencyKeyEmpty", withHeaders(map[string]string{"Idempotency-Key": ""}), true, "Idempotency-Key", "is required"},
		badInput{"HTTP/EventWrongTypes", []byte(`{"requestContext":{"http":{"method":1}},"body":true}`), true, "event", "must be"},
		badInput{"EventBridge/EmptyID", cloudEvent("", okSSO), false, "id", "is required"},
		badInput{"EventBridge/ControlCharID", cloudEvent("id\x07", okSSO), false, "id", "printable ASCII"},
		badInput{"EventBridge/NoData", []byte(`{"specversion":"1.0","id":"bad-nodata","source":"s","type":"t"}`), false, "data", "is empty"},
		badInput{"EventBridge/NullData", []byte(`{"specversion":"1.0","id":"bad-nulldata","source":"s","type":"t","data":null}`), false, "data", "is empty"},
		badInput{"EventBridge/WrongTypeID", []byte(`{"specversion":"1.0","id":42,"data":{}}`), false, "event", "must be a string"},
		badInput{"EventBridge/EmptyArray", []byte(`[]`), false, "event", "holds no event"},
		badInput{"EventBridge/ArrayOfNumbers", []byte(`[1,2]`), false, "event", "must be"},
		badInput{"EventBridge/ArrayWithBadEvent", []byte(`[` + string(cloudEventText("bad-in-array", `{"target":"x"}`)) + `]`), false, "target", "must be one of"},
		badInput{"Timer/MissingName", []byte(`{"triggerTime":"2024-06-11T00:00:00Z","payload":"{}"}`), false, "triggerName", "is required"},
		badInput{"Timer/MissingTime", []byte(`{"triggerName":"t","payload":"{}"}`), false, "triggerTime", "is required"},
		badInput{"Timer/EmptyPayload", timerEvent("t", "2024-06-11T00:00:00Z", ""), false, "payload", "is empty"},
		badInput{"Timer/ObjectPayload", []byte(`{"triggerName":"t","triggerTime":"2024-06-11T00:00:00Z","payload":{}}`), false, "event", "must be a string"},
		badInput{"Timer/SpaceInName", timerEvent("a b", "2024-06-11T00:00:00Z", okSSO), false, "triggerName", "printable ASCII"},
		badInput{"Event/EmptyObject", []byte(`{}`), false, "event", "neither"},
		badInput{"Event/Number", []byte(`42`), false, "event", "JSON object or array"},
		badInput{"Event/String", []byte(`"reset everything"`), false, "event", "JSON object or array"},
		badInput{"Event/Null", []byte(`null`), false, "event", "JSON object or array"},
		badInput{"Event/Empty", []byte(``), false, "event", "JSON object or array"},
		badInput{"Event/NotJSON", []byte(`{oops`), false, "event", "not valid JSON"},
		badInput{"Direct/Password", []byte(`{` + okDir + `,` + okUser + `,"password":"Chosen#Pass123"}`), false, "password", "generates every password"},
		badInput{"Direct/PathTraversal", []byte(`{` + okDir + `,"userId":"u-../x"}`), false, "userId", "lower-case"},
	)
	return out
}

// cloudEventText is cloudEvent for any body: valid JSON travels as the data
// object, anything else as a JSON string, as a producer sending text does.
func cloudEventText(id, body string) []byte {
	if json.Valid([]byte(body)) {
		return cloudEvent(id, body)
	}
	return cloudEvent(id, string(mustJSON(body)))
}

// MustAppFunction wires the handler exactly as main does (config.Load,
// app.New), with the endpoints of cloud and allow-lists naming the
// fixture's directory and organization.
func MustAppFunction(tb testing.TB, cloud *testCloud, env map[string]string) *function {
	tb.Helper()
	vars := map[string]string{
		config.EnvKMSEndpoint:            cloud.Endpoints.KMS,
		config.EnvCloudSSOEndpoint:       cloud.Endpoints.CloudSSO,
		config.EnvBaaSEndpoint:           cloud.Endpoints.BaaS,
		config.EnvRegionID:               cloud.Region(),
		config.EnvKMSEncryptionKeyID:     emulator.FixtureKMSKeyID,
		config.EnvAllowedDirectoryIDs:    emulator.FixtureDirectoryID + "," + emulator.FixtureSSOLogonDirectoryID,
		config.EnvAllowedOrganizationIDs: emulator.FixtureOrganizationID,
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(tb, err)
	logs := canary.newWriter(tb.Name() + " logs")
	h, err := app.New(cfg, app.Deps{Logger: app.NewLogger(logs, cfg.LogLevel)})
	require.NoError(tb, err)
	return &function{Handler: h, Cloud: cloud, Prefix: cfg.SecretNamePrefix, logs: logs}
}

// TestBadInputRefused sends the corpus of malformed and hostile requests to
// the handler as main wires it: each is refused with a 4xx (HTTP) or a
// PermanentError (events) whose message names the field and the rule, and
// the cloud sees no call at all.
func TestBadInputRefused(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	f := MustAppFunction(t, cloud, nil)
	corpus := badInputs()
	require.GreaterOrEqual(t, len(corpus), 60)
	for _, bc := range corpus {
		t.Run(bc.name, func(t *testing.T) {
			a := f.Invoke(t, bc.event, invocation{})
			var msg string
			if bc.http {
				require.NotNil(t, a.HTTP, "an HTTP trigger answers with a response")
				require.Nil(t, a.Err)
				assert.GreaterOrEqual(t, a.HTTP.StatusCode, 400)
				assert.Less(t, a.HTTP.StatusCode, 500)
				require.NotNil(t, a.Response.Error)
				msg = a.Response.Error.Message
			} else {
				require.Error(t, a.Err, "answered %+v", a.Response)
				var perm *handler.PermanentError
				require.ErrorAs(t, a.Err, &perm, "a retry of the same event cannot help")
				msg = perm.Message
			}
			assert.Contains(t, msg, bc.field, "the message names the field")
			assert.Contains(t, msg, bc.rule, "the message states the rule")
			assert.NotContains(t, msg, "Chosen#Pass123", "the message quotes a caller's password")
		})
	}
	assert.Empty(t, cloud.Calls(), "cloud calls for bad input")
	canary.Add("bad input corpus", fmt.Sprint(len(corpus)))
}
