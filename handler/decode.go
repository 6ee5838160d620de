package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/pwreset/pwreset/internal/reset"
)

// delivery is an invocation's event, decoded: which trigger sent it and the
// requests it carries, one envelope each.
type delivery struct {
	trigger Trigger
	// stream is set for EventBridge's event-streaming form: an array of
	// CloudEvents, whose failures are summarized by event.
	stream bool
	// requestID is the answer's request id: the invocation's, or for an
	// HTTP trigger without an FC context the event's own.
	requestID string
	envs      []envelope
}

// envelope is one request as its trigger delivered it.
type envelope struct {
	key   string      // the scoped idempotency key (ScopedKey)
	where string      // the event field that held the body: "body", "data", "payload", "event"
	attrs []slog.Attr // the log attributes of the request: idempotencyKey, eventId
	req   Request     // the body, decoded strictly
	// err, when set, fails the request as a whole before any cloud call:
	// its key or its body breaks a rule.
	err error
	// cont, when set, is a continuation's event; req is then empty.
	cont *reset.ContinuationEvent
}

// newEnvelope decodes body into an envelope under key.
func newEnvelope(key string, body []byte, where string, attrs ...slog.Attr) envelope {
	env := envelope{key: key, where: where, attrs: attrs}
	env.req, env.err = decodeRequest(body, where)
	return env
}

// decode turns an invocation's event into its delivery, calling nothing. Its
// shape says the trigger (see Invoke). An error refuses the event as a
// whole: an *edgeError or an EInvalid *reset.Error (EInternal when the
// request id cannot be a key); the delivery then still says the trigger,
// when known, and the request id. An object is unmarshalled once
// (parseEvent), into every trigger's typed event at the same time.
func decode(event json.RawMessage, requestID string) (delivery, error) {
	d := delivery{requestID: requestID}
	trimmed := bytes.TrimLeft(event, " \t\r\n")
	var f eventFields
	var typed error // the trigger's own event breaks a type: reported after the size
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		d.trigger, d.stream = TriggerEventBridge, true
	case len(trimmed) == 0 || trimmed[0] != '{':
		return d, reset.FieldError("event", "must be a JSON object or array")
	default:
		var err error
		if f, typed, err = parseEvent(event); err != nil {
			return d, err
		}
		if d.trigger, err = f.trigger(); err != nil {
			return d, err
		}
	}
	if d.trigger != TriggerHTTP && len(event) > MaxEventBytes {
		return d, reset.FieldError("event", "is %d bytes, more than the %d an asynchronous invocation of Function Compute carries, so an EventBridge or timer trigger cannot deliver it: "+
			"split the batch into several events, or send it to the HTTP trigger (up to %d bytes)", len(event), MaxEventBytes, MaxBodyBytes)
	}
	if typed != nil {
		return d, reset.FieldError("event", "%s", jsonProblem(typed))
	}
	var err error
	switch {
	case d.stream:
		d.envs, err = decodeStream(event)
	case d.trigger == TriggerHTTP:
		err = decodeHTTP(f.HTTPEvent, &d)
	case d.trigger == TriggerEventBridge:
		d.envs = []envelope{cloudEventEnvelope(f.CloudEvent)}
	case d.trigger == TriggerTimer:
		d.envs, err = decodeTimer(f.TimerEvent)
	case d.trigger == TriggerContinuation:
		if rule := checkKey(requestID); rule != "" {
			return d, reset.Errorf(reset.EInternal, "the invocation's request id %s", rule)
		}
		var env envelope
		if env, err = decodeContinuation(event, requestID); err == nil {
			d.envs = []envelope{env}
		}
	default:
		// A direct invocation's key is the request id: Function Compute keeps
		// it across the retries of an asynchronous invocation.
		if rule := checkKey(requestID); rule != "" {
			return d, reset.Errorf(reset.EInternal, "the invocation's request id, its idempotency key, %s", rule)
		}
		d.envs = []envelope{newEnvelope(ScopedKey("direct", requestID), event, "event", slog.String("idempotencyKey", requestID))}
	}
	return d, err
}

// eventFields is an event object unmarshalled once into every trigger's
// typed event (their JSON names do not overlap), with the fields that tell
// the triggers apart. Those are set when the event has them, whatever
// their value: an HTTP event whose requestContext is empty, or null, is an
// HTTP trigger's still. As the shallower fields, they take their names
// from the typed events' (encoding/json's rule for embedded structs);
// parseEvent copies the values back.
type eventFields struct {
	HTTPEvent
	CloudEvent
	TimerEvent

	SpecVersion    present[string]             `json:"specversion"`
	RequestContext present[HTTPRequestContext] `json:"requestContext"`
	TriggerName    present[string]             `json:"triggerName"`
	TriggerTime    present[string]             `json:"triggerTime"`
	Target         json.RawMessage             `json:"target"`
	Targets        json.RawMessage             `json:"targets"`
	Sweep          json.RawMessage             `json:"sweep"`
	Continuation   json.RawMessage             `json:"continuation"`
}

// present is a field's value and whether the event has the field at all.
// encoding/json calls UnmarshalJSON for a null too, so null is present.
type present[T any] struct {
	set bool
	v   T
}

func (p *present[T]) UnmarshalJSON(b []byte) error {
	p.set = true
	return json.Unmarshal(b, &p.v)
}

func (s *eventFields) trigger() (Trigger, error) {
	switch {
	case s.SpecVersion.set:
		return TriggerEventBridge, nil
	case s.RequestContext.set:
		return TriggerHTTP, nil
	case s.Continuation != nil:
		return TriggerContinuation, nil
	case s.TriggerName.set || s.TriggerTime.set:
		return TriggerTimer, nil
	case s.Target != nil || s.Targets != nil || s.Sweep != nil:
		return TriggerInvoke, nil
	}
	return "", reset.FieldError("event", "is neither an HTTP trigger, EventBridge or timer event nor a request (no target, targets or sweep field)")
}

// parseEvent unmarshals an event object into its fields. err is the event's
// JSON syntax. typed is a value of the wrong type in the trigger's own
// event, as unmarshalling that event alone reports it.
//
// A value of the wrong type anywhere fails the one unmarshalling, and may
// be a field only another trigger reads, which this one ignores; and
// encoding/json keeps only the first such error. Then, and only then, the
// event is unmarshalled again, the discriminating fields first (as raw
// JSON, they cannot break a type)
// and the trigger's own event alone, so the answer is the same as if each
// trigger had its own decoder.
func parseEvent(event json.RawMessage) (f eventFields, typed, err error) {
	err = json.Unmarshal(event, &f)
	var typ *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typ) {
		return eventFields{}, nil, reset.FieldError("event", "%s", jsonProblem(err))
	}
	if err != nil {
		f = eventFields{}
		var raw struct {
			SpecVersion    json.RawMessage `json:"specversion"`
			RequestContext json.RawMessage `json:"requestContext"`
			TriggerName    json.RawMessage `json:"triggerName"`
			TriggerTime    json.RawMessage `json:"triggerTime"`
			Target         json.RawMessage `json:"target"`
			Targets        json.RawMessage `json:"targets"`
			Sweep          json.RawMessage `json:"sweep"`
			Continuation   json.RawMessage `json:"continuation"`
		}
		if err := json.Unmarshal(event, &raw); err != nil {
			return eventFields{}, nil, reset.FieldError("event", "%s", jsonProblem(err))
		}
		f.SpecVersion.set, f.RequestContext.set = raw.SpecVersion != nil, raw.RequestContext != nil
		f.TriggerName.set, f.TriggerTime.set = raw.TriggerName != nil, raw.TriggerTime != nil
		f.Target, f.Targets, f.Sweep, f.Continuation = raw.Target, raw.Targets, raw.Sweep, raw.Continuation
		switch t, _ := f.trigger(); t {
		case TriggerEventBridge:
			typed = json.Unmarshal(event, &f.CloudEvent)
		case TriggerHTTP:
			typed = json.Unmarshal(event, &f.HTTPEvent)
		case TriggerTimer:
			typed = json.Unmarshal(event, &f.TimerEvent)
		}
		return f, typed, nil
	}
	f.CloudEvent.SpecVersion = f.SpecVersion.v
	f.HTTPEvent.RequestContext = f.RequestContext.v
	f.TimerEvent.TriggerName, f.TimerEvent.TriggerTime = f.TriggerName.v, f.TriggerTime.v
	return f, nil, nil
}

// cloudEventEnvelope checks one CloudEvent's source and id, its key, and
// decodes the request in its data.
func cloudEventEnvelope(ev CloudEvent) envelope {
	env := envelope{key: ScopedKey("eventbridge", ev.Source, ev.ID), where: "data"}
	if rule := checkKey(ev.ID); rule != "" {
		// An id that breaks the rules is not logged: it is the caller's text.
		env.err = reset.FieldError("id", "%s", rule)
		return env
	}
	env.attrs = []slog.Attr{slog.String("idempotencyKey", ev.ID), slog.String("eventId", ev.ID)}
	// source and id together identify a CloudEvent: the key needs both.
	if rule := checkKey(ev.Source); rule != "" {
		env.err = reset.FieldError("source", "%s", rule)
		return env
	}
	data := []byte(ev.Data)
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '"' {
		// A producer that sent the request as text: EventBridge passes it on
		// as a JSON string.
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			env.err = reset.FieldError("data", "%s", jsonProblem(err))
			return env
		}
		data = []byte(s)
	} else if bytes.Equal(trimmed, []byte("null")) {
		data = nil
	}
	env.req, env.err = decodeRequest(data, "data")
	return env
}

// decodeStream decodes the event-streaming form of EventBridge: an array of
// CloudEvents, each its own request under its own id. The array is read one
// event at a time, stopping at the first past MaxStreamEvents, so that a
// long array of tiny events is refused having decoded no more than the
// limit; it is refused as a whole, before any cloud call, when its requests
// name more than reset.MaxTargets targets in all.
func decodeStream(event json.RawMessage) ([]envelope, error) {
	invalid := func(err error) error { return reset.FieldError("event", "%s", jsonProblem(err)) }
	dec := json.NewDecoder(bytes.NewReader(event))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, invalid(err)
	}
	var envs []envelope
	total := 0
	for dec.More() {
		if len(envs) == MaxStreamEvents {
			return nil, reset.FieldError("event", "the array holds more than %d events, more than one invocation handles: set the trigger's batch push messages to at most %d",
				MaxStreamEvents, MaxStreamEvents)
		}
		var ev CloudEvent
		if err := dec.Decode(&ev); err != nil {
			return nil, invalid(err)
		}
		env := cloudEventEnvelope(ev)
		if env.err == nil {
			total += max(len(env.req.Targets), 1)
		}
		envs = append(envs, env)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, invalid(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, reset.FieldError("event", "holds data after the array")
	}
	if len(envs) == 0 {
		return nil, reset.FieldError("event", "the array holds no event")
	}
	if total > reset.MaxTargets {
		return nil, reset.FieldError("event", "its %d events name %d targets in all, more than the %d one invocation handles: lower the trigger's batch push messages, or put fewer targets in each event",
			len(envs), total, reset.MaxTargets)
	}
	return envs, nil
}

// decodeContinuation decodes a continuation's event strictly: its two
// fields, both strings, nothing else. Whether it is signed is the
// rotator's to check (reset, run.go), before any other call; an event
// that is not even well formed is refused here, before any call at all.
func decodeContinuation(event json.RawMessage, requestID string) (envelope, error) {
	var ev reset.ContinuationEvent
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || !distinctKeys(event) {
		return envelope{}, &reset.Error{Code: reset.EForbidden, Field: "continuation", Message: "is not a well-formed continuation: refused", Err: reset.ErrContinuationSignature}
	}
	if ev.Signature == "" {
		return envelope{}, &reset.Error{Code: reset.EForbidden, Field: "signature", Message: "is required: an unsigned continuation is refused", Err: reset.ErrContinuationSignature}
	}
	return envelope{key: ScopedKey("continuation", requestID), where: "event", cont: &ev,
		attrs: []slog.Attr{slog.String("idempotencyKey", requestID)}}, nil
}

// distinctKeys reports whether the JSON object event names each of its
// keys once. encoding/json keeps the last of a key given twice, so a
// continuation with two signatures or two bodies would otherwise be read
// as whichever came last: a strict decode refuses it.
func distinctKeys(event []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(event))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok || seen[key] {
			return false
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return true
}

// decodeTimer checks a timer trigger's event. Its key is the trigger's name
// and time, so a retried tick finishes the same rotations and the next tick
// starts new ones.
func decodeTimer(ev TimerEvent) ([]envelope, error) {
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
	return []envelope{newEnvelope(ScopedKey("timer", ev.TriggerName, ev.TriggerTime), []byte(ev.Payload), "payload", slog.String("idempotencyKey", key))}, nil
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
