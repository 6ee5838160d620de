package reset

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepClock is a Clock that moves only when told to or slept on; it records
// the sleeps.
type stepClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *stepClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

var errThrottled = &Error{Code: EThrottled, Message: "throttled"}

func newTestPacer() (*pacer, *stepClock) {
	c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	return newPacer(c), c
}

// burst books n calls at the current instant, as MaxInFlight targets
// starting together would, and returns their tickets; they stay in flight
// until answered. All but the first are crowded.
func burst(p *pacer, n int) []ticket {
	tks := make([]ticket, n)
	for i := range tks {
		tks[i], _, _ = p.schedule(time.Time{})
	}
	return tks
}

func TestPacer(t *testing.T) {
	ok := func() error { return nil }
	t.Run("OK_UnpacedUntilThrottled", func(t *testing.T) {
		p, c := newTestPacer()
		for range 3 * paceBurst {
			require.NoError(t, p.do(t.Context(), ok))
		}
		assert.Zero(t, p.pace())
		assert.Empty(t, c.slept())
	})
	t.Run("OK_LoneCallsDoNotPace", func(t *testing.T) {
		// One call at a time (a single target's retries, invocations one
		// after the other) is spaced by its own backoff, however fast.
		p, c := newTestPacer()
		for range 4 * paceBurst {
			assert.ErrorIs(t, p.do(t.Context(), func() error { return errThrottled }), errThrottled)
		}
		assert.Zero(t, p.pace())
		assert.Empty(t, c.slept())
	})
	t.Run("OK_SmallBurstDoesNotPace", func(t *testing.T) {
		p, _ := newTestPacer()
		tks := burst(p, paceBurst-1)
		p.answered(tks[1], true, true)
		assert.Zero(t, p.pace())
	})
	t.Run("OK_ThrottledBurstPacesBelowItsRate", func(t *testing.T) {
		p, c := newTestPacer()
		tks := burst(p, 20)
		p.answered(tks[1], true, true)
		require.InDelta(t, 20*paceCut, p.pace(), 1e-9, "20 calls in the last second, cut by paceCut")
		// The first paced call starts at once; each later one waits one gap
		// of the pace at which the call before it was booked.
		var want []time.Duration
		for i := range 3 {
			rate := p.pace()
			require.NoError(t, p.do(t.Context(), ok))
			require.InDelta(t, rate+paceGain/rate, p.pace(), 1e-9, "an answer raises the pace by paceGain/rate")
			if i < 2 {
				want = append(want, time.Duration(float64(time.Second)/rate))
			}
		}
		assert.Equal(t, want, c.slept())
	})
	t.Run("OK_OneCutPerRound", func(t *testing.T) {
		p, _ := newTestPacer()
		tks := burst(p, 10)
		for _, tk := range tks {
			p.answered(tk, true, true)
		}
		assert.InDelta(t, 10*paceCut, p.pace(), 1e-9, "calls sent before the cut must not cut again")
		after := burst(p, 2)
		p.answered(after[1], true, true)
		assert.InDelta(t, 10*paceCut*paceCut, p.pace(), 1e-9, "a call sent after the cut cuts again")
	})
	t.Run("OK_GainClimbsBack", func(t *testing.T) {
		p, _ := newTestPacer()
		tks := burst(p, 10)
		p.answered(tks[1], true, true)
		before := p.pace()
		p.answered(tks[2], true, false)
		assert.InDelta(t, before+paceGain/before, p.pace(), 1e-9)
	})
	t.Run("OK_NeverBelowMinimum", func(t *testing.T) {
		p, _ := newTestPacer()
		burst(p, paceBurst) // left in flight: every later call is crowded
		for range 100 {
			tk, _, _ := p.schedule(time.Time{})
			p.answered(tk, true, true)
		}
		assert.Equal(t, float64(paceMin), p.pace())
	})
	t.Run("OK_ForgetsLongAfterTheLastCut", func(t *testing.T) {
		p, c := newTestPacer()
		tks := burst(p, 10)
		p.answered(tks[1], true, true)
		c.advance(paceForget)
		require.NoError(t, p.do(t.Context(), ok))
		assert.Zero(t, p.pace())
	})
	t.Run("OK_NotForgottenWhileItHoldsCallsBack", func(t *testing.T) {
		// Calls keep waiting for their turn long after the last cut: the
		// pace is what keeps them under the limit, so it stays.
		p, c := newTestPacer()
		tks := burst(p, 10)
		p.answered(tks[1], true, true)
		cut := c.Now()
		for c.Now().Sub(cut) < 3*paceForget {
			require.NoError(t, p.do(t.Context(), ok))
			require.NotZero(t, p.pace(), "forgotten at %v after the cut", c.Now().Sub(cut))
		}
		// Once no call waits, it is forgotten paceForget after the last wait.
		c.advance(paceForget - time.Second)
		require.NoError(t, p.do(t.Context(), ok))
		require.NotZero(t, p.pace())
		c.advance(time.Second)
		require.NoError(t, p.do(t.Context(), ok))
		assert.Zero(t, p.pace())
	})
	t.Run("ErrTurnAfterDeadline", func(t *testing.T) {
		p, c := newTestPacer()
		tks := burst(p, 10)
		p.answered(tks[1], true, true)
		burst(p, 5) // book the next half second
		ctx, cancel := context.WithDeadline(t.Context(), c.Now().Add(100*time.Millisecond))
		defer cancel()
		called := false
		err := p.do(ctx, func() error { called = true; return nil })
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, called)
		assert.Empty(t, c.slept(), "no sleep towards a turn that comes too late")
	})
	t.Run("ErrCancelledWhileWaiting", func(t *testing.T) {
		p, _ := newTestPacer()
		tks := burst(p, 10)
		p.answered(tks[1], true, true)
		burst(p, 1)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := p.do(ctx, func() error { return nil })
		require.ErrorIs(t, err, context.Canceled)
	})
}

// recordingStore answers each call with err and counts them.
type recordingStore struct {
	err   error
	calls []string
}

func (s *recordingStore) CreateSecret(context.Context, string, string, []byte) error {
	s.calls = append(s.calls, "CreateSecret")
	return s.err
}

func (s *recordingStore) PutVersion(context.Context, string, string, []byte, []string) error {
	s.calls = append(s.calls, "PutVersion")
	return s.err
}

func (s *recordingStore) GetVersion(context.Context, string, string) (SecretVersion, error) {
	s.calls = append(s.calls, "GetVersion")
	return SecretVersion{VersionID: "v1"}, s.err
}

func (s *recordingStore) GetStaged(context.Context, string, string) (SecretVersion, error) {
	s.calls = append(s.calls, "GetStaged")
	return SecretVersion{VersionID: "v1"}, s.err
}

func (s *recordingStore) Promote(context.Context, string, string) error {
	s.calls = append(s.calls, "Promote")
	return s.err
}

func (s *recordingStore) Describe(context.Context, string) error {
	s.calls = append(s.calls, "Describe")
	return s.err
}

type checkerFunc func(ctx context.Context, t Target) error

func (f checkerFunc) CheckAccount(ctx context.Context, t Target) error { return f(ctx, t) }

type resetterFunc func(ctx context.Context, t Target, password string) error

func (f resetterFunc) ResetPassword(ctx context.Context, t Target, password string) error {
	return f(ctx, t, password)
}

func TestPacedServicesPassCallsThrough(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"OK", nil},
		{"ErrPassedThrough", ErrSecretNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestPacer()
			rs := &recordingStore{err: tc.err}
			s := pacedStore{next: rs, create: p, put: p, read: p, stage: p}
			assert.ErrorIs(t, s.CreateSecret(ctx, "n", "v", nil), tc.err)
			assert.ErrorIs(t, s.PutVersion(ctx, "n", "v", nil, []string{StagePending}), tc.err)
			v, err := s.GetVersion(ctx, "n", "v")
			assert.ErrorIs(t, err, tc.err)
			assert.Equal(t, "v1", v.VersionID)
			v, err = s.GetStaged(ctx, "n", StagePending)
			assert.ErrorIs(t, err, tc.err)
			assert.Equal(t, "v1", v.VersionID)
			assert.ErrorIs(t, s.Promote(ctx, "n", "v"), tc.err)
			assert.ErrorIs(t, s.Describe(ctx, "n"), tc.err)
			assert.Equal(t, []string{"CreateSecret", "PutVersion", "GetVersion", "GetStaged", "Promote", "Describe"}, rs.calls)
			checked := false
			c := pacedCheckingResetter{pacedResetter: pacedResetter{p: p}, p: p, check: checkerFunc(func(context.Context, Target) error { checked = true; return tc.err })}
			assert.ErrorIs(t, c.CheckAccount(ctx, Target{}), tc.err)
			assert.True(t, checked)

			var got Target
			r := pacedResetter{next: resetterFunc(func(_ context.Context, t Target, _ string) error { got = t; return tc.err }), p: p}
			target := Target{Kind: KindCloudSSO, DirectoryID: "d-1", UserID: "u-1"}
			assert.ErrorIs(t, r.ResetPassword(ctx, target, "unused"), tc.err)
			assert.Equal(t, target, got)
			assert.True(t, tc.err == nil || !errors.Is(tc.err, errThrottled))
		})
	}
}
