package reset_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pendingPassword = "Pend1ng!Sweep#Pw"

// oldFabricValue is a Fabric secret value as written before values held
// the location.
func oldFabricValue(t reset.Target, password string) []byte {
	v := `{"target":"fabric","organizationId":"` + t.OrganizationID + `","username":"` + t.Username + `"`
	if password != "" {
		v += `,"password":"` + password + `"`
	}
	return []byte(v + `}`)
}

// unfinish leaves t's secret as a rotation killed after its reset leaves
// it: a version pending and not current holding password, which t has.
func unfinish(t *testing.T, e *env, target reset.Target, vid string, data []byte, password string) {
	t.Helper()
	ctx := context.Background()
	name := target.SecretName("pwreset/")
	require.NoError(t, e.Store.PutVersion(ctx, name, vid, data, []string{reset.StagePending}))
	require.NoError(t, e.Resetter(target).ResetPassword(ctx, target, password))
}

func sweepReq(key string, dry bool) reset.Request {
	return reset.Request{IdempotencyKey: key, Sweep: true, DryRun: dry}
}

func bySecret(res []reset.Result) map[string]reset.Result {
	out := map[string]reset.Result{}
	for _, r := range res {
		out[r.SecretName] = r
	}
	return out
}

func TestSweepFabric(t *testing.T) {
	ctx := context.Background()
	old := fabWith(func(t *reset.Target) { t.Username = "legacy01" })
	cases := []struct {
		name string
		// seed leaves fab's secret in the state under test.
		seed       func(t *testing.T, e *env)
		dry        bool
		status     reset.Status
		drift      string
		detail     string // a part of Detail; "" wants none
		resets     int    // resets the sweep makes
		healed     bool   // ACSCurrent holds the pending password after
		targetWith string // the Location of the result's target
	}{
		{name: "FinishesFromTheValue", seed: func(t *testing.T, e *env) {
			MustRotate(t, ctx, e, req("k1", fab))
			unfinish(t, e, fab, "v-killed", reset.SecretData(fab, pendingPassword), pendingPassword)
		}, status: reset.StatusRotated, resets: 1, healed: true, targetWith: "cn-hangzhou"},
		{name: "FinishesAFirstRotation", seed: func(t *testing.T, e *env) {
			require.NoError(t, e.Store.CreateSecret(ctx, fab.SecretName("pwreset/"), reset.PlaceholderVersionID, reset.SecretData(fab, "")))
			unfinish(t, e, fab, "v-killed", reset.SecretData(fab, pendingPassword), pendingPassword)
		}, status: reset.StatusRotated, resets: 1, healed: true, targetWith: "cn-hangzhou"},
		{name: "DryRunReports", seed: func(t *testing.T, e *env) {
			MustRotate(t, ctx, e, req("k1", fab))
			unfinish(t, e, fab, "v-killed", reset.SecretData(fab, pendingPassword), pendingPassword)
		}, dry: true, status: reset.StatusDrift, drift: reset.DriftUnfinished},
		{name: "OldValueWithoutLocation", seed: func(t *testing.T, e *env) {
			require.NoError(t, e.Store.CreateSecret(ctx, fab.SecretName("pwreset/"), reset.PlaceholderVersionID, oldFabricValue(fab, "")))
			unfinish(t, e, fab, "v-killed", oldFabricValue(fab, pendingPassword), pendingPassword)
		}, status: reset.StatusDrift, drift: reset.DriftUnfinished, detail: "holds no valid location"},
		{name: "ValueOfAnotherUser", seed: func(t *testing.T, e *env) {
			MustRotate(t, ctx, e, req("k1", fab))
			unfinish(t, e, fab, "v-killed", reset.SecretData(old, pendingPassword), pendingPassword)
		}, status: reset.StatusDrift, drift: reset.DriftUnfinished, detail: "holds no valid location"},
		{name: "HealthyAfterARotation", seed: func(t *testing.T, e *env) {
			MustRotate(t, ctx, e, req("k1", fab))
		}, status: reset.StatusHealthy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t, nil)
			tc.seed(t, e)
			before := e.Rec.Count(opReset)
			res, err := e.Rotator.Rotate(ctx, sweepReq("sweep-1", tc.dry))
			require.NoError(t, err)
			require.Len(t, res, 1)
			got := res[0]
			assert.Equal(t, fab.SecretName("pwreset/"), got.SecretName)
			assert.Equal(t, tc.status, got.Status, "%v", got.Err)
			assert.Equal(t, tc.drift, got.Drift)
			if tc.detail == "" {
				assert.Empty(t, got.Detail)
			} else {
				assert.Contains(t, got.Detail, tc.detail)
				assert.Contains(t, got.Detail, "v-killed")
			}
			assert.NoError(t, got.Err)
			assert.Equal(t, tc.resets, e.Rec.Count(opReset)-before, "resets made by the sweep")
			assert.Equal(t, tc.targetWith, got.Target.Location)

			cur, ok := e.Store.Staged(fab.SecretName("pwreset/"), reset.StageCurrent)
			require.True(t, ok)
			if tc.healed {
				assert.Equal(t, "v-killed", cur.VersionID)
				assert.Equal(t, "v-killed", got.RolledForward)
				// I1: ACSCurrent holds the password in effect.
				have, _ := e.Fabric.Current(fab)
				assert.True(t, have == MustPassword(t, cur, fab), "ACSCurrent holds the password in effect")
			} else {
				assert.NotEqual(t, "v-killed", cur.VersionID, "nothing was promoted")
			}
			for _, pw := range append(e.Fabric.AllApplied(), pendingPassword) {
				assert.NotContains(t, e.LogLines.String(), pw)
				assert.NotContains(t, got.Detail, pw)
			}
		})
	}
}

// TestSweepEvents: a sweep publishes one RolledForward event per rotation
// it finished, nothing for the secrets it only reports on (healthy, drift),
// and one Run:Completed event counting them all.
func TestSweepEvents(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		dry   bool
		types []string
	}{
		{"Sweep", false, []string{reset.EventRotationRolledForward, reset.EventRunCompleted}},
		{"DryRun", true, []string{reset.EventRunCompleted}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &FakePublisher{}
			e := MustEnv(t, nil, withPublisher(pub))
			healthy := ssoWith(func(t *reset.Target) { t.UserID = "u-healthy" })
			placeholder := ssoWith(func(t *reset.Target) { t.UserID = "u-placeholder" })
			gone := ssoWith(func(t *reset.Target) { t.UserID = "u-gone" })
			MustRotate(t, ctx, e, req("k1", healthy, fab, gone))
			require.NoError(t, e.Store.CreateSecret(ctx, placeholder.SecretName("pwreset/"), reset.PlaceholderVersionID, reset.SecretData(placeholder, "")))
			unfinish(t, e, fab, "v-killed", reset.SecretData(fab, pendingPassword), pendingPassword)
			e.SSO.Remove(gone)
			n := len(pub.Events())

			res, err := e.Rotator.Rotate(ctx, sweepReq("sweep-"+tc.name, tc.dry))
			require.NoError(t, err)
			got := bySecret(res)
			require.Len(t, got, 4)
			assert.Equal(t, reset.StatusHealthy, got[healthy.SecretName("pwreset/")].Status)
			assert.Equal(t, reset.DriftPlaceholder, got[placeholder.SecretName("pwreset/")].Drift)
			assert.Equal(t, reset.DriftAccountGone, got[gone.SecretName("pwreset/")].Drift)

			events := pub.Events()[n:]
			var types []string
			for _, ev := range events {
				types = append(types, ev.Type)
				if ev.Type == reset.EventRotationRolledForward {
					d := ev.Data.(reset.OutcomeData)
					assert.Equal(t, fab.SecretName("pwreset/"), ev.Subject)
					assert.Equal(t, "v-killed", d.VersionID)
					assert.Equal(t, "cn-hangzhou", d.IDs["location"])
					assert.Empty(t, d.RolledForwardBy, "no rotation of its own finished it")
				}
			}
			assert.Equal(t, tc.types, types)
			run := events[len(events)-1].Data.(reset.RunData)
			assert.Equal(t, 4, run.Targets)
			if !tc.dry {
				assert.Equal(t, map[reset.Status]int{reset.StatusHealthy: 1, reset.StatusDrift: 2, reset.StatusRotated: 1}, run.Statuses)
			}
			for _, ev := range events {
				b, err := json.Marshal(ev.Data)
				require.NoError(t, err)
				for _, pw := range append(e.SSO.AllApplied(), e.Fabric.AllApplied()...) {
					assert.NotContains(t, string(b), pw)
				}
			}
		})
	}
}
