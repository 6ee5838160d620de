package aliyun

// How a call gets its credentials, its deadline and its connection.
//
// darabonba's clients read their credential (Client.Credential) and their
// HTTP client (Client.HttpClient) from the client struct on every call, and
// their methods take no context. Left to itself, the SDK sends through a
// process-wide pool of http.Clients keyed by the runtime's timeouts and the
// host (dara.clientPool), so deriving per-call timeouts from each deadline
// would add a pool entry — a new transport and new connections — for every
// distinct deadline, and the pooled client's Timeout is written on every
// call. Setting Client.Credential on a shared client per invocation would
// race between concurrent invocations.
//
// So each SDK client is built once (New) with no credential, and each call
// runs on a shallow copy of it: the copy's Credential is a fixed snapshot of
// the credentials for this call, and its HttpClient is a boundHTTPClient
// that sends through the instance's single shared *http.Client (one
// transport, connections kept alive across invocations) with the call's
// context attached to the request. Copying the struct is a few words; it
// shares no mutable state with other calls, so two concurrent invocations
// with different credentials can never sign with each other's keys, and a
// cancelled or expired context aborts dialing, waiting and reading the body
// at once instead of after the SDK's own timeouts. The SDK never retries
// (no RetryOptions): the rotator owns backoff.

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/reset"
)

// newHTTPClient returns the instance's HTTP client. Its transport is shared
// by every service and every invocation; deadlines come from each request's
// context, so the client itself has no Timeout.
func newHTTPClient(connectTimeout, readTimeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   connectTimeout,
			ResponseHeaderTimeout: readTimeout,
			ForceAttemptHTTP2:     true,
			// The rotator runs a few targets at once against the same
			// three hosts; keep enough idle connections that none of them
			// is redialled between invocations.
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		},
		// The SDK follows no redirects; neither do we, so a request (whose
		// query holds parameters) is never replayed to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// boundHTTPClient is the dara.HttpClient of one call: the shared client with
// the call's context.
type boundHTTPClient struct {
	ctx context.Context
	hc  *http.Client
}

// Call sends req through the shared client. The transport argument is the
// one the SDK builds for each request from its runtime options; it is
// ignored so that connections are pooled in one place.
func (b boundHTTPClient) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	return b.hc.Do(req.WithContext(b.ctx))
}

var _ dara.HttpClient = boundHTTPClient{}

// credentialSource gives each call its credentials: the invocation's, from
// the context, or else the default chain's.
type credentialSource struct {
	newDefault func() (credentials.Credential, error)
	// allowStatic accepts a static AccessKey from the chain (the operator
	// CLI's Options.OperatorCredentials).
	allowStatic bool

	mu    sync.Mutex
	chain credentials.Credential // built on first need, then reused: it caches and refreshes
}

// forCall returns a snapshot of the credentials that sign one call.
func (s *credentialSource) forCall(ctx context.Context) (credentials.Credential, error) {
	if c, ok := reset.CredentialsFrom(ctx); ok {
		if c.AccessKeySecret == "" {
			return nil, reset.Errorf(reset.EInternal, "the invocation's credentials have no AccessKey secret")
		}
		m := credentials.CredentialModel{
			AccessKeyId:     dara.String(c.AccessKeyID),
			AccessKeySecret: dara.String(c.AccessKeySecret),
			Type:            dara.String("access_key"),
		}
		if c.SecurityToken != "" {
			m.SecurityToken = dara.String(c.SecurityToken)
			m.Type = dara.String("sts")
		}
		return &staticCredential{m: m}, nil
	}

	// The chain may refresh over the network (ECS metadata, STS); its API
	// takes no context. One lock keeps a refresh from running twice.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chain == nil {
		chain, err := s.newDefault()
		if err != nil {
			return nil, &reset.Error{Code: reset.EInternal, Message: "no credentials: the default credential chain could not be built", Err: err}
		}
		s.chain = chain
	}
	m, err := s.chain.GetCredential()
	if err != nil {
		return nil, &reset.Error{Code: reset.EInternal, Message: "no credentials from the default credential chain", Err: err}
	}
	if m == nil {
		return nil, reset.Errorf(reset.EInternal, "no credentials from the default credential chain")
	}
	if (m.SecurityToken == nil || *m.SecurityToken == "") && !s.allowStatic {
		// Every temporary credential (the instance's RAM role, OIDC, an
		// assumed role) carries a token; a static AccessKey (environment
		// variables, a config file) does not, and the function never
		// uses one; only the operator CLI may (Options.OperatorCredentials).
		return nil, reset.Errorf(reset.EInternal,
			"the default credential chain found a static AccessKey, which pwreset never uses: give the function a RAM role")
	}
	return &staticCredential{m: *m}, nil
}

// staticCredential is a credentials.Credential that always answers the same
// snapshot; the SDK reads it once per call to sign.
type staticCredential struct {
	m credentials.CredentialModel
}

var _ credentials.Credential = (*staticCredential)(nil)

func (c *staticCredential) GetCredential() (*credentials.CredentialModel, error) {
	m := c.m
	return &m, nil
}
func (c *staticCredential) GetAccessKeyId() (*string, error)     { return c.m.AccessKeyId, nil }
func (c *staticCredential) GetAccessKeySecret() (*string, error) { return c.m.AccessKeySecret, nil }
func (c *staticCredential) GetSecurityToken() (*string, error)   { return c.m.SecurityToken, nil }
func (c *staticCredential) GetBearerToken() *string              { return c.m.BearerToken }
func (c *staticCredential) GetType() *string                     { return c.m.Type }

// String keeps the secret out of any %v that reaches it.
func (c *staticCredential) String() string   { return "credentials(redacted)" }
func (c *staticCredential) GoString() string { return c.String() }

// caller holds what every call of one service shares.
type caller struct {
	service string // "kms", "cloudsso", "baas": the prefix of error messages
	hc      *http.Client
	creds   *credentialSource
	// limit caps one call when the context's deadline is later (or absent):
	// ConnectTimeout + ReadTimeout, the bound the SDK itself would apply.
	limit time.Duration
}

// call is one call's bindings.
type call struct {
	ctx    context.Context
	cancel context.CancelFunc
	http   boundHTTPClient
	cred   credentials.Credential
}

// begin prepares one call of operation op. The caller must call cancel.
func (c *caller) begin(ctx context.Context, op string) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, transportError(c.service, op, err)
	}
	cred, err := c.creds.forCall(ctx)
	if err != nil {
		return nil, prefixed(c.service, op, err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.limit)
	return &call{ctx: cctx, cancel: cancel, http: boundHTTPClient{ctx: cctx, hc: c.hc}, cred: cred}, nil
}

// runtimeOptions are the RuntimeOptions of every call: no SDK retries, and nothing
// that would make the SDK build a transport we would use.
func runtimeOptions() *dara.RuntimeOptions {
	return &dara.RuntimeOptions{Autoretry: dara.Bool(false), MaxAttempts: dara.Int(1)}
}

// rpcAction is an RPC action called through darabonba-openapi's
// generic CallApi, as the generated 2018-12-21 (BaaS) and 2021-05-15
// (CloudSSO) clients describe theirs: POST to "/", parameters where the
// request puts them (a form body for BaaS, the query for CloudSSO), a
// JSON answer, AccessKey signing. BaaS has no generated module, and
// cloudsso-20210515 v1.2.0 has no method for GetPasswordPolicy.
type rpcAction struct{ Action, Version string }

// params describes a for CallApi. Callers write a as a literal with its
// Action and Version keys: internal/checks/deploy's policy test derives the RAM
// actions from them.
func (a rpcAction) params() *openapi.Params {
	return &openapi.Params{
		Action:      dara.String(a.Action),
		Version:     dara.String(a.Version),
		Protocol:    dara.String("HTTPS"), // the client's protocol, from the endpoint, wins
		Pathname:    dara.String("/"),
		Method:      dara.String("POST"),
		AuthType:    dara.String("AK"),
		Style:       dara.String("RPC"),
		ReqBodyType: dara.String("formData"),
		BodyType:    dara.String("json"),
	}
}
