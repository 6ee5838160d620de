package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pwreset/pwreset/internal/checks/perf"
	"github.com/pwreset/pwreset/internal/reset"
)

// maxThrottledShare is issue 13's stampede target for a fleet run.
const maxThrottledShare = 0.10

// fleetFigures measures the fleet runs of issue 13: a selector run over a
// directory whose secrets exist, and a first rotation, each under every
// API's quota (emulator.Quotas) with the latency.
func fleetFigures(ctx context.Context, o options, bin string, add func(perf.Figure)) error {
	type variant struct {
		users int
		first bool
		name  string
		flag  string
	}
	var vs []variant
	if o.fleetUsers > 0 {
		vs = append(vs, variant{o.fleetUsers, false, "existing secrets", fmt.Sprintf("-fleet-users %d", o.fleetUsers)})
	}
	if o.fleetFitUsers > 0 {
		vs = append(vs, variant{o.fleetFitUsers, false, "existing secrets", fmt.Sprintf("-fleet-users 0 -fleet-fit-users %d", o.fleetFitUsers)})
	}
	if o.fleetFirstUsers > 0 {
		vs = append(vs, variant{o.fleetFirstUsers, true, "first rotation (no secrets yet)", fmt.Sprintf("-fleet-first-users %d", o.fleetFirstUsers)})
	}
	for _, v := range vs {
		log.Printf("fleet: selector run over %d users, %s, quotas, %s latency", v.users, v.name, o.fleetLatency)
		res, err := perf.FleetRun(ctx, perf.FleetConfig{Binary: bin, Users: v.users, FirstRotation: v.first, QuotaScale: 1, Latency: o.fleetLatency})
		cmd := "go run ./internal/checks/perf/cmd/perfreport -fleet-only " + v.flag + " -out -"
		name := fmt.Sprintf("fleet run: selector over %d users, %s, every API at its quota, %s latency", v.users, v.name, o.fleetLatency)
		var runErr *perf.FleetRunError
		if errors.As(err, &runErr) {
			// The function failed the run: a finding, not a measurement
			// that could not be made.
			add(perf.Figure{Name: name, Value: "the run failed: " + runErr.Error(), Target: "accepted, every chunk done, 0 failed",
				Pass: false, Command: cmd})
			continue
		}
		if err != nil {
			return fmt.Errorf("fleet run (%d users, %s): %w", v.users, v.name, err)
		}
		add(perf.Figure{Name: fmt.Sprintf("%s: wall (floor %s, set by %s)", name, sec(res.Floor), res.Binding),
			Value:  fmt.Sprintf("%s = %.0f%% of the binding quota", sec(res.Wall), 100*res.Throughput()),
			Target: fmt.Sprintf("≥ %.0f%%", 100*minThroughput), Pass: res.Throughput() >= minThroughput, Command: cmd})
		add(perf.Figure{Name: name + ": failed; skipped", Value: fmt.Sprintf("%d; %d (%d rotated)", res.Failed, res.Skipped, res.Rotated),
			Target: "0 failed", Pass: res.Failed == 0 && res.Rotated == v.users, Command: cmd})
		add(perf.Figure{Name: name + ": throttled answers", Value: fmt.Sprintf("%d of %d calls (%.1f%%; %s)", res.Throttled, res.Calls, 100*res.ThrottledShare(), byAction(res.ThrottledByAction)),
			Target: fmt.Sprintf("≤ %.0f%% of calls", 100*maxThrottledShare), Pass: res.ThrottledShare() <= maxThrottledShare, Command: cmd})
		add(perf.Info(name+": chunks; the longest chunk's own time", fmt.Sprintf("%d chunks (%s of handing out each, then the targets in flight); %s", res.Chunks, sec(reset.DefaultChunkTime), sec(res.LongestChunk)), cmd))
		add(perf.Info(name+": wait of a single-target rotation through the HTTP trigger sent once half the floor had passed",
			fmt.Sprintf("%s (%s its own; answered after chunk %d of %d)", sec(res.ProbeWait), ms(res.ProbeOwn), res.ProbeChunksBefore, res.Chunks), cmd))
		add(perf.Info(name+": ListUsers pages read (the directory listed once: "+fmt.Sprint((v.users+99)/100)+")", fmt.Sprint(res.CallsByAction["ListUsers"]), cmd))
		add(perf.Figure{Name: name + ": peak RSS of the function", Value: mb(res.PeakRSS), Target: "≤ " + mb(maxPeakRSSBytes),
			Pass: res.PeakRSS > 0 && res.PeakRSS <= maxPeakRSSBytes, Command: cmd})
		if v.first && v.users < 10_000 && res.Throughput() > 0 {
			floor, binding := perf.FleetFloor(10_000, true, 1)
			add(perf.Info(fmt.Sprintf("first rotation of 10,000 users, extrapolated from %d at the same share of the quota", v.users),
				fmt.Sprintf("floor %s (%s); about %s", sec(floor), binding, sec(time.Duration(float64(floor)/res.Throughput()))), cmd))
		}
		if res.Leaked {
			return fmt.Errorf("fleet run (%d users): a password appeared in the function's output", v.users)
		}
	}
	return nil
}

func byAction(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", a, m[a]))
	}
	return strings.Join(parts, ", ")
}

// fleetFindings are what the fleet runs showed.
var fleetFindings = []string{
	"Fleet run of 10,000 users (runs of 2026-12-01): it fails at its first answer. The first invocation lists the whole directory, 100 ListUsers pages one after the other, and ListUsers' quota is 20/s (its API page, flow control): once the bucket's first second is spent a page is throttled, and the listing (`reset.Rotator.expand` → `aliyun.Directory.ListSSOUsers`, each page one call with the SDK's retries off) does not retry it, so the request is a RetryableError Throttling and nothing is reset. Any directory beyond about 2,000 users (20 pages, one second's worth) risks it. Fix (internal/reset or the CloudSSO lister, not the bench's): retry a throttled page with the backoff and pace the pages at the API's rate; then 100 pages need about 5 s of the first invocation.",
	"Fleet run of 10,000 users, after that fix: its continuations would re-list the directory in every chunk. 10,000 ids of 22 characters are about 250 KB of JSON, more than `reset.MaxContinuationBody` (90,000 bytes), so a chunk carries only the cursor and lists again (`runState.Listed` false) until at most 800 remain: about 92 chunks × 100 pages at 20/s ≈ 5 s of listing for 1 s of resets, so the run would take about 550 s against its 100 s floor (≈ 18%). The ids could ride along once they fit: compressed (the ids of one directory share most of their characters; about 3,600 fit as they are), or the continuation could carry the page token of the cursor's page instead of re-listing from the start (CloudSSO's NextToken is opaque; that a token stays valid across invocations is not documented, assumed not). This is arithmetic from the code, not measured: the run cannot get past its first answer today.",
	"Fleet run that fits (2,000 users, existing secrets, ids carried in the continuation, one listing of 20 pages), two runs of 2026-12-01: 91% and 83% of the binding quota (floor 19 s set by PutSecretValue, ResetUserPassword and UpdateSecretVersionStage, all 100/s; the second run shared the 2 CPUs with other work, a miss), 0 failed, 0.6–0.9% of calls throttled, peak RSS 19 MB; 20 chunks, the longest 1.27–1.43 s. A 1,000-user run reached 87% (floor 9 s): each chunk loses about 0.1–0.2 s to its start (the signing key, the ramp to MAX_IN_FLIGHT) and its tail (the last targets in flight, then the hand-on to InvokeFunction and FC's queue), a larger share of a shorter run. Larger chunks would amortize it, at the cost of a longer wait for an HTTP caller.",
	"The wait of an HTTP call sent in the middle of a run is one chunk: 1.26–1.44 s for a single-target rotation whose own time is 87–91 ms (2,000 users, existing secrets, two runs). With reservedConcurrency 1 the call queues behind the chunk running, and is served before the next (FC's queue hands the instance over in order). On a first rotation a chunk of 100 needs 100 CreateSecret calls at 10/s: the longest chunk took 12–13 s and the HTTP call waited 10.7–11.6 s. `reset.DefaultChunkTargets` (100) is sized for rotations of existing secrets; for first rotations a chunk of about 20 accounts would keep the wait near 2 s.",
	"First rotation (500 users, no secrets yet; CreateSecret's 10/s binds, floor 49 s), two runs: 83% and 89.9% of the quota (misses) and 2 and 8 of 500 targets failed (misses), with 151 and 229 CreateSecret throttles (4.1% and 6.2% of calls). The pacer of internal/reset is one per service (KMS), but KMS's quotas are per API: its other calls' successes keep the KMS pace high while CreateSecret (or, at reduced quotas, PutSecretValue) is throttled, and a target that draws MAX_ATTEMPTS throttles in a row fails. `TestFleetRunSmall` at 75% or 50% of the quotas fails 1 to 3 of 250 targets the same way and lets PutSecretValue's throttles reach 11% of the calls. Fix (internal/reset's pacer, another engineer's): one pacer per API or per shared quota group, and throttled tries bounded by time rather than MAX_ATTEMPTS. Extrapolated to 10,000 users at the same share: floor 999 s, about 1,110–1,200 s, four times FC's 300 s invocation timeout but spread over about 100 chunks of 10–13 s each, so it completes as a run; with the listing fix above.",
}

func fleetNotes(o options) []string {
	return []string{
		fmt.Sprintf("Fleet runs (issue 13): the real binary under the emulated runtime API, its asynchronous self-invocations (InvokeFunction) served by the local cloud's Function Compute, which runs them one at a time on the same runtime, as one instance with reservedConcurrency 1 would; each invocation's timeout is 300 s (s.yaml). The directory's users have ids as long as real ones (\"u-\" and 20 characters), so a continuation carries what a real run's would. Unless it is a first rotation, a selector run over the whole directory first rotates every user unthrottled, so that every secret exists. Then every API gets its quota of `emulator.Quotas` (KMS shared gateway: CreateSecret 10/s, GetSecretValue 450/s; CloudSSO ResetUserPassword 100/s, ListUsers 20/s; PutSecretValue and UpdateSecretVersionStage assumed 100/s; sources in the emulator) and %s of latency, and one selector run over the whole directory is measured from the request to its last chunk's end. The floor is the shortest time the quotas allow for the calls the run needs (four per account, one more CreateSecret on a first rotation, the directory's ListUsers pages once), each bucket starting full (one second's worth). Once half of the run's floor has passed (chunks are sized by time, %s of handing out targets each, so their number is not known ahead), a single-target rotation of another directory's user is sent through the HTTP trigger; its wait runs from sending it to its answer. Peak RSS is the function's VmHWM, reset (`/proc/<pid>/clear_refs`, 5) before the measured run.", o.fleetLatency, sec(reset.DefaultChunkTime)),
	}
}
