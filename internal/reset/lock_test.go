package reset

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTargetLocks(t *testing.T) {
	t.Run("SameKeyWaits", func(t *testing.T) {
		var l targetLocks
		unlock, err := l.lock(context.Background(), "cloudsso/d-1/u-1")
		require.NoError(t, err)
		got := make(chan struct{})
		go func() {
			u, err := l.lock(context.Background(), "cloudsso/d-1/u-1")
			assert.NoError(t, err)
			close(got)
			u()
		}()
		other, err := l.lock(context.Background(), "cloudsso/d-1/u-2")
		require.NoError(t, err, "another target is not held up")
		other()
		select {
		case <-got:
			t.Fatal("the second rotation of the target ran while the first held it")
		default:
		}
		unlock()
		<-got
		l.mu.Lock()
		defer l.mu.Unlock()
		assert.Empty(t, l.held, "no entry outlives its holders")
	})
	t.Run("ErrContextDoneWhileWaiting", func(t *testing.T) {
		var l targetLocks
		unlock, err := l.lock(context.Background(), "k")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = l.lock(ctx, "k")
		require.ErrorIs(t, err, context.Canceled)
		unlock()
		l.mu.Lock()
		defer l.mu.Unlock()
		assert.Empty(t, l.held)
	})
}
