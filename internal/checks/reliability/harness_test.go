package reliability_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// testCloud is an emulated cloud served by this package's own loopback
// servers, which count the requests in flight: a test waits for the cloud
// to be quiet (a call whose client gave up still takes effect) before it
// judges the cloud's state.
type testCloud struct {
	*emulator.Cloud
	Endpoints emulator.Endpoints

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	hooks    []func(emulator.Call)
	// applied maps a target's key to the digests of the passwords a
	// successful reset call put in effect on it, in order.
	applied map[string][]string
}

// MustCloud starts a cloud seeded with f (nil: the default fixture) whose
// accepted passwords the leak canary watches.
func MustCloud(tb testing.TB, f *emulator.Fixture) *testCloud {
	tb.Helper()
	fx := emulator.DefaultFixture()
	if f != nil {
		fx = *f
	}
	c := &testCloud{Cloud: emulator.New(fx), applied: map[string][]string{}}
	c.cond = sync.NewCond(&c.mu)
	canary.Watch(c.Cloud)
	serve := func(p emulator.Product) string {
		next := c.Cloud.Handler(p)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.inflight++
			c.mu.Unlock()
			defer func() {
				c.mu.Lock()
				c.inflight--
				c.cond.Broadcast()
				c.mu.Unlock()
			}()
			next.ServeHTTP(w, r)
		}))
		tb.Cleanup(srv.Close)
		return srv.URL
	}
	c.Endpoints = emulator.Endpoints{KMS: serve(emulator.KMS), CloudSSO: serve(emulator.CloudSSO), BaaS: serve(emulator.BaaS)}
	c.Cloud.OnCall(c.onCall)
	return c
}

// Hook adds fn to the functions run on each call after it took effect and
// before it is answered.
func (c *testCloud) Hook(fn func(emulator.Call)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, fn)
}

// ClearHooks removes every hook Hook added.
func (c *testCloud) ClearHooks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = nil
}

func (c *testCloud) onCall(call emulator.Call) {
	if call.Status == http.StatusOK {
		switch call.Action {
		case "ResetUserPassword":
			if pw, ok := c.SSOPassword(call.Params["DirectoryId"], call.Params["UserId"]); ok {
				c.recordApplied("cloudsso/"+call.Params["DirectoryId"]+"/"+call.Params["UserId"], pw)
			}
		case "ResetFabricOrganizationUserPassword":
			if pw, ok := c.FabricPassword(call.Params["OrganizationId"], call.Params["Username"]); ok {
				c.recordApplied("fabric/"+call.Params["OrganizationId"]+"/"+call.Params["Username"], pw)
			}
		}
	}
	c.mu.Lock()
	hooks := append([]func(emulator.Call){}, c.hooks...)
	c.mu.Unlock()
	for _, h := range hooks {
		h(call)
	}
}

func (c *testCloud) recordApplied(key, pw string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied[key] = append(c.applied[key], digest(pw))
}

// Applied returns the distinct passwords (as digests) successful resets put
// in effect on the target with key, in the order first applied.
func (c *testCloud) Applied(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, d := range c.applied[key] {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Quiesce waits until no request is being served: a call its client gave
// up on has then taken effect, or not, for good.
func (c *testCloud) Quiesce() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.inflight > 0 {
		c.cond.Wait()
	}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// inEffect returns the password in effect on t in the cloud.
func (c *testCloud) inEffect(t reset.Target) (string, bool) {
	if t.Kind == reset.KindFabric {
		return c.FabricPassword(t.OrganizationID, t.Username)
	}
	return c.SSOPassword(t.DirectoryID, t.UserID)
}

// errLost: ACSCurrent does not hold the password in effect on the target.
var errLost = errors.New("ACSCurrent does not hold the password in effect")

// CheckCurrent checks the invariant of DESIGN.md for t: ACSCurrent holds
// the password in effect on the target. Passwords are compared, never shown.
func (c *testCloud) CheckCurrent(prefix string, t reset.Target) error {
	pw, ok := c.inEffect(t)
	if !ok {
		return errors.New(t.Key() + ": no such account")
	}
	sec, ok := c.Secret(t.SecretName(prefix))
	if !ok {
		return errors.New(t.Key() + ": no secret")
	}
	cur, ok := sec.Staged(emulator.StageCurrent)
	if !ok {
		return errors.New(t.Key() + ": no ACSCurrent version")
	}
	var v struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(cur.Data), &v); err != nil || v.Password == "" || v.Password != pw {
		return errors.New(t.Key() + ": " + errLost.Error())
	}
	return nil
}

// CurrentVersion returns the id of t's ACSCurrent version, "" if none.
func (c *testCloud) CurrentVersion(prefix string, t reset.Target) string {
	sec, ok := c.Secret(t.SecretName(prefix))
	if !ok {
		return ""
	}
	v, ok := sec.Staged(emulator.StageCurrent)
	if !ok {
		return ""
	}
	return v.VersionID
}

// CallsTo counts the calls of action.
func (c *testCloud) CallsTo(action string) int {
	n := 0
	for _, call := range c.Calls() {
		if call.Action == action {
			n++
		}
	}
	return n
}

// role is the fixture's function role, which the FC context carries.
var role = fccontext.Credentials{
	AccessKeyId:     emulator.FixtureFunctionRoleKeyID,
	AccessKeySecret: "placeholder-function-role-secret-0001",
	SecurityToken:   "CAISplaceholderFunctionRoleSecurityToken0001",
}

// fastConfig is a rotator configuration with small step reserves and
// backoffs, so deadlines and retries play out in milliseconds.
func fastConfig() reset.Config {
	return reset.Config{
		MaxAttempts: 3,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  4 * time.Millisecond,
		StepReserve: 60 * time.Millisecond,
		MaxInFlight: 8,
	}
}

// function is the handler wired to a test cloud the way internal/app wires
// it, except that the adapters are wrapped so that every error they return,
// SDK texts included, reaches the leak canary.
type function struct {
	*handler.Handler
	Cloud  *testCloud
	Prefix string
	logs   *canaryWriter
}

// MustFunction wires the real adapters, rotator and handler to c.
func MustFunction(tb testing.TB, c *testCloud, rc reset.Config) *function {
	tb.Helper()
	endpoint := func(s aliyun.Service, v string) aliyun.Endpoint {
		ep, err := aliyun.ParseEndpoint(s, v)
		require.NoError(tb, err)
		return ep
	}
	clients, err := aliyun.New(aliyun.Config{
		RegionID:           c.Region(),
		KMS:                endpoint(aliyun.ServiceKMS, c.Endpoints.KMS),
		CloudSSO:           endpoint(aliyun.ServiceCloudSSO, c.Endpoints.CloudSSO),
		BaaS:               endpoint(aliyun.ServiceBaaS, c.Endpoints.BaaS),
		KMSEncryptionKeyID: emulator.FixtureKMSKeyID,
	}, aliyun.Options{
		// Every invocation carries the role's credentials; a call that
		// would fall back to the default chain is a bug here.
		DefaultCredentials: func() (credentials.Credential, error) {
			return nil, errors.New("test: the default credential chain must not be used")
		},
	})
	require.NoError(tb, err)
	logs := canary.newWriter(tb.Name() + " logs")
	logger := slog.New(handler.NewLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	store := recordingStore{clients.Secrets}
	resetters := map[reset.Kind]reset.Resetter{}
	for k, r := range clients.Resetters() {
		resetters[k] = recordingResetter{r}
	}
	// Paced as app.New paces them.
	pacedStore, pacedResetters := reset.Pace(store, resetters, reset.SystemClock{})
	rot, err := reset.NewRotator(rc, pacedResetters, pacedStore, reset.Deps{Logger: logger})
	require.NoError(tb, err)
	prefix := rc.SecretPrefix
	if prefix == "" {
		prefix = reset.DefaultSecretPrefix
	}
	return &function{Handler: handler.New(rot, logger), Cloud: c, Prefix: prefix, logs: logs}
}

// recordingStore hands every error of the secret store to the canary.
type recordingStore struct{ next reset.SecretStore }

func (s recordingStore) CreateSecret(ctx context.Context, name, versionID string, data []byte) error {
	return seen(s.next.CreateSecret(ctx, name, versionID, data))
}
func (s recordingStore) PutVersion(ctx context.Context, name, versionID string, data []byte, stages []string) error {
	return seen(s.next.PutVersion(ctx, name, versionID, data, stages))
}
func (s recordingStore) GetVersion(ctx context.Context, name, versionID string) (reset.SecretVersion, error) {
	v, err := s.next.GetVersion(ctx, name, versionID)
	return v, seen(err)
}
func (s recordingStore) GetStaged(ctx context.Context, name, stage string) (reset.SecretVersion, error) {
	v, err := s.next.GetStaged(ctx, name, stage)
	return v, seen(err)
}
func (s recordingStore) Promote(ctx context.Context, name, versionID string) error {
	return seen(s.next.Promote(ctx, name, versionID))
}
func (s recordingStore) Describe(ctx context.Context, name string) error {
	return seen(s.next.Describe(ctx, name))
}

type recordingResetter struct{ next reset.Resetter }

func (r recordingResetter) ResetPassword(ctx context.Context, t reset.Target, password string) error {
	return seen(r.next.ResetPassword(ctx, t, password))
}

// CheckAccount forwards the adapter's existence check (every adapter has
// one: aliyun's accounts.go).
func (r recordingResetter) CheckAccount(ctx context.Context, t reset.Target) error {
	c, ok := r.next.(reset.AccountChecker)
	if !ok {
		return reset.Errorf(reset.EInternal, "test: the adapter has no account check")
	}
	return seen(c.CheckAccount(ctx, t))
}

func seen(err error) error {
	canary.AddError("adapter error", err)
	return err
}

// invocation is one call of the handler as Function Compute makes it.
type invocation struct {
	RequestID string
	Creds     fccontext.Credentials // zero: the role's
	NoCreds   bool                  // send no credentials at all
	Timeout   time.Duration         // the invocation's deadline; 0: 30s
	Ctx       context.Context       // the parent of the invocation's context; nil: background
}

// answer is what the handler returned, decoded.
type answer struct {
	HTTP     *handler.HTTPResponse
	Response *handler.Response // the HTTP body or the event's return value
	Err      error             // the function error of an event
}

// Results returns the answer's results.
func (a answer) Results() []handler.Result {
	if a.Response == nil {
		return nil
	}
	return a.Response.Results
}

// OK reports success as the trigger reports it.
func (a answer) OK() bool {
	if a.Err != nil || a.Response == nil || a.Response.Error != nil {
		return false
	}
	if a.HTTP != nil && a.HTTP.StatusCode != http.StatusOK {
		return false
	}
	for _, r := range a.Response.Results {
		if r.Error != nil || (r.Status != reset.StatusRotated && r.Status != reset.StatusValidated) {
			return false
		}
	}
	return true
}

var requestSeq struct {
	sync.Mutex
	n int
}

func nextRequestID() string {
	requestSeq.Lock()
	defer requestSeq.Unlock()
	requestSeq.n++
	return "1-reliability-" + strings.Repeat("0", 1) + itoa(requestSeq.n)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Invoke runs one invocation of event and records what it answered with the
// canary.
func (f *function) Invoke(tb testing.TB, event []byte, inv invocation) answer {
	tb.Helper()
	if inv.RequestID == "" {
		inv.RequestID = nextRequestID()
	}
	creds := inv.Creds
	if creds == (fccontext.Credentials{}) && !inv.NoCreds {
		creds = role
	}
	timeout := inv.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	parent := inv.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	ctx = fccontext.NewContext(ctx, &fccontext.FcContext{
		RequestID: inv.RequestID, Credentials: creds, Region: f.Cloud.Region(), AccountId: f.Cloud.AccountID(),
	})
	out, err := f.Handler.Invoke(ctx, event)
	canary.AddJSON("response", out)
	canary.AddError("function error", err)
	a := answer{Err: err}
	switch v := out.(type) {
	case *handler.HTTPResponse:
		a.HTTP = v
		var resp handler.Response
		require.NoError(tb, json.Unmarshal([]byte(v.Body), &resp), "HTTP body")
		a.Response = &resp
	case *handler.Response:
		a.Response = v
	case nil:
	default:
		tb.Fatalf("the handler answered a %T", out)
	}
	return a
}

// cloudEvent returns an EventBridge event with id whose data is request.
func cloudEvent(id string, request string) []byte {
	ev := map[string]any{
		"specversion": "1.0", "id": id, "source": "acs.reliability", "type": "pwreset:Reset",
		"datacontenttype": "application/json", "data": json.RawMessage(request),
	}
	b, _ := json.Marshal(ev) // maps of strings and valid JSON
	return b
}

// httpEvent returns an HTTP trigger event POSTing body with the headers.
func httpEvent(method, body string, headers map[string]string) []byte {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	ev := handler.HTTPEvent{
		Version: "v1", RawPath: "/", Body: body, Headers: h,
		RequestContext: handler.HTTPRequestContext{
			AccountID: "1234567890123456", RequestID: nextRequestID(),
			HTTP: handler.HTTPDescription{Method: method, Path: "/", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
		},
	}
	b, _ := json.Marshal(ev)
	return b
}

// timerEvent returns a timer event.
func timerEvent(name, at, payload string) []byte {
	b, _ := json.Marshal(handler.TimerEvent{TriggerName: name, TriggerTime: at, Payload: payload})
	return b
}

// Targets of the default fixture.
var (
	alice  = reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: emulator.FixtureUserID}
	bob    = reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: "u-00q8wbq42wiltcrkab13"}
	carol  = reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: "u-00q8wbq42wiltcrkab14"}
	asian  = reset.Target{Kind: reset.KindFabric, OrganizationID: emulator.FixtureOrganizationID, Username: "asian01", Location: emulator.FixtureLocation}
	asian2 = reset.Target{Kind: reset.KindFabric, OrganizationID: emulator.FixtureOrganizationID, Username: "asian02", Location: emulator.FixtureLocation}
)

// requestFor returns the JSON request of one target.
func requestFor(t reset.Target) string {
	return string(mustJSON(targetSpec(t)))
}

// batchFor returns the JSON batch request of targets.
func batchFor(ts ...reset.Target) string {
	specs := make([]handler.TargetSpec, len(ts))
	for i, t := range ts {
		specs[i] = targetSpec(t)
	}
	return string(mustJSON(map[string]any{"targets": specs}))
}

func targetSpec(t reset.Target) handler.TargetSpec {
	return handler.TargetSpec{Target: t.Kind, DirectoryID: t.DirectoryID, UserID: t.UserID,
		RequirePasswordResetForNextLogin: t.RequirePasswordResetForNextLogin,
		OrganizationID:                   t.OrganizationID, Username: t.Username, Location: t.Location}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// RequireConverged checks, once the cloud is quiet, the three promises of
// the protocol for each target after a rotation: ACSCurrent holds the
// password in effect, exactly wantApplied distinct new passwords were
// applied, and a fresh rotation with a new key still succeeds.
func RequireConverged(tb testing.TB, f *function, wantApplied int, targets ...reset.Target) {
	tb.Helper()
	f.Cloud.Quiesce()
	for _, t := range targets {
		require.NoError(tb, f.Cloud.CheckCurrent(f.Prefix, t))
		require.Len(tb, f.Cloud.Applied(t.Key()), wantApplied, "distinct passwords applied to %s", t.Key())
	}
	a := f.Invoke(tb, cloudEvent("fresh-"+nextRequestID(), batchOrOne(targets)), invocation{})
	require.True(tb, a.OK(), "a fresh rotation after convergence: %v %+v", a.Err, a.Response)
	f.Cloud.Quiesce()
	for _, t := range targets {
		require.NoError(tb, f.Cloud.CheckCurrent(f.Prefix, t))
		require.Len(tb, f.Cloud.Applied(t.Key()), wantApplied+1, "distinct passwords applied to %s after a fresh rotation", t.Key())
	}
}

func batchOrOne(ts []reset.Target) string {
	if len(ts) == 1 {
		return requestFor(ts[0])
	}
	return batchFor(ts...)
}
