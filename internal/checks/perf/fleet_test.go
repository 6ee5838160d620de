package perf_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/perf"
)

func TestFleetFloor(t *testing.T) {
	for _, tc := range []struct {
		name        string
		users       int
		first       bool
		scale       float64
		want        time.Duration
		wantBinding string
	}{
		// ResetUserPassword, PutSecretValue and UpdateSecretVersionStage
		// have 100/s each; the first of the three in name order is named.
		{"ExistingSecrets10000", 10_000, false, 1, 99 * time.Second, "PutSecretValue"},
		{"ExistingSecretsScaled", 250, false, 0.5, 4 * time.Second, "PutSecretValue"},
		// CreateSecret's 10/s binds a first rotation.
		{"FirstRotation500", 500, true, 1, 49 * time.Second, "CreateSecret"},
		{"NothingBeyondTheBurst", 5, false, 1, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, binding := perf.FleetFloor(tc.users, tc.first, tc.scale)
			assert.Equal(t, tc.want, got)
			if tc.wantBinding != "" {
				assert.Equal(t, tc.wantBinding, binding)
			}
		})
	}
}

// TestFleetRunSmall is the fleet bench in small: a selector run over 400
// users with existing secrets, every API at its quota, 20 ms of
// latency, continued in chunks through the local Function Compute, and a
// rotation through the HTTP trigger sent in the middle. It counts; it
// never times. At half the quotas (QuotaScale 0.5) 400 users take about
// 7 s beyond the buckets' first second, so the run spans chunks of
// reset.DefaultChunkTime and PutSecretValue's 50/s binds: with one pacer
// per service (before 2026-12-01) that failed 1 to 3 targets and let
// PutSecretValue's throttling reach 11% of the calls; with one per API
// none.
func TestFleetRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	bin := filepath.Join(t.TempDir(), "main")
	require.NoError(t, perf.Build(testCtx(t), "github.com/pwreset/pwreset", bin))
	res, err := perf.FleetRun(testCtx(t), perf.FleetConfig{Binary: bin, Users: 400, QuotaScale: 0.5, Latency: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Logf("throttled %d of %d calls: %v; %d chunks", res.Throttled, res.Calls, res.ThrottledByAction, res.Chunks)
	assert.Equal(t, 400, res.Rotated, "every user rotated")
	assert.Zero(t, res.Failed)
	assert.Zero(t, res.Skipped)
	// One password per user, and the HTTP call's.
	assert.Equal(t, 400+1, res.CallsByAction["ResetUserPassword"])
	assert.LessOrEqual(t, res.ThrottledShare(), 0.10, "throttled %d of %d calls: %v", res.Throttled, res.Calls, res.ThrottledByAction)
	assert.Greater(t, res.Chunks, 1, "the run spans chunks")
	assert.True(t, res.ProbeRotated)
	assert.Equal(t, 200, res.ProbeStatus)
	assert.Positive(t, res.ProbeChunksBefore, "the HTTP call was answered after a chunk")
	assert.Positive(t, res.ProbeChunksAfter, "the HTTP call was answered before the run's last chunk")
	assert.Positive(t, res.PeakRSS)
	assert.False(t, res.Leaked, "a password in the function's output")
}
