package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// fleet is a local cloud whose directory has n more users: every tenth
// disabled, three in four named "ops-…", and the handler app.New builds on
// it.
type fleet struct {
	cloud *emulator.Cloud
	h     *handler.Handler
	logs  *lockedLog
	users []emulator.SSOUser
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mustFleet(t *testing.T, dir string, n int) *fleet {
	t.Helper()
	cloud, cfg := MustLocalConfig(t)
	// One try per call: a lost answer fails the target, as a kill would,
	// instead of being retried.
	cfg.MaxAttempts = 1
	f := &fleet{cloud: cloud, logs: &lockedLog{}}
	for i := range n {
		u := emulator.SSOUser{ID: fmt.Sprintf("u-fleet%04d", i), Name: fmt.Sprintf("dev-%04d", i),
			Password: fmt.Sprintf("Initial-Pw-%04d-x", i), Status: "Enabled", ProvisionType: "Manual"}
		if i%4 != 3 {
			u.Name = fmt.Sprintf("ops-%04d", i)
		}
		if i%10 == 0 {
			u.Status = "Disabled"
		}
		f.users = append(f.users, u)
	}
	require.True(t, cloud.AddSSOUsers(dir, f.users...))
	h, err := app.New(cfg, app.Deps{Logger: app.NewLogger(f.logs, cfg.LogLevel), Aliyun: noDefaultCredentials})
	require.NoError(t, err)
	f.h = h
	return f
}

func fleetCtx() context.Context {
	return fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID: "1-fleet",
		Credentials: fccontext.Credentials{
			AccessKeyId:     emulator.FixtureFunctionRoleKeyID,
			AccessKeySecret: "placeholder-function-role-secret-0001",
			SecurityToken:   "CAISplaceholderFunctionRoleSecurityToken0001",
		},
	})
}

func (f *fleet) run(t *testing.T, key, body string) (handler.Response, error) {
	t.Helper()
	resp, _, err := f.h.RunRequest(fleetCtx(), "cli", key, []byte(body))
	return resp, err
}

func (f *fleet) count(action string) int {
	n := 0
	for _, c := range f.cloud.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

// assertI1 checks every listed user: the password in effect is held by the
// version staged ACSCurrent of its secret.
func (f *fleet) assertI1(t *testing.T, dir string, ids []string) {
	t.Helper()
	for _, id := range ids {
		pw, ok := f.cloud.SSOPassword(dir, id)
		require.True(t, ok)
		s, ok := f.cloud.Secret("pwreset/cloudsso/" + dir + "/" + id)
		require.True(t, ok, id)
		var held []string
		for _, v := range s.Versions {
			var data struct{ Password string }
			require.NoError(t, json.Unmarshal([]byte(v.Data), &data))
			if strings.Contains(strings.Join(v.Stages, ","), reset.StageCurrent) {
				held = append(held, data.Password)
			}
		}
		assert.Equal(t, []string{pw}, held, "I1: ACSCurrent of %s holds the password in effect", id)
	}
}

// matching returns the ids of the users an "ops-", Enabled selector
// excluding excl matches.
func (f *fleet) matching(excl string) []string {
	var out []string
	for _, u := range f.users {
		if strings.HasPrefix(u.Name, "ops-") && u.Status == "Enabled" && u.ID != excl {
			out = append(out, u.ID)
		}
	}
	return out
}

func selectBody(dir string, max int, dry bool, excl string) string {
	return fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"select":{"status":"Enabled","provisionType":"Manual","userNamePrefix":"ops-","exclude":[%q]},"maxTargets":%d,"dryRun":%t}`,
		dir, excl, max, dry)
}

func statuses(resp handler.Response) map[reset.Status]int {
	out := map[reset.Status]int{}
	for _, r := range resp.Results {
		out[r.Status]++
	}
	return out
}

func TestSelectorRuns(t *testing.T) {
	dir := emulator.FixtureDirectoryID
	const excl = "u-fleet0002"
	tests := []struct {
		name  string
		max   int
		dry   bool
		check func(t *testing.T, f *fleet, resp handler.Response, err error)
	}{
		{"RotatesEveryMatchAcrossPages", 500, false, func(t *testing.T, f *fleet, resp handler.Response, err error) {
			require.NoError(t, err)
			want := f.matching(excl)
			require.Len(t, want, 162, "188 ops- users, 25 of them disabled, one excluded")
			assert.Equal(t, map[reset.Status]int{reset.StatusRotated: len(want)}, statuses(resp))
			assert.GreaterOrEqual(t, f.count("ListUsers"), 2, "the directory is read page by page")
			f.assertI1(t, dir, want)
			for _, r := range resp.Results {
				assert.NotEqual(t, excl, r.UserID, "the excluded user is not reset")
			}
			for _, pw := range f.cloud.AcceptedPasswords() {
				assert.NotContains(t, f.logs.String(), pw)
				b, _ := json.Marshal(resp)
				assert.NotContains(t, string(b), pw)
			}
		}},
		{"DryRunCountsAndChangesNothing", 500, true, func(t *testing.T, f *fleet, resp handler.Response, err error) {
			require.NoError(t, err)
			assert.Equal(t, map[reset.Status]int{reset.StatusValidated: len(f.matching(excl))}, statuses(resp))
			assert.Zero(t, f.count("ResetUserPassword"))
			assert.Zero(t, f.count("CreateSecret"))
		}},
		{"ErrMoreThanMaxTargets", 100, false, func(t *testing.T, f *fleet, resp handler.Response, err error) {
			require.Error(t, err)
			require.NotNil(t, resp.Error)
			assert.Contains(t, resp.Error.Message, "maxTargets: the selector matches 162 accounts, more than maxTargets 100: nothing was reset")
			assert.Zero(t, f.count("ResetUserPassword"))
			assert.Zero(t, f.count("CreateSecret"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, dir, 250)
			resp, err := f.run(t, "sel-"+tt.name, selectBody(dir, tt.max, tt.dry, excl))
			tt.check(t, f, resp, err)
		})
	}
}

func TestSelectorStopsAtSSOLogon(t *testing.T) {
	dir := emulator.FixtureSSOLogonDirectoryID
	f := mustFleet(t, dir, 60)
	resp, err := f.run(t, "sso-stop", fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"select":{},"maxTargets":100}`, dir))
	require.Error(t, err)
	st := statuses(resp)
	assert.Equal(t, 61, len(resp.Results), "the fixture's user and the 60 added")
	assert.LessOrEqual(t, f.count("ResetUserPassword"), reset.DefaultMaxInFlight, "no reset starts after the first refusal")
	assert.GreaterOrEqual(t, st[reset.StatusSkipped], 61-reset.DefaultMaxInFlight)
	assert.Equal(t, handler.ErrorCode("Conflict"), resp.Error.Code)
}

// TestSelectorRedelivered: a run whose resets are cut off (the answer lost
// after the service applied it, as when the instance is killed) is run again
// under the same key, twice: every account ends rotated once, under the
// version of the run's key, with I1 for each.
func TestSelectorRedelivered(t *testing.T) {
	dir := emulator.FixtureDirectoryID
	const excl = "u-fleet0002"
	f := mustFleet(t, dir, 250)
	f.cloud.DropAfterApply("ResetUserPassword", 20)
	f.cloud.DropAfterApply("UpdateSecretVersionStage", 10)
	first, err := f.run(t, "redeliver", selectBody(dir, 500, false, excl))
	require.Error(t, err, "the cut-off resets fail the first delivery")
	assert.Positive(t, statuses(first)[reset.StatusFailed])
	want := f.matching(excl)
	for range 2 {
		resp, err := f.run(t, "redeliver", selectBody(dir, 500, false, excl))
		require.NoError(t, err)
		assert.Equal(t, map[reset.Status]int{reset.StatusRotated: len(want)}, statuses(resp))
		for _, r := range resp.Results {
			tgt := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: dir, UserID: r.UserID}
			assert.Equal(t, reset.VersionID(handler.ScopedKey("cli", "redeliver"), tgt), r.VersionID, "the run's key gives the version")
		}
	}
	f.assertI1(t, dir, want)
	secrets := 0
	for _, s := range f.cloud.Secrets() {
		if strings.HasPrefix(s.Name, "pwreset/cloudsso/"+dir+"/u-fleet") {
			secrets++
			assert.LessOrEqual(t, len(s.Versions), 2, "%s: the placeholder and one rotation", s.Name)
		}
	}
	assert.Equal(t, len(want), secrets)
}

func TestSweep(t *testing.T) {
	dir := emulator.FixtureDirectoryID
	f := mustFleet(t, dir, 6)
	one := func(id string) string {
		return fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"userId":%q}`, dir, id)
	}
	// u-fleet0001: rotated, then a second rotation killed after its reset.
	_, err := f.run(t, "a1", one("u-fleet0001"))
	require.NoError(t, err)
	f.cloud.DropAfterApply("ResetUserPassword", 1)
	_, err = f.run(t, "a2", one("u-fleet0001"))
	require.Error(t, err)
	// u-fleet0003: a first rotation killed after its reset.
	f.cloud.DropAfterApply("ResetUserPassword", 1)
	_, err = f.run(t, "b1", one("u-fleet0003"))
	require.Error(t, err)
	// u-fleet0004: only the placeholder (killed once it was created).
	f.cloud.DropAfterApply("CreateSecret", 1)
	_, err = f.run(t, "c1", one("u-fleet0004"))
	require.Error(t, err)
	// u-fleet0005: rotated, then removed from the directory.
	_, err = f.run(t, "d1", one("u-fleet0005"))
	require.NoError(t, err)
	f.cloud.RemoveSSOUser(dir, "u-fleet0005")

	dry, err := f.run(t, "sweep-dry", `{"sweep":{},"dryRun":true}`)
	require.NoError(t, err)
	resets := f.count("ResetUserPassword")
	resp, err := f.run(t, "sweep", `{"sweep":{}}`)
	require.NoError(t, err)

	bySecret := func(resp handler.Response) map[string]string {
		out := map[string]string{}
		for _, r := range resp.Results {
			out[strings.TrimPrefix(r.SecretName, "pwreset/cloudsso/"+dir+"/")] = string(r.Status) + "/" + r.Drift
		}
		return out
	}
	assert.Equal(t, map[string]string{
		"u-fleet0001": "drift/unfinished", "u-fleet0003": "drift/unfinished",
		"u-fleet0004": "drift/placeholder", "u-fleet0005": "drift/accountGone",
	}, bySecret(dry), "the dry run reports, finishing nothing")
	assert.Equal(t, map[string]string{
		"u-fleet0001": "rotated/", "u-fleet0003": "rotated/",
		"u-fleet0004": "drift/placeholder", "u-fleet0005": "drift/accountGone",
	}, bySecret(resp))
	assert.Equal(t, resets+2, f.count("ResetUserPassword"), "the sweep re-applied the two stored passwords, nothing else")
	f.assertI1(t, dir, []string{"u-fleet0001", "u-fleet0003"})

	again, err := f.run(t, "sweep-2", `{"sweep":{}}`)
	require.NoError(t, err)
	assert.Equal(t, "healthy/", bySecret(again)["u-fleet0001"], "a second sweep finds nothing left")
	for _, pw := range f.cloud.AcceptedPasswords() {
		assert.NotContains(t, f.logs.String(), pw)
	}
}

// TestSweepFabric: the sweep finishes a Fabric rotation from the secret
// alone (its value holds the location; the name does not), through the
// real SDK clients against the local cloud.
func TestSweepFabric(t *testing.T) {
	f := mustFleet(t, emulator.FixtureDirectoryID, 0)
	org := emulator.FixtureOrganizationID
	body := func(user string) string {
		return fmt.Sprintf(`{"target":"fabric","organizationId":%q,"username":%q,"location":%q}`, org, user, emulator.FixtureLocation)
	}
	const action = "ResetFabricOrganizationUserPassword"
	// asian01: rotated, then a second rotation killed after its reset.
	_, err := f.run(t, "f1", body("asian01"))
	require.NoError(t, err)
	f.cloud.DropAfterApply(action, 1)
	_, err = f.run(t, "f2", body("asian01"))
	require.Error(t, err)
	// asian02: a first rotation killed after its reset.
	f.cloud.DropAfterApply(action, 1)
	_, err = f.run(t, "f3", body("asian02"))
	require.Error(t, err)
	for _, u := range []string{"asian01", "asian02"} {
		s, ok := f.cloud.Secret("pwreset/fabric/" + org + "/" + u)
		require.True(t, ok)
		for _, v := range s.Versions {
			var data struct{ Location string }
			require.NoError(t, json.Unmarshal([]byte(v.Data), &data))
			assert.Equal(t, emulator.FixtureLocation, data.Location, "every value of %s holds the location", u)
		}
	}

	resets := f.count(action)
	resp, err := f.run(t, "sweep", `{"sweep":{}}`)
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range resp.Results {
		got[r.SecretName] = string(r.Status) + "/" + r.Drift + "/" + r.Detail
		assert.Equal(t, emulator.FixtureLocation, r.Location, "the result names the location the value holds")
	}
	assert.Equal(t, map[string]string{
		"pwreset/fabric/" + org + "/asian01": "rotated//",
		"pwreset/fabric/" + org + "/asian02": "rotated//",
	}, got)
	assert.Equal(t, resets+2, f.count(action), "the sweep re-applied the two stored passwords")
	for _, u := range []string{"asian01", "asian02"} {
		pw, ok := f.cloud.FabricPassword(org, u)
		require.True(t, ok)
		s, ok := f.cloud.Secret("pwreset/fabric/" + org + "/" + u)
		require.True(t, ok)
		var held []string
		for _, v := range s.Versions {
			var data struct{ Password string }
			require.NoError(t, json.Unmarshal([]byte(v.Data), &data))
			if strings.Contains(strings.Join(v.Stages, ","), reset.StageCurrent) {
				held = append(held, data.Password)
			}
		}
		assert.Equal(t, []string{pw}, held, "I1: ACSCurrent of %s holds the password in effect", u)
	}
	for _, pw := range f.cloud.AcceptedPasswords() {
		assert.NotContains(t, f.logs.String(), pw)
	}
}
