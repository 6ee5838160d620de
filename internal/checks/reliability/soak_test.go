package reliability_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/reliability"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

var (
	soakSeed      = flag.Int64("seed", 20240611, "seed of the soak's random faults")
	soakRotations = flag.Int("rotations", 1000, "rotations the soak runs")
)

// soakFixture is the default fixture with more users, so the soak rotates
// many accounts, each many times.
func soakFixture(ssoUsers, fabricUsers int) (emulator.Fixture, []reset.Target) {
	f := emulator.DefaultFixture()
	var targets []reset.Target
	for i := 0; i < ssoUsers; i++ {
		id := fmt.Sprintf("u-soak%04d", i)
		f.Directories[0].Users = append(f.Directories[0].Users, emulator.SSOUser{ID: id, Name: id + "@example.com", Password: "Placeholder#Soak1"})
		targets = append(targets, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: f.Directories[0].ID, UserID: id,
			RequirePasswordResetForNextLogin: i%2 == 0})
	}
	for i := 0; i < fabricUsers; i++ {
		name := fmt.Sprintf("soak%04d", i)
		f.Organizations[0].Users = append(f.Organizations[0].Users, emulator.FabricUser{Username: name, Password: "placeholder-soak-01"})
		targets = append(targets, reset.Target{Kind: reset.KindFabric, OrganizationID: f.Organizations[0].ID, Username: name, Location: f.Organizations[0].Location})
	}
	return f, targets
}

// callsOf returns the protocol calls a rotation of t makes.
func callsOf(t reset.Target) []protocolCall {
	var out []protocolCall
	for _, pc := range protocolCalls {
		if pc.product == emulator.KMS || pc.target.Kind == t.Kind {
			out = append(out, pc)
		}
	}
	return out
}

// TestSoak runs a seeded randomized soak: rotations of random targets
// (one, or a batch of up to four) through random triggers (EventBridge,
// HTTP with an Idempotency-Key, timer), with a random fault armed on a
// random protocol call before most of them, each retried with the same key
// until it succeeds; now and then a caller gives up after the first failure
// and the target's next rotation takes over. After every rotation it checks
// that no password was lost (ACSCurrent holds the password in effect after
// a finished rotation, I2; ACSCurrent or ACSPending after an abandoned one,
// I1) and
// that one password was applied per finished rotation. -seed and
// -rotations change the run; -report writes the figures into a document.
func TestSoak(t *testing.T) {
	seed, n := *soakSeed, *soakRotations
	if testing.Short() && n > 200 {
		n = 200
	}
	t.Logf("soak: seed %d, %d rotations (reproduce with -args -seed %d)", seed, n, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))

	fx, targets := soakFixture(24, 12)
	cloud := MustCloud(t, &fx)
	f := MustFunction(t, cloud, fastConfig())

	rep := reliability.Report{Seed: seed, FaultsInjected: map[string]int{}, FaultsHit: map[string]int{}}
	applied := map[string]int{} // target key → rotations finished
	abandoned := map[string]bool{}
	abandonedTargets := 0 // targets of abandoned rotations: each may have applied one password more
	for i := 0; i < n; i++ {
		// Pick distinct targets.
		size := 1
		if rng.IntN(10) < 3 {
			size = 2 + rng.IntN(3)
		}
		perm := rng.Perm(len(targets))[:size]
		batch := make([]reset.Target, size)
		for j, k := range perm {
			batch[j] = targets[k]
		}
		key := fmt.Sprintf("soak-%d-%d", seed, i)
		request := batchOrOne(batch)
		var event []byte
		switch rng.IntN(3) {
		case 0:
			event = cloudEvent(key, request)
		case 1:
			event = httpEvent("POST", request, map[string]string{"Idempotency-Key": key})
		default:
			event = timerEvent("soak", fmt.Sprintf("2024-06-11T00:%02d:%02dZ/%d", (i/60)%60, i%60, i), request)
		}

		// Arm a fault on two rotations of three.
		var fl *fault
		var pc protocolCall
		inv := invocation{}
		if rng.IntN(3) < 2 {
			calls := callsOf(batch[rng.IntN(size)])
			pc = calls[rng.IntN(len(calls))]
			k := rng.IntN(len(faults))
			if faults[k].timeout > 0 && rng.IntN(8) != 0 {
				k = (k + 2) % len(faults) // a deadline costs wall time: keep it rarer
			}
			fl = &faults[k]
			fl.arm(cloud, pc.product, pc.action)
			rep.FaultsInjected[fl.name]++
			if fl.timeout > 0 {
				// A shorter deadline than the matrix's: the soak meets
				// this fault often enough for its wait to count.
				inv.Timeout = 200 * time.Millisecond
			}
		}

		a := f.Invoke(t, event, inv)
		rep.Invocations++
		rep.Rotations++
		if fl != nil && fl.disarm != nil {
			fl.disarm(cloud, pc.action)
		}
		cloud.Quiesce()
		giveUp := !a.OK() && rng.IntN(20) == 0
		tries := 1
		for ; !a.OK() && !giveUp && tries < maxTries; tries++ {
			a = f.Invoke(t, event, invocation{})
			rep.Invocations++
			rep.Retries++
			cloud.Quiesce()
		}
		cloud.ClearFaults()
		if fl != nil && fl.name == "throttled" {
			// The rotator paces a service for a while after it throttled
			// a burst (reset's pacer, AIMD on the rate, climbing back at
			// about one call per second per second). An injected throttle
			// is not an overloaded API, so the next rotation gets a fresh
			// instance rather than a slowed one; pacing has its own tests.
			f = MustFunction(t, cloud, fastConfig())
		}
		// Calls copies the record: take it once per rotation, then forget it.
		calls := cloud.Calls()
		cloud.ResetCalls()
		rep.CloudCalls += len(calls)
		if fl != nil {
			for _, call := range calls {
				if call.Action == pc.action && fl.hit(call) && fl.timeout == 0 {
					rep.FaultsHit[fl.name]++
				}
			}
			if fl.timeout > 0 && tries > 1 {
				rep.FaultsHit[fl.name]++
			}
		}
		if giveUp {
			rep.Abandoned++
		}
		if !giveUp {
			require.True(t, a.OK(), "rotation %d (seed %d) did not converge in %d tries: %v %+v", i, seed, tries, a.Err, a.Response)
		}
		for _, tg := range batch {
			switch {
			case a.OK():
				abandoned[tg.Key()] = false
				applied[tg.Key()]++
				if err := cloud.CheckCurrent(f.Prefix, tg); err != nil {
					rep.PasswordsLost++
					t.Errorf("rotation %d (seed %d): %v", i, seed, err)
				}
			default:
				abandonedTargets++
				abandoned[tg.Key()] = true
				if err := cloud.CheckI1(f.Prefix, tg); err != nil {
					rep.PasswordsLost++
					t.Errorf("rotation %d (seed %d), abandoned: %v", i, seed, err)
				}
			}
		}
	}
	// Finished rotations each applied one password; an abandoned rotation
	// may have applied one more, which the next rotation then replaced.
	for _, tg := range targets {
		got := len(cloud.Applied(tg.Key()))
		if got > applied[tg.Key()] {
			extra := got - applied[tg.Key()]
			rep.ExtraPasswords += extra
		}
		if !abandoned[tg.Key()] && applied[tg.Key()] > 0 {
			assert.NoError(t, cloud.CheckCurrent(f.Prefix, tg))
		}
	}
	canary.Check(t)
	_, _, _, hits := canary.scan()
	rep.Leaks = len(hits)
	matrixFigures.Lock()
	rep.MatrixCells, rep.MatrixPassed = matrixFigures.cells, matrixFigures.passed
	matrixFigures.Unlock()
	rep.GoVersion = runtime.Version()
	rep.Command = fmt.Sprintf("go test ./internal/checks/reliability -run 'TestFaultMatrix|TestSoak' -count=1 -args -seed %d -rotations %d -report docs/RELIABILITY.md", seed, n)
	js, _ := json.Marshal(rep)
	t.Logf("soak figures: %s", js)
	require.Zero(t, rep.PasswordsLost, "passwords lost")
	// An abandoned batch may leave one extra password on each of its
	// targets, so the bound counts targets, not rotations.
	require.LessOrEqual(t, rep.ExtraPasswords, abandonedTargets, "passwords applied beyond one per finished rotation")
	require.Zero(t, rep.Leaks, "passwords leaked")
	if *reportPath != "" {
		require.NoError(t, reliability.UpdateDocument(*reportPath, rep))
		t.Logf("wrote the figures to %s", *reportPath)
	}
}
