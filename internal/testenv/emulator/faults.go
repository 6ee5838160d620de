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
	c.buckets[p] = c.newBucket(perSecond)
}

// ThrottleAction limits one action to perSecond calls, in a bucket of its
// own (one second's worth, at least one call), as the services publish
// their quotas per API: KMS's shared gateway 10/s for CreateSecret and
// DeleteSecret and 450/s for GetSecretValue, CloudSSO's ResetUserPassword
// 100/s per account (the quotas, with sources: QuotaTable). Several
// actions given one shareKey share its bucket, as KMS's groups of APIs do
// ("the following APIs share this quota"); "" gives the action its own. A
// call must pass both its action's bucket and its product's (Throttle).
// The answer above the rate is the product's (Throttle). perSecond <= 0
// removes the action's limit.
func (c *Cloud) ThrottleAction(action string, perSecond float64, shareKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.actionBuckets == nil {
		c.actionBuckets = map[string]*bucket{}
	}
	if perSecond <= 0 {
		delete(c.actionBuckets, action)
		return
	}
	if shareKey != "" {
		for a, b := range c.actionBuckets {
			if b.share == shareKey && a != action {
				b.rate, b.burst = perSecond, max(perSecond, 1)
				c.actionBuckets[action] = b
				return
			}
		}
	}
	b := c.newBucket(perSecond)
	b.share = shareKey
	c.actionBuckets[action] = b
}

func (c *Cloud) newBucket(perSecond float64) *bucket {
	burst := max(perSecond, 1)
	return &bucket{rate: perSecond, burst: burst, tokens: burst, last: c.now()}
}

// Throttled returns how many calls of action the buckets refused.
func (c *Cloud) Throttled(action string) int {
	n := 0
	for _, call := range c.Calls() {
		if call.Action == action && (call.Code == "Throttling.User" || call.Code == "Rejected.Throttling") {
			n++
		}
	}
	return n
}

// ClearFaults removes every injected fault and throttle.
func (c *Cloud) ClearFaults() {
	c.faults.mu.Lock()
	c.faults.init()
	c.faults.mu.Unlock()
	c.mu.Lock()
	c.buckets, c.actionBuckets = nil, nil
	c.mu.Unlock()
}

type bucket struct {
	rate, burst, tokens float64
	last                time.Time
	share               string // ThrottleAction's shareKey
}

// take refills b to now and takes a token, reporting whether one was
// there.
func (b *bucket) take(now time.Time) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// throttle takes a token from the action's bucket and from the product's,
// each when set; a call refused by either is answered as the product
// answers throttling. A call the action's bucket refuses takes nothing
// from the product's.
func (c *Cloud) throttle(p Product, action string) *apiError {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	ok := true
	if b, set := c.actionBuckets[action]; set && action != "" {
		ok = b.take(now)
	}
	if b, set := c.buckets[p]; set && ok {
		ok = b.take(now)
	}
	if ok {
		return nil
	}
	if p == KMS {
		return errorf(http.StatusTooManyRequests, "Rejected.Throttling", "QPS Limit Exceeded.")
	}
	return errorf(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control.")
}

// Quota is one published (or assumed) per-API rate limit of the services
// pwreset calls, per account and region.
type Quota struct {
	Action    string
	PerSecond float64
	// Share names the group of APIs that share one bucket ("" for none).
	Share string
	// Source is where the figure comes from, or "assumed: …" with why.
	Source string
}

// Quotas are the per-API rate limits the local cloud can apply
// (ApplyQuotas): the figures Alibaba Cloud publishes, and where it
// publishes none, an assumption that says so.
var Quotas = []Quota{
	{"CreateSecret", 10, "kms-secret-create-delete",
		"KMS performance data, shared gateway: create or delete a secret, 10 QPS per account and region (https://www.alibabacloud.com/help/en/kms/key-management-service/product-overview/performance-data)"},
	{"GetSecretValue", 450, "kms-secret-read",
		"KMS performance data, shared gateway: query secret information and get secret values, 450 QPS (same page)"},
	{"DescribeSecret", 450, "kms-secret-read",
		"KMS performance data: 'query secret information', 450 QPS (same page; DescribeSecret's membership of that group assumed)"},
	{"ListSecrets", 40, "kms-secret-list",
		"KMS performance data: list secrets and secret metadata, low-frequency operations, 40 QPS (same page)"},
	{"ListSecretVersionIds", 40, "kms-secret-list",
		"KMS performance data: the 40 QPS list/metadata group (same page; ListSecretVersionIds' membership assumed)"},
	{"PutSecretValue", 100, "",
		"assumed: the performance data page names no group for it; 100 QPS assumed (no lower than the CloudSSO reset it pairs with)"},
	{"UpdateSecretVersionStage", 100, "",
		"assumed: the performance data page names no group for it; 100 QPS assumed"},
	{"ResetUserPassword", 100, "",
		"CloudSSO QPS limits: an operation not listed there, 100 per second per account (https://www.alibabacloud.com/help/en/cloudsso/latest/qps-limits); ResetUserPassword's API page, Limits"},
	{"ListUsers", 20, "",
		"CloudSSO ListUsers API page, flow control: 20 requests per second (https://api.aliyun.com/document/cloudsso/2021-05-15/ListUsers)"},
	{"GetUser", 100, "",
		"CloudSSO QPS limits: an operation not listed there, 100 per second per account (same page)"},
	{"GetPasswordPolicy", 100, "",
		"CloudSSO QPS limits: an operation not listed there, 100 per second per account (same page)"},
	{"ResetFabricOrganizationUserPassword", 10, "",
		"assumed: BaaS publishes no rate limits; 10 QPS assumed"},
	{"DescribeFabricOrganizationUsers", 10, "",
		"assumed: BaaS publishes no rate limits; 10 QPS assumed"},
}

// ApplyQuotas limits every action of Quotas to its rate, in its shared
// bucket where it has one (ThrottleAction).
func (c *Cloud) ApplyQuotas() {
	for _, q := range Quotas {
		c.ThrottleAction(q.Action, q.PerSecond, q.Share)
	}
}
