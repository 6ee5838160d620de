package aliyun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

const busName = "pwreset-outcomes"

// MustStartBus starts the cloud's EventBridge data API with bus busName and
// returns a publisher to it.
func MustStartBus(tb testing.TB, cloud *emulator.Cloud, eps emulator.Endpoints) *aliyun.EventBus {
	tb.Helper()
	u, err := cloud.StartEventBus()
	require.NoError(tb, err)
	cloud.AddEventBus(busName)
	bus, err := aliyun.NewEventBus(MustNew(tb, eps), aliyun.EventBusConfig{Endpoint: u, RegionID: "cn-hangzhou", BusName: busName})
	require.NoError(tb, err)
	return bus
}

func outcomeEvents(n, dataBytes int) []aliyun.Event {
	out := make([]aliyun.Event, n)
	for i := range out {
		data, _ := json.Marshal(map[string]any{"status": "rotated", "versionId": fmt.Sprintf("v-%03d", i), "pad": strings.Repeat("p", dataBytes)})
		out[i] = aliyun.Event{
			ID: fmt.Sprintf("v-%03d-succeeded", i), Type: "pwreset:Rotation:Succeeded",
			Subject: fmt.Sprintf("pwreset/cloudsso/%s/u-%03d", dirID, i), Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Data: data,
		}
	}
	return out
}

func TestPublishBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		events       []aliyun.Event
		wantRequests int
		wantFailed   int
	}{
		{"OneEvent", outcomeEvents(1, 10), 1, 0},
		{"SixteenPerRequest", outcomeEvents(40, 10), 3, 0},
		// 60 KB events: four fit in 256 KB, the fifth starts a new request.
		{"BytesPerRequest", outcomeEvents(9, 60<<10), 3, 0},
		{"EventTooLargeNotSent", append(outcomeEvents(2, 10), outcomeEvents(1, 65<<10)[0]), 1, 1},
		{"Empty", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			leaks := MustWatchLeaks(t, cloud)
			bus := MustStartBus(t, cloud, eps)
			if tt.name == "EventTooLargeNotSent" {
				tt.events[2].ID = "v-too-large"
			}
			res, err := bus.Publish(roleCtx(t), tt.events)
			require.NoError(t, leaks.Err(err))
			assert.Equal(t, tt.wantRequests, res.Requests)
			assert.Equal(t, tt.wantRequests, countCalls(cloud, "PutEvents"), "round trips")
			assert.Len(t, res.Failed, tt.wantFailed)
			assert.Equal(t, len(tt.events)-tt.wantFailed, res.Published)
			got := cloud.PublishedEvents()
			require.Len(t, got, res.Published)
			for i, e := range got {
				assert.Equal(t, tt.events[i].ID, e.ID, "in order")
				assert.Equal(t, busName, e.Bus)
				assert.Equal(t, aliyun.EventSource, e.Source)
				assert.Equal(t, "pwreset:Rotation:Succeeded", e.Type)
				assert.Equal(t, tt.events[i].Subject, e.Subject)
				assert.Equal(t, "2026-12-01T00:00:00Z", e.Time)
				assert.JSONEq(t, string(tt.events[i].Data), string(e.Data), "data inlined as JSON")
			}
			for _, c := range cloud.Calls() {
				if c.Action == "PutEvents" {
					assert.Equal(t, emulator.FixtureFunctionRoleKeyID, c.AccessKeyID)
					assert.NotEmpty(t, c.SecurityToken, "the STS token is sent")
				}
			}
		})
	}
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	bus := MustStartBus(t, cloud, eps)
	u, err := cloud.StartEventBus()
	require.NoError(t, err)
	noBus, err := aliyun.NewEventBus(MustNew(t, eps), aliyun.EventBusConfig{Endpoint: u, BusName: "no-such-bus"})
	require.NoError(t, err)
	bad := roleCreds(t)
	bad.AccessKeySecret = "not-the-role-secret"

	t.Run("EntryFailedNoBus", func(t *testing.T) {
		res, err := noBus.Publish(roleCtx(t), outcomeEvents(3, 10))
		require.NoError(t, leaks.Err(err))
		assert.Equal(t, 0, res.Published)
		require.Len(t, res.Failed, 3)
		assert.Equal(t, aliyun.FailedEvent{ID: "v-000-succeeded", Code: emulator.CodeEventBusNotExist}, res.Failed[0])
	})

	tests := []struct {
		name  string
		fault func()
		creds *reset.Credentials
		want  reset.ErrorCode
	}{
		{name: "ErrWrongKey", creds: &bad, want: reset.EUnavailable},
		{name: "ErrExpiredToken", creds: ptr(expiredCreds(t)), want: reset.EUnavailable},
		{name: "ErrThrottled", fault: func() { cloud.FailNext("PutEvents", 1, http.StatusTooManyRequests, "Throttling") }, want: reset.EThrottled},
		{name: "ErrUpstream", fault: func() { cloud.FailNext("PutEvents", 1, http.StatusInternalServerError, "InternalError") }, want: reset.EUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(cloud.PublishedEvents())
			if tt.fault != nil {
				tt.fault()
			}
			ctx := roleCtx(t)
			if tt.creds != nil {
				ctx = reset.WithCredentials(ctx, *tt.creds)
			}
			res, err := bus.Publish(ctx, outcomeEvents(20, 10))
			requireCode(t, leaks.Err(err), tt.want)
			assert.Equal(t, 0, res.Published, "the first request failed: nothing published")
			assert.Equal(t, 1, res.Requests, "no request after a failed one")
			assert.Len(t, cloud.PublishedEvents(), before)
		})
	}

	t.Run("ErrBadEvent", func(t *testing.T) {
		cloud.ResetCalls()
		for _, e := range []aliyun.Event{
			{ID: "", Type: "pwreset:Rotation:Succeeded"},
			{ID: "has space", Type: "pwreset:Rotation:Succeeded"},
			{ID: "ok", Type: "bad type"},
			{ID: "ok", Type: "pwreset:Rotation:Failed", Data: json.RawMessage(`{not json`)},
		} {
			res, err := bus.Publish(roleCtx(t), []aliyun.Event{e})
			require.NoError(t, leaks.Err(err))
			assert.Equal(t, []aliyun.FailedEvent{{ID: e.ID, Code: "EventMalformed"}}, res.Failed)
			assert.Empty(t, res.Unsent)
		}
		assert.Equal(t, 0, countCalls(cloud, "PutEvents"), "a malformed event is refused before any call")
	})

	t.Run("ErrBadEventOthersSent", func(t *testing.T) {
		before := len(cloud.PublishedEvents())
		events := outcomeEvents(5, 10)
		events[2].Type = "bad type"
		res, err := bus.Publish(roleCtx(t), events)
		require.NoError(t, leaks.Err(err))
		assert.Equal(t, 4, res.Published, "every well-formed event is published")
		assert.Equal(t, []aliyun.FailedEvent{{ID: events[2].ID, Code: "EventMalformed"}}, res.Failed)
		assert.Empty(t, res.Unsent)
		assert.Len(t, cloud.PublishedEvents(), before+4)
	})
}

func TestNewEventBus(t *testing.T) {
	t.Parallel()
	_, eps := MustStartCloud(t)
	clients := MustNew(t, eps)
	tests := []struct {
		name      string
		cfg       aliyun.EventBusConfig
		wantField string
	}{
		{"OKDefaultEndpoint", aliyun.EventBusConfig{AccountID: "1234567890123456", RegionID: "cn-hangzhou", BusName: "b1"}, ""},
		{"ErrBusName", aliyun.EventBusConfig{Endpoint: "http://127.0.0.1:1", BusName: "-bad"}, "BusName"},
		{"ErrNoAccount", aliyun.EventBusConfig{RegionID: "cn-hangzhou", BusName: "b1"}, "AccountID"},
		{"ErrNoRegion", aliyun.EventBusConfig{AccountID: "1234567890123456", BusName: "b1"}, "RegionID"},
		{"ErrEndpoint", aliyun.EventBusConfig{Endpoint: "http://h/path", BusName: "b1"}, "Endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := aliyun.NewEventBus(clients, tt.cfg)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			var re *reset.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.wantField, re.Field)
		})
	}
}

// A captured PutEvents request replayed as is reuses its nonce; with a
// changed x-acs header its signature no longer matches.
func TestPublishReplayRefused(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	busURL, err := cloud.StartEventBus()
	require.NoError(t, err)
	cloud.AddEventBus(busName)
	var last *http.Request
	var lastBody []byte
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastBody, _ = io.ReadAll(r.Body)
		last = r.Clone(context.Background())
		resp, err := forward(busURL, last, lastBody)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	bus, err := aliyun.NewEventBus(MustNew(t, eps), aliyun.EventBusConfig{Endpoint: proxy.URL, RegionID: "cn-hangzhou", BusName: busName})
	require.NoError(t, err)
	_, err = bus.Publish(roleCtx(t), outcomeEvents(1, 10))
	require.NoError(t, err)
	require.NotNil(t, last)

	tests := []struct {
		name   string
		edit   func(h http.Header)
		wantIn string
	}{
		{"ErrNonceUsed", func(http.Header) {}, "SignatureNonceUsed"},
		{"ErrSignedHeaderChanged", func(h http.Header) { h.Set("x-acs-signature-nonce", "another-nonce-0001") }, "SignatureDoesNotMatch"},
		{"ErrDateChanged", func(h http.Header) { h.Set("Date", "Mon, 30 Nov 2026 00:00:00 GMT") }, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := last.Clone(context.Background())
			tt.edit(r.Header)
			resp, err := forward(busURL, r, lastBody)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, string(b), tt.wantIn)
		})
	}
	assert.Len(t, cloud.PublishedEvents(), 1, "no replay was published")
}

func forward(target string, r *http.Request, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	return http.DefaultClient.Do(req)
}
