package reset

import (
	"context"
	"time"
)

// retry runs call until it succeeds, fails in a way a retry cannot help, or
// its tries are spent: item 2 of the time budget (budget.go). When bounded,
// each try's context ends at end and no backoff runs past it, and a
// throttled try does not count against Config.MaxAttempts: a throttling is
// the service asking this instance to wait (the pacer spaces the calls
// meanwhile), not a fault of the target, so it is retried for as long as
// the step's time allows. MaxAttempts bounds the unavailable tries, and
// every try of a call without a deadline.
func (r *Rotator) retry(ctx context.Context, end time.Time, bounded bool, call func(context.Context) error) error {
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
		if !bounded || code != EThrottled {
			counted++
		}
		if !retried(code) || counted >= r.cfg.MaxAttempts || ctx.Err() != nil {
			return err
		}
		d := r.backoff(attempt)
		if bounded && !r.clock.Now().Add(d).Before(end) {
			return err
		}
		if r.clock.Sleep(ctx, d) != nil {
			return err
		}
	}
}

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
