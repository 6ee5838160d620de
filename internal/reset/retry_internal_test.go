package reset

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryBoundsThrottlesByTime(t *testing.T) {
	const (
		attempts = 3
		took     = 50 * time.Millisecond // each try's own time
		long     = time.Minute
		short    = 2 * time.Second
	)
	errUnavailable := &Error{Code: EUnavailable, Message: "unavailable"}
	errConflict := &Error{Code: EConflict, Message: "conflict"}
	throttled := func(int) error { return errThrottled }
	throttledThen := func(n int) func(try int) error {
		return func(try int) error {
			if try <= n {
				return errThrottled
			}
			return nil
		}
	}
	cases := []struct {
		name           string
		bounded        bool
		reserve, endIn time.Duration // Config.StepReserve; the step's end, from the first try
		answer         func(try int) error
		want           error
		tries          int // 0: more than attempts, until min(reserve, endIn)
	}{
		{"OK_ThrottledPastMaxAttempts", true, long, long, throttledThen(10), nil, 11},
		{"ErrThrottledForItsStepReserves", true, short, long, throttled, errThrottled, 0},
		{"ErrThrottledUntilTheStepsEnd", true, long, short, throttled, errThrottled, 0},
		{"ErrUnavailableMaxAttempts", true, long, long, func(int) error { return errUnavailable }, errUnavailable, attempts},
		{"ErrOnlyUnavailableTriesCount", true, long, long, func(try int) error {
			if try%2 == 1 {
				return errThrottled
			}
			return errUnavailable
		}, errUnavailable, 2 * attempts},
		{"ErrNoDeadlineThrottledMaxAttempts", false, long, 0, throttled, errThrottled, attempts},
		{"OK_NoDeadlineThrottledThenSucceeds", false, long, 0, throttledThen(attempts - 1), nil, attempts},
		{"ErrNotRetried", true, long, long, func(int) error { return errConflict }, errConflict, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
			r := &Rotator{
				cfg: Config{MaxAttempts: attempts, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
					StepReserve: tc.reserve},
				clock: c,
				rand:  rand.NewChaCha8([32]byte{1}),
			}
			first := c.Now()
			end := first.Add(tc.endIn)
			var starts []time.Time
			err := r.retry(t.Context(), end, tc.bounded, func(ctx context.Context) error {
				starts = append(starts, c.Now())
				d, ok := ctx.Deadline()
				require.Equal(t, tc.bounded, ok)
				if ok {
					require.Equal(t, end, d, "each try ends at the step's end")
				}
				c.advance(took)
				return tc.answer(len(starts))
			})
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			} else {
				assert.NoError(t, err)
			}
			if tc.tries > 0 {
				assert.Len(t, starts, tc.tries)
				return
			}
			bound := first.Add(min(throttleReserves*tc.reserve, tc.endIn))
			assert.Greater(t, len(starts), 2*attempts, "throttles are retried while the time lasts")
			for _, s := range starts {
				assert.True(t, s.Before(bound), "a try started %v after the first, past %v", s.Sub(first), bound.Sub(first))
			}
			assert.False(t, c.Now().After(bound.Add(took)), "slept past the bound")
			assert.False(t, c.Now().Add(r.cfg.MaxBackoff).Before(bound), "gave up while a backoff could still fit")
		})
	}
}
