package reset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// MaxSelectTargets is the largest maxTargets a selector may give: the
// blast-radius cap is a cap, not a way around one (DESIGN.md, "Requests
// beyond single accounts").
const MaxSelectTargets = 100_000

// MaxExclude is the most account ids a selector's exclude list holds.
const MaxExclude = 1000

// CloudSSO user statuses and provision types a selector may name (CloudSSO
// ListUsers' Status and ProvisionType parameters).
const (
	SSOStatusEnabled         = "Enabled"
	SSOStatusDisabled        = "Disabled"
	SSOProvisionManual       = "Manual"
	SSOProvisionSynchronized = "Synchronized"
)

// maxUserNamePrefix is the longest userNamePrefix: a CloudSSO user name is
// at most 64 characters (CreateUser's UserName), so a longer prefix
// matches nobody.
const maxUserNamePrefix = 64

// ErrSSOLogonEnabled marks a CloudSSO reset refused because the directory
// has SSO logon enabled: every user of that directory would answer the
// same, so a selector run stops at the first such answer.
var ErrSSOLogonEnabled = errors.New("the directory has SSO logon enabled")

// Selector names a set of accounts instead of one. Status, ProvisionType
// and UserNamePrefix apply to CloudSSO only; Exclude holds account ids (the
// kind's second identifier: user ids, or Fabric user names).
type Selector struct {
	Status         string
	ProvisionType  string
	UserNamePrefix string
	Exclude        []string
}

// Account is one account a Lister lists: the target (its kind, both
// identifiers and its parameters) and what a selector filters on.
type Account struct {
	Target        Target
	UserName      string
	Status        string
	ProvisionType string
}

// Lister lists the accounts of one set: for CloudSSO a directory (CloudSSO
// ListUsers, every page), for Fabric an organization
// (DescribeFabricOrganizationUsers). scope holds the kind, the first
// identifier and the parameters; sel's service-side filters may be sent,
// but the rotator checks every listed account against sel itself. Errors
// are *Error values as a Resetter's.
type Lister interface {
	ListAccounts(ctx context.Context, scope Target, sel Selector) ([]Account, error)
}

// PageLister is a Lister that also lists one page at a time (CloudSSO
// ListUsers: NextToken, MaxResults ≤ 100): the rotator then reads the pages
// itself, each one call it retries and paces (a throttled page no longer
// fails the listing), and a continued run carries the token of the page it
// is in instead of listing again from the start (run.go).
type PageLister interface {
	Lister
	// ListPage returns the page token names ("" for the first) and the
	// token of the next page ("" after the last). A token the service no
	// longer takes is EInvalid.
	ListPage(ctx context.Context, scope Target, sel Selector, token string) (AccountPage, error)
}

// AccountPage is one page of a listing.
type AccountPage struct {
	Accounts []Account
	Next     string
}

// maxListPages bounds a listing, so that a service that kept answering with
// new tokens could not keep an invocation busy: MaxSelectTargets accounts
// at CloudSSO's 100 per page (internal/aliyun, ListUsersPageSize).
const maxListPages = MaxSelectTargets / 100

// walk lists scope's accounts from the page of token on, and gives visit
// each page with the token that names it, until visit returns false or the
// last page is given; next is the token of the page after ("" at the
// last). Each page is one call retried as a step (retry:
// throttled tries bounded by time, before the n steps after it); a lister
// that does not list by page is one such call, given as the page "". A
// token the lister repeats, or more than maxListPages pages, is EUpstream.
func (r *Rotator) walk(ctx context.Context, lister Lister, scope Target, sel Selector, token string, after int,
	visit func(token, next string, accounts []Account) bool) error {
	end, bounded := r.stepEnd(ctx, after)
	pages, ok := lister.(PageLister)
	if !ok {
		var accounts []Account
		err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
			var err error
			accounts, err = lister.ListAccounts(ctx, scope, sel)
			return err
		})
		if err != nil {
			return err
		}
		visit("", "", accounts)
		return nil
	}
	seen := map[string]bool{token: true}
	for n := 0; ; n++ {
		if n == maxListPages {
			return Errorf(EUpstream, "listing %s: more than %d pages", scope.Kind, maxListPages)
		}
		var page AccountPage
		err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
			var err error
			page, err = pages.ListPage(ctx, scope, sel, token)
			return err
		})
		if err != nil {
			return err
		}
		if !visit(token, page.Next, page.Accounts) || page.Next == "" {
			return nil
		}
		if seen[page.Next] {
			return Errorf(EUpstream, "listing %s: the service repeated a page token", scope.Kind)
		}
		seen[page.Next] = true
		token = page.Next
	}
}

// RunSummary is what a run (a selector, a sweep, or a continued run) came
// to, for the pwreset:Run:Completed notification.
type RunSummary struct {
	RunID      string // the run's scoped idempotency key
	Kind       string // "select" or "sweep"
	Matched    int    // accounts or secrets the run covered
	Rotated    int
	Validated  int
	Failed     int
	Skipped    int
	Drift      int
	Finished   int // sweep: unfinished rotations it finished
	Healthy    int
	Superseded int
	DryRun     bool
}

// RunCompleted is told when a run ends: the pwreset:Run:Completed hook.
// Notifications must not fail the run: RunCompleted returns nothing.
type RunCompleted interface {
	RunCompleted(ctx context.Context, s RunSummary)
}

// noRunCompleted is the default RunCompleted: it does nothing.
type noRunCompleted struct{}

func (noRunCompleted) RunCompleted(context.Context, RunSummary) {}

// endRun ends a selector run or a sweep (kind) that ran in one
// invocation: RunCompleted is told its counts, and the
// pwreset:Run:Completed event is published.
func (r *Rotator) endRun(ctx context.Context, req Request, kind string, results []Result) {
	r.completed.RunCompleted(ctx, summarize(req.IdempotencyKey, kind, req.DryRun, results))
	r.publishRun(ctx, req, results)
}

// endRunSummary ends a continued run at its last chunk, with the counts
// its chunks carried: the same hook and event as endRun.
func (r *Rotator) endRunSummary(ctx context.Context, req Request, s RunSummary, blocked int) {
	r.completed.RunCompleted(ctx, s)
	r.publishRunData(ctx, req, s.data(blocked))
}

// data is the RunData of a run's counts.
func (s RunSummary) data(blocked int) RunData {
	d := RunData{Targets: s.Matched, Blocked: blocked, Statuses: map[Status]int{}}
	for st, n := range map[Status]int{StatusRotated: s.Rotated, StatusValidated: s.Validated, StatusFailed: s.Failed,
		StatusSkipped: s.Skipped, StatusDrift: s.Drift, StatusHealthy: s.Healthy, StatusSuperseded: s.Superseded} {
		if n > 0 {
			d.Statuses[st] = n
		}
	}
	return d
}

// summarize counts results by status.
func summarize(runID, kind string, dryRun bool, results []Result) RunSummary {
	s := RunSummary{RunID: runID, Kind: kind, Matched: len(results), DryRun: dryRun}
	for _, r := range results {
		switch r.Status {
		case StatusRotated:
			s.Rotated++
			if kind == "sweep" {
				s.Finished++
			}
		case StatusValidated:
			s.Validated++
		case StatusFailed:
			s.Failed++
		case StatusSkipped:
			s.Skipped++
		case StatusDrift:
			s.Drift++
		case StatusHealthy:
			s.Healthy++
		case StatusSuperseded:
			s.Superseded++
		}
	}
	return s
}

// checkSelector checks a selector request before any call: its scope (the
// kind, the first identifier, the parameters; not the second identifier),
// the allow-list, maxTargets, and each field of the selector.
func (r *Rotator) checkSelector(req Request) error {
	scope := req.Targets[0]
	s := specOf(scope.Kind)
	if s == nil {
		return scope.Validate() // names the kind's rule
	}
	if *s.ids[1].get(&scope) != "" {
		return FieldError(s.ids[1].json, "must not be given with select: the selector names the accounts")
	}
	// Validate with a stand-in second identifier, so that every other rule
	// is the one a single target obeys.
	probe := scope
	*specOf(probe.Kind).ids[1].get(&probe) = selectorProbe(probe.Kind)
	if err := r.checkTarget(probe); err != nil {
		return err
	}
	switch {
	case req.MaxTargets == 0:
		return FieldError("maxTargets", "is required with select: the most accounts the request may reset, 1 to %d", MaxSelectTargets)
	case req.MaxTargets < 0 || req.MaxTargets > MaxSelectTargets:
		return FieldError("maxTargets", "must be 1 to %d, got %d", MaxSelectTargets, req.MaxTargets)
	}
	sel := req.Select
	if scope.Kind != KindCloudSSO {
		for _, f := range []struct{ name, v string }{{"status", sel.Status}, {"provisionType", sel.ProvisionType}, {"userNamePrefix", sel.UserNamePrefix}} {
			if f.v != "" {
				return FieldError("select."+f.name, "does not apply to target %q", scope.Kind)
			}
		}
	}
	switch sel.Status {
	case "", SSOStatusEnabled, SSOStatusDisabled:
	default:
		return FieldError("select.status", "must be %q or %q", SSOStatusEnabled, SSOStatusDisabled)
	}
	switch sel.ProvisionType {
	case "", SSOProvisionManual, SSOProvisionSynchronized:
	default:
		return FieldError("select.provisionType", "must be %q or %q", SSOProvisionManual, SSOProvisionSynchronized)
	}
	if len(sel.UserNamePrefix) > maxUserNamePrefix {
		return FieldError("select.userNamePrefix", "must be at most %d characters", maxUserNamePrefix)
	}
	for _, c := range sel.UserNamePrefix {
		// A space or an operator would change the meaning of the service's
		// filter expression ("UserName sw <prefix>").
		if c <= ' ' || c > '~' || c == '"' || c == '\'' {
			return FieldError("select.userNamePrefix", "must be printable ASCII without spaces or quotes")
		}
	}
	if len(sel.Exclude) > MaxExclude {
		return FieldError("select.exclude", "must hold at most %d ids", MaxExclude)
	}
	id := s.ids[1]
	for i, x := range sel.Exclude {
		if !id.pattern().MatchString(x) {
			return FieldError(fmt.Sprintf("select.exclude[%d]", i), "%s", id.rule)
		}
	}
	return nil
}

// selectorProbe is a valid second identifier of kind k.
func selectorProbe(k Kind) string {
	if k == KindCloudSSO {
		return "u-0"
	}
	return "probe"
}

// matches reports whether a listed account is in the selector's set: the
// rotator checks each filter itself, whatever the service applied.
func (sel Selector) matches(a Account, excluded map[string]bool, scope Target) bool {
	t := a.Target
	s := specOf(scope.Kind)
	if t.Kind != scope.Kind || *s.ids[0].get(&t) != *s.ids[0].get(&scope) || excluded[*s.ids[1].get(&t)] {
		return false
	}
	if sel.Status != "" && a.Status != sel.Status {
		return false
	}
	if sel.ProvisionType != "" && a.ProvisionType != sel.ProvisionType {
		return false
	}
	// The service compares the prefix case-insensitively; so does this.
	return sel.UserNamePrefix == "" || strings.HasPrefix(strings.ToLower(a.UserName), strings.ToLower(sel.UserNamePrefix))
}

// expand lists a selector's accounts and returns them as the targets of
// the run, in the order listed, each carrying the request's options. More
// than maxTargets is an EInvalid error naming the count, before any reset.
func (r *Rotator) expand(ctx context.Context, req Request) ([]Target, error) {
	scope := req.Targets[0]
	lister := r.listers[scope.Kind]
	if lister == nil {
		return nil, FieldError("select", "is not enabled for target %q in this deployment", scope.Kind)
	}
	var accounts []Account
	// The hand-on of a run (one step) must fit after the listing.
	err := r.walk(ctx, lister, scope, *req.Select, "", 1, func(_, _ string, page []Account) bool {
		accounts = append(accounts, page...)
		return true
	})
	if err != nil {
		return nil, err
	}
	out := selected(req, accounts, set(req.Select.Exclude), map[string]bool{})
	if len(out) > req.MaxTargets {
		return nil, FieldError("maxTargets", "the selector matches %d accounts, more than maxTargets %d: nothing was reset", len(out), req.MaxTargets)
	}
	return out, nil
}

// selected returns the listed accounts in req's set as the targets of the
// run, in the order listed, each carrying the request's options, less any
// in seen (which it adds them to).
func selected(req Request, accounts []Account, excluded, seen map[string]bool) []Target {
	scope := req.Targets[0]
	s := specOf(scope.Kind)
	var out []Target
	for _, a := range accounts {
		if !req.Select.matches(a, excluded, scope) {
			continue
		}
		t := scope
		*s.ids[1].get(&t) = *s.ids[1].get(&a.Target)
		if t.Validate() != nil || seen[t.Key()] {
			// An id the service lists but no request could name is not
			// reset: its secret name could not be trusted.
			continue
		}
		seen[t.Key()] = true
		out = append(out, t)
	}
	return out
}

// stopper stops a run at the first answer that every later target would
// repeat (a directory with SSO logon enabled).
type stopper struct {
	stopped atomic.Pointer[Error]
}

func (s *stopper) observe(res Result) {
	if res.Err != nil && errors.Is(res.Err, ErrSSOLogonEnabled) {
		s.stopped.CompareAndSwap(nil, &Error{Code: EConflict, Err: ErrSSOLogonEnabled,
			Message: fmt.Sprintf("not started: %s refused a reset because the directory has SSO logon enabled; the run stopped", res.Target.Key())})
	}
}

func (s *stopper) err() *Error {
	if s == nil {
		return nil
	}
	return s.stopped.Load()
}
