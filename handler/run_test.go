package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

// TestRunRequest checks the entry for callers without an FC event: the
// body decoded strictly, the key scoped, the answer a direct invocation
// would give, one log line.
func TestRunRequest(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		key       string
		body      string
		rotate    func(context.Context, reset.Request) ([]reset.Result, error)
		results   int
		code      handler.ErrorCode // "" for success
		retryable bool
		msg       string
		calls     int
	}{
		{"OKBatch", "operator", "ticket-48213", batchBody, nil, 3, "", false, "", 1},
		{"ErrTargetNotFound", "operator", "ticket-1", cloudssoBody,
			failTargets(map[string]error{aliceTarget.Key(): reset.Errorf(reset.ENotFound, "no such user")}), 1, handler.CodeNotFound, false,
			"cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12: NotFound: no such user", 1},
		{"ErrThrottled", "operator", "ticket-1", fabricBody, func(context.Context, reset.Request) ([]reset.Result, error) {
			return nil, reset.Errorf(reset.EThrottled, "KMS throttled the call")
		}, 0, handler.CodeThrottling, true, "KMS throttled the call", 1},
		{"ErrPasswordInBody", "operator", "ticket-1", `{"target":"fabric","password":"Hunter2!Hunter2!"}`, nil, 0, handler.CodeInvalidParameter, false, "password: must not be given", 0},
		{"ErrEmptyBody", "operator", "ticket-1", ``, nil, 0, handler.CodeInvalidParameter, false, "body: is empty", 0},
		{"ErrKeyWithSpace", "operator", "a b", cloudssoBody, nil, 0, handler.CodeInvalidParameter, false, "key: must hold only printable ASCII", 0},
		{"ErrNoNamespace", "", "ticket-1", cloudssoBody, nil, 0, handler.CodeInvalidParameter, false, "namespace: is required", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: tt.rotate})
			resp, results, err := h.RunRequest(MustContext(t), tt.namespace, tt.key, []byte(tt.body))
			assert.Equal(t, testRequestID, resp.RequestID)
			assert.Len(t, results, tt.results)
			assert.Len(t, resp.Results, tt.results)
			require.Len(t, h.rot.requests(), tt.calls)
			if tt.calls > 0 {
				assert.Equal(t, handler.ScopedKey(tt.namespace, tt.key), h.rot.requests()[0].IdempotencyKey)
			}
			lines := strings.Split(strings.TrimSpace(h.log.String()), "\n")
			require.Len(t, lines, 1, "one line per run: %s", h.log.String())
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
			if tt.namespace != "" {
				assert.Equal(t, tt.namespace, line["trigger"])
			}
			assert.NotContains(t, h.log.String(), "Hunter2!")
			if tt.code == "" {
				require.NoError(t, err)
				assert.Nil(t, resp.Error)
				assert.Equal(t, "ok", line["outcome"])
				for _, r := range resp.Results {
					assert.Equal(t, reset.StatusRotated, r.Status)
				}
				return
			}
			require.NotNil(t, resp.Error)
			assert.Equal(t, tt.code, resp.Error.Code)
			assert.Contains(t, resp.Error.Message, tt.msg)
			assert.NotContains(t, err.Error(), "Hunter2!")
			assert.Equal(t, "failed", line["outcome"])
			var retry *handler.RetryableError
			var perm *handler.PermanentError
			if tt.retryable {
				require.True(t, errors.As(err, &retry), "got %T", err)
				assert.Equal(t, tt.code, retry.Code)
			} else {
				require.True(t, errors.As(err, &perm), "got %T", err)
				assert.Equal(t, tt.code, perm.Code)
			}
		})
	}
}
