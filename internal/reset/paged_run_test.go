package reset_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

// pageLister lists the users of runDir by pages of 100, as CloudSSO
// ListUsers does; its tokens are "p<index of the page's first user>g<gen>"
// (an offset: a deletion before it shifts the page). expireAt, when set,
// starts a new generation once that many pages are read: tokens issued
// before are refused (EInvalid), the place is lost and the run lists again.
type pageLister struct {
	mu       sync.Mutex
	ids      []string
	pages    int
	expireAt int
	gen      int
	gone     map[string]bool // users deleted from the directory
}

func newPageLister(n int) *pageLister {
	l := &pageLister{gone: map[string]bool{}}
	for i := range n {
		l.ids = append(l.ids, fmt.Sprintf("u-pagedfleetuser%08d", i))
	}
	return l
}

func (l *pageLister) ListAccounts(ctx context.Context, scope reset.Target, sel reset.Selector) ([]reset.Account, error) {
	var out []reset.Account
	tok := ""
	for {
		p, err := l.ListPage(ctx, scope, sel, tok)
		if err != nil {
			return nil, err
		}
		if out = append(out, p.Accounts...); p.Next == "" {
			return out, nil
		}
		tok = p.Next
	}
}

func (l *pageLister) ListPage(_ context.Context, scope reset.Target, _ reset.Selector, token string) (reset.AccountPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pages++
	if l.expireAt > 0 && l.pages == l.expireAt {
		l.gen++
	}
	var live []string
	for _, id := range l.ids {
		if !l.gone[id] {
			live = append(live, id)
		}
	}
	at := 0
	if token != "" {
		at0, gen, _ := strings.Cut(strings.TrimPrefix(token, "p"), "g")
		n, err := strconv.Atoi(at0)
		if err != nil || n > len(live) || gen != strconv.Itoa(l.gen) {
			return reset.AccountPage{}, reset.FieldError("NextToken", "is not valid")
		}
		at = n
	}
	var p reset.AccountPage
	for _, id := range live[at:min(at+100, len(live))] {
		p.Accounts = append(p.Accounts, reset.Account{Target: reset.Target{Kind: reset.KindCloudSSO, DirectoryID: scope.DirectoryID, UserID: id},
			Status: "Enabled"})
	}
	if at+100 < len(live) {
		p.Next = fmt.Sprintf("p%dg%d", at+100, l.gen)
	}
	return p, nil
}

func (l *pageLister) read() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pages
}

// TestPagedRun: a selector run whose ids do not fit a continuation carries
// the listing's position, so a chunk lists only its own pages, and every
// account is rotated exactly once, under the run's version ids.
func TestPagedRun(t *testing.T) {
	const users = 5000 // 5000 ids of 24 characters do not fit MaxContinuationBody
	cases := []struct {
		name     string
		expireAt int  // pages read after which tokens are refused
		delete   bool // the account after which the run stands is deleted mid-run
		// most pages read by the chunks: each lists only its own pages,
		// unless the position is lost (one listing again)
		maxChunkPages int
	}{
		{"OK_ChunksListTheirOwnPages", 0, false, 2 * users / 100},
		{"OK_TokenRefusedListsAgain", 80, false, 3 * users / 100},
		{"OK_AccountDeletedFoundByAnchor", 0, true, 2 * users / 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cont, done := &fakeContinuer{}, &countCompleted{}
			l := newPageLister(users)
			l.expireAt = tc.expireAt
			e := MustEnv(t, nil, func(d *reset.Deps) {
				d.Listers = map[reset.Kind]reset.Lister{reset.KindCloudSSO: l}
				d.Continuer, d.Completed = cont, done
			})
			ctx, cancel := deadline(e)
			defer cancel()
			req := selectRequest()
			req.MaxTargets = users
			res, err := e.Rotator.Rotate(ctx, req)
			require.NoError(t, err)
			require.Equal(t, &reset.RunInfo{ID: "http:3:run", Targets: users}, res[0].Run)
			listed := l.read()
			assert.Equal(t, users/100, listed, "the first answer lists every page once")

			chunks := 0
			for ; ; chunks++ {
				require.Less(t, chunks, 2*users/100)
				cont.mu.Lock()
				if len(cont.queued) == 0 {
					cont.mu.Unlock()
					break
				}
				p := cont.queued[0]
				cont.queued = cont.queued[1:]
				cont.mu.Unlock()
				body := continuationBody(t, p)
				assert.NotContains(t, body, `"ids"`, "the ids do not fit: the position is carried")
				assert.Contains(t, body, `"paged":true`)
				if tc.delete && chunks == 10 {
					// The run stands after u-pagedfleetuser00000999 (10 chunks of 100).
					l.mu.Lock()
					l.gone["u-pagedfleetuser00000999"] = true
					l.mu.Unlock()
				}
				_, err := e.Rotator.Rotate(ctx, chunkRequest(t, p))
				require.NoError(t, err)
			}
			assert.Equal(t, users/100, chunks)
			assert.LessOrEqual(t, l.read()-listed, tc.maxChunkPages, "pages read by the chunks")
			assert.Equal(t, tc.expireAt > 0, strings.Contains(e.LogLines.String(), "run listing place lost"),
				"the place is lost only when a token is refused")
			require.Len(t, done.got, 1)
			assert.Equal(t, users, done.got[0].Matched, "every account of the announced total, once")
			assert.Equal(t, users, done.got[0].Rotated)
			for _, id := range l.ids {
				tg := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: runDir, UserID: id}
				require.Len(t, e.SSO.Applied(tg), 1, tg.Key())
				require.Equal(t, reset.VersionID("http:3:run", tg), mustStaged(t, e, tg).VersionID, "the version id is the run's")
			}
		})
	}
}

func continuationBody(t *testing.T, payload []byte) string {
	var ev reset.ContinuationEvent
	require.NoError(t, json.Unmarshal(payload, &ev))
	b, err := base64.StdEncoding.DecodeString(ev.Continuation)
	require.NoError(t, err)
	return string(b)
}

// TestChunksSizedByTime: a chunk hands out targets for ChunkTime, by the
// rotator's clock, and hands the rest on; the next chunk covers about as
// many as the last one did per second of its time.
func TestChunksSizedByTime(t *testing.T) {
	cases := []struct {
		name     string
		perReset time.Duration // each reset's own time, on the fake clock
		want     []int         // resets per chunk
	}{
		// 100 ms a target, one at a time, 1 s a chunk: 10 per chunk.
		{"OK_SlowTargetsStopAtTheChunksTime", 100 * time.Millisecond, []int{10, 10, 10, 10, 10}},
		// 1 ms a target: the first chunk's 100 take 0.1 s, so the next
		// one takes up to 4 × ChunkTargets, all that is left.
		{"OK_FastTargetsMakeLargerChunks", time.Millisecond, []int{100, 150}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const users = 250
			cont, done := &fakeContinuer{}, &countCompleted{}
			e := MustEnv(t, func(c *reset.Config) {
				c.ChunkTime, c.MaxInFlight = time.Second, 1
			}, func(d *reset.Deps) {
				d.Listers = map[reset.Kind]reset.Lister{reset.KindCloudSSO: fakeLister{users}}
				d.Continuer, d.Completed = cont, done
			})
			e.SSO.Before = func(context.Context, reset.Target, string) error {
				e.Clock.Advance(tc.perReset)
				return nil
			}
			ctx, cancel := deadline(e)
			defer cancel()
			_, err := e.Rotator.Rotate(ctx, selectRequest())
			require.NoError(t, err)
			var got []int
			for len(got) < 2*users {
				cont.mu.Lock()
				if len(cont.queued) == 0 {
					cont.mu.Unlock()
					break
				}
				p := cont.queued[0]
				cont.queued = cont.queued[1:]
				cont.mu.Unlock()
				before := e.Rec.Count("ResetPassword")
				_, err := e.Rotator.Rotate(ctx, chunkRequest(t, p))
				require.NoError(t, err)
				got = append(got, e.Rec.Count("ResetPassword")-before)
			}
			require.GreaterOrEqual(t, len(got), len(tc.want))
			assert.Equal(t, tc.want, got[:len(tc.want)], "resets per chunk")
			require.Len(t, done.got, 1)
			assert.Equal(t, users, done.got[0].Rotated, "every account once")
			assert.Equal(t, users, done.got[0].Matched)
			assert.NotContains(t, e.LogLines.String(), `"status":"skipped"`, "targets past the chunk's time are handed on, not skipped")
		})
	}
}

// TestSweepRunIsNotPaged: a sweep continued in chunks (no selector, no
// lister) carries its names or cursor, never a listing's place, and ends
// once with every secret looked at.
func TestSweepRunIsNotPaged(t *testing.T) {
	const users = 150
	cont, done := &fakeContinuer{}, &countCompleted{}
	e := MustEnv(t, nil, func(d *reset.Deps) {
		d.Listers = map[reset.Kind]reset.Lister{reset.KindCloudSSO: newPageLister(users)}
		d.Continuer, d.Completed = cont, done
	})
	ctx, cancel := deadline(e)
	defer cancel()
	for i := range users {
		tg := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: runDir, UserID: fmt.Sprintf("u-pagedfleetuser%08d", i)}
		MustRotate(t, ctx, e, req(fmt.Sprintf("seed-%d", i), tg))
	}
	res, err := e.Rotator.Rotate(ctx, sweepReq("sweep-run", false))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, reset.StatusAccepted, res[0].Status)
	for chunks := 0; ; chunks++ {
		require.Less(t, chunks, 10)
		cont.mu.Lock()
		if len(cont.queued) == 0 {
			cont.mu.Unlock()
			break
		}
		p := cont.queued[0]
		cont.queued = cont.queued[1:]
		cont.mu.Unlock()
		assert.NotContains(t, continuationBody(t, p), `"paged"`)
		_, err := e.Rotator.Rotate(ctx, chunkRequest(t, p))
		require.NoError(t, err)
	}
	require.Len(t, done.got, 1)
	assert.Equal(t, users, done.got[0].Matched)
	assert.Equal(t, users, done.got[0].Healthy)
}
