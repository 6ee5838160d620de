package aliyun_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/emulator"
	"github.com/pwreset/pwreset/internal/reset"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	const key = "key-hzz62f1cb66fa42qo0000"
	// region completes c with a region and, unless c names one, a key.
	region := func(c aliyun.Config) aliyun.Config {
		c.RegionID = "cn-hangzhou"
		if c.KMSEncryptionKeyID == "" {
			c.KMSEncryptionKeyID = key
		}
		return c
	}
	tests := []struct {
		name      string
		cfg       aliyun.Config
		wantField string
	}{
		{name: "OKRegionOnly", cfg: region(aliyun.Config{})},
		{name: "OKNoRegionWithKMSEndpoint", cfg: aliyun.Config{KMSEndpoint: "kms.cn-shanghai.aliyuncs.com", KMSEncryptionKeyID: key}},
		{name: "OKHostPort", cfg: aliyun.Config{KMSEndpoint: "kms.example.test:8443", CloudSSOEndpoint: "cloudsso.example.test", BaaSEndpoint: "127.0.0.1:9000", KMSEncryptionKeyID: key}},
		{name: "OKURLs", cfg: aliyun.Config{KMSEndpoint: "http://127.0.0.1:1", CloudSSOEndpoint: "https://127.0.0.1:2/", BaaSEndpoint: "HTTP://localhost:3", KMSEncryptionKeyID: key}},
		{name: "OKLoopbackV6", cfg: region(aliyun.Config{KMSEndpoint: "http://[::1]:1"})},
		{name: "OKV2", cfg: region(aliyun.Config{SignatureAlgorithm: "v2", KMSEncryptionKeyID: "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz0000000000"})},
		{name: "OKAlias", cfg: region(aliyun.Config{KMSEncryptionKeyID: "alias/pwreset", KMSInstanceID: "kst-hzz62ee30d6zzvd8ciiqp"})},
		{name: "OKKMSVPC", cfg: region(aliyun.Config{KMSEndpoint: "kms-vpc.cn-hangzhou.aliyuncs.com"})},
		{name: "OKCloudSSOEveryDocumentedRegion", cfg: region(aliyun.Config{CloudSSOEndpoint: "https://cloudsso-vpc.eu-central-1.aliyuncs.com"})},
		{name: "OKCloudSSOTrailingDot", cfg: region(aliyun.Config{CloudSSOEndpoint: "cloudsso.ap-southeast-1.aliyuncs.com."})},
		{name: "OKBaaSDocumented", cfg: region(aliyun.Config{BaaSEndpoint: "https://BAAS.aliyuncs.com"})},
		{name: "ErrKeyRequired", cfg: aliyun.Config{RegionID: "cn-hangzhou"}, wantField: "KMS_ENCRYPTION_KEY_ID"},
		{name: "ErrKeyID", cfg: region(aliyun.Config{KMSEncryptionKeyID: "key id with spaces"}), wantField: "KMS_ENCRYPTION_KEY_ID"},
		{name: "ErrInstanceID", cfg: region(aliyun.Config{KMSInstanceID: "instance 1"}), wantField: "KMS_INSTANCE_ID"},
		{name: "ErrRegionRequired", cfg: aliyun.Config{CloudSSOEndpoint: "cloudsso.cn-shanghai.aliyuncs.com", KMSEncryptionKeyID: key}, wantField: "ALIBABA_CLOUD_REGION_ID"},
		{name: "ErrRegionMalformed", cfg: aliyun.Config{RegionID: "Hangzhou!", KMSEncryptionKeyID: key}, wantField: "ALIBABA_CLOUD_REGION_ID"},
		{name: "ErrCloudSSOUndocumentedRegion", cfg: region(aliyun.Config{CloudSSOEndpoint: "cloudsso.cn-hangzhou.aliyuncs.com"}), wantField: "CLOUDSSO_ENDPOINT"},
		{name: "ErrCloudSSOUndocumentedForm", cfg: region(aliyun.Config{CloudSSOEndpoint: "cloudsso.vpc-proxy.aliyuncs.com"}), wantField: "CLOUDSSO_ENDPOINT"},
		{name: "ErrBaaSRegional", cfg: region(aliyun.Config{BaaSEndpoint: "baas.cn-hangzhou.aliyuncs.com"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrBaaSSingapore", cfg: region(aliyun.Config{BaaSEndpoint: "baas.ap-southeast-1.aliyuncs.com"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrKMSUndocumented", cfg: region(aliyun.Config{KMSEndpoint: "kst-hzz000.cryptoservice.kms.aliyuncs.com"}), wantField: "KMS_ENDPOINT"},
		{name: "ErrKMSHTTPPublic", cfg: region(aliyun.Config{KMSEndpoint: "http://kms.cn-hangzhou.aliyuncs.com"}), wantField: "KMS_ENDPOINT"},
		{name: "ErrCloudSSOHTTPPrivate", cfg: region(aliyun.Config{CloudSSOEndpoint: "http://10.0.0.8:8080"}), wantField: "CLOUDSSO_ENDPOINT"},
		{name: "ErrBaaSHTTPName", cfg: region(aliyun.Config{BaaSEndpoint: "http://gateway.example.test"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrKMSScheme", cfg: region(aliyun.Config{KMSEndpoint: "ftp://kms.example.test"}), wantField: "KMS_ENDPOINT"},
		{name: "ErrKMSPath", cfg: region(aliyun.Config{KMSEndpoint: "http://127.0.0.1:1/api"}), wantField: "KMS_ENDPOINT"},
		{name: "ErrCloudSSOQuery", cfg: region(aliyun.Config{CloudSSOEndpoint: "http://127.0.0.1:1/?x=1"}), wantField: "CLOUDSSO_ENDPOINT"},
		{name: "ErrBaaSUser", cfg: region(aliyun.Config{BaaSEndpoint: "http://u:p@127.0.0.1:1"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrBaaSNoHost", cfg: region(aliyun.Config{BaaSEndpoint: "http://"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrBaaSEmptyPort", cfg: region(aliyun.Config{BaaSEndpoint: "127.0.0.1:"}), wantField: "BAAS_ENDPOINT"},
		{name: "ErrConnectTimeout", cfg: region(aliyun.Config{ConnectTimeout: -time.Second}), wantField: "ConnectTimeout"},
		{name: "ErrReadTimeout", cfg: region(aliyun.Config{ReadTimeout: -time.Second}), wantField: "ReadTimeout"},
		{name: "ErrSignatureAlgorithm", cfg: region(aliyun.Config{SignatureAlgorithm: "v1"}), wantField: "SignatureAlgorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clients, err := aliyun.New(tt.cfg)
			if tt.wantField == "" {
				require.NoError(t, err)
				require.NotNil(t, clients.CloudSSO)
				require.NotNil(t, clients.Fabric)
				require.NotNil(t, clients.Secrets)
				return
			}
			requireCode(t, err, reset.EInvalid)
			var re *reset.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.wantField, re.Field)
			assert.True(t, strings.HasPrefix(err.Error(), tt.wantField+": "), "got %q, want it to name %s", err, tt.wantField)
		})
	}
}

// TestDefaultCredentials: New builds no credential chain; the first call
// without credentials in its context builds it, once.
func TestDefaultCredentials(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	var built atomic.Int32
	clients := MustNew(t, eps, func(c *aliyun.Config) {
		c.DefaultCredentials = func() (credentials.Credential, error) {
			built.Add(1)
			role := roleCreds(t)
			return credentials.NewCredential(&credentials.Config{
				Type: dara.String("sts"), AccessKeyId: dara.String(role.AccessKeyID), AccessKeySecret: dara.String(role.AccessKeySecret),
				SecurityToken: dara.String(role.SecurityToken),
			})
		}
	})
	assert.Equal(t, int32(0), built.Load(), "New built the default chain")

	ctx := context.Background()
	require.ErrorIs(t, clients.Secrets.Describe(ctx, "pwreset/none"), reset.ErrSecretNotFound)
	require.ErrorIs(t, clients.Secrets.Describe(ctx, "pwreset/none"), reset.ErrSecretNotFound)
	assert.Equal(t, int32(1), built.Load(), "the default chain is built once")
	call := lastCall(t, cloud, "DescribeSecret")
	assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID)
	assert.NotEmpty(t, call.SecurityToken)

	// Credentials in the context win over the chain.
	ctx = reset.WithCredentials(context.Background(), reset.Credentials{AccessKeyID: adminKeyID, AccessKeySecret: adminSecret, SecurityToken: "context-token"})
	_ = clients.Secrets.Describe(ctx, "pwreset/none")
	assert.Equal(t, adminKeyID, lastCall(t, cloud, "DescribeSecret").AccessKeyID)
}

func TestDefaultCredentialsErrors(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	tests := []struct {
		name  string
		chain func() (credentials.Credential, error)
	}{
		{"ErrChainNotBuilt", func() (credentials.Credential, error) { return nil, errNoDefault }},
		{"ErrChainFails", func() (credentials.Credential, error) {
			return credentials.NewCredential(&credentials.Config{Type: dara.String("access_key")})
		}},
		{"ErrStaticAccessKeyRefused", func() (credentials.Credential, error) {
			return credentials.NewCredential(&credentials.Config{
				Type: dara.String("access_key"), AccessKeyId: dara.String(adminKeyID), AccessKeySecret: dara.String(adminSecret),
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clients := MustNew(t, eps, func(c *aliyun.Config) { c.DefaultCredentials = tt.chain })
			before := len(cloud.Calls())
			err := clients.Secrets.Describe(context.Background(), "pwreset/none")
			requireCode(t, err, reset.EInternal)
			assert.Len(t, cloud.Calls(), before, "a call was sent without credentials")
		})
	}
	t.Run("ErrNoSecretInContext", func(t *testing.T) {
		clients := MustNew(t, eps)
		ctx := reset.WithCredentials(context.Background(), reset.Credentials{AccessKeyID: "STS.x", SecurityToken: "t"})
		requireCode(t, clients.Secrets.Describe(ctx, "pwreset/none"), reset.EInternal)
	})
}

// TestConcurrentCredentials runs invocations with two different credentials
// at once through the same clients: each call must be signed with its own.
func TestConcurrentCredentials(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	role := roleCreds(t)
	admin := reset.Credentials{AccessKeyID: adminKeyID, AccessKeySecret: adminSecret}

	const perCred = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perCred)
	for i := range perCred {
		for _, c := range []struct {
			prefix string
			creds  reset.Credentials
		}{{"role", role}, {"admin", admin}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := reset.WithCredentials(context.Background(), c.creds)
				name := fmt.Sprintf("pwreset/%s/%d", c.prefix, i)
				errs <- clients.Secrets.CreateSecret(ctx, name, "v0", secretData(leaks.Password(t)))
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, leaks.Err(err))
	}

	n := 0
	for _, call := range cloud.Calls() {
		if call.Action != "CreateSecret" {
			continue
		}
		n++
		name := call.Params["SecretName"]
		switch {
		case strings.HasPrefix(name, "pwreset/role/"):
			assert.Equal(t, role.AccessKeyID, call.AccessKeyID, name)
			assert.Equal(t, role.SecurityToken, call.SecurityToken, name)
		case strings.HasPrefix(name, "pwreset/admin/"):
			assert.Equal(t, admin.AccessKeyID, call.AccessKeyID, name)
			assert.Empty(t, call.SecurityToken, name)
		default:
			t.Errorf("unexpected secret %q", name)
		}
		assert.Equal(t, 200, call.Status, name)
	}
	assert.Equal(t, 2*perCred, n)
}

func TestSignatureAlgorithms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, want string
	}{
		{"V3Default", "", "ACS3-HMAC-SHA256"},
		{"V2", "v2", "HMAC-SHA1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			leaks := MustWatchLeaks(t, cloud)
			clients := MustNew(t, eps, func(c *aliyun.Config) { c.SignatureAlgorithm = tt.config })
			ctx := roleCtx(t)

			require.NoError(t, leaks.Err(clients.CloudSSO.ResetPassword(ctx, ssoTarget(dirID, userID, true), leaks.Password(t))))
			pw := leaks.Password(t)
			require.NoError(t, leaks.Err(clients.Fabric.ResetPassword(ctx, fabricTarget(orgID, fabricUser, location), pw)))
			got, _ := cloud.FabricPassword(orgID, fabricUser)
			assert.True(t, got == pw, "the organization does not have the new password")
			const name = "pwreset/sig"
			require.NoError(t, leaks.Err(clients.Secrets.CreateSecret(ctx, name, "v0", []byte("{}"))))
			require.NoError(t, leaks.Err(clients.Secrets.PutVersion(ctx, name, "v1", secretData(leaks.Password(t)), []string{reset.StagePending})))
			v, err := clients.Secrets.GetVersion(ctx, name, "v1")
			require.NoError(t, leaks.Err(err))
			assert.Equal(t, []string{reset.StagePending}, v.Stages)
			require.NoError(t, leaks.Err(clients.Secrets.Promote(ctx, name, "v1")))
			require.NoError(t, leaks.Err(clients.Secrets.Describe(ctx, name)))

			calls := cloud.Calls()
			require.Len(t, calls, 7)
			for _, call := range calls {
				want := tt.want
				if call.Product == emulator.BaaS {
					// BaaS documents only HMAC-SHA1: it is signed so whatever the setting.
					want = emulator.AlgorithmV2
				}
				assert.Equal(t, want, call.SignatureAlgorithm, call.Action)
				assert.Equal(t, 200, call.Status, call.Action)
				assert.Equal(t, emulator.FixtureFunctionRoleKeyID, call.AccessKeyID, call.Action)
				assert.Equal(t, roleCreds(t).SecurityToken, call.SecurityToken, call.Action)
			}
		})
	}
}

// TestConnectionReuse: sequential calls of many invocations, each with its
// own context and credentials, share one connection per endpoint.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	clients := MustNew(t, eps)
	admin := reset.Credentials{AccessKeyID: adminKeyID, AccessKeySecret: adminSecret}

	for i := range 10 {
		creds := roleCreds(t)
		if i%2 == 1 {
			creds = admin
		}
		ctx, cancel := context.WithTimeout(reset.WithCredentials(context.Background(), creds), time.Minute)
		require.NoError(t, leaks.Err(clients.CloudSSO.ResetPassword(ctx, ssoTarget(dirID, userID, false), leaks.Password(t))))
		require.NoError(t, leaks.Err(clients.Fabric.ResetPassword(ctx, fabricTarget(orgID, fabricUser, location), leaks.Password(t))))
		err := clients.Secrets.Describe(ctx, "pwreset/none")
		require.True(t, errors.Is(err, reset.ErrSecretNotFound), "got %v", err)
		cancel()
	}
	for _, p := range []emulator.Product{emulator.KMS, emulator.CloudSSO, emulator.BaaS} {
		assert.Equal(t, 1, cloud.Connections(p), "connections to %s", p)
	}
}
