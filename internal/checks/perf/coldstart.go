package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// startTimeout bounds one start: a binary that never polls is a failure,
// not a slow start.
const startTimeout = 30 * time.Second

// ColdStart execs binary with env under the runtime API rt (listening at
// rtAddr) and returns the time from the exec to the binary's first
// GET .../next, as rt recorded its arrival. The process is killed after.
func ColdStart(ctx context.Context, rt *emulator.Runtime, rtAddr, binary string, env []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, startTimeout, errors.New("no poll within the start timeout"))
	defer cancel()
	n := rt.PollCount() + 1
	cmd := exec.Command(binary)
	cmd.Env = append(append([]string(nil), env...), "FC_RUNTIME_API="+rtAddr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cold start %s: %w", binary, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	// A binary that exits without polling fails the start at once.
	pollCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		select {
		case <-exited:
			stop(errExited)
		case <-pollCtx.Done():
		}
	}()
	polled, err := rt.WaitPoll(pollCtx, n)
	if err != nil {
		if cause := context.Cause(pollCtx); cause != nil {
			err = cause
		}
		return 0, fmt.Errorf("cold start %s: %w", binary, err)
	}
	return polled.Sub(start), nil
}

// errExited is the failure of a start whose process exited before polling.
var errExited = errors.New("the process exited before polling")

// ColdStarts measures n cold starts of each binary, interleaved (a, b, a,
// b, ...) so that a change in the machine's load affects each alike, and
// returns them per binary in the order given.
func ColdStarts(ctx context.Context, rt *emulator.Runtime, rtAddr string, env []string, n int, binaries ...string) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(binaries))
	for range n {
		for j, b := range binaries {
			d, err := ColdStart(ctx, rt, rtAddr, b, env)
			if err != nil {
				return nil, err
			}
			out[j] = append(out[j], d)
		}
	}
	return out, nil
}
