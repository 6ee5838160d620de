package reset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What a sweep reports of a secret (Result.Drift).
const (
	DriftPlaceholder = "placeholder" // ACSCurrent is still the placeholder: no rotation ever finished
	DriftStale       = "stale"       // ACSCurrent is older than Config.MaxPasswordAge
	DriftAccountGone = "accountGone" // the account no longer exists
	DriftUnfinished  = "unfinished"  // a rotation is unfinished and this sweep did not finish it (a dry run, or a value without the target's parameters: Result.Detail)
	DriftForeign     = "notPwreset"  // the name under the prefix is not one pwreset gives a secret
)

// VersionInfo is one version of a secret as the lister lists it, without
// its value.
type VersionInfo struct {
	VersionID string
	Stages    []string
	Created   time.Time // zero when the service did not say
}

// SecretLister lists the secrets under a prefix and their versions (KMS
// ListSecrets and ListSecretVersionIds). ListSecrets returns names that
// start with prefix; the sweep checks each again. Errors are as a
// SecretStore's.
type SecretLister interface {
	ListSecrets(ctx context.Context, prefix string) ([]string, error)
	ListVersions(ctx context.Context, name string) ([]VersionInfo, error)
}

// sweep finishes the rotations left unfinished under the prefix (a version
// staged ACSPending and not ACSCurrent: its password is re-applied and it
// is promoted, the roll-forward of protocol v2) and reports drift without
// acting on it: a placeholder still current, a password older than
// MaxPasswordAge, an account that no longer exists, an unfinished rotation
// whose roll-forward fails for good (blocked, a failed Result). A dry run
// finishes nothing. It returns one Result per secret, in the lister's order.
func (r *Rotator) sweep(ctx context.Context, req Request) ([]Result, error) {
	if _, err := r.plan(req); err != nil {
		return nil, err
	}
	names, err := r.secrets.ListSecrets(ctx, r.cfg.SecretPrefix)
	if err != nil {
		return nil, err
	}
	// The signing key and the runs' records are pwreset's, not targets'.
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, r.cfg.SecretPrefix+runRecordPrefix) })
	if r.chunked(ctx, len(names)) {
		keys := slices.Clone(names)
		slices.Sort(keys)
		return r.startRun(ctx, req, "sweep", slices.Compact(keys))
	}
	out := r.sweepNames(ctx, req, names)
	r.endRun(ctx, req, "sweep", out)
	return out, nil
}

// sweepNames sweeps the secrets names, at most MaxInFlight at once, and
// returns one Result per name, in order.
func (r *Rotator) sweepNames(ctx context.Context, req Request, names []string) []Result {
	slots := newSlots(r.cfg.MaxInFlight)
	results := make([]Result, len(names))
	for i, name := range names {
		if !strings.HasPrefix(name, r.cfg.SecretPrefix) {
			// The lister's filter is not trusted: a name outside the
			// prefix is not pwreset's to look at.
			results[i] = Result{Status: StatusDrift, SecretName: name, Drift: DriftForeign}
			continue
		}
		if err := slots.acquire(ctx); err != nil {
			results[i] = Result{Status: StatusSkipped, SecretName: name,
				Err: &Error{Code: EUnavailable, Message: "the invocation was cancelled before this secret was swept", Err: err}}
			continue
		}
		slots.start(func() { results[i] = r.sweepOne(ctx, name, req.DryRun) })
	}
	slots.wait()
	// The rotations the sweep tried to finish have outcomes; its reports on
	// the secrets it left alone have none (outcomeEvents), nor has a secret
	// it could not look at (no version: the run's event counts it).
	var tried []Result
	for _, res := range results {
		if res.VersionID != "" {
			tried = append(tried, res)
		}
	}
	r.publish(ctx, r.outcomeEvents(req, tried))
	return results
}

// targetOfSecret returns the target whose secret is name, and whether name
// is a secret name pwreset gives (prefix, kind, two valid identifiers).
// Parameters (a Fabric user's location) are not in the name: the target
// then fails Validate, and the sweep reports rather than resets it.
func (r *Rotator) targetOfSecret(name string) (Target, bool) {
	parts := strings.Split(strings.TrimPrefix(name, r.cfg.SecretPrefix), "/")
	if len(parts) != 3 {
		return Target{}, false
	}
	s := specOf(Kind(parts[0]))
	if s == nil {
		return Target{}, false
	}
	t := Target{Kind: s.kind}
	for i, f := range s.ids {
		if !f.pattern().MatchString(parts[i+1]) {
			return Target{}, false
		}
		*f.get(&t) = parts[i+1]
	}
	return t, t.SecretName(r.cfg.SecretPrefix) == name
}

// sweepOne sweeps one secret and logs its line.
func (r *Rotator) sweepOne(ctx context.Context, name string, dryRun bool) (res Result) {
	t, ok := r.targetOfSecret(name)
	if !ok {
		return Result{Status: StatusDrift, SecretName: name, Drift: DriftForeign}
	}
	in := rotation{target: t, secretName: name, dryRun: dryRun}
	start := r.clock.Now()
	defer func() {
		if recover() != nil {
			res = in.failed(Errorf(EInternal, "an internal error stopped the sweep of this secret"))
		}
		res = r.logResult(ctx, in, start, res)
	}()
	versions, err := r.secrets.ListVersions(ctx, name)
	if err != nil {
		if errors.Is(err, ErrSecretNotFound) {
			// Deleted since it was listed: nothing to sweep.
			return in.result(StatusHealthy)
		}
		return in.failed(asError(err))
	}
	var current, pending *VersionInfo
	for i := range versions {
		v := &versions[i]
		if hasStage(v.Stages, StageCurrent) {
			current = v
		}
		if hasStage(v.Stages, StagePending) {
			pending = v
		}
	}
	if pending != nil && (current == nil || pending.VersionID != current.VersionID) {
		in.versionID = pending.VersionID
		return r.heal(ctx, in)
	}
	if current == nil || current.VersionID == placeholderVersionID {
		return withDrift(in.result(StatusDrift), DriftPlaceholder)
	}
	in.versionID = current.VersionID
	if age := r.cfg.MaxPasswordAge; age > 0 && !current.Created.IsZero() && r.clock.Now().Sub(current.Created) > age {
		return withDrift(in.result(StatusDrift), DriftStale)
	}
	if c := r.checkers[t.Kind]; c != nil && t.Validate() == nil {
		if err := c.CheckAccount(ctx, t); err != nil {
			if ErrorCodeOf(err) == ENotFound {
				return withDrift(in.result(StatusDrift), DriftAccountGone)
			}
			return in.failed(asError(err))
		}
	}
	return in.result(StatusHealthy)
}

// heal finishes the unfinished rotation whose pending version is
// in.versionID, under the target's lock, re-reading the pending version
// first: another rotation may have finished it meanwhile. The target's
// parameters, which the secret's name does not hold (a Fabric user's
// location), come from the pending version's value; a value written
// without them leaves the rotation drift "unfinished", with the reason in
// Detail, and changes nothing.
func (r *Rotator) heal(ctx context.Context, in rotation) Result {
	if in.dryRun {
		// A dry run changes nothing.
		return withDrift(in.result(StatusDrift), DriftUnfinished)
	}
	if !r.fits(ctx, 3) {
		return in.skipped("the invocation's deadline is too near to finish this unfinished rotation", nil)
	}
	unlock, err := r.locks.lock(ctx, in.target.Key())
	if err != nil {
		return in.skipped("the invocation ended while another rotation of this target ran", err)
	}
	defer unlock()
	pending, found, perr := r.readPending(ctx, in)
	if perr != nil {
		return in.failed(perr)
	}
	defer clear(pending.Data)
	if !found || pending.HasStage(StageCurrent) {
		return in.result(StatusHealthy)
	}
	in.versionID = pending.VersionID
	var missing []string
	in.target, missing = withSecretParams(in.target, pending.Data)
	if len(missing) > 0 || in.target.Validate() != nil {
		res := withDrift(in.result(StatusDrift), DriftUnfinished)
		what := "no valid " + strings.Join(missing, ", ")
		if len(missing) == 0 {
			what = "a target that is not valid"
		}
		res.Detail = fmt.Sprintf("the value of version %s holds %s (an older value): the sweep cannot reach the account; a rotation request naming the target finishes it",
			pending.VersionID, what)
		return res
	}
	if e := r.rollForward(ctx, in, pending); e != nil {
		return in.failed(e)
	}
	res := in.result(StatusRotated)
	res.RolledForward = pending.VersionID
	return res
}

func withDrift(res Result, d string) Result {
	res.Drift = d
	return res
}

func hasStage(stages []string, s string) bool {
	for _, x := range stages {
		if x == s {
			return true
		}
	}
	return false
}

// asError returns err as an *Error, EUpstream when it is not one.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EUpstream, Message: "the secret store failed", Err: err}
}
