package handler_test

import (
	"log/slog"
	"testing"

	"github.com/pwreset/pwreset/handler"
)

// BenchmarkInvokeHTTP measures the handler's own overhead on an HTTP
// trigger: decoding the event and the request, shaping the response and
// logging, with a rotator that does nothing.
func BenchmarkInvokeHTTP(b *testing.B) {
	h := handler.New(&fakeRotator{}, slog.New(handler.NewLogHandler(slog.NewJSONHandler(discard{}, nil))))
	ctx := MustContext(b)
	event := MustJSON(b, httpEvent(cloudssoBody, map[string]string{"Content-Type": "application/json", "Idempotency-Key": "ticket-48213"}))
	b.ReportAllocs()
	for b.Loop() {
		out, err := h.Invoke(ctx, event)
		if err != nil || out.(*handler.HTTPResponse).StatusCode != 200 {
			b.Fatalf("got %v, %v", out, err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
