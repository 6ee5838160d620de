package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestBaaSRefusesV3: BaaS documents only HMAC-SHA1, so an ACS3 request to
// its endpoint is refused before it takes effect.
func TestBaaSRefusesV3(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	const org = emulator.FixtureOrganizationID
	before, _ := c.FabricPassword(org, "asian01")
	b := MustBaaS(t, eps.BaaS, MustAK(t, akID, akSecret), sigV3)
	_, err := b.reset(org, "asian01", "fresh-Passw0rd+/=~*", emulator.FixtureLocation)
	code, status := errCode(t, err)
	assert.Equal(t, "InvalidSignatureMethod", code)
	assert.Equal(t, http.StatusBadRequest, status)
	after, _ := c.FabricPassword(org, "asian01")
	assert.Equal(t, before, after, "the refused call changed the password")
	calls := c.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, emulator.AlgorithmV3, calls[0].SignatureAlgorithm)
}

// TestHostChecked: each endpoint serves its product's documented hosts and
// its loopback address, nothing else. An accepted host goes on to the
// signature check (this request is unsigned).
func TestHostChecked(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	endpoint := map[emulator.Product]string{emulator.KMS: eps.KMS, emulator.CloudSSO: eps.CloudSSO, emulator.BaaS: eps.BaaS}
	action := map[emulator.Product]string{
		emulator.KMS:      "Action=GetSecretValue&Version=" + emulator.KMSVersion,
		emulator.CloudSSO: "Action=ResetUserPassword&Version=" + emulator.CloudSSOVersion,
		emulator.BaaS:     "Action=ResetFabricOrganizationUserPassword&Version=" + emulator.BaaSVersion,
	}
	tests := []struct {
		name     string
		product  emulator.Product
		host     string
		wantCode string
	}{
		{"OK_BaaSDocumented", emulator.BaaS, "baas.aliyuncs.com", "MissingSignature"},
		{"OK_BaaSLoopback", emulator.BaaS, "", "MissingSignature"},
		{"Err_BaaSRegional", emulator.BaaS, "baas.cn-hangzhou.aliyuncs.com", "InvalidAction.NotFound"},
		{"Err_BaaSSingapore", emulator.BaaS, "baas.ap-southeast-1.aliyuncs.com:443", "InvalidAction.NotFound"},
		{"OK_CloudSSOShanghai", emulator.CloudSSO, "cloudsso.cn-shanghai.aliyuncs.com", "MissingSignature"},
		{"OK_CloudSSOVPC", emulator.CloudSSO, "cloudsso-vpc.us-west-1.aliyuncs.com", "MissingSignature"},
		{"Err_CloudSSOHangzhou", emulator.CloudSSO, "cloudsso.cn-hangzhou.aliyuncs.com", "InvalidAction.NotFound"},
		{"OK_KMSRegion", emulator.KMS, "kms." + c.Region() + ".aliyuncs.com", "MissingSignature"},
		{"OK_KMSVPC", emulator.KMS, "kms-vpc." + c.Region() + ".aliyuncs.com", "MissingSignature"},
		{"Err_KMSOtherProduct", emulator.KMS, "cloudsso.cn-shanghai.aliyuncs.com", "InvalidAction.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, endpoint[tt.product]+"/?"+action[tt.product], strings.NewReader(""))
			require.NoError(t, err)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, tt.wantCode, body["Code"])
		})
	}
}
