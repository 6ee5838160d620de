package aliyun

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPatternBounds: a pattern written with * admits what its counted
// form did: the length bound and the classes both hold.
func TestPatternBounds(t *testing.T) {
	tests := []struct {
		name string
		p    pattern
		in   string
		want bool
	}{
		{"OKKeyIDLongest", reKeyID, "a" + strings.Repeat("b", 254), true},
		{"ErrKeyIDTooLong", reKeyID, "a" + strings.Repeat("b", 255), false},
		{"ErrKeyIDEmpty", reKeyID, "", false},
		{"ErrKeyIDFirst", reKeyID, "/alias", false},
		{"OKInstanceIDLongest", reInstanceID, "kst-" + strings.Repeat("a", 64), true},
		{"ErrInstanceIDTooLong", reInstanceID, "kst-" + strings.Repeat("a", 65), false},
		{"ErrInstanceIDNoSuffix", reInstanceID, "kst-", false},
		{"OKAccountIDLongest", reAccountID, strings.Repeat("1", 32), true},
		{"ErrAccountIDTooLong", reAccountID, strings.Repeat("1", 33), false},
		{"OKFunctionNameLongest", reFunctionName, "_" + strings.Repeat("f", 127), true},
		{"ErrFunctionNameTooLong", reFunctionName, "_" + strings.Repeat("f", 128), false},
		{"ErrNonASCII", reBusName, "bus-é", false},
		{"ErrEventTypeEmpty", reEventType, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.MatchString(tt.in), "MatchString(%q)", tt.in)
		})
	}
}
