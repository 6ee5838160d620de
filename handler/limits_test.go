package handler_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

// ssoTargets returns n CloudSSO targets as JSON, each idLen characters of
// user id long ("u-" included).
func ssoTargets(n, idLen int) string {
	parts := make([]string, n)
	for i := range parts {
		id := fmt.Sprintf("u-%0*d", idLen-2, i)
		parts[i] = `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"` + id + `"}`
	}
	return strings.Join(parts, ",")
}

// tinyStream is an event-streaming array of n empty events.
func tinyStream(n int) json.RawMessage {
	return json.RawMessage("[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]")
}

// TestEventLimits checks the bounds of events that are not HTTP: what an
// asynchronous invocation cannot carry, and event-streaming arrays with
// more events or targets than one invocation handles, are refused whole,
// naming the limit and what to do, before any cloud call.
func TestEventLimits(t *testing.T) {
	bigBatch := `{"targets":[` + ssoTargets(reset.MaxTargets, 64) + `]}` // the longest user ids
	require.Greater(t, len(bigBatch), handler.MaxEventBytes, "1000 targets with the longest ids do not fit an asynchronous invocation")
	require.Less(t, len(bigBatch), handler.MaxBodyBytes, "but they fit the HTTP trigger")
	typical := `{"targets":[` + ssoTargets(reset.MaxTargets, 22) + `]}` // ids as long as the docs' examples
	require.Less(t, len(typical), handler.MaxEventBytes)
	half := `{"targets":[` + ssoTargets(reset.MaxTargets/2+1, 22) + `]}`

	tooLarge := "more than the 128000 an asynchronous invocation of Function Compute carries, so an EventBridge or timer trigger cannot deliver it: " +
		"split the batch into several events, or send it to the HTTP trigger (up to 262144 bytes)"
	tests := []struct {
		name  string
		event any
		msg   string
		calls int // Rotate calls; -1 for a refusal
	}{
		{"OKDirectTypicalBatchOf1000", json.RawMessage(typical), "", 1},
		{"OKStreamOf500Events", func() []handler.CloudEvent {
			evs := make([]handler.CloudEvent, 500) // as many as fit comfortably under MaxEventBytes
			for i := range evs {
				evs[i] = cloudEvent(fmt.Sprintf("evt-%d", i), `{"target":"fabric","organizationId":"peers-a","username":"u`+fmt.Sprint(i)+`","location":"cn-hangzhou"}`)
				evs[i].AliyunAccountID, evs[i].AliyunEventBusName, evs[i].AliyunRegionID, evs[i].Type = "", "", "", "t"
			}
			return evs
		}(), "", 500},
		{"ErrDirectTooLarge", json.RawMessage(bigBatch), "event: is 1" /* digits of the size */, -1},
		{"ErrDirectTooLargeAdvice", json.RawMessage(bigBatch), tooLarge, -1},
		{"ErrCloudEventTooLarge", cloudEvent("evt-1", bigBatch), tooLarge, -1},
		{"ErrTimerTooLarge", timerEvent("t", "2025-06-01T02:00:00Z", bigBatch), tooLarge, -1},
		{"ErrStreamTooLarge", []handler.CloudEvent{cloudEvent("evt-1", bigBatch)}, tooLarge, -1},
		{"ErrStream200000TinyEvents", tinyStream(200_000), tooLarge, -1},
		{"ErrStreamTooManyEvents", tinyStream(handler.MaxStreamEvents + 1),
			"event: the array holds more than 1000 events, more than one invocation handles: set the trigger's batch push messages to at most 1000", -1},
		{"ErrStreamTooManyTargets", []handler.CloudEvent{cloudEvent("evt-1", half), cloudEvent("evt-2", half)},
			"event: its 2 events name 1002 targets in all, more than the 1000 one invocation handles: lower the trigger's batch push messages, or put fewer targets in each event", -1},
		{"ErrStreamTrailingData", json.RawMessage(`[` + string(MustJSON(t, cloudEvent("evt-1", cloudssoBody))) + `] {}`), "event: holds data after the array", -1},
		{"ErrStreamUnclosed", json.RawMessage(`[` + string(MustJSON(t, cloudEvent("evt-1", cloudssoBody)))), "event: is not valid JSON", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := MustHandler(t, &fakeRotator{RotateFn: rotateAll})
			raw, ok := tt.event.(json.RawMessage)
			if !ok {
				raw = MustJSON(t, tt.event)
			}
			_, err := h.Invoke(MustContext(t), raw)
			if tt.calls >= 0 {
				require.NoError(t, err)
				assert.Len(t, h.rot.requests(), tt.calls)
				return
			}
			var perm *handler.PermanentError
			require.True(t, errors.As(err, &perm), "got %T (%v), want *handler.PermanentError", err, err)
			assert.Equal(t, handler.CodeInvalidParameter, perm.Code)
			assert.Contains(t, perm.Message, tt.msg)
			assert.Empty(t, h.rot.requests(), "a refused event reaches no cloud API")
		})
	}
}

// TestEventStreamHeap bounds the memory a long array of tiny events costs:
// refused by its size, it is never decoded (before the bound, 200,000 tiny
// events took 177 MB of heap). It counts bytes allocated, not time.
func TestEventStreamHeap(t *testing.T) {
	h := MustHandler(t, nil)
	ctx := MustContext(t)
	for _, ev := range []json.RawMessage{tinyStream(200_000), tinyStream(handler.MaxEventBytes / 3)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := h.Invoke(ctx, ev)
		runtime.ReadMemStats(&after)
		require.Error(t, err)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated handling %d bytes of events", len(ev))
	}
}

// BenchmarkEventStreamTiny reports the heap (B/op) a refused array of tiny
// events costs: 200,000 of them (refused by size), and as many as fit under
// MaxEventBytes (refused by count, having decoded MaxStreamEvents+1).
func BenchmarkEventStreamTiny(b *testing.B) {
	for _, n := range []int{200_000, handler.MaxEventBytes / 3} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := MustHandler(b, nil)
			ctx := MustContext(b)
			ev := tinyStream(n)
			b.ReportAllocs()
			for b.Loop() {
				h.log.Reset()
				if _, err := h.Invoke(ctx, ev); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
