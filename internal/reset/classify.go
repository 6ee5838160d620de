package reset

import (
	"context"
	"errors"
)

// codeOf is ErrorCodeOf, with a context that ended counted as unavailable.
func codeOf(err error) ErrorCode {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		var e *Error
		if !errors.As(err, &e) {
			return EUnavailable
		}
	}
	return ErrorCodeOf(err)
}

// causeMessage is the caller-safe text of an upstream error: the message of
// its *Error, or the name of a known condition, never an unclassified text.
func causeMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && (e.Message != "" || e.Field != "") {
		return ErrorMessageOf(err)
	}
	for _, known := range []error{ErrBlocked, ErrPasswordReused, ErrSecretNotFound, ErrVersionExists, ErrSecretExists, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return string(codeOf(err))
}

// redact returns err, or, should its text hold password in any of the
// encodings a transport might have used, a bare *Error of the same code: an
