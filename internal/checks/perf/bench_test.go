package perf_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/perf"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// MustStartLocalCloud builds and runs the emulator as its own process; it
// stops when tb ends.
func MustStartLocalCloud(tb testing.TB) *perf.LocalCloud {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "localcloud")
	require.NoError(tb, perf.Build(testCtx(tb), perf.LocalCloudPackage, bin))
	lc, err := perf.StartLocalCloud(testCtx(tb), bin)
	require.NoError(tb, err)
	tb.Cleanup(lc.Close)
	return lc
}

// MustStartCloud starts an in-process cloud seeded with the default
// fixture; it stops when tb ends.
func MustStartCloud(tb testing.TB) (*emulator.Cloud, emulator.Endpoints) {
	tb.Helper()
	c := emulator.New(emulator.DefaultFixture())
	eps, err := c.Start()
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c, eps
}

// BenchmarkRotation measures one rotation of an existing secret through the
// handler main builds: decode, stage, reset and promote over HTTP, encode.
// CloudInOtherProcess runs the emulator as a separate process, so ns/op,
// cpu-ns/op, B/op and allocs/op are pwreset's alone (ns/op still waits for
// the emulator's answers); CloudInProcess includes the emulator's work and
// counts the API calls per rotation.
func BenchmarkRotation(b *testing.B) {
	lc := MustStartLocalCloud(b)
	b.Run("CloudInOtherProcess", perf.RotationBenchmark(lc.Endpoints, nil))
	cloud, eps := MustStartCloud(b)
	b.Run("CloudInProcess", perf.RotationBenchmark(eps, func() int { return len(cloud.Calls()) }))
}

// BenchmarkHandler measures the handler's own work per invocation (decode
// the event, shape and encode the answer) with a rotator that does nothing.
func BenchmarkHandler(b *testing.B) {
	b.Run("HTTP", perf.HandlerBenchmark(true))
	b.Run("Direct", perf.HandlerBenchmark(false))
}
