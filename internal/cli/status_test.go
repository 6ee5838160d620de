package cli_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/cli"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// TestReadStatusStates reads a secret's status with the real KMS client
// against the local cloud, at several moments: an unfinished rotation is
// "unfinished" while recent and "stale" after ConcurrentWindow; a first
// rotation that never finished leaves the placeholder current.
func TestReadStatusStates(t *testing.T) {
	t.Parallel()
	cloud := emulator.New(emulator.DefaultFixture())
	eps, err := cloud.Start()
	require.NoError(t, err)
	t.Cleanup(cloud.Close)
	env := map[string]string{
		"KMS_ENDPOINT": eps.KMS, "CLOUDSSO_ENDPOINT": eps.CloudSSO, "BAAS_ENDPOINT": eps.BaaS,
		"ALIBABA_CLOUD_REGION_ID": cloud.Region(), "KMS_ENCRYPTION_KEY_ID": emulator.FixtureKMSKeyID,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	op, err := app.NewOperator(cfg, app.Deps{})
	require.NoError(t, err)
	ctx := reset.WithCredentials(context.Background(), reset.Credentials{AccessKeyID: emulator.FixtureAccessKeyID,
		AccessKeySecret: "placeholder-admin-secret-not-real-0001"})
	body := []byte(`{"target":"cloudsso","directoryId":"` + emulator.FixtureDirectoryID + `","userId":"` + emulator.FixtureUserID + `"}`)
	name := "pwreset/cloudsso/" + emulator.FixtureDirectoryID + "/" + emulator.FixtureUserID

	_, err = cli.ReadStatus(ctx, op.Secrets, name, time.Now())
	require.ErrorIs(t, err, reset.ErrSecretNotFound)

	// A first rotation whose reset is refused: the placeholder stays current.
	cloud.FailNext("ResetUserPassword", 1, 400, "InvalidParameter.Password")
	_, results, _ := op.Handler.RunRequest(ctx, cli.Namespace, "k1", body)
	require.Len(t, results, 1)
	require.Equal(t, reset.StatusFailed, results[0].Status)
	pending := results[0].VersionID

	tests := []struct {
		name  string
		after time.Duration
		want  string
	}{
		{"UnfinishedWhileRecent", 0, cli.StateUnfinished},
		{"StaleAfterTheWindow", cli.ConcurrentWindow + time.Minute, cli.StateStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := cli.ReadStatus(ctx, op.Secrets, name, time.Now().Add(tt.after))
			require.NoError(t, err)
			assert.Equal(t, tt.want, st.State)
			assert.Equal(t, pending, st.PendingVersionID)
			assert.True(t, st.NeverRotated)
			assert.Len(t, st.Versions, 2)
		})
	}

	_, results, _ = op.Handler.RunRequest(ctx, cli.Namespace, "k2", body)
	require.Equal(t, reset.StatusRotated, results[0].Status, "%v", results[0].Err)
	assert.Equal(t, pending, results[0].RolledForward)
	st, err := cli.ReadStatus(ctx, op.Secrets, name, time.Now())
	require.NoError(t, err)
	assert.Equal(t, cli.StateFinished, st.State)
	assert.Empty(t, st.PendingVersionID)
	assert.False(t, st.NeverRotated)
}
