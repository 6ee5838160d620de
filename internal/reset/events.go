package reset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
)

// Outcome events (DESIGN.md, "Outcome events"). After a request's fan-out
// has decided every result, and before Rotate returns them, the rotator
// publishes one event per target outcome (and one more per roll-forward)
// through Deps.Publisher, in one batch: never between the protocol's steps,
// and never as a reason to fail or repeat a rotation. A failing publish is
// retried with backoff while the invocation's deadline leaves a step's
// reserve for the answer, then logged at error level. Dry runs publish
// nothing.

// Event types. Every event's source is "pwreset" (the adapter's).
const (
	EventRotationSucceeded     = "pwreset:Rotation:Succeeded"
	EventRotationFailed        = "pwreset:Rotation:Failed"
	EventRotationSkipped       = "pwreset:Rotation:Skipped"
	EventRotationSuperseded    = "pwreset:Rotation:Superseded"
	EventRotationRolledForward = "pwreset:Rotation:RolledForward"
	// EventRunCompleted summarises a fleet run (a selector, a sweep, a run
	// continued over several invocations); see Rotator.RunCompleted.
	EventRunCompleted = "pwreset:Run:Completed"
)

// Event is one outcome event. Data is marshalled to JSON by the publisher:
// an OutcomeData or a RunData, which hold no password by construction.
type Event struct {
	// ID derives from what the event reports (EventID), so that a
	// redelivered outcome carries the same id and a consumer can drop it.
	ID      string
	Type    string
	Subject string // the secret name; the run id for EventRunCompleted
	Time    time.Time
	Data    any
}

// Publisher puts events on the event bus (internal/aliyun's EventBus).
//
// Publish returns the events it could not publish, in order, and why: an
// *Error whose code says whether a later try may help (EThrottled,
// EUnavailable), or not (an event the bus refuses for its size or shape,
// EInternal; a missing bus or permission, ENotFound or EForbidden). It
// returns (nil, nil) when every event was published. Its errors never
// quote an event's data.
type Publisher interface {
	Publish(ctx context.Context, events []Event) (unpublished []Event, err error)
}

// OutcomeData is the data of a rotation event. It names the target, where
// its password is and what became of the rotation; never the password.
//
// In JSON, "target" is followed by the kind's identifiers and parameters
// under their JSON names (the table kinds), as in a request:
// {"target":"cloudsso","directoryId":"d-…","userId":"u-…","secretName":…}.
type OutcomeData struct {
	Target Kind `json:"target"`
	// IDs holds the target's identifiers and parameters by JSON name.
	IDs        map[string]string `json:"-"`
	SecretName string            `json:"secretName"`
	VersionID  string            `json:"versionId"`
	Status     Status            `json:"status"`
	Resumed    bool              `json:"resumed,omitempty"`
	// RolledForward is, on a rotation's own event, the version of the
	// earlier rotation it finished first; on an EventRotationRolledForward
	// event, VersionID is that earlier version and RolledForwardBy the
	// version of the rotation that finished it.
	RolledForward   string    `json:"rolledForward,omitempty"`
	RolledForwardBy string    `json:"rolledForwardBy,omitempty"`
	Error           *EventErr `json:"error,omitempty"`
	Trigger         string    `json:"trigger,omitempty"`
	RequestID       string    `json:"requestId,omitempty"`
	RunID           string    `json:"runId,omitempty"`
}

// outcomeJSON is OutcomeData without its methods.
type outcomeJSON OutcomeData

// MarshalJSON writes the identifiers right after "target", in the order of
// the table kinds.
func (d OutcomeData) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(outcomeJSON(d))
	if err != nil {
		return nil, err
	}
	kind, err := json.Marshal(d.Target)
	if err != nil {
		return nil, err
	}
	head := append([]byte(`{"target":`), kind...)
	s := specOf(d.Target)
	if s == nil || !bytes.HasPrefix(b, head) {
		return b, nil
	}
	out := append([]byte(nil), head...)
	for _, f := range s.stringFields() {
		v, ok := d.IDs[f.json]
		if !ok {
			continue
		}
		name, _ := json.Marshal(f.json)
		val, _ := json.Marshal(v)
		out = append(append(append(append(out, ','), name...), ':'), val...)
	}
	return append(out, b[len(head):]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *OutcomeData) UnmarshalJSON(b []byte) error {
	var plain outcomeJSON
	if err := json.Unmarshal(b, &plain); err != nil {
		return err
	}
	*d = OutcomeData(plain)
	if s := specOf(d.Target); s != nil {
		var all map[string]json.RawMessage
		if err := json.Unmarshal(b, &all); err != nil {
			return err
		}
		for _, f := range s.stringFields() {
			var v string
			if raw, ok := all[f.json]; ok && json.Unmarshal(raw, &v) == nil {
				if d.IDs == nil {
					d.IDs = map[string]string{}
				}
				d.IDs[f.json] = v
			}
		}
	}
	return nil
}

// targetIDs returns t's identifiers and parameters by JSON name.
func targetIDs(t Target) map[string]string {
	s := specOf(t.Kind)
	if s == nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range s.stringFields() {
		if v := *f.get(&t); v != "" {
			out[f.json] = v
		}
	}
	return out
}

// EventErr is a failed or skipped outcome's error: reset's code (ErrorCode,
// e.g. "conflict", "throttled") and the message a caller is shown.
type EventErr struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// RunData is the data of an EventRunCompleted event: how many targets of
// the run ended in each status, and the ids of the invocation that ended it.
type RunData struct {
	RunID     string         `json:"runId"`
	Trigger   string         `json:"trigger,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
	DryRun    bool           `json:"dryRun,omitempty"`
	Targets   int            `json:"targets"`
	Statuses  map[Status]int `json:"statuses"`
	// Blocked counts the failed targets whose account is blocked
	// (ErrBlocked), which need an operator.
	Blocked int `json:"blocked,omitempty"`
}

// EventID returns the id of the event of type typ about version versionID:
// "pwreset-" and 32 hex digits of a hash of both and of code, the error
// code of a failure ("" otherwise), so that a redelivered outcome, and only
// it, carries the same id. It fits EventBridge's id rule (at most 128
// letters, digits and hyphens, a letter or digit first).
func EventID(versionID, typ string, code ErrorCode) string {
	h := sha256.New()
	for _, s := range []string{versionID, typ, string(code)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "pwreset-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// outcomeEvents returns the events of a request's results: one per result
// and one more per roll-forward, in the results' order; a sweep's
// roll-forward (RolledForward is the result's own version) is one
// RolledForward event, and its healthy and drift reports have none. A dry
// run has none.
func (r *Rotator) outcomeEvents(req Request, results []Result) []Event {
	if req.DryRun || len(results) == 0 {
		return nil
	}
	now := r.clock.Now()
	out := make([]Event, 0, len(results))
	for _, res := range results {
		if res.Status.Reported() {
			// The sweep's report on a secret it left alone: no rotation
			// had an outcome (the run's event counts them).
			continue
		}
		base := OutcomeData{
			Target:     res.Target.Kind,
			IDs:        targetIDs(res.Target),
			SecretName: res.SecretName,
			Trigger:    req.Trigger,
			RequestID:  req.RequestID,
			RunID:      req.RunID,
		}
		if res.RolledForward != "" && res.RolledForward == res.VersionID {
			// The sweep finished the rotation on its own, with no rotation
			// of its own: the finished version's one event, by no other.
			d := base
			d.VersionID, d.Status = res.RolledForward, StatusRotated
			out = append(out, Event{ID: EventID(res.RolledForward, EventRotationRolledForward, ""),
				Type: EventRotationRolledForward, Subject: res.SecretName, Time: now, Data: d})
			continue
		}
		if res.RolledForward != "" {
			d := base
			d.VersionID, d.Status, d.RolledForwardBy = res.RolledForward, StatusRotated, res.VersionID
			out = append(out, Event{ID: EventID(res.RolledForward, EventRotationRolledForward, ""),
				Type: EventRotationRolledForward, Subject: res.SecretName, Time: now, Data: d})
		}
		d := base
		d.VersionID, d.Status, d.Resumed, d.RolledForward = res.VersionID, res.Status, res.Resumed, res.RolledForward
		typ := eventTypeOf(res.Status)
		code := ErrorCode("")
		if res.Err != nil && (res.Status == StatusFailed || res.Status == StatusSkipped) {
			code = ErrorCodeOf(res.Err)
			d.Error = &EventErr{Code: code, Message: ErrorMessageOf(res.Err)}
		}
		out = append(out, Event{ID: EventID(res.VersionID, typ, code), Type: typ, Subject: res.SecretName, Time: now, Data: d})
	}
	return out
}

func eventTypeOf(s Status) string {
	switch s {
	case StatusRotated:
		return EventRotationSucceeded
	case StatusSkipped:
		return EventRotationSkipped
	case StatusSuperseded:
		return EventRotationSuperseded
	}
	return EventRotationFailed
}

// publishRun publishes the EventRunCompleted event of a fleet run (the
// end of a selector or a sweep), subject the run id (the request's RunID,
// else its idempotency key: the run's key), with the same retries and
// logging as the outcome events. Its id derives from the run id, so that a
// repeated end of the same run carries the same id. Without a Publisher it
// does nothing.
func (r *Rotator) publishRun(ctx context.Context, req Request, results []Result) {
	d := RunData{Targets: len(results), Statuses: map[Status]int{}}
	for _, res := range results {
		d.Statuses[res.Status]++
		if errors.Is(res.Err, ErrBlocked) {
			d.Blocked++
		}
	}
	r.publishRunData(ctx, req, d)
}

// publishRunData publishes d, its run and invocation ids set from req.
func (r *Rotator) publishRunData(ctx context.Context, req Request, d RunData) {
	runID := req.RunID
	if runID == "" {
		runID = req.IdempotencyKey
	}
	if r.publisher == nil || runID == "" {
		return
	}
	d.RunID, d.Trigger, d.RequestID, d.DryRun = runID, req.Trigger, req.RequestID, req.DryRun
	r.publish(ctx, []Event{{ID: EventID(runID, EventRunCompleted, ""), Type: EventRunCompleted,
		Subject: runID, Time: r.clock.Now(), Data: d}})
}

// publish puts events on the bus, retrying what was not published while a
// retry can help, MaxAttempts tries at most, and each try and backoff ends
// a step's reserve before ctx's deadline, which is left for the answer.
// What stays unpublished is logged at error level, its ids, types and
// subjects only. It never fails the caller.
func (r *Rotator) publish(ctx context.Context, events []Event) {
	if r.publisher == nil || len(events) == 0 {
		return
	}
	end, bounded := r.stepEnd(ctx, 1)
	pending := events
	var last error
	for attempt := 1; len(pending) > 0; attempt++ {
		if ctx.Err() != nil || (bounded && !r.clock.Now().Before(end)) {
			break
		}
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if bounded {
			cctx, cancel = context.WithDeadline(ctx, end)
		}
		rest, err := r.safePublish(cctx, pending)
		cancel()
		if err == nil && len(rest) > 0 {
			err = Errorf(EInternal, "the publisher left %d events unpublished without a reason", len(rest))
		}
		pending, last = rest, err
		if len(pending) == 0 || !retried(codeOf(err)) || attempt >= r.cfg.MaxAttempts {
			break
		}
		d := r.backoff(attempt)
		if bounded && !r.clock.Now().Add(d).Before(end) {
			break
		}
		if r.clock.Sleep(ctx, d) != nil {
			break
		}
	}
	if len(pending) == 0 {
		return
	}
	if last == nil {
		last = Errorf(EUnavailable, "the invocation's deadline was too near to publish")
	}
	ids := make([]string, len(pending))
	types := make([]string, len(pending))
	subjects := make([]string, len(pending))
	for i, e := range pending {
		ids[i], types[i], subjects[i] = e.ID, e.Type, e.Subject
	}
	r.log.LogAttrs(ctx, slog.LevelError, "outcome events not published",
		slog.Int("count", len(pending)), slog.Any("eventIds", ids), slog.Any("types", types),
		slog.Any("subjects", subjects), slog.String("code", string(ErrorCodeOf(last))),
		slog.String("error", ErrorMessageOf(last)))
}

// safePublish calls the publisher, turning a panic into a failure of every
// event: the rotations are decided and must be answered whatever the
// publisher does. The panic's value is not kept.
func (r *Rotator) safePublish(ctx context.Context, events []Event) (rest []Event, err error) {
	defer func() {
		if recover() != nil {
			rest, err = events, Errorf(EInternal, "the event publisher failed")
		}
	}()
	return r.publisher.Publish(ctx, events)
}
