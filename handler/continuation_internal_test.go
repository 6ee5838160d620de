package handler

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
)

// TestDecodeContinuationStrict: a continuation's event is its two string
// fields, each once; anything else is refused before any call, as a
// signature failure (Forbidden).
func TestDecodeContinuationStrict(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	tests := []struct {
		name  string
		event string
		field string // "" : decoded
	}{
		{"OK", `{"continuation":"e30=","signature":"` + sig + `"}`, ""},
		{"ErrSignatureTwice", `{"continuation":"e30=","signature":"00","signature":"` + sig + `"}`, "continuation"},
		{"ErrContinuationTwice", `{"continuation":"e30=","continuation":"e30=","signature":"` + sig + `"}`, "continuation"},
		{"ErrUnknownField", `{"continuation":"e30=","signature":"` + sig + `","runId":"x"}`, "continuation"},
		{"ErrSignatureNumber", `{"continuation":"e30=","signature":1}`, "continuation"},
		{"ErrUnsigned", `{"continuation":"e30="}`, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decode([]byte(tt.event), "1-req")
			if tt.field == "" {
				require.NoError(t, err)
				require.Len(t, d.envs, 1)
				require.NotNil(t, d.envs[0].cont)
				assert.Equal(t, sig, d.envs[0].cont.Signature)
				return
			}
			require.Error(t, err, "decoded %+v", d.envs)
			var re *reset.Error
			require.True(t, errors.As(err, &re))
			assert.Equal(t, reset.EForbidden, re.Code)
			assert.Equal(t, tt.field, re.Field)
			assert.ErrorIs(t, err, reset.ErrContinuationSignature)
		})
	}
}
