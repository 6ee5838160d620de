package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Product names one service endpoint of the cloud.
type Product string

// The products the cloud serves, one endpoint each.
const (
	KMS      Product = "kms"
	CloudSSO Product = "cloudsso"
	BaaS     Product = "baas"
)

// API versions of the products, as the SDKs send them.
const (
	KMSVersion      = "2016-01-20"
	CloudSSOVersion = "2021-05-15"
	BaaSVersion     = "2018-12-21"
)

// Endpoints are the base URLs of a started cloud, "http://127.0.0.1:port".
type Endpoints struct {
	KMS, CloudSSO, BaaS string
}

// Call is one request as the cloud saw it. Params holds the query and form
// parameters with every password and secret value replaced by "***".
type Call struct {
	Product            Product
	Action, Version    string
	Params             map[string]string
	AccessKeyID        string
	SecurityToken      string
	SignatureAlgorithm string // "ACS3-HMAC-SHA256" or "HMAC-SHA1"; "" if the request was not signed
	Status             int    // the HTTP status answered (or that would have been, when Dropped)
	Code               string // the error code answered, "" on success
	RequestID          string
	Dropped            bool // the connection was closed instead of answering
	Time               time.Time
	ConnID             uint64 // the TCP connection, numbered per cloud from 1; 0 when served outside Start
}

// apiError is an error answer: an HTTP status and the JSON body's code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Cloud is a local Alibaba Cloud. Create it with New; it is safe for
// concurrent use.
type Cloud struct {
	mu       sync.Mutex
	now      func() time.Time
	fixture  Fixture
	keys     map[string]string // AccessKey ID -> secret, long-lived keys
	sts      map[string]STSToken
	dirs     map[string]*directory
	orgs     map[string]*organization
	secrets  map[string]*secret
	nonces   map[string]time.Time
	accepted []string
	calls    []Call
	onCall   func(Call)
	faults   faults
	conns    map[Product]int
	connSeq  atomic.Uint64
	servers  []*http.Server
	buckets  map[Product]*bucket
	// actionBuckets are ThrottleAction's, by action.
	actionBuckets map[string]*bucket
	fleet         fleetState       // directory.go, fcapi.go, eventbus.go
	eb            eventBridgeState // eventbridge.go
}

type directory struct {
	Directory
	users map[string]*ssoUser
}

type ssoUser struct {
	SSOUser
	requireReset bool
}

type organization struct {
	Organization
	users map[string]*FabricUser
}

// New returns a cloud seeded with f. STS tokens without an Expiration expire
// DefaultSTSLifetime from now.
func New(f Fixture) *Cloud {
	c := &Cloud{
		now:     time.Now,
		fixture: f,
		keys:    map[string]string{},
		sts:     map[string]STSToken{},
		dirs:    map[string]*directory{},
		orgs:    map[string]*organization{},
		secrets: map[string]*secret{},
		nonces:  map[string]time.Time{},
		conns:   map[Product]int{},
	}
	c.faults.init()
	for _, k := range f.AccessKeys {
		c.keys[k.ID] = k.Secret
	}
	for _, t := range f.STSTokens {
		if t.Expiration.IsZero() {
			t.Expiration = c.now().Add(DefaultSTSLifetime)
		}
		c.sts[t.AccessKeyID] = t
	}
	for _, d := range f.Directories {
		dir := &directory{Directory: d, users: map[string]*ssoUser{}}
		dir.Users = nil
		for _, u := range d.Users {
			dir.users[u.ID] = &ssoUser{SSOUser: u}
		}
		c.dirs[d.ID] = dir
	}
	for _, o := range f.Organizations {
		org := &organization{Organization: o, users: map[string]*FabricUser{}}
		org.Users = nil
		for _, u := range o.Users {
			org.users[u.Username] = &FabricUser{Username: u.Username, Password: u.Password}
		}
		c.orgs[o.ID] = org
	}
	return c
}

// SetClock replaces the cloud's clock, which decides timestamp skew, token
// expiry, throttling and the times it reports. Tests use it instead of
// sleeping.
func (c *Cloud) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Now returns the cloud's current time.
func (c *Cloud) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

// AccountID returns the account the cloud's resources belong to.
func (c *Cloud) AccountID() string { return c.fixture.AccountID }

// Region returns the cloud's region.
func (c *Cloud) Region() string { return c.fixture.Region }

// Start serves each product on its own listener on 127.0.0.1:0 and returns
// their URLs. Close stops them.
func (c *Cloud) Start() (Endpoints, error) {
	var eps Endpoints
	for _, p := range []Product{KMS, CloudSSO, BaaS} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.Close()
			return Endpoints{}, fmt.Errorf("start %s: %w", p, err)
		}
		srv := c.server(p)
		c.mu.Lock()
		c.servers = append(c.servers, srv)
		c.mu.Unlock()
		go func() { _ = srv.Serve(ln) }()
		u := "http://" + ln.Addr().String()
		switch p {
		case KMS:
			eps.KMS = u
		case CloudSSO:
			eps.CloudSSO = u
		case BaaS:
			eps.BaaS = u
		}
	}
	return eps, nil
}

type connIDKey struct{}

func (c *Cloud) server(p Product) *http.Server {
	return &http.Server{
		Handler:           c.Handler(p),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				c.mu.Lock()
				c.conns[p]++
				c.mu.Unlock()
			}
		},
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connIDKey{}, c.connSeq.Add(1))
		},
	}
}

// Close stops the listeners Start opened and closes their connections.
func (c *Cloud) Close() {
	c.mu.Lock()
	servers := c.servers
	c.servers = nil
	c.mu.Unlock()
	for _, s := range servers {
		_ = s.Close()
	}
}

// Connections returns how many TCP connections the product's listener has
// accepted so far.
func (c *Cloud) Connections(p Product) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns[p]
}

// Calls returns every call recorded so far, oldest first.
func (c *Cloud) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.calls))
	for i, call := range c.calls {
		out[i] = call
		out[i].Params = copyMap(call.Params)
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (c *Cloud) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

// OnCall sets a hook the cloud runs after recording each call and before
// answering it, so a test can act (kill a client, say) at the moment a call
// has taken effect but its answer is not yet sent. nil removes the hook.
func (c *Cloud) OnCall(fn func(Call)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onCall = fn
}

// AcceptedPasswords returns every password any API accepted or stored: reset
// passwords, generated passwords and secret values. Tests search outputs for
// them to prove nothing leaked.
func (c *Cloud) AcceptedPasswords() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.accepted...)
}

func (c *Cloud) accept(pw string) {
	if pw == "" {
		return
	}
	for _, p := range c.accepted {
		if p == pw {
			return
		}
	}
	c.accepted = append(c.accepted, pw)
}

// SSOPassword returns a CloudSSO user's password as the directory sees it.
func (c *Cloud) SSOPassword(directoryID, userID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[directoryID]
	if !ok {
		return "", false
	}
	u, ok := d.users[userID]
	if !ok {
		return "", false
	}
	return u.Password, true
}

// SSORequiresPasswordReset reports whether the user must change the password
// at next logon (ResetUserPassword's RequirePasswordResetForNextLogin).
func (c *Cloud) SSORequiresPasswordReset(directoryID, userID string) (require, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[directoryID]
	if !ok {
		return false, false
	}
	u, ok := d.users[userID]
	if !ok {
		return false, false
	}
	return u.requireReset, true
}

// FabricPassword returns a Fabric user's password as the organization sees it.
func (c *Cloud) FabricPassword(orgID, username string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.orgs[orgID]
	if !ok {
		return "", false
	}
	u, ok := o.users[username]
	if !ok {
		return "", false
	}
	return u.Password, true
}

// Handler returns the HTTP handler of one product's endpoint. Like the real
// endpoints, it answers the other products' actions as unknown.
func (c *Cloud) Handler(p Product) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(p, w, r) })
}

// maxBody bounds request bodies; the real gateway refuses far smaller ones.
const maxBody = 1 << 20

// request is a parsed API call.
type request struct {
	product Product
	action  string
	version string
	params  map[string]string // query and form parameters, merged
	rawBody []byte
	method  string
}

func (c *Cloud) serve(p Product, w http.ResponseWriter, r *http.Request) {
	call := Call{Product: p, RequestID: newRequestID()}
	if id, ok := r.Context().Value(connIDKey{}).(uint64); ok {
		call.ConnID = id
	}
	req, aerr := parseRequest(p, r)
	if req != nil {
		call.Action, call.Version = req.action, req.version
		call.Params = maskParams(req.params)
		call.AccessKeyID, call.SecurityToken, call.SignatureAlgorithm = credentialsOf(r, req.params)
	}
	var body any
	drop, dropAfter := false, false
	if aerr == nil {
		if c.faults.take(&c.faults.drop, call.Action) {
			drop = true
		} else {
			if d := c.faults.latency(call.Action); d > 0 {
				wait(r.Context(), d)
			}
			if d, ok := c.faults.takeLate(call.Action); ok {
				// Not bound to the client: the service goes on without it.
				wait(context.Background(), d)
			}
			if f, ok := c.faults.takeFail(call.Action); ok {
				aerr = errorf(f.status, f.code, "The request failed (injected fault).")
			}
		}
	}
	if aerr == nil && !drop {
		aerr = c.throttle(p, call.Action)
	}
	if aerr == nil && !drop {
		aerr = c.checkHost(r, p)
	}
	if aerr == nil && !drop {
		aerr = c.authenticate(r, req)
	}
	if aerr == nil && !drop {
		body, aerr = c.apply(req)
		if c.faults.take(&c.faults.dropAfter, call.Action) {
			dropAfter = true
		}
	}

	status := http.StatusOK
	if aerr != nil {
		status, call.Code = aerr.Status, aerr.Code
		body = map[string]string{"RequestId": call.RequestID, "Code": aerr.Code, "Message": aerr.Message}
	}
	call.Status = status
	call.Dropped = drop || dropAfter
	if drop {
		call.Status = 0
	}

	c.mu.Lock()
	call.Time = c.now()
	c.calls = append(c.calls, call)
	hook := c.onCall
	c.mu.Unlock()
	if hook != nil {
		recorded := call
		recorded.Params = copyMap(call.Params)
		hook(recorded)
	}

	if call.Dropped {
		hangUp(w)
		return
	}
	if m, ok := body.(map[string]any); ok {
		m["RequestId"] = call.RequestID
	}
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"RequestId":"` + call.RequestID + `","Code":"InternalError","Message":"The request processing has failed due to some unknown error."}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", call.RequestID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// hangUp closes the connection without an answer, the way a lost response
// looks to a client.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// Outside a real server (httptest.ResponseRecorder) the best
		// approximation is to abort the handler.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Reset rather than FIN, so the client sees the failure at once.
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// actions maps each product's actions; anything else is unknown there.
var actions = map[Product]map[string]bool{
	KMS: {
		"CreateSecret": true, "PutSecretValue": true, "GetSecretValue": true,
		"UpdateSecretVersionStage": true, "DescribeSecret": true,
		"ListSecretVersionIds": true, "DeleteSecret": true,
		"ListSecrets": true,
	},
	CloudSSO: {"ResetUserPassword": true, "ListUsers": true, "GetUser": true, "GetPasswordPolicy": true},
	BaaS:     {"ResetFabricOrganizationUserPassword": true, "DescribeFabricOrganizationUsers": true},
}

var versions = map[Product]string{KMS: KMSVersion, CloudSSO: CloudSSOVersion, BaaS: BaaSVersion}

// parseRequest reads the action, version and parameters. It returns the
// request even with an error, so that the call is recorded with what was
// understood.
func parseRequest(p Product, r *http.Request) (*request, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, errorf(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method is not supported.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
	}
	if len(body) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "RequestTooLarge", "The request body is too large.")
	}
	req := &request{product: p, params: map[string]string{}, rawBody: body, method: r.Method}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, errorf(http.StatusBadRequest, "InvalidParameter", "The query string is malformed.")
	}
	for k, v := range q {
		req.params[k] = v[0]
	}
	if len(body) > 0 && strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded") {
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return req, errorf(http.StatusBadRequest, "InvalidParameter", "The form body is malformed.")
		}
		for k, v := range f {
			req.params[k] = v[0]
		}
	}
	if strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-") {
		req.action, req.version = r.Header.Get("x-acs-action"), r.Header.Get("x-acs-version")
	} else {
		req.action, req.version = req.params["Action"], req.params["Version"]
	}
	if req.action == "" {
		return req, errorf(http.StatusBadRequest, "MissingParameter", "The input parameter \"Action\" that is mandatory for processing this request is not supplied.")
	}
	if !actions[p][req.action] {
		return req, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	if req.version == "" {
		return req, errorf(http.StatusBadRequest, "MissingParameter", "The input parameter \"Version\" that is mandatory for processing this request is not supplied.")
	}
	if req.version != versions[p] {
		return req, errorf(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid.")
	}
	return req, nil
}

// secretParams are the parameters whose values Calls never shows.
var secretParams = map[string]bool{"Password": true, "SecretData": true, "NewPassword": true}

func maskParams(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if secretParams[k] {
			v = "***"
		}
		out[k] = v
	}
	return out
}

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func (c *Cloud) apply(req *request) (map[string]any, *apiError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch req.product {
	case KMS:
		return c.kms(req)
	case CloudSSO:
		return c.cloudSSO(req)
	case BaaS:
		return c.baas(req)
	case EventBridge:
		return c.eventBridge(req)
	}
	return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

// newRequestID returns a request id shaped like the real ones (an upper-case UUID).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
