package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

func TestHTTPOK(t *testing.T) {
	tests := []struct {
		name    string
		event   handler.HTTPEvent
		wantKey string
		want    []reset.Target
		batch   bool
		dryRun  bool
	}{
		{
			name:    "OKCloudSSOKeyFromHeader",
			event:   httpEvent(cloudssoBody, map[string]string{"Content-Type": "application/json", "Idempotency-Key": "ticket-48213"}),
			wantKey: "ticket-48213",
			want:    []reset.Target{aliceTarget},
		},
		{
			name:    "OKHeaderNamesAnyCase",
			event:   httpEvent(cloudssoBody, map[string]string{"content-type": "application/json; charset=UTF-8", "idempotency-key": "ticket-1"}),
			wantKey: "ticket-1",
			want:    []reset.Target{aliceTarget},
		},
		{
			name:    "OKKeyFromRequestID",
			event:   httpEvent(fabricBody, nil),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
		},
		{
			name:    "OKNoContentType",
			event:   httpEvent(fabricBody, map[string]string{}),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
		},
		{
			name:    "OKJSONSuffixType",
			event:   httpEvent(fabricBody, map[string]string{"Content-Type": "application/vnd.pwreset+json"}),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
		},
		{
			name: "OKBase64Body",
			event: func() handler.HTTPEvent {
				ev := httpEvent(base64.StdEncoding.EncodeToString([]byte(fabricBody)), nil)
				ev.IsBase64Encoded = true
				return ev
			}(),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
		},
		{
			name:    "OKBatch",
			event:   httpEvent(batchBody, nil),
			wantKey: testRequestID,
			want: []reset.Target{
				{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab13"},
				{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab14"},
				{Kind: reset.KindFabric, OrganizationID: "peers-aaaaaa2-1eqnj5o5wab12", Username: "asian02", Location: "cn-hangzhou"},
			},
			batch: true,
		},
		{
			name:    "OKBatchOfOne",
			event:   httpEvent(`{"targets":[`+fabricBody+`]}`, nil),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
			batch:   true,
		},
		{
			name:    "OKDryRun",
			event:   httpEvent(`{"dryRun":true,"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou"}`, nil),
			wantKey: testRequestID,
			want:    []reset.Target{fabricUser},
			dryRun:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, nil)
			resp, body := MustHTTP(t, h, tt.event)
			require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", resp.Body)
			assert.Equal(t, "application/json; charset=utf-8", resp.Headers["Content-Type"])
			assert.Equal(t, "no-store", resp.Headers["Cache-Control"])
			assert.False(t, resp.IsBase64Encoded)

			reqs := h.rot.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, reset.Request{IdempotencyKey: handler.ScopedKey("http", tt.wantKey), Targets: tt.want, Batch: tt.batch, DryRun: tt.dryRun,
				Trigger: "http", RequestID: testRequestID}, reqs[0], "the trigger and request id reach the outcome events")

			assert.Equal(t, testRequestID, body.RequestID)
			assert.Nil(t, body.Error)
			require.Len(t, body.Results, len(tt.want))
			for i, r := range body.Results {
				w := tt.want[i]
				assert.Equal(t, w.Kind, r.Target)
				assert.Equal(t, w.DirectoryID, r.DirectoryID)
				assert.Equal(t, w.UserID, r.UserID)
				assert.Equal(t, w.OrganizationID, r.OrganizationID)
				assert.Equal(t, w.Username, r.Username)
				assert.Equal(t, w.Location, r.Location)
				assert.Equal(t, w.SecretName("pwreset/"), r.SecretName)
				assert.Equal(t, reset.VersionID(handler.ScopedKey("http", tt.wantKey), w), r.VersionID)
				assert.Nil(t, r.Error)
				if tt.dryRun {
					assert.Equal(t, reset.StatusValidated, r.Status)
				} else {
					assert.Equal(t, reset.StatusRotated, r.Status)
				}
			}
		})
	}
}

func TestHTTPRejected(t *testing.T) {
	big := `{"target":"fabric","organizationId":"` + strings.Repeat("a", handler.MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		event  handler.HTTPEvent
		status int
		code   handler.ErrorCode
		msg    string // a part of the message
	}{
		{"ErrMethodGet", method(httpEvent("", nil), "GET"), 405, handler.CodeMethodNotAllowed, "method GET is not allowed: use POST"},
		{"ErrMethodPut", method(httpEvent(cloudssoBody, nil), "PUT"), 405, handler.CodeMethodNotAllowed, "use POST"},
		{"ErrMethodLowerCase", method(httpEvent(cloudssoBody, nil), "post"), 405, handler.CodeMethodNotAllowed, "method (unknown)"},
		{"ErrContentTypeText", httpEvent(cloudssoBody, map[string]string{"Content-Type": "text/plain"}), 415, handler.CodeUnsupportedMediaType, "Content-Type"},
		{"ErrContentTypeForm", httpEvent(cloudssoBody, map[string]string{"content-type": "application/x-www-form-urlencoded"}), 415, handler.CodeUnsupportedMediaType, "Content-Type"},
		{"ErrContentTypeCharset", httpEvent(cloudssoBody, map[string]string{"Content-Type": "application/json; charset=latin1"}), 415, handler.CodeUnsupportedMediaType, "utf-8"},
		{"ErrContentTypeMalformed", httpEvent(cloudssoBody, map[string]string{"Content-Type": "application/json; ="}), 415, handler.CodeUnsupportedMediaType, "Content-Type"},
		{"ErrBodyTooLarge", httpEvent(big, nil), 413, handler.CodePayloadTooLarge, "at most 262144 bytes"},
		{"ErrBase64BodyTooLarge", base64Event(big), 413, handler.CodePayloadTooLarge, "at most"},
		{"ErrBase64Invalid", func() handler.HTTPEvent { ev := httpEvent("not base64!", nil); ev.IsBase64Encoded = true; return ev }(), 400, handler.CodeInvalidParameter, "not valid Base64"},
		{"ErrIdempotencyKeySpace", httpEvent(cloudssoBody, map[string]string{"Idempotency-Key": "a b"}), 400, handler.CodeInvalidParameter, "Idempotency-Key: must hold only printable ASCII"},
		{"ErrIdempotencyKeyEmpty", httpEvent(cloudssoBody, map[string]string{"idempotency-key": ""}), 400, handler.CodeInvalidParameter, "Idempotency-Key: is required"},
		{"ErrIdempotencyKeyTooLong", httpEvent(cloudssoBody, map[string]string{"Idempotency-Key": strings.Repeat("k", 257)}), 400, handler.CodeInvalidParameter, "Idempotency-Key: must be at most 256"},
		{"ErrIdempotencyKeyUnicode", httpEvent(cloudssoBody, map[string]string{"Idempotency-Key": "ключ"}), 400, handler.CodeInvalidParameter, "Idempotency-Key"},
		{"ErrIdempotencyKeyTwoCases", httpEvent(cloudssoBody, map[string]string{"idempotency-key": "a", "IDEMPOTENCY-KEY": "b"}), 400, handler.CodeInvalidParameter,
			"Idempotency-Key: the header is given 2 times, with names that differ only in case: it is ambiguous"},
		{"ErrContentTypeTwoCases", httpEvent(cloudssoBody, map[string]string{"Content-Type": "application/json", "content-type": "text/plain"}), 400, handler.CodeInvalidParameter,
			"Content-Type: the header is given 2 times"},
		{"ErrQueryDryRun", query(httpEvent(cloudssoBody, nil), map[string]string{"dryRun": "true"}), 400, handler.CodeInvalidParameter,
			"query parameter dryRun: is not known: pwreset takes no query parameter (dryRun goes in the body)"},
		{"ErrQueryFirstNamed", query(httpEvent(cloudssoBody, nil), map[string]string{"zeta": "1", "alpha": ""}), 400, handler.CodeInvalidParameter, "query parameter alpha: is not known"},
		{"ErrQueryNameNotShown", query(httpEvent(cloudssoBody, nil), map[string]string{"Hunter2!Hunter2!": ""}), 400, handler.CodeInvalidParameter, "query parameter (a parameter whose name is not shown)"},
		{"ErrBodyEmpty", httpEvent("", nil), 400, handler.CodeInvalidParameter, "body: is empty"},
		{"ErrBodyNotJSON", httpEvent("target=cloudsso", nil), 400, handler.CodeInvalidParameter, "body: is not valid JSON (at byte 2)"},
		{"ErrBodyTruncated", httpEvent(`{"target":"cloudsso",`, nil), 400, handler.CodeInvalidParameter, "body: is not valid JSON"},
		{"ErrBodyArray", httpEvent(`[`+cloudssoBody+`]`, nil), 400, handler.CodeInvalidParameter, "body: must be a JSON object"},
		{"ErrTrailingData", httpEvent(cloudssoBody+`{}`, nil), 400, handler.CodeInvalidParameter, "body: holds data after the request object"},
		{"ErrSelectInBatch", httpEvent(`{"targets":[`+cloudssoBody+`],"select":{}}`, nil), 400, handler.CodeInvalidParameter, "select: must not be given with targets"},
		{"ErrSelectUnknownField", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{"group":"x"},"maxTargets":5}`, nil), 400, handler.CodeInvalidParameter, "select.group: is not a known field"},
		{"ErrSelectExcludeNotArray", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{"exclude":"u-1"},"maxTargets":5}`, nil), 400, handler.CodeInvalidParameter, "select.exclude: must be an array of strings, got a string"},
		{"ErrSelectTwice", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{"status":"Enabled","status":"Disabled"},"maxTargets":5}`, nil), 400, handler.CodeInvalidParameter, "select.status: is given twice"},
		{"ErrMaxTargetsFraction", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{},"maxTargets":2.5}`, nil), 400, handler.CodeInvalidParameter, "maxTargets: must be a whole number from 1 to 100000"},
		{"ErrMaxTargetsTooMany", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{},"maxTargets":100001}`, nil), 400, handler.CodeInvalidParameter, "maxTargets: must be a whole number from 1 to 100000"},
		{"ErrMaxTargetsString", httpEvent(`{"target":"cloudsso","directoryId":"d-1","select":{},"maxTargets":"5"}`, nil), 400, handler.CodeInvalidParameter, "maxTargets: must be a number, got a string"},
		{"ErrSweepWithTarget", httpEvent(`{"sweep":{},"target":"cloudsso"}`, nil), 400, handler.CodeInvalidParameter, "sweep: must be the only field besides dryRun"},
		{"ErrSweepNotEmpty", httpEvent(`{"sweep":{"prefix":"x"}}`, nil), 400, handler.CodeInvalidParameter, "sweep: must be an empty object"},
		{"ErrSweepNotObject", httpEvent(`{"sweep":true}`, nil), 400, handler.CodeInvalidParameter, "sweep: must be an object, got a boolean"},
		{"ErrUnknownField", httpEvent(`{"target":"cloudsso","directoryId":"d-1","userId":"u-1","note":"x"}`, nil), 400, handler.CodeInvalidParameter, "note: is not a known field"},
		{"ErrFieldNameCase", httpEvent(`{"target":"cloudsso","DirectoryId":"d-1","userId":"u-1"}`, nil), 400, handler.CodeInvalidParameter, "DirectoryId: is not a known field"},
		{"ErrPasswordField", httpEvent(`{"target":"cloudsso","directoryId":"d-1","userId":"u-1","password":"Hunter2!Hunter2!"}`, nil), 400, handler.CodeInvalidParameter, "password: must not be given"},
		{"ErrPasswordInBatch", httpEvent(`{"targets":[{"target":"fabric","password":"Hunter2!Hunter2!"}]}`, nil), 400, handler.CodeInvalidParameter, "targets[0].password: must not be given"},
		{"ErrUnknownFieldInBatch", httpEvent(`{"targets":[`+fabricBody+`,{"target":"fabric","dryRun":true}]}`, nil), 400, handler.CodeInvalidParameter, "targets[1].dryRun: is not a known field"},
		{"ErrDuplicateKey", httpEvent(`{"target":"cloudsso","directoryId":"d-1","directoryId":"d-2","userId":"u-1"}`, nil), 400, handler.CodeInvalidParameter, "directoryId: is given twice"},
		{"ErrNumberForString", httpEvent(`{"target":"cloudsso","directoryId":12,"userId":"u-1"}`, nil), 400, handler.CodeInvalidParameter, "directoryId: must be a string, got a number"},
		{"ErrNullForString", httpEvent(`{"target":null,"directoryId":"d-1","userId":"u-1"}`, nil), 400, handler.CodeInvalidParameter, "target: must be a string, got null"},
		{"ErrStringForBool", httpEvent(`{"target":"cloudsso","directoryId":"d-1","userId":"u-1","requirePasswordResetForNextLogin":"yes"}`, nil), 400, handler.CodeInvalidParameter, "requirePasswordResetForNextLogin: must be true or false, got a string"},
		{"ErrDryRunNumber", httpEvent(`{"dryRun":1,"target":"fabric"}`, nil), 400, handler.CodeInvalidParameter, "dryRun: must be true or false, got a number"},
		{"ErrObjectForString", httpEvent(`{"target":{"kind":"cloudsso"}}`, nil), 400, handler.CodeInvalidParameter, "target: must be a string, got an object"},
		{"ErrTargetsObject", httpEvent(`{"targets":{"target":"fabric"}}`, nil), 400, handler.CodeInvalidParameter, "targets: must be an array of targets, got an object"},
		{"ErrTargetsEntryNotObject", httpEvent(`{"targets":["fabric"]}`, nil), 400, handler.CodeInvalidParameter, "targets[0]: must be a JSON object"},
		{"ErrTargetsEmpty", httpEvent(`{"targets":[]}`, nil), 400, handler.CodeInvalidParameter, "targets: must hold at least one target"},
		{"ErrTargetAndTargets", httpEvent(`{"target":"fabric","targets":[`+fabricBody+`]}`, nil), 400, handler.CodeInvalidParameter, "targets: must not be given with target"},
		{"ErrSingleFieldInBatch", httpEvent(`{"username":"asian01","targets":[`+fabricBody+`]}`, nil), 400, handler.CodeInvalidParameter, "username: must be inside an entry of targets"},
		{"ErrNoTarget", httpEvent(`{"directoryId":"d-1","userId":"u-1"}`, nil), 400, handler.CodeInvalidParameter, "target: is required"},
		{"ErrEmptyObject", httpEvent(`{}`, nil), 400, handler.CodeInvalidParameter, "target: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, nil)
			resp, body := MustHTTP(t, h, tt.event)
			assert.Equal(t, tt.status, resp.StatusCode, "body: %s", resp.Body)
			require.NotNil(t, body.Error, "body: %s", resp.Body)
			assert.Equal(t, tt.code, body.Error.Code)
			assert.Contains(t, body.Error.Message, tt.msg)
			assert.Equal(t, testRequestID, body.RequestID)
			assert.Empty(t, body.Results)
			assert.Empty(t, h.rot.requests(), "an invalid request must reach no cloud API")
			assert.NotContains(t, resp.Body, "Hunter2!")
			assert.NotContains(t, h.log.String(), "Hunter2!")
			if tt.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", resp.Headers["Allow"])
			} else {
				assert.NotContains(t, resp.Headers, "Allow")
			}
		})
	}
}

func method(ev handler.HTTPEvent, m string) handler.HTTPEvent {
	ev.RequestContext.HTTP.Method = m
	return ev
}

func query(ev handler.HTTPEvent, params map[string]string) handler.HTTPEvent {
	ev.QueryParameters = params
	return ev
}

func base64Event(body string) handler.HTTPEvent {
	ev := httpEvent(base64.StdEncoding.EncodeToString([]byte(body)), nil)
	ev.IsBase64Encoded = true
	return ev
}

// TestHTTPStatus checks that each kind of failure the rotator reports for
// the whole request maps to its status and code, with the safe message.
func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   handler.ErrorCode
		msg    string
	}{
		{"ErrInvalid", reset.FieldError("directoryId", `must be "d-" followed by 1 to 62 lower-case letters or digits`), 400, handler.CodeInvalidParameter, `directoryId: must be "d-" followed`},
		{"ErrForbidden", &reset.Error{Code: reset.EForbidden, Field: "directoryId", Message: "is not on the allow-list"}, 403, handler.CodeForbidden, "directoryId: is not on the allow-list"},
		{"ErrNotFound", reset.Errorf(reset.ENotFound, "the user does not exist"), 404, handler.CodeNotFound, "the user does not exist"},
		{"ErrConflict", reset.Errorf(reset.EConflict, "SSO logon is enabled"), 409, handler.CodeConflict, "SSO logon is enabled"},
		{"ErrThrottled", reset.Errorf(reset.EThrottled, "KMS throttled the call"), 429, handler.CodeThrottling, "KMS throttled"},
		{"ErrUnavailable", reset.Errorf(reset.EUnavailable, "KMS is unreachable"), 503, handler.CodeServiceUnavailable, "unreachable"},
		{"ErrUpstream", reset.Errorf(reset.EUpstream, "CloudSSO failed"), 502, handler.CodeUpstreamError, "CloudSSO failed"},
		{"ErrInternal", reset.Errorf(reset.EInternal, "bug"), 500, handler.CodeInternalError, "bug"},
		{"ErrWrapped", errors.Join(errors.New("context"), reset.Errorf(reset.EThrottled, "slow down")), 429, handler.CodeThrottling, "slow down"},
		{"ErrUnclassifiedHidesText", errors.New(`upstream said {"Password":"Sup3r$ecret"}`), 500, handler.CodeInternalError, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: func(_ context.Context, _ reset.Request) ([]reset.Result, error) { return nil, tt.err }})
			resp, body := MustHTTP(t, h, httpEvent(cloudssoBody, nil))
			assert.Equal(t, tt.status, resp.StatusCode)
			require.NotNil(t, body.Error)
			assert.Equal(t, tt.code, body.Error.Code)
			assert.Contains(t, body.Error.Message, tt.msg)
			assert.NotContains(t, resp.Body, "Sup3r$ecret")
		})
	}
}

// TestHTTPBatchStatus checks the rule for a batch in which some targets
// failed: the most severe failure's status, every result in the body.
func TestHTTPBatchStatus(t *testing.T) {
	k13 := "cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab13"
	k14 := "cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab14"
	kFab := "fabric/peers-aaaaaa2-1eqnj5o5wab12/asian02"
	tests := []struct {
		name   string
		fail   map[string]error
		status int
		code   handler.ErrorCode
	}{
		{"OKAllRotated", nil, 200, ""},
		{"ErrOneNotFound", map[string]error{k14: reset.Errorf(reset.ENotFound, "no such user")}, 404, handler.CodeNotFound},
		{"ErrRetryableOutranksPermanent", map[string]error{
			k13:  reset.Errorf(reset.ENotFound, "no such user"),
			kFab: reset.Errorf(reset.EThrottled, "throttled"),
		}, 429, handler.CodeThrottling},
		{"ErrServerOutranksCaller", map[string]error{
			k13: reset.Errorf(reset.EForbidden, "the role may not act"),
			k14: reset.Errorf(reset.EConflict, "SSO logon is enabled"),
		}, 409, handler.CodeConflict},
		{"ErrInternalOutranksAll", map[string]error{
			k13:  reset.Errorf(reset.EUpstream, "CloudSSO failed"),
			k14:  errors.New("unclassified"),
			kFab: reset.Errorf(reset.EUnavailable, "deadline"),
		}, 500, handler.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: failTargets(tt.fail)})
			resp, body := MustHTTP(t, h, httpEvent(batchBody, nil))
			assert.Equal(t, tt.status, resp.StatusCode, "body: %s", resp.Body)
			require.Len(t, body.Results, 3, "every target's outcome is in the body")
			if tt.code == "" {
				assert.Nil(t, body.Error)
			} else {
				require.NotNil(t, body.Error)
				assert.Equal(t, tt.code, body.Error.Code)
				assert.Contains(t, body.Error.Message, "of 3 targets failed")
			}
			for _, r := range body.Results {
				key := r.SecretName[len("pwreset/"):]
				if err, failed := tt.fail[key]; failed {
					assert.Equal(t, reset.StatusFailed, r.Status)
					require.NotNil(t, r.Error, key)
					assert.Equal(t, handler.APICode(reset.ErrorCodeOf(err)), r.Error.Code)
					assert.Contains(t, body.Error.Message, key)
				} else {
					assert.Equal(t, reset.StatusRotated, r.Status)
					assert.Nil(t, r.Error)
				}
			}
		})
	}
}

func TestHTTPResultStatuses(t *testing.T) {
	tests := []struct {
		name   string
		result reset.Result
		status int
		code   handler.ErrorCode
	}{
		{"OKSuperseded", reset.Result{Status: reset.StatusSuperseded}, 200, ""},
		{"OKResumed", reset.Result{Status: reset.StatusRotated, Resumed: true}, 200, ""},
		{"ErrSkipped", reset.Result{Status: reset.StatusSkipped, Err: reset.Errorf(reset.EUnavailable, "the deadline is too near")}, 503, handler.CodeServiceUnavailable},
		{"ErrFailedWithoutCause", reset.Result{Status: reset.StatusFailed}, 500, handler.CodeInternalError},
		{"ErrNoStatus", reset.Result{}, 500, handler.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: func(_ context.Context, req reset.Request) ([]reset.Result, error) {
				r := tt.result
				r.Target, r.SecretName, r.VersionID = req.Targets[0], req.Targets[0].SecretName("pwreset/"), "v1"
				return []reset.Result{r}, nil
			}})
			resp, body := MustHTTP(t, h, httpEvent(cloudssoBody, nil))
			assert.Equal(t, tt.status, resp.StatusCode)
			require.Len(t, body.Results, 1)
			assert.Equal(t, tt.result.Resumed, body.Results[0].Resumed)
			if tt.code == "" {
				assert.Nil(t, body.Error)
				assert.Equal(t, tt.result.Status, body.Results[0].Status)
				return
			}
			require.NotNil(t, body.Results[0].Error)
			assert.Equal(t, tt.code, body.Results[0].Error.Code)
			assert.NotEqual(t, reset.Status(""), body.Results[0].Status)
		})
	}
}

// TestHTTPEventShape: the event is unmarshalled once into every trigger's
// fields; a requestContext makes it an HTTP trigger's whatever its value,
// and a value of the wrong type in a field only another trigger reads is
// ignored, as the HTTP event alone ignores it.
func TestHTTPEventShape(t *testing.T) {
	with := func(ev any, key string, value any) json.RawMessage {
		var m map[string]any
		require.NoError(t, json.Unmarshal(MustJSON(t, ev), &m))
		m[key] = value
		return MustJSON(t, m)
	}
	tests := []struct {
		name   string
		event  json.RawMessage
		status int
		msg    string // a part of the error's message; "" for none
	}{
		{"OKForeignFieldType", with(httpEvent(cloudssoBody, nil), "id", 7), http.StatusOK, ""},
		{"OKForeignTimerFieldType", with(httpEvent(cloudssoBody, nil), "payload", []int{1}), http.StatusOK, ""},
		{"ErrEmptyRequestContext", with(httpEvent(cloudssoBody, nil), "requestContext", map[string]any{}), http.StatusMethodNotAllowed, "method (unknown) is not allowed"},
		{"ErrNullRequestContext", with(httpEvent(cloudssoBody, nil), "requestContext", nil), http.StatusMethodNotAllowed, "is not allowed: use POST"},
		{"ErrMethodType", with(httpEvent(cloudssoBody, nil), "requestContext", map[string]any{"http": map[string]any{"method": 5}}), http.StatusBadRequest,
			"event: field requestContext.http.method must be a string, got number"},
		{"ErrBodyTypeAfterForeign", with(with(httpEvent(cloudssoBody, nil), "id", 7), "body", 5), http.StatusBadRequest, "event: field body must be a string, got number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, nil)
			out, err := h.Invoke(MustContext(t), tt.event)
			require.NoError(t, err, "an HTTP trigger is always answered with a response")
			resp, ok := out.(*handler.HTTPResponse)
			require.True(t, ok, "got %T, want *handler.HTTPResponse", out)
			assert.Equal(t, tt.status, resp.StatusCode, "body: %s", resp.Body)
			var body handler.Response
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
			if tt.msg == "" {
				assert.Nil(t, body.Error)
				assert.Len(t, h.rot.requests(), 1)
				return
			}
			require.NotNil(t, body.Error, "body: %s", resp.Body)
			assert.Contains(t, body.Error.Message, tt.msg)
			assert.Empty(t, h.rot.requests())
		})
	}
}
