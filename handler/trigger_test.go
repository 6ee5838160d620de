package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

func cloudEvent(id string, data string) handler.CloudEvent {
	return handler.CloudEvent{
		SpecVersion: "1.0", ID: id, Source: "acs:secops.example", Type: "secops:Alert:CredentialLeakSuspected",
		Data: json.RawMessage(data), AliyunAccountID: "1234567890123456", AliyunEventBusName: "pwreset-bus", AliyunRegionID: "cn-hangzhou",
	}
}

func timerEvent(name, time, payload string) handler.TimerEvent {
	return handler.TimerEvent{TriggerName: name, TriggerTime: time, Payload: payload}
}

// TestEventsOK checks each event trigger's idempotency key and answer.
func TestEventsOK(t *testing.T) {
	tests := []struct {
		name     string
		event    any
		wantKeys []string // one per Rotate call
		results  int
	}{
		{"OKEventBridge", cloudEvent("evt-1", cloudssoBody), []string{handler.ScopedKey("eventbridge", "acs:secops.example", "evt-1")}, 1},
		{"OKEventBridgeDataAsString", cloudEvent("evt-2", string(MustJSON(t, fabricBody))), []string{handler.ScopedKey("eventbridge", "acs:secops.example", "evt-2")}, 1},
		{"OKEventBridgeStreaming", []handler.CloudEvent{cloudEvent("evt-3", cloudssoBody), cloudEvent("evt-4", batchBody)}, []string{handler.ScopedKey("eventbridge", "acs:secops.example", "evt-3"), handler.ScopedKey("eventbridge", "acs:secops.example", "evt-4")}, 4},
		{"OKTimer", timerEvent("pwreset-monthly", "2025-06-01T02:00:00Z", batchBody), []string{handler.ScopedKey("timer", "pwreset-monthly", "2025-06-01T02:00:00Z")}, 3},
		{"OKDirectInvoke", json.RawMessage(fabricBody), []string{handler.ScopedKey("direct", testRequestID)}, 1},
		{"OKDirectInvokeBatch", json.RawMessage(batchBody), []string{handler.ScopedKey("direct", testRequestID)}, 3},
		{"OKEventBridgeForeignFieldType", json.RawMessage(`{"specversion":"1.0","id":"evt-5","source":"s","data":` + cloudssoBody + `,"body":5,"triggerName":7}`),
			[]string{handler.ScopedKey("eventbridge", "s", "evt-5")}, 1},
		{"OKTimerForeignFieldType", json.RawMessage(`{"triggerName":"t","triggerTime":"2025-06-01T02:00:00Z","payload":` + string(MustJSON(t, batchBody)) + `,"id":7}`),
			[]string{handler.ScopedKey("timer", "t", "2025-06-01T02:00:00Z")}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, nil)
			out, err := h.Invoke(MustContext(t), MustJSON(t, tt.event))
			require.NoError(t, err)
			resp, ok := out.(*handler.Response)
			require.True(t, ok, "got %T, want *handler.Response", out)
			assert.Equal(t, testRequestID, resp.RequestID)
			assert.Nil(t, resp.Error)
			require.Len(t, resp.Results, tt.results)
			for _, r := range resp.Results {
				assert.Equal(t, reset.StatusRotated, r.Status)
				assert.NotEmpty(t, r.SecretName)
				assert.NotEmpty(t, r.VersionID)
			}
			var keys []string
			for _, r := range h.rot.requests() {
				keys = append(keys, r.IdempotencyKey)
			}
			assert.Equal(t, tt.wantKeys, keys)
		})
	}
}

// TestEventsFail checks that a failed event answers a function error whose
// type says whether delivering it again can help.
func TestEventsFail(t *testing.T) {
	throttled := func(context.Context, reset.Request) ([]reset.Result, error) {
		return nil, reset.Errorf(reset.EThrottled, "KMS throttled the call")
	}
	invalid := func(context.Context, reset.Request) ([]reset.Result, error) {
		return nil, reset.FieldError("userId", `must be "u-" followed by 1 to 62 lower-case letters or digits`)
	}
	forbidden := func(context.Context, reset.Request) ([]reset.Result, error) {
		return nil, &reset.Error{Code: reset.EForbidden, Field: "organizationId", Message: "is not on the allow-list"}
	}
	tests := []struct {
		name      string
		event     any
		rotate    func(context.Context, reset.Request) ([]reset.Result, error)
		retryable bool
		code      handler.ErrorCode
		msg       string
		calls     int
	}{
		{"ErrEventBridgeThrottled", cloudEvent("evt-1", cloudssoBody), throttled, true, handler.CodeThrottling, "KMS throttled the call", 1},
		{"ErrEventBridgeInvalid", cloudEvent("evt-1", cloudssoBody), invalid, false, handler.CodeInvalidParameter, `userId: must be "u-"`, 1},
		{"ErrEventBridgeForbidden", cloudEvent("evt-1", fabricBody), forbidden, false, handler.CodeForbidden, "organizationId: is not on the allow-list", 1},
		{"ErrEventBridgeTargetNotFound", cloudEvent("evt-1", cloudssoBody),
			failTargets(map[string]error{aliceTarget.Key(): reset.Errorf(reset.ENotFound, "no such user")}), false, handler.CodeNotFound,
			"cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12: NotFound: no such user", 1},
		{"ErrEventBridgeTargetUnavailable", cloudEvent("evt-1", cloudssoBody),
			failTargets(map[string]error{aliceTarget.Key(): reset.Errorf(reset.EUnavailable, "deadline too near")}), true, handler.CodeServiceUnavailable, "deadline too near", 1},
		{"ErrEventBridgeNoID", cloudEvent("", cloudssoBody), nil, false, handler.CodeInvalidParameter, "id: is required", 0},
		{"ErrEventBridgeNoData", json.RawMessage(`{"specversion":"1.0","id":"evt-1","source":"s","type":"t"}`), nil, false, handler.CodeInvalidParameter, "data: is empty", 0},
		{"ErrEventBridgeNullData", cloudEvent("evt-1", "null"), nil, false, handler.CodeInvalidParameter, "data: is empty", 0},
		{"ErrEventBridgeDataNumber", cloudEvent("evt-1", "42"), nil, false, handler.CodeInvalidParameter, "data: must be a JSON object", 0},
		{"ErrEventBridgePassword", cloudEvent("evt-1", `{"target":"fabric","password":"Hunter2!Hunter2!"}`), nil, false, handler.CodeInvalidParameter, "password: must not be given", 0},
		{"ErrEventBridgeIDType", json.RawMessage(`{"specversion":"1.0","id":7,"data":{}}`), nil, false, handler.CodeInvalidParameter, "field id must be a string, got number", 0},
		{"ErrEventBridgeSpecVersionType", json.RawMessage(`{"specversion":1,"id":"e","data":{}}`), nil, false, handler.CodeInvalidParameter, "field specversion must be a string, got number", 0},
		{"ErrEventBridgeIDTypeAfterForeign", json.RawMessage(`{"specversion":"1.0","body":5,"id":7,"data":{}}`), nil, false, handler.CodeInvalidParameter, "field id must be a string, got number", 0},
		{"ErrTimerNameType", json.RawMessage(`{"triggerName":7,"triggerTime":"2025-06-01T02:00:00Z","payload":"{}"}`), nil, false, handler.CodeInvalidParameter, "field triggerName must be a string, got number", 0},
		{"ErrStreamingEmpty", []handler.CloudEvent{}, nil, false, handler.CodeInvalidParameter, "the array holds no event", 0},
		{"ErrStreamingNotEvents", json.RawMessage(`[1,2]`), nil, false, handler.CodeInvalidParameter, "event: must be an object, got number", 0},
		{"ErrStreamingOneRetryable", []handler.CloudEvent{cloudEvent("evt-a", cloudssoBody), cloudEvent("evt-b", fabricBody)},
			failTargets(map[string]error{fabricUser.Key(): reset.Errorf(reset.EUpstream, "BaaS failed")}), true, handler.CodeUpstreamError,
			`1 of 2 events failed: event 1: fabric/peers-aaaaaa2-1eqnj5o5wab12/asian01: UpstreamError: BaaS failed`, 2},
		{"ErrStreamingRetryableOutranksInvalid", []handler.CloudEvent{cloudEvent("evt-a", `{"target":"x","bogus":1}`), cloudEvent("evt-b", cloudssoBody)},
			throttled, true, handler.CodeThrottling, `2 of 2 events failed: event 0: bogus: is not a known field; event 1: KMS throttled`, 1},
		{"ErrTimerNoPayload", timerEvent("t", "2025-06-01T02:00:00Z", ""), nil, false, handler.CodeInvalidParameter, "payload: is empty", 0},
		{"ErrTimerPayloadNotJSON", timerEvent("t", "2025-06-01T02:00:00Z", "rotate please"), nil, false, handler.CodeInvalidParameter, "payload: is not valid JSON", 0},
		{"ErrTimerNoTime", timerEvent("t", "", cloudssoBody), nil, false, handler.CodeInvalidParameter, "triggerTime: is required", 0},
		{"ErrTimerNoName", json.RawMessage(`{"triggerTime":"2025-06-01T02:00:00Z","payload":"{}"}`), nil, false, handler.CodeInvalidParameter, "triggerName: is required", 0},
		{"ErrTimerNameWithSpace", timerEvent("my timer", "2025-06-01T02:00:00Z", cloudssoBody), nil, false, handler.CodeInvalidParameter, "triggerName", 0},
		{"ErrTimerThrottled", timerEvent("t", "2025-06-01T02:00:00Z", cloudssoBody), throttled, true, handler.CodeThrottling, "KMS throttled", 1},
		{"ErrDirectUnknownField", json.RawMessage(`{"target":"fabric","secret":"x"}`), nil, false, handler.CodeInvalidParameter, "secret: is not a known field", 0},
		{"ErrUnknownEvent", json.RawMessage(`{"events":[{"eventName":"ObjectCreated:PutObject"}]}`), nil, false, handler.CodeInvalidParameter, "is neither an HTTP trigger, EventBridge or timer event nor a request", 0},
		{"ErrNotJSON", json.RawMessage(`hello`), nil, false, handler.CodeInvalidParameter, "must be a JSON object or array", 0},
		{"ErrMalformedObject", json.RawMessage(`{"target":`), nil, false, handler.CodeInvalidParameter, "event: is not valid JSON", 0},
		{"ErrEmptyEvent", json.RawMessage(``), nil, false, handler.CodeInvalidParameter, "must be a JSON object or array", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: tt.rotate})
			raw, ok := tt.event.(json.RawMessage)
			if !ok {
				raw = MustJSON(t, tt.event)
			}
			out, err := h.Invoke(MustContext(t), raw)
			require.Error(t, err)
			assert.Nil(t, out)
			var retry *handler.RetryableError
			var perm *handler.PermanentError
			if tt.retryable {
				require.True(t, errors.As(err, &retry), "got %T (%v), want *handler.RetryableError", err, err)
				assert.Equal(t, tt.code, retry.Code)
			} else {
				require.True(t, errors.As(err, &perm), "got %T (%v), want *handler.PermanentError", err, err)
				assert.Equal(t, tt.code, perm.Code)
			}
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), string(tt.code)+": "), err.Error())
			assert.NotContains(t, err.Error(), "Hunter2!")
			assert.NotContains(t, h.log.String(), "Hunter2!")
			assert.Len(t, h.rot.requests(), tt.calls)
		})
	}
}

func TestCredentials(t *testing.T) {
	t.Run("OKCopiedFromFCContext", func(t *testing.T) {
		h := MustHandler(t, nil)
		_, err := h.Invoke(MustContext(t), MustJSON(t, cloudEvent("evt-1", cloudssoBody)))
		require.NoError(t, err)
		require.Len(t, h.rot.creds, 1)
		assert.Equal(t, reset.Credentials{
			AccessKeyID:     testCreds.AccessKeyId,
			AccessKeySecret: testCreds.AccessKeySecret,
			SecurityToken:   testCreds.SecurityToken,
		}, h.rot.creds[0])
	})
	t.Run("OKNoneWithoutFCCredentials", func(t *testing.T) {
		h := MustHandler(t, nil)
		ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: testRequestID})
		_, err := h.Invoke(ctx, MustJSON(t, cloudEvent("evt-1", cloudssoBody)))
		require.NoError(t, err)
		require.Len(t, h.rot.creds, 1)
		assert.Equal(t, reset.Credentials{}, h.rot.creds[0], "adapters then use their default chain")
	})
	t.Run("OKNoFCContext", func(t *testing.T) {
		h := MustHandler(t, nil)
		out, err := h.Invoke(context.Background(), MustJSON(t, httpEvent(cloudssoBody, nil)))
		require.NoError(t, err)
		resp := out.(*handler.HTTPResponse)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, resp.Body, `"requestId":"`+testRequestID+`"`, "the HTTP event's own request id stands in")
	})
}

func TestMisconfigured(t *testing.T) {
	cause := errors.Join(errors.New("PASSWORD_LENGTH: must be an integer from 8 to 32, got \"64\""), errors.New("LOG_LEVEL: must be one of ..."))
	h := handler.NewMisconfigured(cause, nil)
	t.Run("ErrHTTP500", func(t *testing.T) {
		out, err := h.Invoke(MustContext(t), MustJSON(t, httpEvent(cloudssoBody, nil)))
		require.NoError(t, err)
		resp, ok := out.(*handler.HTTPResponse)
		require.True(t, ok, "got %T, want *handler.HTTPResponse", out)
		assert.Equal(t, 500, resp.StatusCode)
		var body handler.Response
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
		require.NotNil(t, body.Error)
		assert.Equal(t, handler.CodeFunctionMisconfigured, body.Error.Code)
		assert.Contains(t, body.Error.Message, `PASSWORD_LENGTH: must be an integer from 8 to 32`)
		assert.Empty(t, body.Results)
	})
	for name, ev := range map[string]any{
		"ErrEventBridge": cloudEvent("evt-1", cloudssoBody),
		"ErrTimer":       timerEvent("t", "2025-06-01T02:00:00Z", cloudssoBody),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := h.Invoke(MustContext(t), MustJSON(t, ev))
			assert.Nil(t, out)
			var perm *handler.PermanentError
			require.True(t, errors.As(err, &perm), "got %T, want *handler.PermanentError", err)
			assert.Equal(t, handler.CodeFunctionMisconfigured, perm.Code)
			assert.Contains(t, perm.Message, `PASSWORD_LENGTH: must be an integer from 8 to 32`)
			assert.Contains(t, perm.Message, "; LOG_LEVEL: ")
			assert.NotContains(t, perm.Message, "\n")
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	h := MustHandler(t, &fakeRotator{RotateFn: func(context.Context, reset.Request) ([]reset.Result, error) {
		panic("holding Sup3r$ecret")
	}})
	out, err := h.Invoke(MustContext(t), MustJSON(t, cloudEvent("evt-1", cloudssoBody)))
	assert.Nil(t, out)
	var retry *handler.RetryableError
	require.True(t, errors.As(err, &retry), "got %T, want *handler.RetryableError", err)
	assert.Equal(t, handler.CodeInternalError, retry.Code)
	assert.NotContains(t, err.Error(), "Sup3r$ecret")
	assert.NotContains(t, h.log.String(), "Sup3r$ecret", "a panic's value may quote data; only runtime errors are logged")
	assert.Contains(t, h.log.String(), "panic while handling an invocation")
}

// TestLog checks the invocation's log line: JSON with the request id,
// trigger, key, how many targets and failures, the outcome and the duration
// in milliseconds; one line per invocation (the Rotator logs each target's
// own); no password, nor the raw body.
func TestLog(t *testing.T) {
	h := MustHandler(t, &fakeRotator{RotateFn: rotateAll})
	ev := httpEvent(cloudssoBody, map[string]string{"Idempotency-Key": "ticket-48213"})
	_, _ = MustHTTP(t, h, ev)

	lines := strings.Split(strings.TrimSpace(h.log.String()), "\n")
	require.Len(t, lines, 1, "one line per invocation: %s", h.log.String())
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line), "every log line is JSON: %s", lines[0])
	assert.Equal(t, "invocation", line["msg"])
	assert.Equal(t, "INFO", line["level"])
	assert.Equal(t, testRequestID, line["requestId"])
	assert.Equal(t, "http", line["trigger"])
	assert.Equal(t, "ticket-48213", line["idempotencyKey"])
	assert.Equal(t, "ok", line["outcome"])
	assert.Equal(t, float64(200), line["status"])
	assert.Equal(t, float64(1), line["retryCount"])
	assert.Equal(t, "cn-hangzhou", line["region"])
	assert.Equal(t, float64(1), line["targetCount"])
	assert.Equal(t, float64(0), line["failedCount"])
	assert.IsType(t, float64(0), line["durationMs"])
	assert.NotContains(t, line, "duration", "nanoseconds are not logged")
	assert.NotContains(t, line, "targets", "each target is logged once, by the Rotator")
	assert.NotContains(t, h.log.String(), `requirePasswordResetForNextLogin`, "the raw body is never logged")

	// Every failure is logged at error level, so LOG_LEVEL=error shows it;
	// an unclassified cause goes into the invocation's one line.
	failures := []struct {
		name  string
		rot   *fakeRotator
		event any
		want  []string
	}{
		{"UnclassifiedCause", &fakeRotator{RotateFn: func(context.Context, reset.Request) ([]reset.Result, error) {
			return nil, errors.New("dial tcp 127.0.0.1:1: connection refused")
		}}, timerEvent("t", "2025-06-01T02:00:00Z", fabricBody),
			[]string{`"cause":"dial tcp 127.0.0.1:1: connection refused"`, `"retryable":true`, `"idempotencyKey":"t/2025-06-01T02:00:00Z"`}},
		{"FailedTarget", &fakeRotator{RotateFn: failTargets(map[string]error{aliceTarget.Key(): reset.Errorf(reset.EUpstream, "promote failed after the password was reset")})},
			cloudEvent("evt-1", cloudssoBody), []string{`"targetCount":1`, `"failedCount":1`, "promote failed after the password was reset", `"idempotencyKey":"evt-1"`}},
		{"InvalidRequest", nil, cloudEvent("evt-1", `{"target":"x","bogus":1}`), []string{"bogus: is not a known field"}},
		{"HTTPRefused", nil, httpEvent(cloudssoBody, map[string]string{"Content-Type": "text/plain"}), []string{`"status":415`}},
	}
	for _, tt := range failures {
		t.Run("Error"+tt.name, func(t *testing.T) {
			h := MustHandler(t, tt.rot)
			_, _ = h.Invoke(MustContext(t), MustJSON(t, tt.event))
			lines := strings.Split(strings.TrimSpace(h.log.String()), "\n")
			require.Len(t, lines, 1, "one line per invocation: %s", h.log.String())
			assert.Contains(t, lines[0], `"level":"ERROR"`)
			assert.Contains(t, lines[0], `"msg":"invocation"`)
			assert.Contains(t, lines[0], `"outcome":"failed"`)
			for _, w := range tt.want {
				assert.Contains(t, lines[0], w)
			}
		})
	}
}
