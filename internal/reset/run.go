package reset

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Runs longer than one invocation (DESIGN.md, "Requests beyond single
// accounts"). A selector run or a sweep that covers more than one chunk
// (Config.ChunkTargets accounts or secrets) and runs under a deadline with
// a Continuer is cut into chunks: the first invocation lists, checks
// maxTargets and hands the whole run on; each chunk is one asynchronous
// invocation of the function itself that rotates (or sweeps) the next
// chunk and hands the rest on. Function Compute's asynchronous queue and
// its retries are the engine: the state of a run lives only in the
// continuation each chunk carries, signed (HMAC-SHA256) with a key kept in
// KMS under the prefix. Every rotation takes its version id from the run's
// key (the original request's scoped key), so a redelivered chunk, or a
// chain a retried first request started again, finishes the same
// rotations and gives no account a second password.

// DefaultChunkTargets is how many accounts (or secrets) a run may hold and
// still run in one invocation, and how many the first chunk of a continued
// run covers: at DefaultMaxInFlight, about five rounds of four calls.
const DefaultChunkTargets = 100

// DefaultChunkTime is how long a chunk hands out targets: "a few seconds of
// work" (issue 13), so that a caller of the single instance never waits
// long behind a run, whatever a target costs (about 10 ms of the binding
// quota for an existing secret, 100 ms for a first rotation: CreateSecret's
// 10/s). Once it is up, the chunk starts no more targets, lets those in
// flight finish, and hands the rest on. Each chunk after the first covers
// about as many targets as the chunk before it did per second, times
// ChunkTime (chunkSize), so that it lists, and carries, little more than it
// does.
const DefaultChunkTime = 2 * time.Second

// maxChunkFactor bounds a chunk at this many times Config.ChunkTargets.
const maxChunkFactor = 4

// maxContinuationBody bounds a continuation's signed body, so that its event
// (the body in base64, 4/3 of it, and the signature) stays under the
// 128,000 bytes the handler admits of an event and Function Compute's
// 128 KB asynchronous payload. A run's remaining ids are carried while they
// fit; beyond, the selector (or the prefix) and a cursor are.
const maxContinuationBody = 90_000

// signingKeyName is the secret, under the prefix, whose ACSCurrent version
// holds the key continuations are signed with. It is no secret name a
// target gives (it has one part, not three), and the sweep passes over it.
const signingKeyName = "_run-signing-key"

// signingKeyVersion is the version id of the key's first (and only) version.
const signingKeyVersion = "pwreset-run-signing-key-1"

// ErrContinuationSignature marks a continuation refused because it is
// unsigned or its signature does not verify with the function's key.
var ErrContinuationSignature = errors.New("the continuation's signature does not verify")

// Continuer queues the next chunk of a run: an asynchronous invocation of
// the function itself whose event is payload (Function Compute
// InvokeFunction, x-fc-invocation-type Async). Errors are *Error values.
type Continuer interface {
	Continue(ctx context.Context, payload []byte) error
}

// FunctionInfo is what Function Compute tells an invocation about the
// function itself (fc-runtime-go-sdk v0.3.1 fccontext.FcContext:
// Function.Name, Region, AccountId), handed on by the handler as plain
// values for the Continuer: the function a chunk is queued on.
type FunctionInfo struct {
	Name      string
	Region    string
	AccountID string
}

type functionKey struct{}

// WithFunction returns a context that carries the invocation's function.
func WithFunction(ctx context.Context, f FunctionInfo) context.Context {
	return context.WithValue(ctx, functionKey{}, f)
}

// FunctionOf returns the function ctx carries (WithFunction), if any.
func FunctionOf(ctx context.Context) (FunctionInfo, bool) {
	f, ok := ctx.Value(functionKey{}).(FunctionInfo)
	return f, ok
}

// ContinuationEvent is the event of a chunk: the signed body of its state
// (base64, so that the bytes signed are the bytes verified) and the hex
// HMAC-SHA256 of those bytes. The handler tells it by its "continuation"
// field.
type ContinuationEvent struct {
	Continuation string `json:"continuation"`
	Signature    string `json:"signature"`
}

// RunInfo is what the answer of a continued run says: the run id and how
// many accounts (or secrets) the run covers.
type RunInfo struct {
	ID      string
	Targets int
}

// runState is a continuation's body: everything the next chunk needs.
type runState struct {
	V          int        `json:"v"`
	RunID      string     `json:"runId"` // the original request's scoped key
	Kind       string     `json:"kind"`  // "select", "sweep" or "batch"
	Trigger    string     `json:"trigger,omitempty"`
	RequestID  string     `json:"requestId,omitempty"`
	DryRun     bool       `json:"dryRun,omitempty"`
	Scope      *Target    `json:"scope,omitempty"`
	Select     *Selector  `json:"select,omitempty"`
	MaxTargets int        `json:"maxTargets,omitempty"`
	IDs        []string   `json:"ids,omitempty"`   // what remains: second identifiers, or secret names
	Batch      []scopeIDs `json:"batch,omitempty"` // what remains of a batch, by scope
	Listed     bool       `json:"listed"`          // IDs holds all that remains (else: re-list, after After)
	After      string     `json:"after,omitempty"` // cursor: everything up to it, in sorted order, is done
	// Paged (a selector run whose lister lists by page, and whose ids do
	// not fit): the listing's position is carried instead, the token of
	// the page the run is in (Token, "" for the first) and the last
	// account done on it (After, "" for none), in the order listed; a
	// chunk lists only the pages of its own accounts (pageKeys).
	Paged   bool       `json:"paged,omitempty"`
	Token   string     `json:"token,omitempty"`
	Anchors []string   `json:"anchors,omitempty"` // Paged: the last accounts done before After, oldest first
	Total   int        `json:"total"`
	Chunk   int        `json:"chunk"`
	Counts  RunSummary `json:"counts"`
	Blocked int        `json:"blocked,omitempty"`
	// PerSecond is how many targets the last chunk did per second of its
	// own time: the next chunk's size (chunkSize).
	PerSecond float64 `json:"perSecond,omitempty"`
}

// chunked reports whether a run of n items under ctx is cut into chunks.
func (r *Rotator) chunked(ctx context.Context, n int) bool {
	_, bounded := ctx.Deadline()
	return r.continuer != nil && bounded && n > r.cfg.ChunkTargets
}

// startRun hands a whole run on to its first chunk and answers accepted.
// A run whose record says it was handed on already (a retried first
// request: the same key) is not handed on again.
func (r *Rotator) startRun(ctx context.Context, req Request, kind string, keys []string) ([]Result, error) {
	st := runState{V: 1, RunID: req.IdempotencyKey, Kind: kind, Trigger: req.Trigger, RequestID: req.RequestID,
		DryRun: req.DryRun, Total: len(keys)}
	if kind == "select" {
		scope := req.Targets[0]
		st.Scope, st.Select, st.MaxTargets = &scope, req.Select, req.MaxTargets
	}
	st.carry(keys)
	if kind == "select" && !st.Listed {
		_, st.Paged = r.listers[req.Targets[0].Kind].(PageLister)
	}
	return r.launch(ctx, st)
}

// startBatch hands a batch that does not fit one invocation on as a run:
// its targets (distinct, checked) travel in the continuation, grouped by
// scope. While they do not fit one continuation, this invocation rotates
// chunks of them itself first; if the deadline leaves it none done and the
// rest still does not fit, the request fails EUnavailable, and its retry
// (the same key) finishes the same rotations.
func (r *Rotator) startBatch(ctx context.Context, req Request, targets []Target) ([]Result, error) {
	st := runState{V: 1, RunID: req.IdempotencyKey, Kind: "batch", Trigger: req.Trigger, RequestID: req.RequestID,
		DryRun: req.DryRun, Total: len(targets)}
	rest := targets
	for !st.carryBatch(rest) {
		chunk := rest[:min(len(rest), r.cfg.ChunkTargets)]
		results := r.fanout(ctx, req, chunk, nil)
		done := 0
		for done < len(results) && !deferred(results[done]) {
			done++
		}
		if done == 0 {
			return nil, Errorf(EUnavailable, "the batch's %d remaining targets do not fit a continuation and the deadline came first; a retry with the same key finishes the same rotations", len(rest))
		}
		st.count(results[:done])
		rest = rest[done:]
	}
	if len(rest) == 0 {
		// Done in this invocation: the run ends here.
		r.endRunSummary(ctx, Request{IdempotencyKey: st.RunID, DryRun: st.DryRun, Trigger: st.Trigger, RequestID: st.RequestID, RunID: st.RunID},
			st.Counts, st.Blocked)
		return []Result{{Status: StatusAccepted, Run: &RunInfo{ID: st.RunID, Targets: st.Total}}}, nil
	}
	return r.launch(ctx, st)
}

// launch hands st on as the run's first chunk, unless the run's record
// says that was done, and answers accepted.
func (r *Rotator) launch(ctx context.Context, st runState) ([]Result, error) {
	if rec, ok := r.readRecord(ctx, st.RunID); ok && rec.HandedOn > 0 {
		return r.alreadyStarted(ctx, st), nil
	}
	if err := r.handOn(ctx, st); err != nil {
		return nil, err
	}
	r.writeRecord(ctx, runRecord{RunID: st.RunID, HandedOn: 1})
	r.log.LogAttrs(ctx, slog.LevelInfo, "run accepted", slog.String("runId", st.RunID), slog.String("kind", st.Kind),
		slog.Int("targets", st.Total), slog.Bool("dryRun", st.DryRun))
	return []Result{{Status: StatusAccepted, Run: &RunInfo{ID: st.RunID, Targets: st.Total}}}, nil
}

// alreadyStarted is the answer of a first request whose run was handed on
// already: accepted, nothing handed on again.
func (r *Rotator) alreadyStarted(ctx context.Context, st runState) []Result {
	r.log.LogAttrs(ctx, slog.LevelInfo, "run already started", slog.String("runId", st.RunID), slog.String("kind", st.Kind),
		slog.Int("targets", st.Total))
	return []Result{{Status: StatusAccepted, Run: &RunInfo{ID: st.RunID, Targets: st.Total}}}
}

// count adds a chunk's results to the run's counts.
func (st *runState) count(results []Result) {
	st.Counts.add(summarize(st.RunID, st.Kind, st.DryRun, results))
	for _, res := range results {
		if errors.Is(res.Err, ErrBlocked) {
			st.Blocked++
		}
	}
}

// carry sets what remains: the keys themselves while they fit, else the
// cursor alone (the next chunk re-lists).
func (st *runState) carry(rest []string) {
	st.IDs, st.Listed = rest, true
	if b, _ := json.Marshal(st); len(b) > maxContinuationBody {
		st.IDs, st.Listed = nil, false
	}
}

// scopeIDs is part of a batch in a continuation: the targets of one scope
// (the target less its second identifier: kind, first identifier,
// parameters), by their second identifiers.
type scopeIDs struct {
	Kind                             Kind     `json:"k"`
	DirectoryID                      string   `json:"d,omitempty"`
	RequirePasswordResetForNextLogin bool     `json:"r,omitempty"`
	OrganizationID                   string   `json:"o,omitempty"`
	Location                         string   `json:"l,omitempty"`
	IDs                              []string `json:"ids"`
}

// carryBatch sets what remains of a batch, grouped by scope in the order
// first met, and reports whether it fits a continuation.
func (st *runState) carryBatch(rest []Target) bool {
	st.Batch = nil
	at := map[Target]int{}
	for _, t := range rest {
		scope := t
		id := specOf(t.Kind).ids[1].get(&scope)
		k := *id
		*id = ""
		i, ok := at[scope]
		if !ok {
			i = len(st.Batch)
			at[scope] = i
			st.Batch = append(st.Batch, scopeIDs{Kind: scope.Kind, DirectoryID: scope.DirectoryID,
				RequirePasswordResetForNextLogin: scope.RequirePasswordResetForNextLogin,
				OrganizationID:                   scope.OrganizationID, Location: scope.Location})
		}
		st.Batch[i].IDs = append(st.Batch[i].IDs, k)
	}
	b, err := json.Marshal(st)
	return err == nil && len(b) <= maxContinuationBody
}

// batchTargets returns the targets a batch's continuation carries.
func (st *runState) batchTargets() ([]Target, error) {
	var out []Target
	for _, g := range st.Batch {
		s := specOf(g.Kind)
		if s == nil {
			return nil, Errorf(EInvalid, "the continuation's batch names no known kind")
		}
		for _, id := range g.IDs {
			t := Target{Kind: g.Kind, DirectoryID: g.DirectoryID, RequirePasswordResetForNextLogin: g.RequirePasswordResetForNextLogin,
				OrganizationID: g.OrganizationID, Location: g.Location}
			*s.ids[1].get(&t) = id
			out = append(out, t)
		}
	}
	return out, nil
}

// handOn signs st and queues it as the next chunk.
func (r *Rotator) handOn(ctx context.Context, st runState) error {
	key, err := r.signingKey(ctx, true)
	if err != nil {
		return err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return Errorf(EInternal, "encode the continuation: %v", err)
	}
	ev, err := json.Marshal(ContinuationEvent{Continuation: base64.StdEncoding.EncodeToString(body), Signature: sign(key, body)})
	if err != nil {
		return Errorf(EInternal, "encode the continuation: %v", err)
	}
	if err := r.continuer.Continue(ctx, ev); err != nil {
		return fmt.Errorf("hand the run on to its next chunk: %w", err)
	}
	return nil
}

func sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// verify returns the state a continuation event carries once its signature
// verifies. An event that is not well formed or unsigned is refused before
// any call; otherwise the key is read (never created: nothing could have
// signed with a key that does not exist), and a signature that does not
// verify is refused EForbidden (ErrContinuationSignature).
func (r *Rotator) verify(ctx context.Context, ev ContinuationEvent) (runState, error) {
	refused := func(why string) error {
		return &Error{Code: EForbidden, Field: "continuation", Message: why + ": refused", Err: ErrContinuationSignature}
	}
	body, err := base64.StdEncoding.DecodeString(ev.Continuation)
	sig, serr := hex.DecodeString(ev.Signature)
	switch {
	case ev.Continuation == "" || err != nil:
		return runState{}, refused("the continuation is empty or not base64")
	case ev.Signature == "" || serr != nil || len(sig) != sha256.Size:
		return runState{}, refused("the continuation is unsigned or its signature is not a hex HMAC-SHA256")
	}
	key, err := r.signingKey(ctx, false)
	if errors.Is(err, ErrSecretNotFound) {
		return runState{}, refused("the continuation's signature does not verify (no run was ever continued)")
	}
	if err != nil {
		return runState{}, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), sig) {
		return runState{}, refused("the continuation's signature does not verify")
	}
	var st runState
	if err := json.Unmarshal(body, &st); err != nil || st.V != 1 {
		return runState{}, Errorf(EInvalid, "the continuation's body is not a run this version reads")
	}
	return st, nil
}

// signingKeys caches the signing key per instance.
type signingKeys struct {
	mu  sync.Mutex
	key []byte
}

// signingKey returns the key continuations are signed with, read from the
// secret <prefix>_run-signing-key (ACSCurrent) once per instance and, when
// create is set and the secret does not exist, created with 32 random bytes
// (hex). Two instances creating it at once: the loser reads the winner's.
func (r *Rotator) signingKey(ctx context.Context, create bool) ([]byte, error) {
	r.keys.mu.Lock()
	defer r.keys.mu.Unlock()
	if r.keys.key != nil {
		return r.keys.key, nil
	}
	name := r.cfg.SecretPrefix + signingKeyName
	read := func() ([]byte, error) {
		v, err := r.store.GetStaged(ctx, name, StageCurrent)
		if err != nil {
			return nil, err
		}
		key, err := hex.DecodeString(string(v.Data))
		clear(v.Data)
		if err != nil || len(key) < 32 {
			return nil, Errorf(EInternal, "the run signing key %s is not 32 or more hex-encoded bytes", name)
		}
		return key, nil
	}
	key, err := read()
	if errors.Is(err, ErrSecretNotFound) && create {
		raw := make([]byte, 32)
		if _, err := io.ReadFull(r.rand, raw); err != nil {
			return nil, Errorf(EInternal, "generate the run signing key: %v", err)
		}
		data := []byte(hex.EncodeToString(raw))
		clear(raw)
		err = r.store.CreateSecret(ctx, name, signingKeyVersion, data)
		clear(data)
		if err == nil || errors.Is(err, ErrSecretExists) {
			key, err = read()
		}
	}
	if err != nil {
		return nil, err
	}
	r.keys.key = key
	return key, nil
}

// continueRun runs one chunk of a continued run and hands the rest on, or
// ends the run at its last chunk. Its answer is the run's (accepted, the
// run id and its size); its error, a chunk that could not be handed on or
// made no progress, is a function error, which Function Compute retries.
//
// A chunk whose run's record says its successor was handed on already, or
// the run ended, is a redelivery of a chunk that did its work: it does
// nothing again, so that a redelivered chunk starts no second chain and a
// run ends once.
func (r *Rotator) continueRun(ctx context.Context, req Request) ([]Result, error) {
	st, err := r.verify(ctx, *req.Continuation)
	if err != nil {
		return nil, err
	}
	run := Request{IdempotencyKey: st.RunID, DryRun: st.DryRun, Trigger: st.Trigger, RequestID: req.RequestID, RunID: st.RunID}
	var batch []Target
	switch st.Kind {
	case "select":
		if st.Scope == nil || st.Select == nil {
			return nil, Errorf(EInvalid, "the continuation names no selector")
		}
		run.Targets, run.Select, run.MaxTargets = []Target{*st.Scope}, st.Select, st.MaxTargets
	case "sweep":
		run.Sweep = true
	case "batch":
		if batch, err = st.batchTargets(); err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return nil, Errorf(EInvalid, "the continuation's batch holds no target")
		}
		run.Targets, run.Batch = batch, true
	default:
		return nil, Errorf(EInvalid, "the continuation's kind %q is not a run", st.Kind)
	}
	if _, err := r.plan(run); err != nil {
		// Signed by this function, but the deployment changed since (an
		// allow-list, a kind turned off): the rest of the run is refused.
		return nil, err
	}
	info := []Result{{Status: StatusAccepted, Run: &RunInfo{ID: st.RunID, Targets: st.Total}}}
	if rec, ok := r.readRecord(ctx, st.RunID); ok && (rec.Ended || rec.HandedOn > st.Chunk+1) {
		r.log.LogAttrs(ctx, slog.LevelInfo, "run chunk redelivered", slog.String("runId", st.RunID), slog.String("kind", st.Kind),
			slog.Int("chunk", st.Chunk+1), slog.Bool("ended", rec.Ended))
		return info, nil
	}
	var rest []string
	var tokens []string // Paged: the token of each one's page
	more := false       // Paged: the listing goes on past rest
	switch {
	case batch != nil:
	case st.Paged && st.Kind == "select":
		if rest, tokens, more, err = r.pageKeys(ctx, run, &st, min(r.chunkSize(st), max(st.Total-st.Counts.Matched, 0))); err != nil {
			return nil, err
		}
	default:
		if rest = st.IDs; !st.Listed {
			if rest, err = r.runKeys(ctx, run); err != nil {
				return nil, err
			}
			i, _ := slices.BinarySearch(rest, st.After)
			for i < len(rest) && rest[i] <= st.After {
				i++
			}
			rest = rest[i:]
		}
		// Never more than the run covered at its start: accounts listed
		// since are not this run's.
		rest = rest[:min(len(rest), max(st.Total-st.Counts.Matched, 0))]
	}
	n := min(max(len(rest), len(batch)), r.chunkSize(st))
	// The hand-on must fit after the chunk.
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if end, ok := r.stepEnd(ctx, 2); ok {
		cctx, cancel = context.WithDeadline(ctx, end)
	}
	began := r.clock.Now()
	cctx = withHandOutEnd(cctx, began.Add(r.cfg.ChunkTime))
	var results []Result
	var keys []string
	var stopped *Error
	if batch != nil {
		results = r.fanout(cctx, run, batch[:n], nil)
	} else {
		results, keys, stopped = r.runChunk(cctx, run, rest[:n])
	}
	cancel()
	done := 0
	for done < len(results) && !deferred(results[done]) {
		done++
	}
	if done == 0 && n > 0 {
		return nil, Errorf(EUnavailable, "chunk %d of run %s made no progress before the deadline; Function Compute retries it", st.Chunk, st.RunID)
	}
	st.count(results[:done])
	st.Chunk++
	if took := r.clock.Now().Sub(began); took > 0 && done > 0 {
		st.PerSecond = float64(done) / took.Seconds()
	}
	left := max(len(rest), len(batch)) - done
	if more && st.Counts.Matched < st.Total {
		left++ // at least: the pages after this chunk's are not read yet
	}
	if stopped != nil {
		if st.Paged {
			left = max(st.Total-st.Counts.Matched, 0) // the pages not read yet included
		}
		// Every account not yet started would repeat the stop's answer.
		st.Counts.Matched += left
		st.Counts.Skipped += left
		left = 0
	}
	switch {
	case done > 0 && tokens != nil:
		st.advance(keys[:done], tokens[:done])
	case done > 0 && keys != nil:
		st.After = keys[done-1]
	}
	progress := []slog.Attr{slog.String("runId", st.RunID), slog.String("kind", st.Kind), slog.Int("chunk", st.Chunk),
		slog.Int("done", st.Counts.Matched), slog.Int("targets", st.Total), slog.Int("rotated", st.Counts.Rotated),
		slog.Int("failed", st.Counts.Failed), slog.Int("skipped", st.Counts.Skipped), slog.Bool("dryRun", st.DryRun)}
	if left == 0 {
		r.log.LogAttrs(ctx, slog.LevelInfo, "run completed", append(progress,
			slog.Int("validated", st.Counts.Validated), slog.Int("drift", st.Counts.Drift), slog.Int("healthy", st.Counts.Healthy))...)
		r.endRunSummary(ctx, run, st.Counts, st.Blocked)
		r.writeRecord(ctx, runRecord{RunID: st.RunID, HandedOn: st.Chunk, Ended: true})
		return info, nil
	}
	switch {
	case batch != nil:
		st.carryBatch(batch[done:]) // smaller than what came: it fits
	case st.Listed:
		st.carry(rest[done:])
	case st.Paged:
		// The position is carried (st.Token, st.After).
	case len(rest)-done <= r.cfg.ChunkTargets*8:
		st.carry(rest[done:]) // short enough now: stop re-listing
	}
	if err := r.handOn(ctx, st); err != nil {
		return nil, err
	}
	r.writeRecord(ctx, runRecord{RunID: st.RunID, HandedOn: st.Chunk + 1})
	r.log.LogAttrs(ctx, slog.LevelInfo, "run progress", progress...)
	return info, nil
}

// chunkSize is how many targets the next chunk of st takes at most: as many
// as the chunk before did per second, times ChunkTime, and a quarter more,
// at least MaxInFlight (so that every slot has work) and at most
// maxChunkFactor times ChunkTargets (and MaxTargets); ChunkTargets for the
// first chunk. The chunk's time still decides where it stops (handOutEnd).
func (r *Rotator) chunkSize(st runState) int {
	if st.PerSecond <= 0 {
		return r.cfg.ChunkTargets
	}
	n := int(st.PerSecond*r.cfg.ChunkTime.Seconds()*1.25) + 1
	return min(max(n, r.cfg.MaxInFlight), maxChunkFactor*r.cfg.ChunkTargets, MaxTargets)
}

type handOutKey struct{}

// withHandOutEnd returns a context under which fanout starts no target
// once end has passed (by the Rotator's clock): a chunk's time is up.
func withHandOutEnd(ctx context.Context, end time.Time) context.Context {
	return context.WithValue(ctx, handOutKey{}, end)
}

// handOutEnd is the time withHandOutEnd set on ctx, if any.
func handOutEnd(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(handOutKey{}).(time.Time)
	return t, ok
}

// runRecordPrefix starts, after the secret prefix, the name of each
// continued run's record (and of the signing key): no target's secret
// (whose names have three parts), and the sweep passes over them.
const runRecordPrefix = "_run-"

// runRecord is a continued run's record, the ACSCurrent version of the
// secret <prefix>_run-<hash of the run id>: how many chunks were handed on,
// and whether the run ended. It holds no password. Each chunk writes it
// after its hand-on (or its end), with a version id that is a function of
// its value, so that a redelivered write is idempotent (KMS PutSecretValue:
// the same version id and data succeeds, other data is refused; a secret
// keeps its 10 latest versions, and only ACSCurrent is read).
type runRecord struct {
	RunID    string `json:"runId"`
	HandedOn int    `json:"handedOn"`
	Ended    bool   `json:"ended,omitempty"`
}

func (r *Rotator) recordName(runID string) string {
	h := sha256.Sum256([]byte(runID))
	return r.cfg.SecretPrefix + runRecordPrefix + hex.EncodeToString(h[:12])
}

// readRecord reads the run's record; false when there is none or it cannot
// be read (the chunk then goes on as without a record: each rotation is
// idempotent, only a second hand-on may follow).
func (r *Rotator) readRecord(ctx context.Context, runID string) (runRecord, bool) {
	v, err := r.store.GetStaged(ctx, r.recordName(runID), StageCurrent)
	if err != nil {
		if !errors.Is(err, ErrSecretNotFound) {
			r.log.LogAttrs(ctx, slog.LevelWarn, "run record unreadable", slog.String("runId", runID), slog.String("error", ErrorMessageOf(err)))
		}
		return runRecord{}, false
	}
	var rec runRecord
	if json.Unmarshal(v.Data, &rec) != nil || rec.RunID != runID {
		return runRecord{}, false
	}
	return rec, true
}

// writeRecord stages rec as the run's record. A failure is logged, not
// returned: the chunk's work and hand-on are done, and failing it would
// make Function Compute redeliver it and hand on a second time.
func (r *Rotator) writeRecord(ctx context.Context, rec runRecord) {
	name := r.recordName(rec.RunID)
	version := fmt.Sprintf("pwreset-run-%d", rec.HandedOn)
	if rec.Ended {
		version += "-end"
	}
	data, err := json.Marshal(rec)
	if err == nil {
		err = r.store.PutVersion(ctx, name, version, data, []string{StageCurrent})
		if errors.Is(err, ErrSecretNotFound) {
			if err = r.store.CreateSecret(ctx, name, version, data); errors.Is(err, ErrSecretExists) {
				err = r.store.PutVersion(ctx, name, version, data, []string{StageCurrent})
			}
		}
	}
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "run record not written", slog.String("runId", rec.RunID),
			slog.Int("handedOn", rec.HandedOn), slog.String("error", ErrorMessageOf(err)))
	}
}

// deferred reports whether a result is a target the chunk did not start
// for its deadline: it is carried to the next chunk, not counted.
func deferred(res Result) bool {
	return res.Status == StatusSkipped && ErrorCodeOf(res.Err) == EUnavailable && !errors.Is(res.Err, ErrSSOLogonEnabled)
}

// runKeys lists the run's items, sorted: the selector's accounts (their
// second identifiers, maxTargets not applied: the run's size was decided at
// its start) or the secret names under the prefix the sweep looks at.
func (r *Rotator) runKeys(ctx context.Context, req Request) ([]string, error) {
	var keys []string
	if req.Sweep {
		names, err := r.secrets.ListSecrets(ctx, r.cfg.SecretPrefix)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !strings.HasPrefix(n, r.cfg.SecretPrefix+runRecordPrefix) {
				keys = append(keys, n)
			}
		}
	} else {
		all := req
		all.MaxTargets = MaxSelectTargets
		targets, err := r.expand(ctx, all)
		if err != nil {
			return nil, err
		}
		return targetKeys(targets), nil
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// targetKeys returns the second identifiers of a selector's targets
// (distinct, one scope), sorted: the order of a continued run.
func targetKeys(targets []Target) []string {
	keys := make([]string, 0, len(targets))
	for _, t := range targets {
		keys = append(keys, *specOf(t.Kind).ids[1].get(&t))
	}
	slices.Sort(keys)
	return keys
}

// runAnchors is how many accounts done before After a paged run carries
// (runState.Anchors): if After leaves the directory, the run finds its
// place by the latest of them still listed.
const runAnchors = 8

// pageKeys returns the next at most n accounts (second identifiers) of a
// paged selector run, in the order listed, from the position st carries
// (the page of st.Token, after st.After), the token of each one's page, and
// whether the listing goes on past them. It lists only the pages those
// accounts are on, and the page the run stands in, to find its place on it
// (CloudSSO's NextToken is opaque: whether it names a place by offset or by
// the last account is not documented, so the place is checked, not
// trusted). A token the service no longer takes (no lifetime is documented:
// assumed it may expire), or a page that holds neither st.After nor any of
// st.Anchors (the directory changed), loses the place: the whole directory
// is listed again, in its order, and the run goes on after the latest of
// them still listed, or if none is, after the st.Counts.Matched accounts
// done (assumed: the service lists in a stable order, as the emulator does,
// by id). A repeat would anyway finish the same rotation: the version id is
// the run key's.
func (r *Rotator) pageKeys(ctx context.Context, req Request, st *runState, n int) ([]string, []string, bool, error) {
	scope := req.Targets[0]
	lister := r.listers[scope.Kind]
	if lister == nil {
		return nil, nil, false, FieldError("select", "is not enabled for target %q in this deployment", scope.Kind)
	}
	s := specOf(scope.Kind)
	idOf := func(a Account) string { return *s.ids[1].get(&a.Target) }
	marks := append(slices.Clone(st.Anchors), st.After) // oldest first
	if st.After == "" {
		marks = nil
	}
	// place returns the index after the latest mark in ids, or -1.
	place := func(ids []string) int {
		for i := len(marks) - 1; i >= 0; i-- {
			if j := slices.Index(ids, marks[i]); j >= 0 {
				return j + 1
			}
		}
		return -1
	}
	excluded, seen := set(req.Select.Exclude), map[string]bool{}
	var keys, tokens []string
	more, first, lost := false, true, false
	// The listing ends two reserves early: the hand-on, and a step of work.
	err := r.walk(ctx, lister, scope, *req.Select, st.Token, 2, func(token, next string, page []Account) bool {
		if first && marks != nil {
			ids := make([]string, len(page))
			for i, a := range page {
				ids[i] = idOf(a)
			}
			i := place(ids)
			if i < 0 {
				lost = true
				return false
			}
			page = page[i:]
		}
		first = false
		for _, t := range selected(req, page, excluded, seen) {
			if len(keys) == n {
				more = true
				return false
			}
			keys, tokens = append(keys, *s.ids[1].get(&t)), append(tokens, token)
		}
		if len(keys) == n && next != "" {
			more = true
			return false
		}
		return true
	})
	if st.Token != "" && ErrorCodeOf(err) == EInvalid {
		lost, err = true, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !lost {
		return keys, tokens, more, nil
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "run listing place lost: listing the directory again", slog.String("runId", st.RunID),
		slog.Int("chunk", st.Chunk+1))
	keys, tokens, seen = nil, nil, map[string]bool{}
	err = r.walk(ctx, lister, scope, *req.Select, "", 2, func(token, _ string, page []Account) bool {
		for _, t := range selected(req, page, excluded, seen) {
			keys, tokens = append(keys, *s.ids[1].get(&t)), append(tokens, token)
		}
		return true
	})
	if err != nil {
		return nil, nil, false, err
	}
	start := place(keys)
	if start < 0 {
		start = min(st.Counts.Matched, len(keys))
	}
	end := min(start+n, len(keys))
	return keys[start:end], tokens[start:end], end < len(keys), nil
}

// advance moves a paged run's place past the chunk's done accounts, keeping
// the runAnchors accounts done before the last as anchors.
func (st *runState) advance(keys, tokens []string) {
	marks := st.Anchors
	if st.After != "" {
		marks = append(marks, st.After)
	}
	marks = append(marks, keys[:len(keys)-1]...)
	st.Anchors = slices.Clone(marks[max(len(marks)-runAnchors, 0):])
	st.Token, st.After = tokens[len(tokens)-1], keys[len(keys)-1]
}

// runChunk rotates (or sweeps) the chunk's items, in order, and returns
// their results, the items' keys, and the stop's error when the run must
// stop (SSO logon enabled).
func (r *Rotator) runChunk(ctx context.Context, req Request, keys []string) ([]Result, []string, *Error) {
	if req.Sweep {
		return r.sweepNames(ctx, req, keys), keys, nil
	}
	s := specOf(req.Targets[0].Kind)
	targets := make([]Target, len(keys))
	for i, k := range keys {
		targets[i] = req.Targets[0]
		*s.ids[1].get(&targets[i]) = k
	}
	stop := &stopper{}
	return r.fanout(ctx, req, targets, stop), keys, stop.err()
}

// add adds a chunk's counts to a run's.
func (s *RunSummary) add(c RunSummary) {
	s.Matched += c.Matched
	s.Rotated += c.Rotated
	s.Validated += c.Validated
	s.Failed += c.Failed
	s.Skipped += c.Skipped
	s.Drift += c.Drift
	s.Finished += c.Finished
	s.Healthy += c.Healthy
	s.Superseded += c.Superseded
}
