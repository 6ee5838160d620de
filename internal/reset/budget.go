package reset

import (
	"context"
	"time"
)

// The time budget. An invocation has a deadline (Function Compute's
// timeout, in ctx); three mechanisms, each with one job, decide whether a
// call waits or gives up. This is their one description; DESIGN.md ("Time
// budget") and the other doc comments point here.
//
//  1. The step reserve (reserve: Config.StepReserve, default 3s, but at
//     most a tenth of the invocation's timeout, WithTimeout) is the time one
//     cloud call is allowed. A target is started only if the steps it has
//     left fit before the deadline (fits: 4 for a rotation, 1 for a dry
//     run), a reset only if the promote after it fits, and a roll-forward
//     only if its reset and promote do; otherwise the target is skipped or
//     fails EUnavailable with its password kept, never cut off mid-step.
//  2. Each try of a call (retry) runs under a context that ends at its
//     step's end (stepEnd: the deadline less the reserves of the steps
//     after it), and a backoff that would pass that end is not slept: the
//     call gives up with its last error instead. Only EThrottled and
//     EUnavailable are retried, after a full-jitter backoff between
//     Config.BaseBackoff and MaxBackoff. Config.MaxAttempts bounds the
//     unavailable tries; a throttled try does not count against it when
//     the step has an end: a throttling asks for time, not for giving up,
//     so throttled tries go on for throttleReserves step reserves from the
//     call's first try, and never past the step's end (only MaxAttempts of them without
//     a deadline).
//  3. The pacer (Pace, wired by app.New) spaces the calls to a service
//     that throttles a crowd of calls. A paced call waits its turn only
//     while its context allows: a turn that would start after the try's
//     deadline is given up at once (context.DeadlineExceeded, counted
//     EUnavailable), so pacing never outlasts the step's end either.
//
// Below reset, the adapters cap each call at their connect plus read
// timeouts (internal/aliyun, call.go), or the context's deadline if earlier.

// fits reports whether n steps fit before ctx's deadline.
func (r *Rotator) fits(ctx context.Context, n int) bool {
	d, ok := ctx.Deadline()
	return !ok || d.Sub(r.clock.Now()) >= time.Duration(n)*r.reserve(ctx)
}

type timeoutKey struct{}

// WithTimeout returns a context that carries the invocation's timeout
// (Function Compute's x-fc-function-timeout, fccontext Function.Timeout),
// which scales the step reserve.
func WithTimeout(ctx context.Context, timeout time.Duration) context.Context {
	return context.WithValue(ctx, timeoutKey{}, timeout)
}

// reserve is the step reserve of ctx's invocation, the one place it is
// computed: Config.StepReserve, at most a tenth of the invocation's timeout
// when ctx carries one (WithTimeout), so that a short invocation still
// starts a rotation (four steps take 40% of it) where a fixed 3s would make
// a 10s invocation start nothing.
func (r *Rotator) reserve(ctx context.Context) time.Duration {
	if t, ok := ctx.Value(timeoutKey{}).(time.Duration); ok && t > 0 {
		return min(r.cfg.StepReserve, t/10)
	}
	return r.cfg.StepReserve
}

// stepEnd is the time by which a step must end so that the n steps after it
// still fit before ctx's deadline.
func (r *Rotator) stepEnd(ctx context.Context, after int) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return d.Add(-time.Duration(after) * r.reserve(ctx)), true
}
