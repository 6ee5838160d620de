package emulator

// Function Compute 3.0's InvokeFunction, asynchronous invocations only,
// served by queueing each accepted invocation on a local Runtime. Sources:
// docs/wire-facts.md ("Function Compute").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// FC is the product name of Function Compute in the call records.
const FC Product = "fc"

// FCVersion is Function Compute 3.0's API version.
const FCVersion = "2023-03-30"

// MaxAsyncPayload is the largest payload of an asynchronous invocation
// (Function Compute limits: 128 KB; 256 KB only by ticket).
const MaxAsyncPayload = 128 << 10

// DefaultMaxAsyncRetryAttempts is how often FC retries a failed asynchronous
// invocation unless configured otherwise: "up to three times" by default
// ("Configure a retry mechanism",
// https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/error-handling-1-2;
// the async invocation configuration's maxAsyncRetryAttempts changes it).
const DefaultMaxAsyncRetryAttempts = 3

// FCOptions configure the Function Compute endpoint of a Cloud.
type FCOptions struct {
	// FunctionName is the only function that exists; others are
	// FunctionNotFound. Empty means DefaultFunctionName.
	FunctionName string
	// Invocation is the template of every queued invocation: credentials
	// (the function's role), timeout, region, account. Its RequestID and
	// RetryCount are set per invocation.
	Invocation Invocation
	// MaxAsyncRetryAttempts: a function error is retried this many times
	// (RetryCount 1, 2, ...). Negative means 0; zero means the default.
	MaxAsyncRetryAttempts int
}

// AsyncInvocation is an invocation FC accepted, with what became of it.
type AsyncInvocation struct {
	RequestID string
	Payload   []byte
	TaskID    string    // x-fc-async-task-id, if given
	Attempts  []Outcome // one per delivery, in order; empty while queued
	Done      bool      // no more deliveries will be made
	Err       error     // the runtime could not deliver it (closed)
}

// fcState is the FC endpoint's state, under Cloud.mu.
type fcState struct {
	opts    FCOptions
	rt      *Runtime
	queue   []*AsyncInvocation // accepted, not yet done, in order
	all     []*AsyncInvocation
	changed chan struct{} // closed and replaced on every change
	started bool
	working bool // a fcWorker is delivering the queue
}

// StartFC serves Function Compute's InvokeFunction on 127.0.0.1:0 and
// returns its URL (the FUNCTION_COMPUTE_ENDPOINT of a test). Accepted
// invocations run one at a time on rt, in the order they were accepted, as
// one instance with reservedConcurrency 1 would run them. Close stops it.
func (c *Cloud) StartFC(rt *Runtime, o FCOptions) (string, error) {
	if o.FunctionName == "" {
		o.FunctionName = DefaultFunctionName
	}
	if o.MaxAsyncRetryAttempts == 0 {
		o.MaxAsyncRetryAttempts = DefaultMaxAsyncRetryAttempts
	}
	o.MaxAsyncRetryAttempts = max(o.MaxAsyncRetryAttempts, 0)
	c.mu.Lock()
	if c.fleet.fc.started {
		c.mu.Unlock()
		return "", fmt.Errorf("start fc: already started")
	}
	c.fleet.fc = fcState{opts: o, rt: rt, changed: make(chan struct{}), started: true}
	c.mu.Unlock()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("start fc: %w", err)
	}
	srv := c.server(FC)
	srv.Handler = http.HandlerFunc(c.serveFC)
	c.mu.Lock()
	c.servers = append(c.servers, srv)
	c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// AsyncInvocations returns copies of every invocation FC accepted, oldest
// first.
func (c *Cloud) AsyncInvocations() []AsyncInvocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]AsyncInvocation, 0, len(c.fleet.fc.all))
	for _, a := range c.fleet.fc.all {
		cp := *a
		cp.Attempts = append([]Outcome(nil), a.Attempts...)
		out = append(out, cp)
	}
	return out
}

// WaitAsyncDone waits until at least n accepted invocations are done (every
// delivery made) and returns them all, as AsyncInvocations does.
func (c *Cloud) WaitAsyncDone(ctx context.Context, n int) ([]AsyncInvocation, error) {
	for {
		c.mu.Lock()
		done := 0
		for _, a := range c.fleet.fc.all {
			if a.Done {
				done++
			}
		}
		ch := c.fleet.fc.changed
		c.mu.Unlock()
		if done >= n {
			return c.AsyncInvocations(), nil
		}
		if ch == nil {
			return nil, fmt.Errorf("wait for %d async invocations: FC not started", n)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d async invocations (%d done): %w", n, done, ctx.Err())
		}
	}
}

// fcChangedLocked wakes WaitAsyncDone.
func (c *Cloud) fcChangedLocked() {
	close(c.fleet.fc.changed)
	c.fleet.fc.changed = make(chan struct{})
}

const fcPathPrefix = "/" + FCVersion + "/functions/"

func (c *Cloud) serveFC(w http.ResponseWriter, r *http.Request) {
	call := Call{Product: FC, Action: "InvokeFunction", Version: FCVersion, RequestID: newRequestID(), Params: map[string]string{}}
	if id, ok := r.Context().Value(connIDKey{}).(uint64); ok {
		call.ConnID = id
	}
	inv, aerr := c.fcAccept(r, &call)
	status := http.StatusAccepted
	var body []byte
	if aerr != nil {
		status, call.Code = aerr.Status, aerr.Code
		body, _ = json.Marshal(map[string]string{"RequestId": call.RequestID, "Code": aerr.Code, "Message": aerr.Message})
	}
	call.Status = status
	c.mu.Lock()
	call.Time = c.now()
	c.calls = append(c.calls, call)
	if inv != nil {
		// Queued only once the answer is decided, so a refused call never runs.
		c.fleet.fc.all = append(c.fleet.fc.all, inv)
		c.fleet.fc.queue = append(c.fleet.fc.queue, inv)
		if !c.fleet.fc.working {
			c.fleet.fc.working = true
			go c.fcWorker()
		}
		c.fcChangedLocked()
	}
	hook := c.onCall
	c.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	w.Header().Set("x-fc-request-id", call.RequestID)
	if aerr != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fcAccept checks one InvokeFunction request and returns the invocation to
// queue.
func (c *Cloud) fcAccept(r *http.Request, call *Call) (*AsyncInvocation, *apiError) {
	rest, ok := strings.CutPrefix(r.URL.Path, fcPathPrefix)
	name, tail, _ := strings.Cut(rest, "/")
	if !ok || name == "" || tail != "invocations" {
		return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	if r.Method != http.MethodPost {
		return nil, errorf(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method is not supported.")
	}
	call.Params["FunctionName"] = name
	call.Params["InvocationType"] = r.Header.Get("x-fc-invocation-type")
	if q := r.URL.Query().Get("qualifier"); q != "" {
		call.Params["Qualifier"] = q
	}
	// Read one byte more than the limit, to tell "at the limit" from "over".
	payload, err := io.ReadAll(io.LimitReader(r.Body, MaxAsyncPayload+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "The request body could not be read.")
	}
	req := &request{product: FC, action: "InvokeFunction", version: FCVersion, params: map[string]string{}, rawBody: payload, method: r.Method}
	call.AccessKeyID, call.SecurityToken, call.SignatureAlgorithm = credentialsOf(r, req.params)
	if f, ok := c.faults.takeFail("InvokeFunction"); ok {
		return nil, errorf(f.status, f.code, "The request failed (injected fault).")
	}
	if aerr := c.throttle(FC, "InvokeFunction"); aerr != nil {
		return nil, aerr
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-") {
		// FC 3.0's API takes only the V3 signature (assumed from its SDK,
		// which signs nothing else).
		return nil, errorf(http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
	}
	if len(payload) > MaxAsyncPayload {
		// The signature covers the body; a body cut at the limit cannot be
		// checked, so the size is refused first. The code and message are
		// the FC FAQ's ("EntityTooLarge: payload size exceeds maximum
		// allowed size", help/doc-detail/2527064); the status is assumed.
		return nil, errorf(http.StatusRequestEntityTooLarge, "EntityTooLarge", "payload size exceeds maximum allowed size")
	}
	if aerr := c.authenticateV3(r, req, r.Header.Get("Authorization")); aerr != nil {
		return nil, aerr
	}
	if a, v := r.Header.Get("x-acs-action"), r.Header.Get("x-acs-version"); a != "InvokeFunction" || v != FCVersion {
		return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	c.mu.Lock()
	fn := c.fleet.fc.opts.FunctionName
	c.mu.Unlock()
	if name != fn {
		return nil, errorf(http.StatusNotFound, "FunctionNotFound", "function %q does not exist", name)
	}
	if t := r.Header.Get("x-fc-invocation-type"); t != "Async" {
		// Sync invocations are not emulated: refused rather than guessed.
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "only x-fc-invocation-type Async is served by the local cloud")
	}
	return &AsyncInvocation{RequestID: call.RequestID, Payload: payload, TaskID: r.Header.Get("x-fc-async-task-id")}, nil
}

// fcWorker delivers queued invocations one at a time until the queue is
// empty, retrying failed attempts as FC does for asynchronous invocations.
//
// An attempt fails when the function posts an error, and also when it does
// not answer within the invocation's timeout: Function Compute ends an
// execution that outlasts its timeout with "Function time out after"
// ("What do I do if a function execution times out",
// https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/how-to-handle-an-execution-timeout-error)
// and retries a failed asynchronous invocation, three times unless
// maxAsyncRetryAttempts says otherwise ("Configure a retry mechanism",
// https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/error-handling-1-2).
// That a timed-out or crashed execution is one of the retried
// (UnhandledInvocationError) failures is assumed. A killed instance thus
// never hangs the queue: its attempt times out, the runtime withdraws it
// (its request id is free again, a late outcome refused), and the next
// attempt goes to whichever instance polls next. The timeout here runs
// from the attempt's queueing on the runtime, not from its dispatch as
// FC's does: with one instance delivering in order, the difference is at
// most the invocation running ahead of it (assumed harmless for tests that
// do not assert times).
func (c *Cloud) fcWorker() {
	for {
		c.mu.Lock()
		if len(c.fleet.fc.queue) == 0 {
			c.fleet.fc.working = false
			c.mu.Unlock()
			return
		}
		a := c.fleet.fc.queue[0]
		st := c.fleet.fc
		c.mu.Unlock()

		for attempt := 0; attempt <= st.opts.MaxAsyncRetryAttempts; attempt++ {
			out, err := c.fcAttempt(st, a, attempt)
			c.mu.Lock()
			switch {
			case errors.Is(err, ErrRuntimeClosed):
				a.Err = err
			case err != nil:
				// No outcome in time, or the instance died under it: a
				// failed attempt, as FC counts it.
				out = Outcome{RequestID: a.RequestID, Err: &FunctionError{Type: "FunctionTimeout", Message: err.Error()}}
				fallthrough
			default:
				a.Attempts = append(a.Attempts, out)
			}
			c.fcChangedLocked()
			c.mu.Unlock()
			if errors.Is(err, ErrRuntimeClosed) || out.Err == nil {
				break
			}
		}
		c.mu.Lock()
		a.Done = true
		c.fleet.fc.queue = c.fleet.fc.queue[1:]
		c.fcChangedLocked()
		c.mu.Unlock()
	}
}

// fcAttempt delivers one attempt of a under the invocation's timeout.
func (c *Cloud) fcAttempt(st fcState, a *AsyncInvocation, attempt int) (Outcome, error) {
	inv := st.opts.Invocation
	inv.RequestID, inv.RetryCount = a.RequestID, attempt
	if inv.FunctionName == "" {
		inv.FunctionName = st.opts.FunctionName
	}
	timeout := inv.Timeout
	if timeout <= 0 {
		timeout = DefaultInvocationTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return st.rt.Invoke(ctx, a.Payload, inv)
}
