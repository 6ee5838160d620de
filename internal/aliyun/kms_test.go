package aliyun_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func secretData(pw string) []byte {
	return []byte(`{"target":"cloudsso","directoryId":"` + dirID + `","userId":"` + userID + `","password":"` + pw + `"}`)
}

func TestSecretStoreRotation(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	store := MustNew(t, eps, func(c *aliyun.Config, _ *aliyun.Options) { c.KMSEncryptionKeyID = "alias/pwreset" }).Secrets
	ctx := roleCtx(t)
	const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"

	require.ErrorIs(t, leaks.Err(store.Describe(ctx, name)), reset.ErrSecretNotFound)

	placeholder := []byte(`{"target":"cloudsso"}`)
	require.NoError(t, leaks.Err(store.CreateSecret(ctx, name, "v0", placeholder)))
	create := lastCall(t, cloud, "CreateSecret")
	assert.Equal(t, "text", create.Params["SecretDataType"])
	assert.Equal(t, "alias/pwreset", create.Params["EncryptionKeyId"])
	assert.Equal(t, emulator.FixtureFunctionRoleKeyID, create.AccessKeyID)
	require.NoError(t, leaks.Err(store.Describe(ctx, name)))

	v0, err := store.GetVersion(ctx, name, "v0")
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, reset.SecretVersion{VersionID: "v0", Stages: []string{reset.StageCurrent}, Data: placeholder}, v0)

	pw := leaks.Password(t)
	require.NoError(t, leaks.Err(store.PutVersion(ctx, name, "v1", secretData(pw), []string{reset.StagePending})))
	assert.Equal(t, `["ACSPending"]`, lastCall(t, cloud, "PutSecretValue").Params["VersionStages"])
	v1, err := store.GetVersion(ctx, name, "v1")
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, []string{reset.StagePending}, v1.Stages)
	assert.True(t, string(v1.Data) == string(secretData(pw)), "version v1 holds other data")

	t.Run("PutSameDataOK", func(t *testing.T) {
		require.NoError(t, leaks.Err(store.PutVersion(ctx, name, "v1", secretData(pw), []string{reset.StagePending})))
	})
	t.Run("ErrVersionExists", func(t *testing.T) {
		err := leaks.Err(store.PutVersion(ctx, name, "v1", secretData(leaks.Password(t)), []string{reset.StagePending}))
		require.ErrorIs(t, err, reset.ErrVersionExists)
		requireCode(t, err, reset.EConflict)
	})
	t.Run("ErrSecretExists", func(t *testing.T) {
		err := leaks.Err(store.CreateSecret(ctx, name, "v9", placeholder))
		require.ErrorIs(t, err, reset.ErrSecretExists)
		requireCode(t, err, reset.EConflict)
	})

	require.NoError(t, leaks.Err(store.Promote(ctx, name, "v1")))
	v1, err = store.GetVersion(ctx, name, "v1")
	require.NoError(t, leaks.Err(err))
	assert.True(t, v1.HasStage(reset.StageCurrent), "v1 stages %v, want ACSCurrent", v1.Stages)
	v0, err = store.GetVersion(ctx, name, "v0")
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, []string{reset.StagePrevious}, v0.Stages)

	s, ok := cloud.Secret(name)
	require.True(t, ok)
	assert.Equal(t, emulator.FixtureKMSKeyID, s.EncryptionKeyID, "the alias names the fixture's key")
	assert.Equal(t, emulator.FixtureKMSInstanceID, s.DKMSInstanceID, "the secret belongs to the key's instance")
}

func TestSecretStoreErrors(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	store := MustNew(t, eps).Secrets
	ctx := roleCtx(t)
	const name = "pwreset/fabric/peers-aaaaaa2-1eqnj5o5wab12/asian01"
	require.NoError(t, store.CreateSecret(ctx, name, "v0", []byte(`{"target":"fabric"}`)))

	ops := []struct {
		action string
		do     func(ctx context.Context) error
	}{
		{"CreateSecret", func(ctx context.Context) error {
			return store.CreateSecret(ctx, "pwreset/other", "v0", secretData(leaks.Password(t)))
		}},
		{"PutSecretValue", func(ctx context.Context) error {
			return store.PutVersion(ctx, name, "v-put", secretData(leaks.Password(t)), []string{reset.StagePending})
		}},
		{"GetSecretValue", func(ctx context.Context) error { _, err := store.GetVersion(ctx, name, "v0"); return err }},
		{"UpdateSecretVersionStage", func(ctx context.Context) error { return store.Promote(ctx, name, "v0") }},
		{"DescribeSecret", func(ctx context.Context) error { return store.Describe(ctx, name) }},
	}
	faults := []struct {
		name     string
		inject   func(action string)
		want     reset.ErrorCode
		sentinel error
	}{
		{"ErrNotFound", func(a string) { cloud.FailNext(a, 1, http.StatusNotFound, "Forbidden.ResourceNotFound") }, reset.ENotFound, reset.ErrSecretNotFound},
		{"ErrForbidden", func(a string) { cloud.FailNext(a, 1, http.StatusForbidden, "Forbidden.NoPermission") }, reset.EForbidden, nil},
		{"ErrThrottled", func(a string) { cloud.FailNext(a, 1, http.StatusTooManyRequests, "Rejected.Throttling") }, reset.EThrottled, nil},
		{"ErrThrottledGeneric", func(a string) { cloud.FailNext(a, 1, http.StatusBadRequest, "Throttling.Api") }, reset.EThrottled, nil},
		// KMS's own clients retry these two with backoff (errors.go).
		{"ErrInternalFailureRetried", func(a string) { cloud.FailNext(a, 1, http.StatusInternalServerError, "InternalFailure") }, reset.EUnavailable, nil},
		{"ErrUnavailable503", func(a string) { cloud.FailNext(a, 1, http.StatusServiceUnavailable, "ServiceUnavailable") }, reset.EUnavailable, nil},
		{"ErrUpstream500", func(a string) { cloud.FailNext(a, 1, http.StatusInternalServerError, "InternalError") }, reset.EUpstream, nil},
		{"ErrDropped", func(a string) { cloud.DropNext(a, 1) }, reset.EUnavailable, nil},
	}
	for _, op := range ops {
		for _, f := range faults {
			t.Run(op.action+"/"+f.name, func(t *testing.T) {
				f.inject(op.action)
				err := leaks.Err(op.do(ctx))
				requireCode(t, err, f.want)
				if f.sentinel != nil {
					assert.ErrorIs(t, err, f.sentinel)
				}
				var apiErr *aliyun.APIError
				if f.want != reset.EUnavailable {
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, "kms", apiErr.Service)
					assert.NotEmpty(t, apiErr.RequestID)
					assert.Contains(t, reset.ErrorMessageOf(err), apiErr.RequestID, "the caller sees the request id")
				}
			})
		}
	}

	t.Run("ErrThrottledByRate", func(t *testing.T) {
		cloud.Throttle(emulator.KMS, 0.001)
		defer cloud.Throttle(emulator.KMS, 0)
		var err error
		for range 3 {
			if err = store.Describe(ctx, name); err != nil {
				break
			}
		}
		requireCode(t, leaks.Err(err), reset.EThrottled)
	})

	notFound := []struct {
		name string
		do   func() error
	}{
		{"GetMissingSecret", func() error { _, err := store.GetVersion(ctx, "pwreset/missing", "v0"); return err }},
		{"GetMissingVersion", func() error { _, err := store.GetVersion(ctx, name, "v-missing"); return err }},
		{"PutMissingSecret", func() error {
			return store.PutVersion(ctx, "pwreset/missing", "v1", secretData(leaks.Password(t)), []string{reset.StagePending})
		}},
		{"PromoteMissingVersion", func() error { return store.Promote(ctx, name, "v-missing") }},
		{"PromoteMissingSecret", func() error { return store.Promote(ctx, "pwreset/missing", "v0") }},
		{"DescribeMissingSecret", func() error { return store.Describe(ctx, "pwreset/missing") }},
	}
	for _, tt := range notFound {
		t.Run(tt.name+"/ErrSecretNotFound", func(t *testing.T) {
			err := leaks.Err(tt.do())
			require.ErrorIs(t, err, reset.ErrSecretNotFound)
			requireCode(t, err, reset.ENotFound)
		})
	}

	t.Run("PutWithoutStages/ErrInternal", func(t *testing.T) {
		err := store.PutVersion(ctx, name, "v2", secretData(leaks.Password(t)), nil)
		requireCode(t, leaks.Err(err), reset.EInternal)
		assert.False(t, errors.Is(err, reset.ErrVersionExists))
	})
}

// TestPutVersionReadsBeforeDeciding: KMS does not document the code
// PutSecretValue answers for a VersionId that exists, so whatever 4xx
// refusal it gives, PutVersion reads the version before deciding, and the
// resume path does not depend on Rejected.ResourceExist.
func TestPutVersionReadsBeforeDeciding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		code     string
		version  string // the version PutVersion writes; v1 exists
		sameData bool
		want     reset.ErrorCode // "" = success
		sentinel error
		reads    int // GetSecretValue calls PutVersion makes
	}{
		{"OKUndocumentedCodeSameData", 400, "InvalidParameter.VersionIdExists", "v1", true, "", nil, 1},
		{"OKConflictSameData", 409, "Rejected.VersionExist", "v1", true, "", nil, 1},
		{"ErrUndocumentedCodeOtherData", 400, "Rejected.VersionIdInUse", "v1", false, reset.EConflict, reset.ErrVersionExists, 1},
		{"ErrDocumentedCodeOtherData", 409, "Rejected.ResourceExist", "v1", false, reset.EConflict, reset.ErrVersionExists, 1},
		{"ErrNoSuchVersionKeepsRefusal", 400, "InvalidParameter.Something", "v2", false, reset.EInvalid, nil, 1},
		{"ErrUnknown4xxNoSuchVersion", 400, "SomethingNew", "v2", false, reset.EUpstream, nil, 1},
		{"ErrThrottledNotRead", 429, "Rejected.Throttling", "v1", true, reset.EThrottled, nil, 0},
		{"ErrForbiddenNotRead", 403, "Forbidden.NoPermission", "v1", true, reset.EForbidden, nil, 0},
		{"ErrSecretMissingNotRead", 404, "Forbidden.ResourceNotFound", "v1", true, reset.ENotFound, reset.ErrSecretNotFound, 0},
		{"Err5xxNotRead", 500, "InternalError", "v1", true, reset.EUpstream, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			leaks := MustWatchLeaks(t, cloud)
			store := MustNew(t, eps).Secrets
			ctx := roleCtx(t)
			const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"
			require.NoError(t, store.CreateSecret(ctx, name, "v0", []byte(`{"target":"cloudsso"}`)))
			pw := leaks.Password(t)
			require.NoError(t, leaks.Err(store.PutVersion(ctx, name, "v1", secretData(pw), []string{reset.StagePending})))
			if !tt.sameData {
				pw = leaks.Password(t)
			}
			before := len(cloud.Calls())

			cloud.FailNext("PutSecretValue", 1, tt.status, tt.code)
			err := leaks.Err(store.PutVersion(ctx, name, tt.version, secretData(pw), []string{reset.StagePending}))

			reads := 0
			for _, c := range cloud.Calls()[before:] {
				if c.Action == "GetSecretValue" {
					reads++
				}
			}
			assert.Equal(t, tt.reads, reads, "GetSecretValue calls")
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, err, tt.want)
			assert.Contains(t, reset.ErrorMessageOf(err), tt.code, "the message names the upstream code")
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel)
			} else {
				assert.NotErrorIs(t, err, reset.ErrVersionExists)
			}
		})
	}
}
