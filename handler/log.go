package handler

import (
	"context"
	"log/slog"

	"github.com/pwreset/pwreset/internal/reset"
)

type logAttrsKey struct{}

// withLogAttrs returns a context whose log lines carry attrs, after those
// ctx carries already.
func withLogAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(logAttrsKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, logAttrsKey{}, all)
}

// NewLogHandler wraps next so that a record logged with the context of an
// invocation carries the invocation's attributes: requestId, trigger and the
// idempotencyKey of the request being handled. The Rotator logs each
// target with that context, so its lines join the invocation's.
func NewLogHandler(next slog.Handler) slog.Handler { return logHandler{next} }

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(logAttrsKey{}).([]slog.Attr); ok {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.next.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.next.WithGroup(name)} }

// withOrigin fills r's Trigger and RequestID, which only the outcome
// events carry, from the invocation's attributes that ctx carries.
func withOrigin(ctx context.Context, r reset.Request) reset.Request {
	attrs, _ := ctx.Value(logAttrsKey{}).([]slog.Attr)
	for _, a := range attrs {
		switch a.Key {
		case "trigger":
			r.Trigger = a.Value.String()
		case "requestId":
			r.RequestID = a.Value.String()
		}
	}
	return r
}
