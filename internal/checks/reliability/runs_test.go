package reliability_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
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
	return mustRunStack(tb, n, 20*time.Second)
}

// mustRunStack is MustRunStack with each invocation's timeout.
func mustRunStack(tb testing.TB, n int, timeout time.Duration) *runStack {
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
		Region:      cloud.Region(), AccountID: cloud.AccountID(), Timeout: timeout,
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

// MustFinishRun waits until the run's chunks are all done, at least two
// (their number depends on the chunks' speed: reset sizes chunks by time),
// and requires each to have succeeded on its first delivery. A chunk
// hands the rest on before it answers, so once every queued chunk is done
// no more will come.
func (s *runStack) MustFinishRun(tb testing.TB) []emulator.AsyncInvocation {
	tb.Helper()
	s.MustFinish(tb, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		all := s.cloud.AsyncInvocations()
		_, err := s.cloud.WaitAsyncDone(ctx, len(all))
		require.NoError(tb, err)
		if len(s.cloud.AsyncInvocations()) == len(all) {
			return s.MustFinish(tb, len(all))
		}
	}
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

	// 253 users: a first chunk of 100, then chunks sized by time (about
	// what the last did per second), one after the other.
	chunks := s.MustFinishRun(t)
	require.GreaterOrEqual(t, len(chunks), 2)
	s.requireOnePasswordEach(t)
	// The function's output reaches the test through a pipe: the last
	// chunk's lines may arrive after its answer.
	out := s.in.outputOnce(t, `"msg":"run completed"`)
	assert.Equal(t, len(chunks)-1, strings.Count(out, `"msg":"run progress"`))
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
		// The run's record says the first chunk handed on: its
		// redeliveries start no second chain, and the run ends once.
		assert.Len(t, s.cloud.AsyncInvocations(), len(chunks), "a redelivered chunk handed on again")
		s.requireOnePasswordEach(t)
		assert.Zero(t, s.cloud.CallsTo("ResetUserPassword")-before, "a redelivered chunk re-applied a password")
		out := s.in.outputOnce(t, `"msg":"run chunk redelivered"`)
		assert.Equal(t, 1, strings.Count(out, `"msg":"run completed"`), "the run ended twice")
		assert.Equal(t, 2, strings.Count(out, `"msg":"run chunk redelivered"`))
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

// TestRunKilledMidChunk kills the instance (SIGKILL) the moment a random
// call of the run's first chunk has taken effect. The chunk's attempt then
// fails (no answer within the invocation's timeout), FC redelivers it to a
// new instance, and the run finishes: I1 and I2 hold for every account, and
// each got one password.
func TestRunKilledMidChunk(t *testing.T) {
	s := mustRunStack(t, 250, 8*time.Second)
	a, err := s.in.Invoke(t, []byte(selectAll))
	require.NoError(t, err)
	require.True(t, a.Responses[0].Accepted)

	// Armed after the first answer: every call from here is a chunk's.
	at := 1 + rand.IntN(300)
	t.Logf("killed at call %d of the first chunk", at)
	var calls atomic.Int64
	killed := make(chan struct{})
	s.cloud.Hook(func(c emulator.Call) {
		if c.Product != emulator.FC && calls.Add(1) == int64(at) {
			s.in.Kill()
			close(killed)
		}
	})
	select {
	case <-killed:
	case <-time.After(time.Minute):
		t.Fatal("the chunk never made the call to kill at")
	}
	s.cloud.ClearHooks()
	s.cloud.Quiesce()
	s.in.Start(t) // the instance FC starts for the retry

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var all []emulator.AsyncInvocation
	for n := 1; ; n++ {
		all, err = s.cloud.WaitAsyncDone(ctx, n)
		require.NoError(t, err)
		if len(all) == n {
			break // every chunk queued is done
		}
	}
	first := all[0]
	require.GreaterOrEqual(t, len(first.Attempts), 2, "the killed chunk was redelivered")
	assert.NotNil(t, first.Attempts[0].Err, "the killed attempt counts as failed")
	for _, inv := range all {
		require.Nil(t, inv.Attempts[len(inv.Attempts)-1].Err, "chunk %s failed for good", inv.RequestID)
	}
	s.requireOnePasswordEach(t)
	out := s.in.outputOnce(t, `"msg":"run completed"`)
	assert.Equal(t, 1, strings.Count(out, `"msg":"run completed"`))
	canary.Check(t)
}

// TestLongBatchRuns sends a batch longer than a chunk: it is accepted as
// a run, continued in asynchronous invocations, and every target is
// rotated once, under the batch's key.
func TestLongBatchRuns(t *testing.T) {
	s := MustRunStack(t, 150)
	a, err := s.in.Invoke(t, []byte(batchFor(s.users...)))
	require.NoError(t, err)
	require.Nil(t, a.FunctionError)
	require.Len(t, a.Responses, 1)
	assert.True(t, a.Responses[0].Accepted)
	assert.Equal(t, len(s.users), a.Responses[0].Targets)
	s.MustFinish(t, 2)
	s.requireOnePasswordEach(t)
	out := s.in.outputOnce(t, `"msg":"run completed"`)
	assert.Equal(t, 1, strings.Count(out, `"msg":"run completed"`))
	assert.True(t, strings.Contains(out, `"kind":"batch"`))
}
