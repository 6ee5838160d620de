package emulator

import (
	"net/http"
	"sort"
)

// getUser serves CloudSSO GetUser (cloudsso-20210515 v1.2.0: GetUserRequest
// {DirectoryId, UserId}; GetUserResponseBody {RequestId, User{UserId,
// UserName, DisplayName, Status, ProvisionType, CreateTime, UpdateTime}}).
// A missing directory or user answers as ResetUserPassword does.
func (c *Cloud) getUser(p map[string]string) (map[string]any, *apiError) {
	dirID, userID := p["DirectoryId"], p["UserId"]
	switch {
	case dirID == "":
		return nil, errMissing("DirectoryId")
	case userID == "":
		return nil, errMissing("UserId")
	}
	d, ok := c.dirs[dirID]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.Directory", "The specified directory does not exist.")
	}
	u, ok := d.users[userID]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.User", "The specified user does not exist.")
	}
	created := kmsTime(c.now())
	return map[string]any{"User": map[string]any{
		"UserId": u.ID, "UserName": u.Name, "DisplayName": u.Name, "Status": "Enabled",
		"ProvisionType": "Manual", "CreateTime": created, "UpdateTime": created,
	}}, nil
}

// describeFabricOrganizationUsers serves BaaS DescribeFabricOrganizationUsers
// (https://help.aliyun.com/document_detail/128017.html: OrganizationId
// required, Location optional; answer {RequestId, Success, ErrorCode,
// Result[{Username, FullName, OrganizationId, RegionId, CreateTime,
// ExpireTime, ...}]}). Its users carry no password. An organization asked
// for in another location does not exist there (assumed, as for the reset).
func (c *Cloud) describeFabricOrganizationUsers(p map[string]string) (map[string]any, *apiError) {
	orgID, loc := p["OrganizationId"], p["Location"]
	if orgID == "" {
		return nil, errMissing("OrganizationId")
	}
	o, ok := c.orgs[orgID]
	if !ok || (loc != "" && o.Location != loc) {
		return nil, errorf(http.StatusNotFound, "OrganizationNotFound", "The specified organization does not exist.")
	}
	names := make([]string, 0, len(o.users))
	for name := range o.users {
		names = append(names, name)
	}
	sort.Strings(names)
	users := make([]any, 0, len(names))
	for _, name := range names {
		users = append(users, map[string]any{
			"Username": name, "FullName": name, "OrganizationId": o.ID, "RegionId": o.Location,
			"CreateTime": "1533025590", "ExpireTime": "1848385590",
		})
	}
	return map[string]any{"Success": true, "ErrorCode": 200, "Result": users}, nil
}

// RemoveSSOUser deletes a CloudSSO user, as an administrator would: later
// calls naming it answer EntityNotExists.User.
func (c *Cloud) RemoveSSOUser(directoryID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dirs[directoryID]; ok {
		delete(d.users, userID)
	}
}

// RemoveFabricUser deletes a user of a Fabric organization.
func (c *Cloud) RemoveFabricUser(orgID, username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.orgs[orgID]; ok {
		delete(o.users, username)
	}
}

// ssoReusedCode is the code the local cloud refuses a reused password with.
// CloudSSO documents PasswordReusePrevention (SetPasswordPolicy: "the
// previous N passwords cannot be reused") but no error code for it: this
// one is assumed.
const ssoReusedCode = "InvalidParameter.Password.Reused"

// reused reports whether pw is among u's last n passwords, the one in
// effect included.
func (u *ssoUser) reused(pw string, n int) bool {
	for i := len(u.history) - 1; i >= 0 && i >= len(u.history)-n; i-- {
		if u.history[i] == pw {
			return true
		}
	}
	return false
}
