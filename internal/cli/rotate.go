package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

const rotateUsage = "[--dry-run] [--key KEY] [--json] [--log] REQUEST|-\n" +
	"       pwreset rotate [flags] --directory-id D --user-id U [--require-reset]\n" +
	"       pwreset rotate [flags] --organization-id O --username N --location L\n\n" +
	"REQUEST is the request JSON the triggers take ({\"target\":...} or {\"targets\":[...]}); - reads it\n" +
	"from standard input. Without --key a fresh idempotency key is made and printed: run again with\n" +
	"--key KEY to finish the same rotation instead of starting another"

const sweepUsage = "[--dry-run] [--key KEY] [--json] [--log]\n\n" +
	"Sends {\"sweep\":{}} through the function's path"

// runFlags are the flags of the commands that run a request.
type runFlags struct {
	dryRun bool
	key    string
	json   bool
	log    bool
}

func (f *runFlags) register(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}) {
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate and check permissions; change nothing")
	fs.StringVar(&f.key, "key", "", "the idempotency key (namespace cli); default: a fresh one, printed")
	fs.BoolVar(&f.json, "json", false, "print the response as JSON, for scripts")
	fs.BoolVar(&f.log, "log", false, "write the function's JSON log lines to standard error (LOG_LEVEL)")
}

func runRotate(ctx context.Context, e Env, args []string) int {
	fs := newFlags("rotate")
	var rf runFlags
	var tf targetFlags
	rf.register(fs)
	tf.register(fs, true)
	var pos []string
	if code, done := parse(fs, e, args, &pos); done {
		return code
	}
	var body []byte
	switch {
	case len(pos) > 1:
		return usageError(e, "rotate", "takes one REQUEST (got %d arguments)", len(pos))
	case len(pos) == 1 && tf.given():
		return usageError(e, "rotate", "give REQUEST or target flags, not both")
	case len(pos) == 1 && pos[0] == "-":
		b, err := io.ReadAll(io.LimitReader(e.Stdin, maxRequest+1))
		if err != nil {
			return usageError(e, "rotate", "reading standard input: %s", err)
		}
		if len(b) > maxRequest {
			return usageError(e, "rotate", "the request on standard input is over %d bytes", maxRequest)
		}
		body = b
	case len(pos) == 1:
		body = []byte(pos[0])
	case tf.given():
		spec, err := tf.spec()
		if err != nil {
			return usageError(e, "rotate", "%s", err)
		}
		if body, err = json.Marshal(spec); err != nil {
			return usageError(e, "rotate", "%s", err)
		}
	default:
		return usageError(e, "rotate", "give the REQUEST JSON, - to read it from standard input, or target flags")
	}
	return runRequest(ctx, e, "rotate", rf, body)
}

func runSweep(ctx context.Context, e Env, args []string) int {
	fs := newFlags("sweep")
	var rf runFlags
	rf.register(fs)
	if code, done := parse(fs, e, args, nil); done {
		return code
	}
	return runRequest(ctx, e, "sweep", rf, []byte(`{"sweep":{}}`))
}

// maxRequest bounds a request read from standard input: the HTTP trigger's
// bound (handler's, 262,144 bytes).
const maxRequest = 262144

// runRequest runs body (with dryRun added for --dry-run) through the
// handler's path under the key, after checking it calls nothing, and prints
// the outcome.
func runRequest(ctx context.Context, e Env, cmd string, rf runFlags, body []byte) int {
	key := rf.key
	if key == "" {
		key = newKey(e)
	} else if rule := reset.IdempotencyKeyRule(key, reset.MaxIdempotencyKeyLength); rule != "" {
		// The handler's rule for a caller's key, checked before any call
		// (the concurrency warning reads the accounts' versions).
		return usageError(e, cmd, "--key: idempotencyKey: %s", rule)
	}
	scoped := handler.ScopedKey(Namespace, key)
	req, err := handler.ParseRequest(body, scoped)
	if err == nil && rf.dryRun && !req.DryRun {
		body = withDryRun(body)
		if req, err = handler.ParseRequest(body, scoped); err != nil {
			return usageError(e, cmd, "--dry-run: the request sets dryRun to false")
		}
	}
	if err != nil {
		return usageError(e, cmd, "the request: %s", reset.ErrorMessageOf(err))
	}

	var done atomic.Int64
	var progress func(slog.Handler) slog.Handler
	if total, batch := progressTotal(req); batch {
		progress = func(next slog.Handler) slog.Handler {
			return progressHandler{next: next, w: e.Stderr, total: total, done: &done}
		}
	}
	var logTo io.Writer
	if rf.log {
		logTo = e.Stderr
	}
	op, code := build(e, cmd, logTo, progress)
	if op == nil {
		return code
	}
	if len(req.Targets) > 0 {
		if err := op.Rotator.ValidateRequest(req); err != nil {
			return usageError(e, cmd, "the request: %s", reset.ErrorMessageOf(err))
		}
	}
	if rf.key == "" {
		fmt.Fprintf(e.Stderr, "pwreset: idempotency key %s (run again with --key %s to finish this same rotation)\n", key, key)
	}
	if !req.DryRun && req.Select == nil {
		// A selector's Targets[0] is its scope, not an account: it has no
		// secret to look at.
		warnConcurrent(ctx, e.Stderr, op.Secrets, op.Prefix, req.Targets, e.now())
	}

	resp, results, _ := op.Handler.RunRequest(ctx, Namespace, key, body)
	if rf.json {
		out := struct {
			Key string `json:"key"`
			handler.Response
		}{key, resp}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		printResponse(e.Stdout, resp)
	}
	return exitOf(resp, results)
}

// progressTotal says whether req is a batch, which gets a progress line per
// target, and how many targets it names: 0 when the run finds them (a
// selector, the sweep), so that the line counts without a total.
func progressTotal(req reset.Request) (total int, batch bool) {
	switch {
	case req.Select != nil || req.Sweep:
		return 0, true
	case len(req.Targets) > 1:
		return len(req.Targets), true
	}
	return 0, false
}

// exitOf is the exit status of a run: a request refused as a whole for its
// input is ExitUsage (the handler called nothing); any other refusal, or a
// target failed or skipped, ExitFailed. A run accepted to go on in the
// function's asynchronous invocations (handler.Response.Accepted) is
// ExitOK, as the handler answers it (202): its targets' outcomes are in
// the function's logs and events.
func exitOf(resp handler.Response, results []reset.Result) int {
	if resp.Accepted && resp.Error == nil {
		return ExitOK
	}
	if len(results) == 0 {
		if resp.Error == nil {
			return ExitOK
		}
		switch resp.Error.Code {
		case handler.CodeInvalidParameter, handler.CodeForbidden, handler.CodeFunctionMisconfigured:
			return ExitUsage
		}
		return ExitFailed
	}
	for _, r := range results {
		if !r.Status.Succeeded() {
			return ExitFailed
		}
	}
	return ExitOK
}

// withDryRun returns body, a JSON object, with "dryRun":true as its first
// member. The strict decoder refuses a duplicate key, so a body that sets
// dryRun to false is refused, not overridden.
func withDryRun(body []byte) []byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return append([]byte(`{"dryRun":true,`), trimmed[1:]...)
}

// newKey returns a fresh idempotency key: the time and 64 random bits.
func newKey(e Env) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "op-" + e.now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// printResponse prints the response for a person: one line per target.
func printResponse(w io.Writer, resp handler.Response) {
	for _, r := range resp.Results {
		line := fmt.Sprintf("%-10s %s", r.Status, accountName(r.TargetSpec))
		if r.SecretName != "" {
			line += "  secret " + r.SecretName
		}
		if r.VersionID != "" {
			line += "  version " + r.VersionID
		}
		var notes []string
		if r.Resumed {
			notes = append(notes, "resumed")
		}
		if r.RolledForward != "" {
			notes = append(notes, "finished the earlier rotation "+r.RolledForward)
		}
		if len(notes) > 0 {
			line += " (" + strings.Join(notes, "; ") + ")"
		}
		if r.Error != nil {
			line += "\n           " + string(r.Error.Code) + ": " + r.Error.Message
		}
		fmt.Fprintln(w, line)
	}
	if resp.Accepted {
		fmt.Fprintf(w, "accepted   run %s of %d targets: it goes on in the function's asynchronous invocations; "+
			"its outcomes are in the function's logs and outcome events\n", resp.RunID, resp.Targets)
	}
	if resp.Error != nil && len(resp.Results) == 0 {
		fmt.Fprintf(w, "refused    %s: %s\n", resp.Error.Code, resp.Error.Message)
	}
	if resp.RequestID != "" {
		fmt.Fprintf(w, "request %s\n", resp.RequestID)
	}
}

func accountName(s handler.TargetSpec) string {
	switch s.Target {
	case reset.KindCloudSSO:
		return "cloudsso " + s.DirectoryID + "/" + s.UserID
	case reset.KindFabric:
		return "fabric " + s.OrganizationID + "/" + s.Username + " (" + s.Location + ")"
	}
	return string(s.Target)
}

// progressHandler prints a progress line on standard error for each
// target's outcome line the rotator logs ("password rotation"), then hands
// the record on.
type progressHandler struct {
	next  slog.Handler
	w     io.Writer
	total int
	done  *atomic.Int64
}

func (h progressHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h progressHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "password rotation" {
		var target, status string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "target":
				target = a.Value.String()
			case "status":
				status = a.Value.String()
			}
			return true
		})
		if h.total > 0 {
			fmt.Fprintf(h.w, "pwreset: [%d/%d] %s %s\n", h.done.Add(1), h.total, target, status)
		} else {
			fmt.Fprintf(h.w, "pwreset: [%d] %s %s\n", h.done.Add(1), target, status)
		}
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h progressHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return progressHandler{h.next.WithAttrs(attrs), h.w, h.total, h.done}
}

func (h progressHandler) WithGroup(name string) slog.Handler {
	return progressHandler{h.next.WithGroup(name), h.w, h.total, h.done}
}
