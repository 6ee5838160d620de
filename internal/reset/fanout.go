package reset

import (
	"context"
	"log/slog"
	"time"
)

// Rotate checks req (a failure is returned as the error, before any cloud
// call) and then rotates each distinct target, at most MaxInFlight at once.
// It returns one Result per target of req, in its order; a target's failure
// is in its Result and does not stop the others, and every failed or
// skipped Result carries an Err. Once ctx is done, or its deadline too near
// to finish a rotation (see budget.go), no new target is started: those are
// StatusSkipped. A panic in one target's rotation fails that target with
// EInternal and no other. A dry run checks each target's secret is readable
// and changes nothing. With Deps.Publisher set, the outcomes of a request
// that is not a dry run are published once all are decided (events.go).
func (r *Rotator) Rotate(ctx context.Context, req Request) ([]Result, error) {
	switch {
	case req.Continuation != nil:
		return r.continueRun(ctx, req)
	case req.Sweep:
		return r.sweep(ctx, req)
	case req.Select != nil:
		return r.runSelector(ctx, req)
	}
	p, err := r.plan(req)
	if err != nil {
		return nil, err
	}
	if r.chunked(ctx, len(p.targets)) {
		// A batch longer than a chunk does not fit one invocation's time
		// budget: it goes on as a run (run.go), answered accepted.
		return r.startBatch(ctx, req, p.targets)
	}
	out := r.fanout(ctx, req, p.targets, nil)
	results := make([]Result, len(req.Targets))
	for i, j := range p.index {
		results[i] = out[j]
	}
	return results, nil
}

// runSelector runs a selector request: it lists the accounts, refuses more
// than maxTargets before any reset, rotates each (a dry run checks each),
// and stops starting targets at the first answer that the directory has
// SSO logon enabled. Its end is a run's: RunCompleted is told. A run of
// more than one chunk under a deadline, with a Continuer, goes on in
// asynchronous invocations (run.go) and answers accepted; otherwise it runs
// here, chunk after chunk, each chunk's progress logged.
func (r *Rotator) runSelector(ctx context.Context, req Request) ([]Result, error) {
	if _, err := r.plan(req); err != nil {
		return nil, err
	}
	targets, err := r.expand(ctx, req)
	if err != nil {
		return nil, err
	}
	if r.chunked(ctx, len(targets)) {
		return r.startRun(ctx, req, "select", targetKeys(targets))
	}
	stop := &stopper{}
	out := make([]Result, 0, len(targets))
	for i := 0; i < len(targets); i += r.cfg.ChunkTargets {
		out = append(out, r.fanout(ctx, req, targets[i:min(i+r.cfg.ChunkTargets, len(targets))], stop)...)
		if len(targets) > r.cfg.ChunkTargets {
			s := summarize(req.IdempotencyKey, "select", req.DryRun, out)
			r.log.LogAttrs(ctx, slog.LevelInfo, "run progress", slog.String("runId", req.IdempotencyKey), slog.String("kind", "select"),
				slog.Int("chunk", i/r.cfg.ChunkTargets+1), slog.Int("done", len(out)), slog.Int("targets", len(targets)),
				slog.Int("rotated", s.Rotated), slog.Int("failed", s.Failed), slog.Int("skipped", s.Skipped), slog.Bool("dryRun", req.DryRun))
		}
	}
	r.endRun(ctx, req, "select", out)
	return out, nil
}

// fanout rotates targets (distinct, checked), at most MaxInFlight at once,
// each under the version id of the request's key: the run's key, whatever
// chunk or order the target comes in. stop, when set, ends the starting of
// targets once a result says every later one would fail the same way.
func (r *Rotator) fanout(ctx context.Context, req Request, targets []Target, stop *stopper) []Result {
	out := make([]Result, len(targets))
	slots := newSlots(r.cfg.MaxInFlight)
	for i, t := range targets {
		in := rotation{
			target:     t,
			secretName: t.SecretName(r.cfg.SecretPrefix),
			versionID:  VersionID(req.IdempotencyKey, t),
			dryRun:     req.DryRun,
		}
		if err := slots.acquire(ctx); err != nil {
			out[i] = r.logResult(ctx, in, r.clock.Now(), in.skipped("the invocation was cancelled before this target started", err))
			continue
		}
		if end, ok := handOutEnd(ctx); ok && i > 0 && !r.clock.Now().Before(end) {
			// A chunk's time is up (run.go): the rest is the next chunk's,
			// not started and not answered here.
			slots.release()
			out = out[:i]
			break
		}
		if e := stop.err(); e != nil {
			slots.release()
			res := in.result(StatusSkipped)
			res.Err = e
			out[i] = r.logResult(ctx, in, r.clock.Now(), res)
			continue
		}
		slots.start(func() {
			out[i] = r.runOne(ctx, in)
			if stop != nil {
				stop.observe(out[i])
			}
		})
	}
	slots.wait()
	// Every answer is decided: publish the outcomes, once per target,
	// before the answer goes back (events.go). It never changes them.
	r.publish(ctx, r.outcomeEvents(req, out))
	return out
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

// failed is a failed Result. A nil err (a bug: every failure has a cause)
// still gives an Err, so that the guarantee of Rotate holds.
func (in rotation) failed(err *Error) Result {
	res := in.result(StatusFailed)
	if err == nil {
		err = Errorf(EInternal, "the rotation failed without a reason")
	}
	res.Err = err
	return res
}

// runOne runs one target and logs its outcome. A panic in it is this
// target's failure, not the process's: the other targets of the invocation
// (and of the instance's other invocations) go on. The panic's value may
// quote anything, a password included, so it is neither logged nor kept.
// Whatever the rotation had done is safe as after any crash: each protocol
// step is safe to run again, and a later rotation finishes it.
func (r *Rotator) runOne(ctx context.Context, in rotation) (res Result) {
	start := r.clock.Now()
	defer func() {
		if recover() != nil {
			res = in.failed(Errorf(EInternal, "an internal error stopped the rotation of this target; a retry with any key finishes it"))
		}
		res = r.logResult(ctx, in, start, res)
	}()
	if in.dryRun {
		return r.dryRun(ctx, in)
	}
	unlock, err := r.locks.lock(ctx, in.target.Key())
	if err != nil {
		return in.skipped("the invocation ended while another rotation of this target ran", err)
	}
	defer unlock()
	return r.rotate(ctx, in)
}

// logResult logs one target's outcome, its one line: its ids and where its
// password is, never the password or the secret data; at error level when
// the target failed or was skipped, so LOG_LEVEL=error still shows it.
func (r *Rotator) logResult(ctx context.Context, in rotation, start time.Time, res Result) Result {
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
	if res.Drift != "" {
		attrs = append(attrs, slog.String("drift", res.Drift))
	}
	if res.Detail != "" {
		attrs = append(attrs, slog.String("detail", res.Detail))
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
