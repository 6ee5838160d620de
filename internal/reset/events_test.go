package reset_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FakePublisher records published events. Fail, when set, decides the
// answer of each call (its number, from 1): the events it returns stay
// unpublished with its error.
type FakePublisher struct {
	Fail  func(n int, events []reset.Event) ([]reset.Event, error)
	Panic bool

	mu     sync.Mutex
	calls  int
	events []reset.Event
}

var _ reset.Publisher = (*FakePublisher)(nil)

func (p *FakePublisher) Publish(ctx context.Context, events []reset.Event) ([]reset.Event, error) {
	p.mu.Lock()
	p.calls++
	n := p.calls
	p.mu.Unlock()
	if p.Panic {
		panic("publisher broke")
	}
	if p.Fail != nil {
		if rest, err := p.Fail(n, events); err != nil {
			p.record(events[:len(events)-len(rest)])
			return rest, err
		}
	}
	p.record(events)
	return nil, nil
}

func (p *FakePublisher) record(events []reset.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, events...)
}

func (p *FakePublisher) Events() []reset.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reset.Event(nil), p.events...)
}

func (p *FakePublisher) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func withPublisher(p reset.Publisher) func(*reset.Deps) {
	return func(d *reset.Deps) { d.Publisher = p }
}

func TestOutcomeEvents(t *testing.T) {
	pub := &FakePublisher{}
	e := MustEnv(t, nil, withPublisher(pub))
	gone := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-gone"}
	e.SSO.Remove(gone)
	r := req("k1", sso, fab, gone)
	r.Trigger, r.RequestID, r.RunID = "http", "req-1", "run-1"
	res := MustRotate(t, context.Background(), e, r)
	require.Equal(t, reset.StatusRotated, res[0].Status)
	require.Equal(t, reset.StatusFailed, res[2].Status)

	events := pub.Events()
	require.Len(t, events, 3)
	assert.Equal(t, 1, pub.Calls(), "one batch per request")
	for i, ev := range events {
		assert.Equal(t, res[i].SecretName, ev.Subject)
		assert.Equal(t, reset.EventID(res[i].VersionID, ev.Type, reset.ErrorCodeOf(res[i].Err)), ev.ID)
		d, ok := ev.Data.(reset.OutcomeData)
		require.True(t, ok)
		assert.Equal(t, res[i].VersionID, d.VersionID)
		assert.Equal(t, res[i].Status, d.Status)
		assert.Equal(t, "http", d.Trigger)
		assert.Equal(t, "req-1", d.RequestID)
		assert.Equal(t, "run-1", d.RunID)
	}
	assert.Equal(t, reset.EventRotationSucceeded, events[0].Type)
	assert.Equal(t, reset.EventRotationSucceeded, events[1].Type)
	assert.Equal(t, reset.EventRotationFailed, events[2].Type)
	d := events[2].Data.(reset.OutcomeData)
	require.NotNil(t, d.Error)
	assert.Equal(t, reset.ENotFound, d.Error.Code)
	raw, err := json.Marshal(events[0].Data)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(raw), `{"target":"cloudsso","directoryId":"d-00fc2p61ab12","userId":"u-00q8wbq42wiltcrkab12","secretName":`), "got %s", raw)
	var back reset.OutcomeData
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, events[0].Data, back)
	rawFab, err := json.Marshal(events[1].Data)
	require.NoError(t, err)
	assert.Contains(t, string(rawFab), `"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou",`)
	for _, pw := range e.SSO.AllApplied() {
		assert.NotContains(t, string(raw), pw)
	}

	t.Run("ReplaySameIDs", func(t *testing.T) {
		MustRotate(t, context.Background(), e, r)
		again := pub.Events()[3:]
		require.Len(t, again, 3)
		for i := range again {
			assert.Equal(t, events[i].ID, again[i].ID, "a redelivered outcome carries the same id")
		}
	})
	t.Run("DryRunPublishesNothing", func(t *testing.T) {
		before := pub.Calls()
		dr := req("k2", sso)
		dr.DryRun = true
		MustRotate(t, context.Background(), e, dr)
		assert.Equal(t, before, pub.Calls())
	})
}

func TestOutcomeEventsRolledForward(t *testing.T) {
	pub := &FakePublisher{}
	e := MustEnv(t, nil, withPublisher(pub))
	// The first rotation's reset times out: its version stays pending.
	first := true
	e.SSO.Before = func(ctx context.Context, _ reset.Target, _ string) error {
		if first {
			first = false
			return reset.Errorf(reset.EConflict, "refused once")
		}
		return nil
	}
	res := MustRotate(t, context.Background(), e, req("k1", sso))
	require.Equal(t, reset.StatusFailed, res[0].Status)
	res2 := MustRotate(t, context.Background(), e, req("k2", sso))
	require.Equal(t, reset.StatusRotated, res2[0].Status)
	require.Equal(t, res[0].VersionID, res2[0].RolledForward)

	events := pub.Events()
	require.Len(t, events, 3)
	assert.Equal(t, reset.EventRotationFailed, events[0].Type)
	assert.Equal(t, reset.EventRotationRolledForward, events[1].Type)
	assert.Equal(t, reset.EventRotationSucceeded, events[2].Type)
	rf := events[1].Data.(reset.OutcomeData)
	assert.Equal(t, res[0].VersionID, rf.VersionID)
	assert.Equal(t, res2[0].VersionID, rf.RolledForwardBy)
	assert.NotEqual(t, events[0].ID, events[1].ID)
}

func TestOutcomeEventsPublishFailure(t *testing.T) {
	throttled := reset.Errorf(reset.EThrottled, "bus throttled")
	for _, tc := range []struct {
		name      string
		fail      func(n int, ev []reset.Event) ([]reset.Event, error)
		panics    bool
		wantCalls int
		wantLost  bool
	}{
		{"RetriedThenPublished", func(n int, ev []reset.Event) ([]reset.Event, error) {
			switch n {
			case 1:
				return ev[1:], throttled // the first event got through
			case 2:
				return ev, throttled
			}
			return nil, nil
		}, false, 3, false},
		{"RetriesSpentThenLogged", func(_ int, ev []reset.Event) ([]reset.Event, error) { return ev, throttled }, false, 4, true},
		{"PermanentNotRetried", func(_ int, ev []reset.Event) ([]reset.Event, error) {
			return ev, reset.Errorf(reset.ENotFound, "no such bus")
		}, false, 1, true},
		{"PanicIsAFailure", nil, true, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &FakePublisher{Fail: tc.fail, Panic: tc.panics}
			e := MustEnv(t, nil, withPublisher(pub))
			ctx, cancel := context.WithDeadline(context.Background(), e.Clock.Now().Add(time.Minute))
			defer cancel()
			res := MustRotate(t, ctx, e, req("k1", sso, fab))
			for _, r := range res {
				requireRotated(t, e, r.Target, r)
			}
			assert.Equal(t, tc.wantCalls, pub.Calls())
			assert.Equal(t, 2, e.Rec.Count(opReset), "publishing never repeats a rotation")
			logs := e.LogLines.String()
			if tc.wantLost {
				assert.Contains(t, logs, `"msg":"outcome events not published"`)
				assert.Contains(t, logs, `"level":"ERROR"`)
			} else {
				assert.NotContains(t, logs, "outcome events not published")
				assert.Len(t, pub.Events(), 2)
			}
			assert.NotContains(t, logs, "publisher broke")
		})
	}
	t.Run("DeadlineBoundsRetries", func(t *testing.T) {
		pub := &FakePublisher{Fail: func(_ int, ev []reset.Event) ([]reset.Event, error) { return ev, throttled }}
		e := MustEnv(t, func(c *reset.Config) {
			c.MaxAttempts = 10
			c.BaseBackoff = 3 * time.Second
			c.MaxBackoff = 3 * time.Second
		}, withPublisher(pub))
		start := e.Clock.Now()
		deadline := start.Add(10 * time.Second)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		MustRotate(t, ctx, e, req("k1", sso))
		assert.Less(t, pub.Calls(), 10, "the deadline ended the retries before MaxAttempts")
		assert.False(t, e.Clock.Now().After(deadline.Add(-time.Second)), "a step's reserve is left for the answer")
	})
}

func TestRunCompleted(t *testing.T) {
	pub := &FakePublisher{}
	e := MustEnv(t, nil, withPublisher(pub))
	res := MustRotate(t, context.Background(), e, req("k1", sso, fab))
	before := len(pub.Events())
	e.Rotator.PublishRun(context.Background(), reset.Request{RunID: "run-7", Trigger: "timer", RequestID: "r-9"}, res)
	events := pub.Events()[before:]
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, reset.EventRunCompleted, ev.Type)
	assert.Equal(t, "run-7", ev.Subject)
	assert.Equal(t, reset.EventID("run-7", reset.EventRunCompleted, ""), ev.ID)
	d := ev.Data.(reset.RunData)
	assert.Equal(t, 2, d.Targets)
	assert.Equal(t, map[reset.Status]int{reset.StatusRotated: 2}, d.Statuses)
	assert.True(t, strings.HasPrefix(ev.ID, "pwreset-"))
}

func TestEventID(t *testing.T) {
	a := reset.EventID("pwreset-0123", reset.EventRotationFailed, reset.EThrottled)
	for _, tc := range []struct {
		name string
		id   string
		same bool
	}{
		{"Same", reset.EventID("pwreset-0123", reset.EventRotationFailed, reset.EThrottled), true},
		{"OtherCode", reset.EventID("pwreset-0123", reset.EventRotationFailed, reset.EConflict), false},
		{"OtherType", reset.EventID("pwreset-0123", reset.EventRotationSkipped, reset.EThrottled), false},
		{"OtherVersion", reset.EventID("pwreset-0124", reset.EventRotationFailed, reset.EThrottled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.same, a == tc.id)
			assert.Regexp(t, `^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`, tc.id)
		})
	}
}
