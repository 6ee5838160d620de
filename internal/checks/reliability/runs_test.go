package reliability_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// runStack is the built function under the emulated runtime, its own
// InvokeFunction served by the local cloud, which queues each chunk on the
// same runtime: Function Compute's asynchronous queue and retries.
type runStack struct {
	cloud *testCloud
	in    *instance
	users []reset.Target
}

func MustRunStack(tb testing.TB, n int) *runStack {
	tb.Helper()
	cloud := MustCloud(tb, nil)
	s := &runStack{cloud: cloud}
	users := make([]emulator.SSOUser, n)
	for i := range users {
		users[i] = emulator.SSOUser{ID: fmt.Sprintf("u-run%04d", i), Name: fmt.Sprintf("run-%04d", i),
			Password: fmt.Sprintf("Initial-Pw-%04d-x", i), Status: "Enabled", ProvisionType: "Manual"}
		s.users = append(s.users, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: users[i].ID})
	}
	require.True(tb, cloud.AddSSOUsers(emulator.FixtureDirectoryID, users...))
	for _, d := range emulator.DefaultFixture().Directories {
		if d.ID == emulator.FixtureDirectoryID {
			for _, u := range d.Users {
				s.users = append(s.users, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: d.ID, UserID: u.ID})
			}
		}
	}
	s.in = MustInstance(tb, cloud)
	url, err := cloud.StartFC(s.in.rt, emulator.FCOptions{FunctionName: "pwreset", Invocation: emulator.Invocation{
		Credentials: emulator.Credentials{AccessKeyID: role.AccessKeyId, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken},
		Region:      cloud.Region(), AccountID: cloud.AccountID(), Timeout: 20 * time.Second,
	}})
	require.NoError(tb, err)
	s.in.Kill()
	s.in.env = append(s.in.env, "FC_FUNCTION_NAME=pwreset", "FUNCTION_COMPUTE_ENDPOINT="+url)
	s.in.Start(tb)
	return s
}

// MustFinish waits until n queued chunks are done and requires each to
// have succeeded on its first delivery.
func (s *runStack) MustFinish(tb testing.TB, n int) []emulator.AsyncInvocation {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all, err := s.cloud.WaitAsyncDone(ctx, n)
	require.NoError(tb, err)
	for _, a := range all {
		require.NotEmpty(tb, a.Attempts, "chunk %s", a.RequestID)
		require.Nil(tb, a.Attempts[len(a.Attempts)-1].Err, "chunk %s failed", a.RequestID)
	}
	return all
}

// requireOnePasswordEach checks I1 and I2 for every user, and that one
// password, no more, was applied to each.
func (s *runStack) requireOnePasswordEach(tb testing.TB) {
	tb.Helper()
	s.cloud.Quiesce()
	for _, u := range s.users {
		require.NoError(tb, s.cloud.CheckI1(reset.DefaultSecretPrefix, u))
		require.NoError(tb, s.cloud.CheckCurrent(reset.DefaultSecretPrefix, u))
		require.Len(tb, s.cloud.Applied(u.Key()), 1, "%s got other than one password", u.Key())
	}
}

const selectAll = `{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","select":{},"maxTargets":1000}`

func TestRunSpansChunks(t *testing.T) {
	s := MustRunStack(t, 250)
	a, err := s.in.Invoke(t, []byte(selectAll))
	require.NoError(t, err)
	require.Nil(t, a.FunctionError)
	resp := a.Responses[0]
	assert.True(t, resp.Accepted)
	assert.Equal(t, len(s.users), resp.Targets)
	assert.True(t, strings.HasPrefix(resp.RunID, "direct:"), "the run id is the request's scoped key, got %q", resp.RunID)
	assert.Zero(t, s.cloud.CallsTo("ResetUserPassword"), "the first answer resets nothing")

	// 250 users in chunks of 100: three chunks, one after the other.
	chunks := s.MustFinish(t, 3)
	require.Len(t, chunks, 3)
	s.requireOnePasswordEach(t)
	// The function's output reaches the test through a pipe: the last
	// chunk's lines may arrive after its answer.
	out := s.in.outputOnce(t, `"msg":"run completed"`)
	assert.Equal(t, 2, strings.Count(out, `"msg":"run progress"`))
	assert.Equal(t, 1, strings.Count(out, `"msg":"run completed"`))
	assert.True(t, strings.Contains(out, fmt.Sprintf(`"rotated":%d`, len(s.users))), "the summary counts every user rotated")
	requireSignedByRole(t, s.cloud)

	// No key material in any line the function wrote.
	key, ok := s.cloud.Secret(reset.DefaultSecretPrefix + "_run-signing-key")
	require.True(t, ok)
	for _, v := range key.Versions {
		require.NotEmpty(t, v.Data)
		assert.False(t, strings.Contains(out, v.Data), "the signing key was logged")
	}

	t.Run("RedeliveredTwice", func(t *testing.T) {
		before := s.cloud.CallsTo("ResetUserPassword")
		for range 2 {
			a, err := s.in.Invoke(t, chunks[0].Payload)
			require.NoError(t, err)
			require.Nil(t, a.FunctionError)
		}
		// Each redelivery of the first chunk hands the rest on again.
		s.MustFinish(t, 3+2*2)
		s.requireOnePasswordEach(t)
		assert.Zero(t, s.cloud.CallsTo("ResetUserPassword")-before, "a redelivered chunk re-applied a password")
	})
}

func TestForgedContinuationRefused(t *testing.T) {
	s := MustRunStack(t, 120) // 123 users: two chunks
	a, err := s.in.Invoke(t, []byte(selectAll))
	require.NoError(t, err)
	require.Nil(t, a.FunctionError)
	chunks := s.MustFinish(t, 2)
	var genuine reset.ContinuationEvent
	require.NoError(t, json.Unmarshal(chunks[0].Payload, &genuine))
	body, err := base64.StdEncoding.DecodeString(genuine.Continuation)
	require.NoError(t, err)
	// Another trigger's key, signed with a guess.
	tampered := strings.Replace(string(body), `"runId":"direct:`, `"runId":"http:`, 1)
	require.NotEqual(t, string(body), tampered)
	for _, tt := range []struct {
		name      string
		event     string
		keyReads  int
		wantField string
	}{
		{"ErrUnsigned", `{"continuation":"` + genuine.Continuation + `"}`, 0, "signature"},
		{"ErrNotBase64", `{"continuation":"%%%","signature":"` + genuine.Signature + `"}`, 0, "continuation"},
		{"ErrUnknownField", `{"continuation":"` + genuine.Continuation + `","signature":"` + genuine.Signature + `","x":1}`, 0, "continuation"},
		{"ErrTampered", string(mustJSON(reset.ContinuationEvent{Continuation: base64.StdEncoding.EncodeToString([]byte(tampered)), Signature: genuine.Signature})), 1, "continuation"},
		{"ErrForged", string(mustJSON(reset.ContinuationEvent{Continuation: genuine.Continuation, Signature: strings.Repeat("ab", 32)})), 1, "continuation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.in.Kill() // a new instance: no cached key
			s.in.Start(t)
			before := len(s.cloud.Calls())
			a, err := s.in.Invoke(t, []byte(tt.event))
			require.NoError(t, err)
			require.NotNil(t, a.FunctionError)
			assert.Equal(t, "PermanentError", a.FunctionError.Type)
			assert.Contains(t, a.FunctionError.Message, "Forbidden")
			calls := s.cloud.Calls()[before:]
			require.Len(t, calls, tt.keyReads, "only the signing key may be read")
			for _, c := range calls {
				assert.Equal(t, "GetSecretValue", c.Action)
			}
		})
	}
	assert.Len(t, s.cloud.AsyncInvocations(), 2, "a refused continuation hands nothing on")
}

func TestSweepAsRun(t *testing.T) {
	s := MustRunStack(t, 150) // 153 secrets: two chunks
	for _, u := range s.users {
		a, err := s.in.Invoke(t, []byte(requestFor(u)))
		require.NoError(t, err)
		require.Nil(t, a.FunctionError)
	}
	a, err := s.in.Invoke(t, []byte(`{"sweep":{}}`))
	require.NoError(t, err)
	require.Nil(t, a.FunctionError)
	require.True(t, a.Responses[0].Accepted)
	s.MustFinish(t, 2)
	out := s.in.outputOnce(t, `"msg":"run completed"`)
	assert.Equal(t, 1, strings.Count(out, `"msg":"run completed"`))
	assert.True(t, strings.Contains(out, fmt.Sprintf(`"healthy":%d`, len(s.users))), "every secret swept once, the signing key passed over")
}

// outputOnce waits (a bounded wait, never a timing assertion) until the
// function's output holds want, and returns it: the output is copied from
// the process's pipe, so lines logged just before an answer may arrive
// just after it.
func (in *instance) outputOnce(tb testing.TB, want string) string {
	tb.Helper()
	for i := 0; i < 200; i++ {
		if out := in.out.String(); strings.Contains(out, want) {
			return out
		}
		time.Sleep(25 * time.Millisecond)
	}
	return in.out.String()
}
