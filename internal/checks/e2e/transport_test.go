package e2e_test

// The transport, checked with the real binary: HTTPS with HTTP/2 to the
// cloud, GODEBUG settings that would make Go's HTTP/2 client log refused,
// every other setting silent about passwords (the leak canary), and
// HTTPS_PROXY honoured with the documented default endpoints.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// The documented default hosts the function calls with no *_ENDPOINT set
// and ALIBABA_CLOUD_REGION_ID=cn-hangzhou (the fixture's region).
var defaultHosts = map[emulator.Product]string{
	emulator.KMS:      "kms." + emulator.DefaultRegion + ".aliyuncs.com",
	emulator.CloudSSO: "cloudsso.cn-shanghai.aliyuncs.com",
	emulator.BaaS:     "baas.aliyuncs.com",
}

// tlsCloud serves a local cloud's products over TLS with HTTP/2 enabled, one
// listener each, with a certificate for 127.0.0.1 and the default hosts.
type tlsCloud struct {
	servers map[emulator.Product]*httptest.Server
	certPEM string // path of the certificate, for SSL_CERT_FILE
	mu      sync.Mutex
	protos  map[string]int // "HTTP/2.0" -> requests
}

func MustTLSCloud(tb testing.TB, cloud *emulator.Cloud) *tlsCloud {
	tb.Helper()
	cert, pemPath := MustCert(tb)
	tc := &tlsCloud{servers: map[emulator.Product]*httptest.Server{}, certPEM: pemPath, protos: map[string]int{}}
	for _, p := range []emulator.Product{emulator.KMS, emulator.CloudSSO, emulator.BaaS} {
		h := cloud.Handler(p)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tc.mu.Lock()
			tc.protos[r.Proto]++
			tc.mu.Unlock()
			h.ServeHTTP(w, r)
		}))
		srv.EnableHTTP2 = true
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		srv.StartTLS()
		tb.Cleanup(srv.Close)
		tc.servers[p] = srv
	}
	return tc
}

func (tc *tlsCloud) requests(proto string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.protos[proto]
}

// MustCert makes a self-signed certificate for the loopback address and the
// default hosts, and writes it as PEM for the function's SSL_CERT_FILE.
func MustCert(tb testing.TB) (tls.Certificate, string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pwreset local cloud"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{defaultHosts[emulator.KMS], defaultHosts[emulator.CloudSSO], defaultHosts[emulator.BaaS]},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	path := filepath.Join(tb.TempDir(), "cloud.pem")
	require.NoError(tb, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// rotateBoth is a direct invocation rotating one account of each kind.
var rotateBoth = []byte(`{"targets":[` +
	`{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"},` +
	`{"target":"fabric","organizationId":"` + emulator.FixtureOrganizationID + `","username":"asian01","location":"` + emulator.FixtureLocation + `"}]}`)

// TestLeakCanaryOverTLSAndHTTP2 runs the real binary against the local cloud
// over TLS with HTTP/2, under every GODEBUG value the configuration accepts,
// and checks that no password appears in anything it printed; the values
// that would make Go's HTTP/2 client log are refused before any call.
func TestLeakCanaryOverTLSAndHTTP2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, godebug string
		refused       bool
		wantProto     string // the protocol the cloud saw
	}{
		{name: "Empty", godebug: "", wantProto: "HTTP/2.0"},
		{name: "HTTP2Debug0", godebug: "http2debug=0", wantProto: "HTTP/2.0"},
		{name: "HTTP2Client0", godebug: "http2client=0", wantProto: "HTTP/1.1"},
		{name: "Others", godebug: "netdns=go,tlsrsakex=0,http2debug=0", wantProto: "HTTP/2.0"},
		// Every net/http and crypto/tls setting docs/endpoints.md names as
		// accepted, at once, and the resolver's debug output.
		{name: "AllAcceptedAtOnce", godebug: "http2client=1,http2server=1,httpmuxgo121=1,httplaxcontentlength=1," +
			"httpservecontentkeepheaders=1,httpcookiemaxnum=0,tlsrsakex=1,tls3des=1,tls10server=1,tlssha1=1," +
			"tlsmlkem=0,tlssecpmlkem=0,tlsunsafeekm=1,tlsmaxrsasize=8192,netdns=go+1", wantProto: "HTTP/2.0"},
		{name: "RefusedHTTP2Debug1", godebug: "http2debug=1", refused: true},
		{name: "RefusedHTTP2Debug2", godebug: "http2debug=2", refused: true},
		{name: "RefusedAmongOthers", godebug: "netdns=go,http2debug=1", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := MustStart(t)
			tc := MustTLSCloud(t, s.Cloud)
			// localrun started the function with the plain endpoints;
			// this test runs its own instance with the TLS ones.
			require.NoError(t, s.Process().Stop())
			out := localrun.NewOutput()
			env := []string{
				"KMS_ENDPOINT=" + tc.servers[emulator.KMS].URL,
				"CLOUDSSO_ENDPOINT=" + tc.servers[emulator.CloudSSO].URL,
				"BAAS_ENDPOINT=" + tc.servers[emulator.BaaS].URL,
				"SSL_CERT_FILE=" + tc.certPEM,
				"GODEBUG=" + tt.godebug,
			}
			outcome := MustInvokeOwn(t, s, out, env, rotateBoth)
			text := out.String()
			assert.False(t, s.ContainsPassword(text), "a password is in the function's output:\n%s", s.Redact(text))
			a, err := localrun.Decode(rotateBoth, outcome)
			require.NoError(t, err)
			if tt.refused {
				require.NotNil(t, a.FunctionError, "output:\n%s", s.Redact(text))
				assert.Contains(t, a.FunctionError.Message, "FunctionMisconfigured")
				assert.Contains(t, a.FunctionError.Message, "GODEBUG")
				assert.Empty(t, s.Cloud.Calls(), "a refused configuration called the cloud")
				return
			}
			require.True(t, a.OK(), "outcome %s %+v; output:\n%s", outcome.Payload, outcome.Err, s.Redact(text))
			assert.NotEmpty(t, s.Cloud.AcceptedPasswords(), "the canary needs passwords to look for")
			assert.Positive(t, tc.requests(tt.wantProto), "the cloud saw no %s request", tt.wantProto)
		})
	}
}

// TestHTTPSProxyWithDefaultEndpoints runs the real binary with no endpoint
// set, so that it calls the documented default hosts, through an
// HTTPS_PROXY that connects them to the local cloud: the proxy sees a CONNECT
// for each, the cloud accepts the Host of each, and BaaS is signed with
// HMAC-SHA1.
func TestHTTPSProxyWithDefaultEndpoints(t *testing.T) {
	t.Parallel()
	s := MustStart(t)
	tc := MustTLSCloud(t, s.Cloud)
	require.NoError(t, s.Process().Stop())
	proxy := MustConnectProxy(t, map[string]string{
		defaultHosts[emulator.KMS] + ":443":      tc.servers[emulator.KMS].Listener.Addr().String(),
		defaultHosts[emulator.CloudSSO] + ":443": tc.servers[emulator.CloudSSO].Listener.Addr().String(),
		defaultHosts[emulator.BaaS] + ":443":     tc.servers[emulator.BaaS].Listener.Addr().String(),
	})
	out := localrun.NewOutput()
	env := []string{"KMS_ENDPOINT=", "CLOUDSSO_ENDPOINT=", "BAAS_ENDPOINT=", "SSL_CERT_FILE=" + tc.certPEM, "HTTPS_PROXY=" + proxy.url}
	outcome := MustInvokeOwn(t, s, out, env, rotateBoth)
	text := out.String()
	a, err := localrun.Decode(rotateBoth, outcome)
	require.NoError(t, err)
	require.True(t, a.OK(), "outcome %s %+v; output:\n%s", outcome.Payload, outcome.Err, s.Redact(text))
	assert.False(t, s.ContainsPassword(text), "a password is in the function's output")

	targets := proxy.targets()
	for _, p := range []emulator.Product{emulator.KMS, emulator.CloudSSO, emulator.BaaS} {
		assert.Contains(t, targets, defaultHosts[p]+":443", "the proxy saw no CONNECT for %s", p)
	}
	for _, c := range s.Cloud.Calls() {
		assert.NotEqual(t, "InvalidAction.NotFound", c.Code, "the cloud refused the Host of %s %s", c.Product, c.Action)
		if c.Product == emulator.BaaS {
			assert.Equal(t, emulator.AlgorithmV2, c.SignatureAlgorithm, "BaaS documents only HMAC-SHA1")
		}
	}
}

// MustInvokeOwn starts another instance of the function with the stack's
// runtime API, the given environment on top of the stack's, and out for its
// output; it invokes payload once and stops the instance.
func MustInvokeOwn(tb testing.TB, s *localrun.Stack, out *localrun.Output, env []string, payload []byte) emulator.Outcome {
	tb.Helper()
	full := append([]string{
		"FC_RUNTIME_API=" + s.RuntimeAddr,
		"ALIBABA_CLOUD_REGION_ID=" + s.Cloud.Region(),
		"KMS_ENCRYPTION_KEY_ID=" + emulator.FixtureKMSKeyID,
	}, env...)
	polls := s.Runtime.PollCount()
	proc, err := localrun.StartProcess(binary, full, out)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = proc.Stop() })
	_, err = s.Runtime.WaitPoll(testCtx(tb), polls+1)
	require.NoError(tb, err, "the function did not poll; output:\n%s", out.String())
	outcome, err := s.Runtime.Invoke(testCtx(tb), payload, emulator.Invocation{
		Credentials: s.Role, Region: s.Cloud.Region(), AccountID: s.Cloud.AccountID(),
	})
	require.NoError(tb, err, "output:\n%s", s.Redact(out.String()))
	return outcome
}

// connectProxy is an HTTP CONNECT proxy that tunnels each known host:port
// to a local address and refuses the others.
type connectProxy struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func (p *connectProxy) targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func MustConnectProxy(tb testing.TB, routes map[string]string) *connectProxy {
	tb.Helper()
	p := &connectProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.seen = append(p.seen, r.Host)
		p.mu.Unlock()
		to, ok := routes[r.Host]
		if !ok {
			http.Error(w, "unknown host", http.StatusBadGateway)
			return
		}
		upstream, err := net.Dial("tcp", to)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			_, _ = io.Copy(upstream, buf)
			upstream.Close()
		}()
		_, _ = io.Copy(conn, upstream)
		conn.Close()
	}))
	tb.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}
