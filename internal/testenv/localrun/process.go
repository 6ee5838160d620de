package localrun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
)

// Process is a running function instance.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status; read after exited is closed

	stopOnce sync.Once
}

// StartProcess execs binary with exactly env as its environment, its stdout
// and stderr both going to out (one pipe, so their lines keep their order).
func StartProcess(binary string, env []string, out io.Writer) (*Process, error) {
	cmd := exec.Command(binary)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited and its output is drained.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the process's exit error, valid once Exited is closed. A process
// killed by Stop reports the kill.
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// Stop kills the process and waits for it. A function instance keeps no
// state worth a graceful shutdown: everything it does lives in the cloud.
func (p *Process) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		if kerr := p.cmd.Process.Kill(); kerr != nil && !errors.Is(kerr, os.ErrProcessDone) {
			err = fmt.Errorf("kill function: %w", kerr)
		}
		<-p.exited
	})
	return err
}
