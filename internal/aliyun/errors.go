package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/pwreset/pwreset/internal/reset"
)

// APIError is an error answer of an Alibaba Cloud API reduced to what is
// safe to log: the SDK's own error also holds the upstream message and the
// whole response body, which may quote request parameters.
type APIError struct {
	Service    string // "kms", "cloudsso" or "baas"
	Code       string // the upstream error code, e.g. "Forbidden.ResourceNotFound"
	StatusCode int    // the HTTP status; 0 when the SDK reported none
	RequestID  string // the upstream request id, for support tickets
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d", e.Service, e.StatusCode)
}

// Upstream codes and request ids are shown to callers: keep only values
// that look like one, so an odd error body cannot smuggle data through them.
// Compiled on first use (an error), not in init, to keep cold starts short.
var (
	reCode      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) })
	reRequestID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`) })
)

// apiErrorOf extracts the safe parts of an SDK error answer. ok is false for
// anything else (transport errors, malformed answers).
func apiErrorOf(service string, err error) (*APIError, bool) {
	var sdkErr *tea.SDKError
	if errors.As(err, &sdkErr) {
		a := &APIError{Service: service, Code: tea.StringValue(sdkErr.Code), StatusCode: tea.IntValue(sdkErr.StatusCode)}
		a.RequestID = requestIDFromData(tea.StringValue(sdkErr.Data))
		return a.clean(), true
	}
	// With DisableSDKError the SDK returns its own error types.
	var respErr dara.ResponseError
	if errors.As(err, &respErr) {
		a := &APIError{Service: service, Code: dara.StringValue(respErr.GetCode()), StatusCode: dara.IntValue(respErr.GetStatusCode())}
		if d := respErr.GetData(); d != nil {
			a.RequestID, _ = firstString(d, "RequestId", "requestId")
		}
		return a.clean(), true
	}
	return nil, false
}

func (a *APIError) clean() *APIError {
	if !reCode().MatchString(a.Code) {
		a.Code = "unknown"
	}
	if !reRequestID().MatchString(a.RequestID) {
		a.RequestID = ""
	}
	return a
}

// requestIDFromData reads only the request id out of the SDK error's Data,
// the JSON of the error body.
func requestIDFromData(data string) string {
	var m map[string]any
	if data == "" || json.Unmarshal([]byte(data), &m) != nil {
		return ""
	}
	id, _ := firstString(m, "RequestId", "requestId")
	return id
}

func firstString(m map[string]any, keys ...string) (string, bool) {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s, true
		}
	}
	return "", false
}

// classifyFunc maps a service's own codes; ok false falls back to the
// generic rules of classify.
type classifyFunc func(op string, a *APIError) (code reset.ErrorCode, sentinel error, ok bool)

// classify turns any error of an SDK call into a *reset.Error whose text is
// safe to show and log: only the operation, the upstream code and request
// id, and for transport failures a cause stripped of the request URL.
func classify(service, op string, err error, specific classifyFunc) error {
	if err == nil {
		return nil
	}
	var re *reset.Error
	if errors.As(err, &re) {
		return err // already classified (credentials)
	}
	a, ok := apiErrorOf(service, err)
	if !ok {
		return transportError(service, op, err)
	}
	var code reset.ErrorCode
	var sentinel error
	if specific != nil {
		code, sentinel, ok = specific(op, a)
	}
	if !ok {
		code = genericCode(a)
	}
	var cause error = a
	if sentinel != nil {
		cause = fmt.Errorf("%w: %w", sentinel, a)
	}
	msg := fmt.Sprintf("%s %s: %s", service, op, a.Code)
	if a.RequestID != "" {
		msg += " (request id " + a.RequestID + ")"
	}
	return &reset.Error{Code: code, Message: msg, Err: cause}
}

// genericCode classifies by the codes every Alibaba Cloud API shares, then by
// HTTP status.
func genericCode(a *APIError) reset.ErrorCode {
	c := a.Code
	switch {
	case isThrottling(c) || a.StatusCode == 429:
		return reset.EThrottled
	case a.StatusCode >= 500:
		return reset.EUpstream
	case c == "InvalidSecurityToken.Expired":
		// The function role's STS token ran out mid-invocation: not the
		// caller's fault, and a redelivery brings fresh credentials.
		return reset.EUnavailable
	case strings.HasPrefix(c, "InvalidAccessKeyId"), strings.HasPrefix(c, "SignatureDoesNotMatch"),
		strings.HasPrefix(c, "InvalidSecurityToken"), strings.HasPrefix(c, "IncompleteSignature"),
		strings.HasPrefix(c, "SignatureNonceUsed"), strings.Contains(c, "NoPermission"),
		strings.HasPrefix(c, "Forbidden"), strings.HasPrefix(c, "Unauthorized"), a.StatusCode == 401, a.StatusCode == 403:
		return reset.EForbidden
	case strings.HasPrefix(c, "EntityNotExist"), strings.Contains(c, "NotFound"), strings.Contains(c, "NotExist"), a.StatusCode == 404:
		return reset.ENotFound
	case strings.HasPrefix(c, "OperationConflict"), strings.HasPrefix(c, "Conflict"), strings.HasPrefix(c, "IncorrectStatus"),
		strings.HasPrefix(c, "InvalidStatus"), a.StatusCode == 409:
		return reset.EConflict
	case a.StatusCode >= 400 && a.StatusCode < 500:
		return reset.EInvalid
	}
	return reset.EUpstream
}

func isThrottling(code string) bool {
	return strings.HasPrefix(code, "Throttling") || code == "Rejected.Throttling" || strings.HasSuffix(code, ".Throttling")
}

// transportError classifies an error that is not an API answer: the context
// ended, the connection failed or was lost (unavailable), or the answer was
// not what the SDK expected (upstream). Errors of unknown types are not
// wrapped, only named: the SDK's may quote parameter values or a response.
func transportError(service, op string, err error) error {
	prefix := service + " " + op
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &reset.Error{Code: reset.EUnavailable, Message: prefix + ": timed out", Err: sanitize(err)}
	case errors.Is(err, context.Canceled):
		return &reset.Error{Code: reset.EUnavailable, Message: prefix + ": cancelled", Err: sanitize(err)}
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return &reset.Error{Code: reset.EUnavailable, Message: prefix + ": upstream unreachable", Err: sanitize(err)}
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &reset.Error{Code: reset.EUpstream, Message: prefix + ": malformed answer", Err: fmt.Errorf("%s: answer is not JSON (offset %d)", service, syntaxErr.Offset)}
	}
	return &reset.Error{Code: reset.EUpstream, Message: prefix + ": unexpected failure", Err: fmt.Errorf("%s: %T", service, err)}
}

// sanitize keeps a transport error's chain but drops the request URL that
// *url.Error prints, since the SDKs send parameters (passwords included) in
// the query string.
func sanitize(err error) error {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err
		}
		var netErr *net.OpError
		if errors.As(err, &netErr) {
			return netErr
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return io.ErrUnexpectedEOF
		}
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("%T", err)
	}
	redacted := ""
	if u, perr := url.Parse(urlErr.URL); perr == nil {
		redacted = u.Scheme + "://" + u.Host + "/"
	}
	return &url.Error{Op: urlErr.Op, URL: redacted, Err: urlErr.Err}
}

// prefixed adds the operation to an already classified error.
func prefixed(service, op string, err error) error {
	var re *reset.Error
	if errors.As(err, &re) {
		return &reset.Error{Code: re.Code, Field: re.Field, Message: service + " " + op + ": " + re.Message, Err: re.Err}
	}
	return transportError(service, op, err)
}
