package perf

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// LocalCloudPackage is the emulator's command, run as a separate process so
// that its CPU time and allocations stay out of the client's figures.
const LocalCloudPackage = "github.com/pwreset/pwreset/internal/testenv/emulator/cmd/localcloud"

// LocalCloud is a localcloud process.
type LocalCloud struct {
	Endpoints emulator.Endpoints
	cmd       *exec.Cmd
}

// StartLocalCloud runs the built localcloud binary and reads the endpoints
// it prints.
func StartLocalCloud(ctx context.Context, binary string) (*LocalCloud, error) {
	cmd := exec.Command(binary)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("localcloud: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localcloud: %w", err)
	}
	lc := &LocalCloud{cmd: cmd}
	lines := make(chan error, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), "=")
			switch k {
			case "KMS_ENDPOINT":
				lc.Endpoints.KMS = v
			case "CLOUDSSO_ENDPOINT":
				lc.Endpoints.CloudSSO = v
			case "BAAS_ENDPOINT":
				lc.Endpoints.BaaS = v
			case "FC_RUNTIME_API":
				lines <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		lines <- errors.New("localcloud: exited before printing its endpoints")
	}()
	select {
	case err = <-lines:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		lc.Close()
		return nil, err
	}
	return lc, nil
}

// Close stops the process.
func (lc *LocalCloud) Close() {
	_ = lc.cmd.Process.Kill()
	_ = lc.cmd.Wait()
}

// NewHandler builds the handler exactly as main does (config.Load, then
// app.New), with the endpoints of eps and logging off.
func NewHandler(eps emulator.Endpoints) (*handler.Handler, error) {
	env := map[string]string{
		config.EnvKMSEndpoint:        eps.KMS,
		config.EnvCloudSSOEndpoint:   eps.CloudSSO,
		config.EnvBaaSEndpoint:       eps.BaaS,
		config.EnvRegionID:           emulator.DefaultRegion,
		config.EnvKMSEncryptionKeyID: emulator.FixtureKMSKeyID,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	return app.New(cfg, app.Deps{})
}

// roleCredentials are the function role's credentials of the default
// fixture, which Function Compute would put in each invocation's context.
func roleCredentials() fccontext.Credentials {
	for _, t := range emulator.DefaultFixture().STSTokens {
		if t.AccessKeyID == emulator.FixtureFunctionRoleKeyID {
			return fccontext.Credentials{AccessKeyId: t.AccessKeyID, AccessKeySecret: t.AccessKeySecret, SecurityToken: t.SecurityToken}
		}
	}
	return fccontext.Credentials{}
}

// invocationSeq numbers invocations across benchmark runs, so that every
// invocation has its own request id (its idempotency key) and so rotates.
var invocationSeq atomic.Int64

// invocationContext is the context of one direct invocation, as the
// runtime SDK builds it.
func invocationContext(prefix string, creds fccontext.Credentials) context.Context {
	id := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), invocationSeq.Add(1))
	return fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: id, Credentials: creds, Region: emulator.DefaultRegion})
}

// invokeEncoded is one invocation as the runtime SDK makes it: Invoke,
// then the answer encoded to JSON.
func invokeEncoded(ctx context.Context, h *handler.Handler, event []byte) ([]byte, error) {
	v, err := h.Invoke(ctx, event)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// selfCPU is this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RotationBenchmark returns a benchmark of one rotation of an existing
// secret through the handler main builds, against the cloud at eps: a
// direct invocation, decoded, rotated (stage, reset, promote over HTTP),
// and its answer encoded. It reports this process's CPU time per rotation
// (cpu-ns/op) and, when calls is not nil, the cloud's API calls per
// rotation (calls/op). With the cloud in another process, every figure is
// pwreset's own; with it in this one, they include the cloud's work.
func RotationBenchmark(eps emulator.Endpoints, calls func() int) func(b *testing.B) {
	return func(b *testing.B) {
		h, err := NewHandler(eps)
		if err != nil {
			b.Fatal(err)
		}
		creds := roleCredentials()
		rotate := func() {
			out, err := invokeEncoded(invocationContext("bench-rotation", creds), h, SingleRequest)
			if err != nil {
				b.Fatalf("rotation: %v", err)
			}
			if !strings.Contains(string(out), `"status":"rotated"`) {
				b.Fatalf("rotation: got %s, want status rotated", out)
			}
		}
		// The first rotation may create the secret; the ones measured find
		// it, as every rotation after a target's first does.
		rotate()
		calls0 := 0
		if calls != nil {
			calls0 = calls()
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := selfCPU()
		for range b.N {
			rotate()
		}
		cpu := selfCPU() - cpu0
		b.StopTimer()
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		if calls != nil {
			b.ReportMetric(float64(calls()-calls0)/float64(b.N), "calls/op")
		}
	}
}

// staticRotator answers every target rotated without calling anything:
// with it, a benchmark measures the handler alone.
type staticRotator struct{}

func (staticRotator) Rotate(_ context.Context, req reset.Request) ([]reset.Result, error) {
	out := make([]reset.Result, len(req.Targets))
	for i, t := range req.Targets {
		out[i] = reset.Result{Target: t, Status: reset.StatusRotated,
			SecretName: t.SecretName(reset.DefaultSecretPrefix), VersionID: reset.VersionID(req.IdempotencyKey, t)}
	}
	return out, nil
}

// httpEvent is an HTTP trigger's event asking to rotate the default
// fixture's CloudSSO user.
var httpEvent = HTTPEvent(SingleRequest, "perf-handler-0001")

// HTTPEvent returns the event of an HTTP trigger whose request body is body
// and whose Idempotency-Key header is key.
func HTTPEvent(body []byte, key string) []byte {
	ev := handler.HTTPEvent{
		Version: "v1", RawPath: "/reset", Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json", handler.IdempotencyKeyHeader: key},
		RequestContext: handler.HTTPRequestContext{
			AccountID: emulator.DefaultAccountID, RequestID: "perf-" + key,
			HTTP: handler.HTTPDescription{Method: "POST", Path: "/reset", Protocol: "HTTP/1.1"},
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		// Every field is a string or a map of strings.
		panic(err)
	}
	return b
}

// HandlerBenchmark returns a benchmark of the handler's own work on one
// invocation: decoding the event (an HTTP trigger's when http is set, a
// direct invocation's otherwise), shaping the answer and encoding it, with
// a rotator that does nothing.
func HandlerBenchmark(http bool) func(b *testing.B) {
	event := SingleRequest
	if http {
		event = httpEvent
	}
	return func(b *testing.B) {
		h := handler.New(staticRotator{}, nil)
		creds := roleCredentials()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			out, err := invokeEncoded(invocationContext("bench-handler", creds), h, event)
			if err != nil {
				b.Fatal(err)
			}
			if !strings.Contains(string(out), "rotated") {
				b.Fatalf("got %s, want a rotated result", out)
			}
		}
	}
}
