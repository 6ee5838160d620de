package handler

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/pwreset/pwreset/internal/reset"
)

// MaxBodyBytes bounds an HTTP request's body, decoded: a request of
// reset.MaxTargets targets fits, and nothing much larger is read. The HTTP
// trigger invokes synchronously, for which Function Compute takes up to
// 32 MB (see limits.go), so this bound is pwreset's own and the body
// reaches the function to be refused with 413.
const MaxBodyBytes = 256 << 10

// IdempotencyKeyHeader is the HTTP header that carries the caller's
// idempotency key. A caller that retries a call with the same key finishes
// the same rotations instead of starting new ones. To retry a call made
// without it, send that call's requestId as the key.
const IdempotencyKeyHeader = "Idempotency-Key"

// decodeHTTP decodes an HTTP trigger's event into d: one envelope, keyed by
// the Idempotency-Key header, else the request id. A refusal of the HTTP
// request itself is an *edgeError (405, 413, 415) or an EInvalid
// *reset.Error (400).
func decodeHTTP(ev HTTPEvent, d *delivery) error {
	if d.requestID == "" {
		d.requestID = ev.RequestContext.RequestID
	}
	body, err := httpBody(ev)
	if err != nil {
		return err
	}
	key := d.requestID
	if k, ok := lookup(ev.Headers, IdempotencyKeyHeader); ok {
		if rule := checkKey(k); rule != "" {
			return reset.FieldError(IdempotencyKeyHeader, "%s", rule)
		}
		key = k
	} else if rule := checkKey(key); rule != "" {
		return reset.Errorf(reset.EInternal, "the request id, the default idempotency key, %s", rule)
	}
	d.envs = []envelope{newEnvelope(ScopedKey("http", key), body, "body", slog.String("idempotencyKey", key))}
	return nil
}

// httpBody checks the HTTP request (method, query, headers, media type,
// size) and returns its body, decoded from Base64 when marked so.
func httpBody(ev HTTPEvent) ([]byte, error) {
	if m := ev.RequestContext.HTTP.Method; m != http.MethodPost {
		return nil, &edgeError{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method " + safeToken(m) + " is not allowed: use POST"}
	}
	if name, ok := firstQueryParameter(ev.QueryParameters); ok {
		// Like an unknown body field: a parameter pwreset ignored could have
		// meant something to the caller (?dryRun=true would rotate for real).
		return nil, reset.Errorf(reset.EInvalid, "query parameter %s: is not known: pwreset takes no query parameter (dryRun goes in the body)", name)
	}
	for _, name := range headersRead {
		if n := count(ev.Headers, name); n > 1 {
			// The event's headers are a JSON object: names that differ only in
			// case are different keys, and which one lookup finds would depend
			// on map order.
			return nil, reset.FieldError(name, "the header is given %d times, with names that differ only in case: it is ambiguous; send it once", n)
		}
	}
	if ct := header(ev.Headers, "Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		switch {
		case err != nil, mt != "application/json" && !strings.HasSuffix(mt, "+json"):
			return nil, &edgeError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type: must be application/json"}
		case params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8"):
			return nil, &edgeError{http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type: the charset must be utf-8"}
		}
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		// Check the size first, so an oversized body is never decoded.
		if base64.StdEncoding.DecodedLen(len(ev.Body)) > MaxBodyBytes+2 {
			return nil, tooLarge()
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, reset.FieldError("body", "is marked isBase64Encoded but is not valid Base64")
		}
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return body, nil
}

func tooLarge() *edgeError {
	return &edgeError{http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("body: must be at most %d bytes: split the batch into several requests", MaxBodyBytes)}
}

// httpResponse shapes an HTTP trigger's answer: resp as its JSON body.
func httpResponse(status int, resp Response) *HTTPResponse {
	body, err := json.Marshal(resp)
	if err != nil {
		// Response holds only strings, booleans and integers.
		status = http.StatusInternalServerError
		body = []byte(`{"requestId":"","error":{"code":"InternalError","message":"internal error"}}`)
	}
	headers := map[string]string{
		"Content-Type": "application/json; charset=utf-8",
		// Results name where passwords are kept; no cache should keep them.
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	if status == http.StatusMethodNotAllowed {
		headers["Allow"] = http.MethodPost
	}
	return &HTTPResponse{StatusCode: status, Headers: headers, Body: string(body)}
}

// headersRead are the request headers pwreset reads: each may be given once.
var headersRead = []string{"Content-Type", IdempotencyKeyHeader}

// count returns how many header names match name case-insensitively.
func count(headers map[string]string, name string) int {
	n := 0
	for k := range headers {
		if strings.EqualFold(k, name) {
			n++
		}
	}
	return n
}

// firstQueryParameter returns the alphabetically first query parameter's
// name, shown only if it looks like a name (it may be a pasted value).
func firstQueryParameter(params map[string]string) (string, bool) {
	if len(params) == 0 {
		return "", false
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	if validName(names[0]) {
		return names[0], true
	}
	return "(a parameter whose name is not shown)", true
}

// header returns the value of a header, matched case-insensitively.
func header(headers map[string]string, name string) string {
	v, _ := lookup(headers, name)
	return v
}

func lookup(headers map[string]string, name string) (string, bool) {
	if v, ok := headers[name]; ok {
		return v, true
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// checkKey returns the rule a caller-given idempotency key (or part of
// one) breaks, or "": reset's one rule, at reset.MaxIdempotencyKeyLength.
func checkKey(key string) string {
	return reset.IdempotencyKeyRule(key, reset.MaxIdempotencyKeyLength)
}

// safeToken returns s if it is a short HTTP token, else a placeholder, so
// that an error never echoes arbitrary input.
func safeToken(s string) string {
	if s == "" || len(s) > 16 {
		return "(unknown)"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return "(unknown)"
		}
	}
	return s
}
