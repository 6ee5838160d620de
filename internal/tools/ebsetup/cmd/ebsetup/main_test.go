package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

const (
	testAccount = "1234567890123456"
	testKeyID   = "LTAI5tDeployerKey000001"
	testSecret  = "deployer-secret-not-real"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func staticCredential() (credentials.Credential, error) {
	return credentials.NewCredential(&credentials.Config{
		Type: tea.String("access_key"), AccessKeyId: tea.String(testKeyID), AccessKeySecret: tea.String(testSecret),
	})
}

// TestRunAgainstLocalCloud runs the command as `make eventbridge` does,
// on the shipped s.yaml, against the local cloud's EventBridge.
func TestRunAgainstLocalCloud(t *testing.T) {
	cloud := emulator.New(emulator.Fixture{AccountID: testAccount, Region: "cn-shanghai",
		AccessKeys: []emulator.AccessKey{{ID: testKeyID, Secret: testSecret}}})
	srv := httptest.NewServer(cloud.Handler(emulator.EventBridge))
	defer srv.Close()
	spec := filepath.Join("..", "..", "..", "..", "..", "s.yaml")
	vars := env(map[string]string{"PWRESET_REGION": "cn-shanghai", "PWRESET_KMS_KEY_ID": "key-hzz6example0000000001", "PWRESET_ACCOUNT_ID": testAccount})

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-spec", spec, "-endpoint", srv.URL}, vars, &out, &errOut, staticCredential)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	assert.Contains(t, out.String(), `event bus "pwreset": created`)
	assert.Contains(t, out.String(), `rule "pwreset-requests" on "pwreset": created`)
	rule, ok := cloud.EventBridgeRule("pwreset", "pwreset-requests")
	require.True(t, ok)
	require.Len(t, rule.Targets, 1)
	assert.Equal(t, "acs:fc:cn-shanghai:"+testAccount+":functions/pwreset", rule.Targets[0].Endpoint)
	assert.NotContains(t, out.String()+errOut.String(), testSecret)

	out.Reset()
	code = run(context.Background(), []string{"-spec", spec, "-endpoint", srv.URL}, vars, &out, &errOut, staticCredential)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	assert.Contains(t, out.String(), `event bus "pwreset": exists`)

	out.Reset()
	code = run(context.Background(), []string{"-spec", spec, "-endpoint", srv.URL, "-remove"}, vars, &out, &errOut, staticCredential)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	assert.Empty(t, cloud.EventBuses())
}

func TestRunRefusesWithoutCalls(t *testing.T) {
	spec := filepath.Join("..", "..", "..", "..", "..", "s.yaml")
	base := map[string]string{"PWRESET_KMS_KEY_ID": "key-hzz6example0000000001", "PWRESET_ACCOUNT_ID": testAccount}
	noCred := func() (credentials.Credential, error) { return nil, errors.New("no credential configured") }
	tests := []struct {
		name    string
		args    []string
		vars    map[string]string
		cred    func() (credentials.Credential, error)
		wantErr string
	}{
		{"ErrNoAccount", []string{"-spec", spec}, map[string]string{"PWRESET_KMS_KEY_ID": "key-x"}, staticCredential, "PWRESET_ACCOUNT_ID"},
		{"ErrNoKey", []string{"-spec", spec}, map[string]string{"PWRESET_ACCOUNT_ID": testAccount}, staticCredential, "PWRESET_KMS_KEY_ID"},
		{"ErrNoSpec", []string{"-spec", "nope.yaml"}, base, staticCredential, "nope.yaml"},
		{"ErrNoCredentials", []string{"-spec", spec}, base, noCred, "ALIBABA_CLOUD_ACCESS_KEY_ID"},
		{"ErrPlainHTTP", []string{"-spec", spec, "-endpoint", "http://eventbridge-console.cn-hangzhou.aliyuncs.com"}, base, staticCredential, "loopback"},
		{"ErrArgument", []string{"-spec", spec, "extra"}, base, staticCredential, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, env(tt.vars), &out, &errOut, tt.cred)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut.String(), tt.wantErr)
		})
	}
}

func TestRunDryRun(t *testing.T) {
	spec := filepath.Join("..", "..", "..", "..", "..", "s.yaml")
	vars := env(map[string]string{"PWRESET_KMS_KEY_ID": "key-hzz6example0000000001", "PWRESET_ACCOUNT_ID": testAccount})
	called := false
	cred := func() (credentials.Credential, error) { called = true; return staticCredential() }
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-spec", spec, "-dry-run"}, vars, &out, &errOut, cred), errOut.String())
	assert.False(t, called, "a dry run needs no credentials")
	assert.Contains(t, out.String(), `{"source":["pwreset.request"],"type":["pwreset:Reset:Requested"]}`)
	assert.Contains(t, out.String(), "acs:fc:cn-hangzhou:"+testAccount+":functions/pwreset")
}
