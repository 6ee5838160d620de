// Package ebsetup creates or updates what delivers reset requests published
// as events to the function: a custom EventBridge bus, a rule on it matching
// pwreset's source and type, and the function as the rule's target, invoked
// asynchronously. fc3's eventbridge trigger cannot do it: it only puts rules
// on the default bus, which carries Alibaba Cloud's own events (FC 3.0 API,
// struct EventSourceConfig: eventSourceType "Default" is "Alibaba Cloud
// EventBridge sources").
//
// It calls EventBridge's management API, version 2020-04-01 (RPC style,
// POST, JSON answers), through darabonba-openapi's CallApi with the
// deployer's credentials:
//
//   - CreateServiceLinkedRoleForProduct (ProductName
//     AliyunServiceRoleForEventBridgeSendToFC), the role EventBridge invokes
//     functions as
//   - GetEventBus, CreateEventBus (EventBusName, Description)
//   - GetRule, CreateRule (EventBusName, RuleName, FilterPattern, Status,
//     EventTargets as a JSON array), UpdateRule (EventBusName, RuleName,
//     FilterPattern)
//   - PutTargets (EventBusName, RuleName, Targets as a JSON array): "adds
//     or updates" targets, keyed by target Id
//   - DeleteRule, DeleteEventBus for Remove
//
// Sources: the EventBridge API reference (api-eventbridge-2020-04-01-
// createrule and its siblings; endpoint list api-eventbridge-2020-04-01-
// endpoint: eventbridge-console.<region>.aliyuncs.com), Alibaba's Terraform
// provider (resource_alicloud_event_bridge_rule.go sends EventTargets and
// Targets as JSON strings and checks the answer's Code for "Success"), and
// the error codes of the open-source EventBridge (apache/rocketmq-eventbridge,
// EventBridgeErrorCode: EventBusNotExist, EventRuleNotExist,
// EventBusAlreadyExist, EventRuleAlreadyExist, each HTTP 409). Which codes
// the hosted service returns is not documented per action, so the code
// reads existence with Get* first and treats a Create* that finds the
// resource already there as success: idempotent whichever way the service
// answers.
package ebsetup

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pwreset/pwreset/internal/checks/deploy"
)

// Version is the EventBridge management API version called.
const Version = "2020-04-01"

// Setup is what Apply creates or updates.
type Setup struct {
	Region       string // the function's region; the bus lives there too
	AccountID    string // the account of the function (its ARN)
	FunctionName string
	Bus          string // the custom event bus, e.g. "pwreset"
	Rule         string // the rule on Bus, e.g. "pwreset-requests"
	Source       string // the events' source, e.g. "pwreset.request"
	Type         string // the events' type, e.g. "pwreset:Reset:Requested"
}

// TargetID is the id of the function's target on the rule: PutTargets
// replaces the target with this id, so a second run updates it instead of
// adding another.
const TargetID = "pwreset-function"

// ErrInvalid marks a Setup that breaks a rule; the message names the field.
var ErrInvalid = errors.New("invalid setup")

var (
	reRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+$`)
	reAccount = regexp.MustCompile(`^[0-9]{1,32}$`)
	// Function names: letters, digits, _ and -, not starting with a digit
	// or -, 1 to 64 characters (FC 3.0 CreateFunction, functionName).
	reFunction = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	// Bus and rule names (assumed: the API reference gives no pattern;
	// this set is what the console accepts and is safe in an ARN).
	reName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$`)
	// Source and type: printable, no quotes or backslashes, so that the
	// pattern is plain JSON text.
	reEventAttr = regexp.MustCompile(`^[A-Za-z0-9.:_/-]{1,128}$`)
)

// Validate checks every field and names the first that breaks its rule.
func (s Setup) Validate() error {
	checks := []struct {
		field, value string
		re           *regexp.Regexp
		rule         string
	}{
		{"region", s.Region, reRegion, "a region id such as cn-hangzhou"},
		{"account id", s.AccountID, reAccount, "the account's digits"},
		{"function name", s.FunctionName, reFunction, "1 to 64 letters, digits, _ or -, not starting with a digit or -"},
		{"event bus", s.Bus, reName, "1 to 127 letters, digits, '.', '_' or '-', starting with a letter or digit"},
		{"rule", s.Rule, reName, "1 to 127 letters, digits, '.', '_' or '-', starting with a letter or digit"},
		{"event source", s.Source, reEventAttr, "1 to 128 of A-Z a-z 0-9 . : _ / -"},
		{"event type", s.Type, reEventAttr, "1 to 128 of A-Z a-z 0-9 . : _ / -"},
	}
	for _, c := range checks {
		if !c.re.MatchString(c.value) {
			return fmt.Errorf("%w: %s %q: must be %s", ErrInvalid, c.field, c.value, c.rule)
		}
	}
	if s.Bus == "default" {
		return fmt.Errorf("%w: event bus \"default\": carries only Alibaba Cloud's own events; name a custom bus", ErrInvalid)
	}
	return nil
}

// Pattern is the rule's event pattern: the source and the type, each an
// exact match.
func (s Setup) Pattern() string {
	b, _ := json.Marshal(map[string][]string{"source": {s.Source}, "type": {s.Type}})
	return string(b)
}

// FunctionARN is the function's resource name, the target's endpoint:
// acs:fc:<region>:<account>:functions/<name>, the form FC 3.0 itself uses
// for functions (API reference, struct Destination: "acs:fc:cn-shanghai:
// xxx:functions/f1").
func (s Setup) FunctionARN() string {
	return "acs:fc:" + s.Region + ":" + s.AccountID + ":functions/" + s.FunctionName
}

// Param is one entry of a target's ParamList.
type Param struct {
	ResourceKey string `json:"ResourceKey"`
	Form        string `json:"Form"`
	Value       string `json:"Value,omitempty"`
}

// Target is an event target as CreateRule and PutTargets take it.
type Target struct {
	ID                string  `json:"Id"`
	Type              string  `json:"Type"`
	Endpoint          string  `json:"Endpoint"`
	PushRetryStrategy string  `json:"PushRetryStrategy"`
	ParamList         []Param `json:"ParamList"`
}

// Target is the function as the rule's target: type acs.fc.function, the
// whole CloudEvent as the body (Form ORIGINAL: pwreset reads the event's id,
// source and data), invoked asynchronously so that FC's own retries and the
// failure destination apply. The parameter keys follow Alibaba's Terraform
// examples (functionName, Body ORIGINAL) and the console's "Invocation
// Mode: Asynchronous" (EventBridge, "Route events to Function Compute");
// "InvocationType" and "qualifier" as ResourceKeys are assumed. A service
// name, which FC 2.0 targets carry, does not exist in FC 3.0.
// PushRetryStrategy BACKOFF_RETRY: three tries 10 to 20 s apart (ROS
// ALIYUN::EventBridge::Rule reference).
func (s Setup) Target() Target {
	return Target{
		ID:                TargetID,
		Type:              "acs.fc.function",
		Endpoint:          s.FunctionARN(),
		PushRetryStrategy: "BACKOFF_RETRY",
		ParamList: []Param{
			{ResourceKey: "functionName", Form: "CONSTANT", Value: s.FunctionName},
			{ResourceKey: "qualifier", Form: "CONSTANT", Value: "LATEST"},
			{ResourceKey: "InvocationType", Form: "CONSTANT", Value: "Async"},
			{ResourceKey: "Body", Form: "ORIGINAL"},
		},
	}
}

// FromSpec reads a Setup from a resolved s.yaml: the region and function
// name of its fc3 resource, and the vars eventBus, eventRule, eventSource
// and eventType. accountID is the account the function is deployed to.
func FromSpec(s deploy.Spec, accountID string) (Setup, error) {
	var fn *deploy.Resource
	for name := range s.Resources {
		r := s.Resources[name]
		if r.ComponentName() == "fc3" {
			if fn != nil {
				return Setup{}, fmt.Errorf("%w: s.yaml has more than one fc3 resource", ErrInvalid)
			}
			fn = &r
		}
	}
	if fn == nil {
		return Setup{}, fmt.Errorf("%w: s.yaml has no fc3 resource", ErrInvalid)
	}
	str := func(m map[string]any, key, where string) (string, error) {
		v, ok := m[key].(string)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: s.yaml: %s.%s must be a non-empty string", ErrInvalid, where, key)
		}
		return v, nil
	}
	var out Setup
	var err error
	fields := []struct {
		dst       *string
		m         map[string]any
		key, from string
	}{
		{&out.Region, fn.Props, "region", "props"},
		{&out.FunctionName, fn.Props, "functionName", "props"},
		{&out.Bus, s.Vars, "eventBus", "vars"},
		{&out.Rule, s.Vars, "eventRule", "vars"},
		{&out.Source, s.Vars, "eventSource", "vars"},
		{&out.Type, s.Vars, "eventType", "vars"},
	}
	for _, f := range fields {
		if *f.dst, err = str(f.m, f.key, f.from); err != nil {
			return Setup{}, err
		}
	}
	out.AccountID = strings.TrimSpace(accountID)
	return out, out.Validate()
}
