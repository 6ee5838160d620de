// Package handler is pwreset's Function Compute entry point. It turns each
// trigger's event (HTTP, EventBridge, timer, or a direct invocation) into a
// reset request, has a Rotator carry it out, and turns the results into that
// trigger's answer. It knows Function Compute and no cloud SDK: the facts
// only Function Compute has (request id, retry count, the invocation's
// credentials) it takes out of fccontext and hands on as plain values.
package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/pwreset/pwreset/internal/reset"
)

// Rotator rotates the passwords a request names. *reset.Rotator implements
// it. Rotate returns an *reset.Error (EInvalid, EForbidden) before any cloud
// call when the request is invalid, and otherwise one Result per target.
type Rotator interface {
	Rotate(ctx context.Context, req reset.Request) ([]reset.Result, error)
}

// Handler answers invocations. It is safe for concurrent use.
type Handler struct {
	rotator Rotator
	logger  *slog.Logger
	// broken, when set, fails every invocation: the function was deployed
	// with a configuration it cannot run with.
	broken error
}

// New returns a Handler that has r rotate passwords and logs to logger (nil
// discards). Wrap the logger's handler with NewLogHandler so that every line
// of an invocation, the Rotator's too, carries its request id.
func New(r Rotator, logger *slog.Logger) *Handler {
	return &Handler{rotator: r, logger: orDiscard(logger)}
}

// NewMisconfigured returns a Handler that fails every invocation, quoting
// cause under CodeFunctionMisconfigured: an HTTP request with a 500, an
// event with a PermanentError. cause must name
// the variable at fault and the rule it breaks and hold no secret. A
// function deployed with a bad configuration thus answers each caller with
// the reason, where exiting would only make Function Compute restart it in a
// loop.
func NewMisconfigured(cause error, logger *slog.Logger) *Handler {
	return &Handler{logger: orDiscard(logger), broken: cause}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// invocation holds the Function Compute facts of one invocation.
type invocation struct {
	requestID  string
	retryCount int
	region     string
	start      time.Time
}

// Invoke answers one invocation; main passes it to fc.Start. event is the
// raw event; its shape says the trigger:
//
//   - an HTTPEvent: the answer is an HTTPResponse whose status says whose
//     fault a failure is, and the error is nil;
//   - a CloudEvent, or an array of them; a TimerEvent; or a Request itself
//     (a direct invocation): the answer is a Response when every target
//     succeeded, and otherwise a *RetryableError or *PermanentError, whose
//     type tells the platform (and the reader of its logs) whether delivering
//     the event again can help.
//
// The idempotency key of each request is the HTTP Idempotency-Key header
// (else the request id), the CloudEvent's source and id, the timer's name
// and time, or, for a direct invocation, the request id, each in its
// trigger's namespace (ScopedKey).
//
// Every invocation takes one path: decode the event (calling nothing), run
// each request it carries, encode the answer, and log one line.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (any, error) {
	ctx, inv := begin(ctx)
	d, refused := decode(event, inv.requestID)
	a := h.serve(ctx, inv, d, refused)
	return a.value, a.err
}

// RunRequest runs one request body through the path Invoke takes for a
// direct invocation, under the idempotency key ScopedKey(namespace, key), for
// a caller that has no Function Compute event (the operator's command line).
// It returns the Response (with Error set when a target or the request
// failed), the domain's results, and the function error a direct invocation
// would answer (*RetryableError or *PermanentError), or nil. An invalid
// namespace, key or body calls nothing. The invocation is logged, as
// Invoke's are, with namespace as its trigger.
func (h *Handler) RunRequest(ctx context.Context, namespace, key string, body []byte) (Response, []reset.Result, error) {
	ctx, inv := begin(ctx)
	d := delivery{trigger: Trigger(namespace), requestID: inv.requestID}
	var refused error
	switch {
	case checkKey(namespace) != "":
		refused = reset.FieldError("namespace", "%s", checkKey(namespace))
	case checkKey(key) != "":
		refused = reset.FieldError("key", "%s", checkKey(key))
	default:
		d.envs = []envelope{newEnvelope(ScopedKey(namespace, key), body, "body", slog.String("idempotencyKey", key))}
	}
	a := h.serve(ctx, inv, d, refused)
	return a.resp, a.results, a.err
}

// ParseRequest decodes body with the strict decoder RunRequest uses and
// returns the domain request under the scoped key, calling nothing, so
// that the operator CLI refuses bad input, and names the accounts it is
// about to touch, before any cloud call. RunRequest decodes the body again:
// it stays the one path that runs it.
func ParseRequest(body []byte, scopedKey string) (reset.Request, error) {
	req, err := decodeRequest(body, "body")
	if err != nil {
		return reset.Request{}, err
	}
	return req.resetRequest(scopedKey), nil
}

// begin takes the Function Compute facts out of ctx: the request id, the
// retry count, the region, and the function role's credentials, which
// adapters then sign every call of the invocation with.
func begin(ctx context.Context) (context.Context, invocation) {
	inv := invocation{start: time.Now()}
	if fc, ok := fccontext.FromContext(ctx); ok {
		inv.requestID, inv.retryCount, inv.region = fc.RequestID, fc.RetryCount, fc.Region
		if fc.Function.Timeout > 0 {
			// x-fc-function-timeout, in whole seconds: it scales the time
			// the rotator keeps back per step (reset, budget.go).
			ctx = reset.WithTimeout(ctx, time.Duration(fc.Function.Timeout)*time.Second)
		}
		// The function itself, where FC says it: a run's chunks are
		// queued on it (internal/aliyun, selfinvoke.go), the environment
		// (FC_FUNCTION_NAME, FC_REGION, FC_ACCOUNT_ID) filling in the rest.
		ctx = reset.WithFunction(ctx, reset.FunctionInfo{Name: fc.Function.Name, Region: fc.Region, AccountID: fc.AccountId})
		if c := fc.Credentials; c.AccessKeyId != "" {
			ctx = reset.WithCredentials(ctx, reset.Credentials{
				AccessKeyID:     c.AccessKeyId,
				AccessKeySecret: c.AccessKeySecret,
				SecurityToken:   c.SecurityToken,
			})
		}
	}
	return ctx, inv
}

// serve runs a decoded delivery, or answers its refusal, and logs the
// invocation's one line. A function deployed with a bad configuration
// answers every invocation with the reason (see NewMisconfigured) and logs
// none: main logged the cause once. A panic answers an internal
// RetryableError.
func (h *Handler) serve(ctx context.Context, inv invocation, d delivery, refused error) (a answer) {
	attrs := []slog.Attr{slog.String("requestId", inv.requestID)}
	if d.trigger != "" {
		attrs = append(attrs, slog.String("trigger", string(d.trigger)))
	}
	ctx = withLogAttrs(ctx, attrs...)
	var extra []slog.Attr
	defer func() {
		if p := recover(); p != nil {
			a = answer{err: &RetryableError{Code: CodeInternalError, Message: "internal error"}, failed: true,
				code: CodeInternalError, msg: "internal error", retryable: true}
			// The panic's value is logged only when the runtime raised it:
			// any other value may quote data.
			extra = []slog.Attr{slog.String("cause", "panic while handling an invocation"), slog.String("stack", string(debug.Stack()))}
			if re, ok := p.(runtime.Error); ok {
				extra = append(extra, slog.String("panic", re.Error()))
			}
		}
		if h.broken == nil {
			// A misconfigured function's cause was logged once, at start.
			h.log(ctx, inv, a, extra)
		}
	}()
	if h.broken != nil {
		refused = &edgeError{http.StatusInternalServerError, CodeFunctionMisconfigured,
			truncate("the function's configuration is invalid: "+strings.ReplaceAll(h.broken.Error(), "\n", "; "), maxErrorMessage)}
	}
	var outs []outcome
	if refused == nil {
		outs = make([]outcome, len(d.envs))
		for i, env := range d.envs {
			outs[i] = h.run(ctx, inv, d.trigger, env)
		}
		if !d.stream {
			// A single request's key is the invocation's too.
			extra = d.envs[0].attrs
		}
	}
	return encode(d, outs, refused)
}

// run has the Rotator carry out one envelope's request; the Rotator's lines
// carry the envelope's log attributes, and its outcome events the trigger
// and the request id.
func (h *Handler) run(ctx context.Context, inv invocation, trigger Trigger, env envelope) outcome {
	if env.err != nil {
		return outcome{err: env.err}
	}
	req := env.req.resetRequest(env.key)
	if env.cont != nil {
		req = reset.Request{IdempotencyKey: env.key, Continuation: env.cont}
	}
	req.Trigger, req.RequestID = string(trigger), inv.requestID
	results, err := h.rotator.Rotate(withLogAttrs(ctx, env.attrs...), req)
	return outcome{results: results, err: err}
}

// log writes the invocation's one line (each target has its own, from the
// Rotator): its outcome, how many targets it named and how many failed,
// never a password. A failure of any kind, a failed target or a function
// error, is logged at error level, so that LOG_LEVEL=error shows every
// failure; success is info.
func (h *Handler) log(ctx context.Context, inv invocation, a answer, extra []slog.Attr) {
	level, outcome := slog.LevelInfo, "ok"
	if a.failed {
		level, outcome = slog.LevelError, "failed"
	}
	attrs := append([]slog.Attr{
		slog.String("outcome", outcome),
		slog.Int("retryCount", inv.retryCount),
		slog.Int64("durationMs", time.Since(inv.start).Milliseconds()),
	}, extra...)
	if inv.region != "" {
		attrs = append(attrs, slog.String("region", inv.region))
	}
	h.logger.LogAttrs(ctx, level, "invocation", append(attrs, a.logAttrs()...)...)
}

// ScopedKey is the idempotency key of a request in its trigger's namespace
// ("http", "eventbridge", "timer", "direct"), then each part as "<length>:<part>", so that no caller of one
// trigger can name another's key (an HTTP caller cannot send a timer's or
// an event's), and no two tuples of parts give the same key (source "a:b"
// with id "c" is not source "a" with id "b:c").
func ScopedKey(namespace string, parts ...string) string {
	var b strings.Builder
	b.WriteString(namespace)
	for _, p := range parts {
		b.WriteString(":" + strconv.Itoa(len(p)) + ":" + p)
	}
	return b.String()
}
