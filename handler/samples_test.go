package handler_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

// sampleType returns a pointer to the handler's type for a sample, chosen
// by its file name, so a sample that stops matching its name fails.
func sampleType(tb testing.TB, name string) any {
	tb.Helper()
	switch {
	case strings.HasPrefix(name, "http-"):
		return new(handler.HTTPEvent)
	case strings.HasPrefix(name, "eventbridge-streaming"):
		return new([]handler.CloudEvent)
	case strings.HasPrefix(name, "eventbridge-"):
		return new(handler.CloudEvent)
	case strings.HasPrefix(name, "timer-"):
		return new(handler.TimerEvent)
	}
	tb.Fatalf("events/%s: no event type for this name (want http-, eventbridge-, eventbridge-streaming- or timer-)", name)
	return nil
}

// TestSamples runs every file in events/: it decodes the file into the
// handler's event type strictly, re-encodes it and requires JSON equality,
// so samples and types cannot drift; then it invokes the handler with the
// sample and requires every target in it rotated.
func TestSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "events", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6, "events/ holds a sample per trigger and target")
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)

			v := sampleType(t, name)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(v), "the sample must decode into %T", v)
			again, err := json.Marshal(v)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again), "re-encoding %T must give the sample back", v)

			requests := sampleRequests(t, v)
			want := 0
			for _, r := range requests {
				// Each embedded request must itself decode strictly as a
				// Request.
				var req handler.Request
				d := json.NewDecoder(bytes.NewReader(r))
				d.DisallowUnknownFields()
				require.NoError(t, d.Decode(&req))
				if req.Targets != nil {
					want += len(req.Targets)
				} else {
					want++
				}
			}

			h := MustHandler(t, nil)
			out, err := h.Invoke(MustContext(t), raw)
			require.NoError(t, err)
			var results []handler.Result
			switch resp := out.(type) {
			case *handler.HTTPResponse:
				require.Equal(t, 200, resp.StatusCode, "body: %s", resp.Body)
				var body handler.Response
				require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
				results = body.Results
			case *handler.Response:
				results = resp.Results
			default:
				t.Fatalf("got %T", out)
			}
			require.Len(t, results, want)
			for _, r := range results {
				assert.Equal(t, reset.StatusRotated, r.Status)
				assert.True(t, strings.HasPrefix(r.SecretName, "pwreset/"+string(r.Target)+"/"), r.SecretName)
			}
			assert.Len(t, h.rot.requests(), len(requests))
		})
	}
}

// sampleRequests returns the requests a decoded sample carries.
func sampleRequests(tb testing.TB, v any) [][]byte {
	tb.Helper()
	switch ev := v.(type) {
	case *handler.HTTPEvent:
		if !ev.IsBase64Encoded {
			return [][]byte{[]byte(ev.Body)}
		}
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		require.NoError(tb, err)
		return [][]byte{b}
	case *handler.CloudEvent:
		return [][]byte{ev.Data}
	case *[]handler.CloudEvent:
		var out [][]byte
		for _, e := range *ev {
			out = append(out, e.Data)
		}
		return out
	case *handler.TimerEvent:
		return [][]byte{[]byte(ev.Payload)}
	}
	tb.Fatalf("unexpected %T", v)
	return nil
}

// TestFleetSamples runs every file in events/fleet/: the selector and sweep
// requests. Each decodes strictly and re-encodes to itself, reaches the
// rotator as a selector (its maxTargets and dryRun) or a sweep, and its
// answer carries each result the rotator gave in a status a run of that
// kind gives: validated for a dry run, rotated for a selector, rotated,
// healthy or drift for a sweep.
func TestFleetSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "events", "fleet", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3, "events/fleet/ holds a CloudSSO selector, a Fabric selector and a sweep")
	kinds := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			v := sampleType(t, name)
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(v), "the sample must decode into %T", v)
			again, err := json.Marshal(v)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again), "re-encoding %T must give the sample back", v)
			requests := sampleRequests(t, v)
			require.Len(t, requests, 1)
			var sample map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(requests[0], &sample))

			sso := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-healthy"}
			fab := reset.Target{Kind: reset.KindFabric, OrganizationID: "peers-aaaaaa2-1eqnj5o5wab12", Username: "asian01", Location: "cn-hangzhou"}
			// The rotator answers as the real one does for each kind.
			rot := &fakeRotator{RotateFn: func(_ context.Context, req reset.Request) ([]reset.Result, error) {
				if req.Sweep {
					return []reset.Result{
						{Target: sso, Status: reset.StatusHealthy, SecretName: sso.SecretName("pwreset/")},
						{Target: fab, Status: reset.StatusRotated, SecretName: fab.SecretName("pwreset/"), VersionID: "pwreset-v", RolledForward: "pwreset-v"},
						{Status: reset.StatusDrift, SecretName: "pwreset/cloudsso/d-00fc2p61ab12/u-placeholder", Drift: reset.DriftPlaceholder},
					}, nil
				}
				scope := req.Targets[0]
				var out []reset.Result
				for _, id := range []string{"u-one", "u-two"} {
					tg := scope
					if tg.Kind == reset.KindCloudSSO {
						tg.UserID = id
					} else {
						tg.Username = strings.TrimPrefix(id, "u-")
					}
					st := reset.StatusRotated
					if req.DryRun {
						st = reset.StatusValidated
					}
					out = append(out, reset.Result{Target: tg, Status: st, SecretName: tg.SecretName("pwreset/"), VersionID: reset.VersionID(req.IdempotencyKey, tg)})
				}
				return out, nil
			}}
			h := MustHandler(t, rot)
			out, err := h.Invoke(MustContext(t), raw)
			require.NoError(t, err)
			var body handler.Response
			switch resp := out.(type) {
			case *handler.HTTPResponse:
				require.Equal(t, 200, resp.StatusCode, "body: %s", resp.Body)
				require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
			case *handler.Response:
				body = *resp
			default:
				t.Fatalf("got %T", out)
			}
			reqs := h.rot.requests()
			require.Len(t, reqs, 1)
			req := reqs[0]
			allowed := map[reset.Status]bool{}
			switch {
			case req.Sweep:
				kinds["sweep"] = true
				assert.Contains(t, sample, "sweep")
				assert.Empty(t, req.Targets)
				allowed = map[reset.Status]bool{reset.StatusRotated: true, reset.StatusHealthy: true, reset.StatusDrift: true}
				require.Len(t, body.Results, 3)
			case req.Select != nil:
				kinds[string(req.Targets[0].Kind)] = true
				var max int
				require.NoError(t, json.Unmarshal(sample["maxTargets"], &max))
				assert.Equal(t, max, req.MaxTargets)
				assert.Positive(t, req.MaxTargets, "a selector sample names maxTargets")
				if req.DryRun {
					kinds["dryRun"] = true
					allowed[reset.StatusValidated] = true
				} else {
					allowed[reset.StatusRotated] = true
				}
				require.Len(t, body.Results, 2)
				require.LessOrEqual(t, len(body.Results), req.MaxTargets)
			default:
				t.Fatalf("events/fleet/%s is neither a selector nor a sweep", name)
			}
			for _, r := range body.Results {
				assert.True(t, allowed[r.Status], "status %s", r.Status)
				assert.Nil(t, r.Error)
				assert.True(t, strings.HasPrefix(r.SecretName, "pwreset/"), r.SecretName)
			}
		})
	}
	for _, k := range []string{"cloudsso", "fabric", "sweep", "dryRun"} {
		assert.True(t, kinds[k], "events/fleet/ has no %s sample", k)
	}
}
