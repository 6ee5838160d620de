package reliability_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// retryUntilOK re-sends event until it succeeds, at most maxTries times.
func retryUntilOK(tb testing.TB, f *function, event []byte) answer {
	tb.Helper()
	var a answer
	for i := 0; i < maxTries; i++ {
		f.Cloud.Quiesce()
		if a = f.Invoke(tb, event, invocation{}); a.OK() {
			return a
		}
	}
	tb.Fatalf("not converged after %d tries: %v %+v", maxTries, a.Err, a.Response)
	return a
}

// TestDuplicateDeliveries delivers the same request more than once, the
// ways the platforms and callers do, and checks that each target got one new
// password, kept in ACSCurrent, and every answer names the same version.
func TestDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	t.Run("EventBridgeTwiceInSequence/OneRotation", func(t *testing.T) {
		t.Parallel()
		f := MustFunction(t, MustCloud(t, nil), fastConfig())
		event := cloudEvent("dup-seq", requestFor(alice))
		first := f.Invoke(t, event, invocation{})
		second := f.Invoke(t, event, invocation{})
		require.True(t, first.OK() && second.OK(), "%v %v", first.Err, second.Err)
		assert.Equal(t, first.Results()[0].VersionID, second.Results()[0].VersionID)
		assert.True(t, second.Results()[0].Resumed, "the redelivery replays")
		assert.Equal(t, 1, f.Cloud.CallsTo("ResetUserPassword"), "a replay resets nothing")
		RequireConverged(t, f, 1, alice)
	})
	t.Run("HTTPRetriedWithSameKey/OneRotation", func(t *testing.T) {
		t.Parallel()
		f := MustFunction(t, MustCloud(t, nil), fastConfig())
		h := map[string]string{handler.IdempotencyKeyHeader: "helpdesk-ticket-4711"}
		f.Cloud.DropAfterApply("UpdateSecretVersionStage", 3) // the first call ends in a 503 after the reset
		first := f.Invoke(t, httpEvent(http.MethodPost, requestFor(asian), h), invocation{})
		require.False(t, first.OK())
		require.Equal(t, http.StatusServiceUnavailable, first.HTTP.StatusCode, "a caller is told to retry")
		second := f.Invoke(t, httpEvent(http.MethodPost, requestFor(asian), h), invocation{})
		require.True(t, second.OK(), "%+v", second.Response)
		assert.Equal(t, first.Results()[0].VersionID, second.Results()[0].VersionID)
		RequireConverged(t, f, 1, asian)
	})
	t.Run("SameTargetTwiceInBatch/OneRotation", func(t *testing.T) {
		t.Parallel()
		f := MustFunction(t, MustCloud(t, nil), fastConfig())
		a := f.Invoke(t, cloudEvent("dup-batch", batchFor(alice, asian, alice)), invocation{})
		require.True(t, a.OK(), "%v", a.Err)
		res := a.Results()
		require.Len(t, res, 3, "one result per target of the request")
		assert.Equal(t, res[0], res[2], "the duplicate gets the same result")
		RequireConverged(t, f, 1, alice, asian)
	})
	t.Run("BatchRedeliveredAfterHalfFinished/OneRotationEach", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		cfg := fastConfig()
		cfg.MaxInFlight = 1 // in order, so the failure lands on a known target
		f := MustFunction(t, cloud, cfg)
		cloud.FailNext("ResetFabricOrganizationUserPassword", 1, http.StatusInternalServerError, "InternalError")
		event := cloudEvent("dup-half", batchFor(alice, bob, asian, carol, asian2))
		first := f.Invoke(t, event, invocation{})
		require.False(t, first.OK())
		var retry *handler.RetryableError
		require.ErrorAs(t, first.Err, &retry, "a half-finished batch asks for redelivery")
		cloud.Quiesce()
		rotated := map[string]int{}
		for _, tg := range []reset.Target{alice, bob, carol, asian2} {
			rotated[tg.Key()] = len(cloud.Applied(tg.Key()))
		}
		second := retryUntilOK(t, f, event)
		for i, r := range second.Results() {
			if i != 2 {
				assert.True(t, r.Resumed, "%s was finished by the first delivery and replays", r.UserID+r.Username)
			}
		}
		for key, n := range rotated {
			assert.Equal(t, 1, n, "%s rotated once by the first delivery", key)
		}
		RequireConverged(t, f, 1, alice, bob, asian, carol, asian2)
	})
	t.Run("EventBridgeConcurrently/OneRotation", func(t *testing.T) {
		t.Parallel()
		cloud := MustCloud(t, nil)
		f := MustFunction(t, cloud, fastConfig())
		// Slow resets make the deliveries overlap.
		cloud.SetLatency("ResetUserPassword", 20*time.Millisecond)
		cloud.SetLatency("ResetFabricOrganizationUserPassword", 20*time.Millisecond)
		event := cloudEvent("dup-concurrent", batchFor(alice, asian))
		answers := invokeConcurrently(t, f, 4, func(int) []byte { return event })
		for _, a := range answers {
			if a.OK() {
				assert.Equal(t, answers[0].Results()[0].VersionID, a.Results()[0].VersionID)
			}
		}
		cloud.SetLatency("ResetUserPassword", 0)
		cloud.SetLatency("ResetFabricOrganizationUserPassword", 0)
		retryUntilOK(t, f, event)
		RequireConverged(t, f, 1, alice, asian)
	})
	t.Run("DifferentKeysInterleaved/CurrentHoldsPasswordInEffect", func(t *testing.T) {
		// Not what the deployment does (one instance, one request at a
		// time), but what an instance concurrency above 1, or two callers
		// with different keys reaching one instance, would do. The first
		// reset's answer is held back until the other rotation has
		// promoted (or a short wait shows it cannot): without a per-target
		// lock the first rotation then promotes its password over the one
		// in effect.
		t.Parallel()
		cloud := MustCloud(t, nil)
		f := MustFunction(t, cloud, fastConfig())
		promoted := make(chan struct{}, 8)
		var first atomic.Bool
		cloud.Hook(func(call emulator.Call) {
			switch call.Action {
			case "UpdateSecretVersionStage":
				promoted <- struct{}{}
			case "ResetUserPassword":
				if first.CompareAndSwap(false, true) {
					select {
					case <-promoted:
					case <-time.After(300 * time.Millisecond):
					}
				}
			}
		})
		answers := invokeConcurrently(t, f, 2, func(i int) []byte {
			return cloudEvent(fmt.Sprintf("dup-keys-%d", i), requestFor(alice))
		})
		cloud.Quiesce()
		for _, a := range answers {
			require.True(t, a.OK(), "%v", a.Err)
		}
		require.NoError(t, cloud.CheckCurrent(f.Prefix, alice))
	})
}

// invokeConcurrently runs n invocations at once, the ith of event(i).
func invokeConcurrently(tb testing.TB, f *function, n int, event func(int) []byte) []answer {
	tb.Helper()
	answers := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			<-start
			answers[i] = f.Invoke(tb, event(i), invocation{})
		})
	}
	close(start)
	wg.Wait()
	return answers
}
