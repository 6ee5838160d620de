package reset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// rotate rotates one target's password by protocol v2 (DESIGN.md, "The
// rotation protocol (v2)"). Every step is safe to run again, and a rotation
// under any key first finishes whatever an earlier one left, so that after
// any sequence of requests, failures and kills (one instance at a time):
// I1, the password in effect on the target is held by the version staged
// ACSCurrent or by the one staged ACSPending; and I2, a success answer
// means ACSCurrent holds it. With v the version id of this request's key
// and S the target's secret:
//
//  0. Read S's ACSPending version (GetSecretValue, VersionStage=ACSPending).
//     A 404 means "no secret" or "no version has that stage"; it is not
//     guessed at: step 1's PutSecretValue tells, since it answers 404 only
//     when S is missing (then this is a first rotation: check the account
//     exists, creating nothing if not; create S with a placeholder version,
//     which CreateSecret stages ACSCurrent; stage again).
//     The pending version is v: staged ACSCurrent too, the rotation is done
//     (a replay, Resumed); else resume it with the P stored in v, never a
//     new one (go to 2).
//     The pending version is w ≠ v and not ACSCurrent: an earlier rotation
//     is unfinished and may have set P_w on the target. Roll it forward
//     first: reset the target to P_w, promote w (RolledForward names w). If
//     that fails retryably, fail retryably WITHOUT adding a version, so
//     failed attempts never pile versions up and KMS's eviction of the
//     earliest of ten can never reach the version holding the password in
//     effect. If the target refuses P_w for good (account gone, password
//     refused), the account is blocked: answer EConflict (ErrBlocked)
//     naming w, and every rotation answers the same while the refusal lasts.
//     Before the roll-forward or the stage, P is drawn to the rules of the
//     target's directory (policy.go): rules that cannot be read or met
//     fail the target with nothing changed.
//  1. Stage: generate P; PutSecretValue(S, v, P, [ACSPending]). If it is
//     refused (the code for "version id exists" is not documented), read v
//     and decide from its stages, never from the code: ACSCurrent → done;
//     ACSPending → resume with its P; no stage → superseded. An unstaged v
//     means a newer rotation completed: ACSPending leaves v only when a
//     later rotation stages its own version, which (by step 0) it does only
//     once v is ACSCurrent, so v lost ACSCurrent to a promote of a newer
//     version, and step 0 of this call has just finished any rotation
//     still unfinished: ACSCurrent holds the password in effect.
//  2. Reset the target to P. A timed-out reset is unfinished, not
//     unchanged: v stays pending and the next rotation rolls it forward. A
//     refusal because P was used before (ErrPasswordReused) proves P is in
//     effect: P is random and only pwreset knows it, and pwreset applies a
//     later password only after promoting this one. It counts as done.
//  3. Promote: UpdateSecretVersionStage(S, ACSCurrent, MoveToVersion=v).
//
// The happy path of an existing secret is four round trips (read pending,
// stage, reset, promote). The target is started only if they fit before
// ctx's deadline, and each step's calls end early enough for the steps
// after it.
func (r *Rotator) rotate(ctx context.Context, in rotation) Result {
	if err := ctx.Err(); err != nil {
		return in.skipped("the invocation was cancelled before this target started", err)
	}
	if !r.fits(ctx, 4) {
		return in.skipped("the invocation's deadline is too near to rotate this target", nil)
	}

	// 0. Read pending.
	pending, found, perr := r.readPending(ctx, in)
	if perr != nil {
		return in.failed(perr)
	}
	defer clear(pending.Data)
	rolled, password := "", ""
	if found {
		switch w := pending.VersionID; {
		case w == in.versionID && pending.HasStage(StageCurrent):
			return withResumed(in.result(StatusRotated), true)
		case w == in.versionID:
			password, err := parseSecretData(pending.Data, in.target)
			if err != nil {
				return in.failed(blocked(in, w, err))
			}
			return r.complete(ctx, in, password, true, "")
		case !pending.HasStage(StageCurrent):
			// The new password is drawn to the directory's rules before
			// the roll-forward changes the target.
			if password, perr = r.newPassword(ctx, in); perr != nil {
				return in.failed(perr)
			}
			if err := r.rollForward(ctx, in, pending); err != nil {
				return in.failed(err)
			}
			rolled = w
			if !r.fits(ctx, 3) {
				res := in.failed(Errorf(EUnavailable, "finished the earlier rotation %s; the invocation's deadline is too near to start this one", w))
				res.RolledForward = rolled
				return res
			}
		}
	}

	// 1. Stage.
	if password == "" {
		if password, perr = r.newPassword(ctx, in); perr != nil {
			return in.failed(perr)
		}
	}
	st, serr := r.stage(ctx, in, password)
	if serr != nil {
		res := in.failed(serr)
		res.RolledForward = rolled
		return res
	}
	switch {
	case st.done:
		res := withResumed(in.result(StatusRotated), true)
		res.RolledForward = rolled
		return res
	case st.superseded:
		res := in.result(StatusSuperseded)
		res.RolledForward = rolled
		return res
	}
	return r.complete(ctx, in, st.password, st.resumed, rolled)
}

// complete runs steps 2 and 3 for version in.versionID holding password.
func (r *Rotator) complete(ctx context.Context, in rotation, password string, resumed bool, rolled string) Result {
	res := r.apply(ctx, in, in.versionID, password)
	out := in.result(StatusRotated)
	if res != nil {
		out = in.failed(res)
	}
	out.Resumed, out.RolledForward = resumed, rolled
	return out
}

// rollForward finishes the earlier rotation whose version w is pending and
// not current: it applies P_w and promotes w. Its error is retryable, or
// an EConflict wrapping ErrBlocked when the target refuses P_w for good.
func (r *Rotator) rollForward(ctx context.Context, in rotation, w SecretVersion) *Error {
	defer clear(w.Data)
	password, err := parseSecretData(w.Data, in.target)
	if err != nil {
		return blocked(in, w.VersionID, err)
	}
	if !r.fits(ctx, 2) {
		return Errorf(EUnavailable, "an earlier rotation (version %s) is unfinished and the invocation's deadline is too near to finish it", w.VersionID)
	}
	e := r.apply(ctx, in, w.VersionID, password)
	switch {
	case e == nil:
		return nil
	case e.Code.Retryable():
		return &Error{Code: e.Code, Err: e,
			Message: fmt.Sprintf("an earlier rotation (version %s) is unfinished and could not be finished now (%s); nothing was added: retry with any key", w.VersionID, e.Message)}
	}
	return blocked(in, w.VersionID, e)
}

// blocked is the error of an account whose unfinished rotation w cannot be
// finished: w may hold the password in effect, so no new rotation may
// start until an operator applies or discards w.
func blocked(in rotation, w string, cause error) *Error {
	return &Error{Code: EConflict, Err: fmt.Errorf("%w: %w", ErrBlocked, cause),
		Message: fmt.Sprintf("the account is blocked: the unfinished rotation in version %s of %s cannot be finished (%s); an operator must apply or discard it",
			w, in.secretName, causeMessage(cause))}
}

// readPending is step 0: the version staged ACSPending, and whether there
// is one. found is false on a 404, which may mean that the secret does not
// exist: stage tells.
func (r *Rotator) readPending(ctx context.Context, in rotation) (v SecretVersion, found bool, _ *Error) {
	end, bounded := r.stepEnd(ctx, 3)
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		var err error
		v, err = r.store.GetStaged(ctx, in.secretName, StagePending)
		return err
	})
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, ErrSecretNotFound):
		return SecretVersion{}, false, nil
	}
	return SecretVersion{}, false, &Error{Code: codeOf(err), Err: err,
		Message: fmt.Sprintf("reading the pending version failed: %s", causeMessage(err))}
}

// apply runs steps 2 (reset) and 3 (promote) for version vid holding
// password. A failure leaves vid pending: whatever the target has now is
// held by ACSCurrent or by vid.
func (r *Rotator) apply(ctx context.Context, in rotation, vid, password string) *Error {
	kept := fmt.Sprintf("the new password is kept in version %s, staged ACSPending: a retry with any key finishes it", vid)
	if err := ctx.Err(); err != nil {
		return &Error{Code: EUnavailable, Message: "cancelled before the reset; " + kept, Err: err}
	}
	if !r.fits(ctx, 2) {
		return Errorf(EUnavailable, "the invocation's deadline is too near to reset %s; %s", in.target.Kind, kept)
	}
	if err := r.reset(ctx, in, password, kept); err != nil {
		return err
	}
	end, bounded := r.stepEnd(ctx, 0)
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return r.store.Promote(ctx, in.secretName, vid)
	})
	if err == nil {
		return nil
	}
	err = redact(err, password)
	code := codeOf(err)
	if !code.Retryable() {
		// The target has P and P is in vid: only a retry (after fixing
		// whatever refused the promote) makes vid current.
		code = EUpstream
	}
	return &Error{Code: code, Err: err,
		Message: fmt.Sprintf("promote in the secret store failed (%s) after the password was reset; %s", causeMessage(err), kept)}
}

// staged is the outcome of the stage step.
type staged struct {
	password   string // the password to set; empty when done or superseded
	resumed    bool   // an earlier attempt had staged password
	done       bool   // version v is already current
	superseded bool   // version v was overtaken
}

// newPassword draws the password of a new version of in's target: to the
// rules of its directory when its kind has them (passwordsFor). Its error
// comes before any change to the target.
func (r *Rotator) newPassword(ctx context.Context, in rotation) (string, *Error) {
	src, perr := r.passwordsFor(ctx, in)
	if perr != nil {
		return "", perr
	}
	password, err := src.Generate()
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == EConflict {
			return "", e
		}
		return "", &Error{Code: EInternal, Message: "generating a password failed", Err: err}
	}
	return password, nil
}

// stage is step 1 of rotate: stage password, new, as version v.
func (r *Rotator) stage(ctx context.Context, in rotation, password string) (staged, *Error) {
	end, bounded := r.stepEnd(ctx, 2)
	data := secretData(in.target, password)
	defer clear(data)
	created := false
	for {
		err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
			return r.store.PutVersion(ctx, in.secretName, in.versionID, data, []string{StagePending})
		})
		switch {
		case err == nil:
			return staged{password: password}, nil
		case errors.Is(err, ErrSecretNotFound) && !created:
			// The secret does not exist: a first rotation.
			if e := r.create(ctx, in, end, bounded); e != nil {
				return staged{}, e
			}
			created = true
		case errors.Is(err, ErrVersionExists) || (!errors.Is(err, ErrSecretNotFound) && !retried(codeOf(err))):
			// Maybe v exists: the code that says so is not documented.
			return r.readOwn(ctx, in, end, bounded, redact(err, password))
		default:
			err = redact(err, password)
			code := codeOf(err)
			if errors.Is(err, ErrSecretNotFound) {
				// Created a moment ago, gone now: not the caller's fault.
				code = EUpstream
			}
			return staged{}, &Error{Code: code, Err: err,
				Message: fmt.Sprintf("staging the new password failed: %s", causeMessage(err))}
		}
	}
}

// create makes the secret of a first rotation, after checking that the
// account exists: a missing account leaves no secret behind.
func (r *Rotator) create(ctx context.Context, in rotation, end time.Time, bounded bool) *Error {
	checker, ok := r.checkers[in.target.Kind]
	if !ok {
		return Errorf(EInternal, "no account check is configured for %s targets: the secret of a first rotation is not created", in.target.Kind)
	}
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return checker.CheckAccount(ctx, in.target)
	})
	if err != nil {
		code := codeOf(err)
		msg := fmt.Sprintf("checking that the account exists failed: %s", causeMessage(err))
		if code == ENotFound {
			msg = fmt.Sprintf("the account does not exist (%s); no secret was created", causeMessage(err))
		}
		return &Error{Code: code, Err: err, Message: msg}
	}
	err = r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return r.store.CreateSecret(ctx, in.secretName, placeholderVersionID, secretData(in.target, ""))
	})
	if err != nil && !errors.Is(err, ErrSecretExists) {
		return &Error{Code: codeOf(err), Err: err,
			Message: fmt.Sprintf("creating the secret failed: %s", causeMessage(err))}
	}
	return nil
}

// readOwn reads version v after its PutSecretValue was refused, and decides
// from its stages (see rotate, step 1). If v does not exist the refusal
// (putErr) stands.
func (r *Rotator) readOwn(ctx context.Context, in rotation, end time.Time, bounded bool, putErr error) (staged, *Error) {
	var v SecretVersion
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		var err error
		v, err = r.store.GetVersion(ctx, in.secretName, in.versionID)
		return err
	})
	defer clear(v.Data)
	if errors.Is(err, ErrSecretNotFound) {
		code := codeOf(putErr)
		if errors.Is(putErr, ErrVersionExists) {
			code = EInternal // "exists" then "not found": the store contradicts itself
		}
		return staged{}, &Error{Code: code, Err: putErr,
			Message: fmt.Sprintf("staging the new password failed: %s", causeMessage(putErr))}
	}
	if err != nil {
		return staged{}, &Error{Code: codeOf(err), Err: err,
			Message: fmt.Sprintf("reading the staged version failed: %s", causeMessage(err))}
	}
	switch {
	case v.HasStage(StageCurrent):
		return staged{done: true}, nil
	case v.HasStage(StagePending):
		password, err := parseSecretData(v.Data, in.target)
		if err != nil {
			var e *Error
			errors.As(err, &e)
			return staged{}, e
		}
		return staged{password: password, resumed: true}, nil
	}
	return staged{superseded: true}, nil
}

// reset is step 2: set password on the target. kept says where the
// password is, for the messages of retryable failures.
func (r *Rotator) reset(ctx context.Context, in rotation, password, kept string) *Error {
	end, bounded := r.stepEnd(ctx, 1)
	resetter := r.resetters[in.target.Kind]
	uncertain := false
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		err := resetter.ResetPassword(ctx, in.target, password)
		if err != nil && codeOf(err) == EUnavailable {
			uncertain = true
		}
		return err
	})
	if err == nil || errors.Is(err, ErrPasswordReused) {
		// A refusal because this random password was used before proves
		// it is in effect (see rotate, step 2).
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelInfo, "reset refused as a reuse of the password being applied: counted as applied",
				slog.String("target", in.target.Key()), slog.String("code", string(codeOf(err))), slog.String("error", causeMessage(err)))
		}
		return nil
	}
	err = redact(err, password)
	code := codeOf(err)
	if uncertain && !code.Retryable() {
		// An earlier try may have set the password and this one was refused:
		// the target's state is unknown, so the caller must treat it as
		// retryable rather than as "unchanged".
		return &Error{Code: EUnavailable, Err: err,
			Message: fmt.Sprintf("reset on %s may have been applied: a try timed out and the next failed (%s); %s",
				in.target.Kind, causeMessage(err), kept)}
	}
	msg := fmt.Sprintf("reset on %s failed: %s", in.target.Kind, causeMessage(err))
	if code.Retryable() {
		msg += "; " + kept
	}
	return &Error{Code: code, Err: err, Message: msg}
}

// dryRun is the dry run of one target: the secret store must let it read the
// secret (which may not exist yet: rotate will create it).
func (r *Rotator) dryRun(ctx context.Context, in rotation) Result {
	if err := ctx.Err(); err != nil {
		return in.skipped("the invocation was cancelled before this target started", err)
	}
	if !r.fits(ctx, 1) {
		return in.skipped("the invocation's deadline is too near to check this target", nil)
	}
	end, bounded := r.stepEnd(ctx, 0)
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return r.store.Describe(ctx, in.secretName)
	})
	if err != nil && !errors.Is(err, ErrSecretNotFound) {
		return in.failed(&Error{Code: codeOf(err), Err: err,
			Message: fmt.Sprintf("reading the secret failed: %s", causeMessage(err))})
	}
	return in.result(StatusValidated)
}

// withResumed returns res with Resumed set to resumed.
func withResumed(res Result, resumed bool) Result {
	res.Resumed = resumed
	return res
}
