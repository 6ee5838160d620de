package reset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagedLister is a PageLister over ids, size per page; its tokens are
// "p<index of the page's first id>". It answers throttled[token] of the
// page's calls with errThrottled first, and records every call's token.
type pagedLister struct {
	ids       []string
	size      int
	throttled map[string]int
	repeat    bool // every page's Next is "p1"
	calls     []string
}

func (l *pagedLister) ListAccounts(ctx context.Context, scope Target, sel Selector) ([]Account, error) {
	var out []Account
	tok := ""
	for {
		p, err := l.ListPage(ctx, scope, sel, tok)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Accounts...)
		if p.Next == "" {
			return out, nil
		}
		tok = p.Next
	}
}

func (l *pagedLister) ListPage(_ context.Context, scope Target, _ Selector, token string) (AccountPage, error) {
	l.calls = append(l.calls, token)
	if l.throttled[token] > 0 {
		l.throttled[token]--
		return AccountPage{}, errThrottled
	}
	at := 0
	if token != "" {
		if _, err := fmt.Sscanf(token, "p%d", &at); err != nil || at >= len(l.ids) {
			return AccountPage{}, &Error{Code: EInvalid, Message: "InvalidParameter.NextToken"}
		}
	}
	var page AccountPage
	for _, id := range l.ids[at:min(at+l.size, len(l.ids))] {
		t := scope
		t.UserID = id
		page.Accounts = append(page.Accounts, Account{Target: t, UserName: id, Status: SSOStatusEnabled})
	}
	if at+l.size < len(l.ids) {
		page.Next = fmt.Sprintf("p%d", at+l.size)
		if l.repeat {
			page.Next = "p1"
		}
	}
	return page, nil
}

func testRotator(c Clock) *Rotator {
	return &Rotator{
		cfg: Config{MaxAttempts: 3, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
			StepReserve: 3 * time.Second},
		clock: c,
		rand:  rand.NewChaCha8([32]byte{1}),
	}
}

func fleetIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%05d", i)
	}
	return ids
}

func TestWalkPages(t *testing.T) {
	scope := Target{Kind: KindCloudSSO, DirectoryID: "d-1"}
	cases := []struct {
		name      string
		lister    *pagedLister
		from      string
		wantIDs   int
		wantCalls []string
		wantCode  ErrorCode
	}{
		{"OK_EveryPage", &pagedLister{ids: fleetIDs(25), size: 10}, "", 25, []string{"", "p10", "p20"}, ""},
		{"OK_ThrottledPageRetried", &pagedLister{ids: fleetIDs(25), size: 10, throttled: map[string]int{"p10": 4}}, "",
			25, []string{"", "p10", "p10", "p10", "p10", "p10", "p20"}, ""},
		{"OK_FromAToken", &pagedLister{ids: fleetIDs(25), size: 10}, "p10", 15, []string{"p10", "p20"}, ""},
		{"ErrTokenRefused", &pagedLister{ids: fleetIDs(25), size: 10}, "p99", 0, []string{"p99"}, EInvalid},
		{"ErrRepeatedToken", &pagedLister{ids: fleetIDs(25), size: 10, repeat: true}, "", 20, []string{"", "p1"}, EUpstream},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
			r := testRotator(c)
			ctx, cancel := context.WithDeadline(t.Context(), c.Now().Add(time.Minute))
			defer cancel()
			got := 0
			err := r.walk(ctx, tc.lister, scope, Selector{}, tc.from, 1, func(_, _ string, page []Account) bool {
				got += len(page)
				return true
			})
			if tc.wantCode != "" {
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, ErrorCodeOf(err))
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantIDs, got)
			assert.Equal(t, tc.wantCalls, tc.lister.calls)
		})
	}
}

func TestPaceIsPerAPI(t *testing.T) {
	c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := paceStore(&recordingStore{}, c)
	assert.Same(t, s.read, s.read)
	for name, p := range map[string]*pacer{"put": s.put, "read": s.read, "stage": s.stage} {
		assert.NotSame(t, s.create, p, "CreateSecret shares no pacer with %s", name)
	}
	// A crowd of CreateSecret calls throttled: CreateSecret is paced.
	tks := burst(s.create, 20)
	s.create.answered(tks[1], true, true)
	require.Positive(t, s.create.pace())
	// The other APIs' successes neither pace them nor raise CreateSecret's.
	before := s.create.pace()
	for range 50 {
		require.NoError(t, s.PutVersion(t.Context(), "n", "v", nil, []string{StagePending}))
		_, err := s.GetStaged(t.Context(), "n", StagePending)
		require.NoError(t, err)
		require.NoError(t, s.Promote(t.Context(), "n", "v"))
	}
	assert.Equal(t, before, s.create.pace())
	assert.Zero(t, s.put.pace())
	assert.Zero(t, s.read.pace())
	assert.Zero(t, s.stage.pace())
	for _, tk := range tks[2:] {
		s.create.answered(tk, true, false)
	}
	assert.Empty(t, c.slept(), "no call of another API waited for CreateSecret's pace")
}

func TestSequentialPacerPacesAListing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sequential bool
		wantPaced  bool
	}{
		{"OK_ListingPaced", true, true},
		{"OK_LoneCallsNot", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &stepClock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
			p := newPacer(c)
			if tc.sequential {
				p = newSequentialPacer(c)
			}
			for range paceBurst {
				require.NoError(t, p.do(t.Context(), func() error { c.advance(20 * time.Millisecond); return nil }))
			}
			assert.ErrorIs(t, p.do(t.Context(), func() error { return errThrottled }), errThrottled)
			assert.Equal(t, tc.wantPaced, p.pace() > 0, "pace %v", p.pace())
		})
	}
}

func TestPacerCutsToWhatTheAPIGranted(t *testing.T) {
	for _, tc := range []struct {
		name string
		oks  int
		want float64
	}{
		// 30 calls started in the last second, 12 answered: the API
		// granted 12, so the pace lands under 12, not under 30.
		{"OK_GrantedBelowSent", 12, 12 * paceCut},
		// Too few answers to tell what was granted: the calls sent decide.
		{"OK_FewAnswersUseTheCallsSent", paceBurst - 1, 30 * paceCut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestPacer()
			tks := burst(p, 30)
			for _, tk := range tks[:tc.oks] {
				p.answered(tk, true, false)
			}
			p.answered(tks[tc.oks], true, true)
			assert.InDelta(t, tc.want, p.pace(), 1e-9)
		})
	}
}
