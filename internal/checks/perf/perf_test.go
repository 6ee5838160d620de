package perf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/perf"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func TestMedian(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"Empty", nil, 0},
		{"One", ms(7), 7 * time.Millisecond},
		{"OddUnsorted", ms(9, 1, 5), 5 * time.Millisecond},
		{"EvenMeanOfMiddle", ms(4, 1, 3, 2), 2500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			assert.Equal(t, tc.want, perf.Median(tc.in))
			assert.Equal(t, in, tc.in, "Median must not reorder its input")
		})
	}
}

func TestBatchFixture(t *testing.T) {
	const n = 50
	f := perf.BatchFixture(n)
	var req struct {
		Targets []struct {
			Target, DirectoryID, UserID string
		}
	}
	require.NoError(t, json.Unmarshal(perf.BatchRequest(n), &req))
	require.Len(t, req.Targets, n)
	for i, tt := range req.Targets {
		target := reset.Target{Kind: reset.Kind(tt.Target), DirectoryID: tt.DirectoryID, UserID: tt.UserID}
		require.NoError(t, target.Validate(), "target %d", i)
	}
	cloud := emulator.New(f)
	for i := range n {
		_, ok := cloud.SSOPassword(perf.BatchDirectoryID, perf.BatchUserID(i))
		require.True(t, ok, "user %d missing from the fixture", i)
	}
	_, ok := cloud.SSOPassword(emulator.FixtureDirectoryID, emulator.FixtureUserID)
	assert.True(t, ok, "the default fixture's users are kept")
}

// TestRotationRoundTrips checks the happy path's cost in calls, which the
// benchmarks report: four for a target whose secret exists (protocol v2:
// read pending, stage, reset, promote), over one connection per endpoint
// reused across invocations.
func TestRotationRoundTrips(t *testing.T) {
	cloud, eps := MustStartCloud(t)
	h, err := perf.NewHandler(eps)
	require.NoError(t, err)
	creds := fccontext.Credentials{}
	for _, tok := range emulator.DefaultFixture().STSTokens {
		if tok.AccessKeyID == emulator.FixtureFunctionRoleKeyID {
			creds = fccontext.Credentials{AccessKeyId: tok.AccessKeyID, AccessKeySecret: tok.AccessKeySecret, SecurityToken: tok.SecurityToken}
		}
	}
	invoke := func(id string) {
		ctx := fccontext.NewContext(testCtx(t), &fccontext.FcContext{RequestID: id, Credentials: creds})
		_, err := h.Invoke(ctx, perf.SingleRequest)
		require.NoError(t, err)
	}
	invoke("first-rotation")
	const n = 10
	cloud.ResetCalls()
	for i := range n {
		invoke("rotation-" + string(rune('a'+i)))
	}
	var actions []string
	for _, c := range cloud.Calls()[:4] {
		actions = append(actions, c.Action)
	}
	assert.Equal(t, []string{"GetSecretValue", "PutSecretValue", "ResetUserPassword", "UpdateSecretVersionStage"}, actions)
	assert.Len(t, cloud.Calls(), 4*n, "calls of %d rotations of an existing secret", n)
	assert.Equal(t, 1, cloud.Connections(emulator.KMS), "KMS connections over %d invocations", n+1)
	assert.Equal(t, 1, cloud.Connections(emulator.CloudSSO), "CloudSSO connections over %d invocations", n+1)
	assert.Equal(t, 0, cloud.Connections(emulator.BaaS))
}

func TestReportMarkdown(t *testing.T) {
	r := perf.Report{
		Machine: perf.Machine{CPUs: 2, CPUModel: "Test CPU", GoVersion: "go1.26", OS: "linux", Arch: "amd64"},
		When:    time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC),
		Figures: []perf.Figure{
			{Name: "cold start", Value: "5 ms", Target: "≤ 1.5×", Pass: true, Command: "make bench"},
			{Name: "size", Value: "13 MB", Target: "≤ 12 MB", Pass: false, Command: "make build"},
			perf.Info("hello|world", "4 ms", "make bench"),
		},
		Findings: []string{"a finding"},
		Notes:    []string{"a note"},
	}
	var buf bytes.Buffer
	require.NoError(t, r.WriteMarkdown(&buf))
	got := buf.String()
	for _, want := range []string{
		"2 CPUs, Test CPU; go1.26 linux/amd64. Measured 2025-01-02 03:04 UTC.",
		"| cold start | 5 ms | ≤ 1.5× | pass | `make bench` |",
		"| size | 13 MB | ≤ 12 MB | **miss** | `make build` |",
		`| hello\|world | 4 ms | — |  | ` + "`make bench` |",
		"## Findings\n\n- a finding\n\n## Method\n\n- a note\n",
	} {
		assert.Contains(t, got, want)
	}
	require.Len(t, r.Failed(), 1)
	assert.Equal(t, "size", r.Failed()[0].Name)
}

func TestProcessFigures(t *testing.T) {
	pid := os.Getpid()
	_, err := perf.ProcessCPU(pid)
	require.NoError(t, err)
	rss, err := perf.PeakRSS(pid)
	require.NoError(t, err)
	assert.Positive(t, rss)
	_, err = perf.PeakRSS(-1)
	assert.Error(t, err)
}

func TestColdStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hello")
	require.NoError(t, perf.Build(testCtx(t), "../../testenv/emulator/testdata/hello", bin))
	rt := emulator.NewRuntime()
	addr, err := rt.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })

	t.Run("OK_OnePollPerStart", func(t *testing.T) {
		before := rt.PollCount()
		ds, err := perf.ColdStarts(testCtx(t), rt, addr, nil, 2, bin, bin)
		require.NoError(t, err)
		require.Len(t, ds, 2)
		for _, d := range ds {
			require.Len(t, d, 2)
			for _, v := range d {
				assert.Positive(t, v)
			}
		}
		assert.Equal(t, before+4, rt.PollCount())
	})
	t.Run("ErrExitsWithoutPolling", func(t *testing.T) {
		// Without a runtime API address the SDK exits at once.
		_, err := perf.ColdStart(testCtx(t), rt, "", bin, nil)
		require.ErrorContains(t, err, "exited before polling")
	})
}

func TestBatchFloor(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		rate float64
		want time.Duration
	}{
		{"OK_BurstThenRate", 1000, 100, 9 * time.Second},
		{"OK_AllInBurst", 50, 100, 0},
		{"OK_Fractional", 30, 20, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, perf.BatchFloor(tc.n, tc.rate))
		})
	}
}

func TestLatencyCap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight int
		calls    int
		latency  time.Duration
		want     float64
	}{
		{"OK_DefaultV2", 8, 4, 20 * time.Millisecond, 100},
		{"OK_V1", 8, 3, 20 * time.Millisecond, 8 / 0.06},
		{"OK_Max", 32, 4, 50 * time.Millisecond, 160},
		{"OK_NoLatencyNoCap", 8, 4, 0, 0},
		{"OK_NoCallsNoCap", 8, 0, time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, perf.LatencyCap(tc.inFlight, tc.calls, tc.latency), 1e-9)
		})
	}
}

// TestOutcomeEventsRoundTrips checks what the outcome events cost: one
// event and one PutEvents per single rotation, after its four protocol
// calls; one event per target and one PutEvents per 16 in a batch, all
// after the batch's last protocol call; one policy read per directory.
func TestOutcomeEventsRoundTrips(t *testing.T) {
	const n = 40
	c, err := perf.OutcomeEvents(testCtx(t), n)
	require.NoError(t, err)
	assert.Equal(t, []string{"GetSecretValue", "PutSecretValue", "ResetUserPassword", "UpdateSecretVersionStage", "PutEvents"}, c.SingleCalls)
	assert.Equal(t, 1, c.SingleEvents)
	assert.Equal(t, n, c.BatchEvents)
	assert.Equal(t, (n+15)/16, c.BatchPutEvents)
	assert.Equal(t, 4*n+(n+15)/16, c.BatchCalls)
	assert.Equal(t, 1, c.BatchPolicyReads, "the directory's rules, read once for the batch")
	assert.True(t, c.PutEventsLast, "events are published after the last protocol call")
}
