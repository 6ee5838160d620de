package aliyun

import (
	"context"

	"github.com/pwreset/pwreset/internal/reset"
)

// The existence checks of protocol v2's first rotation: a target whose
// account does not exist gets no secret (DESIGN.md, "The rotation protocol
// (v2)").
var (
	_ reset.AccountChecker = (*CloudSSO)(nil)
	_ reset.AccountChecker = (*Fabric)(nil)
)

// CheckAccount reports whether CloudSSO user t.UserID exists in directory
// t.DirectoryID, with GetUser (user). A missing directory or user
// (EntityNotExists.*) is ENotFound.
func (s *CloudSSO) CheckAccount(ctx context.Context, t reset.Target) error {
	_, err := s.user(ctx, t)
	return err
}

// user is GetUser of CloudSSO target t (getSSOUser, shared with
// Directory.GetSSOUser), refused when the answer names another user.
func (s *CloudSSO) user(ctx context.Context, t reset.Target) (SSOUser, error) {
	if t.Kind != reset.KindCloudSSO {
		return SSOUser{}, reset.Errorf(reset.EInternal, "cloudsso GetUser: target kind %q", t.Kind)
	}
	u, err := getSSOUser(ctx, s.base, s.caller, t.DirectoryID, t.UserID)
	if err != nil {
		return SSOUser{}, err
	}
	if u.UserID != "" && u.UserID != t.UserID {
		return SSOUser{}, reset.Errorf(reset.EUpstream, "cloudsso GetUser: answer names another user")
	}
	return u, nil
}

// CheckAccount reports whether user t.Username exists in organization
// t.OrganizationID of region t.Location: DescribeFabricOrganizationUsers
// (listFabricUsers, shared with Directory.ListFabricUsers) lists the
// organization's users and the user must be among them. A missing
// organization is ENotFound, as for the reset.
func (f *Fabric) CheckAccount(ctx context.Context, t reset.Target) error {
	const op = "DescribeFabricOrganizationUsers"
	if t.Kind != reset.KindFabric {
		return reset.Errorf(reset.EInternal, "baas %s: target kind %q", op, t.Kind)
	}
	users, err := listFabricUsers(ctx, f.base, f.caller, t.OrganizationID, t.Location)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Username == t.Username {
			return nil
		}
	}
	return reset.Errorf(reset.ENotFound, "baas %s: organization %s has no user %s", op, t.OrganizationID, t.Username)
}
