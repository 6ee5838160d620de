package ebsetup_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/deploy"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/tools/ebsetup"
)

const (
	testAccount = "1234567890123456"
	testKeyID   = "LTAI5tDeployerKey000001"
	testSecret  = "deployer-secret-not-real"
)

func validSetup() ebsetup.Setup {
	return ebsetup.Setup{
		Region: "cn-hangzhou", AccountID: testAccount, FunctionName: "pwreset",
		Bus: "pwreset", Rule: "pwreset-requests", Source: "pwreset.request", Type: "pwreset:Reset:Requested",
	}
}

// MustCloud serves a local cloud's EventBridge management API and returns
// the cloud and a client signed with the deployer's AccessKey.
func MustCloud(tb testing.TB) (*emulator.Cloud, *ebsetup.Client) {
	tb.Helper()
	cloud := emulator.New(emulator.Fixture{
		AccountID:  testAccount,
		Region:     "cn-hangzhou",
		AccessKeys: []emulator.AccessKey{{ID: testKeyID, Secret: testSecret}},
	})
	srv := httptest.NewServer(cloud.Handler(emulator.EventBridge))
	tb.Cleanup(srv.Close)
	cred, err := credentials.NewCredential(&credentials.Config{
		Type:            tea.String("access_key"),
		AccessKeyId:     tea.String(testKeyID),
		AccessKeySecret: tea.String(testSecret),
	})
	require.NoError(tb, err)
	c, err := ebsetup.NewClient(ebsetup.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credential: cred})
	require.NoError(tb, err)
	return cloud, c
}

func actionsOf(calls []emulator.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Action)
	}
	return out
}

func TestApplyCreatesThenConverges(t *testing.T) {
	cloud, c := MustCloud(t)
	ctx := context.Background()
	s := validSetup()

	steps, err := c.Apply(ctx, s)
	require.NoError(t, err)
	require.NotEmpty(t, steps)
	assert.Equal(t, []string{"CreateServiceLinkedRoleForProduct", "GetEventBus", "CreateEventBus", "GetRule", "CreateRule"}, actionsOf(cloud.Calls()))
	for _, call := range cloud.Calls() {
		if call.Action == "GetEventBus" || call.Action == "GetRule" {
			assert.Contains(t, call.Code, "NotExist", "%s finds nothing yet", call.Action)
		} else {
			assert.Equal(t, 200, call.Status, "%s: %s", call.Action, call.Code)
		}
		assert.Equal(t, "ACS3-HMAC-SHA256", call.SignatureAlgorithm, "signed the way Alibaba Cloud verifies")
		assert.Equal(t, testKeyID, call.AccessKeyID, "the deployer's key signs")
		assert.Equal(t, ebsetup.Version, call.Version)
	}
	assert.Equal(t, []string{"pwreset"}, cloud.EventBuses())
	assert.True(t, cloud.EventBridgeServiceLinkedRole(ebsetup.SendToFCRole), "EventBridge needs its role to invoke the function")
	rule, ok := cloud.EventBridgeRule("pwreset", "pwreset-requests")
	require.True(t, ok)
	assert.JSONEq(t, `{"source":["pwreset.request"],"type":["pwreset:Reset:Requested"]}`, rule.FilterPattern)
	assert.Equal(t, "ENABLE", rule.Status)
	require.Len(t, rule.Targets, 1)
	tg := rule.Targets[0]
	assert.Equal(t, ebsetup.TargetID, tg.ID)
	assert.Equal(t, "acs.fc.function", tg.Type)
	assert.Equal(t, "acs:fc:cn-hangzhou:"+testAccount+":functions/pwreset", tg.Endpoint)
	params := map[string]emulator.EventParam{}
	for _, p := range tg.ParamList {
		params[p.ResourceKey] = p
	}
	assert.Equal(t, "Async", params["InvocationType"].Value, "asynchronous: FC's retries and the failure destination apply")
	assert.Equal(t, "ORIGINAL", params["Body"].Form, "the whole CloudEvent: pwreset keys on its source and id")
	assert.Equal(t, "pwreset", params["functionName"].Value)

	// A second run finds everything and sets the pattern and the target
	// again: no second bus, rule or target.
	cloud.ResetCalls()
	_, err = c.Apply(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, []string{"CreateServiceLinkedRoleForProduct", "GetEventBus", "GetRule", "UpdateRule", "PutTargets"}, actionsOf(cloud.Calls()))
	rule, _ = cloud.EventBridgeRule("pwreset", "pwreset-requests")
	assert.Len(t, rule.Targets, 1)
	assert.Equal(t, []string{"pwreset"}, cloud.EventBuses())
}

func TestApplyUpdatesAChangedRule(t *testing.T) {
	cloud, c := MustCloud(t)
	ctx := context.Background()
	old := validSetup()
	old.Type = "pwreset:Reset:Old"
	old.FunctionName = "pwreset-old"
	_, err := c.Apply(ctx, old)
	require.NoError(t, err)

	_, err = c.Apply(ctx, validSetup())
	require.NoError(t, err)
	rule, ok := cloud.EventBridgeRule("pwreset", "pwreset-requests")
	require.True(t, ok)
	assert.JSONEq(t, validSetup().Pattern(), rule.FilterPattern)
	require.Len(t, rule.Targets, 1, "the target is replaced by id, not added")
	assert.Equal(t, validSetup().FunctionARN(), rule.Targets[0].Endpoint)
}

func TestRemove(t *testing.T) {
	cloud, c := MustCloud(t)
	ctx := context.Background()
	_, err := c.Apply(ctx, validSetup())
	require.NoError(t, err)

	steps, err := c.Remove(ctx, validSetup())
	require.NoError(t, err)
	assert.Equal(t, "deleted", steps[0].Result)
	assert.Equal(t, "deleted", steps[1].Result)
	assert.Empty(t, cloud.EventBuses())

	// Removing again is fine: both are absent.
	steps, err = c.Remove(ctx, validSetup())
	require.NoError(t, err)
	assert.Equal(t, "absent", steps[0].Result)
	assert.Equal(t, "absent", steps[1].Result)
}

func TestApplyFailures(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*emulator.Cloud)
		wantCode string
	}{
		{"ErrThrottled", func(c *emulator.Cloud) { c.FailNext("CreateEventBus", 1, 429, "Throttling.User") }, "Throttling.User"},
		{"ErrRuleRefused", func(c *emulator.Cloud) { c.FailNext("CreateRule", 1, 403, "Forbidden.RAM") }, "Forbidden.RAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud, c := MustCloud(t)
			tt.setup(cloud)
			_, err := c.Apply(context.Background(), validSetup())
			var a *ebsetup.APIError
			require.ErrorAs(t, err, &a)
			assert.Equal(t, tt.wantCode, a.Code)
		})
	}
}

func TestApplyRefusesBadSetupWithoutCalls(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ebsetup.Setup)
		field  string
	}{
		{"ErrDefaultBus", func(s *ebsetup.Setup) { s.Bus = "default" }, "event bus"},
		{"ErrBusName", func(s *ebsetup.Setup) { s.Bus = "pw reset" }, "event bus"},
		{"ErrNoAccount", func(s *ebsetup.Setup) { s.AccountID = "" }, "account id"},
		{"ErrRegion", func(s *ebsetup.Setup) { s.Region = "Hangzhou" }, "region"},
		{"ErrFunction", func(s *ebsetup.Setup) { s.FunctionName = "9lives" }, "function name"},
		{"ErrSourceQuote", func(s *ebsetup.Setup) { s.Source = `a"b` }, "event source"},
		{"ErrEmptyType", func(s *ebsetup.Setup) { s.Type = "" }, "event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud, c := MustCloud(t)
			s := validSetup()
			tt.mutate(&s)
			_, err := c.Apply(context.Background(), s)
			require.ErrorIs(t, err, ebsetup.ErrInvalid)
			assert.Contains(t, err.Error(), tt.field)
			assert.Empty(t, cloud.Calls(), "bad input makes no call")
		})
	}
}

func TestNewClientEndpoint(t *testing.T) {
	cred, err := credentials.NewCredential(&credentials.Config{Type: tea.String("access_key"), AccessKeyId: tea.String("a"), AccessKeySecret: tea.String("b")})
	require.NoError(t, err)
	tests := []struct {
		name, endpoint string
		wantErr        bool
	}{
		{"OKDefault", "", false},
		{"OKHost", "eventbridge-console.cn-shanghai.aliyuncs.com", false},
		{"OKHTTPS", "https://eventbridge-console.cn-shanghai.aliyuncs.com", false},
		{"OKLoopback", "http://127.0.0.1:8080", false},
		{"ErrPlainHTTP", "http://eventbridge-console.cn-shanghai.aliyuncs.com", true},
		{"ErrScheme", "ftp://example.com", true},
		{"ErrPath", "https://example.com/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ebsetup.NewClient(ebsetup.Config{Region: "cn-shanghai", Endpoint: tt.endpoint, Credential: cred})
			if tt.wantErr {
				assert.True(t, errors.Is(err, ebsetup.ErrInvalid), "got %v", err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	assert.Equal(t, "eventbridge-console.cn-shanghai.aliyuncs.com", ebsetup.DefaultEndpoint("cn-shanghai"))
}

// TestFromShippedSpec reads the repository's s.yaml: the setup names the
// function s.yaml deploys, in its region, and the bus, source and type the
// sample events in events/ carry.
func TestFromShippedSpec(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	for _, region := range []string{"cn-hangzhou", "cn-shanghai"} {
		t.Run(region, func(t *testing.T) {
			spec, err := deploy.Load(filepath.Join(root, "s.yaml"), deploy.Env{
				AccountID: testAccount,
				Getenv: func(k string) (string, bool) {
					v, ok := map[string]string{"PWRESET_REGION": region, "PWRESET_KMS_KEY_ID": "key-hzz6example0000000001"}[k]
					return v, ok
				},
			})
			require.NoError(t, err)
			s, err := ebsetup.FromSpec(spec, testAccount)
			require.NoError(t, err)
			assert.Equal(t, region, s.Region)
			assert.Equal(t, "acs:fc:"+region+":"+testAccount+":functions/pwreset", s.FunctionARN())
			assert.Equal(t, "pwreset", s.Bus)

			files, err := filepath.Glob(filepath.Join(root, "events", "eventbridge-*.json"))
			require.NoError(t, err)
			require.NotEmpty(t, files)
			for _, f := range files {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				var evs []map[string]any
				if json.Unmarshal(b, &evs) != nil {
					var one map[string]any
					require.NoError(t, json.Unmarshal(b, &one), f)
					evs = []map[string]any{one}
				}
				for _, ev := range evs {
					assert.Equal(t, s.Source, ev["source"], "%s: source", f)
					assert.Equal(t, s.Type, ev["type"], "%s: type", f)
					assert.Equal(t, s.Bus, ev["aliyuneventbusname"], "%s: bus", f)
				}
			}
		})
	}
}

func TestFromSpecNeedsAccount(t *testing.T) {
	spec, err := deploy.Load(filepath.Join("..", "..", "..", "s.yaml"), deploy.Env{
		AccountID: testAccount,
		Getenv: func(k string) (string, bool) {
			return map[string]string{"PWRESET_KMS_KEY_ID": "key-hzz6example0000000001"}[k], k == "PWRESET_KMS_KEY_ID"
		},
	})
	require.NoError(t, err)
	_, err = ebsetup.FromSpec(spec, "")
	require.ErrorIs(t, err, ebsetup.ErrInvalid)
	assert.Contains(t, err.Error(), "account id")
}
