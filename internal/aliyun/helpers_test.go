package aliyun_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// Fixture identities (internal/testenv/emulator/testdata/fixture.json).
const (
	dirID        = emulator.FixtureDirectoryID
	userID       = emulator.FixtureUserID
	ssoDirID     = emulator.FixtureSSOLogonDirectoryID
	ssoUserID    = emulator.FixtureSSOLogonUserID
	orgID        = emulator.FixtureOrganizationID
	location     = emulator.FixtureLocation
	fabricUser   = "asian01"
	adminKeyID   = emulator.FixtureAccessKeyID
	adminSecret  = "placeholder-admin-secret-not-real-0001"
	expiredKeyID = emulator.FixtureExpiredRoleKeyID
)

// MustStartCloud starts a local cloud on the default fixture, closed when tb
// ends.
func MustStartCloud(tb testing.TB) (*emulator.Cloud, emulator.Endpoints) {
	tb.Helper()
	cloud := emulator.New(emulator.DefaultFixture())
	eps, err := cloud.Start()
	require.NoError(tb, err)
	tb.Cleanup(cloud.Close)
	return cloud, eps
}

// errNoDefault is what the default chain of a test answers unless the test
// gives one: every call must then carry its credentials in the context.
var errNoDefault = errors.New("test: no default credentials")

// MustEndpoint parses an endpoint of s the way internal/config does.
func MustEndpoint(tb testing.TB, s aliyun.Service, value string) aliyun.Endpoint {
	tb.Helper()
	ep, err := aliyun.ParseEndpoint(s, value)
	require.NoError(tb, err)
	return ep
}

// MustNew builds the clients against eps; edit adjusts the config and the
// options.
func MustNew(tb testing.TB, eps emulator.Endpoints, edit ...func(*aliyun.Config, *aliyun.Options)) *aliyun.Clients {
	tb.Helper()
	cfg := aliyun.Config{
		RegionID: "cn-hangzhou",
		KMS:      MustEndpoint(tb, aliyun.ServiceKMS, eps.KMS),
		CloudSSO: MustEndpoint(tb, aliyun.ServiceCloudSSO, eps.CloudSSO),
		BaaS:     MustEndpoint(tb, aliyun.ServiceBaaS, eps.BaaS),
		// The fixture's KMS 3.0 instance key.
		KMSEncryptionKeyID: emulator.FixtureKMSKeyID,
	}
	opt := aliyun.Options{
		DefaultCredentials: func() (credentials.Credential, error) {
			return nil, errNoDefault
		},
	}
	for _, e := range edit {
		e(&cfg, &opt)
	}
	c, err := aliyun.New(cfg, opt)
	require.NoError(tb, err)
	return c
}

// roleCreds are the fixture's valid STS credentials of the function's role.
func roleCreds(tb testing.TB) reset.Credentials {
	tb.Helper()
	for _, t := range emulator.DefaultFixture().STSTokens {
		if t.AccessKeyID == emulator.FixtureFunctionRoleKeyID {
			return reset.Credentials{AccessKeyID: t.AccessKeyID, AccessKeySecret: t.AccessKeySecret, SecurityToken: t.SecurityToken}
		}
	}
	tb.Fatal("fixture has no function role token")
	return reset.Credentials{}
}

// expiredCreds are the fixture's expired STS credentials.
func expiredCreds(tb testing.TB) reset.Credentials {
	tb.Helper()
	for _, t := range emulator.DefaultFixture().STSTokens {
		if t.AccessKeyID == expiredKeyID {
			return reset.Credentials{AccessKeyID: t.AccessKeyID, AccessKeySecret: t.AccessKeySecret, SecurityToken: t.SecurityToken}
		}
	}
	tb.Fatal("fixture has no expired token")
	return reset.Credentials{}
}

// roleCtx is a context carrying the role's credentials, as the handler
// builds it from the FC context.
func roleCtx(tb testing.TB) context.Context {
	tb.Helper()
	return reset.WithCredentials(context.Background(), roleCreds(tb))
}

// leakWatch collects every password a test hands out and every error it
// sees, and checks at the end that no error text holds a password or a
// credential secret.
type leakWatch struct {
	mu      sync.Mutex
	secrets []string
	texts   []string
}

// MustWatchLeaks returns a leakWatch that checks when tb ends. cloud may be
// nil; if set, every password it accepted is searched for too.
func MustWatchLeaks(tb testing.TB, cloud *emulator.Cloud) *leakWatch {
	tb.Helper()
	w := &leakWatch{}
	for _, t := range emulator.DefaultFixture().STSTokens {
		w.secrets = append(w.secrets, t.AccessKeySecret)
	}
	w.secrets = append(w.secrets, adminSecret)
	tb.Cleanup(func() {
		tb.Helper()
		secrets := w.secrets
		if cloud != nil {
			secrets = append(secrets, cloud.AcceptedPasswords()...)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		secrets = withEncodings(secrets)
		for _, text := range w.texts {
			for _, s := range secrets {
				// Never print s: report which error, not what leaked.
				if s != "" && strings.Contains(text, s) {
					tb.Errorf("an error text holds a password or secret (error %q redacted)", redactAll(text, secrets))
				}
			}
		}
	})
	return w
}

// Password returns a new password valid for both services and remembers it.
func (w *leakWatch) Password(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	pw := "Pw#" + hex.EncodeToString(b[:]) + "xY9"
	w.Add(pw)
	return pw
}

// Add remembers a secret to search for.
func (w *leakWatch) Add(secret string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = append(w.secrets, secret)
}

// Err records err's texts: Error() and the caller-visible message.
func (w *leakWatch) Err(err error) error {
	if err == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, err.Error(), reset.ErrorMessageOf(err))
	return err
}

// withEncodings adds the forms a secret takes in a query string, a form body
// or JSON, which is how the SDKs would quote it.
func withEncodings(secrets []string) []string {
	out := make([]string, 0, 4*len(secrets))
	for _, s := range secrets {
		if s == "" {
			continue
		}
		j, _ := json.Marshal(s)
		out = append(out, s, url.QueryEscape(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), strings.Trim(string(j), `"`))
	}
	return out
}

func redactAll(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

// requireCode checks err's classification.
func requireCode(tb testing.TB, err error, want reset.ErrorCode) {
	tb.Helper()
	require.Error(tb, err)
	var re *reset.Error
	require.ErrorAs(tb, err, &re, "want a *reset.Error")
	assert.Equal(tb, want, re.Code, "got code %q, want %q (error: %v)", re.Code, want, err)
}

// lastCall returns the last call of action the cloud recorded.
func lastCall(tb testing.TB, cloud *emulator.Cloud, action string) emulator.Call {
	tb.Helper()
	calls := cloud.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Action == action {
			return calls[i]
		}
	}
	tb.Fatalf("no call of %s recorded", action)
	return emulator.Call{}
}
