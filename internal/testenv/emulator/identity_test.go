package emulator_test

import (
	"fmt"
	"net/http"
	"testing"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func TestCloudSSOResetUserPassword(t *testing.T) {
	t.Parallel()
	const dir, user = emulator.FixtureDirectoryID, emulator.FixtureUserID
	tests := []struct {
		name       string
		dir, user  string
		password   string
		generate   bool
		wantCode   string
		wantStatus int
	}{
		{name: "OK", dir: dir, user: user, password: "Fresh#Passw0rd-123"},
		{name: "OK_MaxLength", dir: dir, user: user, password: "Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!"[:32]},
		{name: "OK_Generated", dir: dir, user: user, generate: true},
		{name: "InvalidParameter.Password_TooShortForPolicy", dir: dir, user: user, password: "Ab1!ab1!ab", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "InvalidParameter.Password_TooLong", dir: dir, user: user, password: "Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!Aa1!x", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "InvalidParameter.Password_NoSpecial", dir: dir, user: user, password: "Abcdefgh12345", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "InvalidParameter.Password_NoUpper", dir: dir, user: user, password: "abcdefgh#12345", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "InvalidParameter.Password_NoLower", dir: dir, user: user, password: "ABCDEFGH#12345", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "InvalidParameter.Password_NoDigit", dir: dir, user: user, password: "Abcdefgh#abcde", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "EntityNotExists.Directory", dir: "d-0000000000zz", user: user, password: "Fresh#Passw0rd-123", wantCode: "EntityNotExists.Directory", wantStatus: 404},
		{name: "EntityNotExists.User", dir: dir, user: "u-000000000000000000zz", password: "Fresh#Passw0rd-123", wantCode: "EntityNotExists.User", wantStatus: 404},
		{name: "OperationDenied.SSOLogonEnabled", dir: emulator.FixtureSSOLogonDirectoryID, user: emulator.FixtureSSOLogonUserID, password: "Fresh#Passw0rd-123", wantCode: "OperationDenied.SSOLogonEnabled", wantStatus: 409},
	}
	for _, alg := range algorithms {
		for _, tt := range tests {
			t.Run(algName(alg)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c, eps := MustStart(t)
				sso := MustSSO(t, eps.CloudSSO, roleCred(t), alg)
				before, _ := c.SSOPassword(tt.dir, tt.user)
				req := &cloudsso.ResetUserPasswordRequest{
					DirectoryId: tea.String(tt.dir), UserId: tea.String(tt.user),
					RequirePasswordResetForNextLogin: tea.Bool(true),
				}
				if tt.generate {
					req.GenerateRandomPassword = tea.Bool(true)
				} else {
					req.Password = tea.String(tt.password)
				}
				resp, err := sso.ResetUserPassword(req)
				got, _ := c.SSOPassword(tt.dir, tt.user)
				if tt.wantCode != "" {
					code, status := errCode(t, err)
					assert.Equal(t, tt.wantCode, code)
					assert.Equal(t, tt.wantStatus, status)
					assert.Equal(t, before, got, "password unchanged")
					assert.Empty(t, c.AcceptedPasswords())
					return
				}
				require.NoError(t, err)
				assert.NotEmpty(t, tea.StringValue(resp.Body.RequestId))
				want := tt.password
				if tt.generate {
					want = tea.StringValue(resp.Body.NewPassword)
					assert.Len(t, want, 16)
				} else {
					assert.Nil(t, resp.Body.NewPassword, "a given password is not echoed")
				}
				assert.Equal(t, want, got)
				assert.Equal(t, []string{want}, c.AcceptedPasswords())
				require.NotEqual(t, before, got)
				mustReset, ok := c.SSORequiresPasswordReset(tt.dir, tt.user)
				assert.True(t, ok)
				assert.True(t, mustReset)
				calls := c.Calls()
				require.Len(t, calls, 1)
				if !tt.generate {
					assert.Equal(t, "***", calls[0].Params["Password"], "masked in the record")
				}
			})
		}
	}
}

func TestBaaSResetFabricOrganizationUserPassword(t *testing.T) {
	t.Parallel()
	const org, loc = emulator.FixtureOrganizationID, emulator.FixtureLocation
	tests := []struct {
		name       string
		org, user  string
		location   string
		password   string
		wantCode   string
		wantStatus int
	}{
		{name: "OK", org: org, user: "asian01", location: loc, password: "fresh-Passw0rd+/=~*"},
		{name: "OK_SecondUser", org: org, user: "asian02", location: loc, password: "another-one-42"},
		{name: "OrganizationNotFound", org: "peers-000000-000000000000", user: "asian01", location: loc, password: "fresh-password", wantCode: "OrganizationNotFound", wantStatus: 404},
		{name: "OrganizationNotFound_OtherRegion", org: org, user: "asian01", location: "cn-beijing", password: "fresh-password", wantCode: "OrganizationNotFound", wantStatus: 404},
		{name: "UserNotFound", org: org, user: "nobody", location: loc, password: "fresh-password", wantCode: "UserNotFound", wantStatus: 404},
		{name: "InvalidParameter.Password", org: org, user: "asian01", location: loc, password: "short", wantCode: "InvalidParameter.Password", wantStatus: 400},
		{name: "MissingParameter", org: org, user: "asian01", location: loc, wantCode: "MissingParameter", wantStatus: 400},
	}
	// BaaS documents only the HMAC-SHA1 signature; TestBaaSRefusesV3 checks
	// the other is refused.
	for _, alg := range []string{sigV2} {
		for _, tt := range tests {
			t.Run(algName(alg)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c, eps := MustStart(t)
				b := MustBaaS(t, eps.BaaS, MustAK(t, akID, akSecret), alg)
				before, _ := c.FabricPassword(tt.org, tt.user)
				resp, err := b.reset(tt.org, tt.user, tt.password, tt.location)
				got, _ := c.FabricPassword(tt.org, tt.user)
				calls := c.Calls()
				require.Len(t, calls, 1)
				if tt.password != "" {
					assert.Equal(t, "***", calls[0].Params["Password"], "masked in the record")
				}
				if tt.wantCode != "" {
					code, status := errCode(t, err)
					assert.Equal(t, tt.wantCode, code)
					assert.Equal(t, tt.wantStatus, status)
					assert.Equal(t, before, got)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.password, got)
				assert.Equal(t, fmt.Sprint(http.StatusOK), fmt.Sprint(resp["statusCode"]))
				body := resp["body"].(map[string]any)
				assert.Equal(t, true, body["Success"])
				assert.NotEmpty(t, body["RequestId"])
				result := body["Result"].(map[string]any)
				assert.Equal(t, tt.user, result["Username"])
				assert.Equal(t, tt.password, result["Password"], "the real service echoes the password")
				assert.Equal(t, []string{tt.password}, c.AcceptedPasswords())
			})
		}
	}
}
