package emulator_test

import (
	"fmt"
	"net/http"
	"testing"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func mustCreate(tb testing.TB, k *kms.Client, name, data, version string) {
	tb.Helper()
	resp, err := k.CreateSecret(&kms.CreateSecretRequest{
		SecretName: tea.String(name), SecretData: tea.String(data), VersionId: tea.String(version),
		SecretDataType: tea.String("text"), EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID),
	})
	require.NoError(tb, err)
	require.Equal(tb, name, tea.StringValue(resp.Body.SecretName))
	require.NotEmpty(tb, tea.StringValue(resp.Body.RequestId))
}

func put(k *kms.Client, name, data, version, stages string) (*kms.PutSecretValueResponse, error) {
	req := &kms.PutSecretValueRequest{SecretName: tea.String(name), SecretData: tea.String(data), VersionId: tea.String(version)}
	if stages != "" {
		req.VersionStages = tea.String(stages)
	}
	return k.PutSecretValue(req)
}

func mustPut(tb testing.TB, k *kms.Client, name, data, version, stages string) {
	tb.Helper()
	_, err := put(k, name, data, version, stages)
	require.NoError(tb, err)
}

func stagesOf(tb testing.TB, c *emulator.Cloud, name string) map[string][]string {
	tb.Helper()
	s, ok := c.Secret(name)
	require.True(tb, ok, "secret %s exists", name)
	out := map[string][]string{}
	for _, v := range s.Versions {
		out[v.VersionID] = v.Stages
	}
	return out
}

// TestKMSRotation walks the rotation protocol through the real SDK with both
// signature versions.
func TestKMSRotation(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		t.Run(algName(alg), func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			k := MustKMS(t, eps.KMS, roleCred(t), alg)
			const name = "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12"
			mustCreate(t, k, name, `{"placeholder":true}`, "v0")

			got, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String(name)})
			require.NoError(t, err)
			assert.Equal(t, `{"placeholder":true}`, tea.StringValue(got.Body.SecretData))
			assert.Equal(t, "v0", tea.StringValue(got.Body.VersionId))
			assert.Equal(t, []*string{tea.String("ACSCurrent")}, got.Body.VersionStages.VersionStage)
			assert.Equal(t, "text", tea.StringValue(got.Body.SecretDataType))
			assert.NotEmpty(t, tea.StringValue(got.Body.CreateTime))

			pr, err := put(k, name, "data-1", "v1", `["ACSPending"]`)
			require.NoError(t, err)
			assert.Equal(t, []*string{tea.String("ACSPending")}, pr.Body.VersionStages.VersionStage)
			assert.Equal(t, map[string][]string{"v0": {"ACSCurrent"}, "v1": {"ACSPending"}}, stagesOf(t, c, name))

			got, err = k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String(name), VersionStage: tea.String("ACSPending")})
			require.NoError(t, err)
			assert.Equal(t, "v1", tea.StringValue(got.Body.VersionId))
			got, err = k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String(name), VersionId: tea.String("v1")})
			require.NoError(t, err)
			assert.Equal(t, "data-1", tea.StringValue(got.Body.SecretData))

			_, err = k.UpdateSecretVersionStage(&kms.UpdateSecretVersionStageRequest{
				SecretName: tea.String(name), VersionStage: tea.String("ACSCurrent"), MoveToVersion: tea.String("v1"),
			})
			require.NoError(t, err)
			assert.Equal(t, map[string][]string{"v0": {"ACSPrevious"}, "v1": {"ACSCurrent", "ACSPending"}}, stagesOf(t, c, name))

			// A second rotation: the old previous loses its stage.
			mustPut(t, k, name, "data-2", "v2", `["ACSPending"]`)
			_, err = k.UpdateSecretVersionStage(&kms.UpdateSecretVersionStageRequest{
				SecretName: tea.String(name), VersionStage: tea.String("ACSCurrent"), MoveToVersion: tea.String("v2"),
			})
			require.NoError(t, err)
			assert.Equal(t, map[string][]string{"v0": {}, "v1": {"ACSPrevious"}, "v2": {"ACSCurrent", "ACSPending"}}, stagesOf(t, c, name))

			list, err := k.ListSecretVersionIds(&kms.ListSecretVersionIdsRequest{SecretName: tea.String(name)})
			require.NoError(t, err)
			assert.Equal(t, int32(2), tea.Int32Value(list.Body.TotalCount), "unstaged versions are hidden by default")
			require.Len(t, list.Body.VersionIds.VersionId, 2)
			assert.Equal(t, "v2", tea.StringValue(list.Body.VersionIds.VersionId[0].VersionId))
			list, err = k.ListSecretVersionIds(&kms.ListSecretVersionIdsRequest{SecretName: tea.String(name), IncludeDeprecated: tea.String("true")})
			require.NoError(t, err)
			assert.Equal(t, int32(3), tea.Int32Value(list.Body.TotalCount))

			d, err := k.DescribeSecret(&kms.DescribeSecretRequest{SecretName: tea.String(name)})
			require.NoError(t, err)
			assert.Equal(t, "acs:kms:cn-hangzhou:"+c.AccountID()+":secret/"+name, tea.StringValue(d.Body.Arn))
			assert.Subset(t, c.AcceptedPasswords(), []string{"data-1", "data-2"})
		})
	}
}

func TestKMSPutSecretValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		version    string
		data       string
		stages     string
		wantCode   string
		wantStatus int
		wantStages map[string][]string
	}{
		{name: "OK_DefaultStageDemotesCurrent", version: "v2", data: "new", wantStages: map[string][]string{
			"v0": {}, "v1": {"ACSPrevious"}, "v2": {"ACSCurrent"}}},
		{name: "OK_IdempotentSameData", version: "v1", data: "one", stages: `["ACSPending"]`, wantStages: map[string][]string{
			"v0": {"ACSPrevious"}, "v1": {"ACSCurrent"}}},
		{name: "OK_CustomStages", version: "v2", data: "new", stages: `["ACSPending","Blue"]`, wantStages: map[string][]string{
			"v0": {"ACSPrevious"}, "v1": {"ACSCurrent"}, "v2": {"ACSPending", "Blue"}}},
		{name: "Rejected.ResourceExist_DifferentData", version: "v1", data: "other", wantCode: "Rejected.ResourceExist", wantStatus: 409},
		{name: "InvalidParameter_StagesNotJSON", version: "v2", data: "new", stages: "ACSPending", wantCode: "InvalidParameter", wantStatus: 400},
		{name: "InvalidParameter_VersionId", version: "v 2", data: "new", wantCode: "InvalidParameter", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, eps := MustStart(t)
			k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
			mustCreate(t, k, "s", "zero", "v0")
			mustPut(t, k, "s", "one", "v1", "")
			before := stagesOf(t, c, "s")
			resp, err := put(k, "s", tt.data, tt.version, tt.stages)
			if tt.wantCode != "" {
				code, status := errCode(t, err)
				assert.Equal(t, tt.wantCode, code)
				assert.Equal(t, tt.wantStatus, status)
				assert.Equal(t, before, stagesOf(t, c, "s"), "nothing changed")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.version, tea.StringValue(resp.Body.VersionId))
			assert.Equal(t, tt.wantStages, stagesOf(t, c, "s"))
		})
	}
}

func TestKMSLimits(t *testing.T) {
	t.Parallel()
	t.Run("OK_EarliestVersionEvictedWhateverItsStages", func(t *testing.T) {
		t.Parallel()
		c, eps := MustStart(t)
		k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
		mustCreate(t, k, "s", "d0", "v0")
		for i := 1; i <= emulator.MaxSecretVersions+1; i++ {
			mustPut(t, k, "s", fmt.Sprintf("d%d", i), fmt.Sprintf("v%d", i), `["ACSPending"]`)
		}
		s, _ := c.Secret("s")
		require.Len(t, s.Versions, emulator.MaxSecretVersions)
		assert.Equal(t, "v2", s.Versions[0].VersionID, "v0 (ACSCurrent) and v1 (the earliest) are gone")
		for _, q := range []*kms.GetSecretValueRequest{
			{SecretName: tea.String("s"), VersionId: tea.String("v1")},
			{SecretName: tea.String("s")}, // ACSCurrent went with v0
		} {
			_, err := k.GetSecretValue(q)
			code, status := errCode(t, err)
			assert.Equal(t, "Forbidden.ResourceNotFound", code)
			assert.Equal(t, http.StatusNotFound, status)
		}
	})
	t.Run("Rejected.LimitExceeded_Stages", func(t *testing.T) {
		t.Parallel()
		c, eps := MustStart(t)
		k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
		mustCreate(t, k, "s", "d0", "v0")
		for i := 1; i < emulator.MaxSecretStages; i++ {
			mustPut(t, k, "s", fmt.Sprintf("d%d", i), fmt.Sprintf("v%d", i), fmt.Sprintf(`["S%d"]`, i))
		}
		_, err := put(k, "s", "d9", "v9", `["S9"]`)
		code, status := errCode(t, err)
		assert.Equal(t, "Rejected.LimitExceeded", code)
		assert.Equal(t, http.StatusBadRequest, status)
		_, err = put(k, "s", "d9", "v9", `["S1"]`)
		require.NoError(t, err, "moving an existing stage adds none")
		st := stagesOf(t, c, "s")
		assert.Equal(t, []string{"S1"}, st["v9"])
		assert.Equal(t, []string{}, st["v1"], "a stage is on one version at a time")
	})
}

func TestKMSErrors(t *testing.T) {
	t.Parallel()
	c, eps := MustStart(t)
	k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	mustCreate(t, k, "exists", "d0", "v0")
	mustCreate(t, k, "doomed", "d0", "v0")
	_, err := k.DeleteSecret(&kms.DeleteSecretRequest{SecretName: tea.String("doomed"), RecoveryWindowInDays: tea.String("7")})
	require.NoError(t, err)
	mustCreate(t, k, "gone", "d0", "v0")
	_, err = k.DeleteSecret(&kms.DeleteSecretRequest{SecretName: tea.String("gone"), ForceDeleteWithoutRecovery: tea.String("true")})
	require.NoError(t, err)
	_, ok := c.Secret("gone")
	require.False(t, ok)

	tests := []struct {
		name       string
		call       func() error
		wantCode   string
		wantStatus int
	}{
		{"Rejected.ResourceExist_Create", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("exists"), SecretData: tea.String("x"), VersionId: tea.String("v9"), EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID)})
			return err
		}, "Rejected.ResourceExist", 409},
		{"Rejected.ResourceExist_CreatePendingDeletion", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("doomed"), SecretData: tea.String("x"), VersionId: tea.String("v9"), EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID)})
			return err
		}, "Rejected.ResourceInDeleteWindow", 409},
		{"MissingParameter_EncryptionKeyId", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("nokey"), SecretData: tea.String("x"), VersionId: tea.String("v0")})
			return err
		}, "MissingParameter", 400},
		{"Forbidden.KeyNotFound_Unknown", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("badkey"), SecretData: tea.String("x"), VersionId: tea.String("v0"), EncryptionKeyId: tea.String("key-hzz00nosuchkey")})
			return err
		}, "Forbidden.KeyNotFound", 404},
		{"Forbidden.KeyNotFound_Asymmetric", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("badkey"), SecretData: tea.String("x"), VersionId: tea.String("v0"), EncryptionKeyId: tea.String(emulator.FixtureKMSAsymmetricKeyID)})
			return err
		}, "Forbidden.KeyNotFound", 404},
		{"Forbidden.KeyNotFound_OtherInstance", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("badkey"), SecretData: tea.String("x"), VersionId: tea.String("v0"),
				EncryptionKeyId: tea.String(emulator.FixtureKMSOtherInstanceKey), DKMSInstanceId: tea.String(emulator.FixtureKMSInstanceID)})
			return err
		}, "Forbidden.KeyNotFound", 404},
		{"Forbidden.InstanceNotFound", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("badkey"), SecretData: tea.String("x"), VersionId: tea.String("v0"),
				EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID), DKMSInstanceId: tea.String("kst-hzz00nosuchinstance")})
			return err
		}, "Forbidden.InstanceNotFound", 404},
		{"Rejected.Unavailable_PendingDeletion", func() error {
			_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("doomed")})
			return err
		}, "Rejected.Unavailable", 400},
		{"Forbidden.ResourceNotFound_Get", func() error {
			_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("absent")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_GetDeleted", func() error {
			_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("gone")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_Stage", func() error {
			_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("exists"), VersionStage: tea.String("ACSPending")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_VersionWithoutStage", func() error {
			_, err := k.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("exists"), VersionId: tea.String("v0"), VersionStage: tea.String("ACSPrevious")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_Put", func() error {
			_, err := put(k, "absent", "x", "v1", "")
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_MoveToVersion", func() error {
			_, err := k.UpdateSecretVersionStage(&kms.UpdateSecretVersionStageRequest{SecretName: tea.String("exists"), VersionStage: tea.String("ACSCurrent"), MoveToVersion: tea.String("v9")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_Describe", func() error {
			_, err := k.DescribeSecret(&kms.DescribeSecretRequest{SecretName: tea.String("absent")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_List", func() error {
			_, err := k.ListSecretVersionIds(&kms.ListSecretVersionIdsRequest{SecretName: tea.String("absent")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"Forbidden.ResourceNotFound_Delete", func() error {
			_, err := k.DeleteSecret(&kms.DeleteSecretRequest{SecretName: tea.String("absent")})
			return err
		}, "Forbidden.ResourceNotFound", 404},
		{"InvalidParameter_RemoveCurrent", func() error {
			_, err := k.UpdateSecretVersionStage(&kms.UpdateSecretVersionStageRequest{SecretName: tea.String("exists"), VersionStage: tea.String("ACSCurrent"), RemoveFromVersion: tea.String("v0")})
			return err
		}, "InvalidParameter", 400},
		{"MissingParameter_SecretData", func() error {
			_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String("new"), VersionId: tea.String("v0")})
			return err
		}, "MissingParameter", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status := errCode(t, tt.call())
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantStatus, status)
		})
	}
	d, err := k.DescribeSecret(&kms.DescribeSecretRequest{SecretName: tea.String("doomed")})
	require.NoError(t, err)
	assert.NotEmpty(t, tea.StringValue(d.Body.PlannedDeleteTime))
}
