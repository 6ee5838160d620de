package emulator_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// fakeClock is a clock a test moves by hand, starting at the real time so
// that the SDK's timestamps stay within the allowed skew.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	mustCreate(t, k, "s", "d0", "v0")
	c.FailNext("PutSecretValue", 1, http.StatusServiceUnavailable, "ServiceUnavailable")
	c.FailNext("PutSecretValue", 1, http.StatusInternalServerError, "InternalFailure")

	for _, want := range []struct {
		code   string
		status int
	}{{"ServiceUnavailable", 503}, {"InternalFailure", 500}} {
		_, err := put(k, "s", "d1", "v1", "")
		code, status := errCode(t, err)
		assert.Equal(t, want.code, code)
		assert.Equal(t, want.status, status)
		s, _ := c.Secret("s")
		assert.Len(t, s.Versions, 1, "a failed call changes nothing")
	}
	_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("s")})
	require.NoError(t, err, "other actions are unaffected")
	mustPut(t, k, "s", "d1", "v1", "")

	c.FailNext("PutSecretValue", 5, 500, "InternalFailure")
	c.ClearFaults()
	mustPut(t, k, "s", "d2", "v2", "")
}

func TestDrop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		inject      func(*emulator.Cloud)
		wantApplied bool
		wantStatus  int
	}{
		{name: "DropNext_NotApplied", inject: func(c *emulator.Cloud) { c.DropNext("PutSecretValue", 1) }, wantStatus: 0},
		{name: "DropAfterApply_Applied", inject: func(c *emulator.Cloud) { c.DropAfterApply("PutSecretValue", 1) }, wantApplied: true, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
			mustCreate(t, k, "s", "d0", "v0")
			tt.inject(c)
			_, err := put(k, "s", "d1", "v1", "")
			require.Error(t, err)
			var se *tea.SDKError
			if errors.As(err, &se) {
				assert.Empty(t, tea.StringValue(se.Code), "a transport error, not an answer: %v", err)
			}
			s, _ := c.Secret("s")
			_, applied := s.Version("v1")
			assert.Equal(t, tt.wantApplied, applied)
			calls := c.Calls()
			last := calls[len(calls)-1]
			assert.True(t, last.Dropped)
			assert.Equal(t, tt.wantStatus, last.Status)

			// The fault is used up; the retry is answered (and idempotent).
			mustPut(t, k, "s", "d1", "v1", "")
		})
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	recorded := make(chan emulator.Call, 10)
	c.OnCall(func(call emulator.Call) { recorded <- call })
	k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	mustCreate(t, k, "s", "d0", "v0")
	<-recorded

	cfg := config(t, eps.KMS, roleCred(t), sigV3)
	cfg.ReadTimeout = tea.Int(50)
	impatient, err := kms.NewClient(cfg)
	require.NoError(t, err)

	c.SetLatency("GetSecretValue", 400*time.Millisecond)
	_, err = impatient.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("s")})
	require.Error(t, err, "the client gives up before the answer")
	call := <-recorded
	assert.Equal(t, "GetSecretValue", call.Action)
	assert.Equal(t, http.StatusOK, call.Status, "the slow call was still served")

	c.SetLatency("GetSecretValue", 0)
	_, err = impatient.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("s")})
	require.NoError(t, err)
}

// TestThrottleAction: an action's bucket binds on its own calls only,
// actions of one share key draw on one bucket, and the product's answer is
// the throttling one.
func TestThrottleAction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// set limits the actions; calls are made in order, want says
		// which are throttled.
		set   func(c *emulator.Cloud)
		calls []string
		want  []bool
	}{
		{"OwnBucket", func(c *emulator.Cloud) { c.ThrottleAction("DescribeSecret", 2, "") },
			[]string{"DescribeSecret", "DescribeSecret", "GetSecretValue", "GetSecretValue", "GetSecretValue", "DescribeSecret"},
			[]bool{false, false, false, false, false, true}},
		{"SharedBucket", func(c *emulator.Cloud) {
			c.ThrottleAction("DescribeSecret", 2, "read")
			c.ThrottleAction("GetSecretValue", 2, "read")
		}, []string{"DescribeSecret", "GetSecretValue", "GetSecretValue", "DescribeSecret"},
			[]bool{false, false, true, true}},
		{"ActionAndProduct", func(c *emulator.Cloud) {
			c.ThrottleAction("DescribeSecret", 5, "")
			c.Throttle(emulator.KMS, 2)
		}, []string{"GetSecretValue", "DescribeSecret", "DescribeSecret"},
			[]bool{false, false, true}},
		{"Removed", func(c *emulator.Cloud) {
			c.ThrottleAction("DescribeSecret", 1, "")
			c.ThrottleAction("DescribeSecret", 0, "")
		}, []string{"DescribeSecret", "DescribeSecret", "DescribeSecret"},
			[]bool{false, false, false}},
		{"Quotas", func(c *emulator.Cloud) { c.ApplyQuotas() },
			// CreateSecret's 10/s: the eleventh call of the second.
			[]string{"CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "CreateSecret", "GetSecretValue"},
			[]bool{false, false, false, false, false, false, false, false, false, false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			clock := newFakeClock()
			c.SetClock(clock.Now)
			b := MustBaaS(t, eps.KMS, roleCred(t), sigV3)
			tt.set(c)
			for i, action := range tt.calls {
				// Calls that fail after the throttle (a missing secret or
				// key) still count.
				_, err := b.call(action, emulator.KMSVersion, map[string]any{"SecretName": "absent", "VersionId": "v1", "SecretData": "x", "EncryptionKeyId": "key-absent"})
				code, status := errCode(t, err)
				if tt.want[i] {
					assert.Equal(t, "Rejected.Throttling", code, "call %d (%s)", i, action)
					assert.Equal(t, 429, status)
				} else {
					assert.NotEqual(t, "Rejected.Throttling", code, "call %d (%s)", i, action)
				}
			}
			n := 0
			for _, w := range tt.want {
				if w {
					n++
				}
			}
			total := 0
			for _, a := range []string{"DescribeSecret", "GetSecretValue", "CreateSecret"} {
				total += c.Throttled(a)
			}
			assert.Equal(t, n, total, "Throttled counts the refused calls")
			clock.Advance(time.Second)
			_, err := b.call(tt.calls[len(tt.calls)-1], emulator.KMSVersion, map[string]any{"SecretName": "absent", "VersionId": "v1", "SecretData": "x", "EncryptionKeyId": "key-absent"})
			code, _ := errCode(t, err)
			assert.NotEqual(t, "Rejected.Throttling", code, "the bucket refilled")
		})
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		product    emulator.Product
		wantCode   string
		wantStatus int
	}{
		{emulator.KMS, "Rejected.Throttling", 429},
		{emulator.CloudSSO, "Throttling.User", 400},
		{emulator.BaaS, "Throttling.User", 400},
	}
	for _, tt := range tests {
		t.Run(string(tt.product)+"/"+tt.wantCode, func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			clock := newFakeClock()
			c.SetClock(clock.Now)
			endpoint := map[emulator.Product]string{emulator.KMS: eps.KMS, emulator.CloudSSO: eps.CloudSSO, emulator.BaaS: eps.BaaS}[tt.product]
			// Any signed call is counted; an unknown secret or user is a
			// cheap one that still passes the throttle.
			b := MustBaaS(t, endpoint, roleCred(t), sigV3)
			action := map[emulator.Product][2]string{
				emulator.KMS:      {"DescribeSecret", emulator.KMSVersion},
				emulator.CloudSSO: {"ResetUserPassword", emulator.CloudSSOVersion},
				emulator.BaaS:     {"ResetFabricOrganizationUserPassword", emulator.BaaSVersion},
			}[tt.product]
			call := func() (string, int) {
				_, err := b.call(action[0], action[1], map[string]any{"SecretName": "absent", "DirectoryId": "d-absent", "UserId": "u-absent", "OrganizationId": "absent", "Username": "x", "Location": "cn-hangzhou", "Password": "x"})
				return errCode(t, err)
			}
			c.Throttle(tt.product, 2)
			for i := 0; i < 2; i++ {
				code, _ := call()
				assert.NotEqual(t, tt.wantCode, code, "within the rate")
			}
			code, status := call()
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantStatus, status)

			clock.Advance(time.Second)
			code, _ = call()
			assert.NotEqual(t, tt.wantCode, code, "the bucket refilled")

			c.Throttle(tt.product, 0)
			for i := 0; i < 5; i++ {
				code, _ := call()
				assert.NotEqual(t, tt.wantCode, code, "unthrottled")
			}
		})
	}
}
