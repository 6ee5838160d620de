package reset

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryCountsThrottlesAgainstTheStepsTime(t *testing.T) {
	const (
		attempts = 3
		took     = 50 * time.Millisecond // each try's own time
	)
	errUnavailable := &Error{Code: EUnavailable, Message: "unavailable"}
	errConflict := &Error{Code: EConflict, Message: "conflict"}
	throttledThen := func(n int) func(try int) error {
		return func(try int) error {
			if try <= n {
				return errThrottled
			}
			return nil
		}
	}
	cases := []struct {
		name    string
		bounded bool
		answer  func(try int) error // of the try-th try, from 1
		want    error
		tries   int // 0: more than attempts, each started before the step's end
	}{
		{"OK_ThrottledPastMaxAttempts", true, throttledThen(10), nil, 11},
		{"ErrThrottledUntilTheStepsEnd", true, func(int) error { return errThrottled }, errThrottled, 0},
		{"ErrUnavailableMaxAttempts", true, func(int) error { return errUnavailable }, errUnavailable, attempts},
		{"ErrOnlyUnavailableTriesCount", true, func(try int) error {
			if try%2 == 1 {
				return errThrottled
			}
			return errUnavailable
		}, errUnavailable, 2 * attempts},
		{"ErrNoDeadlineThrottledMaxAttempts", false, func(int) error { return errThrottled }, errThrottled, attempts},
		{"OK_NoDeadlineThrottledThenSucceeds", false, throttledThen(attempts - 1), nil, attempts},
		{"ErrNotRetried", true, func(int) error { return errConflict }, errConflict, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
			r := &Rotator{
				cfg:   Config{MaxAttempts: attempts, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond},
				clock: c,
				rand:  rand.NewChaCha8([32]byte{1}),
			}
			end := c.Now().Add(30 * time.Second)
			var starts []time.Time
			err := r.retry(t.Context(), end, tc.bounded, func(ctx context.Context) error {
				starts = append(starts, c.Now())
				if tc.bounded {
					d, ok := ctx.Deadline()
					require.True(t, ok)
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
			assert.Greater(t, len(starts), 2*attempts, "throttles are retried while the step's time lasts")
			for _, s := range starts {
				assert.True(t, s.Before(end), "a try started at the step's end")
			}
			assert.False(t, c.Now().After(end.Add(took)), "slept past the step's end")
			assert.Greater(t, c.Now().Add(r.cfg.MaxBackoff).Sub(end), time.Duration(0), "gave up before a backoff could still fit")
		})
	}
}
