package reliability_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

var (
	redteamSeed   = flag.Uint64("redteam.seed", 20261201, "seed of the red team's kills and faults through runs")
	redteamRounds = flag.Int("redteam.rounds", 3, "seeds (from -redteam.seed on) the killed sweep is tried with")
)

// armRunFaults arms, from rng, faults on the roll-forward's reset and
// promote: throttling, a 5xx, a lost answer after the call applied, and a
// slow call (applied 1.5 s late, within the client's timeout: a call
// applied after its client gave up is TestFaultMatrix's applied-late
// column). It returns what it armed.
func armRunFaults(c *testCloud, rng *rand.Rand) []string {
	var armed []string
	for _, action := range []string{"ResetUserPassword", "UpdateSecretVersionStage"} {
		n := 1 + rng.IntN(16)
		switch rng.IntN(5) {
		case 0:
			code, status := "Throttling.User", 400
			if action == "UpdateSecretVersionStage" {
				code, status = "Rejected.Throttling", 429
			}
			c.FailNext(action, n, status, code)
			armed = append(armed, action+" throttled")
		case 1:
			c.FailNext(action, n, 503, "ServiceUnavailable")
			armed = append(armed, action+" 503")
		case 2:
			c.DropAfterApply(action, n)
			armed = append(armed, action+" answer lost")
		case 3:
			c.ApplyLate(action, 1, 1500*time.Millisecond)
			armed = append(armed, action+" slow")
		default:
			armed = append(armed, action+" clean")
		}
	}
	return armed
}

// waitRun waits until every chunk queued is done, and returns them all.
func waitRun(tb testing.TB, c *testCloud) []emulator.AsyncInvocation {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for n := 1; ; n++ {
		all, err := c.WaitAsyncDone(ctx, n)
		require.NoError(tb, err)
		if len(all) == n {
			return all
		}
	}
}

// requireRunInvariants checks I1 for every user and I2 for every user
// whose secret says its rotation finished (ACSPending is ACSCurrent: what
// a success leaves).
func (s *runStack) requireRunInvariants(tb testing.TB, step string) (finished int) {
	tb.Helper()
	s.cloud.Quiesce()
	for _, u := range s.users {
		require.NoError(tb, s.cloud.CheckI1(reset.DefaultSecretPrefix, u), "%s", step)
		pending, ok := s.cloud.stagedVersion(u, "ACSPending")
		if ok && pending == s.cloud.CurrentVersion(reset.DefaultSecretPrefix, u) {
			finished++
			require.NoError(tb, s.cloud.CheckCurrent(reset.DefaultSecretPrefix, u), "%s: I2", step)
		}
	}
	return finished
}

// TestRedTeamSweepKilledWithFaults leaves every account of a directory
// with an unfinished rotation (a long batch whose promotes are refused),
// then sweeps: the sweep is a run of two chunks whose roll-forwards meet
// throttling, 5xx answers, lost answers and slow calls on their reset and
// promote, and whose instance is killed (SIGKILL) at a random call; FC
// redelivers the chunk to a new instance. After each step I1 holds for
// every account and I2 for every finished one; a second sweep finishes
// what the first could not; no account got a password beyond the one its
// batch rotation staged (cloud.Applied), and each run ended once.
// -redteam.seed picks the kill and the faults.
func TestRedTeamSweepKilledWithFaults(t *testing.T) {
	for round := range *redteamRounds {
		seed := *redteamSeed + uint64(round)
		t.Run("seed"+itoa(int(seed)), func(t *testing.T) {
			t.Logf("seed %d (reproduce with -run 'TestRedTeamSweepKilledWithFaults/seed%d' -args -redteam.seed %d)", seed, seed, seed)
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			s := mustRunStack(t, 120, 8*time.Second) // 123 users: two chunks
			s.cloud.FailNext("UpdateSecretVersionStage", len(s.users), 400, "InvalidParameter")
			a, err := s.in.Invoke(t, []byte(batchFor(s.users...)))
			require.NoError(t, err)
			require.True(t, a.Responses[0].Accepted)
			waitRun(t, s.cloud)
			require.Zero(t, s.requireRunInvariants(t, "after the batch"), "a promote the cloud refused finished")
			for _, u := range s.users {
				require.Len(t, s.cloud.Applied(u.Key()), 1)
			}

			armed := armRunFaults(s.cloud, rng)
			at := 1 + rng.IntN(420)
			t.Logf("faults %v; killed at call %d of the sweep", armed, at)
			var calls atomic.Int64
			killed := make(chan struct{})
			s.cloud.Hook(func(c emulator.Call) {
				if c.Product != emulator.FC && calls.Add(1) == int64(at) {
					s.in.Kill()
					close(killed)
				}
			})
			a, err = s.in.Invoke(t, []byte(`{"sweep":{}}`))
			if err == errInstanceDied {
				// Killed in the first invocation (it lists): its caller
				// delivers it again, to a new instance.
				s.cloud.ClearHooks()
				s.requireRunInvariants(t, "right after the kill")
				s.in.Start(t)
				a, err = s.in.Invoke(t, []byte(`{"sweep":{}}`))
			}
			require.NoError(t, err)
			require.True(t, a.Responses[0].Accepted)
			select {
			case <-killed:
				if s.cloud.hooked() {
					s.cloud.ClearHooks()
					s.requireRunInvariants(t, "right after the kill")
					s.in.Start(t)
				}
			case <-time.After(time.Minute):
				t.Fatal("the sweep never made the call to kill at")
			}
			all := waitRun(t, s.cloud)
			s.cloud.ClearHooks()
			fin := s.requireRunInvariants(t, "after the sweep")
			t.Logf("after the killed sweep: %d of %d finished; %d chunks in all", fin, len(s.users), len(all))

			// The second sweep, faults spent, finishes the rest.
			a, err = s.in.Invoke(t, []byte(`{"sweep":{}}`))
			require.NoError(t, err)
			require.True(t, a.Responses[0].Accepted)
			waitRun(t, s.cloud)
			require.Equal(t, len(s.users), s.requireRunInvariants(t, "after the second sweep"), "the second sweep left rotations unfinished")
			for _, u := range s.users {
				assert.Len(t, s.cloud.Applied(u.Key()), 1, "%s got a password it did not need", u.Key())
			}
			out := s.in.outputOnce(t, strings.Repeat(`"msg":"run completed"`, 1))
			for i := 0; i < 200 && strings.Count(out, `"msg":"run completed"`) < 3; i++ {
				time.Sleep(25 * time.Millisecond)
				out = s.in.out.String()
			}
			assert.Equal(t, 3, strings.Count(out, `"msg":"run completed"`), "the batch and the two sweeps end once each")
			canary.Check(t)
		})
	}
}

// hooked says whether a hook is set.
func (c *testCloud) hooked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.hooks) > 0
}
