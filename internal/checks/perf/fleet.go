package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// FleetDirectoryID is the CloudSSO directory of a fleet run's users.
const FleetDirectoryID = "d-00perffleet0001"

// FleetUserID returns the id of a fleet directory's i-th user, as long as
// a real CloudSSO user id ("u-" and 20 characters), so that a run's
// continuation carries what a real one would.
func FleetUserID(i int) string { return fmt.Sprintf("u-00perffleetuser%05d", i) }

// FleetConfig sets up FleetRun.
type FleetConfig struct {
	Binary string
	// Users is the size of the directory; the run selects them all.
	Users int
	// FirstRotation leaves the users without secrets: every target of the
	// run creates its secret (CreateSecret's quota binds). Otherwise each
	// user is rotated once, unthrottled, before the measured run.
	FirstRotation bool
	// QuotaScale multiplies every rate of emulator.Quotas (1 for the
	// published and assumed quotas; less to run a small directory in the
	// same proportions in less time).
	QuotaScale float64
	// Latency delays every call of an action of emulator.Quotas.
	Latency time.Duration
	// ChunkTimeout is the invocation timeout of each chunk (and of the
	// first invocation); zero means 300 s, s.yaml's timeout.
	ChunkTimeout time.Duration
	// Env is added to the function's environment.
	Env []string
}

// FleetResult is what FleetRun measured.
type FleetResult struct {
	Users int
	// Rotated, Failed and Skipped are the run's summary line's counts.
	Rotated, Failed, Skipped int
	// Wall runs from handing the selector request to the function until
	// its last chunk is done. Floor is the shortest time the quotas allow
	// for the calls the run needs (FleetFloor), Binding the action that
	// sets it.
	Wall, Floor time.Duration
	Binding     string
	// Chunks counts the asynchronous invocations of the run (the first
	// answer is not one), LongestChunk the longest one's own time.
	Chunks       int
	LongestChunk time.Duration
	// Calls and Throttled count the run's API calls and those answered
	// with a throttling error; CallsByAction the successful ones by action.
	Calls, Throttled int
	CallsByAction    map[string]int
	// ThrottledByAction counts the throttled answers by action.
	ThrottledByAction map[string]int
	// ProbeWait is the time from sending a single-target rotation through
	// the HTTP trigger, once half of the run's floor has passed, until its
	// answer; ProbeOwn is the part the function spent on it, ProbeStatus
	// the answer's status code. ProbeChunksBefore and ProbeChunksAfter
	// count the chunks done when it was answered and those done after.
	ProbeWait, ProbeOwn                 time.Duration
	ProbeStatus                         int
	ProbeRotated                        bool
	ProbeChunksBefore, ProbeChunksAfter int
	// PeakRSS is the function process's peak resident set during the
	// measured run, in bytes.
	PeakRSS int64
	// Leaked reports whether any password the cloud accepted appears in
	// the function's output.
	Leaked bool
}

// ThrottledShare is the share of the run's calls answered with throttling.
func (f FleetResult) ThrottledShare() float64 {
	return float64(f.Throttled) / float64(max(f.Calls, 1))
}

// Throughput is Floor ÷ Wall: the share of the binding quota reached.
func (f FleetResult) Throughput() float64 {
	if f.Wall <= 0 {
		return 0
	}
	return float64(f.Floor) / float64(f.Wall)
}

// FleetFloor is the shortest time in which the calls a selector run over
// users accounts needs can pass the quotas (scaled by scale), and the
// action that sets it: one GetSecretValue, PutSecretValue,
// ResetUserPassword and UpdateSecretVersionStage per account (protocol
// v2), one CreateSecret more each on a first rotation, and ⌈users/100⌉
// ListUsers pages listed once. A quota's bucket starts full (one second's
// worth, as the emulator's do): its first second's calls pass at once.
func FleetFloor(users int, firstRotation bool, scale float64) (time.Duration, string) {
	need := map[string]int{
		"GetSecretValue": users, "PutSecretValue": users, "ResetUserPassword": users, "UpdateSecretVersionStage": users,
		"ListUsers": (users + 99) / 100,
	}
	if firstRotation {
		need["CreateSecret"] = users
	}
	shared := map[string]float64{} // calls per shared bucket
	rates := map[string]float64{}
	key := func(q emulator.Quota) string {
		if q.Share != "" {
			return "share:" + q.Share
		}
		return q.Action
	}
	names := map[string]string{}
	for _, q := range emulator.Quotas {
		if n, ok := need[q.Action]; ok {
			k := key(q)
			shared[k] += float64(n)
			rates[k] = q.PerSecond * scale
			if names[k] == "" {
				names[k] = q.Action
			} else {
				names[k] += "+" + q.Action
			}
		}
	}
	var floor time.Duration
	binding := ""
	for k, n := range shared {
		r := rates[k]
		d := time.Duration(math.Max(n-math.Max(r, 1), 0) / r * float64(time.Second))
		if d > floor || (d == floor && names[k] < binding) {
			floor, binding = d, names[k]
		}
	}
	return floor, binding
}

// applyQuotas limits every action of emulator.Quotas to its rate times
// scale, in its shared bucket where it has one, and delays each by latency.
func applyQuotas(c *emulator.Cloud, scale float64, latency time.Duration) {
	for _, q := range emulator.Quotas {
		c.ThrottleAction(q.Action, q.PerSecond*scale, q.Share)
		c.SetLatency(q.Action, latency)
	}
}

// fleetProbeID is the request id of the HTTP call sent in the middle of a
// run.
const fleetProbeID = "perf-fleet-probe"

// FleetRun starts the function binary under the emulated runtime, its
// asynchronous self-invocations served by the local cloud's Function
// Compute (one at a time, reservedConcurrency 1), with a directory of
// cfg.Users users; rotates them once unthrottled unless cfg.FirstRotation;
// then applies the quotas and the latency and measures one selector run
// over the whole directory, continued in chunks. Once half of the run's
// floor has passed it sends a
// single-target rotation of another directory's user through the HTTP
// trigger, and measures its wait.
func FleetRun(ctx context.Context, cfg FleetConfig) (FleetResult, error) {
	res := FleetResult{Users: cfg.Users}
	if cfg.Users <= reset.DefaultChunkTargets {
		return res, fmt.Errorf("fleet: more than %d users, so the run spans chunks", reset.DefaultChunkTargets)
	}
	if cfg.QuotaScale <= 0 {
		cfg.QuotaScale = 1
	}
	timeout := cfg.ChunkTimeout
	if timeout <= 0 {
		timeout = 300 * time.Second
	}
	f := emulator.DefaultFixture()
	f.Directories = append(f.Directories, emulator.Directory{ID: FleetDirectoryID, MinPasswordLength: 12})
	s, err := localrun.Start(ctx, localrun.Config{Binary: cfg.Binary, Fixture: &f, Env: cfg.Env,
		FC: &emulator.FCOptions{Invocation: emulator.Invocation{Timeout: timeout}}})
	if err != nil {
		return res, err
	}
	defer s.Close()
	users := make([]emulator.SSOUser, cfg.Users)
	for i := range users {
		users[i] = emulator.SSOUser{ID: FleetUserID(i), Name: fmt.Sprintf("fleet%05d@example.com", i),
			Password: fmt.Sprintf("Placeholder#Fleet%05d", i), Status: "Enabled", ProvisionType: "Manual"}
	}
	if !s.Cloud.AddSSOUsers(FleetDirectoryID, users...) {
		return res, errors.New("fleet: the fleet directory is missing")
	}
	// The probe's user is rotated first in every case: its secret exists.
	if err := fleetProbe(ctx, s, "perf-fleet-probe-seed", &res); err != nil {
		return res, fmt.Errorf("fleet: seed the probe's secret: %w", err)
	}
	selectAll := fmt.Appendf(nil, `{"target":"cloudsso","directoryId":%q,"select":{},"maxTargets":%d}`, FleetDirectoryID, reset.MaxSelectTargets)
	if !cfg.FirstRotation {
		if _, _, err := fleetSelect(ctx, s, selectAll, "perf-fleet-seed", timeout); err != nil {
			return res, fmt.Errorf("fleet: seeding run: %w", err)
		}
	}
	seeded := len(s.Cloud.AsyncInvocations())
	if err := resetPeakRSS(s.Process().PID()); err != nil {
		return res, err
	}
	s.Cloud.ResetCalls()
	applyQuotas(s.Cloud, cfg.QuotaScale, cfg.Latency)
	res.Floor, res.Binding = FleetFloor(cfg.Users, cfg.FirstRotation, cfg.QuotaScale)

	start := time.Now()
	probed := make(chan error, 1)
	go func() {
		// Chunks are sized by time (reset.DefaultChunkTime), so their
		// number is not known ahead: the probe goes once half the floor
		// has passed, in the middle of a run that meets its target, and
		// the first chunk is done.
		select {
		case <-time.After(res.Floor / 2):
		case <-ctx.Done():
			probed <- ctx.Err()
			return
		}
		if _, err := s.Cloud.WaitAsyncDone(ctx, seeded+1); err != nil {
			probed <- err
			return
		}
		err := fleetProbe(ctx, s, fleetProbeID, &res)
		res.ProbeChunksBefore = doneSince(s.Cloud, seeded)
		probed <- err
	}()
	all, runID, err := fleetSelect(ctx, s, selectAll, "perf-fleet-run", timeout)
	res.Wall = time.Since(start)
	if err != nil {
		return res, err
	}
	if err := <-probed; err != nil {
		return res, fmt.Errorf("fleet: probe: %w", err)
	}
	chunks := all[seeded:]
	res.Chunks = len(chunks)
	res.ProbeChunksAfter = res.Chunks - res.ProbeChunksBefore
	for _, a := range chunks {
		for _, at := range a.Attempts {
			res.LongestChunk = max(res.LongestChunk, at.Elapsed)
		}
	}
	res.CallsByAction, res.ThrottledByAction = map[string]int{}, map[string]int{}
	for _, c := range s.Cloud.Calls() {
		res.Calls++
		switch {
		case c.Code == "Throttling.User" || c.Code == "Rejected.Throttling":
			res.Throttled++
			res.ThrottledByAction[c.Action]++
		case c.Code == "":
			res.CallsByAction[c.Action]++
		}
	}
	if err := fleetSummary(ctx, s, runID, &res); err != nil {
		return res, err
	}
	if res.PeakRSS, err = PeakRSS(s.Process().PID()); err != nil {
		return res, err
	}
	res.Leaked = s.ContainsPassword(s.Output.String())
	return res, nil
}

// FleetRunError is a run the function failed: its first answer was an
// error, or a chunk's last delivery failed. The measurement was made; the
// figure is the failure.
type FleetRunError struct {
	RequestID string
	Err       error
}

func (e *FleetRunError) Error() string { return e.RequestID + ": " + e.Err.Error() }
func (e *FleetRunError) Unwrap() error { return e.Err }

// fleetSelect sends the selector request as a direct invocation and waits
// until the run it starts has no chunk left: every accepted asynchronous
// invocation done. A chunk hands the rest on before it answers, so once
// all are done no more will come. It returns every invocation FC accepted.
func fleetSelect(ctx context.Context, s *localrun.Stack, req []byte, id string, timeout time.Duration) ([]emulator.AsyncInvocation, string, error) {
	before := len(s.Cloud.AsyncInvocations())
	out, err := s.Invoke(ctx, req, emulator.Invocation{RequestID: id, Timeout: timeout})
	if err != nil {
		return nil, "", err
	}
	a, err := localrun.Decode(req, out)
	if err != nil {
		return nil, "", err
	}
	if a.FunctionError != nil {
		return nil, "", &FleetRunError{RequestID: id, Err: fmt.Errorf("the first answer is a function error %s: %s", a.FunctionError.Type, firstLine(a.FunctionError.Message))}
	}
	if len(a.Responses) != 1 || !a.Responses[0].Accepted {
		return nil, "", fmt.Errorf("%s: the run was not accepted (%s)", id, firstLine(string(out.Payload)))
	}
	for {
		all := s.Cloud.AsyncInvocations()
		done := 0
		for _, inv := range all {
			if !inv.Done {
				continue
			}
			done++
			if inv.Err != nil {
				return nil, "", fmt.Errorf("%s: chunk %s: %w", id, inv.RequestID, inv.Err)
			}
			if n := len(inv.Attempts); n > 0 && inv.Attempts[n-1].Err != nil {
				e := inv.Attempts[n-1].Err
				return nil, "", &FleetRunError{RequestID: id, Err: fmt.Errorf("chunk %s failed on all %d deliveries: %s: %s", inv.RequestID, n, e.Type, firstLine(e.Message))}
			}
		}
		if len(all) > before && done == len(all) {
			return all, a.Responses[0].RunID, nil
		}
		if _, err := s.Cloud.WaitAsyncDone(ctx, done+1); err != nil {
			return nil, "", fmt.Errorf("%s: %w", id, err)
		}
	}
}

// fleetProbe rotates the default fixture's CloudSSO user through the HTTP
// trigger and records the wait in res.
func fleetProbe(ctx context.Context, s *localrun.Stack, id string, res *FleetResult) error {
	ev := HTTPEvent(SingleRequest, id)
	sent := time.Now()
	out, err := s.Invoke(ctx, ev, emulator.Invocation{RequestID: id})
	res.ProbeWait, res.ProbeOwn = time.Since(sent), out.Elapsed
	if err != nil {
		return err
	}
	a, err := localrun.Decode(ev, out)
	if err != nil {
		return err
	}
	if a.HTTP != nil {
		res.ProbeStatus = a.HTTP.StatusCode
	}
	rs := a.Results()
	res.ProbeRotated = len(rs) == 1 && rs[0].Status == "rotated"
	if !res.ProbeRotated {
		return fmt.Errorf("%s: HTTP %d, not rotated", id, res.ProbeStatus)
	}
	return nil
}

func doneSince(c *emulator.Cloud, from int) int {
	n := 0
	for _, a := range c.AsyncInvocations()[from:] {
		if a.Done {
			n++
		}
	}
	return n
}

// fleetSummary reads the counts of the run's summary line (the "run
// completed" line of runID). The output is copied from the process's pipe,
// so the line may arrive just after the chunk's answer: it waits for it,
// bounded.
func fleetSummary(ctx context.Context, s *localrun.Stack, runID string, res *FleetResult) error {
	for range 400 {
		for _, l := range s.Output.Lines() {
			var line struct {
				Msg                      string `json:"msg"`
				RunID                    string `json:"runId"`
				Rotated, Failed, Skipped int
			}
			if !strings.Contains(l, `"msg":"run completed"`) || json.Unmarshal([]byte(l), &line) != nil || line.RunID != runID {
				continue
			}
			res.Rotated, res.Failed, res.Skipped = line.Rotated, line.Failed, line.Skipped
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("fleet: the function wrote no summary line for run %s", runID)
}

// resetPeakRSS resets the process's peak resident set (VmHWM) to its
// current one: writing "5" to /proc/<pid>/clear_refs does that (proc(5),
// "/proc/pid/clear_refs", Linux 4.0 and later).
func resetPeakRSS(pid int) error {
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak RSS: %w", err)
	}
	return nil
}
