package aliyun

import (
	"context"
	"fmt"

	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"

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
// t.DirectoryID, with GetUser (cloudsso-20210515 v1.2.0: GetUserRequest
// {DirectoryId, UserId}, answer GetUserResponseBody.User). A missing
// directory or user (EntityNotExists.*) is ENotFound.
func (s *CloudSSO) CheckAccount(ctx context.Context, t reset.Target) error {
	const op = "GetUser"
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
	resp, err := cl.GetUserWithOptions(&cloudsso.GetUserRequest{
		DirectoryId: dara.String(t.DirectoryID),
		UserId:      dara.String(t.UserID),
	}, runtimeOptions())
	if err != nil {
		return cloudSSOError(op, err)
	}
	if resp == nil || resp.Body == nil || resp.Body.User == nil {
		return reset.Errorf(reset.EUpstream, "cloudsso %s: answer holds no user", op)
	}
	if id := dara.StringValue(resp.Body.User.UserId); id != "" && id != t.UserID {
		return reset.Errorf(reset.EUpstream, "cloudsso %s: answer names another user", op)
	}
	return nil
}

// fabricUsersParams describes DescribeFabricOrganizationUsers as BaaS's
// generated 2018-12-21 clients do (RPC; OrganizationId required, Location
// optional; https://help.aliyun.com/document_detail/128017.html).
func fabricUsersParams() *openapi.Params {
	return &openapi.Params{
		Action:      dara.String("DescribeFabricOrganizationUsers"),
		Version:     dara.String("2018-12-21"),
		Protocol:    dara.String("HTTPS"), // the client's protocol, from the endpoint, wins
		Pathname:    dara.String("/"),
		Method:      dara.String("POST"),
		AuthType:    dara.String("AK"),
		Style:       dara.String("RPC"),
		ReqBodyType: dara.String("formData"),
		BodyType:    dara.String("json"),
	}
}

// CheckAccount reports whether user t.Username exists in organization
// t.OrganizationID of region t.Location: DescribeFabricOrganizationUsers
// lists the organization's users (Result[].Username) and the user must be
// among them. A missing organization is ENotFound, as for the reset.
func (f *Fabric) CheckAccount(ctx context.Context, t reset.Target) error {
	const op = "DescribeFabricOrganizationUsers"
	if t.Kind != reset.KindFabric {
		return reset.Errorf(reset.EInternal, "baas %s: target kind %q", op, t.Kind)
	}
	c, err := f.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	cl := *f.base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	req := &openapi.OpenApiRequest{Body: map[string]any{
		"OrganizationId": t.OrganizationID,
		"Location":       t.Location,
	}}
	res, err := cl.CallApi(fabricUsersParams(), req, runtimeOptions())
	if err != nil {
		return baasError(op, err)
	}
	if err := fabricOutcome(op, res); err != nil {
		return err
	}
	body, _ := res["body"].(map[string]any)
	users, ok := body["Result"].([]any)
	if !ok && body["Result"] != nil {
		return reset.Errorf(reset.EUpstream, "baas %s: Result is not a list", op)
	}
	for _, u := range users {
		if m, ok := u.(map[string]any); ok && fmt.Sprint(m["Username"]) == t.Username {
			return nil
		}
	}
	return reset.Errorf(reset.ENotFound, "baas %s: organization %s has no user %s", op, t.OrganizationID, t.Username)
}
