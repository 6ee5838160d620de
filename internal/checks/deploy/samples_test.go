package deploy_test

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

// TestDryRunSamples checks events/dry-run/, the samples `make invoke` sends
// by default: each decodes strictly into the handler's event type and gives
// itself back, every request in it is a dry run, and together they cover
// every target kind. (handler's own sample test runs events/*.json and
// expects rotations; these change nothing by design.)
func TestDryRunSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(MustRepoRoot(t), "events", "dry-run", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	kinds := map[reset.Kind]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var bodies [][]byte
			var v any
			switch {
			case strings.HasPrefix(name, "http-"):
				ev := new(handler.HTTPEvent)
				v = ev
				mustDecodeStrict(t, raw, ev)
				b := []byte(ev.Body)
				if ev.IsBase64Encoded {
					b, err = base64.StdEncoding.DecodeString(ev.Body)
					require.NoError(t, err)
				}
				bodies = append(bodies, b)
			case strings.HasPrefix(name, "eventbridge-"):
				ev := new(handler.CloudEvent)
				v = ev
				mustDecodeStrict(t, raw, ev)
				bodies = append(bodies, ev.Data)
			default:
				t.Fatalf("events/dry-run/%s: want an http- or eventbridge- sample", name)
			}
			again, err := json.Marshal(v)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again), "re-encoding %T must give the sample back", v)
			for _, b := range bodies {
				var req handler.Request
				mustDecodeStrict(t, b, &req)
				assert.True(t, req.DryRun, "a sample under events/dry-run/ must be a dry run")
				targets, err := decodeRequest(b)
				require.NoError(t, err)
				for _, tg := range targets {
					kinds[tg.Kind] = true
				}
			}
		})
	}
	for _, k := range []reset.Kind{reset.KindCloudSSO, reset.KindFabric} {
		assert.True(t, kinds[k], "no dry-run sample for target kind %s", k)
	}
}

func mustDecodeStrict(tb testing.TB, b []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(tb, dec.Decode(v), "decode into %T", v)
}
