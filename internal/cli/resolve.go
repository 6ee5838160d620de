package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

const resolveUsage = "SECRET-NAME|TARGET-FLAGS --apply VERSION | --discard VERSION --confirm [--json] [--log]\n\n" +
	"An account is blocked when its unfinished rotation (VERSION, staged ACSPending and not ACSCurrent)\n" +
	"cannot be finished: every rotation answers Conflict naming VERSION (docs/operations.md,\n" +
	"\"Blocked accounts\"). --apply resets the account to VERSION's password and promotes it, by the\n" +
	"protocol's own steps. --discard, once you have confirmed that the password in effect is the one\n" +
	"ACSCurrent holds (--confirm), stages ACSCurrent's data again as a new version that becomes\n" +
	"ACSCurrent and ACSPending; VERSION keeps no stage. A fabric SECRET-NAME needs --location"

// ResolveOutcome is what resolve prints with --json.
type ResolveOutcome struct {
	Action     string `json:"action"` // "apply" or "discard"
	SecretName string `json:"secretName"`
	// VersionID is the version given; CurrentVersionID the one now
	// ACSCurrent (VersionID after an apply).
	VersionID        string             `json:"versionId"`
	CurrentVersionID string             `json:"currentVersionId,omitempty"`
	Status           reset.Status       `json:"status"`
	Error            *handler.ErrorBody `json:"error,omitempty"`
}

func runResolve(ctx context.Context, e Env, args []string) int {
	fs := newFlags("resolve")
	var tf targetFlags
	tf.register(fs, false)
	apply := fs.String("apply", "", "the pending VERSION to apply: reset the account to its password and promote it")
	discard := fs.String("discard", "", "the pending VERSION to discard (needs --confirm)")
	confirm := fs.Bool("confirm", false, "with --discard: you have confirmed the password in effect is ACSCurrent's, not VERSION's")
	asJSON := fs.Bool("json", false, "print the outcome as JSON, for scripts")
	logLines := fs.Bool("log", false, "write the JSON log lines to standard error (LOG_LEVEL)")
	var pos []string
	if code, done := parse(fs, e, args, &pos); done {
		return code
	}
	action, w := "apply", *apply
	switch {
	case (*apply == "") == (*discard == ""):
		return usageError(e, "resolve", "give exactly one of --apply VERSION and --discard VERSION")
	case *discard != "":
		action, w = "discard", *discard
		if !*confirm {
			return usageError(e, "resolve", "--discard needs --confirm: first confirm that the password in effect on the account is the one ACSCurrent holds, not version %s's", w)
		}
	case *confirm:
		return usageError(e, "resolve", "--confirm goes with --discard only")
	}
	if !reset.ValidVersionID(w) {
		return usageError(e, "resolve", "--%s: %q is not a version id pwreset stages (\"pwreset-\" and 32 hexadecimal digits)", action, w)
	}
	var logTo io.Writer
	if *logLines {
		logTo = e.Stderr
	}
	op, code := build(e, "resolve", logTo, nil)
	if op == nil {
		return code
	}
	// accountOf's errors are plain texts naming the field (ErrorMessageOf
	// would make them "internal error"); ValidateRequest's are *reset.Error.
	t, err := accountOf(op.Prefix, pos, tf)
	if err != nil {
		return usageError(e, "resolve", "%s", err)
	}
	// The rotator's own check of t (its fields, its kind enabled, the
	// allow-list) before the concurrency warning, which reads t's secret:
	// a refused account reaches no cloud. The key only satisfies the
	// request's rule; resolving keeps no idempotency record.
	check := reset.Request{IdempotencyKey: handler.ScopedKey(Namespace, "resolve"), Targets: []reset.Target{t}}
	if err := op.Rotator.ValidateRequest(check); err != nil {
		return usageError(e, "resolve", "%s", reset.ErrorMessageOf(err))
	}
	warnConcurrent(ctx, e.Stderr, op.Secrets, op.Prefix, []reset.Target{t}, e.now())

	var res reset.Result
	if action == "apply" {
		res = op.Rotator.ApplyPending(ctx, t, w)
	} else {
		res = op.Rotator.DiscardPending(ctx, t, w)
	}
	out := ResolveOutcome{Action: action, SecretName: t.SecretName(op.Prefix), VersionID: w, Status: res.Status}
	if res.Err != nil {
		out.Error = &handler.ErrorBody{Code: handler.APICode(reset.ErrorCodeOf(res.Err)), Message: reset.ErrorMessageOf(res.Err)}
	} else {
		out.CurrentVersionID = res.VersionID
	}
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		printResolve(e.Stdout, out)
	}
	switch {
	case res.Err == nil:
		return ExitOK
	case refusedInput(res.Err):
		return ExitUsage
	}
	return ExitFailed
}

// refusedInput reports whether err refused the input before any call: an
// invalid field, or a target off an allow-list (an EForbidden naming its
// field; the role's missing permission names none).
func refusedInput(err error) bool {
	var e *reset.Error
	return errors.As(err, &e) && (e.Code == reset.EInvalid || e.Code == reset.EForbidden && e.Field != "")
}

func printResolve(w io.Writer, o ResolveOutcome) {
	if o.Error != nil {
		fmt.Fprintf(w, "failed     %s %s of %s\n           %s: %s\n", o.Action, o.VersionID, o.SecretName, o.Error.Code, o.Error.Message)
		return
	}
	switch o.Action {
	case "apply":
		fmt.Fprintf(w, "applied    version %s of %s: its password is in effect and staged ACSCurrent\n", o.VersionID, o.SecretName)
	default:
		fmt.Fprintf(w, "discarded  version %s of %s: version %s, holding ACSCurrent's data, is now ACSCurrent and ACSPending\n",
			o.VersionID, o.SecretName, o.CurrentVersionID)
	}
}
