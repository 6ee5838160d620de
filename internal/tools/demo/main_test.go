package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

func MustBuild(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(tb.TempDir(), "main")
	require.NoError(tb, localrun.Build(ctx, bin))
	return bin
}

func TestRun(t *testing.T) {
	bin := MustBuild(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("OK_SampleEvents", func(t *testing.T) {
		var out bytes.Buffer
		err := run(ctx, []string{"-binary", bin, "-events", "../../../events"}, &out)
		require.NoError(t, err, "output:\n%s", out.String())
		text := out.String()
		assert.Contains(t, text, "password in effect on ")
		assert.Contains(t, text, "ACSCurrent")
		assert.Contains(t, text, "FC Invoke Start RequestId: demo-01-")
		assert.NotContains(t, text, "FAILED")
		assert.Contains(t, text, "check: no password in anything the function printed")
		assert.Contains(t, text, "pwreset:Rotation:Succeeded  pwreset/cloudsso/")
		assert.Contains(t, text, "outcome events published, one per rotated target")
		files, err := filepath.Glob("../../../events/*.json")
		require.NoError(t, err)
		assert.Equal(t, len(files)+3, strings.Count(text, "\n== "), "one section per sample event, then the directory run, the lost rotation and the sweep")
		assert.Contains(t, text, "6 of 6 matching users rotated")
		assert.Contains(t, text, "check: the sweep finished 1 unfinished rotation (want 1)")
		assert.Contains(t, text, "pwreset:Rotation:RolledForward  pwreset/cloudsso/d-00fc2p61ab12/u-demofleet01")
	})

	t.Run("ErrCheckFails", func(t *testing.T) {
		dir := t.TempDir()
		// A request for a user the cloud does not have fails: the demo
		// must say so and exit non-zero.
		ev := `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-nosuchuser"}`
		require.NoError(t, os.WriteFile(filepath.Join(dir, "missing-user.json"), []byte(ev), 0o600))
		var out bytes.Buffer
		err := run(ctx, []string{"-binary", bin, "-events", dir}, &out)
		require.ErrorIs(t, err, errChecksFailed)
		assert.Contains(t, out.String(), "the invocation succeeded: FAILED")
	})

	t.Run("ErrNoEvents", func(t *testing.T) {
		err := run(ctx, []string{"-binary", bin, "-events", t.TempDir()}, &bytes.Buffer{})
		require.ErrorContains(t, err, "no sample events")
	})
}
