package emulator_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestCallRecords(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	var hookSawState bool
	c.OnCall(func(call emulator.Call) {
		if call.Action == "PutSecretValue" {
			// The hook runs once the call took effect, before the answer.
			s, _ := c.Secret("rec")
			_, hookSawState = s.Version("v1")
		}
	})
	k := MustKMS(t, eps.KMS, roleCred(t), sigV2)
	mustCreate(t, k, "rec", "secret-data-zero", "v0")
	mustPut(t, k, "rec", "secret-data-one", "v1", `["ACSPending"]`)
	_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("rec"), VersionId: tea.String("v1")})
	require.NoError(t, err)
	assert.True(t, hookSawState)

	calls := c.Calls()
	require.Len(t, calls, 3)
	wantActions := []string{"CreateSecret", "PutSecretValue", "GetSecretValue"}
	for i, call := range calls {
		assert.Equal(t, wantActions[i], call.Action)
		assert.Equal(t, emulator.KMS, call.Product)
		assert.Equal(t, emulator.KMSVersion, call.Version)
		assert.Equal(t, roleKeyID, call.AccessKeyID)
		assert.Equal(t, roleToken, call.SecurityToken)
		assert.Equal(t, emulator.AlgorithmV2, call.SignatureAlgorithm)
		assert.Equal(t, http.StatusOK, call.Status)
		assert.Empty(t, call.Code)
		assert.NotEmpty(t, call.RequestID)
		assert.NotZero(t, call.ConnID)
		assert.WithinDuration(t, time.Now(), call.Time, time.Minute)
		b, err := json.Marshal(call)
		require.NoError(t, err)
		assert.NotContains(t, string(b), "secret-data", "secret data never recorded")
	}
	assert.Equal(t, "***", calls[0].Params["SecretData"])
	assert.Equal(t, "***", calls[1].Params["SecretData"])
	assert.Equal(t, `["ACSPending"]`, calls[1].Params["VersionStages"])
	assert.Equal(t, "v1", calls[2].Params["VersionId"])
	assert.ElementsMatch(t, []string{"secret-data-zero", "secret-data-one"}, c.AcceptedPasswords())

	calls[0].Params["SecretName"] = "mutated"
	assert.Equal(t, "rec", c.Calls()[0].Params["SecretName"], "Calls returns copies")

	c.ResetCalls()
	assert.Empty(t, c.Calls())
}

func TestConnections(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	post := func(client *http.Client) {
		t.Helper()
		resp, err := client.Post(eps.CloudSSO+"/?Action=ResetUserPassword&Version=2021-05-15", "", nil)
		require.NoError(t, err)
		readAll(t, resp.Body)
		resp.Body.Close()
	}
	keepAlive := &http.Client{Transport: &http.Transport{}}
	post(keepAlive)
	post(keepAlive)
	assert.Equal(t, 1, c.Connections(emulator.CloudSSO), "a kept-alive connection is reused")
	oneShot := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post(oneShot)
	post(oneShot)
	assert.Equal(t, 3, c.Connections(emulator.CloudSSO))
	assert.Equal(t, 0, c.Connections(emulator.KMS))

	calls := c.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, calls[0].ConnID, calls[1].ConnID)
	assert.NotEqual(t, calls[1].ConnID, calls[2].ConnID)
	assert.NotEqual(t, calls[2].ConnID, calls[3].ConnID)
}

func TestFixture(t *testing.T) {
	t.Parallel()
	f := emulator.DefaultFixture()
	require.NotEmpty(t, f.AccountID)
	require.Equal(t, emulator.FixtureLocation, f.Region)

	c := emulator.New(f)
	_, ok := c.SSOPassword(emulator.FixtureDirectoryID, emulator.FixtureUserID)
	assert.True(t, ok)
	_, ok = c.FabricPassword(emulator.FixtureOrganizationID, "asian01")
	assert.True(t, ok)
	_, ok = c.FabricPassword(emulator.FixtureOrganizationID, "asian02")
	assert.True(t, ok)
	var users int
	for _, d := range f.Directories {
		if d.ID == emulator.FixtureDirectoryID {
			users = len(d.Users)
		}
	}
	assert.GreaterOrEqual(t, users, 3)

	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(good, b, 0o600))
	loaded, err := emulator.LoadFixture(good)
	require.NoError(t, err)
	assert.Equal(t, f, loaded)

	tests := []struct{ name, body string }{
		{"ErrUnknownField", `{"Regions":["cn-hangzhou"]}`},
		{"ErrDuplicateKey", `{"AccessKeys":[{"ID":"a","Secret":"b"},{"ID":"a","Secret":"c"}]}`},
		{"ErrIncompleteToken", `{"STSTokens":[{"AccessKeyID":"STS.x"}]}`},
		{"ErrSyntax", `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".json")
			require.NoError(t, os.WriteFile(p, []byte(tt.body), 0o600))
			_, err := emulator.LoadFixture(p)
			require.Error(t, err)
			assert.True(t, strings.Contains(err.Error(), p))
		})
	}
	_, err = emulator.LoadFixture(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
