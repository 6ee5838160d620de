// Package localrun runs the real pwreset binary the way Function Compute runs
// it, against the local cloud: it starts the emulated cloud (KMS, CloudSSO,
// BaaS) and the emulated runtime API, execs the binary with the environment a
// deployment gives it, invokes it with the function role's STS credentials,
// and collects what it prints. The end-to-end tests and `make demo` share it,
// so the demo shows exactly what the tests check.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// FunctionPackage is the import path of the function's main package.
const FunctionPackage = "github.com/pwreset/pwreset"

// Build compiles the function into out as the deployment builds it: static
// (CGO_ENABLED=0) and -trimpath. It runs the go command found on PATH from the
// current directory, which must lie inside the module.
func Build(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, FunctionPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build %s: %w\n%s", FunctionPackage, err, msg)
	}
	return nil
}

// Config says what to run. Only Binary is required.
type Config struct {
	// Binary is the path of the built function.
	Binary string
	// Fixture seeds the cloud; nil means emulator.DefaultFixture().
	Fixture *emulator.Fixture
	// RoleKeyID is the AccessKey ID of the fixture's STS token that Invoke
	// hands the function as its role's credentials; empty means
	// emulator.FixtureFunctionRoleKeyID.
	RoleKeyID string
	// Env is added to the function's environment after the variables Start
	// sets, so it can override them.
	Env []string
	// EventBus, when set, is the custom bus of the outcome events: Start
	// serves the cloud's EventBridge data API with that bus and sets
	// EVENT_BUS_NAME and EVENTBRIDGE_ENDPOINT; Cloud.PublishedEvents then
	// holds what the function published.
	EventBus string
	// FC, when set, serves Function Compute's InvokeFunction on the cloud
	// (emulator.Cloud.StartFC), queueing each asynchronous invocation on
	// the stack's runtime, one at a time as reservedConcurrency 1 runs
	// them, and sets FC_FUNCTION_NAME and FUNCTION_COMPUTE_ENDPOINT: runs
	// longer than a chunk continue there. Its Invocation's empty
	// credentials, region and account are the role's and the cloud's, as
	// Invoke fills them.
	FC *emulator.FCOptions
}

// Stack is a running local cloud, runtime API and function instance.
type Stack struct {
	Cloud     *emulator.Cloud
	Endpoints emulator.Endpoints
	Runtime   *emulator.Runtime
	// RuntimeAddr is the runtime API's host:port (the FC_RUNTIME_API value).
	RuntimeAddr string
	// Output holds everything the function printed, stdout and stderr in
	// the order written.
	Output *Output
	// Role is the function role's STS credentials that Invoke passes when
	// the invocation names none.
	Role emulator.Credentials

	proc      *Process
	closeOnce sync.Once
	closeErr  error
}

// Start starts the cloud and the runtime API, then the function, and returns
// once the function polls for its first invocation. The function's
// environment holds no static credentials: only the endpoints, the region
// and cfg.Env.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Binary == "" {
		return nil, errors.New("localrun: Config.Binary is required")
	}
	fixture := emulator.DefaultFixture()
	if cfg.Fixture != nil {
		fixture = *cfg.Fixture
	}
	roleKeyID := cfg.RoleKeyID
	if roleKeyID == "" {
		roleKeyID = emulator.FixtureFunctionRoleKeyID
	}
	role, ok := findRole(fixture, roleKeyID)
	if !ok {
		return nil, fmt.Errorf("localrun: the fixture has no STS token %q for the function role", roleKeyID)
	}

	s := &Stack{Cloud: emulator.New(fixture), Runtime: emulator.NewRuntime(), Output: NewOutput(), Role: role}
	var err error
	if s.Endpoints, err = s.Cloud.Start(); err != nil {
		s.Cloud.Close()
		return nil, fmt.Errorf("localrun: start cloud: %w", err)
	}
	if s.RuntimeAddr, err = s.Runtime.Start(); err != nil {
		s.Cloud.Close()
		return nil, fmt.Errorf("localrun: start runtime API: %w", err)
	}

	env := []string{
		"FC_RUNTIME_API=" + s.RuntimeAddr,
		"KMS_ENDPOINT=" + s.Endpoints.KMS,
		"CLOUDSSO_ENDPOINT=" + s.Endpoints.CloudSSO,
		"BAAS_ENDPOINT=" + s.Endpoints.BaaS,
		"ALIBABA_CLOUD_REGION_ID=" + s.Cloud.Region(),
		"KMS_ENCRYPTION_KEY_ID=" + emulator.FixtureKMSKeyID,
	}
	if cfg.EventBus != "" {
		u, err := s.Cloud.StartEventBus()
		if err != nil {
			s.Cloud.Close()
			return nil, fmt.Errorf("localrun: start eventbridge: %w", err)
		}
		s.Cloud.AddEventBus(cfg.EventBus)
		env = append(env, "EVENT_BUS_NAME="+cfg.EventBus, "EVENTBRIDGE_ENDPOINT="+u)
	}
	if cfg.FC != nil {
		o := *cfg.FC
		if o.FunctionName == "" {
			o.FunctionName = emulator.DefaultFunctionName
		}
		if o.Invocation.Credentials == (emulator.Credentials{}) {
			o.Invocation.Credentials = role
		}
		if o.Invocation.Region == "" {
			o.Invocation.Region = s.Cloud.Region()
		}
		if o.Invocation.AccountID == "" {
			o.Invocation.AccountID = s.Cloud.AccountID()
		}
		u, err := s.Cloud.StartFC(s.Runtime, o)
		if err != nil {
			s.Cloud.Close()
			return nil, fmt.Errorf("localrun: start function compute: %w", err)
		}
		env = append(env, "FC_FUNCTION_NAME="+o.FunctionName, "FUNCTION_COMPUTE_ENDPOINT="+u)
	}
	// Coverage of the binary (go build -cover) is written where the test
	// asks; nothing else of this process's environment reaches the function.
	if dir := os.Getenv("GOCOVERDIR"); dir != "" {
		env = append(env, "GOCOVERDIR="+dir)
	}
	env = append(env, cfg.Env...)

	polls := s.Runtime.PollCount()
	if s.proc, err = StartProcess(cfg.Binary, env, s.Output); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.waitReady(ctx, polls+1); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func findRole(f emulator.Fixture, keyID string) (emulator.Credentials, bool) {
	for _, t := range f.STSTokens {
		if t.AccessKeyID == keyID {
			return emulator.Credentials{AccessKeyID: t.AccessKeyID, AccessKeySecret: t.AccessKeySecret, SecurityToken: t.SecurityToken}, true
		}
	}
	return emulator.Credentials{}, false
}

// waitReady waits for the function's nth poll, or its exit.
func (s *Stack) waitReady(ctx context.Context, n int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.proc.Exited():
			cancel(fmt.Errorf("function exited before polling: %w", s.proc.Err()))
		case <-ctx.Done():
		}
	}()
	if _, err := s.Runtime.WaitPoll(ctx, n); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
			return fmt.Errorf("localrun: %w", cause)
		}
		return fmt.Errorf("localrun: wait for the function to poll: %w", err)
	}
	return nil
}

// Invoke sends payload to the function and waits for its outcome. Fields the
// invocation leaves empty are filled as Function Compute would fill them for
// this cloud: the function role's credentials, the cloud's region and
// account. It fails if the function exits before answering.
func (s *Stack) Invoke(ctx context.Context, payload []byte, inv emulator.Invocation) (emulator.Outcome, error) {
	if inv.Credentials == (emulator.Credentials{}) {
		inv.Credentials = s.Role
	}
	if inv.Region == "" {
		inv.Region = s.Cloud.Region()
	}
	if inv.AccountID == "" {
		inv.AccountID = s.Cloud.AccountID()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.proc.Exited():
			cancel(fmt.Errorf("function exited: %w", s.proc.Err()))
		case <-ctx.Done():
		}
	}()
	out, err := s.Runtime.Invoke(ctx, payload, inv)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
			return out, fmt.Errorf("localrun: invoke: %w", cause)
		}
		return out, fmt.Errorf("localrun: %w", err)
	}
	return out, nil
}

// Process is the running function instance.
func (s *Stack) Process() *Process { return s.proc }

// Logs returns the lines the function printed while handling the invocation
// with requestID (the latest one, if the id was reused), waiting until the
// runtime SDK's end marker for it has been read.
func (s *Stack) Logs(ctx context.Context, requestID string) ([]string, error) {
	return s.Output.Invocation(ctx, requestID)
}

// Close stops the function, then the runtime API and the cloud. The function
// goes first: the SDK polls a vanished runtime API in a tight loop.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		if s.proc != nil {
			s.closeErr = s.proc.Stop()
		}
		if err := s.Runtime.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		s.Cloud.Close()
	})
	return s.closeErr
}
