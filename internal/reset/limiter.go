package reset

import (
	"context"
	"sync"
)

// limiter is the adaptive concurrency of one Rotate call: how many of its
// targets may be in flight at once. Config.MaxInFlight is only its ceiling.
// It follows AIMD, as TCP's congestion window does: a throttled answer
// halves the limit (once per round: an answer to a call that started
// before the latest cut does not cut again, since that call was sent under
// the old limit), and each call answered without throttling raises it by
// 1/limit, about one target per round of calls, back up to the ceiling.
//
// Each throttled call still backs off with jitter, but without the limiter
// a batch whose demand exceeds an API's rate keeps MaxInFlight targets
// knocking: the throttled share of calls grows with the overload, and a
// target that draws MaxAttempts throttles in a row fails. With it, a batch
// settles at about the rate the API grants.
type limiter struct {
	mu       sync.Mutex
	ceiling  float64
	limit    float64 // targets allowed in flight, 1 to ceiling
	inFlight int
	cuts     uint64        // cuts so far; a call remembers the count it started under
	freed    chan struct{} // closed and replaced when a target may start
}

func newLimiter(ceiling int) *limiter {
	c := float64(max(ceiling, 1))
	return &limiter{ceiling: c, limit: c, freed: make(chan struct{})}
}

// acquire waits until a target may start, or ctx is done.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if float64(l.inFlight) < l.limit {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		freed := l.freed
		l.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release ends a target that acquire started.
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.wakeLocked()
}

func (l *limiter) wakeLocked() {
	close(l.freed)
	l.freed = make(chan struct{})
}

// begin returns the round a call starts in, for throttled.
func (l *limiter) begin() uint64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cuts
}

// throttled halves the limit, down to 1, unless it was cut after the call
// (begun in round) started.
func (l *limiter) throttled(round uint64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if round != l.cuts {
		return
	}
	l.cuts++
	l.limit = max(l.limit/2, 1)
}

// answered raises the limit by 1/limit, up to the ceiling, after a call
// that was not throttled.
func (l *limiter) answered() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit < l.ceiling {
		l.limit = min(l.limit+1/l.limit, l.ceiling)
		l.wakeLocked()
	}
}

// current returns the limit, for tests.
func (l *limiter) current() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

type limiterKey struct{}

// withLimiter carries a Rotate call's limiter to the retries of its
// targets' cloud calls. It travels in the context, not as an argument, so
// that every step's retry (stage, resume, reset, promote, check) reports to
// it without threading it through each.
func withLimiter(ctx context.Context, l *limiter) context.Context {
	return context.WithValue(ctx, limiterKey{}, l)
}

// limiterFrom returns ctx's limiter, or nil (whose methods do nothing).
func limiterFrom(ctx context.Context) *limiter {
	l, _ := ctx.Value(limiterKey{}).(*limiter)
	return l
}
