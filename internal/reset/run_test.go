package reset_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

const runDir = "d-00fc2p61ab12"

// fakeLister lists n CloudSSO users of runDir.
type fakeLister struct{ n int }

func (l fakeLister) ListAccounts(_ context.Context, scope reset.Target, _ reset.Selector) ([]reset.Account, error) {
	out := make([]reset.Account, l.n)
	for i := range out {
		out[i] = reset.Account{Target: reset.Target{Kind: reset.KindCloudSSO, DirectoryID: scope.DirectoryID, UserID: fmt.Sprintf("u-run%04d", i)}, Status: "Enabled"}
	}
	return out, nil
}

// fakeContinuer keeps the chunks queued.
type fakeContinuer struct {
	mu     sync.Mutex
	queued [][]byte
}

func (c *fakeContinuer) Continue(_ context.Context, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued = append(c.queued, payload)
	return nil
}

type countCompleted struct {
	mu  sync.Mutex
	got []reset.RunSummary
}

func (c *countCompleted) RunCompleted(_ context.Context, s reset.RunSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, s)
}

func mustRunEnv(t *testing.T, n int, cont reset.Continuer, done reset.RunCompleted) *env {
	return MustEnv(t, nil, func(d *reset.Deps) {
		d.Listers = map[reset.Kind]reset.Lister{reset.KindCloudSSO: fakeLister{n}}
		d.Continuer, d.Completed = cont, done
	})
}

func selectRequest() reset.Request {
	return reset.Request{IdempotencyKey: "http:3:run", Targets: []reset.Target{{Kind: reset.KindCloudSSO, DirectoryID: runDir}},
		Select: &reset.Selector{}, MaxTargets: 1000}
}

func deadline(e *env) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), e.Clock.Now().Add(time.Minute))
}

func chunkRequest(t *testing.T, payload []byte) reset.Request {
	var ev reset.ContinuationEvent
	require.NoError(t, json.Unmarshal(payload, &ev))
	return reset.Request{IdempotencyKey: "continuation:1:x", Continuation: &ev}
}

func TestContinuedRun(t *testing.T) {
	cont, done := &fakeContinuer{}, &countCompleted{}
	e := mustRunEnv(t, 250, cont, done)
	ctx, cancel := deadline(e)
	defer cancel()
	res, err := e.Rotator.Rotate(ctx, selectRequest())
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, reset.StatusAccepted, res[0].Status)
	assert.Equal(t, &reset.RunInfo{ID: "http:3:run", Targets: 250}, res[0].Run)
	assert.Zero(t, e.Rec.Count("ResetPassword"), "the first answer resets nothing")

	var first []byte
	for chunks := 0; ; chunks++ {
		require.Less(t, chunks, 10)
		cont.mu.Lock()
		if len(cont.queued) == 0 {
			cont.mu.Unlock()
			assert.Equal(t, 3, chunks, "250 users in chunks of 100")
			break
		}
		p := cont.queued[0]
		cont.queued = cont.queued[1:]
		cont.mu.Unlock()
		if first == nil {
			first = p
		}
		res, err := e.Rotator.Rotate(ctx, chunkRequest(t, p))
		require.NoError(t, err)
		assert.Equal(t, reset.StatusAccepted, res[0].Status)
	}
	require.Len(t, done.got, 1, "the run ends once, at its last chunk")
	assert.Equal(t, 250, done.got[0].Rotated)
	assert.Equal(t, 250, done.got[0].Matched)
	for i := range 250 {
		tg := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: runDir, UserID: fmt.Sprintf("u-run%04d", i)}
		require.Len(t, e.SSO.Applied(tg), 1, tg.Key())
		assert.Equal(t, reset.VersionID("http:3:run", tg), mustStaged(t, e, tg).VersionID, "the version id is the run's")
	}
	assert.False(t, strings.Contains(e.LogLines.String(), "signature\":\""), "no signature logged")

	t.Run("RedeliveredChunk", func(t *testing.T) {
		before := e.Rec.Count("ResetPassword")
		_, err := e.Rotator.Rotate(ctx, chunkRequest(t, first))
		require.NoError(t, err)
		assert.Equal(t, before, e.Rec.Count("ResetPassword"), "no second password")
		assert.Empty(t, cont.queued, "a redelivered chunk hands nothing on again")
		assert.Len(t, done.got, 1, "the run does not end twice")
	})
	t.Run("RetriedFirstRequest", func(t *testing.T) {
		res, err := e.Rotator.Rotate(ctx, selectRequest())
		require.NoError(t, err)
		assert.Equal(t, reset.StatusAccepted, res[0].Status)
		assert.Empty(t, cont.queued, "the run was handed on already")
	})
}

func mustStaged(t *testing.T, e *env, tg reset.Target) reset.SecretVersion {
	v, ok := e.Store.Staged(tg.SecretName(reset.DefaultSecretPrefix), reset.StageCurrent)
	require.True(t, ok)
	return v
}

func TestContinuationRefused(t *testing.T) {
	cont := &fakeContinuer{}
	e := mustRunEnv(t, 150, cont, nil)
	ctx, cancel := deadline(e)
	defer cancel()
	_, err := e.Rotator.Rotate(ctx, selectRequest())
	require.NoError(t, err)
	require.Len(t, cont.queued, 1)
	var genuine reset.ContinuationEvent
	require.NoError(t, json.Unmarshal(cont.queued[0], &genuine))
	body, _ := base64.StdEncoding.DecodeString(genuine.Continuation)
	tampered := base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(body), `"runId":"http:`, `"runId":"timer:`, 1)))
	for _, tt := range []struct {
		name string
		ev   reset.ContinuationEvent
	}{
		{"ErrUnsigned", reset.ContinuationEvent{Continuation: genuine.Continuation}},
		{"ErrTampered", reset.ContinuationEvent{Continuation: tampered, Signature: genuine.Signature}},
		{"ErrForged", reset.ContinuationEvent{Continuation: genuine.Continuation, Signature: strings.Repeat("0", 64)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.Rec.Calls())
			_, err := e.Rotator.Rotate(ctx, reset.Request{IdempotencyKey: "continuation:1:x", Continuation: &tt.ev})
			require.ErrorIs(t, err, reset.ErrContinuationSignature)
			assert.Equal(t, reset.EForbidden, reset.ErrorCodeOf(err))
			assert.Len(t, e.Rec.Calls(), before, "no call: the key is cached")
		})
	}
	assert.Len(t, cont.queued, 1)
}

func TestRunWithoutContinuerRunsInProcess(t *testing.T) {
	done := &countCompleted{}
	e := mustRunEnv(t, 250, nil, done)
	ctx, cancel := deadline(e)
	defer cancel()
	res, err := e.Rotator.Rotate(ctx, selectRequest())
	require.NoError(t, err)
	require.Len(t, res, 250)
	require.Len(t, done.got, 1)
	assert.Equal(t, 250, done.got[0].Rotated)
	assert.Equal(t, 3, strings.Count(e.LogLines.String(), `"msg":"run progress"`))
}

func TestStepReserveScalesWithTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		want    reset.Status
	}{
		{"ShortInvocationStillRotates", 6 * time.Second, reset.StatusRotated},
		{"NoTimeoutKeepsFullReserve", 0, reset.StatusSkipped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := MustEnv(t, func(c *reset.Config) { c.StepReserve = 3 * time.Second })
			ctx, cancel := context.WithDeadline(context.Background(), e.Clock.Now().Add(6*time.Second))
			defer cancel()
			if tt.timeout > 0 {
				ctx = reset.WithTimeout(ctx, tt.timeout)
			}
			res, err := e.Rotator.Rotate(ctx, reset.Request{IdempotencyKey: "k", Targets: []reset.Target{{Kind: reset.KindCloudSSO, DirectoryID: runDir, UserID: "u-1"}}})
			require.NoError(t, err)
			assert.Equal(t, tt.want, res[0].Status)
		})
	}
}

// drain delivers the queued chunks in order, each delivered times times in
// a row (a redelivery after its first attempt had handed on), and returns
// how many distinct chunks ran.
func drain(t *testing.T, ctx context.Context, e *env, cont *fakeContinuer, times int) int {
	t.Helper()
	for chunks := 0; ; chunks++ {
		require.Less(t, chunks, 20)
		cont.mu.Lock()
		if len(cont.queued) == 0 {
			cont.mu.Unlock()
			return chunks
		}
		p := cont.queued[0]
		cont.queued = cont.queued[1:]
		cont.mu.Unlock()
		for range times {
			res, err := e.Rotator.Rotate(ctx, chunkRequest(t, p))
			require.NoError(t, err)
			assert.Equal(t, reset.StatusAccepted, res[0].Status)
		}
	}
}

func TestChunksRedeliveredTwice(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  func() reset.Request
	}{
		{"Select", selectRequest},
		{"Batch", func() reset.Request { return batchRequest(250) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cont, done := &fakeContinuer{}, &countCompleted{}
			e := mustRunEnv(t, 250, cont, done)
			ctx, cancel := deadline(e)
			defer cancel()
			_, err := e.Rotator.Rotate(ctx, tt.req())
			require.NoError(t, err)
			assert.Equal(t, 3, drain(t, ctx, e, cont, 3), "one chain: each chunk handed on once")
			require.Len(t, done.got, 1, "one Run:Completed")
			assert.Equal(t, 250, done.got[0].Rotated)
			assert.Equal(t, 250, e.Rec.Count("ResetPassword"), "one password each")
		})
	}
}

func batchRequest(n int) reset.Request {
	req := reset.Request{IdempotencyKey: "http:3:batch", Batch: true}
	for i := range n {
		req.Targets = append(req.Targets, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: runDir, UserID: fmt.Sprintf("u-run%04d", i),
			RequirePasswordResetForNextLogin: i%2 == 0})
	}
	return req
}

func TestBatchRun(t *testing.T) {
	for _, tt := range []struct {
		name     string
		n        int
		cont     bool
		accepted bool
	}{
		{"LongBatchContinues", 250, true, true},
		{"ChunkSizedBatchAnswersInline", 100, true, false},
		{"NoContinuerAnswersInline", 250, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cont, done := &fakeContinuer{}, &countCompleted{}
			var c reset.Continuer
			if tt.cont {
				c = cont
			}
			e := mustRunEnv(t, 0, c, done)
			ctx, cancel := deadline(e)
			defer cancel()
			req := batchRequest(tt.n)
			res, err := e.Rotator.Rotate(ctx, req)
			require.NoError(t, err)
			if !tt.accepted {
				require.Len(t, res, tt.n, "one result per target")
				assert.Empty(t, cont.queued)
				assert.Empty(t, done.got, "a batch in one invocation is no run")
				return
			}
			require.Len(t, res, 1)
			assert.Equal(t, reset.StatusAccepted, res[0].Status)
			assert.Equal(t, &reset.RunInfo{ID: req.IdempotencyKey, Targets: tt.n}, res[0].Run)
			assert.Zero(t, e.Rec.Count("ResetPassword"), "the first answer resets nothing")
			assert.Equal(t, 3, drain(t, ctx, e, cont, 1))
			require.Len(t, done.got, 1)
			assert.Equal(t, tt.n, done.got[0].Rotated)
			for _, tg := range req.Targets {
				require.Len(t, e.SSO.Applied(tg), 1, tg.Key())
				assert.Equal(t, reset.VersionID(req.IdempotencyKey, tg), mustStaged(t, e, tg).VersionID, "the version id is the batch's")
			}
		})
	}
}

func TestBatchContinuationFitsAtMaxTargets(t *testing.T) {
	cont := &fakeContinuer{}
	e := mustRunEnv(t, 0, cont, nil)
	ctx, cancel := deadline(e)
	defer cancel()
	// 1000 Fabric targets, each in its own scope (the worst grouping).
	req := reset.Request{IdempotencyKey: "http:3:big", Batch: true, DryRun: true}
	for i := range reset.MaxTargets {
		req.Targets = append(req.Targets, reset.Target{Kind: reset.KindFabric, OrganizationID: fmt.Sprintf("peers-%08d", i),
			Username: fmt.Sprintf("user-%04d-%s", i, strings.Repeat("x", 54)), Location: "cn-hangzhou"})
	}
	res, err := e.Rotator.Rotate(ctx, req)
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, reset.StatusAccepted, res[0].Status)
	require.Len(t, cont.queued, 1)
	assert.LessOrEqual(t, len(cont.queued[0]), 128_000, "the continuation fits the handler's event limit")
	inline := e.Rec.Count("Describe")
	assert.Positive(t, inline, "the targets that did not fit were checked in the first invocation")
	assert.Less(t, inline, reset.MaxTargets)
	// The rest, chunk by chunk: every target once.
	drain(t, ctx, e, cont, 1)
	assert.Equal(t, reset.MaxTargets, e.Rec.Count("Describe"))
}
