package reset

import (
	"context"
	"sync"
)

// targetLocks serializes the rotations of each target within one Rotator.
// Two rotations of the same target under different idempotency keys must not
// interleave: if one resets the target and the other's reset and promote
// run before the first promotes, the first then makes current a password
// that is no longer in effect. The deployment runs one request at a time,
// but the runtime serves each invocation on its own goroutine, and nothing
// stops two callers' requests reaching one instance; the lock makes the
// protocol safe however they arrive. (Rotations on different instances are
// the deployment's to prevent: reservedConcurrency 1.)
type targetLocks struct {
	mu   sync.Mutex
	held map[string]*targetLock
}

type targetLock struct {
	ch   chan struct{} // holds a token while the target is locked
	refs int           // holders and waiters; the entry goes at zero
}

// lock waits until no other rotation of key runs, or ctx is done (then it
// returns ctx's error and holds nothing). The caller must call unlock.
func (l *targetLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*targetLock{}
	}
	tl := l.held[key]
	if tl == nil {
		tl = &targetLock{ch: make(chan struct{}, 1)}
		l.held[key] = tl
	}
	tl.refs++
	l.mu.Unlock()
	select {
	case tl.ch <- struct{}{}:
		return func() { l.release(key, tl, true) }, nil
	case <-ctx.Done():
		l.release(key, tl, false)
		return nil, ctx.Err()
	}
}

func (l *targetLocks) release(key string, tl *targetLock, held bool) {
	if held {
		<-tl.ch
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if tl.refs--; tl.refs == 0 {
		delete(l.held, key)
	}
}
