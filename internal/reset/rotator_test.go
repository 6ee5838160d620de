package reset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	sso = reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab12"}
	fab = reset.Target{Kind: reset.KindFabric, OrganizationID: "peers-aaaaaa2-1eqnj5o5wab12", Username: "asian01", Location: "cn-hangzhou"}
)

func req(key string, ts ...reset.Target) reset.Request {
	return reset.Request{IdempotencyKey: key, Targets: ts}
}

// MustRotate runs a request that must pass Check.
func MustRotate(tb testing.TB, ctx context.Context, e *env, r reset.Request) []reset.Result {
	tb.Helper()
	res, err := e.Rotator.Rotate(ctx, r)
	require.NoError(tb, err)
	require.Len(tb, res, len(r.Targets))
	return res
}

// MustPassword returns the password a secret version holds for t.
func MustPassword(tb testing.TB, v reset.SecretVersion, t reset.Target) string {
	tb.Helper()
	pw, err := reset.ParseSecretData(v.Data, t)
	require.NoError(tb, err)
	return pw
}

// requireRotated checks that res is a finished rotation of t: its version is
// ACSCurrent and holds the password the target has now.
func requireRotated(tb testing.TB, e *env, t reset.Target, res reset.Result) {
	tb.Helper()
	require.Equal(tb, reset.StatusRotated, res.Status, "err: %v", res.Err)
	require.NoError(tb, res.Err)
	cur, ok := e.Store.Staged(t.SecretName("pwreset/"), reset.StageCurrent)
	require.True(tb, ok, "no ACSCurrent version")
	require.Equal(tb, res.VersionID, cur.VersionID)
	have, ok := e.Resetter(t).Current(t)
	require.True(tb, ok, "the target was never reset")
	require.True(tb, have == MustPassword(tb, cur, t), "ACSCurrent does not hold the target's password")
}

// requireSafe checks the protocol's invariant after any outcome: either the
// target holds the password ACSCurrent holds (or was never changed), or it
// holds the password kept in version v.
func requireSafe(tb testing.TB, e *env, t reset.Target, v string) {
	tb.Helper()
	name := t.SecretName("pwreset/")
	have, changed := e.Resetter(t).Current(t)
	cur, hasCur := e.Store.Staged(name, reset.StageCurrent)
	if !changed {
		if hasCur {
			_, err := reset.ParseSecretData(cur.Data, t)
			require.Error(tb, err, "ACSCurrent holds a password the target never had")
		}
		return
	}
	if hasCur {
		if pw, err := reset.ParseSecretData(cur.Data, t); err == nil && pw == have {
			return
		}
	}
	kept, ok := e.Store.Version(name, v)
	require.True(tb, ok, "the target's password is neither current nor kept in %s", v)
	require.True(tb, have == MustPassword(tb, kept, t), "the target's password is lost")
}

// errCode returns an *Error of code, as an adapter would: a safe message,
// and the vendor's text as the cause.
func errCode(code reset.ErrorCode) error {
	return &reset.Error{Code: code, Message: "upstream said " + string(code), Err: errors.New("raw vendor body")}
}

func TestRotateFirstRotationCreatesSecretWithPlaceholder(t *testing.T) {
	for _, target := range []reset.Target{sso, fab} {
		t.Run(string(target.Kind), func(t *testing.T) {
			e := MustEnv(t, nil)
			res := MustRotate(t, t.Context(), e, req("k1", target))
			requireRotated(t, e, target, res[0])
			assert.False(t, res[0].Resumed)
			assert.Equal(t, "pwreset/"+target.Key(), res[0].SecretName)
			assert.Equal(t, reset.VersionID("k1", target), res[0].VersionID)
			assert.Equal(t, []string{opStaged, opPut, opCheck, opCreate, opPut, opReset, opPromote}, e.Rec.Ops())

			prev, ok := e.Store.Staged(res[0].SecretName, reset.StagePrevious)
			require.True(t, ok)
			assert.Equal(t, reset.PlaceholderVersionID, prev.VersionID)
			assert.JSONEq(t, string(reset.SecretData(target, "")), string(prev.Data))
			assert.NotContains(t, string(prev.Data), "password")
		})
	}
}

func TestRotateHappyPathTakesFourCalls(t *testing.T) {
	e := MustEnv(t, nil)
	first := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	requireRotated(t, e, sso, first)
	before := len(e.Rec.Calls())

	second := MustRotate(t, t.Context(), e, req("k2", sso))[0]
	requireRotated(t, e, sso, second)
	assert.Equal(t, []string{opStaged, opPut, opReset, opPromote}, e.Rec.Ops()[before:])
	assert.NotEqual(t, first.VersionID, second.VersionID)

	prev, ok := e.Store.Staged(second.SecretName, reset.StagePrevious)
	require.True(t, ok)
	assert.Equal(t, first.VersionID, prev.VersionID, "the version that was current becomes ACSPrevious")
	applied := e.SSO.Applied(sso)
	require.Len(t, applied, 2)
	assert.True(t, applied[0] == MustPassword(t, prev, sso), "the previous version holds the first password")
	assert.True(t, applied[0] != applied[1], "two different passwords")
}

func TestRotateReplayOfFinishedRotationResetsNothing(t *testing.T) {
	e := MustEnv(t, nil)
	first := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	requireRotated(t, e, sso, first)
	before := len(e.Rec.Calls())

	again := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	requireRotated(t, e, sso, again)
	assert.True(t, again.Resumed)
	assert.Equal(t, first.VersionID, again.VersionID)
	assert.Equal(t, []string{opStaged}, e.Rec.Ops()[before:])
	assert.Len(t, e.SSO.Applied(sso), 1)
}

// crashAt makes the first run of a rotation stop right after op took effect,
// as a process that dies there would: the hook cancels the invocation.
func TestRotateResumesAfterCrash(t *testing.T) {
	cases := []struct {
		name    string
		crashAt string
		resumed []string // calls of the second run
	}{
		{"AfterStage", opPut, []string{opStaged, opReset, opPromote}},
		{"AfterReset", opReset, []string{opStaged, opReset, opPromote}},
		{"AfterPromote", opPromote, []string{opStaged}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t, nil)
			requireRotated(t, e, sso, MustRotate(t, t.Context(), e, req("k0", sso))[0])
			ctx, crash := context.WithCancel(t.Context())
			armed := true
			afterStore := func(_ context.Context, op, _, _ string) error {
				if armed && op == tc.crashAt {
					crash()
					return errCode(reset.EUnavailable) // the response is lost
				}
				return nil
			}
			e.Store.After = afterStore
			e.SSO.After = func(ctx context.Context, _ reset.Target, _ string) error {
				return afterStore(ctx, opReset, "", "")
			}

			res := MustRotate(t, ctx, e, req("k1", sso))[0]
			require.Equal(t, reset.StatusFailed, res.Status)
			assert.True(t, reset.ErrorCodeOf(res.Err).Retryable(), "got %v", reset.ErrorCodeOf(res.Err))
			requireSafe(t, e, sso, res.VersionID)

			armed = false
			before := len(e.Rec.Calls())
			again := MustRotate(t, t.Context(), e, req("k1", sso))[0]
			requireRotated(t, e, sso, again)
			assert.True(t, again.Resumed)
			assert.Equal(t, tc.resumed, e.Rec.Ops()[before:])

			applied := e.SSO.Applied(sso)[1:] // after the k0 rotation
			require.NotEmpty(t, applied)
			for _, pw := range applied {
				assert.Equal(t, applied[0], pw, "the resumed rotation set a different password")
			}
		})
	}
}

func TestRotateSupersededVersionDoesNothing(t *testing.T) {
	e := MustEnv(t, nil)
	requireRotated(t, e, sso, MustRotate(t, t.Context(), e, req("k0", sso))[0])

	// k1 stages, then its reset is refused.
	e.SSO.Before = func(context.Context, reset.Target, string) error { return errCode(reset.EConflict) }
	stale := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	require.Equal(t, reset.StatusFailed, stale.Status)
	assert.Equal(t, reset.EConflict, reset.ErrorCodeOf(stale.Err))
	requireSafe(t, e, sso, stale.VersionID)

	// k2 first finishes k1 (its password may be in effect), then rotates.
	e.SSO.Before = nil
	k2 := MustRotate(t, t.Context(), e, req("k2", sso))[0]
	requireRotated(t, e, sso, k2)
	assert.Equal(t, stale.VersionID, k2.RolledForward)
	have, _ := e.SSO.Current(sso)
	before := len(e.Rec.Calls())

	again := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	assert.Equal(t, reset.StatusSuperseded, again.Status)
	assert.NoError(t, again.Err)
	assert.Empty(t, again.RolledForward)
	assert.Equal(t, []string{opStaged, opPut, opGet}, e.Rec.Ops()[before:])
	now, _ := e.SSO.Current(sso)
	assert.Equal(t, have, now)
}

func TestRotateFaults(t *testing.T) {
	codes := []reset.ErrorCode{reset.EInvalid, reset.ENotFound, reset.EForbidden, reset.EConflict,
		reset.EThrottled, reset.EUnavailable, reset.EUpstream, reset.EInternal}
	steps := []struct {
		op    string
		setup func(*env) // prepares the state in which op is called
	}{
		{opCreate, func(*env) {}},
		{opPut, func(e *env) { MustRotate(e.tb, e.tb.Context(), e, req("k0", sso)) }},
		{opStaged, func(e *env) { MustRotate(e.tb, e.tb.Context(), e, req("k0", sso)) }},
		{opReset, func(e *env) { MustRotate(e.tb, e.tb.Context(), e, req("k0", sso)) }},
		{opPromote, func(e *env) { MustRotate(e.tb, e.tb.Context(), e, req("k0", sso)) }},
	}
	for _, step := range steps {
		for _, code := range codes {
			t.Run(step.op+"/"+string(code), func(t *testing.T) {
				e := MustEnv(t, nil)
				e.tb = t
				step.setup(e)
				before := len(e.Rec.Calls())
				sleeps := len(e.Clock.Sleeps())
				fail := func(op string) error {
					if op == step.op {
						return errCode(code)
					}
					return nil
				}
				e.Store.Before = func(_ context.Context, op, _, _ string) error { return fail(op) }
				e.SSO.Before = func(context.Context, reset.Target, string) error { return fail(opReset) }

				res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
				require.Equal(t, reset.StatusFailed, res.Status)
				var rerr *reset.Error
				require.ErrorAs(t, res.Err, &rerr)
				want := code
				if step.op == opPromote && !code.Retryable() {
					want = reset.EUpstream // the password is set: only a retry finishes
				}
				assert.Equal(t, want, rerr.Code)
				assert.Contains(t, reset.ErrorMessageOf(res.Err), "upstream said "+string(code))
				assert.NotContains(t, reset.ErrorMessageOf(res.Err), "raw vendor body", "vendor text shown to the caller")

				tries := 0
				for _, c := range e.Rec.Calls()[before:] {
					if c.Op == step.op {
						tries++
					}
				}
				retried := code == reset.EThrottled || code == reset.EUnavailable
				if retried {
					assert.Equal(t, e.Config.MaxAttempts, tries)
					assert.Len(t, e.Clock.Sleeps()[sleeps:], e.Config.MaxAttempts-1)
				} else {
					assert.Equal(t, 1, tries)
					assert.Empty(t, e.Clock.Sleeps()[sleeps:])
				}
				requireSafe(t, e, sso, res.VersionID)

				// Once the fault clears, a retry with the same key finishes.
				e.Store.Before, e.SSO.Before = nil, nil
				again := MustRotate(t, t.Context(), e, req("k1", sso))[0]
				requireRotated(t, e, sso, again)
			})
		}
	}
}

func TestRotateThrottledThenSucceeds(t *testing.T) {
	e := MustEnv(t, func(c *reset.Config) {
		c.MaxAttempts = 6
		c.BaseBackoff = 100 * time.Millisecond
		c.MaxBackoff = 250 * time.Millisecond
	})
	var n atomic.Int32
	e.SSO.Before = func(context.Context, reset.Target, string) error {
		if n.Add(1) <= 5 {
			return errCode(reset.EThrottled)
		}
		return nil
	}
	res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	requireRotated(t, e, sso, res)
	assert.Len(t, e.SSO.Applied(sso), 1)

	sleeps := e.Clock.Sleeps()
	require.Len(t, sleeps, 5)
	ceilings := []time.Duration{100, 200, 250, 250, 250}
	for i, s := range sleeps {
		assert.GreaterOrEqual(t, s, time.Duration(0))
		assert.LessOrEqual(t, s, ceilings[i]*time.Millisecond, "sleep %d", i)
	}
	assert.False(t, allEqual(sleeps), "full jitter draws different sleeps: %v", sleeps)
}

func allEqual(ds []time.Duration) bool {
	for _, d := range ds {
		if d != ds[0] {
			return false
		}
	}
	return true
}

func TestRotateResetTimeoutThenRefusalIsUncertain(t *testing.T) {
	e := MustEnv(t, nil)
	var n atomic.Int32
	// The first try sets the password but its answer is lost; the second is
	// refused as a reuse of a recent password.
	e.SSO.After = func(context.Context, reset.Target, string) error {
		if n.Add(1) == 1 {
			return errCode(reset.EUnavailable)
		}
		return errCode(reset.EInvalid)
	}
	res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	require.Equal(t, reset.StatusFailed, res.Status)
	assert.Equal(t, reset.EUnavailable, reset.ErrorCodeOf(res.Err))
	assert.Contains(t, reset.ErrorMessageOf(res.Err), "may have been applied")
	applied := e.SSO.Applied(sso)
	require.Len(t, applied, 2)
	assert.Equal(t, applied[0], applied[1], "the retry must set the same password")
	requireSafe(t, e, sso, res.VersionID)
}

func TestRotateDeadline(t *testing.T) {
	const reserve = time.Second
	t.Run("SkippedWhenFourStepsDoNotFit", func(t *testing.T) {
		e := MustEnv(t, nil)
		ctx, cancel := context.WithDeadline(t.Context(), epoch.Add(4*reserve-time.Millisecond))
		defer cancel()
		res := MustRotate(t, ctx, e, req("k1", sso))[0]
		assert.Equal(t, reset.StatusSkipped, res.Status)
		assert.Equal(t, reset.EUnavailable, reset.ErrorCodeOf(res.Err))
		assert.Contains(t, reset.ErrorMessageOf(res.Err), "deadline")
		assert.Equal(t, sso.SecretName("pwreset/"), res.SecretName)
		assert.NotEmpty(t, res.VersionID)
		assert.Empty(t, e.Rec.Calls())
	})
	t.Run("EachCallLeavesRoomForTheNextSteps", func(t *testing.T) {
		e := MustEnv(t, nil)
		MustRotate(t, t.Context(), e, req("k0", sso))
		before := len(e.Rec.Calls())
		deadline := epoch.Add(4 * reserve)
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		defer cancel()
		requireRotated(t, e, sso, MustRotate(t, ctx, e, req("k1", sso))[0])
		calls := e.Rec.Calls()[before:]
		require.Len(t, calls, 4)
		assert.Equal(t, deadline.Add(-3*reserve), calls[0].Deadline, "read pending")
		assert.Equal(t, deadline.Add(-2*reserve), calls[1].Deadline, "stage")
		assert.Equal(t, deadline.Add(-reserve), calls[2].Deadline, "reset")
		assert.Equal(t, deadline, calls[3].Deadline, "promote")
	})
	t.Run("BackoffStopsAtTheStepsEnd", func(t *testing.T) {
		e := MustEnv(t, func(c *reset.Config) {
			c.MaxAttempts = 100
			c.BaseBackoff = 300 * time.Millisecond
			c.MaxBackoff = 300 * time.Millisecond
		})
		e.Store.Before = func(context.Context, string, string, string) error { return errCode(reset.EThrottled) }
		deadline := epoch.Add(4 * reserve)
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		defer cancel()
		res := MustRotate(t, ctx, e, req("k1", sso))[0]
		assert.Equal(t, reset.StatusFailed, res.Status)
		assert.Equal(t, reset.EThrottled, reset.ErrorCodeOf(res.Err))
		calls := e.Rec.Calls()
		assert.Greater(t, len(calls), 1)
		assert.Less(t, len(calls), 100)
		for _, c := range calls {
			assert.True(t, c.At.Before(deadline.Add(-3*reserve)), "a try at %v is past the read's end", c.At.Sub(epoch))
		}
		assert.False(t, e.Clock.Now().After(deadline.Add(-3*reserve)), "slept past the read's end")
		assert.Zero(t, e.Rec.Count(opReset))
	})
	t.Run("ResetNotStartedWhenPromoteWouldNotFit", func(t *testing.T) {
		e := MustEnv(t, nil)
		MustRotate(t, t.Context(), e, req("k0", sso))
		// The stage call is slow: it ends after its own reserve.
		e.Store.After = func(_ context.Context, op, _, _ string) error {
			if op == opPut {
				e.Clock.Advance(2500 * time.Millisecond)
			}
			return nil
		}
		ctx, cancel := context.WithDeadline(t.Context(), epoch.Add(4*reserve))
		defer cancel()
		res := MustRotate(t, ctx, e, req("k1", sso))[0]
		assert.Equal(t, reset.StatusFailed, res.Status)
		assert.Equal(t, reset.EUnavailable, reset.ErrorCodeOf(res.Err))
		assert.Contains(t, reset.ErrorMessageOf(res.Err), "a retry with any key finishes it")
		assert.Len(t, e.SSO.Applied(sso), 1, "only k0's reset")
		requireSafe(t, e, sso, res.VersionID)
	})
}

func TestRotateBatch(t *testing.T) {
	t.Run("BoundsTargetsInFlight", func(t *testing.T) {
		const total, limit = 20, 3
		e := MustEnv(t, func(c *reset.Config) { c.MaxInFlight = limit })
		var targets []reset.Target
		for i := range total {
			targets = append(targets, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: fmt.Sprintf("u-%04d", i)})
		}
		entered := make(chan struct{})
		gate := make(chan struct{})
		var inFlight, most atomic.Int32
		e.SSO.Before = func(ctx context.Context, _ reset.Target, _ string) error {
			n := inFlight.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			entered <- struct{}{}
			<-gate
			inFlight.Add(-1)
			return nil
		}
		done := make(chan []reset.Result)
		go func() {
			res, _ := e.Rotator.Rotate(t.Context(), req("batch", targets...))
			done <- res
		}()
		in, out := 0, 0
		for out < total {
			if in-out < limit && in < total {
				select {
				case <-entered:
					in++
				case <-time.After(10 * time.Second):
					t.Fatalf("only %d targets in flight, want %d", in-out, limit)
				}
				continue
			}
			gate <- struct{}{}
			out++
		}
		res := <-done
		assert.Equal(t, int32(limit), most.Load())
		require.Len(t, res, total)
		for i, r := range res {
			assert.Equal(t, targets[i], r.Target, "results are in request order")
			requireRotated(t, e, targets[i], r)
		}
	})
	t.Run("OneFailureDoesNotStopOthers", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.SSO.Before = func(context.Context, reset.Target, string) error { return errCode(reset.ENotFound) }
		res := MustRotate(t, t.Context(), e, req("k1", sso, fab))
		assert.Equal(t, reset.StatusFailed, res[0].Status)
		assert.Equal(t, reset.ENotFound, reset.ErrorCodeOf(res[0].Err))
		requireRotated(t, e, fab, res[1])
	})
	t.Run("ExactDuplicatesRotateOnce", func(t *testing.T) {
		e := MustEnv(t, nil)
		res := MustRotate(t, t.Context(), e, req("k1", sso, fab, sso))
		requireRotated(t, e, sso, res[0])
		requireRotated(t, e, fab, res[1])
		assert.Equal(t, res[0], res[2])
		assert.Len(t, e.SSO.Applied(sso), 1)
	})
}

func TestRotateCancellation(t *testing.T) {
	t.Run("CancelledBeforeStartSkipsAll", func(t *testing.T) {
		e := MustEnv(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		res := MustRotate(t, ctx, e, req("k1", sso, fab))
		for _, r := range res {
			assert.Equal(t, reset.StatusSkipped, r.Status)
			assert.Equal(t, reset.EUnavailable, reset.ErrorCodeOf(r.Err))
			assert.NotEmpty(t, r.SecretName)
		}
		assert.Empty(t, e.Rec.Calls())
	})
	t.Run("CancelledMidBatchStartsNoMore", func(t *testing.T) {
		e := MustEnv(t, func(c *reset.Config) { c.MaxInFlight = 1 })
		ctx, cancel := context.WithCancel(t.Context())
		e.SSO.After = func(context.Context, reset.Target, string) error {
			cancel()
			return nil
		}
		res := MustRotate(t, ctx, e, req("k1", sso, fab))
		assert.Equal(t, reset.StatusFailed, res[0].Status, "promote runs on a cancelled context")
		requireSafe(t, e, sso, res[0].VersionID)
		assert.Equal(t, reset.StatusSkipped, res[1].Status)
		assert.Zero(t, e.Rec.Count(opReset)-1)
		_, changed := e.Fabric.Current(fab)
		assert.False(t, changed)
	})
}

func TestRotateDryRun(t *testing.T) {
	t.Run("WritesNothing", func(t *testing.T) {
		e := MustEnv(t, nil)
		MustRotate(t, t.Context(), e, req("k0", sso))
		before := len(e.Rec.Calls())
		r := req("k1", sso, fab)
		r.DryRun = true
		res := MustRotate(t, t.Context(), e, r)
		for i, target := range []reset.Target{sso, fab} {
			assert.Equal(t, reset.StatusValidated, res[i].Status)
			assert.NoError(t, res[i].Err)
			assert.Equal(t, target.SecretName("pwreset/"), res[i].SecretName)
			assert.Equal(t, reset.VersionID("k1", target), res[i].VersionID)
		}
		assert.Equal(t, []string{opDescribe, opDescribe}, e.Rec.Ops()[before:])
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		e := MustEnv(t, nil)
		e.Store.Before = func(context.Context, string, string, string) error { return errCode(reset.EForbidden) }
		r := req("k1", sso)
		r.DryRun = true
		res := MustRotate(t, t.Context(), e, r)
		assert.Equal(t, reset.StatusFailed, res[0].Status)
		assert.Equal(t, reset.EForbidden, reset.ErrorCodeOf(res[0].Err))
		assert.Equal(t, []string{opDescribe}, e.Rec.Ops())
	})
	t.Run("InvalidRequestMakesNoCall", func(t *testing.T) {
		e := MustEnv(t, nil)
		r := req("k1", reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-../x", UserID: "u-1"})
		r.DryRun = true
		_, err := e.Rotator.Rotate(t.Context(), r)
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
		assert.Empty(t, e.Rec.Calls())
	})
}

// TestNoPasswordLeaks runs failures whose upstream texts quote the password
// (in the clear and URL-encoded, as a careless adapter might) and checks
// that no password reaches a result, an error text or the log.
func TestNoPasswordLeaks(t *testing.T) {
	e := MustEnv(t, func(c *reset.Config) { c.MaxAttempts = 2 })
	var n atomic.Int32
	e.SSO.After = func(_ context.Context, _ reset.Target, pw string) error {
		switch n.Add(1) {
		case 1:
			return &reset.Error{Code: reset.EUpstream, Message: "refused " + pw}
		case 2:
			return fmt.Errorf("body: Password=%s", strings.ReplaceAll(pw, "!", "%21"))
		}
		return nil
	}
	e.Fabric.After = func(_ context.Context, _ reset.Target, pw string) error {
		return &reset.Error{Code: reset.EUnavailable, Message: "timeout", Err: errors.New("echo " + pw)}
	}
	var results []reset.Result
	for i := range 4 {
		res, err := e.Rotator.Rotate(t.Context(), req(fmt.Sprintf("k%d", i), sso, fab))
		require.NoError(t, err)
		results = append(results, res...)
	}
	e.Store.After = func(context.Context, string, string, string) error { return errCode(reset.EForbidden) }
	res, err := e.Rotator.Rotate(t.Context(), req("k9", sso))
	require.NoError(t, err)
	results = append(results, res...)

	var texts []string
	for _, r := range results {
		texts = append(texts, fmt.Sprintf("%+v", r))
		if r.Err != nil {
			texts = append(texts, r.Err.Error(), reset.ErrorMessageOf(r.Err))
		}
	}
	texts = append(texts, e.LogLines.String())
	passwords := append(e.SSO.AllApplied(), e.Fabric.AllApplied()...)
	require.NotEmpty(t, passwords)
	for _, pw := range passwords {
		for _, text := range texts {
			if strings.Contains(text, pw) {
				t.Fatalf("a password leaked into %d bytes of output", len(text))
			}
		}
	}
	assert.Contains(t, e.LogLines.String(), `"status":"failed"`)
	assert.Contains(t, e.LogLines.String(), `"versionId":"pwreset-`)
}

func TestRotateLogsOneLinePerTarget(t *testing.T) {
	e := MustEnv(t, nil)
	MustRotate(t, t.Context(), e, req("k1", sso, fab))
	lines := strings.Split(strings.TrimSpace(e.LogLines.String()), "\n")
	require.Len(t, lines, 2)
	for _, target := range []reset.Target{sso, fab} {
		assert.Contains(t, e.LogLines.String(), `"target":"`+target.Key()+`"`)
		assert.Contains(t, e.LogLines.String(), `"secretName":"pwreset/`+target.Key()+`"`)
	}
	assert.Contains(t, lines[0], `"status":"rotated"`)
	assert.Contains(t, lines[0], `"resumed":false`)
	assert.Contains(t, lines[0], `"durationMs":`)
	assert.Contains(t, lines[0], `"level":"INFO"`)
}

// TestRotateLogsFailuresAtErrorLevel: with LOG_LEVEL=error an operator
// still sees every failed target, a reset that failed after the password was
// staged included; successes stay at info.
func TestRotateLogsFailuresAtErrorLevel(t *testing.T) {
	e := MustEnv(t, nil)
	e.Store.Before = func(_ context.Context, op, name, _ string) error {
		if op == opPromote && name == sso.SecretName("pwreset/") {
			return errCode(reset.EUpstream) // promote failed after the password was reset
		}
		return nil
	}
	MustRotate(t, t.Context(), e, req("k1", sso, fab))
	lines := strings.Split(strings.TrimSpace(e.LogLines.String()), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		want := "INFO"
		if m["status"] == string(reset.StatusFailed) {
			want = "ERROR"
		}
		assert.Equal(t, want, m["level"], l)
		assert.IsType(t, float64(0), m["durationMs"], "milliseconds, a number")
		assert.NotContains(t, m, "duration", "nanoseconds are not logged")
	}
	assert.Contains(t, e.LogLines.String(), `"status":"failed"`)
}

func TestSystemClockSleep(t *testing.T) {
	var c reset.SystemClock
	assert.NoError(t, c.Sleep(t.Context(), 0))
	assert.NoError(t, c.Sleep(t.Context(), time.Microsecond))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, c.Sleep(ctx, time.Hour), context.Canceled)
	assert.False(t, c.Now().IsZero())
}

func TestRotatePendingVersionOfAnotherTargetIsNotUsed(t *testing.T) {
	e := MustEnv(t, nil)
	name, v := sso.SecretName("pwreset/"), reset.VersionID("k1", sso)
	require.NoError(t, e.Store.CreateSecret(t.Context(), name, reset.PlaceholderVersionID, reset.SecretData(sso, "")))
	other := ssoWith(func(t *reset.Target) { t.UserID = "u-other" })
	require.NoError(t, e.Store.PutVersion(t.Context(), name, v, reset.SecretData(other, testPassword), []string{reset.StagePending}))
	before := len(e.Rec.Calls())

	res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	assert.Equal(t, reset.StatusFailed, res.Status)
	assert.Equal(t, reset.EConflict, reset.ErrorCodeOf(res.Err))
	assert.ErrorIs(t, res.Err, reset.ErrBlocked)
	assert.NotContains(t, res.Err.Error(), testPassword)
	assert.Equal(t, []string{opStaged}, e.Rec.Ops()[before:])
	assert.Empty(t, e.SSO.Applied(sso), "another target's password is never applied")
}

func TestRotateStagedVersionVanished(t *testing.T) {
	e := MustEnv(t, nil)
	MustRotate(t, t.Context(), e, req("k0", sso))
	e.Store.Before = func(_ context.Context, op, _, _ string) error {
		switch op {
		case opPut:
			return reset.ErrVersionExists
		case opGet:
			return reset.ErrSecretNotFound
		}
		return nil
	}
	res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	assert.Equal(t, reset.StatusFailed, res.Status)
	assert.True(t, reset.ErrorCodeOf(res.Err).Retryable())
	assert.ErrorIs(t, res.Err, reset.ErrVersionExists)
	assert.Equal(t, 1, e.Rec.Count(opReset), "only k0's reset")
}

func TestRotateCreateSecretRace(t *testing.T) {
	e := MustEnv(t, nil)
	// Another writer creates the secret between our PutVersion and CreateSecret.
	e.Store.Before = func(ctx context.Context, op, name, _ string) error {
		if op == opCreate {
			e.Store.Before = nil
			require.NoError(t, e.Store.CreateSecret(ctx, name, "other-writer", reset.SecretData(sso, "")))
		}
		return nil
	}
	res := MustRotate(t, t.Context(), e, req("k1", sso))[0]
	requireRotated(t, e, sso, res)
}
