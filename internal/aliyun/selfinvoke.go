package aliyun

// Asynchronous invocations of the function itself (runs longer than one
// invocation), with Function Compute 3.0's InvokeFunction. Wire facts and
// their sources: docs/wire-facts.md ("Function Compute").
//
// github.com/alibabacloud-go/fc-20230330/v4 v4.1.3 is served, but it is
// built on tea v1 and tea-utils/v2's RuntimeOptions rather than the dara
// types the other clients use here, and InvokeFunction is one ROA call:
// darabonba-openapi's CallApi sends it exactly as that client does
// (client.go InvokeFunctionWithOptions: Style ROA, POST
// /2023-03-30/functions/{name}/invocations, ACS3-HMAC-SHA256, the
// x-fc-invocation-type header), on the shared transport and per-call
// credentials, with no second module.

import (
	"bytes"
	"context"
	"net/url"
	"strings"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// maxAsyncPayload is the largest payload of an asynchronous invocation:
// 128 KB (Function Compute 3.0 limits, "Payload size of an asynchronous
// invocation request"; 256 KB only by ticket).
const maxAsyncPayload = 128 << 10

// fcVersion is Function Compute 3.0's API version.
const fcVersion = "2023-03-30"

// fcInvokeAction is InvokeFunction's action name, a package constant so the
// RAM policy test derives fc:InvokeFunction from the call.
const fcInvokeAction = "InvokeFunction"

// Shapes of what names the function and the invocation. A function name is
// letters, digits, "_" and "-", not starting with a digit or "-"
// (ALIYUN::FC3::Function's FunctionName,
// https://www.alibabacloud.com/help/en/ros/developer-reference/aliyun-fc3-function,
// which gives 1 to 64 characters; 128 here is a looser bound, assumed). The
// account id (digits), qualifier and async task id shapes are assumed: no
// page read gives them, and a value outside them only stops a
// self-invocation before it is sent.
var (
	reFunctionName = newPattern(`^[A-Za-z_][A-Za-z0-9_-]*$`, 128)
	reAccountID    = newPattern(`^[0-9]+$`, 32)
	reQualifier    = newPattern(`^[A-Za-z0-9_.-]+$`, 128)
	reTaskID       = newPattern(`^[A-Za-z_][A-Za-z0-9_-]*$`, 128)
)

// SelfInvokeConfig names the function and where its API is.
type SelfInvokeConfig struct {
	// Endpoint is host[:port] or a URL, like the other endpoints. Empty
	// means <AccountID>.<RegionID>.fc.aliyuncs.com.
	Endpoint string
	// AccountID and RegionID make the default endpoint; required when
	// Endpoint is empty (the FC context's account and region win per call).
	AccountID string
	RegionID  string
	// FunctionName is the function to invoke: itself.
	FunctionName string
	// Qualifier is the version or alias to invoke; empty is LATEST.
	Qualifier string
}

// SelfInvoker queues asynchronous invocations of the function. Make it with
// NewSelfInvoker.
type SelfInvoker struct {
	base      *openapi.Client
	caller    caller
	function  string
	qualifier string
	derived   bool // the endpoint was made from the account and region, not given
}

// NewSelfInvoker validates cfg and builds the invoker on the transport and
// credentials of c. Its error names the field at fault.
func NewSelfInvoker(c *Clients, cfg SelfInvokeConfig) (*SelfInvoker, error) {
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	base := c.Secrets.caller // the instance's transport, credentials and per-call limit
	oc := &openapi.Config{
		Endpoint: dara.String(ep.Host),
		Protocol: dara.String(ep.Protocol),
	}
	if cfg.RegionID != "" {
		oc.RegionId = dara.String(cfg.RegionID)
	}
	cl, err := openapi.NewClient(oc)
	if err != nil {
		return nil, &reset.Error{Code: reset.EInvalid, Field: "Endpoint", Message: "cannot build the Function Compute client", Err: err}
	}
	return &SelfInvoker{
		base:      cl,
		caller:    caller{service: "fc", hc: base.hc, creds: base.creds, limit: base.limit},
		function:  cfg.FunctionName,
		qualifier: cfg.Qualifier,
		derived:   strings.TrimSpace(cfg.Endpoint) == "",
	}, nil
}

// CheckSelfInvokeConfig checks cfg by NewSelfInvoker's rules, calling
// nothing; its error is a *reset.Error whose Field names the
// SelfInvokeConfig field at fault (internal/config maps it to its variable).
func CheckSelfInvokeConfig(cfg SelfInvokeConfig) error {
	_, err := cfg.endpoint()
	return err
}

// endpoint returns the checked endpoint of cfg.
func (cfg SelfInvokeConfig) endpoint() (Endpoint, error) {
	if !reFunctionName.MatchString(cfg.FunctionName) {
		return Endpoint{}, reset.FieldError("FunctionName", "must be a function name: a letter or _ first, then letters, digits, _ or -, at most 128")
	}
	if cfg.Qualifier != "" && !reQualifier.MatchString(cfg.Qualifier) {
		return Endpoint{}, reset.FieldError("Qualifier", "must be a version or alias name")
	}
	return defaultedEndpoint(cfg.Endpoint, documentedFCHost, cfg.AccountID, cfg.RegionID, fcHost)
}

// fcHost is Function Compute 3.0's public endpoint of account in region.
func fcHost(account, region string) string { return account + "." + region + ".fc.aliyuncs.com" }

// defaultedEndpoint parses raw by the endpoint rules (parseEndpoint), with
// HTTPS when it names no scheme; empty, the host is host(accountID,
// regionID), which then must both be well formed. Its error is a
// *reset.Error whose Field is the config struct's: Endpoint, AccountID or
// RegionID.
func defaultedEndpoint(raw string, documented func(string) bool, accountID, regionID string, host func(account, region string) string) (Endpoint, error) {
	ep, rule := parseEndpoint(raw, documented)
	if rule != "" {
		return Endpoint{}, reset.FieldError("Endpoint", "%s", rule)
	}
	if ep.Protocol == "" {
		ep.Protocol = "https"
	}
	if ep.Host != "" {
		return ep, nil
	}
	if !reAccountID.MatchString(accountID) {
		return Endpoint{}, reset.FieldError("AccountID", "must be the account id (digits) when no endpoint is given")
	}
	if !reset.ValidRegionID(regionID) {
		return Endpoint{}, reset.FieldError("RegionID", `must be a region id such as "cn-hangzhou" when no endpoint is given`)
	}
	ep.Host = host(accountID, regionID)
	return ep, nil
}

// Continuer is the reset.Continuer of a SelfInvoker: each chunk of a run is
// an asynchronous invocation of the function itself.
type Continuer struct{ s *SelfInvoker }

var _ reset.Continuer = Continuer{}

// NewContinuer returns the reset.Continuer that queues chunks with s.
func NewContinuer(s *SelfInvoker) Continuer { return Continuer{s: s} }

// Continue queues payload, a chunk's event, as an asynchronous invocation.
func (c Continuer) Continue(ctx context.Context, payload []byte) error {
	_, err := c.s.InvokeAsync(ctx, payload, "")
	return err
}

// InvokeAsync queues payload as an asynchronous invocation of the function
// and returns the request id FC gave it. taskID, when set, is sent as
// x-fc-async-task-id (FC accepts it only where asynchronous tasks are
// enabled; assumed to be refused otherwise). A payload over maxAsyncPayload
// is EInvalid before any call. The payload is never part of an error.
func (s *SelfInvoker) InvokeAsync(ctx context.Context, payload []byte, taskID string) (string, error) {
	const op = fcInvokeAction
	if len(payload) > maxAsyncPayload {
		return "", reset.Errorf(reset.EInvalid, "fc %s: payload is %d bytes, over the %d-byte limit of an asynchronous invocation", op, len(payload), maxAsyncPayload)
	}
	if taskID != "" && !reTaskID.MatchString(taskID) {
		return "", reset.FieldError("taskID", "must start with a letter or _ and hold only letters, digits, _ and -, at most 128")
	}
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return "", err
	}
	defer c.cancel()
	cl := *s.base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	function := s.function
	if f, ok := reset.FunctionOf(ctx); ok {
		// What Function Compute tells the invocation (fccontext) wins over
		// the configuration read at start, where it is well formed; a
		// configured Endpoint is kept as given.
		if reFunctionName.MatchString(f.Name) {
			function = f.Name
		}
		if s.derived && reAccountID.MatchString(f.AccountID) && reset.ValidRegionID(f.Region) {
			cl.Endpoint = dara.String(fcHost(f.AccountID, f.Region))
		}
	}

	headers := map[string]*string{"x-fc-invocation-type": dara.String("Async")}
	if taskID != "" {
		headers["x-fc-async-task-id"] = dara.String(taskID)
	}
	req := &openapi.OpenApiRequest{Headers: headers, Stream: bytes.NewReader(payload)}
	if s.qualifier != "" {
		req.Query = map[string]*string{"qualifier": dara.String(s.qualifier)}
	}
	params := &openapi.Params{
		Action:      dara.String(fcInvokeAction),
		Version:     dara.String(fcVersion),
		Protocol:    dara.String("HTTPS"), // the client's protocol, from the endpoint, wins
		Pathname:    dara.String("/" + fcVersion + "/functions/" + url.PathEscape(function) + "/invocations"),
		Method:      dara.String("POST"),
		AuthType:    dara.String("AK"),
		Style:       dara.String("ROA"),
		ReqBodyType: dara.String("json"),
		BodyType:    dara.String("string"), // an accepted async invocation answers 202 with an empty body
	}
	res, err := cl.CallApi(params, req, runtimeOptions())
	if err != nil {
		return "", fcError(op, err)
	}
	id := headerValue(res["headers"], "x-fc-request-id")
	if !reRequestID.MatchString(id) {
		id = ""
	}
	return id, nil
}

// headerValue reads one response header out of CallApi's result, whose
// "headers" is a map[string]*string or, after dara.Convert, a map[string]any.
func headerValue(h any, name string) string {
	switch m := h.(type) {
	case map[string]*string:
		return dara.StringValue(m[name])
	case map[string]any:
		switch v := m[name].(type) {
		case string:
			return v
		case *string:
			return dara.StringValue(v)
		}
	}
	return ""
}

// fcError classifies a Function Compute error by the generic rules: its
// codes (e.g. FunctionNotFound, 404) are not otherwise special here.
func fcError(op string, err error) error {
	return classify("fc", op, err, func(string, *APIError) (reset.ErrorCode, error, bool) { return "", nil, false })
}
