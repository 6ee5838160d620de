package reliability_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestCredentials checks where the signing credentials come from.
func TestCredentials(t *testing.T) {
	t.Run("ContextSTSOverEnvironment/SignedByRole", func(t *testing.T) {
		// The environment holds a static key the cloud accepts: a call
		// signed with it would succeed, so only the signer record tells.
		for _, kv := range staticKeyEnv {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		cloud := MustCloud(t, nil)
		f := MustAppFunction(t, cloud, nil)
		a := f.Invoke(t, httpEvent(http.MethodPost, batchFor(alice, asian), nil), invocation{})
		require.True(t, a.OK(), "%+v", a.Response)
		require.NotEmpty(t, cloud.Calls())
		requireSignedByRole(t, cloud)
	})
	t.Run("ExpiredToken/ReportedClearly", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		f := MustAppFunction(t, cloud, nil)
		expired := fccontext.Credentials{
			AccessKeyId: emulator.FixtureExpiredRoleKeyID, AccessKeySecret: "placeholder-expired-role-secret-0001",
			SecurityToken: "CAISplaceholderExpiredRoleSecurityToken0001",
		}
		a := f.Invoke(t, cloudEvent("expired-token", requestFor(alice)), invocation{Creds: expired})
		require.Error(t, a.Err)
		msg := a.Err.Error()
		assert.Contains(t, msg, "InvalidSecurityToken.Expired", "the message says the token expired")
		var retry *handler.RetryableError
		assert.True(t, errors.As(a.Err, &retry), "got %T: a redelivery brings fresh role credentials, so it is retryable", a.Err)
		for _, secret := range []string{expired.AccessKeySecret, expired.SecurityToken} {
			assert.NotContains(t, msg, secret)
			assert.NotContains(t, f.logs.String(), secret)
		}
		for _, call := range cloud.Calls() {
			assert.NotEqual(t, "ResetUserPassword", call.Action, "no reset with a token that cannot promote")
		}
	})
	t.Run("NoContextCredentials/StaticKeyNeverUsed", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		in := MustInstance(t, cloud)
		in.noCreds = true
		a, err := in.Invoke(t, cloudEvent("no-creds", requestFor(alice)))
		require.NoError(t, err)
		require.NotNil(t, a.FunctionError, "an invocation without the role's credentials fails")
		assert.Contains(t, a.FunctionError.Message, "static AccessKey", "the error says why")
		for _, call := range cloud.Calls() {
			assert.NotEqual(t, emulator.FixtureAccessKeyID, call.AccessKeyID, "%s was signed with the environment's static AccessKey", call.Action)
		}
	})
}

// documented are the fields of DESIGN.md's response.
var (
	documentedResponse = map[string]bool{"requestId": true, "results": true, "error": true}
	documentedResult   = map[string]bool{"target": true, "directoryId": true, "userId": true, "organizationId": true,
		"username": true, "location": true, "status": true, "secretName": true, "versionId": true, "resumed": true, "error": true}
	documentedError = map[string]bool{"code": true, "message": true}
)

// TestAuthorization checks the allow-lists, the secret name's confinement
// and that a response says no more than documented.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	const prefix = "team-a/pwreset/"
	f := MustAppFunction(t, cloud, map[string]string{"SECRET_NAME_PREFIX": prefix})

	denied := f.Invoke(t, httpEvent(http.MethodPost, batchFor(alice, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-0other", UserID: "u-1"}), nil), invocation{})
	require.Equal(t, http.StatusForbidden, denied.HTTP.StatusCode)
	assert.Contains(t, denied.Response.Error.Message, "targets[1].directoryId")
	require.Empty(t, cloud.Calls(), "an allow-list refusal comes before any cloud call, for the whole batch")

	ok := f.Invoke(t, httpEvent(http.MethodPost, batchFor(alice, asian), nil), invocation{})
	require.True(t, ok.OK(), "%+v", ok.Response)
	failing := f.Invoke(t, httpEvent(http.MethodPost, requestFor(reset.Target{Kind: reset.KindCloudSSO,
		DirectoryID: emulator.FixtureSSOLogonDirectoryID, UserID: emulator.FixtureSSOLogonUserID}), nil), invocation{})
	require.Equal(t, http.StatusConflict, failing.HTTP.StatusCode, "SSO logon enabled: %+v", failing.Response)

	for _, a := range []answer{denied, ok, failing} {
		var body map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(a.HTTP.Body), &body))
		for k := range body {
			assert.True(t, documentedResponse[k], "undocumented response field %q", k)
		}
		var results []map[string]json.RawMessage
		if raw, ok := body["results"]; ok {
			require.NoError(t, json.Unmarshal(raw, &results))
		}
		for _, r := range results {
			for k := range r {
				assert.True(t, documentedResult[k], "undocumented result field %q", k)
			}
			if raw, ok := r["error"]; ok {
				var e map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(raw, &e))
				for k := range e {
					assert.True(t, documentedError[k], "undocumented error field %q", k)
				}
			}
		}
	}
	for _, call := range cloud.Calls() {
		if name, ok := call.Params["SecretName"]; ok {
			assert.True(t, strings.HasPrefix(name, prefix), "%s named secret %q outside the prefix", call.Action, name)
			assert.NotContains(t, strings.TrimPrefix(name, prefix), "..")
		}
	}
}

// TestDeadlines checks that a reset is never started when the promote after
// it cannot fit before the deadline, and that a batch near its deadline
// stops cleanly, naming the targets it left.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	t.Run("SweepOfDeadlines/InvariantsHold", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		f := MustFunction(t, cloud, fastConfig())
		cloud.SetLatency("PutSecretValue", 30*time.Millisecond)
		cloud.SetLatency("CreateSecret", 30*time.Millisecond)
		unpromoted := 0
		for ms := 100; ms <= 400; ms += 20 {
			event := cloudEvent(fmt.Sprintf("deadline-%d", ms), requestFor(alice))
			resetsBefore := cloud.CallsTo("ResetUserPassword")
			a := f.Invoke(t, event, invocation{Timeout: time.Duration(ms) * time.Millisecond})
			cloud.Quiesce()
			// Whatever the deadline: the password in effect is held by
			// ACSCurrent or ACSPending (I1), and a success means ACSCurrent
			// holds it (I2). The step reserve makes a reset without its
			// promote rare, but it is an estimate of call times on a shared
			// machine, not a guarantee, so that is not asserted: a reset
			// left unpromoted must answer a retryable failure, which the
			// next delivery rolls forward.
			require.NoError(t, cloud.CheckI1(f.Prefix, alice), "a %dms invocation (%v)", ms, a.Err)
			if a.OK() {
				require.NoError(t, cloud.CheckCurrent(f.Prefix, alice), "a %dms invocation answered success", ms)
			} else if cloud.CallsTo("ResetUserPassword") > resetsBefore && cloud.CheckCurrent(f.Prefix, alice) != nil {
				unpromoted++
			}
			if !a.OK() {
				var retry *handler.RetryableError
				require.True(t, errors.As(a.Err, &retry), "a deadline failure is retryable: %v", a.Err)
			}
		}
		t.Logf("resets left unpromoted by the deadline: %d of 16 invocations", unpromoted)
		// The next delivery, with time enough, finishes whatever was left.
		retryUntilOK(t, f, cloudEvent("deadline-after", requestFor(alice)))
		require.NoError(t, cloud.CheckCurrent(f.Prefix, alice))
	})
	t.Run("BatchNearDeadline/SkipsAndNamesTheRest", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		cfg := fastConfig()
		cfg.MaxInFlight = 1
		f := MustFunction(t, cloud, cfg)
		cloud.SetLatency("ResetUserPassword", 100*time.Millisecond)
		batch := []reset.Target{alice, bob, carol, asian, asian2}
		event := cloudEvent("deadline-batch", batchFor(batch...))
		a := f.Invoke(t, event, invocation{Timeout: 400 * time.Millisecond})
		require.Error(t, a.Err)
		var retry *handler.RetryableError
		require.ErrorAs(t, a.Err, &retry, "a redelivery finishes the rest")
		cloud.Quiesce()
		skipped := 0
		for _, tg := range batch {
			if cloud.CurrentVersion(f.Prefix, tg) == "" || len(cloud.Applied(tg.Key())) == 0 {
				skipped++
				assert.Contains(t, retry.Message, tg.Key(), "the error names a target it left")
			}
		}
		require.Positive(t, skipped, "the deadline left some targets")
		assert.Contains(t, retry.Message, "deadline")
		cloud.SetLatency("ResetUserPassword", 0)
		retryUntilOK(t, f, event)
		RequireConverged(t, f, 1, batch...)
	})
}
