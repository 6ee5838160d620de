package aliyun_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestCheckAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target reset.Target
		remove func(*emulator.Cloud)
		want   reset.ErrorCode // "" for exists
		action string
	}{
		{name: "OK_CloudSSO", target: ssoTarget(dirID, userID, false), action: "GetUser"},
		{name: "OK_Fabric", target: fabricTarget(orgID, fabricUser, location), action: "DescribeFabricOrganizationUsers"},
		{name: "ENotFound_CloudSSOUser", target: ssoTarget(dirID, "u-00nosuchuser0000001", false), want: reset.ENotFound, action: "GetUser"},
		{name: "ENotFound_CloudSSODirectory", target: ssoTarget("d-00nosuchdir01", userID, false), want: reset.ENotFound, action: "GetUser"},
		{name: "ENotFound_CloudSSOUserRemoved", target: ssoTarget(dirID, userID, false), want: reset.ENotFound, action: "GetUser",
			remove: func(c *emulator.Cloud) { c.RemoveSSOUser(dirID, userID) }},
		{name: "ENotFound_FabricUser", target: fabricTarget(orgID, "nosuchuser", location), want: reset.ENotFound, action: "DescribeFabricOrganizationUsers"},
		{name: "ENotFound_FabricOrganizationElsewhere", target: fabricTarget(orgID, fabricUser, "cn-beijing"), want: reset.ENotFound, action: "DescribeFabricOrganizationUsers"},
		{name: "ENotFound_FabricUserRemoved", target: fabricTarget(orgID, fabricUser, location), want: reset.ENotFound, action: "DescribeFabricOrganizationUsers",
			remove: func(c *emulator.Cloud) { c.RemoveFabricUser(orgID, fabricUser) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			if tt.remove != nil {
				tt.remove(cloud)
			}
			clients := MustNew(t, eps)
			checkers := map[reset.Kind]reset.AccountChecker{reset.KindCloudSSO: clients.CloudSSO, reset.KindFabric: clients.Fabric}
			err := checkers[tt.target.Kind].CheckAccount(roleCtx(t), tt.target)
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				requireCode(t, err, tt.want)
			}
			call := lastCall(t, cloud, tt.action)
			assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID)
			for _, c := range cloud.Calls() {
				assert.NotContains(t, []string{"ResetUserPassword", "ResetFabricOrganizationUserPassword", "CreateSecret"}, c.Action, "a check changes nothing")
			}
		})
	}
}

func TestGetStaged(t *testing.T) {
	t.Parallel()
	_, eps := MustStartCloud(t)
	store := MustNew(t, eps).Secrets
	ctx := roleCtx(t)
	const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"

	_, err := store.GetStaged(ctx, name, reset.StagePending)
	require.ErrorIs(t, err, reset.ErrSecretNotFound, "no secret")
	require.NoError(t, store.CreateSecret(ctx, name, "v0", []byte(`{"target":"cloudsso"}`)))
	_, err = store.GetStaged(ctx, name, reset.StagePending)
	require.ErrorIs(t, err, reset.ErrSecretNotFound, "no version has the stage: the same 404")

	require.NoError(t, store.PutVersion(ctx, name, "v1", secretData("Pending#Pass1"), []string{reset.StagePending}))
	v, err := store.GetStaged(ctx, name, reset.StagePending)
	require.NoError(t, err)
	assert.Equal(t, "v1", v.VersionID, "the answer names the version")
	assert.Equal(t, []string{reset.StagePending}, v.Stages)
	require.NoError(t, store.Promote(ctx, name, "v1"))
	v, err = store.GetStaged(ctx, name, reset.StagePending)
	require.NoError(t, err)
	assert.True(t, v.HasStage(reset.StageCurrent) && v.HasStage(reset.StagePending), "promoted: pending and current, %v", v.Stages)
}

func TestResetRefusedAsReuse(t *testing.T) {
	t.Parallel()
	fx := emulator.DefaultFixture()
	fx.Directories[0].PasswordPolicy = &emulator.PasswordPolicy{PasswordReusePrevention: 3}
	cloud := emulator.New(fx)
	eps, err := cloud.Start()
	require.NoError(t, err)
	t.Cleanup(cloud.Close)
	clients := MustNew(t, eps)
	ctx := roleCtx(t)
	target := ssoTarget(dirID, userID, false)
	const pw = "Reuse#Check1x"
	require.NoError(t, clients.CloudSSO.ResetPassword(ctx, target, pw))
	err = clients.CloudSSO.ResetPassword(ctx, target, pw)
	requireCode(t, err, reset.EInvalid)
	assert.True(t, errors.Is(err, reset.ErrPasswordReused), "%v", err)
	assert.NotContains(t, err.Error(), pw)
}
