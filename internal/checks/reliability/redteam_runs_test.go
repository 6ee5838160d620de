package reliability_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// writes are the actions that change something: none may follow a refused
// or replayed continuation.
var writes = map[string]bool{
	"CreateSecret": true, "PutSecretValue": true, "UpdateSecretVersionStage": true,
	"ResetUserPassword": true, "ResetFabricOrganizationUserPassword": true, "InvokeFunction": true,
}

// TestRedTeamContinuations attacks the continuation trigger through the
// built binary after two real runs ended: a genuine event with data after
// it or a key given twice, a body spliced with another run's signature, a
// cursor moved under the genuine signature, a genuine chunk replayed after
// its run ended, and bodies signed with the real key (what an attacker who
// read it could send) that name what no request may. None resets or
// writes anything.
func TestRedTeamContinuations(t *testing.T) {
	s := MustRunStack(t, 120) // 123 users: two chunks per run
	a, err := s.in.Invoke(t, []byte(selectAll))
	require.NoError(t, err)
	require.True(t, a.Responses[0].Accepted)
	first := s.MustFinish(t, 2)
	a, err = s.in.Invoke(t, []byte(strings.Replace(selectAll, `"maxTargets":1000`, `"maxTargets":999`, 1)))
	require.NoError(t, err)
	require.True(t, a.Responses[0].Accepted)
	all := s.MustFinish(t, 4)
	second := all[2:]

	decode := func(p []byte) (reset.ContinuationEvent, []byte) {
		var ev reset.ContinuationEvent
		require.NoError(t, json.Unmarshal(p, &ev))
		body, err := base64.StdEncoding.DecodeString(ev.Continuation)
		require.NoError(t, err)
		return ev, body
	}
	g1, body1 := decode(first[0].Payload)
	g2, body2 := decode(second[0].Payload)
	require.NotEqual(t, body1, body2)

	keySecret, ok := s.cloud.Secret(reset.DefaultSecretPrefix + "_run-signing-key")
	require.True(t, ok)
	cur, ok := keySecret.Staged(emulator.StageCurrent)
	require.True(t, ok)
	key, err := hex.DecodeString(cur.Data)
	require.NoError(t, err)
	// signed returns the event of body altered by edit, signed with the
	// function's own key.
	signed := func(body []byte, edit func(map[string]any)) string {
		var st map[string]any
		require.NoError(t, json.Unmarshal(body, &st))
		edit(st)
		b, err := json.Marshal(st)
		require.NoError(t, err)
		m := hmac.New(sha256.New, key)
		m.Write(b)
		return string(mustJSON(reset.ContinuationEvent{Continuation: base64.StdEncoding.EncodeToString(b), Signature: hex.EncodeToString(m.Sum(nil))}))
	}
	withBody := func(body []byte, sig string) string {
		return string(mustJSON(reset.ContinuationEvent{Continuation: base64.StdEncoding.EncodeToString(body), Signature: sig}))
	}
	// Each account got one password per run; the attacks add none.
	s.cloud.Quiesce()
	applied := map[string]int{}
	for _, u := range s.users {
		applied[u.Key()] = len(s.cloud.Applied(u.Key()))
		require.Equal(t, 2, applied[u.Key()], "%s: one password per run", u.Key())
	}
	// The runs' records hold their three fields and nothing else: no
	// password, no key. (The canary already searches every text for every
	// secret value the cloud stored, the signing key's and the records'.)
	records := 0
	for _, sec := range s.cloud.Secrets() {
		if !strings.HasPrefix(sec.Name, reset.DefaultSecretPrefix+"_run-") || sec.Name == keySecret.Name {
			continue
		}
		records++
		for _, v := range sec.Versions {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(v.Data), &rec), sec.Name)
			for k := range rec {
				assert.Contains(t, []string{"runId", "handedOn", "ended"}, k, "a run record's field")
			}
		}
	}
	assert.Equal(t, 2, records, "one record per run")
	var moved map[string]any
	require.NoError(t, json.Unmarshal(body1, &moved))
	moved["after"], moved["listed"], moved["ids"] = "u-run0050", false, nil

	for _, tt := range []struct {
		name     string
		event    string
		refused  bool   // a function error; else answered, doing nothing
		wantText string // in the function error's message
	}{
		{"ErrTrailingData", string(first[0].Payload) + `{"continuation":"x"}`, true, "not valid JSON"},
		{"ErrSignatureTwice", `{"continuation":"` + g1.Continuation + `","signature":"` + strings.Repeat("00", 32) + `","signature":"` + g1.Signature + `"}`, true, "continuation"},
		{"ErrContinuationTwice", `{"continuation":"` + g2.Continuation + `","continuation":"` + g1.Continuation + `","signature":"` + g1.Signature + `"}`, true, "continuation"},
		{"ErrSignatureNumber", `{"continuation":"` + g1.Continuation + `","signature":12}`, true, "continuation"},
		{"ErrSignatureShort", withBody(body1, g1.Signature[:32]), true, "signature"},
		{"ErrSpliced", withBody(body2, g1.Signature), true, "does not verify"},
		{"ErrCursorMoved", withBody(mustJSON(moved), g1.Signature), true, "does not verify"},
		{"ErrKeyHolderUnknownKind", signed(body1, func(st map[string]any) { st["kind"] = "delete" }), true, "kind"},
		{"ErrKeyHolderVersion2", signed(body1, func(st map[string]any) { st["v"] = 2 }), true, "version"},
		{"ErrKeyHolderScopeNamesUser", signed(body1, func(st map[string]any) {
			st["scope"].(map[string]any)["UserID"] = emulator.FixtureUserID
		}), true, "userId"},
		{"ErrKeyHolderMaxTargets", signed(body1, func(st map[string]any) { st["maxTargets"] = 10_000_000 }), true, "maxTargets"},
		{"ErrKeyHolderBadBatchID", signed(body1, func(st map[string]any) {
			st["kind"] = "batch"
			st["batch"] = []map[string]any{{"k": "cloudsso", "d": emulator.FixtureDirectoryID, "ids": []string{"u-../../x"}}}
		}), true, "userId"},
		{"ErrKeyHolderFabricStatus", signed(body1, func(st map[string]any) {
			st["scope"] = map[string]any{"Kind": "fabric", "OrganizationID": emulator.FixtureOrganizationID, "Location": emulator.FixtureLocation}
			st["select"] = map[string]any{"status": "Enabled"}
		}), true, "select.status"},
		{"ReplayedAfterEnd", string(first[0].Payload), false, ""},
		{"OtherRunReplayedAfterEnd", string(second[1].Payload), false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.in.Kill() // a new instance: no cached key
			s.in.Start(t)
			before := len(s.cloud.Calls())
			a, err := s.in.Invoke(t, []byte(tt.event))
			require.NoError(t, err)
			if tt.refused {
				require.NotNil(t, a.FunctionError, "answered %+v", a.Responses)
				assert.Equal(t, "PermanentError", a.FunctionError.Type)
				assert.Contains(t, a.FunctionError.Message, tt.wantText)
			} else {
				require.Nil(t, a.FunctionError)
			}
			s.cloud.Quiesce()
			for _, c := range s.cloud.Calls()[before:] {
				assert.False(t, writes[c.Action], "%s after a %s continuation", c.Action, tt.name)
			}
		})
	}
	assert.Len(t, s.cloud.AsyncInvocations(), 4, "an attack handed a chunk on")
	s.cloud.Quiesce()
	for _, u := range s.users {
		require.NoError(t, s.cloud.CheckI1(reset.DefaultSecretPrefix, u))
		require.NoError(t, s.cloud.CheckCurrent(reset.DefaultSecretPrefix, u))
		assert.Len(t, s.cloud.Applied(u.Key()), applied[u.Key()], "%s got a password from an attack", u.Key())
	}
}
