package handler

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

// TestWires checks the one table from domain codes to the wire: every code
// has a row, the function error's type is the code's Retryable, and no two
// codes share a status, an API code or a rank.
func TestWires(t *testing.T) {
	codes := []reset.ErrorCode{reset.EInvalid, reset.EForbidden, reset.ENotFound, reset.EConflict,
		reset.EThrottled, reset.EUnavailable, reset.EUpstream, reset.EInternal}
	require.Len(t, wires, len(codes))
	statuses, apiCodes, ranks := map[int]bool{}, map[ErrorCode]bool{}, map[int]bool{}
	for _, c := range codes {
		w, ok := wires[c]
		require.True(t, ok, c)
		assert.Equal(t, c.Retryable(), w.retryable, c)
		assert.False(t, statuses[w.status] || apiCodes[w.code] || ranks[w.rank], "%s shares a column", c)
		statuses[w.status], apiCodes[w.code], ranks[w.rank] = true, true, true
		for _, d := range codes {
			if c.Retryable() && !d.Retryable() {
				assert.Greater(t, w.rank, wires[d].rank, "retryable %s outranks %s", c, d)
			}
		}
	}
	assert.Equal(t, wires[reset.EInternal], wireOf("no-such-code"), "an unknown code counts as internal")
}

// TestValidName holds the hand check to the rule it replaced.
func TestValidName(t *testing.T) {
	rule := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	for _, s := range []string{"", "a", "_", "Z9", "9a", "a-b", "a b", "dryRun", "targets_0", "é", "a\x00",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "_" + strings.Repeat("9", 63), "a.b", "a[0]"} {
		assert.Equal(t, rule.MatchString(s), validName(s), "%q", s)
	}
}

// TestFieldsFromKindTable checks that every field of reset's table of kinds
// decodes into the reset.Target field of its name, and that nothing else
// does: the decoder keeps no list of its own.
func TestFieldsFromKindTable(t *testing.T) {
	for _, k := range reset.Kinds() {
		for _, f := range k.Fields() {
			t.Run(string(k)+"/"+f.Name, func(t *testing.T) {
				value := `"v"`
				if f.Bool {
					value = "true"
				}
				req, err := decodeRequest([]byte(`{"target":"`+string(k)+`","`+f.Name+`":`+value+`}`), "body")
				require.NoError(t, err)
				got := req.resetRequest("k").Targets[0]
				assert.Equal(t, k, got.Kind)
				v := reflect.ValueOf(got)
				set := 0
				for i := range v.NumField() {
					if !v.Field(i).IsZero() {
						set++
					}
				}
				assert.Equal(t, 2, set, "the kind and %s only", f.Name)
				if !f.Bool {
					assert.Equal(t, string(k), string(specOf(got).Target))
					assert.NotEqual(t, TargetSpec{Target: k}, specOf(got), "a result shows %s", f.Name)
				} else {
					assert.Equal(t, TargetSpec{Target: k}, specOf(got), "a result does not echo the option %s", f.Name)
				}
			})
		}
	}
	assert.False(t, knownField("password"))
	assert.True(t, knownField("targets") && knownField("dryRun") && knownField("target"))
}

// TestOneLogLine checks that the handler writes its log from one place: the
// invocation's line.
func TestOneLogLine(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	calls := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		calls += strings.Count(string(src), "h.logger.")
		assert.NotContains(t, string(src), "slog.Default", f)
	}
	assert.Equal(t, 1, calls)
}
