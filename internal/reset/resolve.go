package reset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// An operator's way out of a blocked account (DESIGN.md, "Operator CLI"):
// the account's pending version w cannot be rolled forward, so every
// rotation answers ErrBlocked until someone decides whether w's password is
// the one in effect. ApplyPending says it is (or should be made so);
// DiscardPending says it is not. Both take the target's lock, as rotations
// do, and log one outcome line.

// ValidVersionID reports whether id is a version id the rotator makes
// ("pwreset-" and 32 lower-case hexadecimal digits, VersionID): the shape
// of every version it stages pending. Checked by hand, not with a regexp
// compiled in init, which cost every cold start 140 allocations.
func ValidVersionID(id string) bool {
	hex, ok := strings.CutPrefix(id, versionPrefix)
	if !ok || len(hex) != 32 {
		return false
	}
	for i := range len(hex) {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseSecretName returns the target whose secret, under prefix, is name:
// "<prefix><kind>/<id>/<id>" (Target.SecretName). A fabric target's
// Location is not in the name; the caller sets it. The error is an EInvalid
// *Error naming field "secretName".
func ParseSecretName(prefix, name string) (Target, error) {
	rest, ok := strings.CutPrefix(name, prefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return Target{}, FieldError("secretName", "must be %q followed by <target>/<id>/<id>", prefix)
	}
	t := Target{Kind: Kind(parts[0])}
	s := specOf(t.Kind)
	if s == nil {
		return Target{}, FieldError("secretName", "names no known target kind (%q)", parts[0])
	}
	*s.ids[0].get(&t), *s.ids[1].get(&t) = parts[1], parts[2]
	for _, f := range s.ids[:2] {
		if !f.pattern().MatchString(*f.get(&t)) {
			return Target{}, FieldError("secretName", "%s: %s", f.json, f.rule)
		}
	}
	return t, nil
}

// ApplyPending resolves a blocked account by applying its unfinished
// rotation: it resets t to the password of version w, which must be staged
// ACSPending and not ACSCurrent in t's secret, and promotes w, by the
// protocol's own steps 2 and 3 (apply), as a roll-forward does. The Result
// is StatusRotated with VersionID w, or StatusFailed with an *Error: EInvalid
// for a bad t or w, EConflict when w is not t's unfinished rotation, and the
// kinds of a rotation's failures otherwise (w stays pending then).
func (r *Rotator) ApplyPending(ctx context.Context, t Target, w string) Result {
	return r.resolve(ctx, t, w, func(ctx context.Context, in rotation, pending SecretVersion) Result {
		password, err := parseSecretData(pending.Data, t)
		if err != nil {
			return in.failed(&Error{Code: EConflict, Err: err,
				Message: fmt.Sprintf("version %s of %s holds no password of this account: discard it instead", w, in.secretName)})
		}
		if e := r.apply(ctx, in, w, password); e != nil {
			return in.failed(e)
		}
		res := in.result(StatusRotated)
		res.RolledForward = w
		return res
	})
}

// DiscardVersionID is the id of the version DiscardPending stages when it
// discards w for t: derived from w, so a discard run again after a crash
// finds and finishes its own version.
func DiscardVersionID(t Target, w string) string {
	return VersionID("discard:"+w, t)
}

// DiscardPending resolves a blocked account whose unfinished rotation w
// does not hold the password in effect: the operator has confirmed that
// ACSCurrent's does. KMS's UpdateSecretVersionStage removes only custom
// stages from a version, ACSCurrent and ACSPrevious being reserved (its API
// page, "VersionStage"); whether ACSPending counts as custom is not said
// (assumed: it may not). So ACSPending is not removed but moved, with the
// calls the protocol already makes: the data of the version staged
// ACSCurrent is staged again as a new version u (DiscardVersionID), which
// PutSecretValue with ACSPending takes the label to, and u is promoted. Then
// u is both ACSCurrent and ACSPending (a finished rotation, to step 0), w
// has no stage, and I1 holds throughout: before the put ACSCurrent holds
// the password in effect; between the put and the promote both ACSCurrent
// and ACSPending (u, the same data) hold it, and a rotation that comes
// then rolls u forward, re-applying the password in effect; after the
// promote u holds it as ACSCurrent. The Result is StatusRotated with
// VersionID u (the password in effect is unchanged), or StatusFailed.
func (r *Rotator) DiscardPending(ctx context.Context, t Target, w string) Result {
	return r.resolve(ctx, t, w, func(ctx context.Context, in rotation, pending SecretVersion) Result {
		u := DiscardVersionID(t, w)
		in.versionID = u
		end, bounded := r.stepEnd(ctx, 0)
		if pending.VersionID != u {
			var cur SecretVersion
			err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
				var err error
				cur, err = r.store.GetStaged(ctx, in.secretName, StageCurrent)
				return err
			})
			if err != nil {
				return in.failed(&Error{Code: storeCode(err), Err: err, Message: "reading the current version failed: " + causeMessage(err)})
			}
			defer clear(cur.Data)
			// The placeholder of a first rotation holds no password but is
			// this account's: a blocked first rotation is discarded too.
			if _, perr := parseSecretData(cur.Data, t); perr != nil && !bytes.Equal(cur.Data, secretData(t, "")) {
				return in.failed(&Error{Code: EConflict, Err: perr,
					Message: fmt.Sprintf("the current version %s of %s is not this account's secret: nothing was changed", cur.VersionID, in.secretName)})
			}
			err = r.retry(ctx, end, bounded, func(ctx context.Context) error {
				return r.store.PutVersion(ctx, in.secretName, u, cur.Data, []string{StagePending})
			})
			if err != nil {
				return in.failed(&Error{Code: storeCode(err), Err: err,
					Message: fmt.Sprintf("staging the current data as version %s failed (%s): version %s is still pending", u, causeMessage(err), w)})
			}
		}
		err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
			return r.store.Promote(ctx, in.secretName, u)
		})
		if err != nil {
			return in.failed(&Error{Code: storeCode(err), Err: err,
				Message: fmt.Sprintf("promoting version %s failed (%s): it holds the current data, staged ACSPending; run the discard again", u, causeMessage(err))})
		}
		return in.result(StatusRotated)
	})
}

// storeCode classifies a secret store's refusal during a discard: the
// input was checked before any call, so a refusal as invalid is the
// store's (EUpstream), not the operator's, as apply's promote has it.
func storeCode(err error) ErrorCode {
	if code := codeOf(err); code != EInvalid {
		return code
	}
	return EUpstream
}

// resolve checks t and w, locks t, reads t's pending version and has do
// resolve it if it is w (or, for a discard run again, w's replacement).
func (r *Rotator) resolve(ctx context.Context, t Target, w string, do func(context.Context, rotation, SecretVersion) Result) (res Result) {
	in := rotation{target: t, secretName: t.SecretName(r.cfg.SecretPrefix), versionID: w}
	start := r.clock.Now()
	defer func() {
		if recover() != nil {
			res = in.failed(Errorf(EInternal, "an internal error stopped resolving this target"))
		}
		res = r.logResult(ctx, in, start, res)
	}()
	if err := r.checkTarget(t); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Code: EInvalid, Err: err, Message: err.Error()}
		}
		return in.failed(e)
	}
	if !ValidVersionID(w) {
		return in.failed(FieldError("version", "must be a version id pwreset stages (%q and 32 hexadecimal digits)", versionPrefix))
	}
	unlock, err := r.locks.lock(ctx, t.Key())
	if err != nil {
		return in.skipped("cancelled while another rotation of this target ran", err)
	}
	defer unlock()
	pending, found, perr := r.readPending(ctx, in)
	if perr != nil {
		return in.failed(perr)
	}
	defer clear(pending.Data)
	switch {
	case !found:
		return in.failed(Errorf(EConflict, "%s has no pending version: nothing to resolve", in.secretName))
	case pending.VersionID == DiscardVersionID(t, w) && !pending.HasStage(StageCurrent):
		// A discard of w that stopped before its promote.
		return do(ctx, in, pending)
	case pending.VersionID != w:
		return in.failed(Errorf(EConflict, "version %s is not the pending version of %s (%s is): nothing was changed", w, in.secretName, pending.VersionID))
	case pending.HasStage(StageCurrent):
		return in.failed(Errorf(EConflict, "version %s of %s is already current: its rotation is finished, nothing to resolve", w, in.secretName))
	}
	return do(ctx, in, pending)
}
