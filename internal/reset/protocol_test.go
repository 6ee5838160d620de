package reset_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

// The sequences of issue 9 and the invariants of protocol v2 (DESIGN.md,
// "The rotation protocol (v2)"), over the fakes.

// checkI1 is invariant I1: once the target was rotated, the password in
// effect on it is held by the version staged ACSCurrent or ACSPending.
func checkI1(e *env, t reset.Target) error {
	have, changed := e.Resetter(t).Current(t)
	if !changed {
		return nil
	}
	name := t.SecretName("pwreset/")
	for _, stage := range []string{reset.StageCurrent, reset.StagePending} {
		if v, ok := e.Store.Staged(name, stage); ok {
			if pw, err := reset.ParseSecretData(v.Data, t); err == nil && pw == have {
				return nil
			}
		}
	}
	return fmt.Errorf("I1: %s: neither ACSCurrent nor ACSPending holds the password in effect", t.Key())
}

// checkI2 is invariant I2, after a success: ACSCurrent holds the password
// in effect.
func checkI2(e *env, t reset.Target) error {
	have, changed := e.Resetter(t).Current(t)
	if !changed {
		return fmt.Errorf("I2: %s was never reset", t.Key())
	}
	cur, ok := e.Store.Staged(t.SecretName("pwreset/"), reset.StageCurrent)
	if !ok {
		return fmt.Errorf("I2: %s has no ACSCurrent", t.Key())
	}
	if pw, err := reset.ParseSecretData(cur.Data, t); err != nil || pw != have {
		return fmt.Errorf("I2: %s: ACSCurrent does not hold the password in effect", t.Key())
	}
	return nil
}

// succeeded reports whether r is a success answer.
func succeeded(r reset.Result) bool {
	return r.Err == nil && (r.Status == reset.StatusRotated || r.Status == reset.StatusSuperseded)
}

// MustStep rotates t under key and checks I1, and I2 on success.
func MustStep(tb testing.TB, ctx context.Context, e *env, key string, t reset.Target) reset.Result {
	tb.Helper()
	res := MustRotate(tb, ctx, e, req(key, t))[0]
	require.NoError(tb, checkI1(e, t), "after %s: %s %v", key, res.Status, res.Err)
	if succeeded(res) {
		require.NoError(tb, checkI2(e, t), "after %s: %s", key, res.Status)
	}
	return res
}

// versions counts the versions of t's secret.
func versions(e *env, t reset.Target) int {
	e.Store.mu.Lock()
	defer e.Store.mu.Unlock()
	return len(e.Store.secrets[t.SecretName("pwreset/")])
}

// failOps makes every call of ops fail with err until the returned function
// is called.
func failOps(e *env, err error, ops ...string) (clear func()) {
	fail := func(op string) error {
		for _, o := range ops {
			if o == op {
				return err
			}
		}
		return nil
	}
	e.Store.Before = func(_ context.Context, op, _, _ string) error { return fail(op) }
	e.SSO.Before = func(context.Context, reset.Target, string) error { return fail(opReset) }
	return func() { e.Store.Before, e.SSO.Before = nil, nil }
}

func TestSequencePromoteFailsThenOtherKeysResetFails(t *testing.T) {
	faults := []struct {
		name string
		code reset.ErrorCode
	}{
		{"Throttle", reset.EThrottled},
		{"5xx", reset.EUpstream},
		{"409", reset.EConflict},
		{"400", reset.EInvalid},
		{"Deadline", reset.EUnavailable},
	}
	for _, twelve := range []bool{false, true} {
		for _, f := range faults {
			name := f.name
			if twelve {
				name += "/ThenTwelveFailingKeys"
			}
			t.Run(name, func(t *testing.T) {
				e := MustEnv(t, nil)
				ctx := t.Context()
				require.True(t, succeeded(MustStep(t, ctx, e, "k0", sso)))

				// A: staged and reset, its promote fails.
				clear := failOps(e, errCode(reset.EUpstream), opPromote)
				a := MustStep(t, ctx, e, "A", sso)
				clear()
				require.Equal(t, reset.StatusFailed, a.Status)
				pA, _ := e.SSO.Current(sso)
				n := versions(e, sso)

				// B, under another key: its reset (the roll-forward of A's) fails.
				clear = failOps(e, errCode(f.code), opReset)
				b := MustStep(t, ctx, e, "B", sso)
				require.Equal(t, reset.StatusFailed, b.Status)
				if f.code.Retryable() {
					assert.True(t, reset.ErrorCodeOf(b.Err).Retryable(), "got %v", reset.ErrorCodeOf(b.Err))
				} else {
					assert.Equal(t, reset.EConflict, reset.ErrorCodeOf(b.Err), "blocked")
					assert.ErrorIs(t, b.Err, reset.ErrBlocked)
					assert.Contains(t, reset.ErrorMessageOf(b.Err), a.VersionID)
				}
				assert.Equal(t, n, versions(e, sso), "a failed attempt adds no version")
				if twelve {
					for i := range 12 {
						r := MustStep(t, ctx, e, fmt.Sprintf("K%d", i+3), sso)
						require.Equal(t, reset.StatusFailed, r.Status)
					}
					assert.Equal(t, n, versions(e, sso), "failed attempts pile no versions up")
				}
				clear()

				// A's redelivery finishes A.
				again := MustStep(t, ctx, e, "A", sso)
				requireRotated(t, e, sso, again)
				assert.True(t, again.Resumed)
				have, _ := e.SSO.Current(sso)
				assert.Equal(t, pA, have, "A's password, never lost")
			})
		}
	}
}

func TestSequenceKillAfterResetThenAnotherKeyOnNewInstance(t *testing.T) {
	e := MustEnv(t, nil)
	require.True(t, succeeded(MustStep(t, t.Context(), e, "k0", sso)))

	ctx, kill := context.WithCancel(t.Context())
	e.SSO.After = func(context.Context, reset.Target, string) error { kill(); return context.Canceled }
	a := MustStep(t, ctx, e, "A", sso)
	e.SSO.After = nil
	require.Equal(t, reset.StatusFailed, a.Status)

	// A new instance: a new rotator over the same cloud.
	fresh, err := newPacedRotator(e.Config,
		map[reset.Kind]reset.Resetter{reset.KindCloudSSO: e.SSO, reset.KindFabric: e.Fabric}, e.Store,
		reset.Deps{Clock: e.Clock, Rand: rand.NewChaCha8([32]byte{9})})
	require.NoError(t, err)
	e.Rotator = fresh
	b := MustStep(t, t.Context(), e, "B", sso)
	requireRotated(t, e, sso, b)
	assert.Equal(t, a.VersionID, b.RolledForward, "B finished A first")

	again := MustStep(t, t.Context(), e, "A", sso)
	assert.Equal(t, reset.StatusSuperseded, again.Status, "a newer rotation completed")
	require.NoError(t, checkI2(e, sso))
}

func TestSequenceAlertThrottledHelpdeskThrottledAlertRedelivered(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := t.Context()
	require.True(t, succeeded(MustStep(t, ctx, e, "k0", sso)))
	old, _ := e.SSO.Current(sso)

	clear := failOps(e, errCode(reset.EThrottled), opReset)
	alert := MustStep(t, ctx, e, "eventbridge:alert", sso)
	require.Equal(t, reset.StatusFailed, alert.Status)
	helpdesk := MustStep(t, ctx, e, "http:helpdesk", sso)
	require.Equal(t, reset.StatusFailed, helpdesk.Status, "the helpdesk call must not answer success while the alert is unfinished")
	assert.Equal(t, reset.EThrottled, reset.ErrorCodeOf(helpdesk.Err))
	clear()

	again := MustStep(t, ctx, e, "eventbridge:alert", sso)
	requireRotated(t, e, sso, again)
	have, _ := e.SSO.Current(sso)
	assert.NotEqual(t, old, have, "the old (possibly compromised) password is no longer in effect")
}

func TestSequenceBlockedAccount(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := t.Context()
	require.True(t, succeeded(MustStep(t, ctx, e, "k0", sso)))
	clear := failOps(e, errCode(reset.EUpstream), opPromote)
	a := MustStep(t, ctx, e, "A", sso)
	clear()
	require.Equal(t, reset.StatusFailed, a.Status)
	e.SSO.Remove(sso) // the account is gone
	n := versions(e, sso)
	for i := range 3 {
		r := MustStep(t, ctx, e, fmt.Sprintf("later-%d", i), sso)
		assert.Equal(t, reset.EConflict, reset.ErrorCodeOf(r.Err))
		assert.ErrorIs(t, r.Err, reset.ErrBlocked)
		assert.Contains(t, reset.ErrorMessageOf(r.Err), a.VersionID)
	}
	assert.Equal(t, n, versions(e, sso))
	assert.Contains(t, e.LogLines.String(), `"level":"ERROR"`)
}

func TestReuseRefusalCountsAsApplied(t *testing.T) {
	e := MustEnv(t, nil)
	ctx := t.Context()
	require.True(t, succeeded(MustStep(t, ctx, e, "k0", sso)))
	// A's reset takes effect, its answer is lost, and the rotation ends.
	e.SSO.After = func(context.Context, reset.Target, string) error {
		return errCode(reset.EInvalid)
	}
	a := MustStep(t, ctx, e, "A", sso)
	require.Equal(t, reset.StatusFailed, a.Status)
	pA, _ := e.SSO.Current(sso)
	// The directory refuses the same password again, as a reuse.
	e.SSO.After = nil
	e.SSO.Before = func(_ context.Context, _ reset.Target, pw string) error {
		if pw == pA {
			return &reset.Error{Code: reset.EInvalid, Message: "reused", Err: reset.ErrPasswordReused}
		}
		return nil
	}
	b := MustStep(t, ctx, e, "B", sso)
	requireRotated(t, e, sso, b)
	assert.Equal(t, a.VersionID, b.RolledForward)
}

func TestFirstRotationOfMissingAccountsCreatesNothing(t *testing.T) {
	e := MustEnv(t, nil)
	var targets []reset.Target
	for i := range 200 {
		u := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: fmt.Sprintf("u-missing%04d", i)}
		e.SSO.Remove(u)
		targets = append(targets, u)
	}
	res := MustRotate(t, t.Context(), e, req("batch", targets...))
	for _, r := range res {
		assert.Equal(t, reset.StatusFailed, r.Status)
		assert.Equal(t, reset.ENotFound, reset.ErrorCodeOf(r.Err))
		assert.Contains(t, reset.ErrorMessageOf(r.Err), "no secret was created")
	}
	assert.Zero(t, e.Rec.Count(opCreate))
	assert.Empty(t, e.Store.AllData(), "no secret")
	assert.Zero(t, e.Rec.Count(opReset))
}

func TestFirstRotationWithoutAccountCheckerCreatesNothing(t *testing.T) {
	e := MustEnv(t, nil)
	r, err := reset.NewRotator(e.Config, map[reset.Kind]reset.Resetter{reset.KindCloudSSO: resetOnly{e.SSO}}, e.Store,
		reset.Deps{Clock: e.Clock})
	require.NoError(t, err)
	res, err := r.Rotate(t.Context(), req("k1", sso))
	require.NoError(t, err)
	assert.Equal(t, reset.EInternal, reset.ErrorCodeOf(res[0].Err))
	assert.Zero(t, e.Rec.Count(opCreate))
}

// resetOnly hides the AccountChecker of a resetter.
type resetOnly struct{ next reset.Resetter }

func (r resetOnly) ResetPassword(ctx context.Context, t reset.Target, pw string) error {
	return r.next.ResetPassword(ctx, t, pw)
}

// TestSoak runs a seeded random walk of requests over a few accounts, each
// under a new, reused or old key, with random faults, lost answers and
// kills at every call, and checks I1 after every step and I2 after every
// success.
func TestSoak(t *testing.T) {
	const steps = 3000
	rnd := rand.New(rand.NewPCG(20261201, 9))
	e := MustEnv(t, func(c *reset.Config) { c.MaxAttempts = 2 })
	accounts := []reset.Target{sso, fab, ssoWith(func(t *reset.Target) { t.UserID = "u-00q8wbq42wiltcrkab13" })}
	codes := []reset.ErrorCode{reset.EThrottled, reset.EUnavailable, reset.EUpstream, reset.EInvalid, reset.EConflict, reset.EForbidden, reset.EInternal}
	ops := []string{opStaged, opPut, opGet, opCreate, opCheck, opPromote, opReset}
	var keys []string
	stats := map[string]int{}
	for step := range steps {
		t0 := accounts[rnd.IntN(len(accounts))]
		var key string
		switch k := rnd.IntN(10); {
		case k < 4 || len(keys) == 0:
			key = fmt.Sprintf("key-%d", step)
			keys = append(keys, key)
		case k < 7:
			key = keys[len(keys)-1-rnd.IntN(min(3, len(keys)))] // a recent one, retried
		default:
			key = keys[rnd.IntN(len(keys))] // an old one, redelivered
		}
		ctx, kill := context.WithCancel(t.Context())
		op := ops[rnd.IntN(len(ops))]
		code := codes[rnd.IntN(len(codes))]
		fault := rnd.IntN(5) // 0: none, 1: refused before, 2: lost answer, 3: kill after, 4: refused twice
		left := 1
		if fault == 4 {
			left = 2
		}
		hit := func(o string, after bool) error {
			if o != op || left == 0 {
				return nil
			}
			switch {
			case !after && (fault == 1 || fault == 4):
				left--
				return errCode(code)
			case after && fault == 2:
				left--
				return errCode(reset.EUnavailable)
			case after && fault == 3:
				left--
				kill()
				return context.Canceled
			}
			return nil
		}
		e.Store.Before = func(_ context.Context, o, _, _ string) error { return hit(o, false) }
		e.Store.After = func(_ context.Context, o, _, _ string) error { return hit(o, true) }
		for _, r := range []*FakeResetter{e.SSO, e.Fabric} {
			r.Before = func(context.Context, reset.Target, string) error { return hit(opReset, false) }
			r.After = func(context.Context, reset.Target, string) error { return hit(opReset, true) }
			r.BeforeCheck = func(context.Context, reset.Target) error { return hit(opCheck, false) }
		}
		res := MustRotate(t, ctx, e, req(key, t0))[0]
		kill()
		stats[string(res.Status)]++
		if res.RolledForward != "" {
			stats["rolledForward"]++
		}
		for _, a := range accounts {
			if err := checkI1(e, a); err != nil {
				t.Fatalf("step %d (%s, key %s, fault %d at %s): %v", step, t0.Key(), key, fault, op, err)
			}
		}
		if succeeded(res) {
			if err := checkI2(e, t0); err != nil {
				t.Fatalf("step %d (%s, key %s, %s): %v", step, t0.Key(), key, res.Status, err)
			}
		}
	}
	t.Logf("soak: %d steps: %v", steps, stats)
	for _, s := range []string{"rotated", "failed", "superseded", "rolledForward"} {
		assert.Positive(t, stats[s], "the walk never reached %s", s)
	}
	assert.False(t, strings.Contains(e.LogLines.String(), `"password":`))
}
