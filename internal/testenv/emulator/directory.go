package emulator

// CloudSSO ListUsers, GetUser and GetPasswordPolicy, the password policy
// ResetUserPassword enforces, and BaaS DescribeFabricOrganizationUsers.
// Sources of each behaviour: docs/wire-facts.md; "assumed" marks what no
// document says.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// PasswordPolicy is a CloudSSO directory's password policy, with
// GetPasswordPolicy's field names.
type PasswordPolicy struct {
	MinPasswordLength          int
	MaxPasswordLength          int
	MinPasswordDifferentChars  int
	PasswordNotContainUsername bool
	MaxPasswordAge             int
	PasswordReusePrevention    int
	MaxLoginAttempts           int
	RequireNumbers             bool
	RequireLowerCaseChars      bool
	RequireUpperCaseChars      bool
	RequireSymbols             bool
	HardExpire                 bool
}

// Error codes of the policy rules ResetUserPassword enforces. The API
// reference lists no codes for them (it points to the error center): all
// four are assumed, in the InvalidParameter.Password family the
// length-and-classes rule already answers.
const (
	CodePasswordPolicy          = "InvalidParameter.Password"
	CodePasswordDifferentChars  = "InvalidParameter.Password.DifferentChars"
	CodePasswordContainUsername = "InvalidParameter.Password.ContainUsername"
	CodePasswordReused          = "InvalidParameter.Password.Reused"
)

// maxPasswordHistory is the largest PasswordReusePrevention (0 to 24, API
// reference of SetPasswordPolicy).
const maxPasswordHistory = 24

// fleetState is the state the fleet APIs add to a Cloud. Its maps are made
// on first use, under Cloud.mu.
type fleetState struct {
	history map[string][]string // directory/user -> earlier passwords, newest first
	fc      fcState
	bus     busState
}

// effectivePolicy is d's policy as GetPasswordPolicy reports it; the larger
// of its minimum length and the directory's applies. The four character
// classes are always required, whatever the Require* fields say: the
// ResetUserPassword reference states them as the format of Password.
// Without a configured policy: the directory's minimum length, 32 at most, the four
// character classes the ResetUserPassword reference requires, and no other
// rule (the service's defaults for the other fields are assumed).
func effectivePolicy(d *directory) PasswordPolicy {
	if d.PasswordPolicy != nil {
		p := *d.PasswordPolicy
		p.MinPasswordLength = max(SSOMinPasswordLength, d.MinPasswordLength, p.MinPasswordLength)
		if p.MaxPasswordLength == 0 || p.MaxPasswordLength > SSOMaxPasswordLength {
			p.MaxPasswordLength = SSOMaxPasswordLength
		}
		return p
	}
	return PasswordPolicy{
		MinPasswordLength: max(SSOMinPasswordLength, d.MinPasswordLength), MaxPasswordLength: SSOMaxPasswordLength,
		RequireNumbers: true, RequireLowerCaseChars: true, RequireUpperCaseChars: true, RequireSymbols: true,
	}
}

// SetPasswordPolicy replaces a directory's password policy, as
// SetPasswordPolicy would. It reports whether the directory exists.
func (c *Cloud) SetPasswordPolicy(directoryID string, p PasswordPolicy) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[directoryID]
	if ok {
		d.PasswordPolicy = &p
		d.MinPasswordLength = p.MinPasswordLength
	}
	return ok
}

// AddSSOUsers adds users to a directory (replacing any with the same ID),
// cheaply enough for directories of 10,000 users. It reports whether the
// directory exists.
func (c *Cloud) AddSSOUsers(directoryID string, users ...SSOUser) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[directoryID]
	if !ok {
		return false
	}
	for _, u := range users {
		d.users[u.ID] = &ssoUser{SSOUser: u}
	}
	return true
}

// checkSSOPolicy applies the rules of d's policy beyond length and character
// classes (which ssoPasswordOK applies). A generated password is the
// service's own and is not checked.
func (c *Cloud) checkSSOPolicy(d *directory, u *ssoUser, pw string, generated bool) *apiError {
	if generated {
		return nil
	}
	p := effectivePolicy(d)
	n := len([]rune(pw))
	if n < p.MinPasswordLength || n > p.MaxPasswordLength {
		return errorf(http.StatusBadRequest, CodePasswordPolicy, "The password must be %d to %d characters.", p.MinPasswordLength, p.MaxPasswordLength)
	}
	distinct := map[rune]bool{}
	for _, r := range pw {
		distinct[r] = true
	}
	if len(distinct) < p.MinPasswordDifferentChars {
		return errorf(http.StatusBadRequest, CodePasswordDifferentChars, "The password must hold at least %d different characters.", p.MinPasswordDifferentChars)
	}
	if p.PasswordNotContainUsername && u.Name != "" && strings.Contains(strings.ToLower(pw), strings.ToLower(u.Name)) {
		// Case-insensitive: assumed (the reference says only "cannot contain the username").
		return errorf(http.StatusBadRequest, CodePasswordContainUsername, "The password must not contain the user name.")
	}
	if n := min(p.PasswordReusePrevention, maxPasswordHistory); n > 0 {
		// "The previous N passwords cannot be reused": the current one and
		// the N-1 before it (that the current one counts is assumed).
		recent := append([]string{u.Password}, c.fleet.history[d.ID+"/"+u.ID]...)
		for _, old := range recent[:min(n, len(recent))] {
			if old != "" && old == pw {
				return errorf(http.StatusBadRequest, CodePasswordReused, "The password was used recently and cannot be reused.")
			}
		}
	}
	return nil
}

// rememberSSOPassword keeps u's current password in its history before a
// reset replaces it.
func (c *Cloud) rememberSSOPassword(d *directory, u *ssoUser) {
	if u.Password == "" {
		return
	}
	if c.fleet.history == nil {
		c.fleet.history = map[string][]string{}
	}
	k := d.ID + "/" + u.ID
	h := append([]string{u.Password}, c.fleet.history[k]...)
	c.fleet.history[k] = h[:min(len(h), maxPasswordHistory)]
}

// cloudSSO dispatches CloudSSO's actions.
func (c *Cloud) cloudSSO(req *request) (map[string]any, *apiError) {
	switch req.action {
	case "ResetUserPassword":
		return c.resetUserPassword(req.params)
	case "ListUsers":
		return c.listUsers(req.params)
	case "GetUser":
		return c.getUser(req.params)
	case "GetPasswordPolicy":
		return c.getPasswordPolicy(req.params)
	}
	return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

// baas dispatches BaaS's actions.
func (c *Cloud) baas(req *request) (map[string]any, *apiError) {
	switch req.action {
	case "ResetFabricOrganizationUserPassword":
		return c.resetFabricPassword(req.params)
	case "DescribeFabricOrganizationUsers":
		return c.describeFabricUsers(req.params)
	}
	return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

func (c *Cloud) ssoDirectory(p map[string]string) (*directory, *apiError) {
	id := p["DirectoryId"]
	if id == "" {
		return nil, errMissing("DirectoryId")
	}
	d, ok := c.dirs[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.Directory", "The specified directory does not exist.")
	}
	return d, nil
}

func userStatus(u *ssoUser) string {
	if u.Status == "" {
		return "Enabled"
	}
	return u.Status
}

func userProvisionType(u *ssoUser) string {
	if u.ProvisionType == "" {
		return "Manual"
	}
	return u.ProvisionType
}

// userBody is a user as ListUsers and GetUser describe it: never a password.
func userBody(u *ssoUser) map[string]any {
	return map[string]any{
		"UserId": u.ID, "UserName": u.Name, "DisplayName": u.Name, "Status": userStatus(u),
		"ProvisionType": userProvisionType(u),
	}
}

// ssoFilter is a parsed ListUsers Filter: "UserName eq|sw <value>",
// compared case-insensitively (ListUsersRequest.Filter comment).
type ssoFilter struct {
	op, value string
}

func parseSSOFilter(raw string) (ssoFilter, *apiError) {
	if raw == "" {
		return ssoFilter{}, nil
	}
	parts := strings.Fields(raw)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "UserName") {
		return ssoFilter{}, errInvalid("Filter")
	}
	op := strings.ToLower(parts[1])
	if op != "eq" && op != "sw" {
		return ssoFilter{}, errInvalid("Filter")
	}
	return ssoFilter{op: op, value: strings.ToLower(parts[2])}, nil
}

func (f ssoFilter) match(name string) bool {
	name = strings.ToLower(name)
	switch f.op {
	case "eq":
		return name == f.value
	case "sw":
		return strings.HasPrefix(name, f.value)
	}
	return true
}

// listUsers pages the users sorted by id. NextToken is opaque to clients;
// here it is the last id returned and the other parameters it was issued
// for, so a token reused with other filters is refused ("maintain the
// settings of the other request parameters"; the code is assumed).
func (c *Cloud) listUsers(p map[string]string) (map[string]any, *apiError) {
	d, aerr := c.ssoDirectory(p)
	if aerr != nil {
		return nil, aerr
	}
	size := 10
	if v := p["MaxResults"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("MaxResults")
		}
		size = n
	}
	f, aerr := parseSSOFilter(p["Filter"])
	if aerr != nil {
		return nil, aerr
	}
	status, prov := p["Status"], p["ProvisionType"]
	if status != "" && status != "Enabled" && status != "Disabled" {
		return nil, errInvalid("Status")
	}
	if prov != "" && prov != "Manual" && prov != "Synchronized" {
		return nil, errInvalid("ProvisionType")
	}
	scope := strings.Join([]string{d.ID, p["Filter"], status, prov}, "\x00")
	after := ""
	if tok := p["NextToken"]; tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		s, last, ok := strings.Cut(string(raw), "\x01")
		if err != nil || !ok || s != scope {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter.NextToken", "The specified parameter NextToken is not valid.")
		}
		after = last
	}
	var ids []string
	for id, u := range d.users {
		if id <= after && after != "" {
			continue
		}
		if (status == "" || userStatus(u) == status) && (prov == "" || userProvisionType(u) == prov) && f.match(u.Name) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	total := len(ids)
	page := ids[:min(size, total)]
	users := make([]any, 0, len(page))
	for _, id := range page {
		users = append(users, userBody(d.users[id]))
	}
	out := map[string]any{"Users": users, "MaxResults": size, "IsTruncated": total > len(page), "TotalCounts": total}
	if total > len(page) {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(scope + "\x01" + page[len(page)-1]))
	}
	return out, nil
}

func (c *Cloud) getUser(p map[string]string) (map[string]any, *apiError) {
	d, aerr := c.ssoDirectory(p)
	if aerr != nil {
		return nil, aerr
	}
	id := p["UserId"]
	if id == "" {
		return nil, errMissing("UserId")
	}
	u, ok := d.users[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.User", "The specified user does not exist.")
	}
	return map[string]any{"User": userBody(u)}, nil
}

func (c *Cloud) getPasswordPolicy(p map[string]string) (map[string]any, *apiError) {
	d, aerr := c.ssoDirectory(p)
	if aerr != nil {
		return nil, aerr
	}
	pol := effectivePolicy(d)
	return map[string]any{"PasswordPolicy": map[string]any{
		"MinPasswordLength": pol.MinPasswordLength, "MaxPasswordLength": pol.MaxPasswordLength,
		"MinPasswordDifferentChars": pol.MinPasswordDifferentChars, "PasswordNotContainUsername": pol.PasswordNotContainUsername,
		"MaxPasswordAge": pol.MaxPasswordAge, "PasswordReusePrevention": pol.PasswordReusePrevention,
		"MaxLoginAttempts": pol.MaxLoginAttempts, "RequireNumbers": pol.RequireNumbers,
		"RequireLowerCaseChars": pol.RequireLowerCaseChars, "RequireUpperCaseChars": pol.RequireUpperCaseChars,
		"RequireSymbols": pol.RequireSymbols, "HardExpire": pol.HardExpire,
	}}, nil
}

// describeFabricUsers lists an organization's users, sorted by name, with
// the documented fields and never a password. Location is optional in the
// reference; given, it must be the organization's.
func (c *Cloud) describeFabricUsers(p map[string]string) (map[string]any, *apiError) {
	orgID, loc := p["OrganizationId"], p["Location"]
	if orgID == "" {
		return nil, errMissing("OrganizationId")
	}
	o, ok := c.orgs[orgID]
	if !ok || (loc != "" && o.Location != loc) {
		return nil, errorf(http.StatusNotFound, "OrganizationNotFound", "The specified organization does not exist.")
	}
	names := sortedKeys(o.users)
	result := make([]any, 0, len(names))
	for _, n := range names {
		result = append(result, map[string]any{
			"Username": n, "OrganizationId": orgID, "FullName": n, "RegionId": o.Location,
			"CreateTime": fmt.Sprint(c.now().Unix()), "ExpireTime": fmt.Sprint(c.now().AddDate(1, 0, 0).Unix()),
		})
	}
	return map[string]any{"Success": true, "ErrorCode": 200, "Result": result}, nil
}
