package handler_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

func TestScopedKeyNeverCollides(t *testing.T) {
	keys := []struct {
		name string
		key  string
	}{
		{"HTTPHeader", handler.ScopedKey("http", "pwreset-monthly/2025-06-01T02:00:00Z")},
		{"HTTPHeaderLikeEvent", handler.ScopedKey("http", "evt-1")},
		{"Timer", handler.ScopedKey("timer", "pwreset-monthly", "2025-06-01T02:00:00Z")},
		{"TimerShifted", handler.ScopedKey("timer", "pwreset-monthly/2025-06-01T02:00:00Z", "")},
		{"Event", handler.ScopedKey("eventbridge", "acs:secops.example", "evt-1")},
		{"EventOtherSource", handler.ScopedKey("eventbridge", "acs:helpdesk", "evt-1")},
		{"EventSeparatorInSource", handler.ScopedKey("eventbridge", "a:b", "c")},
		{"EventSeparatorInID", handler.ScopedKey("eventbridge", "a", "b:c")},
		{"Direct", handler.ScopedKey("direct", "evt-1")},
	}
	seen := map[string]string{}
	for _, k := range keys {
		if other, ok := seen[k.key]; ok {
			t.Errorf("%s and %s share the key %q", k.name, other, k.key)
		}
		seen[k.key] = k.name
	}
	assert.Equal(t, handler.ScopedKey("http", "x"), handler.ScopedKey("http", "x"), "deterministic")
}

// TestKeysScopedByTrigger sends each trigger the same caller-chosen text as
// its key and checks that no two land on one key.
func TestKeysScopedByTrigger(t *testing.T) {
	const text = "pwreset-monthly"
	const at = "2025-06-01T02:00:00Z"
	h := MustHandler(t, nil)
	events := []any{
		httpEvent(cloudssoBody, map[string]string{"Idempotency-Key": text + "/" + at}),
		timerEvent(text, at, cloudssoBody),
		cloudEvent(text+"/"+at, cloudssoBody),
	}
	ev := cloudEvent(text+"/"+at, cloudssoBody)
	ev.Source = "acs:other.example"
	events = append(events, ev)
	for _, e := range events {
		_, err := h.Invoke(MustContext(t), MustJSON(t, e))
		require.NoError(t, err)
	}
	reqs := h.rot.requests()
	require.Len(t, reqs, len(events))
	seen := map[string]bool{}
	for _, r := range reqs {
		assert.False(t, seen[r.IdempotencyKey], "two triggers share the key %q", r.IdempotencyKey)
		seen[r.IdempotencyKey] = true
	}
}

func TestEventWithoutSourceIsRefused(t *testing.T) {
	h := MustHandler(t, nil)
	ev := cloudEvent("evt-1", cloudssoBody)
	ev.Source = ""
	_, err := h.Invoke(MustContext(t), MustJSON(t, ev))
	var perr *handler.PermanentError
	require.True(t, errors.As(err, &perr), "got %v", err)
	assert.Contains(t, perr.Message, "source")
	assert.Empty(t, h.rot.requests(), "no rotation, no cloud call")
}

// TestScopedKeyFitsTheRotatorRule: the longest key each trigger can scope,
// every part at reset.MaxIdempotencyKeyLength, passes reset's one rule at
// reset.MaxScopedKeyLength, so a part the handler accepts is never refused
// after scoping.
func TestScopedKeyFitsTheRotatorRule(t *testing.T) {
	part := strings.Repeat("~", reset.MaxIdempotencyKeyLength)
	require.Empty(t, reset.IdempotencyKeyRule(part, reset.MaxIdempotencyKeyLength))
	for _, tc := range []struct {
		name string
		key  string
	}{
		{"HTTP", handler.ScopedKey("http", part)},
		{"Timer", handler.ScopedKey("timer", part, part)},
		{"Event", handler.ScopedKey("eventbridge", part, part)},
		{"Direct", handler.ScopedKey("direct", part)},
		{"ThreeParts", handler.ScopedKey("eventbridge", part, part, part)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Empty(t, reset.IdempotencyKeyRule(tc.key, reset.MaxScopedKeyLength), "len %d", len(tc.key))
		})
	}
}
