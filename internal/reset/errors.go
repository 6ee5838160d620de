package reset

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error by whose fault it is and whether a retry can
// help. The handler maps each code to one HTTP status and one function error
// type; nothing above the adapters inspects a vendor error.
type ErrorCode string

// Error codes. Anything unclassified counts as EInternal.
const (
	EInvalid     ErrorCode = "invalid"     // the request breaks a rule: 400, never retried
	EForbidden   ErrorCode = "forbidden"   // not on an allow-list, or the role may not act: 403
	ENotFound    ErrorCode = "not_found"   // the directory, user or organization does not exist: 404
	EConflict    ErrorCode = "conflict"    // the state upstream forbids the change (e.g. SSO logon enabled): 409
	EThrottled   ErrorCode = "throttled"   // upstream throttled the call: 429, retry later
	EUnavailable ErrorCode = "unavailable" // upstream unreachable, timed out, or the deadline is too near: 503
	EUpstream    ErrorCode = "upstream"    // upstream answered with a failure: 502
	EInternal    ErrorCode = "internal"    // a bug or an unclassified failure: 500
)

// Retryable reports whether the same request may succeed later.
func (c ErrorCode) Retryable() bool {
	switch c {
	case EThrottled, EUnavailable, EUpstream, EInternal:
		return true
	}
	return false
}

// Error is a classified error. Field, when set, names the request field at
// fault with its JSON name (e.g. "directoryId"). Message is safe to show a
// caller: it never holds a password or an upstream response body.
type Error struct {
	Code    ErrorCode
	Field   string
	Message string
	Err     error // the cause, for logs and errors.Is; never shown to a caller
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error of the given code with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EInvalid error about one request field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessageOf returns the caller-safe message of err: the Field and Message
// of the first *Error in its chain, or a generic text for anything else, so
// that an unclassified error's text (which may quote an upstream body) is
// never shown.
func ErrorMessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return "internal error"
}

// Sentinel conditions the secret store reports; adapters wrap them in an
// *Error (or return them bare) and the rotator matches them with errors.Is.
var (
	// ErrSecretNotFound: the secret, or the requested version, does not exist.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrVersionExists: a version with this id exists and holds other data.
	ErrVersionExists = errors.New("secret version exists with different data")
	// ErrSecretExists: CreateSecret found the secret already there.
	ErrSecretExists = errors.New("secret already exists")
	// ErrPasswordReused: the target refused a password because it was used
	// before (a directory's PasswordReusePrevention). Resetters wrap it in
	// their EInvalid *Error.
	ErrPasswordReused = errors.New("password was used before")
	// ErrBlocked: an earlier rotation of the account is unfinished and the
	// target refuses its password for good, so no new rotation starts until
	// an operator resolves it. Carried by an EConflict *Error.
	ErrBlocked = errors.New("an unfinished rotation cannot be finished")
)
