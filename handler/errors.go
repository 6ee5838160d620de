package handler

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/pwreset/pwreset/internal/reset"
)

// ErrorCode is the code of an ErrorBody: what a caller branches on.
type ErrorCode string

// Error codes. Each reset.ErrorCode maps to one (see APICode); the others
// are the HTTP trigger's own.
const (
	CodeInvalidParameter     ErrorCode = "InvalidParameter"     // 400
	CodeForbidden            ErrorCode = "Forbidden"            // 403
	CodeNotFound             ErrorCode = "NotFound"             // 404
	CodeConflict             ErrorCode = "Conflict"             // 409
	CodeThrottling           ErrorCode = "Throttling"           // 429
	CodeInternalError        ErrorCode = "InternalError"        // 500
	CodeUpstreamError        ErrorCode = "UpstreamError"        // 502
	CodeServiceUnavailable   ErrorCode = "ServiceUnavailable"   // 503
	CodeMethodNotAllowed     ErrorCode = "MethodNotAllowed"     // 405
	CodePayloadTooLarge      ErrorCode = "PayloadTooLarge"      // 413
	CodeUnsupportedMediaType ErrorCode = "UnsupportedMediaType" // 415
	// CodeFunctionMisconfigured: the function's configuration is invalid;
	// every invocation fails until it is fixed and redeployed.
	CodeFunctionMisconfigured ErrorCode = "FunctionMisconfigured"
)

// wire is what a caller sees of a domain error code: the HTTP status, the
// API code, and the function error's type (Retryable: RetryableError, else
// PermanentError).
type wire struct {
	status    int
	code      ErrorCode
	retryable bool
	// rank orders the codes: when a batch has several failures, the highest
	// names the outcome. Every code a retry can help outranks every code it
	// cannot, so a client that retries on 5xx and 429 retries the batch
	// (safe: the idempotency key makes finished targets replay); within each
	// group the server's faults outrank the caller's.
	rank int
}

// wires is the one table from domain error codes to the wire: the handler
// keeps reset.ErrorCode in its outcomes and reads this table only when it
// shapes the answer (encode). retryable is reset.ErrorCode.Retryable, which
// a test holds it to.
var wires = map[reset.ErrorCode]wire{
	reset.EInvalid:     {http.StatusBadRequest, CodeInvalidParameter, false, 1},
	reset.EForbidden:   {http.StatusForbidden, CodeForbidden, false, 2},
	reset.ENotFound:    {http.StatusNotFound, CodeNotFound, false, 3},
	reset.EConflict:    {http.StatusConflict, CodeConflict, false, 4},
	reset.EThrottled:   {http.StatusTooManyRequests, CodeThrottling, true, 5},
	reset.EUnavailable: {http.StatusServiceUnavailable, CodeServiceUnavailable, true, 6},
	reset.EUpstream:    {http.StatusBadGateway, CodeUpstreamError, true, 7},
	reset.EInternal:    {http.StatusInternalServerError, CodeInternalError, true, 8},
}

// wireOf returns the row of a domain code; an unknown code counts as
// internal.
func wireOf(code reset.ErrorCode) wire {
	if w, ok := wires[code]; ok {
		return w
	}
	return wires[reset.EInternal]
}

// APICode returns the ErrorCode callers see for a domain error code.
func APICode(code reset.ErrorCode) ErrorCode { return wireOf(code).code }

// edgeError is a failure the handler itself answers in the wire's terms,
// with no domain code: the HTTP request's own refusals (405, 413, 415) and
// a misconfigured function. It is permanent.
type edgeError struct {
	status int
	code   ErrorCode
	msg    string
}

func (e *edgeError) Error() string { return string(e.code) + ": " + e.msg }

// RetryableError is the function error of an event whose request may
// succeed if delivered again: throttling, an unreachable or failing
// upstream, the deadline, an internal failure. Function Compute reports its
// type name, "RetryableError", as the errorType; a retry with the same event
// finishes the same rotations.
type RetryableError struct {
	Code    ErrorCode
	Message string // safe to show: never a password or an upstream body
}

func (e *RetryableError) Error() string { return string(e.Code) + ": " + e.Message }

// PermanentError is the function error of an event that will fail the same
// way however often it is delivered: an invalid request, a target that is
// not allowed or does not exist, a conflict, a misconfigured function. Its
// errorType is "PermanentError".
type PermanentError struct {
	Code    ErrorCode
	Message string // safe to show: never a password or an upstream body
}

func (e *PermanentError) Error() string { return string(e.Code) + ": " + e.Message }

// maxErrorMessage bounds a function error's message: a batch of a thousand
// failures must not make one of a hundred kilobytes.
const maxErrorMessage = 2048

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Cut at a rune boundary so the message stays valid UTF-8.
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimRight(s, " ;") + " …"
}
