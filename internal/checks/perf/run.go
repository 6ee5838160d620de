package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// response is the part of pwreset's response the measurements read.
type response struct {
	Results []struct {
		Status string `json:"status"`
	} `json:"results"`
}

// statuses counts the results of an outcome by status. An HTTP trigger's
// answer (an HTTPResponse) is read from its body, whatever its status code.
func statuses(out emulator.Outcome) (map[string]int, error) {
	if out.Err != nil {
		// A failed target makes an event's invocation a function error;
		// its message is safe to show (it never holds a password).
		return nil, fmt.Errorf("function error %s: %s", out.Err.Type, firstLine(out.Err.Message))
	}
	payload := out.Payload
	var h handler.HTTPResponse
	if json.Unmarshal(payload, &h) == nil && h.StatusCode != 0 {
		payload = []byte(h.Body)
	}
	var r response
	if err := json.Unmarshal(payload, &r); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	m := map[string]int{}
	for _, res := range r.Results {
		m[res.Status]++
	}
	return m, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Sequential is what SequentialInvocations measured.
type Sequential struct {
	Invocations int
	// ConnectionsAt100 and Connections are the TCP connections each product
	// accepted over the instance's first 100 invocations and over all.
	ConnectionsAt100, Connections map[emulator.Product]int
	// CallsPerRotation is the mean number of cloud API calls of one
	// rotation of a target whose secret exists (every invocation but the
	// first).
	CallsPerRotation float64
	// CPUPerInvocation is the function process's CPU time (user + system)
	// per invocation, over every invocation but the first.
	CPUPerInvocation time.Duration
	// WallPerInvocation is the mean time from handing the invocation to the
	// function to its response, as the runtime API saw it.
	WallPerInvocation time.Duration
}

// SequentialInvocations starts the built function binary under the
// emulated runtime against the emulated cloud, and sends it n (≥ 100)
// invocations one after the other, each rotating the same CloudSSO user
// with a new idempotency key.
func SequentialInvocations(ctx context.Context, binary string, n int) (Sequential, error) {
	if n < 100 {
		return Sequential{}, errors.New("sequential: at least 100 invocations")
	}
	s, err := localrun.Start(ctx, localrun.Config{Binary: binary})
	if err != nil {
		return Sequential{}, err
	}
	defer s.Close()
	res := Sequential{Invocations: n}
	invoke := func(i int) (time.Duration, error) {
		out, err := s.Invoke(ctx, SingleRequest, emulator.Invocation{RequestID: fmt.Sprintf("perf-seq-%05d", i)})
		if err != nil {
			return 0, err
		}
		st, err := statuses(out)
		if err != nil {
			return 0, fmt.Errorf("invocation %d: %w", i, err)
		}
		if st["rotated"] != 1 {
			return 0, fmt.Errorf("invocation %d: statuses %v, want one rotated", i, st)
		}
		return out.Elapsed, nil
	}
	if _, err := invoke(0); err != nil {
		return res, err
	}
	calls0 := len(s.Cloud.Calls())
	cpu0, err := ProcessCPU(s.Process().PID())
	if err != nil {
		return res, err
	}
	var wall time.Duration
	for i := 1; i < n; i++ {
		d, err := invoke(i)
		if err != nil {
			return res, err
		}
		wall += d
		if i == 99 {
			res.ConnectionsAt100 = connections(s.Cloud)
		}
	}
	cpu1, err := ProcessCPU(s.Process().PID())
	if err != nil {
		return res, err
	}
	res.Connections = connections(s.Cloud)
	res.CallsPerRotation = float64(len(s.Cloud.Calls())-calls0) / float64(n-1)
	res.CPUPerInvocation = (cpu1 - cpu0) / time.Duration(n-1)
	res.WallPerInvocation = wall / time.Duration(n-1)
	return res, nil
}

func connections(c *emulator.Cloud) map[emulator.Product]int {
	return map[emulator.Product]int{
		emulator.KMS:      c.Connections(emulator.KMS),
		emulator.CloudSSO: c.Connections(emulator.CloudSSO),
		emulator.BaaS:     c.Connections(emulator.BaaS),
	}
}

// BatchConfig sets up Batch.
type BatchConfig struct {
	Binary  string
	Targets int
	// PerAPI is the rate limit of each API on the happy path, calls per
	// second: GetSecretValue (the pending read of protocol v2),
	// PutSecretValue and UpdateSecretVersionStage share KMS's limit of
	// 3·PerAPI, ResetUserPassword has CloudSSO's of PerAPI. Each
	// target then needs one call of each, and the floor of a batch is
	// (Targets − PerAPI) ÷ PerAPI: the emulator's token buckets start full,
	// one second's worth of calls.
	PerAPI float64
	// Latency delays every call.
	Latency time.Duration
	// Env is added to the function's environment.
	Env []string
}

// BatchFloor is the shortest time in which n targets can pass APIs limited
// to perAPI calls per second each, by token buckets that start full (one
// second's worth, as the emulator's do): the first perAPI targets pass at
// once, the rest at the rate.
func BatchFloor(n int, perAPI float64) time.Duration {
	rest := float64(n) - perAPI
	if rest < 0 {
		rest = 0
	}
	return time.Duration(rest / perAPI * float64(time.Second))
}

// LatencyCap is the most targets per second inFlight targets in flight
// can rotate when each makes calls calls one after the other and every call
// takes latency: inFlight ÷ (calls · latency), whatever the rate limits.
// It is 0 for no calls or no latency (no cap).
func LatencyCap(inFlight, calls int, latency time.Duration) float64 {
	if calls <= 0 || latency <= 0 {
		return 0
	}
	return float64(inFlight) / (float64(calls) * latency.Seconds())
}

// BatchResult is what Batch measured.
type BatchResult struct {
	Targets, Rotated int
	// Wall runs from handing the batch to the function to its response.
	Wall, Floor time.Duration
	// Calls and Throttled count the API calls of the measured batch and
	// those answered with a throttling error.
	Calls, Throttled int
	// PeakRSS is the function process's peak resident set, in bytes.
	PeakRSS int64
}

// Throughput is the share of the rate limit the batch reached: Floor ÷ Wall.
func (b BatchResult) Throughput() float64 {
	if b.Wall <= 0 {
		return 0
	}
	return float64(b.Floor) / float64(b.Wall)
}

// batchTimeout is the invocation timeout of a batch, far beyond any floor
// measured, so that no target is skipped for the deadline.
const batchTimeout = 15 * time.Minute

// Batch starts the function binary with BatchFixture(cfg.Targets), rotates
// every user once unthrottled (so that each secret exists, as in a fleet
// rotated on a schedule), then throttles the cloud and adds the latency,
// and measures a second batch rotating them all again.
func Batch(ctx context.Context, cfg BatchConfig) (BatchResult, error) {
	f := BatchFixture(cfg.Targets)
	s, err := localrun.Start(ctx, localrun.Config{Binary: cfg.Binary, Fixture: &f, Env: cfg.Env})
	if err != nil {
		return BatchResult{}, err
	}
	defer s.Close()
	req := BatchRequest(cfg.Targets)
	// An HTTP trigger's answer lists every target's outcome even when some
	// failed, where an event's would be a function error.
	run := func(id string) (emulator.Outcome, map[string]int, error) {
		out, err := s.Invoke(ctx, HTTPEvent(req, id), emulator.Invocation{RequestID: id, Timeout: batchTimeout})
		if err != nil {
			return out, nil, err
		}
		st, err := statuses(out)
		return out, st, err
	}
	if _, st, err := run("perf-batch-seed"); err != nil || st["rotated"] != cfg.Targets {
		return BatchResult{}, fmt.Errorf("seeding batch: statuses %v: %w", st, err)
	}

	s.Cloud.ResetCalls()
	s.Cloud.Throttle(emulator.KMS, 3*cfg.PerAPI)
	s.Cloud.Throttle(emulator.CloudSSO, cfg.PerAPI)
	for _, a := range []string{"PutSecretValue", "UpdateSecretVersionStage", "GetSecretValue", "CreateSecret", "ResetUserPassword"} {
		s.Cloud.SetLatency(a, cfg.Latency)
	}
	out, st, err := run("perf-batch-measured")
	res := BatchResult{
		Targets: cfg.Targets,
		Floor:   BatchFloor(cfg.Targets, cfg.PerAPI),
		Wall:    out.Elapsed,
		Rotated: st["rotated"],
	}
	for _, c := range s.Cloud.Calls() {
		res.Calls++
		if strings.Contains(c.Code, "Throttling") {
			res.Throttled++
		}
	}
	if rss, rerr := PeakRSS(s.Process().PID()); rerr == nil {
		res.PeakRSS = rss
	} else if err == nil {
		err = rerr
	}
	return res, err
}
