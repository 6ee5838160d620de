package reset

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Request limits.
const (
	// MaxTargets bounds a batch, so one request cannot hold the single
	// instance (and every other caller) for long.
	MaxTargets = 1000
	// MaxIdempotencyKeyLength bounds a caller-given idempotency key (or
	// each part of one, such as a CloudEvent's source and id) in bytes.
	MaxIdempotencyKeyLength = 256
	// MaxScopedKeyLength bounds Request.IdempotencyKey, the key scoped by
	// its trigger: a namespace and up to three length-prefixed parts.
	MaxScopedKeyLength = 4*MaxIdempotencyKeyLength + 64
	// MaxSecretNameLength is KMS's limit on secret names.
	MaxSecretNameLength = 192
)

// maxKeyLength is the longest Target.Key a valid target has: "cloudsso/",
// a 64-character directory id, "/" and a 64-character user id.
const maxKeyLength = len("cloudsso/") + 64 + 1 + 64

// Defaults of Config.
const (
	DefaultSecretPrefix = "pwreset/"
	DefaultMaxInFlight  = 8
	DefaultMaxAttempts  = 5
	DefaultBaseBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff   = 5 * time.Second
	DefaultStepReserve  = 3 * time.Second
)

// Rotator rotates the passwords of targets by the protocol of DESIGN.md: the
// new password is stored as a pending secret version before the target is
// changed, and promoted to current after. It is safe for concurrent use:
// rotations of the same target (whatever their keys) wait for each other
// within a Rotator; across instances the deployment runs one at a time.
type Rotator struct {
	cfg         Config
	resetters   map[Kind]Resetter
	store       SecretStore
	clock       Clock
	rand        io.Reader
	log         *slog.Logger
	passwords   *PasswordGenerator
	allowedDirs map[string]bool
	allowedOrgs map[string]bool
	checkers    map[Kind]AccountChecker
	locks       targetLocks
}

// Option changes a dependency of a Rotator.
type Option func(*Rotator)

// WithClock sets the source of time and the sleeps between retries; the
// default is SystemClock.
func WithClock(c Clock) Option { return func(r *Rotator) { r.clock = c } }

// WithRand sets the random source of passwords and backoff jitter; the
// default is crypto/rand.Reader. The reader need not be safe for concurrent
// use: the rotator serializes its reads.
func WithRand(rnd io.Reader) Option { return func(r *Rotator) { r.rand = rnd } }

// WithLogger sets the logger of the per-target outcome lines; the default
// discards them.
func WithLogger(l *slog.Logger) Option { return func(r *Rotator) { r.log = l } }

// NewRotator returns a Rotator that resets each kind of target with its
// Resetter in resetters and keeps passwords in store. A kind without a
// resetter is refused at Check. It validates cfg and applies its defaults;
// a configuration error is an EInvalid *Error whose Field names the
// environment variable (or Config field) at fault.
func NewRotator(cfg Config, resetters map[Kind]Resetter, store SecretStore, opts ...Option) (*Rotator, error) {
	if store == nil {
		return nil, Errorf(EInvalid, "reset: a secret store is required")
	}
	if len(resetters) == 0 {
		return nil, Errorf(EInvalid, "reset: at least one resetter is required")
	}
	rs := make(map[Kind]Resetter, len(resetters))
	for k, v := range resetters {
		if k != KindCloudSSO && k != KindFabric {
			return nil, Errorf(EInvalid, "reset: resetter for unknown target kind %q", k)
		}
		if v == nil {
			return nil, Errorf(EInvalid, "reset: resetter for %q is nil", k)
		}
		rs[k] = v
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Rotator{
		cfg:         cfg,
		resetters:   rs,
		store:       store,
		clock:       SystemClock{},
		rand:        rand.Reader,
		log:         slog.New(slog.DiscardHandler),
		allowedDirs: set(cfg.AllowedDirectoryIDs),
		allowedOrgs: set(cfg.AllowedOrganizationIDs),
	}
	for _, o := range opts {
		o(r)
	}
	if r.clock == nil || r.rand == nil || r.log == nil {
		return nil, Errorf(EInvalid, "reset: an option set a nil clock, random source or logger")
	}
	r.rand = &lockedReader{r: r.rand}
	// Each service gets its own pacer: one throttling API must not slow the
	// calls of another, nor the other's answers hide its throttling.
	r.store = paceStore(store, newPacer(r.clock))
	r.checkers = map[Kind]AccountChecker{}
	for k, v := range rs {
		p := newPacer(r.clock)
		if c, ok := v.(AccountChecker); ok {
			r.checkers[k] = pacedChecker{next: c, p: p}
		}
		rs[k] = paceResetter(v, p)
	}
	if r.passwords, err = NewPasswordGenerator(cfg.Password, r.rand); err != nil {
		return nil, err
	}
	return r, nil
}

// withDefaults validates c and fills in its zero values.
func (c Config) withDefaults() (Config, error) {
	if c.SecretPrefix == "" {
		c.SecretPrefix = DefaultSecretPrefix
	}
	if err := ValidatePrefix(c.SecretPrefix); err != nil {
		return c, err
	}
	if len(c.SecretPrefix)+maxKeyLength > MaxSecretNameLength {
		return c, FieldError("SECRET_NAME_PREFIX", "must be at most %d characters, so that every secret name fits KMS's %d",
			MaxSecretNameLength-maxKeyLength, MaxSecretNameLength)
	}
	for _, id := range c.AllowedDirectoryIDs {
		if !reDirectoryID().MatchString(id) {
			return c, FieldError("ALLOWED_DIRECTORY_IDS", "holds an entry that is not a directory id")
		}
	}
	for _, id := range c.AllowedOrganizationIDs {
		if !reOrganizationID().MatchString(id) {
			return c, FieldError("ALLOWED_ORGANIZATION_IDS", "holds an entry that is not an organization id")
		}
	}
	if c.Password.Length == 0 {
		c.Password.Length = DefaultPasswordLength
	}
	if err := c.Password.Validate(); err != nil {
		return c, err
	}
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"BaseBackoff", &c.BaseBackoff, DefaultBaseBackoff},
		{"MaxBackoff", &c.MaxBackoff, DefaultMaxBackoff},
		{"StepReserve", &c.StepReserve, DefaultStepReserve},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return c, FieldError(d.name, "must not be negative")
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if c.BaseBackoff > c.MaxBackoff {
		return c, FieldError("BaseBackoff", "must not exceed MaxBackoff")
	}
	if c.MaxInFlight < 0 || c.MaxAttempts < 0 {
		return c, FieldError("MaxInFlight", "and MaxAttempts must not be negative")
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	return c, nil
}

func set(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// plan is a checked request: the distinct targets, and for each target of
// the request the index of its distinct target.
type plan struct {
	targets []Target
	index   []int
}

// Check validates req before any cloud call: the idempotency key (required,
// at most MaxScopedKeyLength bytes of printable UTF-8), the number of
// targets (1 to MaxTargets), each target (Target.Validate, a resetter for
// its kind, the allow-lists) and duplicates. Its error is an *Error: EInvalid
// or, for a target off an allow-list, EForbidden. When the request holds more
// than one target or req.Batch is set, a target's field is named
// "targets[i].field".
//
// Two targets with the same Key are one account. Exact duplicates are
// handled once, and each gets the same Result; duplicates that differ in
// another field (e.g. requirePasswordResetForNextLogin) are ambiguous, and an
// EInvalid error.
func (r *Rotator) Check(req Request) error {
	_, err := r.plan(req)
	return err
}

func (r *Rotator) plan(req Request) (plan, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return plan{}, err
	}
	switch {
	case len(req.Targets) == 0:
		return plan{}, FieldError("targets", "at least one target is required")
	case len(req.Targets) > MaxTargets:
		return plan{}, FieldError("targets", "at most %d targets are allowed, got %d", MaxTargets, len(req.Targets))
	}
	batch := req.Batch || len(req.Targets) > 1
	p := plan{index: make([]int, len(req.Targets))}
	seen := make(map[string]int, len(req.Targets)) // Key → index in req.Targets
	for i, t := range req.Targets {
		prefix := ""
		if batch {
			prefix = fmt.Sprintf("targets[%d].", i)
		}
		if err := r.checkTarget(t); err != nil {
			var e *Error
			if errors.As(err, &e) {
				c := *e
				c.Field = prefix + c.Field
				return plan{}, &c
			}
			return plan{}, err
		}
		if j, ok := seen[t.Key()]; ok {
			if req.Targets[j] != t {
				return plan{}, FieldError(prefix+"target", "names the same account as targets[%d] with different options", j)
			}
			p.index[i] = p.index[j]
			continue
		}
		seen[t.Key()] = i
		p.index[i] = len(p.targets)
		p.targets = append(p.targets, t)
	}
	return p, nil
}

func checkIdempotencyKey(key string) error {
	const field = "idempotencyKey"
	switch {
	case key == "":
		return FieldError(field, "is required")
	case len(key) > MaxScopedKeyLength:
		return FieldError(field, "must be at most %d bytes", MaxScopedKeyLength)
	case !utf8.ValidString(key):
		return FieldError(field, "must be valid UTF-8")
	case strings.IndexFunc(key, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0:
		return FieldError(field, "must hold only printable characters")
	}
	return nil
}

func (r *Rotator) checkTarget(t Target) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if _, ok := r.resetters[t.Kind]; !ok {
		return FieldError("target", "%q is not enabled in this deployment", t.Kind)
	}
	switch {
	case t.Kind == KindCloudSSO && r.allowedDirs != nil && !r.allowedDirs[t.DirectoryID]:
		return &Error{Code: EForbidden, Field: "directoryId", Message: "is not on the allow-list"}
	case t.Kind == KindFabric && r.allowedOrgs != nil && !r.allowedOrgs[t.OrganizationID]:
		return &Error{Code: EForbidden, Field: "organizationId", Message: "is not on the allow-list"}
	}
	return nil
}

// Rotate checks req (a failure is returned as the error, before any cloud
// call) and then rotates each distinct target, at most MaxInFlight at once;
// once a service throttles, its calls are paced (see pacer).
// It returns one Result per target of req, in its order; a target's failure
// is in its Result and does not stop the others. Once ctx is done, or its
// deadline too near to finish a rotation, no new target is started: those
// are StatusSkipped. A dry run checks each target's secret is readable and
// changes nothing.
func (r *Rotator) Rotate(ctx context.Context, req Request) ([]Result, error) {
	p, err := r.plan(req)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(p.targets))
	slots := make(chan struct{}, r.cfg.MaxInFlight)
	var wg sync.WaitGroup
	for i, t := range p.targets {
		in := rotation{
			target:     t,
			secretName: t.SecretName(r.cfg.SecretPrefix),
			versionID:  VersionID(req.IdempotencyKey, t),
			dryRun:     req.DryRun,
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// Whether or not a slot was taken, the target is not started.
			select {
			case <-slots:
			default:
			}
			out[i] = r.finish(ctx, in, r.clock.Now(), in.skipped("the invocation was cancelled before this target started", ctx.Err()))
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i] = r.runOne(ctx, in)
		})
	}
	wg.Wait()
	results := make([]Result, len(req.Targets))
	for i, j := range p.index {
		results[i] = out[j]
	}
	return results, nil
}

// rotation is the input of one target's rotation.
type rotation struct {
	target     Target
	secretName string
	versionID  string
	dryRun     bool
}

func (in rotation) result(s Status) Result {
	return Result{Target: in.target, Status: s, SecretName: in.secretName, VersionID: in.versionID}
}

func (in rotation) skipped(msg string, cause error) Result {
	res := in.result(StatusSkipped)
	res.Err = &Error{Code: EUnavailable, Message: msg, Err: cause}
	return res
}

func (in rotation) failed(err *Error) Result {
	res := in.result(StatusFailed)
	res.Err = err
	return res
}

// runOne runs one target and logs its outcome.
func (r *Rotator) runOne(ctx context.Context, in rotation) Result {
	start := r.clock.Now()
	var res Result
	if in.dryRun {
		res = r.check(ctx, in)
	} else if unlock, err := r.locks.lock(ctx, in.target.Key()); err != nil {
		res = in.skipped("the invocation ended while another rotation of this target ran", err)
	} else {
		res = r.rotate(ctx, in)
		unlock()
	}
	return r.finish(ctx, in, start, res)
}

// finish logs one target's outcome, its one line: its ids and where its
// password is, never the password or the secret data; at error level when
// the target failed or was skipped, so LOG_LEVEL=error still shows it.
func (r *Rotator) finish(ctx context.Context, in rotation, start time.Time, res Result) Result {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("kind", string(in.target.Kind)),
		slog.String("target", in.target.Key()),
		slog.String("secretName", in.secretName),
		slog.String("versionId", in.versionID),
		slog.String("status", string(res.Status)),
		slog.Bool("resumed", res.Resumed),
		slog.String("rolledForward", res.RolledForward),
		slog.Bool("dryRun", in.dryRun),
		slog.Int64("durationMs", r.clock.Now().Sub(start).Milliseconds()),
	}
	if res.Err != nil {
		level = slog.LevelError
		attrs = append(attrs,
			slog.String("code", string(ErrorCodeOf(res.Err))),
			slog.String("error", ErrorMessageOf(res.Err)))
	}
	r.log.LogAttrs(ctx, level, "password rotation", attrs...)
	return res
}

// fits reports whether n steps fit before ctx's deadline.
func (r *Rotator) fits(ctx context.Context, n int) bool {
	d, ok := ctx.Deadline()
	return !ok || d.Sub(r.clock.Now()) >= time.Duration(n)*r.cfg.StepReserve
}

// stepEnd is the time by which a step must end so that the n steps after it
// still fit before ctx's deadline.
func (r *Rotator) stepEnd(ctx context.Context, after int) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return d.Add(-time.Duration(after) * r.cfg.StepReserve), true
}

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
	rolled := ""
	if found {
		switch w := pending.VersionID; {
		case w == in.versionID && pending.HasStage(StageCurrent):
			return withResumed(in.result(StatusRotated), true)
		case w == in.versionID:
			password, err := ParseSecretData(pending.Data, in.target)
			if err != nil {
				return in.failed(blocked(in, w, err))
			}
			return r.complete(ctx, in, password, true, "")
		case !pending.HasStage(StageCurrent):
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
	st, serr := r.stage(ctx, in)
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
	password, err := ParseSecretData(w.Data, in.target)
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
	return SecretVersion{}, false, &Error{Code: classify(err), Err: err,
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
	code := classify(err)
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

// stage is step 1 of rotate.
func (r *Rotator) stage(ctx context.Context, in rotation) (staged, *Error) {
	end, bounded := r.stepEnd(ctx, 2)
	password, err := r.passwords.Generate()
	if err != nil {
		return staged{}, &Error{Code: EInternal, Message: "generating a password failed", Err: err}
	}
	data := SecretData(in.target, password)
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
		case errors.Is(err, ErrVersionExists) || (!errors.Is(err, ErrSecretNotFound) && classify(err) != EThrottled && classify(err) != EUnavailable):
			// Maybe v exists: the code that says so is not documented.
			return r.readOwn(ctx, in, end, bounded, redact(err, password))
		default:
			err = redact(err, password)
			code := classify(err)
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
		code := classify(err)
		msg := fmt.Sprintf("checking that the account exists failed: %s", causeMessage(err))
		if code == ENotFound {
			msg = fmt.Sprintf("the account does not exist (%s); no secret was created", causeMessage(err))
		}
		return &Error{Code: code, Err: err, Message: msg}
	}
	err = r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return r.store.CreateSecret(ctx, in.secretName, PlaceholderVersionID, SecretData(in.target, ""))
	})
	if err != nil && !errors.Is(err, ErrSecretExists) {
		return &Error{Code: classify(err), Err: err,
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
		code := classify(putErr)
		if errors.Is(putErr, ErrVersionExists) {
			code = EInternal // "exists" then "not found": the store contradicts itself
		}
		return staged{}, &Error{Code: code, Err: putErr,
			Message: fmt.Sprintf("staging the new password failed: %s", causeMessage(putErr))}
	}
	if err != nil {
		return staged{}, &Error{Code: classify(err), Err: err,
			Message: fmt.Sprintf("reading the staged version failed: %s", causeMessage(err))}
	}
	switch {
	case v.HasStage(StageCurrent):
		return staged{done: true}, nil
	case v.HasStage(StagePending):
		password, err := ParseSecretData(v.Data, in.target)
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
		if err != nil && classify(err) == EUnavailable {
			uncertain = true
		}
		return err
	})
	if err == nil || errors.Is(err, ErrPasswordReused) {
		// A refusal because this random password was used before proves
		// it is in effect (see rotate, step 2).
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelInfo, "reset refused as a reuse of the password being applied: counted as applied",
				slog.String("target", in.target.Key()), slog.String("code", string(classify(err))), slog.String("error", causeMessage(err)))
		}
		return nil
	}
	err = redact(err, password)
	code := classify(err)
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

// check is the dry run of one target: the secret store must let it read the
// secret (which may not exist yet: rotate will create it).
func (r *Rotator) check(ctx context.Context, in rotation) Result {
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
		return in.failed(&Error{Code: classify(err), Err: err,
			Message: fmt.Sprintf("reading the secret failed: %s", causeMessage(err))})
	}
	return in.result(StatusValidated)
}

// retry runs call until it succeeds, fails in a way a retry cannot help,
// or MaxAttempts tries are spent. Only EThrottled and EUnavailable are
// retried, after a backoff with full jitter. When bounded, each try's
// context ends at end and no backoff runs past it. (The pacers around the
// store and the resetters slow a throttling service's calls down.)
func (r *Rotator) retry(ctx context.Context, end time.Time, bounded bool, call func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if bounded {
			cctx, cancel = context.WithDeadline(ctx, end)
		}
		err := call(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if code := classify(err); (code != EThrottled && code != EUnavailable) || attempt >= r.cfg.MaxAttempts || ctx.Err() != nil {
			return err
		}
		d := r.backoff(attempt)
		if bounded && !r.clock.Now().Add(d).Before(end) {
			return err
		}
		if r.clock.Sleep(ctx, d) != nil {
			return err
		}
	}
}

// backoff returns the sleep after the attempt-th failed try: uniform in
// [0, min(MaxBackoff, BaseBackoff·2^(attempt-1))] ("full jitter").
func (r *Rotator) backoff(attempt int) time.Duration {
	ceil := r.cfg.MaxBackoff
	if attempt-1 < 32 {
		if d := r.cfg.BaseBackoff << (attempt - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	n, err := uniform(r.rand, uint64(ceil)+1)
	if err != nil {
		return ceil
	}
	return time.Duration(n)
}

// uniform returns a uniform integer in [0, n), n > 0, by rejection.
func uniform(rnd io.Reader, n uint64) (uint64, error) {
	limit := uniformLimit(n)
	var b [8]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, err
		}
		if v := binary.BigEndian.Uint64(b[:]); v <= limit {
			return v % n, nil
		}
	}
}

// uniformLimit is the largest 64-bit value uniform accepts for n: the values
// 0..limit are a whole number of runs of n, so v%n favours no result.
func uniformLimit(n uint64) uint64 {
	return ^uint64(0) - (^uint64(0)%n+1)%n
}

// classify is ErrorCodeOf, with a context that ended counted as unavailable.
func classify(err error) ErrorCode {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		var e *Error
		if !errors.As(err, &e) {
			return EUnavailable
		}
	}
	return ErrorCodeOf(err)
}

// causeMessage is the caller-safe text of an upstream error: the message of
// its *Error, or the name of a known condition, never an unclassified text.
func causeMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && (e.Message != "" || e.Field != "") {
		return ErrorMessageOf(err)
	}
	for _, known := range []error{ErrBlocked, ErrPasswordReused, ErrSecretNotFound, ErrVersionExists, ErrSecretExists, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return string(classify(err))
}

// redact returns err, or, should its text hold password in any of the
// encodings a transport might have used, a bare *Error of the same code: an
// adapter must never let that happen, and this makes sure it does not leak
// further if one does.
func redact(err error, password string) error {
	if err == nil || password == "" || !holdsSecret(err.Error(), password) {
		return err
	}
	return &Error{Code: classify(err), Message: "upstream error withheld: its text held the new password"}
}

func holdsSecret(text, password string) bool {
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if strings.Contains(text, form) {
			return true
		}
	}
	return false
}

// lockedReader serializes reads of a random source that may not be safe for
// concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func withResumed(res Result, resumed bool) Result {
	res.Resumed = resumed
	return res
}
