package reliability_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

var redteamSteps = flag.Int("redteam.steps", 300, "steps of the red team's mixed soak")

// mixStats counts what the mixed soak did.
type mixStats struct {
	steps, kills, faults, successes map[string]int
}

// TestRedTeamMixedSoak is a seeded soak of -redteam.steps steps on the
// fixture directory, through the built function (and, for the operator's
// steps, the built CLI) against one local cloud: single rotations under a
// new key, a key used before (a redelivery) and an old key; selector
// runs; sweeps; CLI rotations; CLI resolve of an unfinished rotation
// (apply when its password is in effect, discard with --confirm when
// ACSCurrent's is, what an operator checks first); faults before a step
// (throttling, 5xx, lost answers, slow resets, refused promotes) and the
// function or the CLI killed (SIGKILL) at a random call of it. After every
// step I1 holds for every account; after every success I2 for each target
// it reports rotated. One side runs at a time: the contract's condition.
func TestRedTeamMixedSoak(t *testing.T) {
	seed := *redteamSeed
	t.Logf("seed %d, %d steps (reproduce with -run TestRedTeamMixedSoak -args -redteam.seed %d)", seed, *redteamSteps, seed)
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	s := MustRunStack(t, 0)
	users := s.users
	require.NotEmpty(t, users)
	st := mixStats{steps: map[string]int{}, kills: map[string]int{}, faults: map[string]int{}, successes: map[string]int{}}
	var keys []string // keys used, oldest first

	user := func() reset.Target { return users[rng.IntN(len(users))] }
	pendingOf := func(u reset.Target) (string, bool) {
		p, ok := s.cloud.stagedVersion(u, "ACSPending")
		return p, ok && p != s.cloud.CurrentVersion(reset.DefaultSecretPrefix, u)
	}
	armKill := func(cli bool, kill func()) {
		at := 1 + rng.IntN(10)
		n := 0
		var once sync.Once
		s.cloud.Hook(func(c emulator.Call) {
			if c.Product == emulator.FC || fromCLI(c) != cli {
				return
			}
			n++
			if n == at {
				once.Do(kill)
			}
		})
	}

	for i := 0; i < *redteamSteps; i++ {
		// Faults before the step.
		if rng.IntN(3) == 0 {
			switch rng.IntN(6) {
			case 0:
				s.cloud.FailNext("ResetUserPassword", 1+rng.IntN(3), 400, "Throttling.User")
				st.faults["reset throttled"]++
			case 1:
				s.cloud.FailNext("PutSecretValue", 1+rng.IntN(3), 503, "ServiceUnavailable")
				st.faults["stage 503"]++
			case 2:
				s.cloud.DropAfterApply("ResetUserPassword", 1)
				st.faults["reset answer lost"]++
			case 3:
				s.cloud.DropAfterApply("UpdateSecretVersionStage", 1)
				st.faults["promote answer lost"]++
			case 4:
				s.cloud.FailNext("UpdateSecretVersionStage", 1, 400, "InvalidParameter")
				st.faults["promote refused"]++
			case 5:
				// Slow, then a kill at a random call: a reset the
				// function never heard back from.
				s.cloud.ApplyLate("ResetUserPassword", 1, 50*time.Millisecond)
				st.faults["reset slow"]++
			}
		}
		kill := rng.IntN(7) == 0

		var kind string
		var targets []reset.Target // whose I2 a success proves
		success := false
		var results []localrun.Result
		invoke := func(event []byte) {
			if kill {
				armKill(false, s.in.Kill)
			}
			a, err := s.in.Invoke(t, event)
			s.cloud.ClearHooks()
			if err == errInstanceDied {
				st.kills["function"]++
				s.cloud.Quiesce()
				s.in.Start(t)
				return
			}
			require.NoError(t, err)
			success = fnSucceeded(a) || (len(a.Responses) == 1 && a.Responses[0].Error == nil && a.FunctionError == nil && (a.HTTP == nil || a.HTTP.StatusCode == 200))
			results = a.Results()
		}
		cli := func(args ...string) {
			k := make(chan struct{})
			if kill {
				armKill(true, func() { close(k) })
			}
			r := runCLI(t, s.cloud, k, args...)
			s.cloud.ClearHooks()
			if r.killed {
				st.kills["cli"]++
				return
			}
			success = r.code == 0
			if args[0] == "rotate" {
				var resp localrun.Response
				if json.Unmarshal([]byte(r.stdout), &resp) == nil {
					results = resp.Results
				}
			}
		}

		switch r := rng.IntN(10); {
		case r < 3:
			kind = "new key"
			u := user()
			key := fmt.Sprintf("soak-%d-%d", seed, i)
			keys = append(keys, key+"|"+u.UserID)
			invoke(helpdesk(key, u))
		case r < 4 && len(keys) > 0:
			kind = "reused key"
			k := keys[len(keys)-1-rng.IntN(min(3, len(keys)))]
			invoke(helpdesk(k[:indexByte(k, '|')], targetOf(users, k[indexByte(k, '|')+1:])))
		case r < 5 && len(keys) > 0:
			kind = "old key"
			k := keys[rng.IntN(len(keys))]
			invoke(helpdesk(k[:indexByte(k, '|')], targetOf(users, k[indexByte(k, '|')+1:])))
		case r < 6:
			kind = "selector"
			invoke(helpdeskBody(fmt.Sprintf("soak-sel-%d-%d", seed, i), selectAll))
		case r < 7:
			kind = "sweep"
			invoke(httpEvent("POST", `{"sweep":{}}`, map[string]string{"Idempotency-Key": fmt.Sprintf("soak-sweep-%d-%d", seed, i)}))
		case r < 8:
			kind = "cli rotate"
			u := user()
			cli("rotate", "--json", "--directory-id", u.DirectoryID, "--user-id", u.UserID)
		default:
			u := user()
			p, unfinished := pendingOf(u)
			if !unfinished {
				kind = "cli rotate"
				cli("rotate", "--json", "--directory-id", u.DirectoryID, "--user-id", u.UserID)
				break
			}
			s.cloud.Quiesce()
			inEff, _ := s.cloud.inEffect(u)
			if held, ok := s.cloud.stagedPassword(reset.DefaultSecretPrefix, u, emulator.StageCurrent); ok && held == inEff {
				kind = "cli discard"
				cli("resolve", u.SecretName(reset.DefaultSecretPrefix), "--discard", p, "--confirm")
			} else {
				kind = "cli apply"
				cli("resolve", u.SecretName(reset.DefaultSecretPrefix), "--apply", p)
			}
			if success {
				targets = append(targets, u)
			}
		}
		st.steps[kind]++
		for _, res := range results {
			if res.Status == "rotated" || res.Status == "superseded" {
				targets = append(targets, targetOf(users, res.UserID))
			}
		}
		if success {
			st.successes[kind]++
		}
		s.cloud.Quiesce()
		for _, u := range users {
			require.NoError(t, s.cloud.CheckI1(reset.DefaultSecretPrefix, u), "step %d (%s, seed %d)", i, kind, seed)
		}
		for _, u := range targets {
			require.NoError(t, s.cloud.CheckCurrent(reset.DefaultSecretPrefix, u), "I2: step %d (%s, seed %d)", i, kind, seed)
		}
	}
	t.Logf("steps %v", st.steps)
	t.Logf("successes %v", st.successes)
	t.Logf("kills %v, faults %v", st.kills, st.faults)
	canary.Check(t)
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func targetOf(users []reset.Target, id string) reset.Target {
	for _, u := range users {
		if u.UserID == id {
			return u
		}
	}
	return reset.Target{}
}
