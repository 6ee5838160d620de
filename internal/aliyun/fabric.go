package aliyun

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"

	"github.com/pwreset/pwreset/internal/reset"
)

// Fabric implements reset.Resetter for the users of a BaaS Hyperledger
// Fabric organization with ResetFabricOrganizationUserPassword. No generated
// BaaS module is available, so it calls the API through darabonba-openapi's
// generic CallApi, exactly as the generated 2018-12-21 client would.
type Fabric struct {
	base   *openapi.Client // never called directly: each call runs on a copy (see call.go)
	caller caller
}

var _ reset.Resetter = (*Fabric)(nil)

// baasVersion is the BaaS API version every call names.
const baasVersion = "2018-12-21"

// ResetPassword sets the password of user t.Username of organization
// t.OrganizationID in region t.Location.
//
// BaaS echoes the new password in its response: the body is only checked for
// success and dropped, never kept, logged or returned.
func (f *Fabric) ResetPassword(ctx context.Context, t reset.Target, password string) error {
	const op = "ResetFabricOrganizationUserPassword"
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
		"Username":       t.Username,
		"Password":       password,
		"Location":       t.Location,
	}}
	res, err := cl.CallApi(rpcAction{Action: "ResetFabricOrganizationUserPassword", Version: baasVersion}.params(), req, runtimeOptions())
	if err != nil {
		return baasError(op, err)
	}
	return fabricOutcome(op, res)
}

// fabricOutcome checks a 2xx answer's Success flag. It reads nothing else of
// the body, which holds the password.
func fabricOutcome(op string, res map[string]any) error {
	body, _ := res["body"].(map[string]any)
	if body == nil {
		return reset.Errorf(reset.EUpstream, "baas %s: answer has no body", op)
	}
	if ok, _ := body["Success"].(bool); ok {
		return nil
	}
	a := &APIError{Service: "baas", Code: "Success=false"}
	if n, err := strconv.Atoi(fmt.Sprint(res["statusCode"])); err == nil {
		a.StatusCode = n
	}
	// ErrorCode is a number in this API's answers (a json.Number here).
	switch v := body["ErrorCode"].(type) {
	case string:
		a.Code = v
	case json.Number:
		a.Code = v.String()
	}
	a.RequestID, _ = firstString(body, "RequestId", "requestId")
	a.clean()
	msg := "baas " + op + ": failed with error code " + a.Code
	if a.RequestID != "" {
		msg += " (request id " + a.RequestID + ")"
	}
	return &reset.Error{Code: reset.EUpstream, Message: msg, Err: a}
}

// baasError classifies a BaaS error by the table of errors.go.
func baasError(op string, err error) error {
	return classify("baas", op, err, nil)
}
