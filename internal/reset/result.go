package reset

// Status is the outcome of one target's rotation.
type Status string

// Statuses.
const (
	StatusRotated    Status = "rotated"    // the new password is in effect and staged ACSCurrent (also on replay)
	StatusValidated  Status = "validated"  // dry run: the request is valid and the secret store is reachable
	StatusFailed     Status = "failed"     // see Result.Err; the target is unchanged or its password is safe in the pending version
	StatusSkipped    Status = "skipped"    // not started: the invocation's deadline was too near
	StatusSuperseded Status = "superseded" // the version of this request was overtaken by a later rotation; nothing done
	StatusHealthy    Status = "healthy"    // sweep: the secret's rotations are finished and nothing drifted
	StatusDrift      Status = "drift"      // sweep: see Result.Drift; reported, not acted on
	// StatusAccepted: the run goes on in asynchronous invocations of the
	// function (run.go); Result.Run says which and how large. It is the
	// one Result of such an answer.
	StatusAccepted Status = "accepted"
)

// Succeeded reports whether a result with this status is a success: the
// rotation is done, validated or overtaken by a newer one, or (for the
// sweep) the secret was only reported on. The handler's answer, the CLI's
// exit status and the outcome events all read it.
func (s Status) Succeeded() bool {
	switch s {
	case StatusRotated, StatusValidated, StatusSuperseded, StatusHealthy, StatusDrift:
		return true
	}
	return false
}

// Reported reports whether the status is only a sweep's report on a secret
// it left alone (no rotation had an outcome).
func (s Status) Reported() bool { return s == StatusHealthy || s == StatusDrift }

// Request is one decoded reset request, whatever the trigger.
type Request struct {
	// IdempotencyKey makes a retry finish the same rotation instead of
	// starting another: each target's version id derives from it.
	IdempotencyKey string
	Targets        []Target
	DryRun         bool
	// Batch is true when the request came in the {"targets": [...]} form,
	// so that errors name a target's field "targets[i].field" even in a
	// batch of one. A request of more than one target is always a batch.
	Batch bool
	// Trigger, RequestID and RunID say where the request came from: the
	// trigger ("http", "eventbridge", "timer", "invoke"), the invocation's
	// request id and, for a fleet run, its run id. Only the outcome events
	// carry them; they change nothing in the rotation.
	Trigger   string
	RequestID string
	RunID     string
	// Select, when set, makes Targets[0] the scope of a selector (its kind,
	// first identifier and parameters; its options apply to every account)
	// instead of one account; MaxTargets is then required.
	Select     *Selector
	MaxTargets int
	// Sweep asks for the sweep of the secrets under the prefix instead of
	// rotations: Targets is empty.
	Sweep bool
	// Continuation, when set, is a chunk of a continued run as its event
	// carried it (signed: run.go); every other field but RequestID is
	// then ignored.
	Continuation *ContinuationEvent
}

// Result is one target's outcome.
type Result struct {
	Target     Target
	Status     Status
	SecretName string
	VersionID  string
	// Resumed is true when this call finished a rotation an earlier attempt
	// with the same key had started (or already finished).
	Resumed bool
	// RolledForward, when set, is the version id of an earlier, unfinished
	// rotation of the same target (under another key) that this call
	// finished before its own: its password was applied and it was
	// promoted. It is set on failures too when the roll-forward succeeded.
	RolledForward string
	// Drift, for StatusDrift (and a sweep's unfinished rotation in a dry
	// run), says what drifted: DriftPlaceholder, DriftStale,
	// DriftAccountGone, DriftUnfinished or DriftForeign.
	Drift string
	// Detail, for StatusDrift, says why when the sweep could not act (an
	// unfinished rotation whose value lacks the target's parameters). It
	// is safe to show.
	Detail string
	// Err is set when Status is StatusFailed or StatusSkipped; it is an
	// *Error whose message is safe to show.
	Err error
	// Run is set on a StatusAccepted Result.
	Run *RunInfo
}
