package localrun_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// MustBuildHello builds the emulator's hello-world function, which echoes its
// FC context, so this package is tested without depending on pwreset itself.
func MustBuildHello(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-o", bin, "../emulator/testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "go build hello: %s", out)
	return bin
}

func testCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func TestStack(t *testing.T) {
	bin := MustBuildHello(t)

	t.Run("OK_InvokeWithRoleCredentialsAndLogs", func(t *testing.T) {
		s, err := localrun.Start(testCtx(t), localrun.Config{Binary: bin})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		require.Equal(t, emulator.FixtureFunctionRoleKeyID, s.Role.AccessKeyID)

		out, err := s.Invoke(testCtx(t), []byte(`{"echo":"hi"}`), emulator.Invocation{RequestID: "req-a"})
		require.NoError(t, err)
		require.Nil(t, out.Err)
		var got struct {
			Echo          string `json:"echo"`
			AccessKeyID   string `json:"accessKeyId"`
			SecurityToken string `json:"securityToken"`
			Region        string `json:"region"`
			AccountID     string `json:"accountId"`
		}
		require.NoError(t, json.Unmarshal(out.Payload, &got))
		assert.Equal(t, "hi", got.Echo)
		assert.Equal(t, s.Role.AccessKeyID, got.AccessKeyID)
		assert.Equal(t, s.Role.SecurityToken, got.SecurityToken)
		assert.Equal(t, s.Cloud.Region(), got.Region)
		assert.Equal(t, s.Cloud.AccountID(), got.AccountID)

		lines, err := s.Logs(testCtx(t), "req-a")
		require.NoError(t, err)
		require.Len(t, lines, 2, "start and end markers: %q", lines)
		assert.Equal(t, "FC Invoke Start RequestId: req-a", lines[0])
		assert.Equal(t, "FC Invoke End RequestId: req-a", lines[1])
	})

	t.Run("OK_FailedInvocationLogs", func(t *testing.T) {
		s, err := localrun.Start(testCtx(t), localrun.Config{Binary: bin})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		out, err := s.Invoke(testCtx(t), []byte(`{"fail":"no"}`), emulator.Invocation{RequestID: "req-f"})
		require.NoError(t, err)
		require.NotNil(t, out.Err)
		lines, err := s.Logs(testCtx(t), "req-f")
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(lines[len(lines)-1], "FC Invoke End RequestId: req-f, Error"), "got %q", lines)
	})

	t.Run("ErrFunctionExitsBeforePolling", func(t *testing.T) {
		// An empty FC_RUNTIME_API makes the SDK exit at once: Start must
		// notice instead of waiting for a poll that never comes.
		_, err := localrun.Start(testCtx(t), localrun.Config{Binary: bin, Env: []string{"FC_RUNTIME_API="}})
		require.ErrorContains(t, err, "function exited before polling")
	})

	t.Run("ErrUnknownRole", func(t *testing.T) {
		_, err := localrun.Start(testCtx(t), localrun.Config{Binary: bin, RoleKeyID: "STS.none"})
		require.ErrorContains(t, err, "no STS token")
	})

	t.Run("ErrBinaryRequired", func(t *testing.T) {
		_, err := localrun.Start(testCtx(t), localrun.Config{})
		require.Error(t, err)
	})

	t.Run("ErrFunctionExitedDuringInvoke", func(t *testing.T) {
		s, err := localrun.Start(testCtx(t), localrun.Config{Binary: bin})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		require.NoError(t, s.Process().Stop())
		_, err = s.Invoke(testCtx(t), []byte(`{}`), emulator.Invocation{})
		require.ErrorContains(t, err, "function exited")
	})
}

func TestOutputInvocationWaitsForEndMarker(t *testing.T) {
	o := localrun.NewOutput()
	_, _ = o.Write([]byte("boot\nFC Invoke Start RequestId: r1\n{\"msg\":\"one\"}\nFC Invoke End RequestId: r1\nFC Invoke Start RequestId: r2\n{\"msg\":"))
	got, err := o.Invocation(testCtx(t), "r1")
	require.NoError(t, err)
	assert.Equal(t, []string{"FC Invoke Start RequestId: r1", `{"msg":"one"}`, "FC Invoke End RequestId: r1"}, got)

	done := make(chan []string, 1)
	go func() {
		lines, err := o.Invocation(testCtx(t), "r2")
		assert.NoError(t, err)
		done <- lines
	}()
	_, _ = o.Write([]byte("\"two\"}\nFC Invoke End RequestId: r2\n"))
	assert.Equal(t, []string{"FC Invoke Start RequestId: r2", `{"msg":"two"}`, "FC Invoke End RequestId: r2"}, <-done)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = o.Invocation(ctx, "r3")
	require.ErrorIs(t, err, context.Canceled)
}
