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

// errorKinds maps each domain error kind to what callers see, and ranks it:
// when a batch has several failures, the highest rank names the outcome.
// Every kind a retry can help outranks every kind it cannot, so a client that
// retries on 5xx and 429 retries the batch (safe: the idempotency key makes
// finished targets replay); within each group the server's faults outrank the
// caller's.
var errorKinds = map[reset.ErrorCode]struct {
	status int
	code   ErrorCode
	rank   int
}{
	reset.EInvalid:     {http.StatusBadRequest, CodeInvalidParameter, 1},
	reset.EForbidden:   {http.StatusForbidden, CodeForbidden, 2},
	reset.ENotFound:    {http.StatusNotFound, CodeNotFound, 3},
	reset.EConflict:    {http.StatusConflict, CodeConflict, 4},
	reset.EThrottled:   {http.StatusTooManyRequests, CodeThrottling, 5},
	reset.EUnavailable: {http.StatusServiceUnavailable, CodeServiceUnavailable, 6},
	reset.EUpstream:    {http.StatusBadGateway, CodeUpstreamError, 7},
	reset.EInternal:    {http.StatusInternalServerError, CodeInternalError, 8},
}

// ErrorStatusCode returns the HTTP status for a domain error kind; an
// unknown kind counts as internal.
func ErrorStatusCode(code reset.ErrorCode) int {
	if k, ok := errorKinds[code]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// APICode returns the ErrorCode callers see for a domain error kind; an
// unknown kind counts as internal.
func APICode(code reset.ErrorCode) ErrorCode {
	if k, ok := errorKinds[code]; ok {
		return k.code
	}
	return CodeInternalError
}

func rank(code reset.ErrorCode) int {
	if k, ok := errorKinds[code]; ok {
		return k.rank
	}
	return errorKinds[reset.EInternal].rank
}

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

// functionError returns the function error for a domain error kind and a
// safe message.
func functionError(code reset.ErrorCode, msg string) error {
	msg = truncate(msg, maxErrorMessage)
	if code.Retryable() || errorKinds[code].code == "" {
		return &RetryableError{Code: APICode(code), Message: msg}
	}
	return &PermanentError{Code: APICode(code), Message: msg}
}

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
