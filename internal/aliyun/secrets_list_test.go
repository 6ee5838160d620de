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

func TestListSecretsPaging(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	ctx := roleCtx(t)
	for i := 0; i < 230; i++ {
		require.NoError(t, clients.Secrets.CreateSecret(ctx, fmt.Sprintf("pwreset/cloudsso/%s/u-%04d", dirID, i), "v0", []byte(`{"target":"cloudsso"}`)))
	}
	for i := 0; i < 20; i++ {
		// Names that an exact-match or a loose filter could confuse.
		require.NoError(t, clients.Secrets.CreateSecret(ctx, fmt.Sprintf("pwreset-other/%04d", i), "v0", []byte(`{}`)))
	}
	lister := aliyun.NewSecretLister(clients)

	tests := []struct {
		prefix    string
		want      int
		wantPages int
	}{
		{"pwreset/", 230, 3},
		{"pwreset", 250, 3},
		{"pwreset/cloudsso/" + dirID + "/u-01", 100, 3},
		{"nothing/", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			before := countCalls(cloud, "ListSecrets")
			got, err := lister.ListSecrets(ctx, tt.prefix)
			require.NoError(t, leaks.Err(err))
			assert.Len(t, got, tt.want)
			assert.Equal(t, tt.wantPages, countCalls(cloud, "ListSecrets")-before, "round trips")
			for _, s := range got {
				assert.NotEmpty(t, s.CreateTime)
			}
		})
	}
	call := lastCall(t, cloud, "ListSecrets")
	assert.Equal(t, "100", call.Params["PageSize"])
	assert.Empty(t, call.Params["Filters"], "no filter: its prefix semantics are undocumented")
}

func TestListSecretsErrors(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	lister := aliyun.NewSecretLister(MustNew(t, eps))
	bad := roleCreds(t)
	bad.AccessKeySecret = "not-the-role-secret"

	tests := []struct {
		name  string
		fault func()
		creds *reset.Credentials
		want  reset.ErrorCode
	}{
		{name: "ErrThrottled", fault: func() { cloud.FailNext("ListSecrets", 1, http.StatusTooManyRequests, "Rejected.Throttling") }, want: reset.EThrottled},
		{name: "ErrWrongKey", creds: &bad, want: reset.EUnavailable},
		{name: "ErrExpiredToken", creds: ptr(expiredCreds(t)), want: reset.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				tt.fault()
			}
			ctx := roleCtx(t)
			if tt.creds != nil {
				ctx = reset.WithCredentials(ctx, *tt.creds)
			}
			got, err := lister.ListSecrets(ctx, "pwreset/")
			requireCode(t, leaks.Err(err), tt.want)
			assert.Nil(t, got)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestListVersionsAndDescribe(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	store, lister := clients.Secrets, aliyun.NewSecretLister(clients)
	ctx := roleCtx(t)
	const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"

	require.NoError(t, store.CreateSecret(ctx, name, "v00", []byte(`{"target":"cloudsso"}`)))
	// Twelve pending writes, each taking ACSPending from the one before:
	// only the newest is staged, and KMS keeps ten versions, deleting the
	// earliest whatever its stages (assumed: see the emulator's KMS model),
	// so the first, current version is gone too.
	for i := 1; i <= 12; i++ {
		pw := leaks.Password(t)
		require.NoError(t, store.PutVersion(ctx, name, fmt.Sprintf("v%02d", i), secretData(pw), []string{reset.StagePending}))
	}

	staged, err := lister.ListVersions(ctx, name, false)
	require.NoError(t, leaks.Err(err))
	ids := map[string][]string{}
	for _, v := range staged {
		ids[v.VersionID] = v.Stages
		assert.NotEmpty(t, v.CreateTime)
	}
	assert.Equal(t, map[string][]string{"v12": {reset.StagePending}}, ids)

	all, err := lister.ListVersions(ctx, name, true)
	require.NoError(t, leaks.Err(err))
	assert.Len(t, all, 10, "KMS keeps ten versions")
	assert.Equal(t, "true", lastCall(t, cloud, "ListSecretVersionIds").Params["IncludeDeprecated"])

	md, err := lister.DescribeSecret(ctx, name)
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, name, md.Name)
	assert.Equal(t, "acs:kms:cn-hangzhou:1234567890123456:secret/"+name, md.ARN)
	assert.Equal(t, emulator.FixtureKMSKeyID, md.EncryptionKeyID)
	assert.NotEmpty(t, md.CreateTime)
	assert.Empty(t, md.PlannedDeleteTime)

	t.Run("ErrSecretNotFound", func(t *testing.T) {
		_, err := lister.ListVersions(ctx, "pwreset/none", false)
		require.ErrorIs(t, leaks.Err(err), reset.ErrSecretNotFound)
		_, err = lister.DescribeSecret(ctx, "pwreset/none")
		require.ErrorIs(t, leaks.Err(err), reset.ErrSecretNotFound)
	})
	t.Run("ErrThrottled", func(t *testing.T) {
		cloud.FailNext("ListSecretVersionIds", 1, http.StatusTooManyRequests, "Rejected.Throttling")
		_, err := lister.ListVersions(ctx, name, true)
		requireCode(t, leaks.Err(err), reset.EThrottled)
	})
}
