package emulator_test

import (
	"net/http"
	"testing"
	"time"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestGetUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dir, user string
		wantCode  string
	}{
		{name: "OK", dir: emulator.FixtureDirectoryID, user: emulator.FixtureUserID},
		{name: "EntityNotExists.User", dir: emulator.FixtureDirectoryID, user: "u-00nosuchuser0000001", wantCode: "EntityNotExists.User"},
		{name: "EntityNotExists.Directory", dir: "d-00nosuchdir01", user: emulator.FixtureUserID, wantCode: "EntityNotExists.Directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, eps := MustStart(t)
			sso := MustSSO(t, eps.CloudSSO, roleCred(t), sigV3)
			resp, err := sso.GetUser(&cloudsso.GetUserRequest{DirectoryId: tea.String(tt.dir), UserId: tea.String(tt.user)})
			if tt.wantCode != "" {
				code, status := errCode(t, err)
				assert.Equal(t, tt.wantCode, code)
				assert.Equal(t, http.StatusNotFound, status)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.user, tea.StringValue(resp.Body.User.UserId))
			assert.NotEmpty(t, tea.StringValue(resp.Body.RequestId))
		})
	}
}

func TestRemoveSSOUser(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	c.RemoveSSOUser(emulator.FixtureDirectoryID, emulator.FixtureUserID)
	sso := MustSSO(t, eps.CloudSSO, roleCred(t), sigV3)
	_, err := sso.GetUser(&cloudsso.GetUserRequest{DirectoryId: tea.String(emulator.FixtureDirectoryID), UserId: tea.String(emulator.FixtureUserID)})
	code, _ := errCode(t, err)
	assert.Equal(t, "EntityNotExists.User", code)
}

func TestDescribeFabricOrganizationUsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		org, loc string
		wantCode string
	}{
		{name: "OK", org: emulator.FixtureOrganizationID, loc: emulator.FixtureLocation},
		{name: "OK_NoLocation", org: emulator.FixtureOrganizationID},
		{name: "OrganizationNotFound_OtherLocation", org: emulator.FixtureOrganizationID, loc: "cn-beijing", wantCode: "OrganizationNotFound"},
		{name: "OrganizationNotFound", org: "peers-nosuch-1eqnj5o5wab12", loc: emulator.FixtureLocation, wantCode: "OrganizationNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			b := MustBaaS(t, eps.BaaS, roleCred(t), sigV2)
			body := map[string]any{"OrganizationId": tt.org}
			if tt.loc != "" {
				body["Location"] = tt.loc
			}
			res, err := b.call("DescribeFabricOrganizationUsers", emulator.BaaSVersion, body)
			if tt.wantCode != "" {
				code, status := errCode(t, err)
				assert.Equal(t, tt.wantCode, code)
				assert.Equal(t, http.StatusNotFound, status)
				return
			}
			require.NoError(t, err)
			m := res["body"].(map[string]any)
			assert.Equal(t, true, m["Success"])
			users := m["Result"].([]any)
			require.NotEmpty(t, users)
			var names []string
			for _, u := range users {
				names = append(names, u.(map[string]any)["Username"].(string))
				assert.NotContains(t, u, "Password", "the list holds no password")
			}
			assert.Contains(t, names, "asian01")
			for _, pw := range c.AcceptedPasswords() {
				assert.NotContains(t, names, pw)
			}
		})
	}
}

func TestApplyLate(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	recorded := make(chan emulator.Call, 10)
	c.OnCall(func(call emulator.Call) { recorded <- call })
	k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	mustCreate(t, k, "s", "d0", "v0")
	<-recorded

	cfg := config(t, eps.KMS, roleCred(t), sigV3)
	cfg.ReadTimeout = tea.Int(50)
	impatient, err := kms.NewClient(cfg)
	require.NoError(t, err)

	c.ApplyLate("PutSecretValue", 1, 300*time.Millisecond)
	_, err = put(impatient, "s", "d1", "v1", `["ACSPending"]`)
	require.Error(t, err, "the client gives up before the answer")
	call := <-recorded // recorded once applied, after the client left
	assert.Equal(t, "PutSecretValue", call.Action)
	assert.Equal(t, http.StatusOK, call.Status)
	s, _ := c.Secret("s")
	_, applied := s.Version("v1")
	assert.True(t, applied, "applied late")

	// Used up: the next call is served at once.
	mustPut(t, impatient, "s", "d2", "v2", `["ACSPending"]`)
}
