package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// TestFleetSampleEvents runs every sample of events/fleet/ through the
// binary and the local cloud: a selector dry run validates each matching
// account and changes nothing; a selector rotates each matching account;
// the sweep finishes a Fabric rotation a kill left unfinished (seeded
// first) and reports the rest healthy.
func TestFleetSampleEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "fleet", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			event, err := os.ReadFile(file)
			require.NoError(t, err)
			// One try per call: a lost answer leaves the rotation
			// unfinished, as a kill would, instead of being retried.
			s := MustStart(t, "MAX_ATTEMPTS=1")
			texts := map[string]string{}
			org := emulator.FixtureOrganizationID
			one := func(key string) []byte {
				ev := httpEvent(t, "POST", `{"target":"fabric","organizationId":"`+org+`","username":"asian01","location":"cn-hangzhou"}`)
				return withNewIdempotencyKey(t, ev, len(key))
			}
			if strings.Contains(name, "sweep") {
				// asian01: rotated, then a rotation killed after its reset.
				out, err := s.Invoke(testCtx(t), one("a"), emulator.Invocation{RequestID: "e2e-seed-1"})
				require.NoError(t, err)
				requireInEffect(t, s, successResults(t, one("a"), out))
				s.Cloud.DropAfterApply("ResetFabricOrganizationUserPassword", 1)
				out, err = s.Invoke(testCtx(t), one("bb"), emulator.Invocation{RequestID: "e2e-seed-2"})
				require.NoError(t, err)
				texts["seed"] = outcomeText(out)
				a, err := localrun.Decode(one("bb"), out)
				require.NoError(t, err)
				require.False(t, a.OK(), "the seeded rotation must be left unfinished")
			}
			resets := resetCalls(s.Cloud)
			secrets := len(s.Cloud.Secrets())
			out, err := s.Invoke(testCtx(t), event, emulator.Invocation{RequestID: "e2e-" + name})
			require.NoError(t, err)
			texts["response"] = outcomeText(out)
			results := successResults(t, event, out)
			switch {
			case strings.Contains(name, "dry-run"):
				// Three users, one excluded.
				require.Len(t, results, 2)
				for _, r := range results {
					assert.Equal(t, "validated", r.Status)
				}
				assert.Equal(t, resets, resetCalls(s.Cloud), "a dry run resets nothing")
				assert.Equal(t, secrets, len(s.Cloud.Secrets()), "a dry run creates nothing")
			case strings.Contains(name, "sweep"):
				require.Len(t, results, 1)
				assert.Equal(t, "rotated", results[0].Status)
				assert.NotEmpty(t, results[0].RolledForward)
				assert.Equal(t, "cn-hangzhou", results[0].Location)
				assert.Equal(t, resets+1, resetCalls(s.Cloud), "the sweep re-applied the stored password only")
				requireInEffect(t, s, results)
			default:
				require.Len(t, results, 2, "every user of the organization")
				requireInEffect(t, s, results)
			}
			requireSignedByRole(t, s)
			texts["function output"] = s.Output.String()
			if len(s.Cloud.AcceptedPasswords()) > 0 {
				requireNoPasswordIn(t, s, texts)
			}
		})
	}
}
