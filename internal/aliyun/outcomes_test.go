package aliyun_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func domainEvents(n int) []reset.Event {
	out := make([]reset.Event, n)
	for i := range out {
		vid := fmt.Sprintf("pwreset-%032d", i)
		out[i] = reset.Event{
			ID: reset.EventID(vid, reset.EventRotationSucceeded, ""), Type: reset.EventRotationSucceeded,
			Subject: fmt.Sprintf("pwreset/cloudsso/%s/u-%03d", dirID, i), Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			Data: reset.OutcomeData{Target: reset.KindCloudSSO, IDs: map[string]string{"directoryId": dirID, "userId": fmt.Sprintf("u-%03d", i)}, SecretName: fmt.Sprintf("pwreset/cloudsso/%s/u-%03d", dirID, i), VersionID: vid, Status: reset.StatusRotated, Trigger: "http"},
		}
	}
	return out
}

func TestPublisher(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		n        int
		fail     func(cloud *emulator.Cloud)
		wantCode reset.ErrorCode
		wantRest int
		wantPub  int
	}{
		{"OK", 20, nil, "", 0, 20},
		{"ThrottledCall", 20, func(c *emulator.Cloud) { c.FailNext("PutEvents", 1, http.StatusTooManyRequests, "Throttling") }, reset.EThrottled, 20, 0},
		{"BusMissing", 3, func(c *emulator.Cloud) {}, reset.EUpstream, 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cloud, eps := MustStartCloud(t)
			leaks := MustWatchLeaks(t, cloud)
			bus := MustStartBus(t, cloud, eps)
			if tt.name == "BusMissing" {
				u, err := cloud.StartEventBus()
				require.NoError(t, err)
				bus, err = aliyun.NewEventBus(MustNew(t, eps), aliyun.EventBusConfig{Endpoint: u, RegionID: "cn-hangzhou", BusName: "no-such-bus"})
				require.NoError(t, err)
			}
			pub := aliyun.NewPublisher(bus)
			if tt.fail != nil {
				tt.fail(cloud)
			}
			events := domainEvents(tt.n)
			rest, err := pub.Publish(roleCtx(t), events)
			require.NoError(t, leaks.Err(nil))
			if tt.wantCode == "" {
				require.NoError(t, err)
				assert.Empty(t, rest)
			} else {
				requireCode(t, err, tt.wantCode)
				assert.Len(t, rest, tt.wantRest)
			}
			got := cloud.PublishedEvents()
			require.Len(t, got, tt.wantPub)
			for i, e := range got {
				assert.Equal(t, events[i].ID, e.ID)
				assert.Equal(t, "pwreset", e.Source)
				assert.Equal(t, busName, e.Bus)
				var d reset.OutcomeData
				require.NoError(t, json.Unmarshal(e.Data, &d))
				assert.Equal(t, events[i].Data, d)
			}
		})
	}
}

func TestPublisherUnsentAfterAFailedCall(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	busURL, err := cloud.StartEventBus()
	require.NoError(t, err)
	cloud.AddEventBus(busName)
	// The first call reaches the bus; the second is answered 503.
	var calls atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"code":"ServiceUnavailable","message":"try later","requestId":"r-2"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		resp, err := forward(busURL, r.Clone(context.Background()), body)
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
	events := domainEvents(20)
	rest, err := aliyun.NewPublisher(bus).Publish(roleCtx(t), events)
	require.Error(t, err)
	assert.True(t, reset.ErrorCodeOf(err).Retryable())
	assert.Equal(t, events[16:], rest, "the second call's events, and only they, are left")
	assert.Len(t, cloud.PublishedEvents(), 16)
}

func TestCloudSSOPasswordRules(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	sso := MustNew(t, eps).CloudSSO
	ctx := roleCtx(t)
	target := reset.Target{Kind: reset.KindCloudSSO, DirectoryID: ssoDirID, UserID: userID}
	require.True(t, cloud.SetPasswordPolicy(ssoDirID, emulator.PasswordPolicy{
		MinPasswordLength: 20, MaxPasswordLength: 30, MinPasswordDifferentChars: 12, PasswordNotContainUsername: true,
	}))

	rules, err := sso.DirectoryRules(ctx, target)
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, reset.DirectoryRules{MinPasswordLength: 20, MaxPasswordLength: 30, MinPasswordDifferentChars: 12, PasswordNotContainUsername: true}, rules)

	_, err = sso.DirectoryRules(ctx, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: "d-00nosuchdir01", UserID: userID})
	requireCode(t, leaks.Err(err), reset.ENotFound)
	cloud.FailNext("GetPasswordPolicy", 1, http.StatusBadRequest, "Throttling.User")
	_, err = sso.DirectoryRules(ctx, target)
	requireCode(t, leaks.Err(err), reset.EThrottled)
}

func TestCloudSSOUserName(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStartCloud(t)
	leaks := MustWatchLeaks(t, cloud)
	sso := MustNew(t, eps).CloudSSO
	ctx := roleCtx(t)
	name, err := sso.UserName(ctx, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: dirID, UserID: userID})
	require.NoError(t, leaks.Err(err))
	assert.Equal(t, "alice@example.com", name)
	_, err = sso.UserName(ctx, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: dirID, UserID: "u-00nosuchuser0001"})
	requireCode(t, leaks.Err(err), reset.ENotFound)
}
