package aliyun

import (
	"context"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
)

// Listers returns reset's Lister of each kind, on d: a CloudSSO directory's
// users (ListUsers, every page, the selector's filters sent to the service)
// and a Fabric organization's (DescribeFabricOrganizationUsers, one call).
func (d *Directory) Listers() map[reset.Kind]reset.Lister {
	return map[reset.Kind]reset.Lister{
		reset.KindCloudSSO: ssoLister{d},
		reset.KindFabric:   fabricLister{d},
	}
}

// ssoLister is reset's PageLister of a CloudSSO directory: the rotator
// lists it page by page (ListPage), retrying and pacing each page.
type ssoLister struct{ d *Directory }

var _ reset.PageLister = ssoLister{}

func ssoFilter(sel reset.Selector) SSOUserFilter {
	return SSOUserFilter{Status: sel.Status, ProvisionType: sel.ProvisionType, UserNamePrefix: sel.UserNamePrefix}
}

func (l ssoLister) ListAccounts(ctx context.Context, scope reset.Target, sel reset.Selector) ([]reset.Account, error) {
	users, err := l.d.ListSSOUsers(ctx, scope.DirectoryID, ssoFilter(sel))
	if err != nil {
		return nil, err
	}
	return ssoAccounts(scope, users), nil
}

func (l ssoLister) ListPage(ctx context.Context, scope reset.Target, sel reset.Selector, token string) (reset.AccountPage, error) {
	users, next, err := l.d.ListSSOUsersPage(ctx, scope.DirectoryID, ssoFilter(sel), token)
	if err != nil {
		return reset.AccountPage{}, err
	}
	return reset.AccountPage{Accounts: ssoAccounts(scope, users), Next: next}, nil
}

func ssoAccounts(scope reset.Target, users []SSOUser) []reset.Account {
	out := make([]reset.Account, len(users))
	for i, u := range users {
		t := scope
		t.UserID = u.UserID
		out[i] = reset.Account{Target: t, UserName: u.UserName, Status: u.Status, ProvisionType: u.ProvisionType}
	}
	return out
}

type fabricLister struct{ d *Directory }

func (l fabricLister) ListAccounts(ctx context.Context, scope reset.Target, _ reset.Selector) ([]reset.Account, error) {
	users, err := l.d.ListFabricUsers(ctx, scope.OrganizationID, scope.Location)
	if err != nil {
		return nil, err
	}
	out := make([]reset.Account, 0, len(users))
	for _, u := range users {
		if u.OrganizationID != "" && u.OrganizationID != scope.OrganizationID {
			continue // another organization's user: not this scope's
		}
		t := scope
		t.Username = u.Username
		out = append(out, reset.Account{Target: t, UserName: u.Username})
	}
	return out, nil
}

// SweepLister is l as reset's SecretLister: names only, and each version's
// creation time parsed (KMS writes RFC 3339, e.g. "2026-12-01T16:02:25Z";
// a time it cannot parse is left zero, so that the sweep reports no age).
func (l *SecretLister) SweepLister() reset.SecretLister { return sweepLister{l} }

type sweepLister struct{ l *SecretLister }

func (s sweepLister) ListSecrets(ctx context.Context, prefix string) ([]string, error) {
	list, err := s.l.ListSecrets(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.Name
	}
	return out, nil
}

func (s sweepLister) ListVersions(ctx context.Context, name string) ([]reset.VersionInfo, error) {
	vs, err := s.l.ListVersions(ctx, name, false)
	if err != nil {
		return nil, err
	}
	out := make([]reset.VersionInfo, len(vs))
	for i, v := range vs {
		out[i] = reset.VersionInfo{VersionID: v.VersionID, Stages: v.Stages}
		if t, err := time.Parse(time.RFC3339, v.CreateTime); err == nil {
			out[i].Created = t
		}
	}
	return out, nil
}
