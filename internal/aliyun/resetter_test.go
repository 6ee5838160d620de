package aliyun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func ssoTarget(dir, user string, requireReset bool) reset.Target {
	return reset.Target{Kind: reset.KindCloudSSO, DirectoryID: dir, UserID: user, RequirePasswordResetForNextLogin: requireReset}
}

func fabricTarget(org, user, loc string) reset.Target {
	return reset.Target{Kind: reset.KindFabric, OrganizationID: org, Username: user, Location: loc}
}

func TestCloudSSOResetPassword(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	sso := clients.CloudSSO

	t.Run("OK", func(t *testing.T) {
		for _, requireReset := range []bool{true, false} {
			pw := leaks.Password(t)
			err := sso.ResetPassword(roleCtx(t), ssoTarget(dirID, userID, requireReset), pw)
			require.NoError(t, leaks.Err(err))

			got, ok := cloud.SSOPassword(dirID, userID)
			require.True(t, ok)
			assert.True(t, got == pw, "the directory does not have the new password")
			gotReset, _ := cloud.SSORequiresPasswordReset(dirID, userID)
			assert.Equal(t, requireReset, gotReset)

			call := lastCall(t, cloud, "ResetUserPassword")
			assert.Equal(t, "false", call.Params["GenerateRandomPassword"])
			assert.Equal(t, dirID, call.Params["DirectoryId"])
			assert.Equal(t, userID, call.Params["UserId"])
			assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID)
			assert.Equal(t, roleCreds(t).SecurityToken, call.SecurityToken)
			assert.Equal(t, "ACS3-HMAC-SHA256", call.SignatureAlgorithm)
		}
	})

	tests := []struct {
		name   string
		target reset.Target
		ctx    func(t *testing.T) context.Context
		fault  func()
		weak   bool
		want   reset.ErrorCode
	}{
		{name: "ErrDirectoryNotFound", target: ssoTarget("d-00nosuchdir", userID, false), want: reset.ENotFound},
		{name: "ErrUserNotFound", target: ssoTarget(dirID, "u-00nosuchuser", false), want: reset.ENotFound},
		{name: "ErrSSOLogonEnabled", target: ssoTarget(ssoDirID, ssoUserID, false), want: reset.EConflict},
		{name: "ErrPasswordPolicy", target: ssoTarget(dirID, userID, false), weak: true, want: reset.EInvalid},
		{name: "ErrExpiredToken", target: ssoTarget(dirID, userID, false), want: reset.EUnavailable,
			ctx: func(t *testing.T) context.Context {
				return reset.WithCredentials(context.Background(), expiredCreds(t))
			}},
		{name: "ErrForbidden", target: ssoTarget(dirID, userID, false), want: reset.EForbidden,
			fault: func() { cloud.FailNext("ResetUserPassword", 1, http.StatusForbidden, "NoPermission") }},
		{name: "ErrThrottled", target: ssoTarget(dirID, userID, false), want: reset.EThrottled,
			fault: func() { cloud.FailNext("ResetUserPassword", 1, http.StatusBadRequest, "Throttling.User") }},
		{name: "ErrUpstream5xx", target: ssoTarget(dirID, userID, false), want: reset.EUpstream,
			fault: func() { cloud.FailNext("ResetUserPassword", 1, http.StatusInternalServerError, "InternalError") }},
		{name: "ErrDropped", target: ssoTarget(dirID, userID, false), want: reset.EUnavailable,
			fault: func() { cloud.DropNext("ResetUserPassword", 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := roleCtx(t)
			if tt.ctx != nil {
				ctx = tt.ctx(t)
			}
			if tt.fault != nil {
				tt.fault()
			}
			pw := leaks.Password(t)
			if tt.weak {
				pw = "short"
				leaks.Add(pw)
			}
			before, _ := cloud.SSOPassword(dirID, userID)
			err := leaks.Err(sso.ResetPassword(ctx, tt.target, pw))
			requireCode(t, err, tt.want)
			after, _ := cloud.SSOPassword(dirID, userID)
			assert.True(t, before == after, "a failed reset changed the password")
		})
	}
}

func TestFabricResetPassword(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	fabric := MustNew(t, eps).Fabric

	t.Run("OK", func(t *testing.T) {
		pw := leaks.Password(t)
		require.NoError(t, leaks.Err(fabric.ResetPassword(roleCtx(t), fabricTarget(orgID, fabricUser, location), pw)))
		got, ok := cloud.FabricPassword(orgID, fabricUser)
		require.True(t, ok)
		assert.True(t, got == pw, "the organization does not have the new password")

		call := lastCall(t, cloud, "ResetFabricOrganizationUserPassword")
		assert.Equal(t, orgID, call.Params["OrganizationId"])
		assert.Equal(t, fabricUser, call.Params["Username"])
		assert.Equal(t, location, call.Params["Location"])
		assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID)
		assert.Equal(t, roleCreds(t).SecurityToken, call.SecurityToken)
	})

	tests := []struct {
		name   string
		target reset.Target
		fault  func()
		want   reset.ErrorCode
	}{
		{name: "ErrOrganizationNotFound", target: fabricTarget("peers-nosuchorg", fabricUser, location), want: reset.ENotFound},
		{name: "ErrWrongLocation", target: fabricTarget(orgID, fabricUser, "cn-beijing"), want: reset.ENotFound},
		{name: "ErrUserNotFound", target: fabricTarget(orgID, "nosuchuser", location), want: reset.ENotFound},
		{name: "ErrForbidden", target: fabricTarget(orgID, fabricUser, location), want: reset.EForbidden,
			fault: func() {
				cloud.FailNext("ResetFabricOrganizationUserPassword", 1, http.StatusForbidden, "Forbidden.NoPermission")
			}},
		{name: "ErrThrottled", target: fabricTarget(orgID, fabricUser, location), want: reset.EThrottled,
			fault: func() {
				cloud.FailNext("ResetFabricOrganizationUserPassword", 1, http.StatusBadRequest, "Throttling.User")
			}},
		{name: "ErrUpstream5xx", target: fabricTarget(orgID, fabricUser, location), want: reset.EUpstream,
			fault: func() {
				cloud.FailNext("ResetFabricOrganizationUserPassword", 1, http.StatusInternalServerError, "InternalError")
			}},
		{name: "ErrDropped", target: fabricTarget(orgID, fabricUser, location), want: reset.EUnavailable,
			fault: func() { cloud.DropNext("ResetFabricOrganizationUserPassword", 1) }},
		// The reset took effect, the echoing answer was lost: no echo can
		// reach the error.
		{name: "ErrDroppedAfterApply", target: fabricTarget(orgID, fabricUser, location), want: reset.EUnavailable,
			fault: func() { cloud.DropAfterApply("ResetFabricOrganizationUserPassword", 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				tt.fault()
			}
			err := leaks.Err(fabric.ResetPassword(roleCtx(t), tt.target, leaks.Password(t)))
			requireCode(t, err, tt.want)
		})
	}
}

// TestFabricEchoNeverInErrors answers from a stand-in BaaS whose every
// answer, failed or odd, quotes the password sent: none may reach an error.
func TestFabricEchoNeverInErrors(t *testing.T) {
	t.Parallel()
	leaks := MustWatchLeaks(t, nil)

	tests := []struct {
		name   string
		status int
		body   func(pw string) string
		want   reset.ErrorCode
	}{
		{name: "ErrSuccessFalse", status: http.StatusOK, want: reset.EUpstream,
			body: func(pw string) string {
				return `{"RequestId":"R-1","Success":false,"ErrorCode":5001,"Result":{"Password":"` + pw + `"}}`
			}},
		{name: "ErrNoSuccessFlag", status: http.StatusOK, want: reset.EUpstream,
			body: func(pw string) string { return `{"RequestId":"R-2","Result":{"Password":"` + pw + `"}}` }},
		{name: "ErrMessageQuotesPassword", status: http.StatusBadRequest, want: reset.EInvalid,
			body: func(pw string) string {
				return `{"RequestId":"R-3","Code":"InvalidParameter.Password","Message":"bad password ` + pw + `"}`
			}},
		{name: "ErrCodeQuotesPassword", status: http.StatusInternalServerError, want: reset.EUpstream,
			body: func(pw string) string {
				return `{"RequestId":"` + pw + `","Code":"` + pw + ` x","Message":"` + pw + `"}`
			}},
		{name: "ErrNotJSON", status: http.StatusBadGateway, want: reset.EUpstream,
			body: func(pw string) string { return `<html>` + pw + `</html>` }},
		{name: "ErrNotJSONOnSuccess", status: http.StatusOK, want: reset.EUpstream,
			body: func(pw string) string { return pw }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pw := leaks.Password(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body(pw)))
			}))
			t.Cleanup(srv.Close)
			fabric := MustNew(t, emulator.Endpoints{KMS: srv.URL, CloudSSO: srv.URL, BaaS: srv.URL}).Fabric
			err := leaks.Err(fabric.ResetPassword(roleCtx(t), fabricTarget(orgID, fabricUser, location), pw))
			requireCode(t, err, tt.want)
		})
	}
}

func TestResetterWrongKind(t *testing.T) {
	t.Parallel()
	_, eps := MustStartCloud(t)
	clients := MustNew(t, eps)
	requireCode(t, clients.CloudSSO.ResetPassword(roleCtx(t), fabricTarget(orgID, fabricUser, location), "Pw#0123456789xY9"), reset.EInternal)
	requireCode(t, clients.Fabric.ResetPassword(roleCtx(t), ssoTarget(dirID, userID, false), "Pw#0123456789xY9"), reset.EInternal)
}

// TestDeadline: a call slower than the context's deadline ends as
// EUnavailable with the context's error, as does a call on a context already
// done.
func TestDeadline(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	// Far beyond the deadline: the test ends only because the call gives up.
	for _, action := range []string{"ResetUserPassword", "ResetFabricOrganizationUserPassword", "DescribeSecret"} {
		cloud.SetLatency(action, time.Hour)
	}
	calls := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"CloudSSO", func(ctx context.Context) error {
			return clients.CloudSSO.ResetPassword(ctx, ssoTarget(dirID, userID, false), leaks.Password(t))
		}},
		{"Fabric", func(ctx context.Context) error {
			return clients.Fabric.ResetPassword(ctx, fabricTarget(orgID, fabricUser, location), leaks.Password(t))
		}},
		{"KMS", func(ctx context.Context) error { return clients.Secrets.Describe(ctx, "pwreset/none") }},
	}
	for _, c := range calls {
		t.Run(c.name+"/ErrDeadlineExceeded", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(roleCtx(t), 50*time.Millisecond)
			defer cancel()
			err := leaks.Err(c.do(ctx))
			requireCode(t, err, reset.EUnavailable)
			assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v, want a deadline error", err)
		})
		t.Run(c.name+"/ErrCancelledBeforeCall", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(roleCtx(t))
			cancel()
			err := leaks.Err(c.do(ctx))
			requireCode(t, err, reset.EUnavailable)
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
}

func TestResetters(t *testing.T) {
	t.Parallel()
	_, eps := MustStartCloud(t)
	clients := MustNew(t, eps)
	got := clients.Resetters()
	assert.Len(t, got, 2)
	assert.Same(t, clients.CloudSSO, got[reset.KindCloudSSO].(*aliyun.CloudSSO))
	assert.Same(t, clients.Fabric, got[reset.KindFabric].(*aliyun.Fabric))
}
