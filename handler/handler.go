// Package handler is pwreset's Function Compute entry point. It turns each
// trigger's event (HTTP, EventBridge, timer, or a direct invocation) into a
// reset request, has a Rotator carry it out, and turns the results into that
// trigger's answer. It knows Function Compute and no cloud SDK: the facts
// only Function Compute has (request id, retry count, the invocation's
// credentials) it takes out of fccontext and hands on as plain values.
package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	trigger    Trigger
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
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (_ any, err error) {
	inv := invocation{start: time.Now()}
	if fc, ok := fccontext.FromContext(ctx); ok {
		inv.requestID, inv.retryCount, inv.region = fc.RequestID, fc.RetryCount, fc.Region
		if c := fc.Credentials; c.AccessKeyId != "" {
			// Adapters sign every call of this invocation with the function
			// role's temporary credentials.
			ctx = reset.WithCredentials(ctx, reset.Credentials{
				AccessKeyID:     c.AccessKeyId,
				AccessKeySecret: c.AccessKeySecret,
				SecurityToken:   c.SecurityToken,
			})
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = h.recovered(ctx, p)
		}
	}()

	var probe eventProbe
	inv.trigger, err = detect(event, &probe)
	if h.broken != nil {
		return h.misconfigured(inv)
	}
	if err != nil {
		ctx = withLogAttrs(ctx, slog.String("requestId", inv.requestID))
		h.done(ctx, inv, nil, err)
		return nil, err
	}
	ctx = withLogAttrs(ctx, slog.String("requestId", inv.requestID), slog.String("trigger", string(inv.trigger)))
	if inv.trigger != TriggerHTTP && len(event) > MaxEventBytes {
		err := &PermanentError{Code: CodeInvalidParameter, Message: fmt.Sprintf(
			"event: is %d bytes, more than the %d an asynchronous invocation of Function Compute carries, so an EventBridge or timer trigger cannot deliver it: "+
				"split the batch into several events, or send it to the HTTP trigger (up to %d bytes)", len(event), MaxEventBytes, MaxBodyBytes)}
		h.done(ctx, inv, nil, err)
		return nil, err
	}
	switch inv.trigger {
	case TriggerHTTP:
		return h.serveHTTP(ctx, inv, event), nil
	case TriggerEventBridge:
		if probe.array {
			return h.eventStream(ctx, inv, event)
		}
		return h.cloudEvent(ctx, inv, event)
	case TriggerTimer:
		return h.timer(ctx, inv, event)
	default:
		return h.direct(ctx, inv, event)
	}
}

// misconfigured answers an invocation of a function deployed with a bad
// configuration: an HTTP caller gets a 500 whose body names the variable,
// an event a PermanentError (redelivering it cannot help).
func (h *Handler) misconfigured(inv invocation) (any, error) {
	e := &PermanentError{
		Code:    CodeFunctionMisconfigured,
		Message: truncate("the function's configuration is invalid: "+strings.ReplaceAll(h.broken.Error(), "\n", "; "), maxErrorMessage),
	}
	if inv.trigger == TriggerHTTP {
		return httpResponse(http.StatusInternalServerError, Response{RequestID: inv.requestID, Error: &ErrorBody{Code: e.Code, Message: e.Message}}, nil), nil
	}
	return nil, e
}

// recovered turns a panic into a RetryableError. The panic's value is
// logged only when the runtime raised it: any other value may quote data.
func (h *Handler) recovered(ctx context.Context, p any) error {
	attrs := []slog.Attr{slog.String("stack", string(debug.Stack()))}
	if re, ok := p.(runtime.Error); ok {
		attrs = append(attrs, slog.String("panic", re.Error()))
	}
	h.logger.LogAttrs(ctx, slog.LevelError, "panic while handling an invocation", attrs...)
	return &RetryableError{Code: CodeInternalError, Message: "internal error"}
}

// eventProbe holds the fields that tell the triggers apart.
type eventProbe struct {
	array          bool
	SpecVersion    json.RawMessage `json:"specversion"`
	RequestContext json.RawMessage `json:"requestContext"`
	TriggerName    json.RawMessage `json:"triggerName"`
	TriggerTime    json.RawMessage `json:"triggerTime"`
	Target         json.RawMessage `json:"target"`
	Targets        json.RawMessage `json:"targets"`
}

func detect(event json.RawMessage, p *eventProbe) (Trigger, error) {
	trimmed := bytes.TrimLeft(event, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		p.array = true
		return TriggerEventBridge, nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", &PermanentError{Code: CodeInvalidParameter, Message: "event: must be a JSON object or array"}
	}
	if err := json.Unmarshal(event, p); err != nil {
		return "", &PermanentError{Code: CodeInvalidParameter, Message: "event: " + jsonProblem(err)}
	}
	switch {
	case p.SpecVersion != nil:
		return TriggerEventBridge, nil
	case p.RequestContext != nil:
		return TriggerHTTP, nil
	case p.TriggerName != nil || p.TriggerTime != nil:
		return TriggerTimer, nil
	case p.Target != nil || p.Targets != nil:
		return TriggerInvoke, nil
	}
	return "", &PermanentError{Code: CodeInvalidParameter,
		Message: "event: is neither an HTTP trigger, EventBridge or timer event nor a request (no target or targets field)"}
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("must be %s, got %s", jsonTypeOf(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s must be %s, got %s", typ.Field, jsonTypeOf(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "is not valid JSON: it ends early"
	}
	return "is not valid JSON"
}

func jsonTypeOf(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "a number"
}

// rotate decodes one request, has the Rotator carry it out and returns its
// results. A non-nil error is the request's failure as a whole, classified.
func (h *Handler) rotate(ctx context.Context, raw []byte, where, key string) ([]Result, error) {
	req, err := decodeRequest(raw, where)
	if err != nil {
		return nil, err
	}
	return h.run(ctx, req, key)
}

// run has the Rotator carry out a decoded request under key.
func (h *Handler) run(ctx context.Context, req Request, key string) ([]Result, error) {
	results, err := h.rotator.Rotate(ctx, withOrigin(ctx, req.resetRequest(key)))
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(results))
	for i, r := range results {
		out[i] = resultOf(r)
	}
	return out, nil
}

// unclassified returns the log attribute of an error that is not a
// *reset.Error: callers see only "internal error", and the invocation's log
// line gives the operator the cause (adapters and the rotator keep
// passwords out of every error's text).
func unclassified(err error) []slog.Attr {
	var re *reset.Error
	if err == nil || errors.As(err, &re) {
		return nil
	}
	return []slog.Attr{slog.String("cause", err.Error())}
}

// failed reports whether a result is a failure, and its error.
func failed(r reset.Result) (error, bool) {
	switch {
	case r.Err != nil:
		return r.Err, true
	case r.Status == reset.StatusFailed || r.Status == reset.StatusSkipped:
		return reset.Errorf(reset.EInternal, "the target %s without a cause", r.Status), true
	case r.Status == "":
		return reset.Errorf(reset.EInternal, "the target has no outcome"), true
	}
	return nil, false
}

func resultOf(r reset.Result) Result {
	t := r.Target
	out := Result{
		Target:         t.Kind,
		DirectoryID:    t.DirectoryID,
		UserID:         t.UserID,
		OrganizationID: t.OrganizationID,
		Username:       t.Username,
		Location:       t.Location,
		Status:         r.Status,
		SecretName:     r.SecretName,
		VersionID:      r.VersionID,
		Resumed:        r.Resumed,
		RolledForward:  r.RolledForward,
	}
	if err, ok := failed(r); ok {
		if out.Status == "" {
			out.Status = reset.StatusFailed
		}
		out.Error = errorBody(err)
	}
	return out
}

func errorBody(err error) *ErrorBody {
	return &ErrorBody{Code: APICode(reset.ErrorCodeOf(err)), Message: reset.ErrorMessageOf(err)}
}

// outcome summarizes a request's results: the most severe failure's kind
// (see errorKinds) and a message naming every failed target, or "" when
// every target succeeded.
func outcome(results []Result) (reset.ErrorCode, string) {
	var worst reset.ErrorCode
	var failures []string
	for _, r := range results {
		if r.Error == nil {
			continue
		}
		code := kindOf(r.Error.Code)
		if worst == "" || rank(code) > rank(worst) {
			worst = code
		}
		failures = append(failures, fmt.Sprintf("%s: %s: %s", targetKey(r), r.Error.Code, r.Error.Message))
	}
	if worst == "" {
		return "", ""
	}
	if len(results) == 1 {
		return worst, failures[0]
	}
	return worst, fmt.Sprintf("%d of %d targets failed: %s", len(failures), len(results), strings.Join(failures, "; "))
}

// kindOf inverts APICode.
func kindOf(code ErrorCode) reset.ErrorCode {
	for k, v := range errorKinds {
		if v.code == code {
			return k
		}
	}
	return reset.EInternal
}

func targetKey(r Result) string {
	return reset.Target{Kind: r.Target, DirectoryID: r.DirectoryID, UserID: r.UserID,
		OrganizationID: r.OrganizationID, Username: r.Username}.Key()
}

// eventAnswer is the answer to an event trigger: the Response, or the
// function error its failures call for.
func eventAnswer(requestID string, results []Result, err error) (*Response, error) {
	if err != nil {
		return nil, functionError(reset.ErrorCodeOf(err), reset.ErrorMessageOf(err))
	}
	if code, msg := outcome(results); code != "" {
		return nil, functionError(code, msg)
	}
	return &Response{RequestID: requestID, Results: results}, nil
}

// cloudEvent answers one EventBridge event.
func (h *Handler) cloudEvent(ctx context.Context, inv invocation, event json.RawMessage) (any, error) {
	var ev CloudEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		err = &PermanentError{Code: CodeInvalidParameter, Message: "event: " + jsonProblem(err)}
		h.done(ctx, inv, nil, err)
		return nil, err
	}
	if checkKey(ev.ID) == "" {
		// The invocation's line and its targets' carry the key; an id that
		// breaks the rules is not logged (it is the caller's text).
		ctx = withEventAttrs(ctx, ev)
	}
	results, err := h.cloudEventResults(ctx, ev)
	cause := unclassified(err)
	resp, err := eventAnswer(inv.requestID, results, err)
	h.done(ctx, inv, results, err, cause...)
	return resp, err
}

// cloudEventResults rotates the request of one CloudEvent under its id;
// ctx carries the event's log attributes.
func (h *Handler) cloudEventResults(ctx context.Context, ev CloudEvent) ([]Result, error) {
	req, err := cloudEventRequest(ev)
	if err != nil {
		return nil, err
	}
	return h.run(ctx, req, ScopedKey("eventbridge", ev.Source, ev.ID))
}

func withEventAttrs(ctx context.Context, ev CloudEvent) context.Context {
	return withLogAttrs(ctx, slog.String("idempotencyKey", ev.ID), slog.String("eventId", ev.ID))
}

// cloudEventRequest checks one CloudEvent's id and decodes the request in
// its data.
func cloudEventRequest(ev CloudEvent) (Request, error) {
	if rule := checkKey(ev.ID); rule != "" {
		return Request{}, reset.FieldError("id", "%s", rule)
	}
	// source and id together identify a CloudEvent: the key needs both.
	if rule := checkKey(ev.Source); rule != "" {
		return Request{}, reset.FieldError("source", "%s", rule)
	}
	data := []byte(ev.Data)
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '"' {
		// A producer that sent the request as text: EventBridge passes it on
		// as a JSON string.
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return Request{}, reset.FieldError("data", "%s", jsonProblem(err))
		}
		data = []byte(s)
	} else if bytes.Equal(trimmed, []byte("null")) {
		data = nil
	}
	return decodeRequest(data, "data")
}

// eventStream answers the event-streaming form of EventBridge: an array of
// CloudEvents, each its own request under its own id. The array is read one
// event at a time and refused as a whole, before any cloud call, once it
// holds more than MaxStreamEvents events or its requests more than
// reset.MaxTargets targets in all. The events are then handled one after
// another, each to the end, and the answer is one Response holding every
// event's results; if any event failed, the function error names each
// failure, and is retryable when any of them is (a redelivery replays the
// events that succeeded).
func (h *Handler) eventStream(ctx context.Context, inv invocation, event json.RawMessage) (any, error) {
	events, err := decodeStream(event)
	if err != nil {
		h.done(ctx, inv, nil, err)
		return nil, err
	}
	reqs := make([]Request, len(events))
	errs := make([]error, len(events))
	total := 0
	for i, ev := range events {
		if reqs[i], errs[i] = cloudEventRequest(ev); errs[i] == nil {
			total += max(len(reqs[i].Targets), 1)
		}
	}
	if total > reset.MaxTargets {
		err := &PermanentError{Code: CodeInvalidParameter, Message: fmt.Sprintf(
			"event: its %d events name %d targets in all, more than the %d one invocation handles: lower the trigger's batch push messages, or put fewer targets in each event",
			len(events), total, reset.MaxTargets)}
		h.done(ctx, inv, nil, err)
		return nil, err
	}
	var all []Result
	var worst reset.ErrorCode
	var failures, causes []string
	for i, ev := range events {
		var results []Result
		err := errs[i]
		if err == nil {
			results, err = h.run(withEventAttrs(ctx, ev), reqs[i], ScopedKey("eventbridge", ev.Source, ev.ID))
		}
		for _, a := range unclassified(err) {
			causes = append(causes, fmt.Sprintf("event %d: %s", i, a.Value.String()))
		}
		all = append(all, results...)
		code, msg := reset.ErrorCodeOf(err), reset.ErrorMessageOf(err)
		if err == nil {
			code, msg = outcome(results)
		}
		if code == "" {
			continue
		}
		if worst == "" || rank(code) > rank(worst) {
			worst = code
		}
		// By position, not id: an id is the caller's text, which an error
		// never quotes (the failure destination keeps the whole event).
		failures = append(failures, fmt.Sprintf("event %d: %s", i, msg))
	}
	if worst != "" {
		err := functionError(worst, fmt.Sprintf("%d of %d events failed: %s", len(failures), len(events), strings.Join(failures, "; ")))
		var cause []slog.Attr
		if len(causes) > 0 {
			cause = []slog.Attr{slog.String("cause", strings.Join(causes, "; "))}
		}
		h.done(ctx, inv, all, err, cause...)
		return nil, err
	}
	h.done(ctx, inv, all, nil)
	return &Response{RequestID: inv.requestID, Results: all}, nil
}

// decodeStream reads an array of CloudEvents one at a time, stopping at the
// first past MaxStreamEvents, so that a long array of tiny events is refused
// having decoded no more than the limit.
func decodeStream(event json.RawMessage) ([]CloudEvent, error) {
	invalid := func(err error) error {
		return &PermanentError{Code: CodeInvalidParameter, Message: "event: " + jsonProblem(err)}
	}
	dec := json.NewDecoder(bytes.NewReader(event))
	if _, err := dec.Token(); err != nil { // the '[' detect saw
		return nil, invalid(err)
	}
	var events []CloudEvent
	for dec.More() {
		if len(events) == MaxStreamEvents {
			return nil, &PermanentError{Code: CodeInvalidParameter, Message: fmt.Sprintf(
				"event: the array holds more than %d events, more than one invocation handles: set the trigger's batch push messages to at most %d",
				MaxStreamEvents, MaxStreamEvents)}
		}
		var ev CloudEvent
		if err := dec.Decode(&ev); err != nil {
			return nil, invalid(err)
		}
		events = append(events, ev)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, invalid(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &PermanentError{Code: CodeInvalidParameter, Message: "event: holds data after the array"}
	}
	if len(events) == 0 {
		return nil, &PermanentError{Code: CodeInvalidParameter, Message: "event: the array holds no event"}
	}
	return events, nil
}

// timer answers a timer trigger. Its key is the trigger's name and time, so
// a retried tick finishes the same rotations and the next tick starts new
// ones.
func (h *Handler) timer(ctx context.Context, inv invocation, event json.RawMessage) (any, error) {
	var ev TimerEvent
	results, err := func() ([]Result, error) {
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, reset.FieldError("event", "%s", jsonProblem(err))
		}
		switch {
		case ev.TriggerName == "":
			return nil, reset.FieldError("triggerName", "is required")
		case ev.TriggerTime == "":
			return nil, reset.FieldError("triggerTime", "is required")
		}
		key := ev.TriggerName + "/" + ev.TriggerTime
		if rule := checkKey(key); rule != "" {
			return nil, reset.FieldError("triggerName", `and triggerTime: their key "name/time" %s`, rule)
		}
		ctx = withLogAttrs(ctx, slog.String("idempotencyKey", key)) // the invocation's line too
		return h.rotate(ctx, []byte(ev.Payload), "payload", ScopedKey("timer", ev.TriggerName, ev.TriggerTime))
	}()
	cause := unclassified(err)
	resp, err := eventAnswer(inv.requestID, results, err)
	h.done(ctx, inv, results, err, cause...)
	return resp, err
}

// direct answers an invocation whose event is the request itself. Its key
// is the request id: Function Compute keeps it across the retries of an
// asynchronous invocation.
func (h *Handler) direct(ctx context.Context, inv invocation, event json.RawMessage) (any, error) {
	results, err := func() ([]Result, error) {
		if rule := checkKey(inv.requestID); rule != "" {
			return nil, reset.Errorf(reset.EInternal, "the invocation's request id, its idempotency key, %s", rule)
		}
		ctx = withLogAttrs(ctx, slog.String("idempotencyKey", inv.requestID)) // the invocation's line too
		return h.rotate(ctx, event, "event", ScopedKey("direct", inv.requestID))
	}()
	cause := unclassified(err)
	resp, err := eventAnswer(inv.requestID, results, err)
	h.done(ctx, inv, results, err, cause...)
	return resp, err
}

// done logs the invocation's outcome: its one line (each target has its
// own, from the Rotator), with how many targets it named and how many
// failed, never a password. A failure of any kind, a failed target or a
// function error, is logged at error level, so that LOG_LEVEL=error shows
// every failure; success is info.
func (h *Handler) done(ctx context.Context, inv invocation, results []Result, err error, extra ...slog.Attr) {
	level := slog.LevelInfo
	attrs := append([]slog.Attr{
		slog.String("outcome", "ok"),
		slog.Int("retryCount", inv.retryCount),
		slog.Int64("durationMs", time.Since(inv.start).Milliseconds()),
	}, extra...)
	if inv.region != "" {
		attrs = append(attrs, slog.String("region", inv.region))
	}
	if len(results) > 0 {
		failed := 0
		for _, r := range results {
			if r.Error != nil {
				failed++
			}
		}
		attrs = append(attrs, slog.Int("targetCount", len(results)), slog.Int("failedCount", failed))
	}
	if err != nil {
		level = slog.LevelError
		attrs[0] = slog.String("outcome", "failed")
		attrs = append(attrs, slog.String("error", err.Error()))
		var perm *PermanentError
		if !errors.As(err, &perm) {
			attrs = append(attrs, slog.Bool("retryable", true))
		}
	}
	h.logger.LogAttrs(ctx, level, "invocation", attrs...)
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
