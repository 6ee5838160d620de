package aliyun_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// MustSeedUsers adds n users to the fixture directory: every fifth
// disabled, every third synchronized, the even ones named "ops-…".
func MustSeedUsers(tb testing.TB, cloud *emulator.Cloud, n int) {
	tb.Helper()
	users := make([]emulator.SSOUser, n)
	for i := range users {
		u := emulator.SSOUser{ID: fmt.Sprintf("u-seed%06d", i), Name: fmt.Sprintf("dev-%06d@example.com", i)}
		if i%2 == 0 {
			u.Name = fmt.Sprintf("ops-%06d@example.com", i)
		}
		if i%5 == 0 {
			u.Status = aliyun.SSOStatusDisabled
		}
		if i%3 == 0 {
			u.ProvisionType = aliyun.SSOProvisionSynchronized
		}
		users[i] = u
	}
	require.True(tb, cloud.AddSSOUsers(dirID, users...))
}

func countCalls(cloud *emulator.Cloud, action string) int {
	n := 0
	for _, c := range cloud.Calls() {
		if c.Action == action {
			n++
		}
	}
	return n
}

func TestListSSOUsersPaging(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	MustSeedUsers(t, cloud, 250)
	dir := aliyun.NewDirectory(MustNew(t, eps))
	ctx := roleCtx(t)

	// 250 seeded users plus the fixture's three (Enabled, Manual, not "ops-").
	tests := []struct {
		name      string
		filter    aliyun.SSOUserFilter
		want      int
		wantPages int
	}{
		{"All", aliyun.SSOUserFilter{}, 253, 3},
		{"Enabled", aliyun.SSOUserFilter{Status: aliyun.SSOStatusEnabled}, 203, 3},
		{"Disabled", aliyun.SSOUserFilter{Status: aliyun.SSOStatusDisabled}, 50, 1},
		{"Synchronized", aliyun.SSOUserFilter{ProvisionType: aliyun.SSOProvisionSynchronized}, 84, 1},
		{"PrefixCaseInsensitive", aliyun.SSOUserFilter{UserNamePrefix: "OPS-"}, 125, 2},
		{"EnabledManualOps", aliyun.SSOUserFilter{Status: aliyun.SSOStatusEnabled, ProvisionType: aliyun.SSOProvisionManual, UserNamePrefix: "ops-"}, 67, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countCalls(cloud, "ListUsers")
			users, err := dir.ListSSOUsers(ctx, dirID, tt.filter)
			require.NoError(t, err)
			assert.Len(t, users, tt.want)
			assert.Equal(t, tt.wantPages, countCalls(cloud, "ListUsers")-before, "round trips")
			seen := map[string]bool{}
			for _, u := range users {
				assert.False(t, seen[u.UserID], "user %s listed twice", u.UserID)
				seen[u.UserID] = true
				if tt.filter.Status != "" {
					assert.Equal(t, tt.filter.Status, u.Status)
				}
				if tt.filter.ProvisionType != "" {
					assert.Equal(t, tt.filter.ProvisionType, u.ProvisionType)
				}
			}
		})
	}
	call := lastCall(t, cloud, "ListUsers")
	assert.Equal(t, "100", call.Params["MaxResults"])
	assert.Equal(t, "UserName sw ops-", call.Params["Filter"])
}

func TestListSSOUsersTenThousand(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	MustSeedUsers(t, cloud, 10000)
	users, err := aliyun.NewDirectory(MustNew(t, eps)).ListSSOUsers(roleCtx(t), dirID, aliyun.SSOUserFilter{})
	require.NoError(t, err)
	assert.Len(t, users, 10003)
	assert.Equal(t, 101, countCalls(cloud, "ListUsers"), "round trips at 100 users a page")
}

func TestListSSOUsersErrors(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	MustSeedUsers(t, cloud, 150)
	dir := aliyun.NewDirectory(MustNew(t, eps))
	wrongKey := roleCreds(t)
	wrongKey.AccessKeySecret = "not-the-role-secret"

	tests := []struct {
		name      string
		dir       string
		filter    aliyun.SSOUserFilter
		fault     func()
		badKey    bool
		want      reset.ErrorCode
		wantCalls int
	}{
		{name: "ErrInvalidStatus", dir: dirID, filter: aliyun.SSOUserFilter{Status: "enabled"}, want: reset.EInvalid},
		{name: "ErrInvalidProvisionType", dir: dirID, filter: aliyun.SSOUserFilter{ProvisionType: "SCIM"}, want: reset.EInvalid},
		{name: "ErrPrefixWithSpace", dir: dirID, filter: aliyun.SSOUserFilter{UserNamePrefix: "ops eq x"}, want: reset.EInvalid},
		{name: "ErrNoDirectory", dir: "d-00nosuchdir01", want: reset.ENotFound, wantCalls: 1},
		{name: "ErrWrongKey", dir: dirID, badKey: true, want: reset.EUnavailable, wantCalls: 1},
		{name: "ErrThrottledFirstPage", dir: dirID, fault: func() { cloud.FailNext("ListUsers", 1, http.StatusBadRequest, "Throttling.User") }, want: reset.EThrottled, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud.ResetCalls()
			if tt.fault != nil {
				tt.fault()
			}
			ctx := roleCtx(t)
			if tt.badKey {
				ctx = reset.WithCredentials(ctx, wrongKey)
			}
			users, err := dir.ListSSOUsers(ctx, tt.dir, tt.filter)
			requireCode(t, leaks.Err(err), tt.want)
			assert.Nil(t, users)
			assert.Equal(t, tt.wantCalls, countCalls(cloud, "ListUsers"), "round trips")
		})
	}

	t.Run("ErrThrottledSecondPageReturnsNothing", func(t *testing.T) {
		cloud.ResetCalls()
		var n int
		cloud.OnCall(func(c emulator.Call) {
			if c.Action == "ListUsers" {
				if n++; n == 1 {
					cloud.FailNext("ListUsers", 1, http.StatusBadRequest, "Throttling.User")
				}
			}
		})
		defer cloud.OnCall(nil)
		users, err := dir.ListSSOUsers(roleCtx(t), dirID, aliyun.SSOUserFilter{})
		requireCode(t, leaks.Err(err), reset.EThrottled)
		assert.Nil(t, users, "no partial listing")
		assert.Equal(t, 2, countCalls(cloud, "ListUsers"))
	})
}

func TestGetSSOUser(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	dir := aliyun.NewDirectory(MustNew(t, eps))
	ctx := roleCtx(t)

	u, err := dir.GetSSOUser(ctx, dirID, userID)
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, aliyun.SSOUser{UserID: userID, UserName: "alice@example.com", Status: "Enabled", ProvisionType: "Manual"}, u)

	_, err = dir.GetSSOUser(ctx, dirID, "u-00nosuchuser0001")
	requireCode(t, leaks.Err(err), reset.ENotFound)
	cloud.FailNext("GetUser", 1, http.StatusBadRequest, "Throttling.User")
	_, err = dir.GetSSOUser(ctx, dirID, userID)
	requireCode(t, leaks.Err(err), reset.EThrottled)
}

func TestGetPasswordPolicy(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	dir := aliyun.NewDirectory(MustNew(t, eps))
	ctx := roleCtx(t)

	t.Run("Default", func(t *testing.T) {
		p, err := dir.GetPasswordPolicy(ctx, dirID)
		require.NoError(t, leaks.Err(err))
		assert.Equal(t, 12, p.MinPasswordLength, "the fixture directory's minimum")
		assert.Equal(t, 32, p.MaxPasswordLength)
		assert.Equal(t, "GetPasswordPolicy", lastCall(t, cloud, "GetPasswordPolicy").Action)
		assert.Equal(t, emulator.AlgorithmV3, lastCall(t, cloud, "GetPasswordPolicy").SignatureAlgorithm)
	})
	t.Run("Configured", func(t *testing.T) {
		want := emulator.PasswordPolicy{
			MinPasswordLength: 20, MaxPasswordLength: 30, MinPasswordDifferentChars: 12, PasswordNotContainUsername: true,
			MaxPasswordAge: 90, PasswordReusePrevention: 5, MaxLoginAttempts: 5,
			RequireNumbers: true, RequireLowerCaseChars: true, RequireUpperCaseChars: true, RequireSymbols: true,
		}
		require.True(t, cloud.SetPasswordPolicy(ssoDirID, want))
		p, err := dir.GetPasswordPolicy(ctx, ssoDirID)
		require.NoError(t, leaks.Err(err))
		assert.Equal(t, aliyun.PasswordPolicy{
			MinPasswordLength: 20, MaxPasswordLength: 30, MinPasswordDifferentChars: 12, PasswordNotContainUsername: true,
			MaxPasswordAge: 90, PasswordReusePrevention: 5, MaxLoginAttempts: 5,
			RequireNumbers: true, RequireLowerCaseChars: true, RequireUpperCaseChars: true, RequireSymbols: true,
		}, p)
	})
	t.Run("ErrNoDirectory", func(t *testing.T) {
		_, err := dir.GetPasswordPolicy(ctx, "d-00nosuchdir01")
		requireCode(t, leaks.Err(err), reset.ENotFound)
	})
	t.Run("ErrThrottled", func(t *testing.T) {
		cloud.FailNext("GetPasswordPolicy", 1, http.StatusBadRequest, "Throttling.User")
		_, err := dir.GetPasswordPolicy(ctx, dirID)
		requireCode(t, leaks.Err(err), reset.EThrottled)
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		bad := roleCreds(t)
		bad.AccessKeySecret = "not-the-role-secret"
		_, err := dir.GetPasswordPolicy(reset.WithCredentials(ctx, bad), dirID)
		requireCode(t, leaks.Err(err), reset.EUnavailable)
	})
}

// The local cloud enforces the policy on ResetUserPassword; each refusal
// answers its own code, classified as the caller's fault.
func TestPasswordPolicyEnforced(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	require.True(t, cloud.SetPasswordPolicy(dirID, emulator.PasswordPolicy{
		MinPasswordLength: 16, MinPasswordDifferentChars: 10, PasswordNotContainUsername: true, PasswordReusePrevention: 2,
	}))
	sso := MustNew(t, eps).CloudSSO
	ctx := roleCtx(t)
	target := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: dirID, UserID: userID}
	first, second := "Aa1#"+"bcdefghijklmn", "Zz9$"+"yxwvutsrqponm"
	leaks.Add(first)
	leaks.Add(second)

	tests := []struct {
		name     string
		password string
		wantCode string // the cloud's code; "" accepted
	}{
		{"ErrTooShort", "Aa1#bcdefgh", emulator.CodePasswordPolicy},
		{"ErrTooFewDifferent", "Aa1#Aa1#Aa1#Aa1#", emulator.CodePasswordDifferentChars},
		{"ErrContainsUserName", "X1#ALICE@EXAMPLE.COMq", emulator.CodePasswordContainUsername},
		{"OKFirst", first, ""},
		{"OKSecond", second, ""},
		{"ErrReusedCurrent", second, emulator.CodePasswordReused},
		{"ErrReusedPrevious", first, emulator.CodePasswordReused},
		{"OKThird", "Qq5%" + "abcdefghijkl", ""},
		{"OKFirstAgainOutsideHistory", first, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaks.Add(tt.password)
			err := leaks.Err(sso.ResetPassword(ctx, target, tt.password))
			call := lastCall(t, cloud, "ResetUserPassword")
			assert.Equal(t, tt.wantCode, call.Code)
			if tt.wantCode == "" {
				require.NoError(t, err)
				pw, _ := cloud.SSOPassword(dirID, userID)
				assert.True(t, pw == tt.password, "the directory holds another password")
				return
			}
			requireCode(t, err, reset.EInvalid)
		})
	}
}

func TestListFabricUsers(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	dir := aliyun.NewDirectory(MustNew(t, eps))
	ctx := roleCtx(t)

	users, err := dir.ListFabricUsers(ctx, orgID, location)
	require.NoError(t, leaks.Err(err))
	require.Len(t, users, 2)
	assert.Equal(t, "asian01", users[0].Username)
	assert.Equal(t, orgID, users[0].OrganizationID)
	assert.Equal(t, "asian02", users[1].Username)

	tests := []struct {
		name   string
		org    string
		loc    string
		fault  func()
		badKey bool
		want   reset.ErrorCode
	}{
		{name: "ErrOtherLocation", org: orgID, loc: "cn-beijing", want: reset.ENotFound},
		{name: "ErrNoOrganization", org: "peers-nosuch-0000000000", loc: location, want: reset.ENotFound},
		{name: "ErrThrottled", org: orgID, loc: location, fault: func() {
			cloud.FailNext("DescribeFabricOrganizationUsers", 1, http.StatusBadRequest, "Throttling.User")
		}, want: reset.EThrottled},
		{name: "ErrWrongKey", org: orgID, loc: location, badKey: true, want: reset.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				tt.fault()
			}
			c := ctx
			if tt.badKey {
				bad := roleCreds(t)
				bad.AccessKeySecret = "not-the-role-secret"
				c = reset.WithCredentials(ctx, bad)
			}
			_, err := dir.ListFabricUsers(c, tt.org, tt.loc)
			requireCode(t, leaks.Err(err), tt.want)
		})
	}
}
