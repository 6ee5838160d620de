package aliyun

import (
	"context"
	"strings"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// CloudSSO implements reset.Resetter for CloudSSO users with
// ResetUserPassword.
type CloudSSO struct {
	base   *cloudsso.Client // never called directly: each call runs on a copy (see call.go)
	caller caller
}

var _ reset.Resetter = (*CloudSSO)(nil)

// ResetPassword sets the password of the CloudSSO user t.UserID in directory
// t.DirectoryID. The service never generates one (GenerateRandomPassword is
// false): a generated password would exist only in the response.
func (s *CloudSSO) ResetPassword(ctx context.Context, t reset.Target, password string) error {
	const op = "ResetUserPassword"
	if t.Kind != reset.KindCloudSSO {
		return reset.Errorf(reset.EInternal, "cloudsso %s: target kind %q", op, t.Kind)
	}
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	cl := *s.base
	cl.Credential = c.cred
	cl.HttpClient = c.http

	req := &cloudsso.ResetUserPasswordRequest{
		DirectoryId:                      dara.String(t.DirectoryID),
		UserId:                           dara.String(t.UserID),
		Password:                         dara.String(password),
		GenerateRandomPassword:           dara.Bool(false),
		RequirePasswordResetForNextLogin: dara.Bool(t.RequirePasswordResetForNextLogin),
	}
	// The response holds no password when none is generated; it is dropped.
	if _, err := cl.ResetUserPasswordWithOptions(req, runtimeOptions()); err != nil {
		return cloudSSOError(op, err)
	}
	return nil
}

// cloudSSOError classifies a CloudSSO error by the table of errors.go: a
// missing directory or user is ENotFound, a reset refused because SSO logon
// is enabled is EConflict.
func cloudSSOError(op string, err error) error {
	return classify("cloudsso", op, err, func(_ string, a *APIError) (reset.ErrorCode, error, bool) {
		if isReuseRefusal(a.Code) {
			return reset.EInvalid, reset.ErrPasswordReused, true
		}
		if classOf(a) == reset.EConflict && strings.Contains(strings.ToLower(a.Code), "sso") {
			// The codes of errors.go's SSO rows: every user of the
			// directory answers the same, so a selector run stops here.
			return reset.EConflict, reset.ErrSSOLogonEnabled, true
		}
		return "", nil, false
	})
}

// isReuseRefusal reports whether a CloudSSO code refuses a password because
// it was used before (the directory's PasswordReusePrevention, documented
// in SetPasswordPolicy / GetPasswordPolicy). Neither the API docs nor the
// SDK name that code: the match is broad and assumed ("Reuse", "History",
// or "Password" with "Used"), and the rotator logs the real code whenever
// it counts one.
func isReuseRefusal(code string) bool {
	c := strings.ToLower(code)
	return strings.Contains(c, "reuse") || strings.Contains(c, "history") ||
		(strings.Contains(c, "password") && strings.Contains(c, "used"))
}
