package reliability_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

const outcomeBus = "pwreset-outcomes"

// MustBusInstance starts the cloud's EventBridge data API with the outcome
// bus, and the built function publishing to it.
func MustBusInstance(tb testing.TB, cloud *testCloud, env ...string) *instance {
	tb.Helper()
	u, err := cloud.StartEventBus()
	require.NoError(tb, err)
	tb.Cleanup(cloud.Close)
	cloud.AddEventBus(outcomeBus)
	return MustInstance(tb, cloud, append([]string{"EVENT_BUS_NAME=" + outcomeBus, "EVENTBRIDGE_ENDPOINT=" + u}, env...)...)
}

// publishedData returns the data of every event the bus accepted (the leak
// canary searches them all: main_test.go's scan).
func publishedData(tb testing.TB, cloud *testCloud) ([]emulator.PublishedEvent, []reset.OutcomeData) {
	tb.Helper()
	events := cloud.PublishedEvents()
	data := make([]reset.OutcomeData, len(events))
	for i, e := range events {
		require.NoError(tb, json.Unmarshal(e.Data, &data[i]))
	}
	return events, data
}

// TestBinaryPublishesOutcomes runs the built function with EVENT_BUS_NAME
// against the local cloud: a batch publishes one event per target, in one
// PutEvents call, after which the answer comes back; a replay publishes
// the same ids; a dry run publishes nothing; and no event holds a password.
func TestBinaryPublishesOutcomes(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	in := MustBusInstance(t, cloud)
	gone := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: "u-00nosuchuser0001"}
	event := httpEvent("POST", batchFor(alice, asian, gone), map[string]string{"Idempotency-Key": "outcomes-1"})

	a, err := in.Invoke(t, event)
	require.NoError(t, err)
	results := a.Results()
	require.Len(t, results, 3)
	events, data := publishedData(t, cloud)
	require.Len(t, events, 3)
	assert.Equal(t, 1, cloud.CallsTo("PutEvents"), "one PutEvents call for the batch")
	wantTypes := []string{reset.EventRotationSucceeded, reset.EventRotationSucceeded, reset.EventRotationFailed}
	for i, e := range events {
		assert.Equal(t, wantTypes[i], e.Type)
		assert.Equal(t, "pwreset", e.Source)
		assert.Equal(t, outcomeBus, e.Bus)
		assert.Equal(t, results[i].SecretName, e.Subject)
		assert.Equal(t, results[i].VersionID, data[i].VersionID)
		assert.Equal(t, results[i].Status, string(data[i].Status))
		assert.Equal(t, "http", data[i].Trigger)
		assert.Equal(t, a.Responses[0].RequestID, data[i].RequestID)
	}
	require.NotNil(t, data[2].Error)
	assert.Equal(t, reset.ENotFound, data[2].Error.Code)

	// The same request again (FC's retry of it): the same ids.
	_, err = in.Invoke(t, event)
	require.NoError(t, err)
	again, _ := publishedData(t, cloud)
	require.Len(t, again, 6)
	for i := range 3 {
		assert.Equal(t, events[i].ID, again[3+i].ID, "a redelivered outcome carries the same id")
	}

	dry, err := in.Invoke(t, httpEvent("POST", `{"dryRun":true,`+requestFor(alice)[1:], nil))
	require.NoError(t, err)
	require.True(t, dry.OK(), "%+v", dry.HTTP)
	after, _ := publishedData(t, cloud)
	assert.Len(t, after, 6, "a dry run publishes nothing")
	requireSignedByRole(t, cloud)
	canary.Check(t)
}

// TestBinaryPublishFailureChangesNothing: the bus refuses every call; the
// rotations succeed all the same, once each, and the failure is logged.
func TestBinaryPublishFailureChangesNothing(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	in := MustBusInstance(t, cloud, "MAX_ATTEMPTS=3")
	cloud.FailNext("PutEvents", 100, 503, "ServiceUnavailable")
	a, err := in.Invoke(t, httpEvent("POST", batchFor(bob, asian2), nil))
	require.NoError(t, err)
	require.True(t, a.OK(), "%+v", a.HTTP)
	assert.Equal(t, 3, cloud.CallsTo("PutEvents"), "MAX_ATTEMPTS tries")
	assert.Empty(t, cloud.PublishedEvents())
	cloud.Quiesce()
	for _, tg := range []reset.Target{bob, asian2} {
		require.NoError(t, cloud.CheckCurrent(reset.DefaultSecretPrefix, tg))
		assert.Len(t, cloud.Applied(tg.Key()), 1, "publishing never repeats a rotation")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	assert.True(t, in.out.WaitFor(ctx, `"msg":"outcome events not published"`), "the lost events are logged")
	canary.Check(t)
}

// TestBinaryRaisedMinimumDoesNotBlock is the sequence that used to block
// an account: the directory raises MinPasswordLength to 30; a rotation
// runs (before, it staged a 24-character password the directory refused,
// left it pending, and the next rotation under another key found the
// account blocked); the next rotation under another key then succeeds,
// with nothing to roll forward. The built function, the real SDK clients
// and the local cloud's enforcement of the policy.
func TestBinaryRaisedMinimumDoesNotBlock(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	in := MustInstance(t, cloud, "PASSWORD_LENGTH=24")
	first, err := in.Invoke(t, cloudEvent("policy-1", requestFor(carol)))
	require.NoError(t, err)
	require.True(t, first.OK(), "%+v", first.FunctionError)

	require.True(t, cloud.SetPasswordPolicy(emulator.FixtureDirectoryID, emulator.PasswordPolicy{
		MinPasswordLength: 30, MinPasswordDifferentChars: 20, PasswordNotContainUsername: true, PasswordReusePrevention: 5,
	}))
	// A new instance (its own runtime API): the policy cached by the first
	// one is gone, as after its PolicyTTL.
	in.Kill()
	in = MustInstance(t, cloud, "PASSWORD_LENGTH=24")
	for i, key := range []string{"policy-2", "policy-3"} {
		a, err := in.Invoke(t, cloudEvent(key, requestFor(carol)))
		require.NoError(t, err)
		require.True(t, a.OK(), "rotation %d: %+v", i+2, a.FunctionError)
		res := a.Results()
		require.Len(t, res, 1)
		assert.Equal(t, "rotated", res[0].Status)
		assert.Empty(t, res[0].RolledForward, "nothing left pending to roll forward")
	}
	cloud.Quiesce()
	require.NoError(t, cloud.CheckCurrent(reset.DefaultSecretPrefix, carol))
	assert.Len(t, cloud.Applied(carol.Key()), 3, "three passwords, each accepted once")
	assert.Zero(t, cloud.refusedResets(), "the directory refused no password")
	canary.Check(t)
}

// refusedResets counts the ResetUserPassword calls the cloud refused.
func (c *testCloud) refusedResets() int {
	n := 0
	for _, call := range c.Calls() {
		if call.Action == "ResetUserPassword" && call.Code != "" {
			n++
		}
	}
	return n
}

// TestBinaryUnmeetablePolicy: a directory whose maximum length is too short
// for a 100-bit password fails the rotation with Conflict naming the rule,
// before any change: no version written, no reset sent.
func TestBinaryUnmeetablePolicy(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	require.True(t, cloud.SetPasswordPolicy(emulator.FixtureDirectoryID, emulator.PasswordPolicy{MinPasswordLength: 12, MaxPasswordLength: 14}))
	in := MustInstance(t, cloud)
	a, err := in.Invoke(t, httpEvent("POST", requestFor(alice), nil))
	require.NoError(t, err)
	require.NotNil(t, a.HTTP)
	assert.Equal(t, 409, a.HTTP.StatusCode)
	res := a.Results()
	require.Len(t, res, 1)
	require.NotNil(t, res[0].Error)
	assert.Contains(t, res[0].Error.Message, "(MaxPasswordLength)")
	for _, call := range cloud.Calls() {
		assert.NotContains(t, []string{"PutSecretValue", "CreateSecret", "ResetUserPassword"}, call.Action, "a change before the policy was met")
	}
	canary.Check(t)
}
