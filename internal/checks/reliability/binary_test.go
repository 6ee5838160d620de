package reliability_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// staticKeyEnv puts a long-lived AccessKey the cloud knows into the
// function's environment: a call signed with it would succeed, so only the
// record of every call's signer shows that it was never used.
var staticKeyEnv = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID=" + emulator.FixtureAccessKeyID,
	"ALIBABA_CLOUD_ACCESS_KEY_SECRET=placeholder-admin-secret-not-real-0001",
}

// instance runs the built function under the emulated runtime against a
// test cloud, and can kill it and start a new instance in its place, as
// Function Compute does after a crash.
type instance struct {
	cloud  *testCloud
	rt     *emulator.Runtime
	binary string
	env    []string
	out    *canaryWriter

	noCreds bool // invoke without the role's credentials

	mu   sync.Mutex
	proc *localrun.Process
}

// MustInstance starts the runtime API and a first instance of the function.
func MustInstance(tb testing.TB, cloud *testCloud, env ...string) *instance {
	tb.Helper()
	in := &instance{cloud: cloud, rt: emulator.NewRuntime(), binary: MustBinary(tb), out: canary.newWriter(tb.Name() + " function output")}
	addr, err := in.rt.Start()
	require.NoError(tb, err)
	in.env = append([]string{
		"FC_RUNTIME_API=" + addr,
		"KMS_ENDPOINT=" + cloud.Endpoints.KMS,
		"CLOUDSSO_ENDPOINT=" + cloud.Endpoints.CloudSSO,
		"BAAS_ENDPOINT=" + cloud.Endpoints.BaaS,
		"ALIBABA_CLOUD_REGION_ID=" + cloud.Region(),
		"KMS_ENCRYPTION_KEY_ID=" + emulator.FixtureKMSKeyID,
	}, append(append([]string(nil), staticKeyEnv...), env...)...)
	tb.Cleanup(func() {
		in.Kill()
		_ = in.rt.Close()
	})
	in.Start(tb)
	return in
}

// Start starts a new instance in place of the last one, which it kills if
// it still runs, and waits for the new one to poll.
func (in *instance) Start(tb testing.TB) {
	tb.Helper()
	in.Kill()
	polls := in.rt.PollCount()
	proc, err := localrun.StartProcess(in.binary, in.env, in.out)
	require.NoError(tb, err)
	in.mu.Lock()
	in.proc = proc
	in.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = in.rt.WaitPoll(ctx, polls+1)
	require.NoError(tb, err, "the new instance never polled")
}

// Kill kills the running instance (SIGKILL), waits for it to exit and
// tells the runtime, as Function Compute notices an instance die: the
// invocation it ran fails, and neither its pending poll nor its connections
// take another.
func (in *instance) Kill() {
	in.mu.Lock()
	p := in.proc
	in.mu.Unlock()
	if p != nil {
		_ = p.Stop()
		in.rt.InstanceExited()
	}
}

var errInstanceDied = errors.New("the instance died during the invocation")

// Invoke sends payload with the role's credentials and waits for the
// outcome, or for the instance to die.
func (in *instance) Invoke(tb testing.TB, payload []byte) (localrun.Answer, error) {
	tb.Helper()
	in.mu.Lock()
	proc := in.proc
	in.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	died := make(chan struct{})
	go func() {
		select {
		case <-proc.Exited():
			close(died)
			cancel()
		case <-ctx.Done():
		}
	}()
	creds := emulator.Credentials{AccessKeyID: role.AccessKeyId, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken}
	if in.noCreds {
		creds = emulator.Credentials{}
	}
	out, err := in.rt.Invoke(ctx, payload, emulator.Invocation{
		Credentials: creds, Region: in.cloud.Region(), AccountID: in.cloud.AccountID(), Timeout: 20 * time.Second,
	})
	if err != nil {
		if errors.Is(err, emulator.ErrInstanceExited) {
			return localrun.Answer{}, errInstanceDied
		}
		select {
		case <-died:
			return localrun.Answer{}, errInstanceDied
		default:
		}
		require.NoError(tb, err)
	}
	canary.Add("binary payload", string(out.Payload))
	if out.Err != nil {
		canary.Add("binary function error", out.Err.Error())
	}
	a, err := localrun.Decode(payload, out)
	require.NoError(tb, err)
	return a, nil
}

// requireSignedByRole checks that every call the cloud saw was signed with
// the role's STS credentials, none with the static key of the environment.
func requireSignedByRole(tb testing.TB, c *testCloud) {
	tb.Helper()
	for _, call := range c.Calls() {
		require.Equal(tb, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID, "%s was signed by another key", call.Action)
		require.NotEmpty(tb, call.SecurityToken, "%s carried no STS token", call.Action)
	}
}

// TestKilledAfterEachCall is the fault matrix's last column: for every
// cloud call of the protocol, the function's process is killed (SIGKILL)
// the moment the call has taken effect, before its answer arrives; a new
// instance then gets the same event again (the same idempotency key), as
// EventBridge redelivers it, until the rotation succeeds. ACSCurrent must
// then hold the password in effect, one password must have been applied,
// and a fresh rotation must succeed.
func TestKilledAfterEachCall(t *testing.T) {
	// Not parallel with the other tests: the soak that follows reports
	// this matrix's figures. Its cells run in parallel.
	for _, pc := range protocolCalls {
		t.Run(pc.action+"/Converges", func(t *testing.T) {
			t.Parallel()
			matrixFigures.Lock()
			matrixFigures.cells++
			matrixFigures.Unlock()
			cloud := MustCloud(t, nil)
			in := MustInstance(t, cloud)
			event := cloudEvent("kill-"+pc.action, requestFor(pc.target))

			var armed atomic.Bool
			armed.Store(true)
			cloud.Hook(func(call emulator.Call) {
				if call.Action == pc.action && armed.CompareAndSwap(true, false) {
					in.Kill()
				}
			})
			_, err := in.Invoke(t, event)
			require.ErrorIs(t, err, errInstanceDied, "the instance was to die after %s", pc.action)
			require.False(t, armed.Load())

			var a localrun.Answer
			tries := 1
			for ; tries < maxTries; tries++ {
				cloud.Quiesce()
				in.Start(t)
				a, err = in.Invoke(t, event)
				require.NoError(t, err)
				if a.OK() {
					break
				}
			}
			require.True(t, a.OK(), "not converged after %d tries: %+v", tries, a.FunctionError)
			cloud.Quiesce()
			require.NoError(t, cloud.CheckCurrent(reset.DefaultSecretPrefix, pc.target))
			require.Len(t, cloud.Applied(pc.target.Key()), 1, "distinct passwords applied")
			fresh, err := in.Invoke(t, cloudEvent("kill-fresh-"+pc.action, requestFor(pc.target)))
			require.NoError(t, err)
			require.True(t, fresh.OK(), "a fresh rotation: %+v", fresh.FunctionError)
			cloud.Quiesce()
			require.NoError(t, cloud.CheckCurrent(reset.DefaultSecretPrefix, pc.target))
			require.Len(t, cloud.Applied(pc.target.Key()), 2)
			requireSignedByRole(t, cloud)
			canary.Check(t)
			matrixFigures.Lock()
			matrixFigures.passed++
			matrixFigures.Unlock()
		})
	}
}

// TestBinaryBadInputSample sends a sample of the hostile corpus to the
// built binary: each is refused as the in-process handler refuses it, and
// the cloud sees no call.
func TestBinaryBadInputSample(t *testing.T) {
	t.Parallel()
	cloud := MustCloud(t, nil)
	in := MustInstance(t, cloud,
		"ALLOWED_DIRECTORY_IDS="+emulator.FixtureDirectoryID, "ALLOWED_ORGANIZATION_IDS="+emulator.FixtureOrganizationID)
	for i, bc := range badInputs() {
		if i%6 != 0 {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			a, err := in.Invoke(t, bc.event)
			require.NoError(t, err)
			if bc.http {
				require.NotNil(t, a.HTTP)
				assert.GreaterOrEqual(t, a.HTTP.StatusCode, 400)
				assert.Less(t, a.HTTP.StatusCode, 500)
				require.Len(t, a.Responses, 1)
				require.NotNil(t, a.Responses[0].Error)
				assert.Contains(t, a.Responses[0].Error.Message, bc.field)
			} else {
				require.NotNil(t, a.FunctionError, "payload answered")
				assert.Equal(t, "PermanentError", a.FunctionError.Type)
				assert.Contains(t, a.FunctionError.Message, bc.field)
			}
		})
	}
	assert.Empty(t, cloud.Calls(), "cloud calls for bad input")
}
