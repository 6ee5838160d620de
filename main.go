// Command pwreset is a Function Compute 3.0 function (go1 runtime) that
// resets a CloudSSO or BaaS Fabric user's password and keeps the new
// password only in KMS Secrets Manager. Run with arguments, or outside
// Function Compute, it is the operator's command line (internal/cli). See
// docs/DESIGN.md.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/cli"
	"github.com/pwreset/pwreset/internal/config"
)

// version is the release this binary was built from, stamped by `make
// build` (-ldflags "-X main.version=$(git describe --tags --always
// --dirty)"). Every log line carries it.
var version = "dev"

func main() {
	// Function Compute starts the function with no arguments and
	// FC_RUNTIME_API set (fc-runtime-go-sdk v0.3.1, fc/entry.go, reads it);
	// anything else is an operator at a terminal.
	if len(os.Args) > 1 || os.Getenv("FC_RUNTIME_API") == "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, cli.Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version}, os.Args[1:])
		stop()
		os.Exit(code)
	}
	// fc.Start serves invocations until the process ends; if it cannot
	// reach the runtime API it logs why and exits non-zero.
	run(os.Getenv, os.Stdout, fc.Start)
}

// run reads the configuration, builds the handler and hands it to start.
// A bad configuration is logged once and still starts, with a handler that
// fails every invocation naming the variable and the rule it breaks:
// exiting would only have Function Compute restart the instance in a loop,
// with the reason buried in its logs.
func run(getenv func(string) string, stdout io.Writer, start func(handler any)) {
	cfg, err := config.Load(getenv)
	logger := app.NewLogger(stdout, cfg.LogLevel, slog.String("version", version)) // info when cfg is invalid
	logger.Info("starting")
	var h *handler.Handler
	if err == nil {
		h, err = app.New(cfg, app.Deps{Logger: logger})
	}
	if err != nil {
		logger.Error("invalid configuration: every invocation fails until it is fixed", "error", err.Error())
		h = handler.NewMisconfigured(err, logger)
	}
	// A []byte event reaches the handler as sent; the runtime would
	// otherwise unmarshal it first and report a malformed event as its own
	// error.
	start(func(ctx context.Context, event []byte) (any, error) { return h.Invoke(ctx, event) })
}
