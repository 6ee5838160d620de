package handler

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pwreset/pwreset/internal/reset"
)

// outcome is what one envelope came to: the domain's results, or the
// failure of its request as a whole. Codes stay reset.ErrorCode until
// encode.
type outcome struct {
	results []reset.Result
	err     error
}

// failure is the most severe failure of a request, in domain terms: its code
// and a message naming every failed target. code is "" when every target
// succeeded.
type failure struct {
	code reset.ErrorCode
	msg  string
}

// fold gathers failures, keeping the most severe code (see wire.rank) and
// each failure's message.
type fold struct {
	worst reset.ErrorCode
	msgs  []string
}

func (f *fold) add(code reset.ErrorCode, msg string) {
	if f.worst == "" || wireOf(code).rank > wireOf(f.worst).rank {
		f.worst = code
	}
	f.msgs = append(f.msgs, msg)
}

// summary is the fold's failure among n items ("targets", "events"); a
// single target's failure is its message alone.
func (f fold) summary(n int, items string) failure {
	if f.worst == "" {
		return failure{}
	}
	if n == 1 && items == "targets" {
		return failure{f.worst, f.msgs[0]}
	}
	return failure{f.worst, fmt.Sprintf("%d of %d %s failed: %s", len(f.msgs), n, items, strings.Join(f.msgs, "; "))}
}

// resultFailure returns a result's code, or "" when it succeeded. reset
// guarantees a failed or skipped result an Err; a result with neither a
// success status nor an Err (a Rotator breaking that contract) counts as
// internal, so that it can never pass for a success.
func resultFailure(r reset.Result) reset.ErrorCode {
	switch {
	case r.Err != nil:
		return reset.ErrorCodeOf(r.Err)
	case r.Status.Succeeded(), r.Status == reset.StatusAccepted && r.Run != nil:
		return ""
	}
	return reset.EInternal
}

// failure folds the outcome's results, or returns the request's failure.
func (o outcome) failure() failure {
	if o.err != nil {
		return failure{reset.ErrorCodeOf(o.err), reset.ErrorMessageOf(o.err)}
	}
	var f fold
	for _, r := range o.results {
		if code := resultFailure(r); code != "" {
			f.add(code, fmt.Sprintf("%s: %s: %s", r.Target.Key(), APICode(code), reset.ErrorMessageOf(r.Err)))
		}
	}
	return f.summary(len(o.results), "targets")
}

// failureOf folds a delivery's outcomes: one request's failure, or for an
// event stream the events' failures by position (not id: an id is the
// caller's text, which an error never quotes; the failure destination keeps
// the whole event).
func failureOf(d delivery, outs []outcome) failure {
	if !d.stream {
		return outs[0].failure()
	}
	var f fold
	for i, o := range outs {
		if g := o.failure(); g.code != "" {
			f.add(g.code, fmt.Sprintf("event %d: %s", i, g.msg))
		}
	}
	return f.summary(len(outs), "events")
}

// answer is an invocation's answer and what its log line says of it.
type answer struct {
	value   any   // *HTTPResponse, *Response, or nil with err
	err     error // the function error: *RetryableError or *PermanentError
	resp    Response
	results []reset.Result
	status  int // the HTTP trigger's status, else 0
	// wire of the failure; failed is false when every target succeeded.
	failed    bool
	code      ErrorCode
	msg       string
	retryable bool
	causes    []string // unclassified errors' text, for the log only
}

// encode shapes the answer to d: refused, the refusal; else the outcomes.
//
// An HTTP trigger always gets an HTTPResponse: 200 when every target
// succeeded, otherwise the status of the most severe failure (wires): a
// request that fails as a whole answers 400/403 (or 405/413/415 for the HTTP
// request itself); a batch in which some targets failed answers the most
// severe failure's status, with a summary in "error" and every target's
// outcome in "results", so a caller that only reads the status still
// retries when a retry can help. Any other trigger gets the Response when
// every target succeeded, and otherwise a *RetryableError or
// *PermanentError, whose type tells the platform (and the reader of its
// logs) whether delivering the event again can help.
func encode(d delivery, outs []outcome, refused error) answer {
	a := answer{resp: Response{RequestID: d.requestID}}
	var f failure
	if refused != nil {
		f = failure{reset.ErrorCodeOf(refused), reset.ErrorMessageOf(refused)}
		outs = []outcome{{err: refused}}
	} else {
		f = failureOf(d, outs)
	}
	for i, o := range outs {
		a.results = append(a.results, o.results...)
		var re *reset.Error
		var ee *edgeError
		if o.err != nil && !errors.As(o.err, &re) && !errors.As(o.err, &ee) {
			cause := o.err.Error()
			if d.stream {
				cause = fmt.Sprintf("event %d: %s", i, cause)
			}
			a.causes = append(a.causes, cause)
		}
	}
	a.status = http.StatusOK
	if run := acceptedRun(d, a.results); run != nil {
		// A run that goes on in asynchronous invocations: 202, its id and
		// size; its targets' outcomes are in the logs and the events.
		a.resp.Accepted, a.resp.RunID, a.resp.Targets = true, run.ID, run.Targets
		a.status = http.StatusAccepted
	} else {
		for _, r := range a.results {
			a.resp.Results = append(a.resp.Results, resultOf(r))
		}
	}
	var ee *edgeError
	switch {
	case errors.As(refused, &ee):
		a.failed, a.status, a.code, a.msg = true, ee.status, ee.code, ee.msg
	case f.code != "":
		w := wireOf(f.code)
		a.failed, a.status, a.code, a.msg, a.retryable = true, w.status, w.code, truncate(f.msg, maxErrorMessage), w.retryable
	}
	if a.failed {
		a.resp.Error = &ErrorBody{Code: a.code, Message: a.msg}
	}
	if d.trigger == TriggerHTTP {
		a.value = httpResponse(a.status, a.resp)
		return a
	}
	a.status = 0
	switch {
	case !a.failed:
		a.value = &a.resp
	case a.retryable:
		a.err = &RetryableError{Code: a.code, Message: a.msg}
	default:
		a.err = &PermanentError{Code: a.code, Message: a.msg}
	}
	return a
}

// acceptedRun returns the run of a delivery answered accepted: one request
// whose one result is StatusAccepted.
func acceptedRun(d delivery, results []reset.Result) *reset.RunInfo {
	if d.stream || len(results) != 1 || results[0].Status != reset.StatusAccepted {
		return nil
	}
	return results[0].Run
}

// resultOf is a domain result as callers see it.
func resultOf(r reset.Result) Result {
	out := Result{
		TargetSpec:    specOf(r.Target),
		Status:        r.Status,
		SecretName:    r.SecretName,
		VersionID:     r.VersionID,
		Resumed:       r.Resumed,
		RolledForward: r.RolledForward,
		Drift:         r.Drift,
		Detail:        r.Detail,
	}
	if code := resultFailure(r); code != "" {
		if out.Status == "" {
			out.Status = reset.StatusFailed
		}
		out.Error = &ErrorBody{Code: APICode(code), Message: reset.ErrorMessageOf(r.Err)}
	}
	return out
}

// logAttrs are the attributes of the invocation's log line that the answer
// decides.
func (a answer) logAttrs() []slog.Attr {
	var attrs []slog.Attr
	if a.status != 0 {
		attrs = append(attrs, slog.Int("status", a.status))
	}
	if len(a.results) > 0 {
		failed := 0
		for _, r := range a.results {
			if resultFailure(r) != "" {
				failed++
			}
		}
		attrs = append(attrs, slog.Int("targetCount", len(a.results)), slog.Int("failedCount", failed))
	}
	if len(a.causes) > 0 {
		attrs = append(attrs, slog.String("cause", strings.Join(a.causes, "; ")))
	}
	if a.failed {
		attrs = append(attrs, slog.String("error", string(a.code)+": "+a.msg))
		if a.retryable {
			attrs = append(attrs, slog.Bool("retryable", true))
		}
	}
	return attrs
}
