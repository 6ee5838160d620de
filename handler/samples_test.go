package handler_test

import (
	"bytes"
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
