package reset

import (
	"net/url"
	"strings"
)

// redact returns err, or, should its text hold password in any of the
// encodings a transport might have used, a bare *Error of the same code: an
// adapter must never let that happen, and this makes sure it does not leak
// further if one does.
func redact(err error, password string) error {
	if err == nil || password == "" || !holdsSecret(err.Error(), password) {
		return err
	}
	return &Error{Code: codeOf(err), Message: "upstream error withheld: its text held the new password"}
}

func holdsSecret(text, password string) bool {
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if strings.Contains(text, form) {
			return true
		}
	}
	return false
}
