package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestListUsersParameters(t *testing.T) {
	t.Parallel()
	cloud, eps := MustStart(t)
	users := make([]emulator.SSOUser, 30)
	for i := range users {
		users[i] = emulator.SSOUser{ID: fmt.Sprintf("u-p%04d", i), Name: fmt.Sprintf("ops-%02d", i)}
	}
	require.True(t, cloud.AddSSOUsers(emulator.FixtureDirectoryID, users...))
	sso := MustSSO(t, eps.CloudSSO, roleCred(t), sigV3)
	list := func(req *cloudsso.ListUsersRequest) (*cloudsso.ListUsersResponseBody, error) {
		req.DirectoryId = tea.String(emulator.FixtureDirectoryID)
		resp, err := sso.ListUsers(req)
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}

	t.Run("DefaultPageIsTen", func(t *testing.T) {
		b, err := list(&cloudsso.ListUsersRequest{})
		require.NoError(t, err)
		assert.Len(t, b.Users, 10)
		assert.True(t, tea.BoolValue(b.IsTruncated))
		assert.NotEmpty(t, tea.StringValue(b.NextToken))
	})
	t.Run("LastPageHasNoToken", func(t *testing.T) {
		b, err := list(&cloudsso.ListUsersRequest{MaxResults: tea.Int32(100)})
		require.NoError(t, err)
		assert.Len(t, b.Users, 33)
		assert.False(t, tea.BoolValue(b.IsTruncated))
		assert.Nil(t, b.NextToken)
	})
	t.Run("FilterEqIsCaseInsensitive", func(t *testing.T) {
		b, err := list(&cloudsso.ListUsersRequest{Filter: tea.String("UserName eq OPS-07")})
		require.NoError(t, err)
		require.Len(t, b.Users, 1)
		assert.Equal(t, "u-p0007", tea.StringValue(b.Users[0].UserId))
	})
	t.Run("TokenFollowsItsFilters", func(t *testing.T) {
		b, err := list(&cloudsso.ListUsersRequest{MaxResults: tea.Int32(5), Filter: tea.String("UserName sw ops-")})
		require.NoError(t, err)
		next, err := list(&cloudsso.ListUsersRequest{MaxResults: tea.Int32(5), Filter: tea.String("UserName sw ops-"), NextToken: b.NextToken})
		require.NoError(t, err)
		assert.Equal(t, "u-p0005", tea.StringValue(next.Users[0].UserId))
		_, err = list(&cloudsso.ListUsersRequest{MaxResults: tea.Int32(5), NextToken: b.NextToken})
		code, status := errCode(t, err)
		assert.Equal(t, "InvalidParameter.NextToken", code)
		assert.Equal(t, http.StatusBadRequest, status)
	})
	for _, tt := range []struct {
		name string
		req  *cloudsso.ListUsersRequest
	}{
		{"ErrMaxResultsZero", &cloudsso.ListUsersRequest{MaxResults: tea.Int32(0)}},
		{"ErrMaxResults101", &cloudsso.ListUsersRequest{MaxResults: tea.Int32(101)}},
		{"ErrFilterAttribute", &cloudsso.ListUsersRequest{Filter: tea.String("Email eq a@b")}},
		{"ErrFilterOperator", &cloudsso.ListUsersRequest{Filter: tea.String("UserName ew x")}},
		{"ErrStatus", &cloudsso.ListUsersRequest{Status: tea.String("Locked")}},
		{"ErrToken", &cloudsso.ListUsersRequest{NextToken: tea.String("forged")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := list(tt.req)
			code, status := errCode(t, err)
			assert.True(t, strings.HasPrefix(code, "InvalidParameter"), "code %s", code)
			assert.Equal(t, http.StatusBadRequest, status)
		})
	}
}

func TestListingsHoldNoPassword(t *testing.T) {
	t.Parallel()
	_, eps := MustStart(t)
	sso := MustSSO(t, eps.CloudSSO, roleCred(t), sigV3)
	list, err := sso.ListUsers(&cloudsso.ListUsersRequest{DirectoryId: tea.String(emulator.FixtureDirectoryID), MaxResults: tea.Int32(100)})
	require.NoError(t, err)
	user, err := sso.GetUser(&cloudsso.GetUserRequest{DirectoryId: tea.String(emulator.FixtureDirectoryID), UserId: tea.String(emulator.FixtureUserID)})
	require.NoError(t, err)
	res, err := MustBaaS(t, eps.BaaS, roleCred(t), sigV2).call("DescribeFabricOrganizationUsers", emulator.BaaSVersion,
		map[string]any{"OrganizationId": emulator.FixtureOrganizationID, "Location": emulator.FixtureLocation})
	require.NoError(t, err)
	fabric, err := json.Marshal(res["body"])
	require.NoError(t, err)
	assert.Contains(t, string(fabric), "asian01")
	for _, answer := range []string{list.Body.String(), user.Body.String(), string(fabric)} {
		for _, pw := range []string{"Placeholder#Alice1", "Placeholder#Bob123", "placeholder-fabric-01", "placeholder-fabric-02"} {
			assert.False(t, strings.Contains(answer, pw), "a listing holds a password")
		}
	}
}

func TestListSecretsFilters(t *testing.T) {
	t.Parallel()
	_, eps := MustStart(t)
	k := MustKMS(t, eps.KMS, roleCred(t), sigV3)
	for _, name := range []string{"pwreset/a", "pwreset/b", "pwreset/c", "other/a"} {
		_, err := k.CreateSecret(&kms.CreateSecretRequest{SecretName: tea.String(name), VersionId: tea.String("v1"), SecretData: tea.String("x"), EncryptionKeyId: tea.String(emulator.FixtureKMSKeyID)})
		require.NoError(t, err)
	}
	list := func(req *kms.ListSecretsRequest) ([]string, int32, error) {
		resp, err := k.ListSecrets(req)
		if err != nil {
			return nil, 0, err
		}
		var names []string
		for _, s := range resp.Body.SecretList.Secret {
			names = append(names, tea.StringValue(s.SecretName))
		}
		return names, tea.Int32Value(resp.Body.TotalCount), nil
	}
	tests := []struct {
		name      string
		req       *kms.ListSecretsRequest
		want      []string
		wantTotal int32
	}{
		{"All", &kms.ListSecretsRequest{}, []string{"other/a", "pwreset/a", "pwreset/b", "pwreset/c"}, 4},
		{"SecondPage", &kms.ListSecretsRequest{PageNumber: tea.Int32(2), PageSize: tea.Int32(3)}, []string{"pwreset/c"}, 4},
		{"ExactNames", &kms.ListSecretsRequest{Filters: tea.String(`[{"Key":"SecretName","Values":["pwreset/a","other/a"]}]`)}, []string{"other/a", "pwreset/a"}, 2},
		{"NotAPrefix", &kms.ListSecretsRequest{Filters: tea.String(`[{"Key":"SecretName","Values":["pwreset/"]}]`)}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, total, err := list(tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names)
			assert.Equal(t, tt.wantTotal, total)
		})
	}
	for _, req := range []*kms.ListSecretsRequest{
		{PageSize: tea.Int32(101)}, {PageNumber: tea.Int32(0)}, {Filters: tea.String(`[{"Key":"TagKey","Values":["x"]}]`)}, {Filters: tea.String(`nope`)},
	} {
		_, _, err := list(req)
		code, status := errCode(t, err)
		assert.Equal(t, "InvalidParameter", code)
		assert.Equal(t, http.StatusBadRequest, status)
	}
}

// fcCall calls InvokeFunction through CallApi, ROA, as the adapters do.
func fcCall(tb testing.TB, endpoint, function, invocationType string, payload []byte) (map[string]any, error) {
	tb.Helper()
	c, err := openapi.NewClient(config(tb, endpoint, roleCred(tb), sigV3))
	require.NoError(tb, err)
	params := &openapi.Params{
		Action: tea.String("InvokeFunction"), Version: tea.String(emulator.FCVersion), Protocol: tea.String("HTTPS"),
		Pathname: tea.String("/" + emulator.FCVersion + "/functions/" + function + "/invocations"), Method: tea.String("POST"),
		AuthType: tea.String("AK"), Style: tea.String("ROA"), ReqBodyType: tea.String("json"), BodyType: tea.String("string"),
	}
	req := &openapi.OpenApiRequest{Headers: map[string]*string{"x-fc-invocation-type": tea.String(invocationType)}, Stream: bytes.NewReader(payload)}
	return c.CallApi(params, req, &dara.RuntimeOptions{})
}

func TestInvokeFunctionRefusals(t *testing.T) {
	t.Parallel()
	cloud, _ := MustStart(t)
	rt := emulator.NewRuntime()
	t.Cleanup(func() { _ = rt.Close() })
	fcURL, err := cloud.StartFC(rt, emulator.FCOptions{})
	require.NoError(t, err)

	tests := []struct {
		name       string
		function   string
		invType    string
		payload    []byte
		wantCode   string
		wantStatus int
	}{
		{"ErrPayloadTooLarge", emulator.DefaultFunctionName, "Async", bytes.Repeat([]byte{'x'}, emulator.MaxAsyncPayload+1), "EntityTooLarge", http.StatusRequestEntityTooLarge},
		{"ErrSyncNotServed", emulator.DefaultFunctionName, "Sync", []byte(`{}`), "InvalidArgument", http.StatusBadRequest},
		{"ErrNoFunction", "other", "Async", []byte(`{}`), "FunctionNotFound", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fcCall(t, fcURL, tt.function, tt.invType, tt.payload)
			code, status := errCode(t, err)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantStatus, status)
		})
	}
	t.Run("ErrReplayed", func(t *testing.T) {
		proxy, last := MustProxy(t, fcURL)
		_, err := fcCall(t, proxy, emulator.DefaultFunctionName, "Async", []byte(`{"n":1}`))
		require.NoError(t, err)
		resp, err := send(fcURL, last())
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, readAll(t, resp.Body), "SignatureNonceUsed")
	})
	t.Run("ErrTamperedPath", func(t *testing.T) {
		proxy, last := MustProxy(t, fcURL)
		_, err := fcCall(t, proxy, emulator.DefaultFunctionName, "Async", []byte(`{"n":2}`))
		require.NoError(t, err)
		c := last()
		c.path = strings.Replace(c.path, emulator.DefaultFunctionName, "pwreset2", 1)
		resp, err := send(fcURL, c)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Contains(t, readAll(t, resp.Body), "SignatureDoesNotMatch", "the canonical URI is the path")
	})
	assert.Len(t, cloud.AsyncInvocations(), 2, "only the two signed, accepted invocations are queued")
}
