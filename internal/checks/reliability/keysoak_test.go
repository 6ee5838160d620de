package reliability_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

var keySoakSteps = 2000

// keyWalk draws the requests of the key soaks: each step rotates one of a
// few accounts under a new key (through a random trigger), a recent key
// again (a retry), or an old one (a late redelivery).
type keyWalk struct {
	rng     *rand.Rand
	targets []reset.Target
	past    []pastEvent
	n       int
}

type pastEvent struct {
	event  []byte
	target reset.Target
}

func (w *keyWalk) next() pastEvent {
	w.n++
	switch k := w.rng.IntN(10); {
	case k < 3 && len(w.past) > 0:
		return w.past[len(w.past)-1-w.rng.IntN(min(3, len(w.past)))]
	case k < 5 && len(w.past) > 0:
		return w.past[w.rng.IntN(len(w.past))]
	}
	t := w.targets[w.rng.IntN(len(w.targets))]
	key := fmt.Sprintf("walk-%d", w.n)
	var ev []byte
	switch w.rng.IntN(4) {
	case 0:
		ev = alert("acs.walk", key, t)
	case 1:
		ev = helpdesk(key, t)
	case 2:
		ev = timerEvent("walk", fmt.Sprintf("2026-12-01T00:00:%02dZ/%d", w.n%60, w.n), requestFor(t))
	default:
		ev = mustJSON(targetSpec(t)) // a direct invocation: its key is the request id
	}
	p := pastEvent{event: ev, target: t}
	w.past = append(w.past, p)
	return p
}

// walkStats counts the outcomes of a key soak.
type walkStats struct {
	steps, successes, superseded, rolledForward, kills, faults int
}

func (s *walkStats) add(o outcome) {
	s.steps++
	if o.success {
		s.successes++
	}
	for _, r := range o.results {
		if r.Status == "superseded" {
			s.superseded++
		}
		if r.RolledForward != "" {
			s.rolledForward++
		}
	}
}

// TestKeySoak is the seeded soak of issue 9, in process: 2000 steps over
// three accounts, each a request under a new, reused or old key, with a
// random fault (any of the fault matrix's) or a kill (the invocation's
// context ends the moment a random call took effect) on most steps. It
// checks I1 for every account after every step and I2 after every success.
func TestKeySoak(t *testing.T) {
	seed := *soakSeed
	steps := keySoakSteps
	if testing.Short() {
		steps = 300
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc0ffee))
	cloud := MustCloud(t, nil)
	cfg := fastConfig()
	cfg.MaxAttempts = 2
	f := MustFunction(t, cloud, cfg)
	accounts := []reset.Target{alice, bob, asian}
	w := &keyWalk{rng: rng, targets: accounts}
	var st walkStats
	var killAt atomic.Value // the action whose call ends the invocation
	var kill atomic.Value   // func()
	killAt.Store("")
	kill.Store(func() {})
	cloud.Hook(func(call emulator.Call) {
		if a := killAt.Load().(string); a != "" && call.Action == a && killAt.CompareAndSwap(a, "") {
			kill.Load().(func())()
		}
	})
	for i := 0; i < steps; i++ {
		p := w.next()
		calls := callsOf(p.target)
		pc := calls[rng.IntN(len(calls))]
		inv := invocation{}
		ctx, cancel := context.WithCancel(context.Background())
		inv.Ctx = ctx
		switch r := rng.IntN(10); {
		case r < 3:
			killAt.Store(pc.action)
			kill.Store(func() { cancel() })
			st.kills++
		case r < 8:
			k := rng.IntN(len(faults))
			if faults[k].timeout > 0 && rng.IntN(10) != 0 {
				k = (k + 2) % len(faults) // a deadline costs wall time: keep it rare
			}
			faults[k].arm(cloud, pc.product, pc.action)
			if faults[k].timeout > 0 {
				inv.Timeout = 200 * time.Millisecond
			}
			st.faults++
		}
		a := f.Invoke(t, p.event, inv)
		cancel()
		killAt.Store("")
		cloud.ClearFaults() // latency too, before the next step
		cloud.Quiesce()
		cloud.ResetCalls()
		o := outcomeOf(a)
		st.add(o)
		for _, acc := range accounts {
			if err := cloud.CheckI1(f.Prefix, acc); err != nil {
				t.Fatalf("step %d (seed %d, %s): %v", i, seed, p.target.Key(), err)
			}
		}
		if o.success {
			if err := cloud.CheckCurrent(f.Prefix, p.target); err != nil {
				t.Fatalf("step %d (seed %d): I2 after a success: %v", i, seed, err)
			}
		}
		if i%50 == 49 {
			// Injected throttles slow the rotator's pacer; a new instance
			// starts unpaced (see TestSoak).
			f = MustFunction(t, cloud, cfg)
		}
	}
	t.Logf("key soak: seed %d: %+v", seed, st)
	assert.Positive(t, st.successes)
	assert.Positive(t, st.superseded, "no old key was superseded")
	assert.Positive(t, st.rolledForward, "no rotation rolled another forward")
	canary.Check(t)
}

// TestKeySoakBinary is the key soak's subset that needs a process to die:
// the built binary, killed (SIGKILL) the moment a random call took effect
// on about a third of the steps, and started again.
func TestKeySoakBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the built binary")
	}
	t.Parallel()
	seed := *soakSeed
	rng := rand.New(rand.NewPCG(uint64(seed), 0xb1))
	cloud := MustCloud(t, nil)
	in := MustInstance(t, cloud)
	d := binary{in}
	accounts := []reset.Target{alice, asian}
	w := &keyWalk{rng: rng, targets: accounts}
	var st walkStats
	var killAt atomic.Value
	killAt.Store("")
	cloud.Hook(func(call emulator.Call) {
		if a := killAt.Load().(string); a != "" && call.Action == a && killAt.CompareAndSwap(a, "") {
			in.Kill()
		}
	})
	for i := 0; i < 60; i++ {
		p := w.next()
		calls := callsOf(p.target)
		pc := calls[rng.IntN(len(calls))]
		if rng.IntN(3) == 0 {
			killAt.Store(pc.action)
		}
		a, err := in.Invoke(t, p.event)
		killAt.Store("")
		cloud.Quiesce()
		var o outcome
		if err != nil {
			require.ErrorIs(t, err, errInstanceDied)
			st.kills++
			in.Start(t)
		} else {
			o = d.outcomeOf(a)
		}
		st.add(o)
		for _, acc := range accounts {
			require.NoError(t, cloud.CheckI1(reset.DefaultSecretPrefix, acc), "step %d (seed %d)", i, seed)
		}
		if o.success {
			require.NoError(t, cloud.CheckCurrent(reset.DefaultSecretPrefix, p.target), "step %d: I2", i)
		}
	}
	t.Logf("binary key soak: seed %d: %+v", seed, st)
	assert.Positive(t, st.kills)
	requireSignedByRole(t, cloud)
	canary.Check(t)
}
