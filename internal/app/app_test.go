package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// MustLocalConfig starts a local cloud and loads a Config pointing at it, as
// main would from the environment.
func MustLocalConfig(tb testing.TB) (*emulator.Cloud, config.Config) {
	tb.Helper()
	cloud := emulator.New(emulator.DefaultFixture())
	eps, err := cloud.Start()
	require.NoError(tb, err)
	tb.Cleanup(cloud.Close)
	env := map[string]string{
		"ALIBABA_CLOUD_REGION_ID": cloud.Region(),
		"KMS_ENDPOINT":            eps.KMS,
		"CLOUDSSO_ENDPOINT":       eps.CloudSSO,
		"BAAS_ENDPOINT":           eps.BaaS,
		"KMS_ENCRYPTION_KEY_ID":   emulator.FixtureKMSKeyID,
		"LOG_LEVEL":               "debug",
	}
	cfg, err := config.Load(func(name string) string { return env[name] })
	require.NoError(tb, err)
	return cloud, cfg
}

// noDefaultCredentials makes every call rely on the invocation's
// credentials, as in Function Compute.
var noDefaultCredentials = aliyun.Options{DefaultCredentials: func() (credentials.Credential, error) {
	return nil, errors.New("test: no default credentials")
}}

func TestNewRotatesAgainstLocalCloud(t *testing.T) {
	cloud, cfg := MustLocalConfig(t)
	var logs bytes.Buffer
	h, err := app.New(cfg, app.Deps{Logger: app.NewLogger(&logs, cfg.LogLevel), Aliyun: noDefaultCredentials})
	require.NoError(t, err)

	before, ok := cloud.SSOPassword(emulator.FixtureDirectoryID, emulator.FixtureUserID)
	require.True(t, ok)
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID: "1-app-test",
		Credentials: fccontext.Credentials{
			AccessKeyId:     emulator.FixtureFunctionRoleKeyID,
			AccessKeySecret: "placeholder-function-role-secret-0001",
			SecurityToken:   "CAISplaceholderFunctionRoleSecurityToken0001",
		},
	})
	event, err := json.Marshal(handler.HTTPEvent{
		Body:           `{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"}`,
		Headers:        map[string]string{"Content-Type": "application/json", "Idempotency-Key": "app-test-1"},
		RequestContext: handler.HTTPRequestContext{HTTP: handler.HTTPDescription{Method: "POST"}},
	})
	require.NoError(t, err)
	out, err := h.Invoke(ctx, event)
	require.NoError(t, err)
	resp := out.(*handler.HTTPResponse)
	require.Equal(t, 200, resp.StatusCode, resp.Body)
	var body handler.Response
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
	require.Len(t, body.Results, 1)
	assert.Equal(t, reset.StatusRotated, body.Results[0].Status)
	assert.Equal(t, "pwreset/cloudsso/"+emulator.FixtureDirectoryID+"/"+emulator.FixtureUserID, body.Results[0].SecretName)

	after, ok := cloud.SSOPassword(emulator.FixtureDirectoryID, emulator.FixtureUserID)
	require.True(t, ok)
	assert.NotEqual(t, before, after, "the target's password changed")
	for _, pw := range cloud.AcceptedPasswords() {
		assert.NotContains(t, resp.Body, pw)
		assert.NotContains(t, logs.String(), pw)
	}
	assert.Contains(t, logs.String(), `"requestId":"1-app-test"`)
}

// TestNewErrors: New refuses, as a programmer's error, a Config that
// config.Load would not have made (Load names the variables: its tests).
func TestNewErrors(t *testing.T) {
	_, local := MustLocalConfig(t)
	tests := []struct {
		name string
		cfg  config.Config
		deps app.Deps
		want string
	}{
		{"ErrNoRegion", config.Config{SecretNamePrefix: "pwreset/", PasswordLength: 24, KMSEncryptionKeyID: "alias/pwreset"}, app.Deps{}, "region id is required"},
		{"ErrNoKey", func() config.Config { c := local; c.KMSEncryptionKeyID = ""; return c }(), app.Deps{}, "key id is required"},
		{"ErrAliyunOptions", local, app.Deps{Aliyun: aliyun.Options{SignatureAlgorithm: "v9"}}, "SignatureAlgorithm"},
		{"ErrPasswordLength", func() config.Config { c := local; c.PasswordLength = 99; return c }(), app.Deps{}, "Length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := app.New(tt.cfg, tt.deps)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestLogLevelErrorShowsFailures: with LOG_LEVEL=error, a promote that
// fails after the password was reset still shows, in the target's line and
// the invocation's, against the local cloud through the real SDK clients.
func TestLogLevelErrorShowsFailures(t *testing.T) {
	cloud, cfg := MustLocalConfig(t)
	cfg.LogLevel = slog.LevelError
	var logs bytes.Buffer
	h, err := app.New(cfg, app.Deps{Logger: app.NewLogger(&logs, cfg.LogLevel), Aliyun: noDefaultCredentials})
	require.NoError(t, err)
	cloud.FailNext("UpdateSecretVersionStage", 1, 403, "Forbidden.NoPermission")

	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{
		RequestID: "1-app-log-test",
		Credentials: fccontext.Credentials{
			AccessKeyId:     emulator.FixtureFunctionRoleKeyID,
			AccessKeySecret: "placeholder-function-role-secret-0001",
			SecurityToken:   "CAISplaceholderFunctionRoleSecurityToken0001",
		},
	})
	event, err := json.Marshal(handler.HTTPEvent{
		Body:           `{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"}`,
		Headers:        map[string]string{"Content-Type": "application/json", "Idempotency-Key": "app-log-test-1"},
		RequestContext: handler.HTTPRequestContext{HTTP: handler.HTTPDescription{Method: "POST"}},
	})
	require.NoError(t, err)
	out, err := h.Invoke(ctx, event)
	require.NoError(t, err)
	require.NotEqual(t, 200, out.(*handler.HTTPResponse).StatusCode)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, "the target's line and the invocation's: %s", logs.String())
	msgs := map[string]bool{}
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		assert.Equal(t, "ERROR", m["level"])
		msgs[m["msg"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"password rotation": true, "invocation": true}, msgs)
	assert.Contains(t, lines[0], `"status":"failed"`)
	for _, pw := range cloud.AcceptedPasswords() {
		assert.NotContains(t, logs.String(), pw)
	}
}
