package ebsetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
)

// Config says where and as whom the client calls.
type Config struct {
	// Region of the bus, the rule and the function.
	Region string
	// Endpoint is host[:port] or a URL whose scheme sets the protocol;
	// http:// only for a loopback host (the local cloud). Empty means
	// eventbridge-console.<region>.aliyuncs.com over HTTPS (EventBridge API
	// reference, "Endpoints", 2020-04-01).
	Endpoint string
	// Credential signs every call: the deployer's, never the function's.
	Credential credentials.Credential
}

// Client calls EventBridge's management API.
type Client struct {
	api *openapi.Client
}

// DefaultEndpoint is the management API's public endpoint in region.
func DefaultEndpoint(region string) string {
	return "eventbridge-console." + region + ".aliyuncs.com"
}

// NewClient builds a client; it makes no call.
func NewClient(cfg Config) (*Client, error) {
	if !reRegion.MatchString(cfg.Region) {
		return nil, fmt.Errorf("%w: region %q: must be a region id such as cn-hangzhou", ErrInvalid, cfg.Region)
	}
	if cfg.Credential == nil {
		return nil, fmt.Errorf("%w: no credential", ErrInvalid)
	}
	host, protocol, err := endpoint(cfg.Endpoint, cfg.Region)
	if err != nil {
		return nil, err
	}
	api, err := openapi.NewClient(&openapi.Config{
		Credential:     cfg.Credential,
		Endpoint:       tea.String(host),
		Protocol:       tea.String(protocol),
		RegionId:       tea.String(cfg.Region),
		ConnectTimeout: tea.Int(5000),
		ReadTimeout:    tea.Int(10000),
	})
	if err != nil {
		return nil, fmt.Errorf("eventbridge client: %w", err)
	}
	return &Client{api: api}, nil
}

// endpoint splits an endpoint setting into host and protocol, refusing
// plain HTTP to anything but loopback: the calls carry the deployer's
// signature and the function's ARN.
func endpoint(s, region string) (host, protocol string, err error) {
	if s == "" {
		return DefaultEndpoint(region), "HTTPS", nil
	}
	if !strings.Contains(s, "://") {
		return s, "HTTPS", nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("%w: endpoint %q: must be host[:port] or scheme://host[:port]", ErrInvalid, s)
	}
	switch u.Scheme {
	case "https":
		return u.Host, "HTTPS", nil
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", "", fmt.Errorf("%w: endpoint %q: http:// only for a loopback host; use https://", ErrInvalid, s)
		}
		return u.Host, "HTTP", nil
	}
	return "", "", fmt.Errorf("%w: endpoint %q: scheme must be http or https", ErrInvalid, s)
}

// APIError is an error answer of the EventBridge API.
type APIError struct {
	Action     string
	StatusCode int
	Code       string
	RequestID  string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("eventbridge %s: %s", e.Action, e.Code)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// notFound reports whether an answer says the bus or the rule does not
// exist: EventBusNotExist, EventRuleNotExist (open-source EventBridge) or
// EventRuleNotExisted (Terraform provider). Matching "NotExist" covers all
// three.
func (e *APIError) notFound() bool { return strings.Contains(e.Code, "NotExist") }

// alreadyExists reports whether a Create* found the resource there:
// EventBusAlreadyExist, EventRuleAlreadyExist, or a plural variant.
func (e *APIError) alreadyExists() bool { return strings.Contains(e.Code, "AlreadyExist") }

// call sends one RPC action with string parameters and returns the answer's
// body. A 4xx/5xx answer, and a 2xx answer whose Code is neither "Success"
// nor "200" or whose Success is false, are *APIError.
func (c *Client) call(ctx context.Context, action string, query map[string]string) (map[string]any, error) {
	q := make(map[string]*string, len(query))
	for k, v := range query {
		q[k] = tea.String(v)
	}
	params := &openapi.Params{
		Action:      tea.String(action),
		Version:     tea.String(Version),
		Protocol:    tea.String("HTTPS"), // the client's protocol, from the endpoint, wins
		Pathname:    tea.String("/"),
		Method:      tea.String("POST"),
		AuthType:    tea.String("AK"),
		Style:       tea.String("RPC"),
		ReqBodyType: tea.String("formData"),
		BodyType:    tea.String("json"),
	}
	res, err := c.api.CallApiWithCtx(ctx, params, &openapi.OpenApiRequest{Query: q}, &dara.RuntimeOptions{})
	if err != nil {
		if a, ok := apiErrorOf(action, err); ok {
			return nil, a
		}
		return nil, fmt.Errorf("eventbridge %s: %w", action, err)
	}
	body, _ := res["body"].(map[string]any)
	if body == nil {
		return nil, fmt.Errorf("eventbridge %s: answer has no JSON body", action)
	}
	code := fmt.Sprint(body["Code"])
	failed := body["Success"] == false || (body["Code"] != nil && code != "Success" && code != "200")
	if failed {
		a := &APIError{Action: action, Code: code}
		a.RequestID, _ = body["RequestId"].(string)
		return nil, a
	}
	return body, nil
}

func apiErrorOf(action string, err error) (*APIError, bool) {
	var sdkErr *tea.SDKError
	if errors.As(err, &sdkErr) {
		a := &APIError{Action: action, Code: tea.StringValue(sdkErr.Code), StatusCode: tea.IntValue(sdkErr.StatusCode)}
		var data map[string]any
		if json.Unmarshal([]byte(tea.StringValue(sdkErr.Data)), &data) == nil {
			a.RequestID, _ = data["RequestId"].(string)
		}
		return a, true
	}
	var respErr dara.ResponseError
	if errors.As(err, &respErr) {
		a := &APIError{Action: action, Code: dara.StringValue(respErr.GetCode()), StatusCode: dara.IntValue(respErr.GetStatusCode())}
		if d := respErr.GetData(); d != nil {
			a.RequestID, _ = d["RequestId"].(string)
		}
		return a, true
	}
	return nil, false
}

// SendToFCRole is the service-linked role EventBridge assumes to invoke
// functions.
const SendToFCRole = "AliyunServiceRoleForEventBridgeSendToFC"

// Step is one thing Apply or Remove did, for the operator to read.
type Step struct {
	Action string // the API action called, e.g. "CreateEventBus"
	What   string // e.g. `event bus "pwreset"`
	Result string // "created", "ensured", "exists", "updated", "deleted", "absent"
}

func (s Step) String() string { return s.What + ": " + s.Result + " (" + s.Action + ")" }

// Apply creates the bus, the rule and the target, or brings existing ones
// to s: a second run changes nothing but the rule's pattern and the target,
// which it sets again. It stops at the first failure and returns the steps
// done so far.
func (c *Client) Apply(ctx context.Context, s Setup) ([]Step, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var steps []Step
	// EventBridge invokes the function as the service-linked role
	// AliyunServiceRoleForEventBridgeSendToFC (EventBridge, "Service-linked
	// roles"), which CreateServiceLinkedRoleForProduct creates. Whether it
	// answers an existing role with success or with an error is not
	// documented: an "already exists" code counts as success.
	slr := fmt.Sprintf("service-linked role %q", SendToFCRole)
	switch _, err := c.call(ctx, "CreateServiceLinkedRoleForProduct", map[string]string{"ProductName": SendToFCRole}); {
	case err == nil:
		steps = append(steps, Step{"CreateServiceLinkedRoleForProduct", slr, "ensured"})
	case isAlreadyExists(err):
		steps = append(steps, Step{"CreateServiceLinkedRoleForProduct", slr, "exists"})
	default:
		return steps, err
	}
	bus := map[string]string{"EventBusName": s.Bus}
	busWhat := fmt.Sprintf("event bus %q", s.Bus)
	switch _, err := c.call(ctx, "GetEventBus", bus); {
	case err == nil:
		steps = append(steps, Step{"GetEventBus", busWhat, "exists"})
	case isNotFound(err):
		_, err := c.call(ctx, "CreateEventBus", map[string]string{"EventBusName": s.Bus, "Description": "pwreset: password reset requests"})
		switch {
		case err == nil:
			steps = append(steps, Step{"CreateEventBus", busWhat, "created"})
		case isAlreadyExists(err):
			steps = append(steps, Step{"CreateEventBus", busWhat, "exists"})
		default:
			return steps, err
		}
	default:
		return steps, err
	}

	target, err := json.Marshal([]Target{s.Target()})
	if err != nil {
		return steps, fmt.Errorf("encode target: %w", err)
	}
	rule := map[string]string{"EventBusName": s.Bus, "RuleName": s.Rule}
	ruleWhat := fmt.Sprintf("rule %q on %q", s.Rule, s.Bus)
	_, err = c.call(ctx, "GetRule", rule)
	switch {
	case isNotFound(err):
		_, err := c.call(ctx, "CreateRule", map[string]string{
			"EventBusName":  s.Bus,
			"RuleName":      s.Rule,
			"FilterPattern": s.Pattern(),
			"Status":        "ENABLE",
			"Description":   "pwreset: reset requests to the function",
			"EventTargets":  string(target),
		})
		switch {
		case err == nil:
			return append(steps, Step{"CreateRule", ruleWhat, "created"}), nil
		case !isAlreadyExists(err):
			return steps, err
		}
		// Created meanwhile by another run: update it below.
	case err != nil:
		return steps, err
	}
	if _, err := c.call(ctx, "UpdateRule", map[string]string{"EventBusName": s.Bus, "RuleName": s.Rule, "FilterPattern": s.Pattern()}); err != nil {
		return steps, err
	}
	steps = append(steps, Step{"UpdateRule", ruleWhat, "updated"})
	body, err := c.call(ctx, "PutTargets", map[string]string{"EventBusName": s.Bus, "RuleName": s.Rule, "Targets": string(target)})
	if err != nil {
		return steps, err
	}
	if n := errorEntries(body); n > 0 {
		return steps, fmt.Errorf("eventbridge PutTargets: %d target(s) refused: %s", n, refusedCodes(body))
	}
	return append(steps, Step{"PutTargets", fmt.Sprintf("target %q (%s)", TargetID, s.FunctionARN()), "updated"}), nil
}

// Remove deletes the rule and then the bus; absent ones are fine. A bus
// that still has other rules is refused by EventBridge
// (EventBusRuleNotEmptyForDelete) and is reported as such.
func (c *Client) Remove(ctx context.Context, s Setup) ([]Step, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var steps []Step
	ruleWhat := fmt.Sprintf("rule %q on %q", s.Rule, s.Bus)
	switch _, err := c.call(ctx, "DeleteRule", map[string]string{"EventBusName": s.Bus, "RuleName": s.Rule}); {
	case err == nil:
		steps = append(steps, Step{"DeleteRule", ruleWhat, "deleted"})
	case isNotFound(err):
		steps = append(steps, Step{"DeleteRule", ruleWhat, "absent"})
	default:
		return steps, err
	}
	busWhat := fmt.Sprintf("event bus %q", s.Bus)
	switch _, err := c.call(ctx, "DeleteEventBus", map[string]string{"EventBusName": s.Bus}); {
	case err == nil:
		steps = append(steps, Step{"DeleteEventBus", busWhat, "deleted"})
	case isNotFound(err):
		steps = append(steps, Step{"DeleteEventBus", busWhat, "absent"})
	default:
		return steps, err
	}
	return steps, nil
}

func isNotFound(err error) bool {
	var a *APIError
	return errors.As(err, &a) && a.notFound()
}

func isAlreadyExists(err error) bool {
	var a *APIError
	return errors.As(err, &a) && a.alreadyExists()
}

// errorEntries reads PutTargets' Data.ErrorEntriesCount: targets the
// service refused although the call succeeded.
func errorEntries(body map[string]any) int {
	data, _ := body["Data"].(map[string]any)
	switch n := data["ErrorEntriesCount"].(type) {
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case float64:
		return int(n)
	}
	return 0
}

func refusedCodes(body map[string]any) string {
	data, _ := body["Data"].(map[string]any)
	list, _ := data["ErrorEntries"].([]any)
	var codes []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		codes = append(codes, fmt.Sprint(m["ErrorCode"]))
	}
	return strings.Join(codes, ", ")
}
