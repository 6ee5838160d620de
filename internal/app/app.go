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

// Deps are what New takes besides the configuration. The zero value is
// valid: nothing is logged, and the adapters use production's settings.
type Deps struct {
	// Logger is the logger of the handler and the rotator; make it with
	// NewLogger. Nil discards.
	Logger *slog.Logger
	// Aliyun are the adapters' settings no variable sets (timeouts,
	// signature, default credentials); tests change them.
	Aliyun aliyun.Options
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

// New builds the handler cfg describes, cfg as config.Load checked it: the
// cloud adapters, each API paced while it throttles (reset.Pace and
// reset.PaceListers: one pacer per API, as the quotas are per API; the time
// budget is in internal/reset/budget.go), the CloudSSO directories' password
// rules, the outcome events' publisher when EVENT_BUS_NAME is set, the
// rotator and the handler. It makes no network call, so a cold start stays
// fast. Its error is a programmer's: a Config that Load did not make.
func New(cfg config.Config, deps Deps) (*handler.Handler, error) {
	op, err := NewOperator(cfg, deps)
	if err != nil {
		return nil, err
	}
	return op.Handler, nil
}

// Operator is what the operator CLI (internal/cli) works with: the handler
// New builds, and the parts of it the CLI also calls directly.
type Operator struct {
	Handler *handler.Handler
	// Rotator is the handler's rotator: ApplyPending and DiscardPending
	// resolve a blocked account with the protocol's own steps.
	Rotator *reset.Rotator
	// Secrets lists secrets and versions (never a value), for status.
	Secrets *aliyun.SecretLister
	// Prefix is the secrets' name prefix (SECRET_NAME_PREFIX).
	Prefix string
}

// NewOperator builds what New builds, keeping the parts: New is this
// function's handler, so the CLI runs what the function runs.
func NewOperator(cfg config.Config, deps Deps) (*Operator, error) {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clients, err := aliyun.New(cfg.AliyunConfig(), deps.Aliyun)
	if err != nil {
		return nil, fmt.Errorf("cloud clients: %w", err)
	}
	clock := reset.SystemClock{}
	store, resetters := reset.Pace(clients.Secrets, clients.Resetters(), clock)
	listers := reset.PaceListers(aliyun.NewDirectory(clients).Listers(), clock)
	secrets := aliyun.NewSecretLister(clients)
	rdeps := reset.Deps{Clock: clock, Logger: logger, Policies: clients.Policies(),
		Listers: listers,
		Secrets: secrets.SweepLister(),
	}
	if cfg.EventBus.BusName != "" {
		bus, err := aliyun.NewEventBus(clients, cfg.EventBus)
		if err != nil {
			return nil, fmt.Errorf("event bus: %w", err)
		}
		rdeps.Publisher = aliyun.NewPublisher(bus)
	}
	if cfg.SelfInvoke.FunctionName != "" {
		self, err := aliyun.NewSelfInvoker(clients, cfg.SelfInvoke)
		if err != nil {
			return nil, fmt.Errorf("self invoker: %w", err)
		}
		rdeps.Continuer = aliyun.NewContinuer(self)
	}
	rcfg := cfg.RotatorConfig()
	rotator, err := reset.NewRotator(rcfg, resetters, store, rdeps)
	if err != nil {
		return nil, fmt.Errorf("rotator: %w", err)
	}
	return &Operator{Handler: handler.New(rotator, logger), Rotator: rotator,
		Secrets: secrets, Prefix: rcfg.SecretPrefix}, nil
}
