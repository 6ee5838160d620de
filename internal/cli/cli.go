// Package cli is pwreset's operator command line, in the same binary as the
// function (DESIGN.md, "Operator CLI"): main runs it when the binary gets
// arguments or runs outside Function Compute (no FC_RUNTIME_API). It builds
// what the function builds (app.NewOperator, from the same configuration
// variables) and runs requests through the handler's own path
// (handler.RunRequest, namespace "cli"), signing with the operator's
// credentials from credentials-go's default chain, a static AccessKey
// included. Nothing it prints holds a password.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/config"
)

// Exit statuses.
const (
	// ExitOK: every target rotated, validated or superseded; the status was
	// shown; the account was resolved.
	ExitOK = 0
	// ExitFailed: a target failed or was skipped; status found no such
	// secret; resolve was refused by the account's state.
	ExitFailed = 1
	// ExitUsage: bad input or configuration, or no command; nothing was
	// called.
	ExitUsage = 2
)

// Namespace is the idempotency-key namespace of the CLI's requests
// (handler.ScopedKey): no trigger's caller can name a CLI rotation's key.
const Namespace = "cli"

// ConcurrentWindow is how recent an unfinished rotation must be for the CLI
// to warn that the function (or another operator) may be running it: the
// function's timeout is at most a few minutes in s.yaml, and a rotation
// takes seconds.
const ConcurrentWindow = 5 * time.Minute

// Env is what a run of the CLI reads and writes besides the cloud.
type Env struct {
	Getenv  func(string) string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
	// Now is the clock for the idempotency keys and warnings; nil is
	// time.Now.
	Now func() time.Time
	// Aliyun are the adapters' settings no variable sets; main passes the
	// zero value. The CLI always sets OperatorCredentials.
	Aliyun aliyun.Options
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // after "pwreset NAME "
	run     func(ctx context.Context, e Env, args []string) int
}

func commands() []command {
	return []command{
		{"rotate", "rotate the passwords a request names (the request JSON the triggers take)", rotateUsage, runRotate},
		{"status", "show a secret's versions and whether a rotation is unfinished", statusUsage, runStatus},
		{"sweep", "finish unfinished rotations under the prefix (the function's sweep)", sweepUsage, runSweep},
		{"resolve", "unblock an account: apply or discard its unfinished rotation", resolveUsage, runResolve},
		{"version", "print the release", "", runVersion},
	}
}

// Main runs the command args name (args excludes the program name) and
// returns the exit status.
func Main(ctx context.Context, e Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.Stderr, usage())
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			for _, c := range commands() {
				if c.name == args[1] {
					fmt.Fprint(e.Stdout, commandUsage(c))
					return ExitOK
				}
			}
		}
		fmt.Fprint(e.Stdout, usage())
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "pwreset: unknown command %q\n\n%s", args[0], usage())
	return ExitUsage
}

func usage() string {
	var b strings.Builder
	b.WriteString("Usage: pwreset COMMAND [flags] [ARG]\n\n" +
		"Run with no arguments under Function Compute (FC_RUNTIME_API set), pwreset serves invocations.\n" +
		"Run with a command, it is the operator's tool, configured by the function's variables\n" +
		"(docs/reference.md, \"Configuration\") and signing with credentials-go's default chain.\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'pwreset COMMAND --help' for a command's flags. Exit status: 0 success, 1 a target\n" +
		"failed or was skipped (status: no such secret), 2 bad input or configuration (nothing called).\n")
	return b.String()
}

func commandUsage(c command) string {
	return fmt.Sprintf("Usage: pwreset %s %s\n\n%s.\n", c.name, c.usage, c.summary)
}

func runVersion(_ context.Context, e Env, args []string) int {
	fs := newFlags("version")
	if code, done := parse(fs, e, args, nil); done {
		return code
	}
	if len(fs.Args()) > 0 {
		return usageError(e, "version", "takes no argument")
	}
	fmt.Fprintf(e.Stdout, "pwreset %s\n", e.Version)
	return ExitOK
}

// newFlags returns a flag set whose usage is the command's.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args into fs, flags before or after the positional
// arguments, which it returns in pos. done is set when the run ends here:
// --help (ExitOK, usage on stdout) or a bad flag (ExitUsage).
func parse(fs *flag.FlagSet, e Env, args []string, pos *[]string) (code int, done bool) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(e.Stdout, fs)
				return ExitOK, true
			}
			return usageError(e, fs.Name(), "%s", err.Error()), true
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if pos != nil {
		*pos = rest
	} else if len(rest) > 0 {
		return usageError(e, fs.Name(), "takes no argument (got %q)", rest[0]), true
	}
	return 0, false
}

func printHelp(w io.Writer, fs *flag.FlagSet) {
	for _, c := range commands() {
		if c.name == fs.Name() {
			fmt.Fprint(w, commandUsage(c))
		}
	}
	var any bool
	fs.VisitAll(func(*flag.Flag) { any = true })
	if any {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// usageError prints a bad-input message and returns ExitUsage.
func usageError(e Env, cmd, format string, args ...any) int {
	fmt.Fprintf(e.Stderr, "pwreset %s: %s\n(see 'pwreset %s --help')\n", cmd, fmt.Sprintf(format, args...), cmd)
	return ExitUsage
}

// build loads the configuration and builds the operator's parts, logging
// JSON lines to logTo (nil discards). A bad configuration is ExitUsage.
func build(e Env, cmd string, logTo io.Writer, wrap func(slog.Handler) slog.Handler) (*app.Operator, int) {
	cfg, err := config.Load(e.Getenv)
	if err != nil {
		fmt.Fprintf(e.Stderr, "pwreset %s: invalid configuration: %s\n", cmd, strings.ReplaceAll(err.Error(), "\n", "; "))
		return nil, ExitUsage
	}
	var h slog.Handler = slog.DiscardHandler
	if logTo != nil {
		h = app.NewLogger(logTo, cfg.LogLevel, slog.String("version", e.Version)).Handler()
	}
	if wrap != nil {
		h = wrap(h)
	}
	opt := e.Aliyun
	opt.OperatorCredentials = true
	op, err := app.NewOperator(cfg, app.Deps{Logger: slog.New(h), Aliyun: opt})
	if err != nil {
		fmt.Fprintf(e.Stderr, "pwreset %s: %s\n", cmd, err)
		return nil, ExitUsage
	}
	return op, 0
}
