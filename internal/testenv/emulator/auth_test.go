package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cred       func(testing.TB) credentials.Credential
		skew       time.Duration
		wantCode   string
		wantStatus int
		wantKeyID  string
	}{
		{name: "OK_STS", cred: roleCred, wantKeyID: roleKeyID},
		{name: "OK_AccessKey", cred: func(tb testing.TB) credentials.Credential { return MustAK(tb, akID, akSecret) }, wantKeyID: akID},
		{name: "SignatureDoesNotMatch", cred: func(tb testing.TB) credentials.Credential {
			return MustSTS(tb, roleKeyID, "wrong-secret", roleToken)
		}, wantCode: "SignatureDoesNotMatch", wantStatus: 400, wantKeyID: roleKeyID},
		{name: "InvalidAccessKeyId.NotFound", cred: func(tb testing.TB) credentials.Credential {
			return MustAK(tb, "LTAI5tUnknownKey000000", akSecret)
		}, wantCode: "InvalidAccessKeyId.NotFound", wantStatus: 404},
		{name: "InvalidSecurityToken.Expired", cred: func(tb testing.TB) credentials.Credential {
			return MustSTS(tb, expiredKeyID, expiredSecret, expiredToken)
		}, wantCode: "InvalidSecurityToken.Expired", wantStatus: 400},
		{name: "InvalidSecurityToken.MismatchWithAccessKey", cred: func(tb testing.TB) credentials.Credential {
			return MustSTS(tb, roleKeyID, roleSecret, expiredToken)
		}, wantCode: "InvalidSecurityToken.MismatchWithAccessKey", wantStatus: 400},
		{name: "InvalidSecurityToken.MismatchWithAccessKey_PlainKeyWithToken", cred: func(tb testing.TB) credentials.Credential {
			return MustSTS(tb, akID, akSecret, roleToken)
		}, wantCode: "InvalidSecurityToken.MismatchWithAccessKey", wantStatus: 400},
		{name: "InvalidSecurityToken.Malformed", cred: func(tb testing.TB) credentials.Credential {
			return MustSTS(tb, roleKeyID, roleSecret, "CAISnotATokenAnyoneIssued")
		}, wantCode: "InvalidSecurityToken.Malformed", wantStatus: 400},
		{name: "MissingSecurityToken", cred: func(tb testing.TB) credentials.Credential {
			return MustAK(tb, roleKeyID, roleSecret)
		}, wantCode: "MissingSecurityToken", wantStatus: 400},
		{name: "InvalidTimeStamp.Expired_Late", cred: roleCred, skew: 16 * time.Minute, wantCode: "InvalidTimeStamp.Expired", wantStatus: 400},
		{name: "InvalidTimeStamp.Expired_Early", cred: roleCred, skew: -16 * time.Minute, wantCode: "InvalidTimeStamp.Expired", wantStatus: 400},
		{name: "OK_SkewWithinLimit", cred: roleCred, skew: 14 * time.Minute, wantKeyID: roleKeyID},
	}
	for _, alg := range algorithms {
		for _, tt := range tests {
			t.Run(algName(alg)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c, eps := MustStart(t)
				if tt.skew != 0 {
					c.SetClock(func() time.Time { return time.Now().Add(tt.skew) })
				}
				client := MustKMS(t, eps.KMS, tt.cred(t), alg)
				_, err := client.CreateSecret(&kms.CreateSecretRequest{
					SecretName: tea.String("auth/test"), SecretData: tea.String("placeholder-data"), VersionId: tea.String("v1"),
					EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID),
				})
				calls := c.Calls()
				require.Len(t, calls, 1)
				call := calls[0]
				wantAlg := emulator.AlgorithmV3
				if alg == sigV2 {
					wantAlg = emulator.AlgorithmV2
				}
				assert.Equal(t, wantAlg, call.SignatureAlgorithm)
				if tt.wantKeyID != "" {
					assert.Equal(t, tt.wantKeyID, call.AccessKeyID)
				}
				if tt.wantCode == "" {
					require.NoError(t, err)
					assert.Equal(t, http.StatusOK, call.Status)
					_, ok := c.Secret("auth/test")
					assert.True(t, ok, "secret created")
					return
				}
				code, status := errCode(t, err)
				assert.Equal(t, tt.wantCode, code)
				assert.Equal(t, tt.wantStatus, status)
				assert.Equal(t, tt.wantCode, call.Code)
				_, ok := c.Secret("auth/test")
				assert.False(t, ok, "a refused call changed nothing")
			})
		}
	}
}

func TestSTSTokenExpiresWithClock(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	client := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	_, err := client.DescribeSecret(&kms.DescribeSecretRequest{SecretName: tea.String("absent")})
	code, _ := errCode(t, err)
	require.Equal(t, "Forbidden.ResourceNotFound", code, "the token is valid now")

	// The token's lifetime is checked before the timestamp's skew.
	c.SetClock(func() time.Time { return time.Now().Add(emulator.DefaultSTSLifetime + time.Minute) })
	_, err = client.DescribeSecret(&kms.DescribeSecretRequest{SecretName: tea.String("absent")})
	code, status := errCode(t, err)
	assert.Equal(t, "InvalidSecurityToken.Expired", code)
	assert.Equal(t, http.StatusBadRequest, status)
}

// TestReplay replays and tampers with exactly what the SDK sent.
func TestReplay(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(algName(alg), func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			proxy, last := MustProxy(t, eps.KMS)
			client := MustKMS(t, proxy, roleCred(t), alg)
			_, err := client.CreateSecret(&kms.CreateSecretRequest{
				SecretName: tea.String("replay/x"), SecretData: tea.String("placeholder-data"), VersionId: tea.String("v1"),
				EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID),
			})
			require.NoError(t, err)
			sent := last()

			tests := []struct {
				name     string
				mutate   func(capture) capture
				wantCode string
				wantHTTP int
			}{
				{name: "SignatureNonceUsed", mutate: func(c capture) capture { return c }, wantCode: "SignatureNonceUsed", wantHTTP: 400},
				{name: "SignatureDoesNotMatch_Param", mutate: func(c capture) capture {
					c.path = strings.Replace(c.path, "replay%2Fx", "replay%2Fy", 1)
					return c
				}, wantCode: "SignatureDoesNotMatch", wantHTTP: 400},
				{name: "SignatureDoesNotMatch_Header", mutate: func(c capture) capture {
					c.header = c.header.Clone()
					c.header.Set("x-acs-signature-nonce", "fresh-nonce-0001")
					c.header.Set("x-acs-date", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
					if alg == sigV2 {
						c.path = strings.Replace(c.path, "SignatureNonce=", "SignatureNonce=fresh", 1)
					}
					return c
				}, wantCode: "SignatureDoesNotMatch", wantHTTP: 400},
				{name: "SignatureDoesNotMatch_Body", mutate: func(c capture) capture {
					c.body = append(append([]byte(nil), c.body...), []byte("&Extra=1")...)
					c.header = c.header.Clone()
					c.header.Set("Content-Type", "application/x-www-form-urlencoded")
					return c
				}, wantCode: "SignatureDoesNotMatch", wantHTTP: 400},
			}
			if alg == sigV3 {
				tests = append(tests, struct {
					name     string
					mutate   func(capture) capture
					wantCode string
					wantHTTP int
				}{name: "IncompleteSignature_NoContentSHA256", mutate: func(c capture) capture {
					c.header = c.header.Clone()
					c.header.Del("x-acs-content-sha256")
					return c
				}, wantCode: "IncompleteSignature", wantHTTP: 400})
			}
			for _, tt := range tests {
				resp, err := send(eps.KMS, tt.mutate(sent))
				require.NoError(t, err, tt.name)
				var body map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), tt.name)
				resp.Body.Close()
				assert.Equal(t, tt.wantHTTP, resp.StatusCode, tt.name)
				assert.Equal(t, tt.wantCode, body["Code"], tt.name)
				assert.NotEmpty(t, body["RequestId"], tt.name)
				assert.NotEmpty(t, body["Message"], tt.name)
			}
			s, ok := c.Secret("replay/x")
			require.True(t, ok)
			assert.Len(t, s.Versions, 1, "no replay took effect")
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	endpoint := map[emulator.Product]string{emulator.KMS: eps.KMS, emulator.CloudSSO: eps.CloudSSO, emulator.BaaS: eps.BaaS}
	tests := []struct {
		name            string
		product         emulator.Product
		action, version string
		wantCode        string
		wantStatus      int
	}{
		{"InvalidAction.NotFound_Unknown", emulator.KMS, "Encrypt", emulator.KMSVersion, "InvalidAction.NotFound", 404},
		{"InvalidAction.NotFound_OtherProduct", emulator.KMS, "ResetUserPassword", emulator.CloudSSOVersion, "InvalidAction.NotFound", 404},
		{"InvalidAction.NotFound_SSOGetsKMS", emulator.CloudSSO, "GetSecretValue", emulator.KMSVersion, "InvalidAction.NotFound", 404},
		{"InvalidAction.NotFound_BaaSGetsSSO", emulator.BaaS, "ResetUserPassword", emulator.CloudSSOVersion, "InvalidAction.NotFound", 404},
		{"InvalidVersion_KMS", emulator.KMS, "GetSecretValue", "2015-01-01", "InvalidVersion", 400},
		{"InvalidVersion_SSO", emulator.CloudSSO, "ResetUserPassword", "2019-01-01", "InvalidVersion", 400},
		{"InvalidVersion_BaaS", emulator.BaaS, "ResetFabricOrganizationUserPassword", "2019-12-21", "InvalidVersion", 400},
	}
	for _, alg := range algorithms {
		for _, tt := range tests {
			t.Run(algName(alg)+"/"+tt.name, func(t *testing.T) {
				b := MustBaaS(t, endpoint[tt.product], roleCred(t), alg)
				_, err := b.call(tt.action, tt.version, map[string]any{"SecretName": "x"})
				code, status := errCode(t, err)
				assert.Equal(t, tt.wantCode, code)
				assert.Equal(t, tt.wantStatus, status)
			})
		}
	}
	for _, call := range c.Calls() {
		assert.NotEmpty(t, call.RequestID)
		assert.NotEqual(t, http.StatusOK, call.Status, fmt.Sprintf("%s %s", call.Product, call.Action))
	}
}

func TestUnsignedRequest(t *testing.T) {
	t.Parallel()
	_, eps := MustStart(t)
	resp, err := http.Post(eps.KMS+"/?Action=GetSecretValue&Version=2016-01-20&SecretName=x", "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "MissingSignature", body["Code"])
	assert.NotEmpty(t, body["RequestId"])
}
