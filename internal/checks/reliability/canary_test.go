package reliability_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/checks/reliability"
)

// TestCanaryFindsEveryForm proves the canary can fail: a password in any of
// the encodings a transport or a log gives it is found, and nothing else is.
func TestCanaryFindsEveryForm(t *testing.T) {
	const pw = `Zq7&x<y>"w\v+k%3D9/a b`
	idx := newFormIndex([]string{pw, "Other#Pass12345"})
	js, err := json.Marshal(map[string]string{"p": pw})
	require.NoError(t, err)
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"Plain", "log: " + pw + " end", true},
		{"QueryEscaped", "GET /?Password=" + url.QueryEscape(pw), true},
		{"PathEscaped", "/" + url.PathEscape(pw), true},
		{"JSONEscaped", string(js), true},
		{"AtStart", pw, true},
		{"Absent", strings.Repeat("Zq7&x<y>", 10), false},
		{"Empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, idx.found(tt.text))
		})
	}
}

func TestReportSplice(t *testing.T) {
	doc := []byte("# Title\n\nhand-written\n" + reliability.BeginMarker + "\nold figures\n" + reliability.EndMarker + "\ntail\n")
	out, err := reliability.Splice(doc, reliability.Report{Seed: 7, Rotations: 1000, FaultsInjected: map[string]int{"throttled": 3}})
	require.NoError(t, err)
	s := string(out)
	assert.NotContains(t, s, "old figures")
	assert.Contains(t, s, "| rotations | 1000 |")
	assert.Contains(t, s, "- throttled: 3 / 0")
	assert.True(t, strings.HasPrefix(s, "# Title\n\nhand-written\n"+reliability.BeginMarker))
	assert.True(t, strings.HasSuffix(s, reliability.EndMarker+"\ntail\n"))

	_, err = reliability.Splice([]byte("no markers"), reliability.Report{})
	require.ErrorIs(t, err, reliability.ErrNoMarkers)
}
