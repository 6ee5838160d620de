package emulator_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestEventBridgeManagement drives the management actions with darabonba's
// CallApi, signed both ways, and checks the answers the table in
// eventbridge.go documents.
func TestEventBridgeManagement(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(algName(alg), func(t *testing.T) {
			cloud := emulator.New(emulator.DefaultFixture())
			srv := httptest.NewServer(cloud.Handler(emulator.EventBridge))
			defer srv.Close()
			eb := MustBaaS(t, srv.URL, roleCred(t), alg)
			call := func(action string, params map[string]any) (map[string]any, error) {
				return eb.call(action, emulator.EventBridgeVersion, params)
			}
			target := `[{"Id":"t1","Type":"acs.fc.function","Endpoint":"acs:fc:cn-hangzhou:1:functions/f","ParamList":[{"ResourceKey":"Body","Form":"ORIGINAL"}]}]`
			steps := []struct {
				name     string
				action   string
				params   map[string]any
				wantCode string // "" for success
			}{
				{"ErrNoBus", "GetEventBus", map[string]any{"EventBusName": "pwreset"}, "EventBusNotExist"},
				{"ErrDefaultBus", "CreateEventBus", map[string]any{"EventBusName": "default"}, "EventBusNameInvalid"},
				{"ErrBadBusName", "CreateEventBus", map[string]any{"EventBusName": "a b"}, "EventBusNameInvalid"},
				{"OKCreateBus", "CreateEventBus", map[string]any{"EventBusName": "pwreset"}, ""},
				{"ErrBusTwice", "CreateEventBus", map[string]any{"EventBusName": "pwreset"}, "EventBusAlreadyExist"},
				{"ErrNoRule", "GetRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r"}, "EventRuleNotExist"},
				{"ErrPatternNotJSON", "CreateRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "FilterPattern": "{"}, "InvalidParameter"},
				{"ErrTargetForm", "CreateRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "FilterPattern": `{"source":["a"]}`,
					"EventTargets": `[{"Id":"t1","Type":"acs.fc.function","Endpoint":"e","ParamList":[{"ResourceKey":"Body","Form":"RAW"}]}]`}, "InvalidParameter"},
				{"OKCreateRule", "CreateRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "FilterPattern": `{"source":["a"]}`, "EventTargets": target}, ""},
				{"ErrRuleTwice", "CreateRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "FilterPattern": `{"source":["a"]}`}, "EventRuleAlreadyExist"},
				{"OKUpdateRule", "UpdateRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "FilterPattern": `{"source":["b"]}`}, ""},
				{"OKPutTargets", "PutTargets", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "Targets": target}, ""},
				{"ErrPutNoTargets", "PutTargets", map[string]any{"EventBusName": "pwreset", "RuleName": "r", "Targets": `[]`}, "InvalidParameter"},
				{"ErrBusHasRules", "DeleteEventBus", map[string]any{"EventBusName": "pwreset"}, "EventBusRuleNotEmptyForDelete"},
				{"OKDeleteRule", "DeleteRule", map[string]any{"EventBusName": "pwreset", "RuleName": "r"}, ""},
				{"OKDeleteBus", "DeleteEventBus", map[string]any{"EventBusName": "pwreset"}, ""},
				{"OKRole", "CreateServiceLinkedRoleForProduct", map[string]any{"ProductName": "AliyunServiceRoleForEventBridgeSendToFC"}, ""},
				{"OKRoleAgain", "CreateServiceLinkedRoleForProduct", map[string]any{"ProductName": "AliyunServiceRoleForEventBridgeSendToFC"}, ""},
				{"ErrRoleName", "CreateServiceLinkedRoleForProduct", map[string]any{"ProductName": "AliyunServiceRoleForAnything"}, "InvalidParameter"},
			}
			for _, st := range steps {
				res, err := call(st.action, st.params)
				if st.wantCode == "" {
					require.NoError(t, err, st.name)
					body, _ := res["body"].(map[string]any)
					assert.Equal(t, "Success", body["Code"], st.name)
					assert.Equal(t, true, body["Success"], st.name)
					continue
				}
				code, status := errCode(t, err)
				assert.Equal(t, st.wantCode, code, st.name)
				if st.wantCode == "InvalidParameter" {
					assert.Equal(t, 400, status, st.name)
				} else {
					assert.Equal(t, 409, status, st.name)
				}
			}
			assert.Empty(t, cloud.EventBuses())
			assert.True(t, cloud.EventBridgeServiceLinkedRole("AliyunServiceRoleForEventBridgeSendToFC"))
		})
	}
}

func TestEventBridgeRefusesOtherProductsAndBadSignatures(t *testing.T) {
	cloud := emulator.New(emulator.DefaultFixture())
	srv := httptest.NewServer(cloud.Handler(emulator.EventBridge))
	defer srv.Close()

	// A KMS action is unknown on EventBridge's endpoint.
	_, err := MustBaaS(t, srv.URL, roleCred(t), "").call("CreateSecret", emulator.KMSVersion, map[string]any{"SecretName": "x"})
	code, status := errCode(t, err)
	assert.Equal(t, "InvalidAction.NotFound", code)
	assert.Equal(t, 404, status)

	// A wrong secret does not sign.
	_, err = MustBaaS(t, srv.URL, MustAK(t, emulator.FixtureAccessKeyID, "not-the-secret"), "").call("GetEventBus", emulator.EventBridgeVersion, map[string]any{"EventBusName": "pwreset"})
	code, _ = errCode(t, err)
	assert.Equal(t, "SignatureDoesNotMatch", code)
}
