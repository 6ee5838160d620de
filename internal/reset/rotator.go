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
	// MaxIdempotencyKeyLength bounds the idempotency key in bytes.
	MaxIdempotencyKeyLength = 256
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
	for k, v := range rs {
		rs[k] = paceResetter(v, newPacer(r.clock))
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
// at most MaxIdempotencyKeyLength bytes of printable UTF-8), the number of
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
	case len(key) > MaxIdempotencyKeyLength:
		return FieldError(field, "must be at most %d bytes", MaxIdempotencyKeyLength)
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

// rotate rotates one target's password; every step is safe to run again, so
// a retry with the same idempotency key (the same version id v) finishes
// whatever an earlier attempt left.
//
//  1. Stage: generate the password P and store it in version v of secret S
//     staged ACSPending, before anything changes on the target. If S does
//     not exist, create it first with a placeholder version that holds no
//     password. If v exists already: staged ACSCurrent means this rotation
//     is done (replay, no reset); ACSPending means an earlier attempt staged
//     it, so the rotation resumes with the P stored in v, never a new one;
//     neither means a later rotation overtook it, and nothing is done
//     (StatusSuperseded).
//  2. Reset the target to P. A reset that timed out may have been applied;
//     it is retried with the same P, which is harmless.
//  3. Promote v to ACSCurrent; the previous current becomes ACSPrevious.
//
// A failure leaves either the target unchanged and ACSCurrent right, or the
// target changed and P safe in v; the Result then says so and carries a
// retryable code. The target is started only if the three steps fit before
// ctx's deadline, and each step's calls end early enough for the steps after.
func (r *Rotator) rotate(ctx context.Context, in rotation) Result {
	if err := ctx.Err(); err != nil {
		return in.skipped("the invocation was cancelled before this target started", err)
	}
	if !r.fits(ctx, 3) {
		return in.skipped("the invocation's deadline is too near to rotate this target", nil)
	}

	// 1. Stage.
	st, serr := r.stage(ctx, in)
	if serr != nil {
		return in.failed(serr)
	}
	if st.done || st.superseded {
		res := in.result(StatusRotated)
		if st.superseded {
			res.Status = StatusSuperseded
		}
		res.Resumed = st.done
		return res
	}

	// 2. Reset.
	kept := fmt.Sprintf("the new password is kept in version %s: retry with the same idempotency key", in.versionID)
	if err := ctx.Err(); err != nil {
		return in.failed(&Error{Code: EUnavailable, Message: "cancelled before the reset; " + kept, Err: err})
	}
	if !r.fits(ctx, 2) {
		return in.failed(Errorf(EUnavailable, "the invocation's deadline is too near to reset %s; %s", in.target.Kind, kept))
	}
	if err := r.reset(ctx, in, st.password); err != nil {
		return withResumed(in.failed(err), st.resumed)
	}

	// 3. Promote.
	end, bounded := r.stepEnd(ctx, 0)
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		return r.store.Promote(ctx, in.secretName, in.versionID)
	})
	if err != nil {
		err = redact(err, st.password)
		code := classify(err)
		if !code.Retryable() {
			// The target has P and P is in v: only a retry (after fixing
			// whatever refused the promote) makes v current.
			code = EUpstream
		}
		return withResumed(in.failed(&Error{Code: code, Err: err,
			Message: fmt.Sprintf("promote in the secret store failed (%s) after the password was reset; %s", causeMessage(err), kept)}), st.resumed)
	}
	return withResumed(in.result(StatusRotated), st.resumed)
}

func withResumed(res Result, resumed bool) Result {
	res.Resumed = resumed
	return res
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
			created = true
			err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
				return r.store.CreateSecret(ctx, in.secretName, PlaceholderVersionID, SecretData(in.target, ""))
			})
			if err != nil && !errors.Is(err, ErrSecretExists) {
				err = redact(err, password)
				return staged{}, &Error{Code: classify(err), Err: err,
					Message: fmt.Sprintf("creating the secret failed: %s", causeMessage(err))}
			}
		case errors.Is(err, ErrVersionExists):
			return r.resume(ctx, in, end, bounded)
		default:
			err = redact(err, password)
			return staged{}, &Error{Code: classify(err), Err: err,
				Message: fmt.Sprintf("staging the new password failed: %s", causeMessage(err))}
		}
	}
}

// resume reads version v, which an earlier attempt with the same key wrote.
func (r *Rotator) resume(ctx context.Context, in rotation, end time.Time, bounded bool) (staged, *Error) {
	var v SecretVersion
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		var err error
		v, err = r.store.GetVersion(ctx, in.secretName, in.versionID)
		return err
	})
	defer clear(v.Data)
	if err != nil {
		code := classify(err)
		if errors.Is(err, ErrSecretNotFound) {
			// It existed a moment ago; KMS drops the oldest of 10 versions.
			code = EInternal
		}
		return staged{}, &Error{Code: code, Err: err,
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

// reset is step 2 of rotate.
func (r *Rotator) reset(ctx context.Context, in rotation, password string) *Error {
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
	if err == nil {
		return nil
	}
	err = redact(err, password)
	code := classify(err)
	kept := fmt.Sprintf("the new password is kept in version %s: retry with the same idempotency key", in.versionID)
	if uncertain && !code.Retryable() {
		// An earlier try may have set the password and this one was refused
		// (e.g. as a reuse): the target's state is unknown, so the caller
		// must treat it as retryable rather than as "unchanged".
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
	for _, known := range []error{ErrSecretNotFound, ErrVersionExists, ErrSecretExists, context.DeadlineExceeded, context.Canceled} {
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
