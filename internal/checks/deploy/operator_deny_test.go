package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOperatorDenyCoversRunSecrets reads the Deny statement
// docs/operations.md gives operators and requires that it covers, for
// s.yaml's prefix, every way to read or choose the run-signing key
// (whoever reads it signs runs), that the function's own role keeps them,
// and that docs/security.md says who may hold the key.
func TestOperatorDenyCoversRunSecrets(t *testing.T) {
	doc := string(MustReadFile(t, "docs/operations.md"))
	const begin, end = "<!-- operator-deny:begin -->", "<!-- operator-deny:end -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	require.True(t, i >= 0 && j > i, "docs/operations.md has no %s … %s block", begin, end)
	block := strings.TrimSpace(doc[i+len(begin) : j])
	block = strings.TrimSuffix(strings.TrimPrefix(block, "```json"), "```")
	dec := json.NewDecoder(bytes.NewReader([]byte(block)))
	dec.DisallowUnknownFields()
	var st statement
	require.NoError(t, dec.Decode(&st))
	assert.Equal(t, "Deny", st.Effect)

	prefix := fmt.Sprint(MustLoadSpec(t).Vars["secretNamePrefix"])
	require.NotEmpty(t, prefix)
	key := prefix + "_run-signing-key"
	record := prefix + "_run-0123456789abcdef01234567"
	covers := func(name string) bool {
		for _, r := range st.Resource {
			pat, ok := strings.CutPrefix(r, "acs:kms:*:*:secret/")
			if !ok {
				continue
			}
			if base, wild := strings.CutSuffix(pat, "*"); wild && strings.HasPrefix(name, base) || pat == name {
				return true
			}
		}
		return false
	}
	assert.True(t, covers(key), "the Deny does not name %s", key)
	assert.True(t, covers(record), "the Deny does not name the runs' records")
	assert.False(t, covers(prefix+"cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"), "the Deny must leave the accounts' secrets")
	for _, a := range []string{"kms:GetSecretValue", "kms:CreateSecret", "kms:PutSecretValue", "kms:UpdateSecretVersionStage"} {
		assert.Contains(t, st.Action, a, "the Deny leaves %s on the run secrets", a)
	}

	// The function's role must keep them: it creates, reads and writes the
	// key and the records.
	for _, s := range MustLoadPolicy(t).Statement {
		assert.NotEqual(t, "Deny", s.Effect, "the function's role denies itself %v", s.Action)
	}

	sec := string(MustReadFile(t, "docs/security.md"))
	assert.Contains(t, sec, "_run-signing-key")
	assert.Contains(t, sec, "Only the")
}
