package emulator_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// Fixture credentials, as in testdata/fixture.json.
const (
	roleKeyID     = emulator.FixtureFunctionRoleKeyID
	roleSecret    = "placeholder-function-role-secret-0001"
	roleToken     = "CAISplaceholderFunctionRoleSecurityToken0001"
	expiredKeyID  = emulator.FixtureExpiredRoleKeyID
	expiredSecret = "placeholder-expired-role-secret-0001"
	expiredToken  = "CAISplaceholderExpiredRoleSecurityToken0001"
	akID          = emulator.FixtureAccessKeyID
	akSecret      = "placeholder-admin-secret-not-real-0001"
)

// Signature algorithms as openapi.Config spells them; "" is the default (V3).
const (
	sigV3 = ""
	sigV2 = "v2"
)

var algorithms = []string{sigV3, sigV2}

func algName(a string) string {
	if a == sigV2 {
		return "V2"
	}
	return "V3"
}

// MustStart starts a cloud on the default fixture, closed when tb ends.
func MustStart(tb testing.TB) (*emulator.Cloud, emulator.Endpoints) {
	tb.Helper()
	c := emulator.New(emulator.DefaultFixture())
	eps, err := c.Start()
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c, eps
}

// MustSTS returns credentials-go STS credentials.
func MustSTS(tb testing.TB, keyID, secret, token string) credentials.Credential {
	tb.Helper()
	cred, err := credentials.NewCredential(&credentials.Config{
		Type: tea.String("sts"), AccessKeyId: tea.String(keyID),
		AccessKeySecret: tea.String(secret), SecurityToken: tea.String(token),
	})
	require.NoError(tb, err)
	return cred
}

// MustAK returns credentials-go AccessKey credentials.
func MustAK(tb testing.TB, keyID, secret string) credentials.Credential {
	tb.Helper()
	cred, err := credentials.NewCredential(&credentials.Config{
		Type: tea.String("access_key"), AccessKeyId: tea.String(keyID), AccessKeySecret: tea.String(secret),
	})
	require.NoError(tb, err)
	return cred
}

func roleCred(tb testing.TB) credentials.Credential {
	tb.Helper()
	return MustSTS(tb, roleKeyID, roleSecret, roleToken)
}

func config(tb testing.TB, endpoint string, cred credentials.Credential, alg string) *openapi.Config {
	tb.Helper()
	u, err := url.Parse(endpoint)
	require.NoError(tb, err)
	cfg := &openapi.Config{
		Credential: cred, Endpoint: tea.String(u.Host), Protocol: tea.String(u.Scheme),
		RegionId: tea.String(emulator.FixtureLocation), ReadTimeout: tea.Int(5000), ConnectTimeout: tea.Int(5000),
	}
	if alg != "" {
		cfg.SignatureAlgorithm = tea.String(alg)
	}
	return cfg
}

func MustKMS(tb testing.TB, endpoint string, cred credentials.Credential, alg string) *kms.Client {
	tb.Helper()
	c, err := kms.NewClient(config(tb, endpoint, cred, alg))
	require.NoError(tb, err)
	return c
}

func MustSSO(tb testing.TB, endpoint string, cred credentials.Credential, alg string) *cloudsso.Client {
	tb.Helper()
	c, err := cloudsso.NewClient(config(tb, endpoint, cred, alg))
	require.NoError(tb, err)
	return c
}

// baas calls ResetFabricOrganizationUserPassword (or another action) through
// darabonba's CallApi, RPC style with a form body, as the adapters do.
type baas struct {
	client *openapi.Client
}

func MustBaaS(tb testing.TB, endpoint string, cred credentials.Credential, alg string) *baas {
	tb.Helper()
	c, err := openapi.NewClient(config(tb, endpoint, cred, alg))
	require.NoError(tb, err)
	return &baas{client: c}
}

func (b *baas) call(action, version string, body map[string]any) (map[string]any, error) {
	params := &openapi.Params{
		Action: tea.String(action), Version: tea.String(version), Protocol: tea.String("HTTPS"),
		Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"),
		Style: tea.String("RPC"), ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
	}
	return b.client.CallApi(params, &openapi.OpenApiRequest{Body: body}, &dara.RuntimeOptions{})
}

func (b *baas) reset(org, user, password, location string) (map[string]any, error) {
	return b.call("ResetFabricOrganizationUserPassword", emulator.BaaSVersion, map[string]any{
		"OrganizationId": org, "Username": user, "Password": password, "Location": location,
	})
}

// errCode returns the error code and HTTP status of an SDK error.
func errCode(tb testing.TB, err error) (string, int) {
	tb.Helper()
	require.Error(tb, err)
	var se *tea.SDKError
	require.True(tb, errors.As(err, &se), "not an SDK error: %T", err)
	return tea.StringValue(se.Code), tea.IntValue(se.StatusCode)
}

// capture is a raw request as it went over the wire.
type capture struct {
	method, path string
	header       http.Header
	body         []byte
}

// MustProxy starts a pass-through proxy to target that keeps the last
// request, so a test can replay or tamper with exactly what an SDK sent.
func MustProxy(tb testing.TB, target string) (string, func() capture) {
	tb.Helper()
	var mu sync.Mutex
	var last capture
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		mu.Lock()
		last = capture{method: r.Method, path: r.URL.RequestURI(), header: h, body: body}
		mu.Unlock()
		resp, err := send(target, last)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, func() capture {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// send replays a captured request to target with its original Host header,
// so the signature still covers it.
func send(target string, c capture) (*http.Response, error) {
	req, err := http.NewRequest(c.method, target+c.path, bytes.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	for k, v := range c.header {
		if k != "Host" {
			req.Header[k] = v
		}
	}
	req.Host = c.header.Get("Host")
	return http.DefaultClient.Do(req)
}

// errorBody decodes an error answer.
func readAll(tb testing.TB, r io.Reader) string {
	tb.Helper()
	b, err := io.ReadAll(r)
	require.NoError(tb, err)
	return strings.TrimSpace(string(b))
}
