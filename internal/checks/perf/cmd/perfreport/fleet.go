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
		add(perf.Info(name+": chunks; the longest chunk's own time", fmt.Sprintf("%d chunks of ≤ %d; %s", res.Chunks, reset.DefaultChunkTargets, sec(res.LongestChunk)), cmd))
		add(perf.Info(name+": wait of a single-target rotation through the HTTP trigger sent once half the chunks were done",
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
var fleetFindings = []string{}

func fleetNotes(o options) []string {
	return []string{
		fmt.Sprintf("Fleet runs (issue 13): the real binary under the emulated runtime API, its asynchronous self-invocations (InvokeFunction) served by the local cloud's Function Compute, which runs them one at a time on the same runtime, as one instance with reservedConcurrency 1 would; each invocation's timeout is 300 s (s.yaml). The directory's users have ids as long as real ones (\"u-\" and 20 characters), so a continuation carries what a real run's would. Unless it is a first rotation, a selector run over the whole directory first rotates every user unthrottled, so that every secret exists. Then every API gets its quota of `emulator.Quotas` (KMS shared gateway: CreateSecret 10/s, GetSecretValue 450/s; CloudSSO ResetUserPassword 100/s, ListUsers 20/s; PutSecretValue and UpdateSecretVersionStage assumed 100/s; sources in the emulator) and %s of latency, and one selector run over the whole directory is measured from the request to its last chunk's end. The floor is the shortest time the quotas allow for the calls the run needs (four per account, one more CreateSecret on a first rotation, the directory's ListUsers pages once), each bucket starting full (one second's worth). Once half of the run's ⌈users ÷ %d⌉ chunks are done, a single-target rotation of another directory's user is sent through the HTTP trigger; its wait runs from sending it to its answer. Peak RSS is the function's VmHWM, reset (`/proc/<pid>/clear_refs`, 5) before the measured run.", o.fleetLatency, reset.DefaultChunkTargets),
	}
}
