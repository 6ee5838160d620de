package reset

import (
	"context"
	"sync"
)

// slots runs at most a fixed number of goroutines at once: the fan-out of
// Rotate and of the sweep. Make it with newSlots.
type slots struct {
	free chan struct{}
	wg   sync.WaitGroup
}

func newSlots(n int) *slots { return &slots{free: make(chan struct{}, max(n, 1))} }

// acquire waits for a free slot. Once ctx is done, even with a slot free,
// it returns ctx's error holding none: a slot is given back only by the one
// who took it, so a running goroutine's release never blocks.
func (s *slots) acquire(ctx context.Context) error {
	select {
	case s.free <- struct{}{}:
		if err := ctx.Err(); err != nil {
			<-s.free
			return err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot acquire took, when nothing is started in it.
func (s *slots) release() { <-s.free }

// start runs f in the slot acquire took, and gives it back when f returns.
func (s *slots) start(f func()) {
	s.wg.Go(func() {
		defer s.release()
		f()
	})
}

// wait waits for every goroutine start began.
func (s *slots) wait() { s.wg.Wait() }
