package emulator

import (
	"net/http"
	"sync"
	"time"
)

// faults holds the injected failures. It has its own lock so a slow call
// (latency) never holds the state lock.
type faults struct {
	mu        sync.Mutex
	fail      map[string][]failure
	latencies map[string]time.Duration
	drop      map[string]int
	dropAfter map[string]int
	late      map[string][]time.Duration
}

type failure struct {
	status int
	code   string
}

func (f *faults) init() {
	f.fail = map[string][]failure{}
	f.latencies = map[string]time.Duration{}
	f.drop = map[string]int{}
	f.dropAfter = map[string]int{}
	f.late = map[string][]time.Duration{}
}

func (f *faults) takeLate(action string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.late[action]
	if len(q) == 0 {
		return 0, false
	}
	f.late[action] = q[1:]
	return q[0], true
}

// take consumes one of the counted faults of action in m.
func (f *faults) take(m *map[string]int, action string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if (*m)[action] <= 0 {
		return false
	}
	(*m)[action]--
	return true
}

func (f *faults) takeFail(action string) (failure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.fail[action]
	if len(q) == 0 {
		return failure{}, false
	}
	f.fail[action] = q[1:]
	return q[0], true
}

func (f *faults) latency(action string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latencies[action]
}

// FailNext makes the next n calls of action fail with the given HTTP status
// and error code, without changing any state. Calls queue up: FailNext("X",
// 1, 500, "A") then FailNext("X", 1, 503, "B") fails with A, then with B.
func (c *Cloud) FailNext(action string, n int, status int, code string) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for i := 0; i < n; i++ {
		c.faults.fail[action] = append(c.faults.fail[action], failure{status: status, code: code})
	}
}

// SetLatency delays every call of action by d before it is served; 0
// removes the delay. The call still takes effect if the client gives up
// waiting, at the moment it gives up; ApplyLate models a call that takes
// effect only after the client gave up.
func (c *Cloud) SetLatency(action string, d time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	if d <= 0 {
		delete(c.faults.latencies, action)
		return
	}
	c.faults.latencies[action] = d
}

// ApplyLate makes the next n calls of action wait d, whatever the client
// does, and only then take effect: a client that gave up before (its
// timeout, or a killed process) sees a failure although the call is
// applied after it. The answer, if the client still waits, is the real one.
func (c *Cloud) ApplyLate(action string, n int, d time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for i := 0; i < n; i++ {
		c.faults.late[action] = append(c.faults.late[action], d)
	}
}

// DropNext makes the next n calls of action close the connection without an
// answer and without changing any state.
func (c *Cloud) DropNext(action string, n int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.drop[action] += n
}

// DropAfterApply makes the next n calls of action take effect and then close
// the connection without an answer: the response is lost.
func (c *Cloud) DropAfterApply(action string, n int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.dropAfter[action] += n
}

// Throttle limits a product to perSecond calls (a token bucket holding one
// second's worth, at least one call). Above the rate the product answers
// like the real one: Throttling.User (400) for CloudSSO and BaaS,
// Rejected.Throttling (429) for KMS. perSecond <= 0 removes the limit.
func (c *Cloud) Throttle(p Product, perSecond float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buckets == nil {
		c.buckets = map[Product]*bucket{}
	}
	if perSecond <= 0 {
		delete(c.buckets, p)
		return
	}
	burst := perSecond
	if burst < 1 {
		burst = 1
	}
	c.buckets[p] = &bucket{rate: perSecond, burst: burst, tokens: burst, last: c.now()}
}

// ClearFaults removes every injected fault and throttle.
func (c *Cloud) ClearFaults() {
	c.faults.mu.Lock()
	c.faults.init()
	c.faults.mu.Unlock()
	c.mu.Lock()
	c.buckets = nil
	c.mu.Unlock()
}

type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (c *Cloud) throttle(p Product) *apiError {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.buckets[p]
	if !ok {
		return nil
	}
	now := c.now()
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	if p == KMS {
		return errorf(http.StatusTooManyRequests, "Rejected.Throttling", "QPS Limit Exceeded.")
	}
	return errorf(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control.")
}
