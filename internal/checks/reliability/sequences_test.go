package reliability_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// The sequences of issue 9, by name, through the real handler, rotator and
// adapters against the local cloud: in process (fast retries), and through
// the built binary under the emulated runtime, where a process must die or
// the production configuration matters. After every step they check
// invariant I1 (the password in effect is held by ACSCurrent or
// ACSPending) and after every success I2 (ACSCurrent holds it).

// outcome is one invocation's answer as a trigger reports it.
type outcome struct {
	success bool // HTTP 200 without failed or skipped targets, or an event answered without function error
	results []outcomeResult
	fnErr   string
}

type outcomeResult struct {
	Status, VersionID, RolledForward, Code, Message string
	Resumed                                         bool
}

// driver runs invocations: the in-process handler or the binary.
type driver interface {
	invoke(tb testing.TB, event []byte) outcome
	cloud() *testCloud
}

type inProcess struct{ f *function }

func (d inProcess) cloud() *testCloud { return d.f.Cloud }

func (d inProcess) invoke(tb testing.TB, event []byte) outcome {
	tb.Helper()
	return outcomeOf(d.f.Invoke(tb, event, invocation{}))
}

// outcomeOf is an in-process answer as an outcome.
func outcomeOf(a answer) outcome {
	var o outcome
	if a.Err != nil {
		o.fnErr = a.Err.Error()
	}
	o.success = a.Err == nil && a.Response != nil && a.Response.Error == nil && (a.HTTP == nil || a.HTTP.StatusCode == http.StatusOK)
	for _, r := range a.Results() {
		or := outcomeResult{Status: string(r.Status), VersionID: r.VersionID, RolledForward: r.RolledForward, Resumed: r.Resumed}
		if r.Error != nil {
			or.Code, or.Message = string(r.Error.Code), r.Error.Message
			o.success = false
		}
		o.results = append(o.results, or)
	}
	return o
}

type binary struct{ in *instance }

func (d binary) cloud() *testCloud { return d.in.cloud }

func (d binary) invoke(tb testing.TB, event []byte) outcome {
	tb.Helper()
	a, err := d.in.Invoke(tb, event)
	require.NoError(tb, err)
	return d.outcomeOf(a)
}

// outcomeOf is the binary's answer as an outcome.
func (binary) outcomeOf(a localrun.Answer) outcome {
	o := outcome{success: a.OK()}
	if a.FunctionError != nil {
		o.fnErr = a.FunctionError.Message
	}
	for _, r := range a.Results() {
		or := outcomeResult{Status: r.Status, VersionID: r.VersionID, RolledForward: r.RolledForward, Resumed: r.Resumed}
		if r.Error != nil {
			or.Code, or.Message = r.Error.Code, r.Error.Message
			o.success = false
		}
		o.results = append(o.results, or)
	}
	return o
}

// drivers returns the in-process driver and, unless short, the binary.
func drivers(t *testing.T) map[string]func(t *testing.T) driver {
	out := map[string]func(t *testing.T) driver{
		"InProcess": func(t *testing.T) driver {
			c := MustCloud(t, nil)
			return inProcess{MustFunction(t, c, fastConfig())}
		},
	}
	if !testing.Short() {
		out["Binary"] = func(t *testing.T) driver { c := MustCloud(t, nil); return binary{MustInstance(t, c)} }
	}
	return out
}

// placeholder reports whether pw is a fixture password, which no version
// holds before the first rotation.
func placeholder(pw string) bool {
	return strings.HasPrefix(strings.ToLower(pw), "placeholder")
}

// stagedPassword returns the password the version staged stage holds.
func (c *testCloud) stagedPassword(prefix string, t reset.Target, stage string) (string, bool) {
	sec, ok := c.Secret(t.SecretName(prefix))
	if !ok {
		return "", false
	}
	v, ok := sec.Staged(stage)
	if !ok {
		return "", false
	}
	var d struct {
		Password string `json:"password"`
	}
	if json.Unmarshal([]byte(v.Data), &d) != nil || d.Password == "" {
		return "", false
	}
	return d.Password, true
}

// CheckI1 is invariant I1 for t, once the cloud is quiet.
func (c *testCloud) CheckI1(prefix string, t reset.Target) error {
	c.Quiesce()
	pw, ok := c.inEffect(t)
	if !ok {
		return nil // the account is gone: nothing is in effect
	}
	if placeholder(pw) {
		return nil
	}
	for _, stage := range []string{emulator.StageCurrent, "ACSPending"} {
		if held, ok := c.stagedPassword(prefix, t, stage); ok && held == pw {
			return nil
		}
	}
	return errors.New(t.Key() + ": I1: neither ACSCurrent nor ACSPending holds the password in effect")
}

// MustStep invokes event and checks I1 for every target, and I2 on success.
func MustStep(tb testing.TB, d driver, event []byte, targets ...reset.Target) outcome {
	tb.Helper()
	o := d.invoke(tb, event)
	c := d.cloud()
	c.Quiesce()
	for _, t := range targets {
		require.NoError(tb, c.CheckI1(reset.DefaultSecretPrefix, t), "after %s", o.fnErr)
		if o.success {
			require.NoError(tb, c.CheckCurrent(reset.DefaultSecretPrefix, t), "I2 after a success")
		}
	}
	return o
}

func versionCount(c *testCloud, t reset.Target) int {
	sec, _ := c.Secret(t.SecretName(reset.DefaultSecretPrefix))
	return len(sec.Versions)
}

func helpdesk(key string, t reset.Target) []byte { return helpdeskBody(key, requestFor(t)) }

func helpdeskBody(key, body string) []byte {
	return httpEvent("POST", body, map[string]string{"Idempotency-Key": key})
}

func alert(source, id string, t reset.Target) []byte {
	ev := map[string]any{
		"specversion": "1.0", "id": id, "source": source, "type": "pwreset:Reset",
		"datacontenttype": "application/json", "data": json.RawMessage(requestFor(t)),
	}
	return mustJSON(ev)
}

func TestSequencePromoteFailsThenOtherKeysResetFails(t *testing.T) {
	faults := []struct {
		name   string
		status int
		code   string
		twelve bool // also run twelve failing attempts under new keys
	}{
		{"Throttle", http.StatusBadRequest, "Throttling.User", false},
		{"5xx", http.StatusInternalServerError, "InternalError", true},
		{"409", http.StatusConflict, "OperationConflict", true},
		{"400", http.StatusBadRequest, "InvalidParameter.Password", true},
	}
	for name, mk := range drivers(t) {
		for _, fl := range faults {
			for _, twelve := range []bool{false, true} {
				if twelve && (!fl.twelve || name == "Binary") {
					continue // the binary's production backoff makes twelve throttled tries slow; in process covers them
				}
				sub := name + "/" + fl.name
				if twelve {
					sub += "/ThenTwelveFailingKeys"
				}
				t.Run(sub, func(t *testing.T) {
					t.Parallel()
					d := mk(t)
					c := d.cloud()
					require.True(t, MustStep(t, d, alert("acs.reliability", "k0", alice), alice).success)

					// A: staged and reset; its promote is refused.
					c.FailNext("UpdateSecretVersionStage", 1, http.StatusBadRequest, "InvalidParameter")
					a := MustStep(t, d, alert("acs.reliability", "A", alice), alice)
					require.False(t, a.success)
					vA := reset.VersionID(handler.ScopedKey("eventbridge", "acs.reliability", "A"), alice)
					pA, _ := c.inEffect(alice)
					n := versionCount(c, alice)

					// B, a helpdesk call: its reset (A's roll-forward) fails.
					c.FailNext("ResetUserPassword", 1000, fl.status, fl.code)
					b := MustStep(t, d, helpdesk("ticket-B", alice), alice)
					require.False(t, b.success)
					if fl.status == http.StatusConflict || fl.code == "InvalidParameter.Password" {
						assert.Equal(t, "Conflict", b.results[0].Code, "blocked")
						assert.Contains(t, b.results[0].Message, vA)
					}
					if twelve {
						for i := range 12 {
							r := MustStep(t, d, helpdesk(fmt.Sprintf("ticket-%d", i), alice), alice)
							require.False(t, r.success)
						}
					}
					assert.Equal(t, n, versionCount(c, alice), "failed attempts add no version")
					c.ClearFaults()

					again := MustStep(t, d, alert("acs.reliability", "A", alice), alice)
					require.True(t, again.success, "%+v %s", again.results, again.fnErr)
					assert.Equal(t, "rotated", again.results[0].Status)
					have, _ := c.inEffect(alice)
					assert.Equal(t, pA, have, "A's password, never lost")
					canary.Check(t)
				})
			}
		}
	}
}

func TestSequenceKillAfterResetThenAnotherKeyOnNewInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the built binary")
	}
	t.Parallel()
	c := MustCloud(t, nil)
	in := MustInstance(t, c)
	d := binary{in}
	require.True(t, MustStep(t, d, alert("acs.reliability", "k0", alice), alice).success)

	var armed atomic.Bool
	armed.Store(true)
	c.Hook(func(call emulator.Call) {
		if call.Action == "ResetUserPassword" && call.Status == http.StatusOK && armed.CompareAndSwap(true, false) {
			in.Kill()
		}
	})
	_, err := in.Invoke(t, alert("acs.reliability", "A", alice))
	require.ErrorIs(t, err, errInstanceDied)
	c.ClearHooks()
	require.NoError(t, c.CheckI1(reset.DefaultSecretPrefix, alice))

	in.Start(t) // a new instance
	b := MustStep(t, d, helpdesk("ticket-B", alice), alice)
	require.True(t, b.success, "%+v", b.results)
	vA := reset.VersionID(handler.ScopedKey("eventbridge", "acs.reliability", "A"), alice)
	assert.Equal(t, vA, b.results[0].RolledForward, "B finished A first")

	again := MustStep(t, d, alert("acs.reliability", "A", alice), alice)
	require.True(t, again.success)
	assert.Equal(t, "superseded", again.results[0].Status)
	require.NoError(t, c.CheckCurrent(reset.DefaultSecretPrefix, alice))
	requireSignedByRole(t, c)
	canary.Check(t)
}

func TestSequenceAlertThrottledHelpdeskThrottledAlertRedelivered(t *testing.T) {
	for name, mk := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := mk(t)
			c := d.cloud()
			require.True(t, MustStep(t, d, alert("acs.reliability", "k0", alice), alice).success)
			old, _ := c.inEffect(alice)

			c.FailNext("ResetUserPassword", 1000, http.StatusBadRequest, "Throttling.User")
			require.False(t, MustStep(t, d, alert("acs.secops", "alert-1", alice), alice).success)
			h := MustStep(t, d, helpdesk("ticket-7", alice), alice)
			require.False(t, h.success, "the helpdesk call must not answer success while the alert is unfinished")
			c.ClearFaults()

			again := MustStep(t, d, alert("acs.secops", "alert-1", alice), alice)
			require.True(t, again.success)
			have, _ := c.inEffect(alice)
			assert.NotEqual(t, old, have, "the old (possibly compromised) password is no longer in effect")
			canary.Check(t)
		})
	}
}

func TestSequenceHTTPCallerReusesTimerAndEventKeys(t *testing.T) {
	for name, mk := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := mk(t)
			c := d.cloud()
			// The HTTP caller answers "in advance" for the tick and the event.
			require.True(t, MustStep(t, d, helpdesk("pwreset-monthly/2025-06-01T02:00:00Z", alice), alice).success)
			require.True(t, MustStep(t, d, helpdesk("alert-1", alice), alice).success)
			before := len(c.Applied(alice.Key()))

			tick := MustStep(t, d, timerEvent("pwreset-monthly", "2025-06-01T02:00:00Z", requestFor(alice)), alice)
			require.True(t, tick.success)
			assert.False(t, tick.results[0].Resumed, "the tick rotated, it did not find a rotation done")
			ev := MustStep(t, d, alert("acs.secops", "alert-1", alice), alice)
			require.True(t, ev.success)
			assert.False(t, ev.results[0].Resumed)
			assert.Len(t, c.Applied(alice.Key()), before+2, "the tick and the event each applied a password")
			canary.Check(t)
		})
	}
}

func TestSequenceTwoEventsOneIDTwoSources(t *testing.T) {
	for name, mk := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := mk(t)
			c := d.cloud()
			first := MustStep(t, d, alert("acs.secops", "evt-1", alice), alice)
			second := MustStep(t, d, alert("acs.helpdesk", "evt-1", alice), alice)
			require.True(t, first.success)
			require.True(t, second.success)
			assert.NotEqual(t, first.results[0].VersionID, second.results[0].VersionID)
			assert.False(t, second.results[0].Resumed)
			assert.Len(t, c.Applied(alice.Key()), 2)
			canary.Check(t)
		})
	}
}

func TestBatchOfMissingAccountsLeavesNoSecret(t *testing.T) {
	for name, mk := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := mk(t)
			c := d.cloud()
			var missing []reset.Target
			for i := range 100 {
				missing = append(missing,
					reset.Target{Kind: reset.KindCloudSSO, DirectoryID: emulator.FixtureDirectoryID, UserID: fmt.Sprintf("u-00missing%010d", i)},
					reset.Target{Kind: reset.KindFabric, OrganizationID: emulator.FixtureOrganizationID, Username: fmt.Sprintf("missing%03d", i), Location: emulator.FixtureLocation})
			}
			o := d.invoke(t, helpdeskBody("offboarding-batch", batchFor(missing...)))
			require.False(t, o.success)
			require.Len(t, o.results, 200)
			for _, r := range o.results {
				assert.Equal(t, "failed", r.Status)
				assert.Equal(t, "NotFound", r.Code)
			}
			c.Quiesce()
			assert.Empty(t, c.Secrets(), "a missing account got a secret")
			assert.Zero(t, c.CallsTo("CreateSecret"))
			for _, call := range c.Calls() {
				if call.Action == "PutSecretValue" {
					// The call that tells "no secret" from "no pending version".
					assert.Equal(t, http.StatusNotFound, call.Status)
				}
			}
			canary.Check(t)
		})
	}
}
