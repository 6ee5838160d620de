package reset_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

// TestRotatePanicFailsOnlyItsTarget: a resetter that panics, with the
// password in the panic's value, fails its own target with EInternal; the
// other targets rotate, the process lives, the target's lock is released
// and nothing of the panic reaches the logs.
func TestRotatePanicFailsOnlyItsTarget(t *testing.T) {
	e := MustEnv(t, nil)
	bomb := ssoWith(func(t *reset.Target) { t.UserID = "u-bomb" })
	var leaked string
	e.SSO.Before = func(_ context.Context, t reset.Target, password string) error {
		if t.UserID == bomb.UserID {
			leaked = password
			panic(fmt.Sprintf("resetter bug while applying %s", password))
		}
		return nil
	}
	res := MustRotate(t, t.Context(), e, req("k", sso, bomb, fab))
	requireRotated(t, e, sso, res[0])
	requireRotated(t, e, fab, res[2])
	require.Equal(t, reset.StatusFailed, res[1].Status)
	assert.Equal(t, reset.EInternal, reset.ErrorCodeOf(res[1].Err))
	assert.True(t, reset.ErrorCodeOf(res[1].Err).Retryable())
	require.NotEmpty(t, leaked)
	assert.NotContains(t, e.LogLines.String(), leaked)
	assert.NotContains(t, e.LogLines.String(), "resetter bug")
	assert.NotContains(t, reset.ErrorMessageOf(res[1].Err), leaked)

	// The lock was released and the staged password kept: a retry finishes
	// the same rotation.
	e.SSO.Before = nil
	again := MustRotate(t, t.Context(), e, req("k", bomb))
	requireRotated(t, e, bomb, again[0])
	assert.True(t, again[0].Resumed)
}

// TestResultsCarryAnErrorWhenNotDone is reset's guarantee to the handler: a
// failed or skipped Result carries an *Error with a code and a message, and
// any other Result carries none, whatever fails.
func TestResultsCarryAnErrorWhenNotDone(t *testing.T) {
	faults := []error{
		reset.Errorf(reset.EThrottled, "slow down"),
		reset.Errorf(reset.EUnavailable, "gone"),
		reset.Errorf(reset.EForbidden, "no"),
		reset.Errorf(reset.EConflict, "state"),
		errors.New("unclassified"),
		context.DeadlineExceeded,
		reset.ErrSecretNotFound,
		reset.ErrVersionExists,
		fmt.Errorf("wrapped: %w", reset.ErrPasswordReused),
	}
	ops := []string{opStaged, opPut, opCreate, opGet, opPromote, opDescribe, opCheck, opReset}
	deadlines := []time.Duration{0, 2 * time.Second, 10 * time.Second}
	seen := map[reset.Status]bool{}
	for _, op := range ops {
		for i, fault := range faults {
			for _, d := range deadlines {
				for _, dry := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%d/%v/dry=%v", op, i, d, dry), func(t *testing.T) {
						e := MustEnv(t, nil)
						inject := func() error { return fault }
						e.Store.Before = func(_ context.Context, o, _, _ string) error {
							if o == op {
								return inject()
							}
							return nil
						}
						e.SSO.Before = func(context.Context, reset.Target, string) error {
							if op == opReset {
								return inject()
							}
							return nil
						}
						e.SSO.BeforeCheck = func(context.Context, reset.Target) error {
							if op == opCheck {
								return inject()
							}
							return nil
						}
						ctx := t.Context()
						if d > 0 {
							var cancel context.CancelFunc
							ctx, cancel = context.WithDeadline(ctx, e.Clock.Now().Add(d))
							defer cancel()
						}
						r := req("k", sso, fab)
						r.DryRun = dry
						for _, res := range MustRotate(t, ctx, e, r) {
							seen[res.Status] = true
							switch res.Status {
							case reset.StatusFailed, reset.StatusSkipped:
								var rerr *reset.Error
								require.ErrorAs(t, res.Err, &rerr, "%s without an *Error", res.Status)
								assert.NotEmpty(t, rerr.Code)
								assert.NotEmpty(t, reset.ErrorMessageOf(res.Err))
							default:
								assert.NoError(t, res.Err, "%s with an error", res.Status)
							}
						}
					})
				}
			}
		}
	}
	for _, s := range []reset.Status{reset.StatusFailed, reset.StatusSkipped, reset.StatusRotated, reset.StatusValidated} {
		assert.True(t, seen[s], "no case gave %s", s)
	}
}
