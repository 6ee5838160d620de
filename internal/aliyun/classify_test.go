package aliyun_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestClassificationTable drives each service's real client against the
// local cloud answering a given code (FailNext) and checks the class the
// adapters give it, and that the message names the real code (it is
// logged).
func TestClassificationTable(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	clients := MustNew(t, eps)
	ctx := roleCtx(t)
	calls := map[emulator.Product]struct {
		action string
		call   func() error
	}{
		emulator.KMS: {"GetSecretValue", func() error {
			_, err := clients.Secrets.GetVersion(ctx, "pwreset/classify", "v1")
			return err
		}},
		emulator.CloudSSO: {"ResetUserPassword", func() error {
			return clients.CloudSSO.ResetPassword(ctx, ssoTarget(dirID, userID, false), "Classify#Passw0rd1")
		}},
		emulator.BaaS: {"ResetFabricOrganizationUserPassword", func() error {
			return clients.Fabric.ResetPassword(ctx, fabricTarget(orgID, fabricUser, location), "classify-password-01")
		}},
	}
	all := []emulator.Product{emulator.KMS, emulator.CloudSSO, emulator.BaaS}
	tests := []struct {
		code     string
		status   int
		products []emulator.Product // nil: all
		want     reset.ErrorCode
	}{
		// Our own clock, signature and credentials: retryable 503, never the caller's.
		{"InvalidTimeStamp.Expired", 400, nil, reset.EUnavailable},
		{"InvalidTimeStamp.Format", 400, nil, reset.EUnavailable},
		{"SignatureDoesNotMatch", 400, nil, reset.EUnavailable},
		{"IncompleteSignature", 400, nil, reset.EUnavailable},
		{"SignatureNonceUsed", 400, nil, reset.EUnavailable},
		{"InvalidAccessKeyId.NotFound", 404, nil, reset.EUnavailable},
		{"InvalidAccessKeyId.Inactive", 403, nil, reset.EUnavailable},
		{"InvalidSecurityToken.Expired", 400, nil, reset.EUnavailable},
		{"InvalidSecurityToken.Malformed", 400, nil, reset.EUnavailable},
		{"InvalidSecurityToken.MismatchWithAccessKey", 400, nil, reset.EUnavailable},
		{"MissingSecurityToken", 400, nil, reset.EUnavailable},
		{"RequestTimeTooSkewed", 400, []emulator.Product{emulator.KMS}, reset.EUnavailable}, // KMS "Common error codes"
		{"InvalidSignatureMethod", 400, nil, reset.EUnavailable},
		{"MissingSignature", 400, nil, reset.EUnavailable},
		{"MissingTimestamp", 400, nil, reset.EUnavailable},
		// Throttling, and KMS's retried failures.
		{"Throttling", 400, nil, reset.EThrottled},
		{"Throttling.User", 400, nil, reset.EThrottled},
		{"Throttling.Api", 400, nil, reset.EThrottled},
		{"Rejected.Throttling", 429, []emulator.Product{emulator.KMS}, reset.EThrottled},
		{"ServiceUnavailableTemporary", 503, []emulator.Product{emulator.KMS}, reset.EUnavailable},
		{"InternalFailure", 500, []emulator.Product{emulator.KMS}, reset.EUnavailable},
		{"InternalFailure", 500, []emulator.Product{emulator.CloudSSO, emulator.BaaS}, reset.EUpstream},
		{"InternalError", 500, nil, reset.EUpstream},
		{"ServiceUnavailable", 503, nil, reset.EUnavailable},
		// Only documented permission codes are the role's missing permission.
		{"Forbidden.RAM", 403, nil, reset.EForbidden},
		{"Forbidden.NoPermission", 403, nil, reset.EForbidden},
		{"NoPermission", 403, nil, reset.EForbidden},
		{"Forbidden.Unrecognised", 403, nil, reset.EUpstream},
		{"Unauthorized", 401, nil, reset.EUpstream},
		{"SomethingNew", 400, nil, reset.EUpstream},
		{"SomethingNew.NotFound", 404, nil, reset.EUpstream},
		{"SomethingNew.Conflict", 409, nil, reset.EUpstream},
		{"Forbidden.InDebtOverdue", 403, nil, reset.EUpstream},
		{"InvalidAction.NotFound", 404, nil, reset.EUpstream},
		{"InvalidVersion", 400, nil, reset.EUpstream},
		// The caller's parameters.
		{"InvalidParameter", 400, nil, reset.EInvalid},
		{"MissingParameter", 400, nil, reset.EInvalid},
		// Per service.
		{"Forbidden.ResourceNotFound", 404, []emulator.Product{emulator.KMS}, reset.ENotFound},
		{"Forbidden.KeyNotFound", 404, []emulator.Product{emulator.KMS}, reset.EUpstream},
		{"Rejected.ResourceInDeleteWindow", 409, []emulator.Product{emulator.KMS}, reset.EConflict},
		{"Rejected.Unavailable", 400, []emulator.Product{emulator.KMS}, reset.EConflict},
		{"EntityNotExists.User", 404, []emulator.Product{emulator.CloudSSO}, reset.ENotFound},
		{"EntityNotExists.Directory", 404, []emulator.Product{emulator.CloudSSO}, reset.ENotFound},
		// SSO logon: the code is undocumented, so matched broadly.
		{"OperationDenied.SSOLogonEnabled", 409, []emulator.Product{emulator.CloudSSO}, reset.EConflict},
		{"OperationForbidden.SSOLoginEnabled", 400, []emulator.Product{emulator.CloudSSO}, reset.EConflict},
		{"Forbidden.SSOEnabled", 403, []emulator.Product{emulator.CloudSSO}, reset.EConflict},
		{"OrganizationNotFound", 404, []emulator.Product{emulator.BaaS}, reset.ENotFound},
		{"UserNotFound", 404, []emulator.Product{emulator.BaaS}, reset.ENotFound},
	}
	for _, tt := range tests {
		products := tt.products
		if products == nil {
			products = all
		}
		for _, p := range products {
			t.Run(string(p)+"/"+tt.code, func(t *testing.T) {
				c := calls[p]
				cloud.FailNext(c.action, 1, tt.status, tt.code)
				err := c.call()
				requireCode(t, err, tt.want)
				assert.Contains(t, err.Error(), tt.code, "the message names the upstream code, for the log")
			})
		}
	}
}

// TestOurSideFailuresAreRetryable: the real answers of the local cloud to a
// skewed clock, a wrong secret and an expired token are retryable, never
// the caller's fault.
func TestOurSideFailuresAreRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(*emulator.Cloud)
		ctx      func(t *testing.T) context.Context
		wantCode string
	}{
		{"ClockSkew", func(c *emulator.Cloud) {
			c.SetClock(func() time.Time { return time.Now().Add(20 * time.Minute) })
		}, func(t *testing.T) context.Context { return roleCtx(t) }, "InvalidTimeStamp.Expired"},
		{"WrongSecret", func(*emulator.Cloud) {}, func(t *testing.T) context.Context {
			role := roleCreds(t)
			role.AccessKeySecret = "not-the-role-secret"
			return reset.WithCredentials(context.Background(), role)
		}, "SignatureDoesNotMatch"},
		{"ExpiredToken", func(*emulator.Cloud) {}, func(t *testing.T) context.Context {
			return reset.WithCredentials(context.Background(), expiredCreds(t))
		}, "InvalidSecurityToken.Expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			tt.setup(cloud)
			clients := MustNew(t, eps, func(_ *aliyun.Config, o *aliyun.Options) { o.SignatureAlgorithm = "" })
			ctx := tt.ctx(t)
			for name, call := range map[string]func() error{
				"kms": func() error { return clients.Secrets.Describe(ctx, "pwreset/x") },
				"cloudsso": func() error {
					return clients.CloudSSO.ResetPassword(ctx, ssoTarget(dirID, userID, false), "Classify#Passw0rd1")
				},
				"baas": func() error {
					return clients.Fabric.ResetPassword(ctx, fabricTarget(orgID, fabricUser, location), "classify-password-01")
				},
			} {
				err := call()
				requireCode(t, err, reset.EUnavailable)
				assert.True(t, reset.ErrorCodeOf(err).Retryable(), name)
				assert.Contains(t, err.Error(), tt.wantCode, name)
			}
			for _, c := range cloud.Calls() {
				assert.Equal(t, http.StatusBadRequest, c.Status, c.Action)
			}
		})
	}
}

// TestKMSInstance: KMS_INSTANCE_ID reaches CreateSecret as DKMSInstanceId,
// and the local cloud refuses a key that is not a symmetric key of that
// instance, as KMS 3.0 requires; the refusal is not the caller's fault.
func TestKMSInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		key, instance string
		want          reset.ErrorCode // "" = created
	}{
		{"OKKeyAndInstance", emulator.FixtureKMSKeyID, emulator.FixtureKMSInstanceID, ""},
		{"OKAliasKeysInstance", emulator.FixtureKMSKeyAlias, "", ""},
		{"ErrKeyOfOtherInstance", emulator.FixtureKMSOtherInstanceKey, emulator.FixtureKMSInstanceID, reset.EUpstream},
		{"ErrAsymmetricKey", emulator.FixtureKMSAsymmetricKeyID, "", reset.EUpstream},
		{"ErrNoSuchInstance", emulator.FixtureKMSKeyID, "kst-hzz00nosuchinstance", reset.EUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			store := MustNew(t, eps, func(c *aliyun.Config, _ *aliyun.Options) { c.KMSEncryptionKeyID, c.KMSInstanceID = tt.key, tt.instance }).Secrets
			err := store.CreateSecret(roleCtx(t), "pwreset/instance", "v0", []byte("{}"))
			call := lastCall(t, cloud, "CreateSecret")
			assert.Equal(t, tt.key, call.Params["EncryptionKeyId"])
			assert.Equal(t, tt.instance, call.Params["DKMSInstanceId"])
			if tt.want != "" {
				requireCode(t, err, tt.want)
				_, ok := cloud.Secret("pwreset/instance")
				assert.False(t, ok, "the refused secret exists")
				return
			}
			require.NoError(t, err)
			s, ok := cloud.Secret("pwreset/instance")
			require.True(t, ok)
			assert.Equal(t, emulator.FixtureKMSInstanceID, s.DKMSInstanceID)
			assert.Equal(t, emulator.FixtureKMSKeyID, s.EncryptionKeyID)
		})
	}
}
