package reliability_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// fault is one way a cloud call can go wrong.
type fault struct {
	name string
	// arm makes the next call(s) of action fail this way; product is the
	// action's product (throttling answers differ by product).
	arm func(c *testCloud, product emulator.Product, action string)
	// disarm undoes what arm set that outlives its count (latency).
	disarm func(c *testCloud, action string)
	// hit reports whether a recorded call shows the fault.
	hit func(call emulator.Call) bool
	// timeout is the first invocation's deadline; 0 keeps the default.
	timeout time.Duration
}

// faultLatency is longer than any invocation of the latency column lasts.
const faultLatency = 5 * time.Second

// appliedLate is how long an applied-late call waits before it takes
// effect: longer than the invocation it belongs to (the column's timeout,
// or the soak's).
const appliedLate = 400 * time.Millisecond

var faults = []fault{
	{
		name: "error-5xx",
		arm: func(c *testCloud, p emulator.Product, action string) {
			code := "InternalError"
			if p == emulator.KMS {
				code = "InternalFailure"
			}
			c.FailNext(action, 2, http.StatusInternalServerError, code)
		},
		hit: func(call emulator.Call) bool { return call.Status >= 500 },
	},
	{
		name: "throttled",
		arm: func(c *testCloud, p emulator.Product, action string) {
			if p == emulator.KMS {
				c.FailNext(action, 4, http.StatusTooManyRequests, "Rejected.Throttling")
				return
			}
			c.FailNext(action, 4, http.StatusBadRequest, "Throttling.User")
		},
		hit: func(call emulator.Call) bool {
			return call.Code == "Rejected.Throttling" || call.Code == "Throttling.User"
		},
	},
	{
		name:    "latency-past-deadline",
		arm:     func(c *testCloud, _ emulator.Product, action string) { c.SetLatency(action, faultLatency) },
		disarm:  func(c *testCloud, action string) { c.SetLatency(action, 0) },
		hit:     func(emulator.Call) bool { return true }, // judged by the first invocation failing
		timeout: 500 * time.Millisecond,
	},
	{
		// The call takes effect only after the client gave up: a timed-out
		// reset is unfinished, not unchanged.
		name:    "applied-late",
		arm:     func(c *testCloud, _ emulator.Product, action string) { c.ApplyLate(action, 1, appliedLate) },
		hit:     func(emulator.Call) bool { return true }, // judged by the first invocation failing
		timeout: 300 * time.Millisecond,
	},
	{
		name: "drop-before-apply",
		arm:  func(c *testCloud, _ emulator.Product, action string) { c.DropNext(action, 4) },
		hit:  func(call emulator.Call) bool { return call.Dropped && call.Status == 0 },
	},
	{
		name: "drop-after-apply",
		arm:  func(c *testCloud, _ emulator.Product, action string) { c.DropAfterApply(action, 2) },
		hit:  func(call emulator.Call) bool { return call.Dropped && call.Status != 0 }, // answered (any status), then lost
	},
}

// protocolCall is one cloud call the rotation protocol makes, on a target
// whose rotation makes it.
type protocolCall struct {
	action  string
	product emulator.Product
	target  reset.Target
}

// protocolCalls are the calls of a first rotation (protocol v2): the
// pending read, the account check, the secret's creation, the stage, the
// reset and the promote.
var protocolCalls = []protocolCall{
	{"GetSecretValue", emulator.KMS, alice},
	{"GetUser", emulator.CloudSSO, alice},
	{"DescribeFabricOrganizationUsers", emulator.BaaS, asian},
	{"CreateSecret", emulator.KMS, alice},
	{"PutSecretValue", emulator.KMS, alice},
	{"ResetUserPassword", emulator.CloudSSO, alice},
	{"ResetFabricOrganizationUserPassword", emulator.BaaS, asian},
	{"UpdateSecretVersionStage", emulator.KMS, alice},
}

// matrixFigures are the fault matrix's counts, for the report.
var matrixFigures struct {
	sync.Mutex
	cells, passed int
}

// maxTries bounds the invocations of one rotation: a fault lasts at most
// four calls, the rotator tries a call three times per invocation.
const maxTries = 6

// TestFaultMatrix runs, for every cloud call of the protocol and every
// fault, a rotation whose call fails that way, then retries it with the
// same idempotency key (the same EventBridge event id) until it succeeds,
// and checks the protocol's promises: ACSCurrent holds the password in
// effect on the target, exactly one new password was applied, and a fresh
// rotation with a new key succeeds. The column where the process dies after
// the call is TestKilledAfterEachCall.
func TestFaultMatrix(t *testing.T) {
	// Not parallel with the other tests: the soak that follows reports
	// this matrix's figures. Its cells run in parallel.
	for _, pc := range protocolCalls {
		for _, fl := range faults {
			t.Run(pc.action+"/"+fl.name+"/Converges", func(t *testing.T) {
				t.Parallel()
				matrixFigures.Lock()
				matrixFigures.cells++
				matrixFigures.Unlock()

				cloud := MustCloud(t, nil)
				f := MustFunction(t, cloud, fastConfig())
				event := cloudEvent("matrix-"+pc.action+"-"+fl.name, requestFor(pc.target))
				first := invocation{Timeout: fl.timeout}

				before := len(cloud.Calls())
				fl.arm(cloud, pc.product, pc.action)
				a := f.Invoke(t, event, first)
				if fl.disarm != nil {
					fl.disarm(cloud, pc.action)
					assert.False(t, a.OK(), "an invocation whose %s outlived its deadline", pc.action)
				}
				cloud.Quiesce()
				hits := 0
				for _, call := range cloud.Calls()[before:] {
					if call.Action == pc.action && fl.hit(call) {
						hits++
					}
				}
				require.Positive(t, hits, "the fault hit no %s call", pc.action)

				tries := 1
				for ; !a.OK() && tries < maxTries; tries++ {
					a = f.Invoke(t, event, invocation{})
					cloud.Quiesce()
				}
				require.True(t, a.OK(), "not converged after %d tries: %v %+v", tries, a.Err, a.Response)
				res := a.Results()
				require.Len(t, res, 1)
				assert.Equal(t, reset.StatusRotated, res[0].Status)
				assert.Equal(t, cloud.CurrentVersion(f.Prefix, pc.target), res[0].VersionID, "the answer names ACSCurrent")
				RequireConverged(t, f, 1, pc.target)
				canary.Check(t)

				matrixFigures.Lock()
				matrixFigures.passed++
				matrixFigures.Unlock()
				t.Logf("%s × %s: converged after %d invocations, %d calls hit", pc.action, fl.name, tries, hits)
			})
		}
	}
}

func (pc protocolCall) String() string { return fmt.Sprintf("%s(%s)", pc.action, pc.target.Kind) }
