package reset

import (
	"encoding/binary"
	"io"
	"sync"
)

// uniform returns a uniform integer in [0, n), n > 0, by rejection.
func uniform(rnd io.Reader, n uint64) (uint64, error) {
	limit := uniformLimit(n)
	var b [8]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, err
		}
		if v := binary.BigEndian.Uint64(b[:]); v <= limit {
			return v % n, nil
		}
	}
}

// uniformLimit is the largest 64-bit value uniform accepts for n: the values
// 0..limit are a whole number of runs of n, so v%n favours no result.
func uniformLimit(n uint64) uint64 {
	return ^uint64(0) - (^uint64(0)%n+1)%n
}

// lockedReader serializes reads of a random source that may not be safe for
// concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
