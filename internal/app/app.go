// Package app wires pwreset together: it turns a config.Config into the
// ready handler, so that main and the end-to-end tests build exactly the
// same thing, differing only in endpoints.
package app

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
)

// Option adjusts what New builds; production passes only WithLogger.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	rotatorOpts []reset.Option
	editAliyun  func(*aliyun.Config)
}

// WithLogger sets the logger of the handler and the rotator; make it with
// NewLogger. Without it nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRotatorOptions passes options to reset.NewRotator, after New's own;
// tests inject a clock or a random source with it.
func WithRotatorOptions(opts ...reset.Option) Option {
	return func(o *options) { o.rotatorOpts = append(o.rotatorOpts, opts...) }
}

// WithAliyunConfig lets edit change the adapters' configuration after New
// has filled it from the Config; tests set credentials or timeouts with it.
func WithAliyunConfig(edit func(*aliyun.Config)) Option {
	return func(o *options) { o.editAliyun = edit }
}

// NewLogger returns the logger pwreset uses: JSON lines on w (Function
// Compute collects stdout), at level and above, each line of an invocation
// carrying its request id (see handler.NewLogHandler), and every line
// carrying attrs (main passes the release: "version").
func NewLogger(w io.Writer, level slog.Leveler, attrs ...slog.Attr) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	if len(attrs) > 0 {
		h = h.WithAttrs(attrs)
	}
	return slog.New(handler.NewLogHandler(h))
}

// New builds the handler cfg describes: the cloud adapters, the rotator and
// the handler. It makes no network call, so a cold start stays fast. Its
// error names the configuration variable at fault.
func New(cfg config.Config, opts ...Option) (*handler.Handler, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	ac := aliyun.Config{
		RegionID:           cfg.RegionID,
		KMSEndpoint:        cfg.KMSEndpoint,
		CloudSSOEndpoint:   cfg.CloudSSOEndpoint,
		BaaSEndpoint:       cfg.BaaSEndpoint,
		KMSEncryptionKeyID: cfg.KMSEncryptionKeyID,
		KMSInstanceID:      cfg.KMSInstanceID,
	}
	if o.editAliyun != nil {
		o.editAliyun(&ac)
	}
	clients, err := aliyun.New(ac)
	if err != nil {
		return nil, fmt.Errorf("cloud clients: %w", err)
	}
	rotatorOpts := append([]reset.Option{reset.WithLogger(o.logger)}, o.rotatorOpts...)
	rotator, err := reset.NewRotator(cfg.RotatorConfig(), clients.Resetters(), clients.Secrets, rotatorOpts...)
	if err != nil {
		return nil, fmt.Errorf("rotator: %w", err)
	}
	return handler.New(rotator, o.logger), nil
}
