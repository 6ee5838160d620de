package emulator

// This file emulates the Function Compute runtime API that fc-runtime-go-sdk
// polls at FC_RUNTIME_API: a function instance long-polls GET .../next for its
// next invocation and posts the outcome to .../{id}/response or .../{id}/error.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RuntimeAPIVersion is the version segment of every runtime API path, as
// fc-runtime-go-sdk v0.3.1 builds it (fc/runtime_api_client.go, apiVersion).
const RuntimeAPIVersion = "2020-11-11"

const rtInvocationPrefix = "/" + RuntimeAPIVersion + "/runtime/invocation/"

// rtMaxOutcomeBytes bounds a posted response or error. Function Compute's own
// limit on a synchronous response is lower; this only keeps a runaway
// function from exhausting the test's memory.
const rtMaxOutcomeBytes = 32 << 20

// Defaults of an Invocation's zero fields: what Function Compute would send
// for a function deployed as s.yaml describes.
const (
	DefaultInvocationTimeout = 60 * time.Second
	DefaultRegion            = "cn-hangzhou"
	DefaultAccountID         = "1234567890123456" // an obvious placeholder
	DefaultFunctionName      = "pwreset"
	DefaultHandler           = "main"
	DefaultMemoryMB          = 128
	DefaultQualifier         = "LATEST"
)

// Headers of a GET .../next answer, as fc-runtime-go-sdk's
// fc/runtime_api_client.go names them.
const (
	fcHeaderRequestID       = "x-fc-request-id"
	fcHeaderDeadline        = "x-fc-function-deadline" // epoch milliseconds
	fcHeaderTimeout         = "x-fc-function-timeout"  // whole seconds
	fcHeaderAccessKeyID     = "x-fc-access-key-id"
	fcHeaderAccessKeySecret = "x-fc-access-key-secret"
	fcHeaderSecurityToken   = "x-fc-security-token"
	fcHeaderFunctionName    = "x-fc-function-name"
	fcHeaderFunctionHandler = "x-fc-function-handler"
	fcHeaderFunctionMemory  = "x-fc-function-memory"
	fcHeaderServiceName     = "x-fc-service-name"
	fcHeaderLogProject      = "x-fc-service-logproject"
	fcHeaderLogStore        = "x-fc-service-logstore"
	fcHeaderQualifier       = "x-fc-qualifier"
	fcHeaderVersionID       = "x-fc-version-id"
	fcHeaderRegion          = "x-fc-region"
	fcHeaderAccountID       = "x-fc-account-id"
	fcHeaderRetryCount      = "x-fc-retry-count"
	fcHeaderHTTPParams      = "x-fc-http-params"
)

// ErrRuntimeClosed is returned by Invoke and WaitPoll once the Runtime is closed.
var ErrRuntimeClosed = errors.New("runtime closed")

// ErrInstanceExited is returned by Invoke when the function instance the
// invocation was handed to exited before posting its outcome (see
// Runtime.InstanceExited).
var ErrInstanceExited = errors.New("the function instance exited during the invocation")

// ErrDuplicateRequestID is returned by Invoke when an invocation with the same
// request id is still queued or running.
var ErrDuplicateRequestID = errors.New("request id already queued or running")

// Credentials are the temporary credentials of the function's role that
// Function Compute hands each invocation.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Invocation describes one invocation as Function Compute would queue it.
// Zero fields take the Default values above; RequestID defaults to a fresh
// random id, and Credentials default to none (the function then falls back to
// its own credential chain).
type Invocation struct {
	RequestID    string
	Timeout      time.Duration
	Credentials  Credentials
	Region       string
	AccountID    string
	FunctionName string
	Handler      string
	MemoryMB     int
	ServiceName  string
	Qualifier    string
	VersionID    string
	LogProject   string
	LogStore     string
	RetryCount   int
}

func (inv Invocation) withDefaults() (Invocation, error) {
	if inv.RequestID == "" {
		id, err := newInvocationID()
		if err != nil {
			return inv, err
		}
		inv.RequestID = id
	}
	if inv.Timeout <= 0 {
		inv.Timeout = DefaultInvocationTimeout
	}
	if inv.Region == "" {
		inv.Region = DefaultRegion
	}
	if inv.AccountID == "" {
		inv.AccountID = DefaultAccountID
	}
	if inv.FunctionName == "" {
		inv.FunctionName = DefaultFunctionName
	}
	if inv.Handler == "" {
		inv.Handler = DefaultHandler
	}
	if inv.MemoryMB <= 0 {
		inv.MemoryMB = DefaultMemoryMB
	}
	if inv.Qualifier == "" {
		inv.Qualifier = DefaultQualifier
	}
	return inv, nil
}

// newInvocationID returns a random id in the UUID shape Function Compute uses.
func newInvocationID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate request id: %w", err)
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// FunctionError is what the function posted to .../error: the SDK's
// messages.InvokeResponse_Error.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string {
	return "function error " + e.Type + ": " + e.Message
}

// Outcome is the result of one invocation: exactly one of Payload (posted to
// .../response) and Err (posted to .../error) is meaningful.
type Outcome struct {
	RequestID string
	Payload   []byte
	// HTTPParams is the x-fc-http-params header the SDK sends with the
	// response of an HTTP-type function; empty for event functions.
	HTTPParams string
	Err        *FunctionError
	// Elapsed runs from the moment GET .../next handed the invocation to the
	// function until the outcome was posted: the function's own time,
	// without queueing.
	Elapsed time.Duration
}

// rtPending is an invocation between Invoke and its outcome.
type rtPending struct {
	inv        Invocation
	payload    []byte
	dispatched time.Time
	instance   uint64        // the instance it was handed to, once running
	done       chan rtResult // buffered 1; receives exactly one result
}

// rtResult ends an invocation: its outcome, or why it has none.
type rtResult struct {
	out Outcome
	err error
}

// rtInstanceKey keys, in a connection's context, the instance generation
// current when the connection was accepted.
type rtInstanceKey struct{}

// Runtime is an in-memory Function Compute runtime API server for one
// function instance. Make it with NewRuntime; the zero value is not usable.
type Runtime struct {
	mu       sync.Mutex
	queue    []*rtPending          // waiting for a GET .../next
	running  map[string]*rtPending // handed out, waiting for an outcome
	queued   chan struct{}         // closed and replaced whenever queue grows, running empties or an instance exits
	instance uint64                // generation of the live instance; InstanceExited increments it
	polls    []time.Time           // arrival of every GET .../next
	waiting  int                   // GET .../next requests blocked right now
	polled   chan struct{}         // closed and replaced whenever polls grows
	closed   chan struct{}
	isClosed bool
	srv      *http.Server
	now      func() time.Time
}

// NewRuntime returns a Runtime that is not yet listening; call Start.
func NewRuntime() *Runtime {
	return &Runtime{
		running: make(map[string]*rtPending),
		queued:  make(chan struct{}),
		polled:  make(chan struct{}),
		closed:  make(chan struct{}),
		now:     time.Now,
	}
}

// Start listens on a free loopback port and serves the runtime API. addr is
// host:port, the form FC_RUNTIME_API takes.
func (r *Runtime) Start() (addr string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("runtime API listen: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ConnContext: r.tagConn}
	r.mu.Lock()
	if r.isClosed || r.srv != nil {
		r.mu.Unlock()
		_ = ln.Close()
		return "", fmt.Errorf("runtime API start: %w", ErrRuntimeClosed)
	}
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Close stops the server. Blocked polls are released and rtPending Invoke calls
// return ErrRuntimeClosed. Stop the function process first: the SDK retries a
// failed poll in a tight loop.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.isClosed {
		r.mu.Unlock()
		return nil
	}
	r.isClosed = true
	close(r.closed)
	srv := r.srv
	r.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("runtime API close: %w", err)
	}
	return nil
}

// Invoke queues payload as an invocation and waits for the function's
// outcome. A function error is an Outcome with Err set, not an error; the
// error is for the invocation never completing: ctx ended (the invocation is
// withdrawn, and a late outcome is refused), the instance running it exited
// (ErrInstanceExited), the Runtime closed, or the request id is already in
// use.
func (r *Runtime) Invoke(ctx context.Context, payload []byte, inv Invocation) (Outcome, error) {
	inv, err := inv.withDefaults()
	if err != nil {
		return Outcome{}, err
	}
	p := &rtPending{inv: inv, payload: append([]byte(nil), payload...), done: make(chan rtResult, 1)}

	r.mu.Lock()
	if r.isClosed {
		r.mu.Unlock()
		return Outcome{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ErrRuntimeClosed)
	}
	if r.inUseLocked(inv.RequestID) {
		r.mu.Unlock()
		return Outcome{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ErrDuplicateRequestID)
	}
	r.queue = append(r.queue, p)
	close(r.queued)
	r.queued = make(chan struct{})
	r.mu.Unlock()

	select {
	case res := <-p.done:
		return res.out, res.err
	case <-ctx.Done():
		r.withdraw(p)
		// The outcome may have arrived while withdrawing; prefer it.
		select {
		case res := <-p.done:
			return res.out, res.err
		default:
		}
		return Outcome{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ctx.Err())
	case <-r.closed:
		return Outcome{}, fmt.Errorf("invoke %s: %w", inv.RequestID, ErrRuntimeClosed)
	}
}

func (r *Runtime) inUseLocked(id string) bool {
	if _, ok := r.running[id]; ok {
		return true
	}
	for _, q := range r.queue {
		if q.inv.RequestID == id {
			return true
		}
	}
	return false
}

// withdraw forgets p, whether it is still queued or already running.
func (r *Runtime) withdraw(p *rtPending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, q := range r.queue {
		if q == p {
			r.queue = append(r.queue[:i], r.queue[i+1:]...)
			return
		}
	}
	if r.running[p.inv.RequestID] == p {
		delete(r.running, p.inv.RequestID)
		r.wakeLocked()
	}
}

// InstanceExited tells the runtime that the function instance polling it has
// exited (it was killed, or crashed), so that nothing is stranded on it: the
// invocation it was running fails at once with ErrInstanceExited, and no poll
// that instance sent, nor any request on a connection it opened, is handed
// another invocation, even while the server has not yet noticed that the
// connection closed. Queued invocations stay queued for the next instance,
// whose connections are those accepted after this call: call it after the
// process has exited and before the next one starts.
//
// Function Compute behaves so: an invocation whose instance fails ends in
// an error for a synchronous caller and is retried on an instance for an
// asynchronous one ("Configure a retry mechanism",
// https://www.alibabacloud.com/help/en/functioncompute/fc/error-handling-1-2;
// that a crashed instance counts as an UnhandledInvocationError there and is
// not reused is assumed).
func (r *Runtime) InstanceExited() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instance++
	for id, p := range r.running {
		if p.instance < r.instance {
			delete(r.running, id)
			p.done <- rtResult{err: fmt.Errorf("invoke %s: %w", id, ErrInstanceExited)}
		}
	}
	r.wakeLocked()
}

// tagConn records in a new connection's context which instance opened it:
// the one live when the server accepted it.
func (r *Runtime) tagConn(ctx context.Context, _ net.Conn) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return context.WithValue(ctx, rtInstanceKey{}, r.instance)
}

// exitedLocked reports whether req came from an instance that has exited.
func (r *Runtime) exitedLocked(req *http.Request) bool {
	gen, ok := req.Context().Value(rtInstanceKey{}).(uint64)
	return ok && gen < r.instance
}

// wakeLocked wakes every poll waiting for an invocation it may take.
func (r *Runtime) wakeLocked() {
	close(r.queued)
	r.queued = make(chan struct{})
}

// Running returns how many invocations have been handed to the function and
// await their outcome: never more than one.
func (r *Runtime) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// PollCount returns how many GET .../next requests have arrived so far.
func (r *Runtime) PollCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.polls)
}

// Waiting returns how many GET .../next requests are blocked waiting for an
// invocation right now.
func (r *Runtime) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting
}

// WaitPoll waits until at least n GET .../next requests have arrived (counted
// from the Runtime's start, 1-based) and returns the arrival time of the nth.
// A cold start is the time from exec to WaitPoll(ctx, PollCount()+1) taken
// before the exec.
func (r *Runtime) WaitPoll(ctx context.Context, n int) (time.Time, error) {
	if n < 1 {
		return time.Time{}, fmt.Errorf("wait for poll %d: n must be at least 1", n)
	}
	for {
		r.mu.Lock()
		if len(r.polls) >= n {
			t := r.polls[n-1]
			r.mu.Unlock()
			return t, nil
		}
		polled := r.polled
		r.mu.Unlock()
		select {
		case <-polled:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for poll %d: %w", n, ctx.Err())
		case <-r.closed:
			return time.Time{}, fmt.Errorf("wait for poll %d: %w", n, ErrRuntimeClosed)
		}
	}
}

// ServeHTTP routes the runtime API. Anything it does not know gets an error
// status: 404 for an unknown path, 405 for a wrong method, 400 for an unknown
// or finished request id.
func (r *Runtime) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, rtInvocationPrefix)
	if !ok {
		writeRuntimeError(w, http.StatusNotFound, "NotFound", "unknown path "+req.URL.Path)
		return
	}
	if rest == "next" {
		if req.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeRuntimeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", req.Method+" is not allowed on "+req.URL.Path)
			return
		}
		r.serveNext(w, req)
		return
	}
	id, action, ok := strings.Cut(rest, "/")
	if !ok || id == "" || (action != "response" && action != "error") {
		writeRuntimeError(w, http.StatusNotFound, "NotFound", "unknown path "+req.URL.Path)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeRuntimeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", req.Method+" is not allowed on "+req.URL.Path)
		return
	}
	r.serveOutcome(w, req, id, action == "error")
}

func (r *Runtime) serveNext(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.polls = append(r.polls, r.now())
	close(r.polled)
	r.polled = make(chan struct{})
	r.waiting++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.waiting--
		r.mu.Unlock()
	}()

	for {
		r.mu.Lock()
		// A poll whose client has gone must not take an invocation it can
		// never deliver. An instance serves one invocation at a time, as
		// Function Compute's instances do unless instance concurrency is
		// raised ("By default, each Function Compute instance processes one
		// request at a time", "Configure instance concurrency",
		// https://www.alibabacloud.com/help/en/functioncompute/fc/configure-the-concurrency-of-a-single-instance;
		// s.yaml keeps instanceConcurrency 1): a second poll waits until
		// the running invocation's outcome is posted. A poll of an
		// instance that exited gets nothing, whether or not the server
		// has noticed its connection close (see InstanceExited).
		if r.exitedLocked(req) {
			r.mu.Unlock()
			writeRuntimeError(w, http.StatusGone, "InstanceExited", "the instance that sent this poll has exited")
			return
		}
		if req.Context().Err() == nil && len(r.queue) > 0 && len(r.running) == 0 {
			p := r.queue[0]
			r.queue = r.queue[1:]
			p.dispatched = r.now()
			p.instance = r.instance
			r.running[p.inv.RequestID] = p
			r.mu.Unlock()
			writeInvocation(w, p)
			return
		}
		queued := r.queued
		r.mu.Unlock()
		select {
		case <-queued:
		case <-req.Context().Done():
			return
		case <-r.closed:
			writeRuntimeError(w, http.StatusServiceUnavailable, "RuntimeClosed", "the runtime is shutting down")
			return
		}
	}
}

func writeInvocation(w http.ResponseWriter, p *rtPending) {
	inv := p.inv
	deadline := p.dispatched.Add(inv.Timeout)
	h := w.Header()
	set := func(name, value string) {
		if value != "" {
			h.Set(name, value)
		}
	}
	set(fcHeaderRequestID, inv.RequestID)
	set(fcHeaderDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
	// The SDK parses whole seconds; round up so a sub-second timeout is not 0.
	set(fcHeaderTimeout, strconv.Itoa(int(math.Ceil(inv.Timeout.Seconds()))))
	set(fcHeaderAccessKeyID, inv.Credentials.AccessKeyID)
	set(fcHeaderAccessKeySecret, inv.Credentials.AccessKeySecret)
	set(fcHeaderSecurityToken, inv.Credentials.SecurityToken)
	set(fcHeaderFunctionName, inv.FunctionName)
	set(fcHeaderFunctionHandler, inv.Handler)
	set(fcHeaderFunctionMemory, strconv.Itoa(inv.MemoryMB))
	set(fcHeaderServiceName, inv.ServiceName)
	set(fcHeaderLogProject, inv.LogProject)
	set(fcHeaderLogStore, inv.LogStore)
	set(fcHeaderQualifier, inv.Qualifier)
	set(fcHeaderVersionID, inv.VersionID)
	set(fcHeaderRegion, inv.Region)
	set(fcHeaderAccountID, inv.AccountID)
	set(fcHeaderRetryCount, strconv.Itoa(inv.RetryCount))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(p.payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p.payload)
}

func (r *Runtime) serveOutcome(w http.ResponseWriter, req *http.Request, id string, isError bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, rtMaxOutcomeBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeRuntimeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", "outcome exceeds "+strconv.Itoa(rtMaxOutcomeBytes)+" bytes")
			return
		}
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequest", "read outcome: "+err.Error())
		return
	}
	out := Outcome{RequestID: id}
	if isError {
		var fe FunctionError
		if err := json.Unmarshal(body, &fe); err != nil || fe.Type == "" && fe.Message == "" {
			// The SDK always posts an InvokeResponse_Error object; anything
			// else is a broken client, not a function error to guess at.
			writeRuntimeError(w, http.StatusBadRequest, "InvalidErrorPayload", `an error must be a JSON object {"errorMessage","errorType"}`)
			return
		}
		out.Err = &fe
	} else {
		out.Payload = body
		out.HTTPParams = req.Header.Get(fcHeaderHTTPParams)
	}

	r.mu.Lock()
	p, ok := r.running[id]
	if ok {
		delete(r.running, id)
		r.wakeLocked()
	}
	r.mu.Unlock()
	if !ok {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", "no running invocation has request id "+strconv.Quote(id))
		return
	}
	out.Elapsed = r.now().Sub(p.dispatched)
	p.done <- rtResult{out: out}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeRuntimeError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(FunctionError{Message: msg, Type: typ})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
