package aliyun

// Listing and lookups of the accounts a selector names, and the password
// policy of a CloudSSO directory. Wire facts and their sources:
// docs/wire-facts.md ("CloudSSO" and "BaaS").

import (
	"context"
	"encoding/json"
	"strings"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// listUsersPageSize is the MaxResults of every ListUsers call: the largest
// the API takes ("Valid values: 1 to 100", cloudsso-20210515 v1.2.0
// ListUsersRequest.MaxResults).
const listUsersPageSize = 100

// maxListPages bounds a listing, so that a service that kept answering
// IsTruncated with new tokens could not keep an invocation busy forever:
// 100,000 users (DESIGN.md's largest maxTargets) at 100 per page.
const maxListPages = 1000

// Values of ListUsers' Status and ProvisionType filters, and of the users'
// fields (cloudsso-20210515 v1.2.0 ListUsersRequest comments).
const (
	ssoStatusEnabled           = "Enabled"
	ssoStatusDisabled          = "Disabled"
	ssoProvisionManual         = "Manual"
	ssoProvisionSynchronized   = "Synchronized"
	maxSSOUserNamePrefixLength = 64 // a CloudSSO user name is at most 64 characters (CreateUser's UserName, as reset.maxUserNamePrefix); that it bounds the Filter value too is assumed
)

// Directory lists and looks up CloudSSO users and BaaS Fabric organization
// users, and reads CloudSSO password policies. It shares the clients'
// transport and credentials (see call.go). Make it with NewDirectory.
type Directory struct {
	sso      *cloudsso.Client // never called directly: each call runs on a copy
	ssoCall  caller
	baas     *openapi.Client // never called directly: each call runs on a copy
	baasCall caller
}

// NewDirectory returns the Directory of the instance's clients.
func NewDirectory(c *Clients) *Directory {
	return &Directory{sso: c.CloudSSO.base, ssoCall: c.CloudSSO.caller, baas: c.Fabric.base, baasCall: c.Fabric.caller}
}

// SSOUser is a CloudSSO user as ListUsers and GetUser describe it.
type SSOUser struct {
	UserID        string
	UserName      string
	Status        string // ssoStatusEnabled or ssoStatusDisabled
	ProvisionType string // ssoProvisionManual or ssoProvisionSynchronized
}

// SSOUserFilter narrows ListSSOUsers on the service side. Empty fields do
// not filter.
type SSOUserFilter struct {
	Status        string // ssoStatusEnabled or ssoStatusDisabled
	ProvisionType string // ssoProvisionManual or ssoProvisionSynchronized
	// UserNamePrefix becomes the filter "UserName sw <prefix>". The service
	// compares it case-insensitively ("The value is not case-sensitive").
	UserNamePrefix string
}

// validate checks the filter before any call: the service would refuse
// other values, and a prefix with a space would change the filter's meaning.
func (f SSOUserFilter) validate() error {
	switch f.Status {
	case "", ssoStatusEnabled, ssoStatusDisabled:
	default:
		return reset.FieldError("status", "must be %q or %q", ssoStatusEnabled, ssoStatusDisabled)
	}
	switch f.ProvisionType {
	case "", ssoProvisionManual, ssoProvisionSynchronized:
	default:
		return reset.FieldError("provisionType", "must be %q or %q", ssoProvisionManual, ssoProvisionSynchronized)
	}
	if len(f.UserNamePrefix) > maxSSOUserNamePrefixLength {
		return reset.FieldError("userNamePrefix", "must be at most %d characters", maxSSOUserNamePrefixLength)
	}
	for _, r := range f.UserNamePrefix {
		if r <= ' ' || r > '~' {
			return reset.FieldError("userNamePrefix", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// ListSSOUsers returns every user of directoryID that matches f, following
// NextToken until IsTruncated is false. A token the service repeats, or more
// than maxListPages pages, is an upstream failure rather than a loop. Each
// page is one call, not retried here (reset's rotator lists page by page
// with ListSSOUsersPage, and retries and paces each page itself).
func (d *Directory) ListSSOUsers(ctx context.Context, directoryID string, f SSOUserFilter) ([]SSOUser, error) {
	const op = "ListUsers"
	var out []SSOUser
	seen := map[string]bool{}
	token := ""
	for page := 0; ; page++ {
		if page == maxListPages {
			return nil, reset.Errorf(reset.EUpstream, "cloudsso %s: more than %d pages", op, maxListPages)
		}
		users, next, err := d.ListSSOUsersPage(ctx, directoryID, f, token)
		if err != nil {
			return nil, err
		}
		out = append(out, users...)
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, reset.Errorf(reset.EUpstream, "cloudsso %s: the service repeated a NextToken", op)
		}
		seen[next] = true
		token = next
	}
}

// ListSSOUsersPage returns one page of the users of directoryID that match
// f: the page token names (the first page when empty), and the NextToken of
// the page after it, empty at the last page (IsTruncated false). A token
// must be passed with the filter it was issued for ("maintain the settings
// of the other request parameters", ListUsers' NextToken); a token the
// service refuses is EInvalid (InvalidParameter.NextToken, assumed code).
func (d *Directory) ListSSOUsersPage(ctx context.Context, directoryID string, f SSOUserFilter, token string) ([]SSOUser, string, error) {
	if err := f.validate(); err != nil {
		return nil, "", err
	}
	req := &cloudsso.ListUsersRequest{
		DirectoryId: dara.String(directoryID),
		MaxResults:  dara.Int32(listUsersPageSize),
	}
	if f.Status != "" {
		req.Status = dara.String(f.Status)
	}
	if f.ProvisionType != "" {
		req.ProvisionType = dara.String(f.ProvisionType)
	}
	if f.UserNamePrefix != "" {
		req.Filter = dara.String("UserName sw " + f.UserNamePrefix)
	}
	if token != "" {
		req.NextToken = dara.String(token)
	}
	body, err := d.listUsersPage(ctx, req)
	if err != nil {
		return nil, "", err
	}
	var out []SSOUser
	for _, u := range body.Users {
		if u != nil {
			out = append(out, SSOUser{
				UserID: dara.StringValue(u.UserId), UserName: dara.StringValue(u.UserName),
				Status: dara.StringValue(u.Status), ProvisionType: dara.StringValue(u.ProvisionType),
			})
		}
	}
	next := dara.StringValue(body.NextToken)
	if !dara.BoolValue(body.IsTruncated) {
		next = ""
	}
	return out, next, nil
}

func (d *Directory) listUsersPage(ctx context.Context, req *cloudsso.ListUsersRequest) (*cloudsso.ListUsersResponseBody, error) {
	const op = "ListUsers"
	c, err := d.ssoCall.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	defer c.cancel()
	cl := *d.sso
	cl.Credential = c.cred
	cl.HttpClient = c.http
	resp, err := cl.ListUsersWithOptions(req, runtimeOptions())
	if err != nil {
		return nil, cloudSSOError(op, err)
	}
	if resp == nil || resp.Body == nil {
		return nil, reset.Errorf(reset.EUpstream, "cloudsso %s: answer has no body", op)
	}
	return resp.Body, nil
}

// GetSSOUser returns user userID of directoryID; a missing directory or user
// is ENotFound.
func (d *Directory) GetSSOUser(ctx context.Context, directoryID, userID string) (SSOUser, error) {
	return getSSOUser(ctx, d.sso, d.ssoCall, directoryID, userID)
}

// getSSOUser is GetUser (cloudsso-20210515 v1.2.0: GetUserRequest
// {DirectoryId, UserId}, answer GetUserResponseBody.User) on a copy of base,
// for both the directory and the account check.
func getSSOUser(ctx context.Context, base *cloudsso.Client, call caller, directoryID, userID string) (SSOUser, error) {
	const op = "GetUser"
	c, err := call.begin(ctx, op)
	if err != nil {
		return SSOUser{}, err
	}
	defer c.cancel()
	cl := *base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	resp, err := cl.GetUserWithOptions(&cloudsso.GetUserRequest{DirectoryId: dara.String(directoryID), UserId: dara.String(userID)}, runtimeOptions())
	if err != nil {
		return SSOUser{}, cloudSSOError(op, err)
	}
	if resp == nil || resp.Body == nil || resp.Body.User == nil {
		return SSOUser{}, reset.Errorf(reset.EUpstream, "cloudsso %s: answer has no user", op)
	}
	u := resp.Body.User
	return SSOUser{
		UserID: dara.StringValue(u.UserId), UserName: dara.StringValue(u.UserName),
		Status: dara.StringValue(u.Status), ProvisionType: dara.StringValue(u.ProvisionType),
	}, nil
}

// PasswordPolicy is a CloudSSO directory's password policy, as
// GetPasswordPolicy answers it. Zero values mean "not limited" where the API
// reference says so (MinPasswordDifferentChars, PasswordReusePrevention,
// MaxLoginAttempts).
type PasswordPolicy struct {
	MinPasswordLength          int  `json:"MinPasswordLength"`
	MaxPasswordLength          int  `json:"MaxPasswordLength"`
	MinPasswordDifferentChars  int  `json:"MinPasswordDifferentChars"`
	PasswordNotContainUsername bool `json:"PasswordNotContainUsername"`
	MaxPasswordAge             int  `json:"MaxPasswordAge"`
	PasswordReusePrevention    int  `json:"PasswordReusePrevention"`
	MaxLoginAttempts           int  `json:"MaxLoginAttempts"`
	RequireNumbers             bool `json:"RequireNumbers"`
	RequireLowerCaseChars      bool `json:"RequireLowerCaseChars"`
	RequireUpperCaseChars      bool `json:"RequireUpperCaseChars"`
	RequireSymbols             bool `json:"RequireSymbols"`
	HardExpire                 bool `json:"HardExpire"`
}

// GetPasswordPolicy reads directoryID's password policy. A missing
// directory is ENotFound; throttling is EThrottled.
func (d *Directory) GetPasswordPolicy(ctx context.Context, directoryID string) (PasswordPolicy, error) {
	return readPasswordPolicy(ctx, d.sso, d.ssoCall, directoryID)
}

// readPasswordPolicy is GetPasswordPolicy on a copy of base, for both the
// directory and the rotation's password rules (CloudSSO.DirectoryRules).
func readPasswordPolicy(ctx context.Context, base *cloudsso.Client, call caller, directoryID string) (PasswordPolicy, error) {
	const op = "GetPasswordPolicy"
	c, err := call.begin(ctx, op)
	if err != nil {
		return PasswordPolicy{}, err
	}
	defer c.cancel()
	cl := *base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	req := &openapi.OpenApiRequest{Query: map[string]*string{"DirectoryId": dara.String(directoryID)}}
	res, err := cl.CallApi(rpcAction{Action: "GetPasswordPolicy", Version: "2021-05-15"}.params(), req, runtimeOptions())
	if err != nil {
		return PasswordPolicy{}, cloudSSOError(op, err)
	}
	body, _ := res["body"].(map[string]any)
	raw, ok := body["PasswordPolicy"].(map[string]any)
	if !ok {
		return PasswordPolicy{}, reset.Errorf(reset.EUpstream, "cloudsso %s: answer has no PasswordPolicy", op)
	}
	// The SDK decodes numbers as json.Number; a round trip through JSON
	// reads them into the typed struct.
	b, err := json.Marshal(raw)
	if err != nil {
		return PasswordPolicy{}, reset.Errorf(reset.EUpstream, "cloudsso %s: malformed PasswordPolicy", op)
	}
	var p PasswordPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return PasswordPolicy{}, reset.Errorf(reset.EUpstream, "cloudsso %s: malformed PasswordPolicy", op)
	}
	return p, nil
}

// FabricUser is a user of a BaaS Fabric organization, as
// DescribeFabricOrganizationUsers lists it.
type FabricUser struct {
	Username       string
	OrganizationID string
	FullName       string
}

// ListFabricUsers returns every user of organization orgID in location. The
// API has no paging: one answer lists the whole organization.
func (d *Directory) ListFabricUsers(ctx context.Context, orgID, location string) ([]FabricUser, error) {
	return listFabricUsers(ctx, d.baas, d.baasCall, orgID, location)
}

// listFabricUsers is DescribeFabricOrganizationUsers (BaaS 2018-12-21, RPC;
// OrganizationId required, Location optional;
// https://help.aliyun.com/document_detail/128017.html) on a copy of base,
// for both the directory and the account check.
func listFabricUsers(ctx context.Context, base *openapi.Client, call caller, orgID, location string) ([]FabricUser, error) {
	const op = "DescribeFabricOrganizationUsers"
	c, err := call.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	defer c.cancel()
	cl := *base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	req := &openapi.OpenApiRequest{Body: map[string]any{"OrganizationId": orgID, "Location": location}}
	res, err := cl.CallApi(rpcAction{Action: "DescribeFabricOrganizationUsers", Version: baasVersion}.params(), req, runtimeOptions())
	if err != nil {
		return nil, baasError(op, err)
	}
	if err := fabricOutcome(op, res); err != nil {
		return nil, err
	}
	body, _ := res["body"].(map[string]any)
	list, ok := body["Result"].([]any)
	if !ok && body["Result"] != nil {
		return nil, reset.Errorf(reset.EUpstream, "baas %s: Result is not a list", op)
	}
	out := make([]FabricUser, 0, len(list))
	for _, item := range list {
		m, _ := item.(map[string]any)
		name, _ := m["Username"].(string)
		if strings.TrimSpace(name) == "" {
			return nil, reset.Errorf(reset.EUpstream, "baas %s: a listed user has no Username", op)
		}
		org, _ := m["OrganizationId"].(string)
		full, _ := m["FullName"].(string)
		out = append(out, FabricUser{Username: name, OrganizationID: org, FullName: full})
	}
	return out, nil
}
