package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
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
	reCode      = newPattern(`^[A-Za-z0-9][A-Za-z0-9._-]*$`, 128)
	reRequestID = newPattern(`^[A-Za-z0-9][A-Za-z0-9_-]*$`, 128)
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
	if !reCode.MatchString(a.Code) {
		a.Code = "unknown"
	}
	if !reRequestID.MatchString(a.RequestID) {
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

// classifyFunc lets a service add a sentinel (or override the class) for a
// code; ok false leaves the classification table's verdict.
type classifyFunc func(op string, a *APIError) (code reset.ErrorCode, sentinel error, ok bool)

// classify turns any error of an SDK call into a *reset.Error whose text is
// safe to show and log: only the operation, the upstream code and request
// id, and for transport failures a cause stripped of the request URL. The
// upstream code is always in the message, so the log line of a failure
// names the real code whatever class it fell into.
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
	overridden := false
	if specific != nil {
		code, sentinel, overridden = specific(op, a)
	}
	if !overridden {
		code = classOf(a)
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

// codeRule is one row of the classification table: a code pattern ("X"
// exactly, "X*" a prefix, "*X" a suffix, "*X*" a substring, compared
// case-insensitively), the services it applies to ("" all) and the class.
type codeRule struct {
	service string
	pattern string
	class   reset.ErrorCode
}

// codeRules is the one classification table of upstream error codes, first
// match wins. Where a row has no source it follows from who is at fault:
// pwreset signs, times and addresses every request itself, so a signature,
// clock, token or endpoint problem is never the caller's, and a retry (a
// redelivery brings fresh credentials; the clock may be corrected) can help.
//
// Sources:
//   - [common] Alibaba Cloud's common error codes of the POP gateway, and the
//     V3 signature document
//     (https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature):
//     Throttling*, SignatureDoesNotMatch, IncompleteSignature,
//     InvalidTimeStamp.*, SignatureNonceUsed, InvalidAccessKeyId.*,
//     InvalidSecurityToken.*, Forbidden.RAM, NoPermission,
//     InvalidAction.NotFound, InvalidVersion, Forbidden.InDebt*.
//   - [kms] KMS's API reference (CreateSecret, PutSecretValue,
//     GetSecretValue, UpdateSecretVersionStage): Forbidden.ResourceNotFound,
//     Rejected.ResourceExist, Rejected.LimitExceeded, Forbidden.NoPermission,
//     Forbidden.KeyNotFound; Rejected.Unavailable from the "Secrets
//     management FAQ". Rejected.ResourceInDeleteWindow is the code issue 10
//     gives for CreateSecret on a name pending deletion; no KMS page found
//     lists it (assumed: a conflict either way). Which code PutSecretValue
//     answers for an existing VersionId is not documented either, so
//     PutVersion reads the version after any refusal (kms.go). Rejected.Throttling,
//     ServiceUnavailableTemporary and InternalFailure are the codes Alibaba's
//     own secrets-manager client retries with backoff
//     (aliyun/aliyun-secretsmanager-client-python,
//     src/alibaba_cloud_secretsmanager_client/utils/err_code_const.py, used by
//     its backoff strategy).
//   - [cloudsso] CloudSSO's error codes: EntityNotExists.* for a missing
//     directory or user. The code for "SSO logon is enabled" is not
//     documented (ResetUserPassword only says the reset is refused): it is
//     matched broadly and the real code is kept in the message.
//   - [baas] BaaS documents no error codes for ResetFabricOrganizationUserPassword;
//     its rows are assumed.
var codeRules = []codeRule{
	// Throttling [common], [kms].
	{"", "Throttling", reset.EThrottled},
	{"", "Throttling.*", reset.EThrottled},
	{"", "*.Throttling", reset.EThrottled}, // Rejected.Throttling [kms]

	// Our own signature, clock, credentials and endpoint: retryable 503,
	// never the caller's 400 or the role's 403 [common].
	{"", "InvalidTimeStamp*", reset.EUnavailable},
	{"", "RequestTimeTooSkewed*", reset.EUnavailable}, // KMS "Common error codes" (request time over 15 minutes off)
	{"", "SignatureDoesNotMatch*", reset.EUnavailable},
	{"", "IncompleteSignature*", reset.EUnavailable},
	{"", "InvalidSignatureMethod*", reset.EUnavailable},
	{"", "InvalidSignatureVersion*", reset.EUnavailable},
	{"", "SignatureNonceUsed*", reset.EUnavailable},
	{"", "MissingSignature*", reset.EUnavailable},
	{"", "MissingTimestamp*", reset.EUnavailable},
	{"", "MissingAccessKeyId*", reset.EUnavailable},
	{"", "InvalidAccessKeyId*", reset.EUnavailable},
	{"", "InvalidSecurityToken*", reset.EUnavailable},
	{"", "MissingSecurityToken*", reset.EUnavailable},
	{"", "InvalidAction.NotFound", reset.EUpstream},
	{"", "InvalidApi.NotFound", reset.EUpstream},
	{"", "InvalidVersion", reset.EUpstream},
	{"", "UnsupportedHTTPMethod", reset.EUpstream},
	{"", "Forbidden.InDebt*", reset.EUpstream}, // the account is overdue: the operator's to fix

	// KMS [kms].
	{"kms", "Forbidden.ResourceNotFound", reset.ENotFound},
	{"kms", "Forbidden.KeyNotFound", reset.EUpstream}, // KMS_ENCRYPTION_KEY_ID is wrong: configuration, not the caller
	{"kms", "Rejected.ResourceExist", reset.EConflict},
	{"kms", "Rejected.ResourceInDeleteWindow", reset.EConflict},
	{"kms", "Rejected.Unavailable", reset.EConflict},   // pending deletion
	{"kms", "Rejected.LimitExceeded", reset.EConflict}, // too many stages
	{"kms", "ServiceUnavailableTemporary", reset.EUnavailable},
	{"kms", "InternalFailure", reset.EUnavailable},

	// CloudSSO [cloudsso].
	{"cloudsso", "EntityNotExists*", reset.ENotFound},
	{"cloudsso", "*SSOLogon*", reset.EConflict},
	{"cloudsso", "*SSOLogin*", reset.EConflict},
	{"cloudsso", "*SSOEnabled*", reset.EConflict},
	{"cloudsso", "*SSO.Enabled*", reset.EConflict},
	{"cloudsso", "*SSO.Logon*", reset.EConflict},
	{"cloudsso", "OperationConflict*", reset.EConflict},
	{"cloudsso", "InvalidPassword*", reset.EInvalid},
	{"cloudsso", "*PasswordPolicy*", reset.EInvalid},

	// BaaS [baas], assumed.
	{"baas", "*OrganizationNotFound*", reset.ENotFound},
	{"baas", "*UserNotFound*", reset.ENotFound},
	{"baas", "*NotExist*", reset.ENotFound},
	{"baas", "*Password*", reset.EInvalid},

	// The role's missing permission: only the documented codes [common],
	// [kms]. An unrecognised 401/403 is not taken for one.
	{"", "Forbidden.RAM", reset.EForbidden},
	{"", "Forbidden.NoPermission", reset.EForbidden},
	{"", "NoPermission", reset.EForbidden},

	// Parameters the service refused [common]: the request's values.
	{"", "InvalidParameter*", reset.EInvalid},
	{"", "MissingParameter*", reset.EInvalid},
}

// matchCode reports whether code matches pattern (see codeRule).
func matchCode(pattern, code string) bool {
	p, c := strings.ToLower(pattern), strings.ToLower(code)
	pre, suf := strings.HasPrefix(p, "*"), strings.HasSuffix(p, "*")
	p = strings.Trim(p, "*")
	switch {
	case pre && suf:
		return strings.Contains(c, p)
	case pre:
		return strings.HasSuffix(c, p)
	case suf:
		return strings.HasPrefix(c, p)
	}
	return c == p
}

// classOf classifies an API error by the table, then by HTTP status: 429
// throttled, 503 unavailable (retried), any other status upstream. An
// unrecognised 4xx is never the caller's fault nor the role's missing
// permission: pwreset validated the request, so an answer it does not
// know is the service's, to be looked at in the log (which names the code).
func classOf(a *APIError) reset.ErrorCode {
	for _, r := range codeRules {
		if (r.service == "" || r.service == a.Service) && matchCode(r.pattern, a.Code) {
			return r.class
		}
	}
	switch a.StatusCode {
	case 429:
		return reset.EThrottled
	case 503:
		return reset.EUnavailable
	}
	return reset.EUpstream
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
