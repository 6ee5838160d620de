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
	"Fleet run of 10,000 users, existing secrets (four runs of 2026-12-01, make bench's the last): 91–94% of the binding quota (floor 99 s, PutSecretValue, ResetUserPassword and UpdateSecretVersionStage at 100/s), 0 failed, 0.1% of calls throttled, peak RSS 27–28 MB; the run of 2,000 users 91–94%. Before, it failed at its first answer: the first invocation lists the directory, 100 ListUsers pages, and ListUsers' quota is 20/s (its API page, flow control); a throttled page was not retried, so the request was a RetryableError Throttling. The rotator now reads a selector's listing page by page (`reset.PageLister`, `Rotator.walk`), each page a retried step (throttled tries bounded by time), paced by the lister's own pacer (`reset.PaceListers`; its pages go one after another, so a throttled page counts as crowding). The listing still takes about 5 s of the first invocation before any reset (100 pages at 20/s), which the floor, counting ListUsers alongside the other quotas, does not charge: most of the gap to 100%.",
	"Chunks of a run whose ids do not fit its continuation (10,000 ids of 22 characters are about 250 KB, `reset.MaxContinuationBody` is 90,000 bytes): they no longer list the directory again each (about 92 chunks × 100 pages at 20/s, about 550 s against the 100 s floor, by arithmetic). The continuation carries the listing's place instead (`paged`: the NextToken of the page the run stands in, the last account done and 8 before it), and a chunk lists only the pages of its own accounts plus the one it stands in: 252–299 ListUsers pages for the run of 10,000 (100 of them the first answer's); ListUsers drew 5–7 of the run's 36–50 throttled answers. CloudSSO documents neither a NextToken's lifetime nor what it names (an offset or the last account), so a chunk checks its place on the page; a refused token, or a page without those accounts, lists the directory again (`run listing place lost`; unit-tested, not met in these runs).",
	"Chunks sized by time: a chunk starts targets for `reset.DefaultChunkTime` (2 s), then lets those in flight finish and hands the rest on; the next covers about what the last did per second. Existing secrets: 43–45 chunks of about 230 for 10,000 users (100 of 100 before), the longest 2.51–2.52 s of its own time (1.20 s before; 2.31 s for 2,000 users). First rotations: 18–19 chunks of about 27 for 500 users (5 of 100 before), the longest 4.34–4.61 s (10.6–13 s before): the 2 s of starting targets, then up to MAX_IN_FLIGHT targets waiting for CreateSecret's 10/s. The throughput did not change (91–94% for 10,000 users, 99% for the first rotation): the chunk's start and tail cost less than feared.",
	"The wait of an HTTP call sent in the middle of a run is about one chunk: with reservedConcurrency 1 it queues behind the chunk running and is served before the next (FC's queue hands the instance over in order). Existing secrets: 0.67–1.56 s for a single-target rotation whose own time is 85–91 ms (1.00 s with chunks of 100). First rotations: 1.38–1.68 s, where chunks of 100 made it wait 10.1–11.6 s.",
	"First rotation (500 users, no secrets yet; CreateSecret's 10/s binds, floor 49 s), runs of 2026-12-01: 99% of the quota in each of four runs, 0 failed in the last three, 1.5–3.6% of calls throttled (all CreateSecret). Before, 83–90% with 2 to 8 targets failed and 4.1–6.2% throttled: the pacer was one per service, so GetSecretValue's and PutSecretValue's successes kept the KMS pace high while CreateSecret was throttled. Now it is one per API (`reset.Pace`: CreateSecret, PutSecretValue, GetSecretValue with DescribeSecret, UpdateSecretVersionStage; each resetter's resets and its account checks), and a cut starts from what the API granted in the last second when that is lower than what was sent (the first run with per-API pacers, without that, still failed 1 target and drew 200 throttles). `TestFleetRunSmall` now runs at half the quotas (400 users, QuotaScale 0.5): 0 failed, 5.7–6.6% of calls throttled (7.6–8.3% without the grant cut; 11% and 1 to 3 failed with per-service pacers). Extrapolated to 10,000 users at the same share: floor 999 s, about 1,010 s, spread over chunks of about 4–5 s, so it completes as a run.",
}

func fleetNotes(o options) []string {
	return []string{
		fmt.Sprintf("Fleet runs (issue 13): the real binary under the emulated runtime API, its asynchronous self-invocations (InvokeFunction) served by the local cloud's Function Compute, which runs them one at a time on the same runtime, as one instance with reservedConcurrency 1 would; each invocation's timeout is 300 s (s.yaml). The directory's users have ids as long as real ones (\"u-\" and 20 characters), so a continuation carries what a real run's would. Unless it is a first rotation, a selector run over the whole directory first rotates every user unthrottled, so that every secret exists. Then every API gets its quota of `emulator.Quotas` (KMS shared gateway: CreateSecret 10/s, GetSecretValue 450/s; CloudSSO ResetUserPassword 100/s, ListUsers 20/s; PutSecretValue and UpdateSecretVersionStage assumed 100/s; sources in the emulator) and %s of latency, and one selector run over the whole directory is measured from the request to its last chunk's end. The floor is the shortest time the quotas allow for the calls the run needs (four per account, one more CreateSecret on a first rotation, the directory's ListUsers pages once), each bucket starting full (one second's worth). Once half of the run's floor has passed (chunks are sized by time, %s of handing out targets each, so their number is not known ahead), a single-target rotation of another directory's user is sent through the HTTP trigger; its wait runs from sending it to its answer. Peak RSS is the function's VmHWM, reset (`/proc/<pid>/clear_refs`, 5) before the measured run.", o.fleetLatency, sec(reset.DefaultChunkTime)),
	}
}
