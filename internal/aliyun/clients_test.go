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
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestParseEndpoint: the rules of an endpoint, per service; the error
// states the rule and never quotes the value.
func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	kms, sso, baas := aliyun.ServiceKMS, aliyun.ServiceCloudSSO, aliyun.ServiceBaaS
	tests := []struct {
		name    string
		service aliyun.Service
		value   string
		want    aliyun.Endpoint
		rule    string // a part of the rule broken; "" for OK
	}{
		{"OKEmptyIsDefault", kms, "", aliyun.Endpoint{}, ""},
		{"OKHost", kms, "kms.cn-shanghai.aliyuncs.com", aliyun.Endpoint{Host: "kms.cn-shanghai.aliyuncs.com", Protocol: "https"}, ""},
		{"OKHostPort", kms, "kms.example.test:8443", aliyun.Endpoint{Host: "kms.example.test:8443", Protocol: "https"}, ""},
		{"OKURL", sso, "https://127.0.0.1:2/", aliyun.Endpoint{Host: "127.0.0.1:2", Protocol: "https"}, ""},
		{"OKUpperScheme", baas, "HTTP://localhost:3", aliyun.Endpoint{Host: "localhost:3", Protocol: "http"}, ""},
		{"OKLoopbackV6", kms, "http://[::1]:1", aliyun.Endpoint{Host: "[::1]:1", Protocol: "http"}, ""},
		{"OKKMSVPC", kms, "kms-vpc.cn-hangzhou.aliyuncs.com", aliyun.Endpoint{Host: "kms-vpc.cn-hangzhou.aliyuncs.com", Protocol: "https"}, ""},
		{"OKCloudSSOEveryDocumentedRegion", sso, "https://cloudsso-vpc.eu-central-1.aliyuncs.com", aliyun.Endpoint{Host: "cloudsso-vpc.eu-central-1.aliyuncs.com", Protocol: "https"}, ""},
		{"OKCloudSSOTrailingDot", sso, "cloudsso.ap-southeast-1.aliyuncs.com.", aliyun.Endpoint{Host: "cloudsso.ap-southeast-1.aliyuncs.com.", Protocol: "https"}, ""},
		{"OKBaaSDocumented", baas, "https://BAAS.aliyuncs.com", aliyun.Endpoint{Host: "BAAS.aliyuncs.com", Protocol: "https"}, ""},
		{"ErrCloudSSOUndocumentedRegion", sso, "cloudsso.cn-hangzhou.aliyuncs.com", aliyun.Endpoint{}, "does not document"},
		{"ErrCloudSSOUndocumentedForm", sso, "cloudsso.vpc-proxy.aliyuncs.com", aliyun.Endpoint{}, "does not document"},
		{"ErrBaaSRegional", baas, "baas.cn-hangzhou.aliyuncs.com", aliyun.Endpoint{}, "does not document"},
		{"ErrBaaSSingapore", baas, "baas.ap-southeast-1.aliyuncs.com", aliyun.Endpoint{}, "does not document"},
		{"ErrKMSUndocumented", kms, "kst-hzz000.cryptoservice.kms.aliyuncs.com", aliyun.Endpoint{}, "does not document"},
		{"ErrKMSHTTPPublic", kms, "http://kms.cn-hangzhou.aliyuncs.com", aliyun.Endpoint{}, "loopback"},
		{"ErrCloudSSOHTTPPrivate", sso, "http://10.0.0.8:8080", aliyun.Endpoint{}, "loopback"},
		{"ErrBaaSHTTPName", baas, "http://gateway.example.test", aliyun.Endpoint{}, "loopback"},
		{"ErrKMSScheme", kms, "ftp://kms.example.test", aliyun.Endpoint{}, "scheme"},
		{"ErrKMSPath", kms, "http://127.0.0.1:1/api", aliyun.Endpoint{}, "path"},
		{"ErrCloudSSOQuery", sso, "http://127.0.0.1:1/?x=1", aliyun.Endpoint{}, "query"},
		{"ErrBaaSUser", baas, "http://u:p4ss@127.0.0.1:1", aliyun.Endpoint{}, "user info"},
		{"ErrBaaSNoHost", baas, "http://", aliyun.Endpoint{}, "no host"},
		{"ErrBaaSEmptyPort", baas, "127.0.0.1:", aliyun.Endpoint{}, "empty port"},
		{"ErrPortRange", baas, "baas.example.com:99999", aliyun.Endpoint{}, "port"},
		{"ErrHostName", kms, "kms_example.com", aliyun.Endpoint{}, "host"},
		{"ErrUnknownService", "ram", "ram.aliyuncs.com", aliyun.Endpoint{}, "unknown service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := aliyun.ParseEndpoint(tt.service, tt.value)
			if tt.rule == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.rule)
			assert.NotContains(t, err.Error(), "p4ss")
		})
	}
}

// TestNewConfig: New refuses, as a programmer's error, what no checked
// configuration holds, and accepts every checked one.
func TestNewConfig(t *testing.T) {
	t.Parallel()
	const key = "key-hzz62f1cb66fa42qo0000"
	local := aliyun.Endpoint{Host: "127.0.0.1:1", Protocol: "http"}
	tests := []struct {
		name string
		cfg  aliyun.Config
		opt  aliyun.Options
		want string // a part of the error; "" for OK
	}{
		{"OKRegionOnly", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: key}, aliyun.Options{}, ""},
		{"OKNoRegionWithKMSEndpoint", aliyun.Config{KMS: local, KMSEncryptionKeyID: key}, aliyun.Options{}, ""},
		{"OKV2", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz0000000000"}, aliyun.Options{SignatureAlgorithm: "v2"}, ""},
		{"OKAlias", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: "alias/pwreset", KMSInstanceID: "kst-hzz62ee30d6zzvd8ciiqp"}, aliyun.Options{}, ""},
		{"OKLongestKey", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: "alias/" + strings.Repeat("k", 249)}, aliyun.Options{}, ""},
		{"ErrKeyTooLong", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: "alias/" + strings.Repeat("k", 250)}, aliyun.Options{}, "key id"},
		{"ErrKeyRequired", aliyun.Config{RegionID: "cn-hangzhou"}, aliyun.Options{}, "key id is required"},
		{"ErrKeyID", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: "key id with spaces"}, aliyun.Options{}, "key id"},
		{"ErrInstanceID", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: key, KMSInstanceID: "instance 1"}, aliyun.Options{}, "instance id"},
		{"ErrRegionRequired", aliyun.Config{KMSEncryptionKeyID: key}, aliyun.Options{}, "region id is required"},
		{"ErrRegionMalformed", aliyun.Config{RegionID: "Hangzhou!", KMSEncryptionKeyID: key}, aliyun.Options{}, "region id"},
		{"ErrConnectTimeout", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: key}, aliyun.Options{ConnectTimeout: -time.Second}, "ConnectTimeout"},
		{"ErrReadTimeout", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: key}, aliyun.Options{ReadTimeout: -time.Second}, "ReadTimeout"},
		{"ErrSignatureAlgorithm", aliyun.Config{RegionID: "cn-hangzhou", KMSEncryptionKeyID: key}, aliyun.Options{SignatureAlgorithm: "v1"}, "SignatureAlgorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clients, err := aliyun.New(tt.cfg, tt.opt)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, clients.CloudSSO)
				require.NotNil(t, clients.Fabric)
				require.NotNil(t, clients.Secrets)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "aliyun: "), "got %q", err)
		})
	}
}

// TestDefaultCredentials: New builds no credential chain; the first call
// without credentials in its context builds it, once.
func TestDefaultCredentials(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	var built atomic.Int32
	clients := MustNew(t, eps, func(_ *aliyun.Config, o *aliyun.Options) {
		o.DefaultCredentials = func() (credentials.Credential, error) {
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
			clients := MustNew(t, eps, func(_ *aliyun.Config, o *aliyun.Options) { o.DefaultCredentials = tt.chain })
			before := len(cloud.Calls())
			err := clients.Secrets.Describe(context.Background(), "pwreset/none")
			requireCode(t, err, reset.EInternal)
			assert.Len(t, cloud.Calls(), before, "a call was sent without credentials")
		})
	}
	t.Run("OperatorStaticAccessKey", func(t *testing.T) {
		// The operator CLI may sign with a static AccessKey; the function's
		// refusal above is the zero Options'.
		clients := MustNew(t, eps, func(_ *aliyun.Config, o *aliyun.Options) {
			o.OperatorCredentials = true
			o.DefaultCredentials = tests[2].chain
		})
		require.ErrorIs(t, clients.Secrets.Describe(context.Background(), "pwreset/none"), reset.ErrSecretNotFound)
		call := lastCall(t, cloud, "DescribeSecret")
		assert.Equal(t, adminKeyID, call.AccessKeyID)
		assert.Empty(t, call.SecurityToken)
	})
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
			clients := MustNew(t, eps, func(_ *aliyun.Config, o *aliyun.Options) { o.SignatureAlgorithm = tt.config })
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
