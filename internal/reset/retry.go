package reset

import (
	"context"
	"time"
)

// retry runs call until it succeeds, fails in a way a retry cannot help, or
// its tries are spent: item 2 of the time budget (budget.go). When bounded,
// each try's context ends at end and no backoff runs past it.
//
// Config.MaxAttempts bounds the unavailable tries, and every try of a call
// without a deadline. With one, a throttled try does not count against it:
// throttling asks this instance to wait while the pacer settles under the
// service's rate, not to give up, so throttled tries go on for the time one
// call is allowed (Config.StepReserve) times throttleReserves, from the
// first try, and never past end. A service that keeps throttling still
// fails the call within that time, as retryable, rather than holding the
// invocation to its deadline.
func (r *Rotator) retry(ctx context.Context, end time.Time, bounded bool, call func(context.Context) error) error {
	limit := r.clock.Now().Add(throttleReserves * r.cfg.StepReserve) // of the throttled tries
	if bounded && end.Before(limit) {
		limit = end
	}
	counted := 0
	for attempt := 1; ; attempt++ {
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if bounded {
			cctx, cancel = context.WithDeadline(ctx, end)
		}
		err := call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		code := codeOf(err)
		throttled := bounded && code == EThrottled
		if !throttled {
			counted++
		}
		if !retried(code) || counted >= r.cfg.MaxAttempts || ctx.Err() != nil {
			return err
		}
		d := r.backoff(attempt)
		if bounded && !r.clock.Now().Add(d).Before(end) {
			return err
		}
		if throttled && !r.clock.Now().Add(d).Before(limit) {
			return err
		}
		if r.clock.Sleep(ctx, d) != nil {
			return err
		}
	}
}

// throttleReserves is how many step reserves a call's throttled tries may
// last. Measured (docs/PERFORMANCE.md's overload batch, 24 and 32 in
// flight): while the pacers settle at the start of a batch, a call that
// met throttling got through within 1.8 s, waits for its paced turns
// included; one reserve (3 s) left too thin a margin on a loaded machine.
const throttleReserves = 2

// backoff returns the sleep after the attempt-th failed try: uniform in
// [0, min(MaxBackoff, BaseBackoff·2^(attempt-1))] ("full jitter").
func (r *Rotator) backoff(attempt int) time.Duration {
	ceil := r.cfg.MaxBackoff
	if attempt-1 < 32 {
		if d := r.cfg.BaseBackoff << (attempt - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	n, err := uniform(r.rand, uint64(ceil)+1)
	if err != nil {
		return ceil
	}
	return time.Duration(n)
}

// retried reports whether retry tries a call again after an error of code:
// only throttling and unavailability, which a later try may not meet.
func retried(code ErrorCode) bool { return code == EThrottled || code == EUnavailable }
