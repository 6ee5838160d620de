package reset

import (
	"context"
	"sync"
	"time"
)

// Tuning of pacer.
const (
	// paceCut is the factor a throttled answer applies to the pace: mild,
	// so that the pace stays near the limit rather than swinging far below.
	paceCut = 0.9
	// paceGain is how fast the pace climbs back, in calls per second per
	// second: each answer that is not a throttling adds paceGain/rate.
	paceGain = 1.0
	// paceMin is the slowest pace, calls per second.
	paceMin = 1.0
	// paceBurst is how many calls must have started in the last second for
	// a throttled answer to start pacing: fewer are a single target's
	// retries, which its own backoff spaces.
	paceBurst = 8
	// paceForget is how long after the last cut and the last wait for a
	// turn the pacer stops pacing, so that a throttling long past does not
	// slow a later batch.
	paceForget = 10 * time.Second
)

// pacer spaces the calls to one service while it throttles: client-side
// pacing with AIMD on the rate, as AWS's "adaptive" retry mode does. Only
// a throttled answer to a call sent while other calls to the service were
// in flight counts: a lone call's throttling is not this instance's
// crowding, and its own backoff spaces its retries. Calls go unpaced until
// such an answer comes while at least paceBurst calls started in the last
// second; then they are paced at paceCut times the rate they were sent at,
// or the rate the API granted (the answers of the last second that were
// not throttled, once there are paceBurst of them) if that is lower.
// Each further such answer cuts the pace again by paceCut (once per round:
// an answer to a call sent before the latest cut does not cut again, as it
// was sent at the old pace), and each other
// answer raises it by paceGain/rate, so the pace climbs back by about
// paceGain calls per second every second. paceForget after both the last
// cut and the last call that had to wait for its turn, calls go unpaced
// again: not while the pace still holds calls back, as it is then what
// keeps them under the limit (forgetting it mid-batch would let a crowd
// through at once and throttle again).
//
// Each throttled call still backs off with jitter, but without the pacer a
// batch whose demand exceeds an API's rate keeps MaxInFlight targets
// knocking: the throttled share of calls grows with the overload, and each
// throttled call's retries (which go on for two step reserves, see retry)
// spend the time of the batch, or fail the target once that time is out. With it, calls settle just under the
// rate the API grants. A Rotator shares its pacers
// among its invocations, as an API's limit is the account's.
type pacer struct {
	clock Clock
	// sequential: the calls are sent one after another by design (the
	// pages of a listing), so a throttled answer counts as crowding
	// although no other call was in flight: the listing's own rate is
	// what the API refuses.
	sequential bool

	mu      sync.Mutex
	rate    float64   // calls per second; 0 while unpaced
	next    time.Time // when paced: the earliest start of the next call
	cuts    uint64    // cuts so far; a call remembers the count it started under
	lastCut time.Time
	// lastWait is when a call last had to wait for its turn: the pace was
	// still holding calls back, so it is not forgotten while it does.
	lastWait time.Time
	flying   int         // calls sent and not yet answered
	starts   []time.Time // of the calls of the last second, oldest first
	oks      []time.Time // of the answers of the last second that were not throttled, oldest first
}

func newPacer(c Clock) *pacer { return &pacer{clock: c} }

// newSequentialPacer returns a pacer of calls sent one after another.
func newSequentialPacer(c Clock) *pacer { return &pacer{clock: c, sequential: true} }

// do runs call at the pace, and adapts the pace to its answer. If ctx ends
// while the call waits for its turn, or would end before it, do returns
// ctx's error (context.DeadlineExceeded) without calling.
func (p *pacer) do(ctx context.Context, call func() error) error {
	deadline, _ := ctx.Deadline()
	tk, wait, ok := p.schedule(deadline)
	if !ok {
		return context.DeadlineExceeded
	}
	if wait > 0 {
		if err := p.clock.Sleep(ctx, wait); err != nil {
			p.answered(tk, false, false)
			return err
		}
	}
	sent, throttled := false, false
	// Deferred, so that a call that panics still ends its booking.
	defer func() { p.answered(tk, sent, throttled) }()
	sent = true
	err := call()
	throttled = ErrorCodeOf(err) == EThrottled
	return err
}

// ticket is a booked call: the round it starts in, and whether other calls
// were in flight when it was booked.
type ticket struct {
	round   uint64
	crowded bool
}

// schedule books the next call's start and returns its ticket and how long
// it must wait for it; ok is false, and nothing booked, if the start would
// fall after deadline (when not zero). A booked call must be answered.
func (p *pacer) schedule(deadline time.Time) (tk ticket, wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if p.rate > 0 && now.Sub(p.lastCut) >= paceForget && now.Sub(p.lastWait) >= paceForget {
		p.rate = 0
	}
	start := now
	if p.rate > 0 && p.next.After(start) {
		start = p.next
		if !deadline.IsZero() && !start.Before(deadline) {
			return ticket{}, 0, false
		}
		p.lastWait = now
	}
	if p.rate > 0 {
		p.next = start.Add(time.Duration(float64(time.Second) / p.rate))
	}
	i := 0
	for i < len(p.starts) && now.Sub(p.starts[i]) >= time.Second {
		i++
	}
	p.starts = append(p.starts[i:], start)
	tk = ticket{round: p.cuts, crowded: p.flying > 0 || p.sequential}
	p.flying++
	return tk, start.Sub(now), true
}

// answered ends the call booked with tk and, if it was sent (not cancelled
// while waiting for its turn), adapts the pace to its answer.
func (p *pacer) answered(tk ticket, sent, throttled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flying--
	switch {
	case !sent:
	case throttled && tk.crowded && tk.round == p.cuts:
		rate := p.rate
		if rate == 0 {
			if len(p.starts) < paceBurst {
				return
			}
			rate = float64(len(p.starts)) // the calls of the last second
		}
		// What the API granted in the last second, when that is known and
		// lower: the pace then lands just under the limit at once rather
		// than after several cuts, each of which costs throttled calls.
		if ok := p.recentOKs(); ok >= paceBurst && float64(ok) < rate {
			rate = float64(ok)
		}
		p.cuts++
		p.lastCut = p.clock.Now()
		p.rate = max(rate*paceCut, paceMin)
	case !throttled:
		p.oks = append(p.oks[p.oldOKs():], p.clock.Now())
		if p.rate > 0 {
			p.rate += paceGain / p.rate
		}
	}
}

// oldOKs is how many of p.oks are older than a second. p.mu must be held.
func (p *pacer) oldOKs() int {
	now := p.clock.Now()
	i := 0
	for i < len(p.oks) && now.Sub(p.oks[i]) >= time.Second {
		i++
	}
	return i
}

// recentOKs is how many answers of the last second were not throttled.
// p.mu must be held.
func (p *pacer) recentOKs() int { return len(p.oks) - p.oldOKs() }

// pace returns the current pace, calls per second (0: unpaced); tests read it.
func (p *pacer) pace() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// Pace returns store and resetters with each API's calls paced while it
// throttles (pacer): one pacer per API, because the quotas are per API, not
// per service. KMS's shared gateway publishes 10 QPS for creating or
// deleting a secret and 450 QPS for querying secrets and getting secret
// values, per account and region
// (https://www.alibabacloud.com/help/en/kms/key-management-service/product-overview/performance-data);
// one pacer for all of KMS let the successes of the 450/s reads keep the
// pace high while CreateSecret was throttled (docs/PERFORMANCE.md). So the
// store gets one pacer per SecretStore method's API (GetVersion and
// GetStaged are both GetSecretValue, and DescribeSecret shares that page's
// query group: one pacer for the three), and each resetter one for its
// resets and one for its account checks (CloudSSO GetUser has its own
// limit: https://www.alibabacloud.com/help/en/cloudsso/latest/qps-limits).
// A paced resetter is an AccountChecker exactly when the one it wraps is.
// Clock must be the Rotator's (Deps.Clock). See budget.go for how pacing
// adds to the time budget.
func Pace(store SecretStore, resetters map[Kind]Resetter, clock Clock) (SecretStore, map[Kind]Resetter) {
	if clock == nil {
		clock = SystemClock{}
	}
	paced := make(map[Kind]Resetter, len(resetters))
	for k, r := range resetters {
		pr := pacedResetter{next: r, p: newPacer(clock)}
		if c, ok := r.(AccountChecker); ok {
			paced[k] = pacedCheckingResetter{pacedResetter: pr, check: c, p: newPacer(clock)}
		} else {
			paced[k] = pr
		}
	}
	return paceStore(store, clock), paced
}

// PaceListers returns listers with each one's pages paced while its API
// throttles: one pacer per kind, as each kind lists with its own API
// (CloudSSO ListUsers, 20 requests per second per its API page's flow
// control, https://api.aliyun.com/document/cloudsso/2021-05-15/ListUsers).
// A listing sends its pages one after another, so its pacer counts a
// throttled page as crowding although no other page was in flight. A paced
// lister is a PageLister exactly when the one it wraps is.
func PaceListers(listers map[Kind]Lister, clock Clock) map[Kind]Lister {
	if clock == nil {
		clock = SystemClock{}
	}
	paced := make(map[Kind]Lister, len(listers))
	for k, l := range listers {
		pl := pacedLister{next: l, p: newSequentialPacer(clock)}
		if pg, ok := l.(PageLister); ok {
			paced[k] = pacedPageLister{pacedLister: pl, pages: pg}
		} else {
			paced[k] = pl
		}
	}
	return paced
}

// pacedStore is a SecretStore whose calls go through a pacer per API.
type pacedStore struct {
	next SecretStore
	// create: CreateSecret; put: PutSecretValue; read: GetSecretValue
	// and DescribeSecret; stage: UpdateSecretVersionStage.
	create, put, read, stage *pacer
}

var _ SecretStore = pacedStore{}

func paceStore(s SecretStore, c Clock) pacedStore {
	return pacedStore{next: s, create: newPacer(c), put: newPacer(c), read: newPacer(c), stage: newPacer(c)}
}

func (s pacedStore) CreateSecret(ctx context.Context, name, versionID string, data []byte) error {
	return s.create.do(ctx, func() error { return s.next.CreateSecret(ctx, name, versionID, data) })
}

func (s pacedStore) PutVersion(ctx context.Context, name, versionID string, data []byte, stages []string) error {
	return s.put.do(ctx, func() error { return s.next.PutVersion(ctx, name, versionID, data, stages) })
}

func (s pacedStore) GetVersion(ctx context.Context, name, versionID string) (SecretVersion, error) {
	var v SecretVersion
	err := s.read.do(ctx, func() error {
		var err error
		v, err = s.next.GetVersion(ctx, name, versionID)
		return err
	})
	return v, err
}

func (s pacedStore) GetStaged(ctx context.Context, name, stage string) (SecretVersion, error) {
	var v SecretVersion
	err := s.read.do(ctx, func() error {
		var err error
		v, err = s.next.GetStaged(ctx, name, stage)
		return err
	})
	return v, err
}

func (s pacedStore) Promote(ctx context.Context, name, versionID string) error {
	return s.stage.do(ctx, func() error { return s.next.Promote(ctx, name, versionID) })
}

func (s pacedStore) Describe(ctx context.Context, name string) error {
	return s.read.do(ctx, func() error { return s.next.Describe(ctx, name) })
}

// pacedResetter is a Resetter whose calls go through a pacer.
type pacedResetter struct {
	next Resetter
	p    *pacer
}

var _ Resetter = pacedResetter{}

func (r pacedResetter) ResetPassword(ctx context.Context, t Target, password string) error {
	return r.p.do(ctx, func() error { return r.next.ResetPassword(ctx, t, password) })
}

// pacedCheckingResetter is a pacedResetter whose resetter is also an
// AccountChecker: the checks go through their own pacer, as they call
// another API (CloudSSO GetUser) with its own limit.
type pacedCheckingResetter struct {
	pacedResetter
	check AccountChecker
	p     *pacer
}

var _ AccountChecker = pacedCheckingResetter{}

func (r pacedCheckingResetter) CheckAccount(ctx context.Context, t Target) error {
	return r.p.do(ctx, func() error { return r.check.CheckAccount(ctx, t) })
}

// pacedLister is a Lister whose calls go through a pacer.
type pacedLister struct {
	next Lister
	p    *pacer
}

var _ Lister = pacedLister{}

func (l pacedLister) ListAccounts(ctx context.Context, scope Target, sel Selector) ([]Account, error) {
	var out []Account
	err := l.p.do(ctx, func() error {
		var err error
		out, err = l.next.ListAccounts(ctx, scope, sel)
		return err
	})
	return out, err
}

// pacedPageLister is a pacedLister whose lister also lists by page: the
// pages go through the same pacer, as they call the same API.
type pacedPageLister struct {
	pacedLister
	pages PageLister
}

var _ PageLister = pacedPageLister{}

func (l pacedPageLister) ListPage(ctx context.Context, scope Target, sel Selector, token string) (AccountPage, error) {
	var page AccountPage
	err := l.p.do(ctx, func() error {
		var err error
		page, err = l.pages.ListPage(ctx, scope, sel, token)
		return err
	})
	return page, err
}
