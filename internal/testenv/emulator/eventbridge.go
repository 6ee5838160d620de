package emulator

// EventBridge's management API (2020-04-01, RPC): the actions
// internal/tools/ebsetup calls to create the custom bus, the rule and the
// function's target. Serve it with Handler(EventBridge) (Start does not
// open a listener for it: only the deployment tools call it).
//
// Sources: the EventBridge API reference (CreateEventBus, GetEventBus,
// CreateRule, GetRule, UpdateRule, PutTargets, DeleteRule, DeleteEventBus:
// parameter names; EventTargets/Targets travel as one JSON-encoded array;
// answers carry Code "Success", Success true, Data), and the error codes of
// the open-source EventBridge (apache/rocketmq-eventbridge,
// EventBridgeErrorCode), which answers each with HTTP 409:
//
//	code                            when                                      source
//	EventBusNotExist                Get/Delete of a bus that is not there     EventBridgeErrorCode
//	EventBusAlreadyExist            CreateEventBus of an existing bus         EventBridgeErrorCode
//	EventBusNameInvalid             a bus name outside the accepted set       EventBridgeErrorCode (set assumed)
//	EventBusRuleNotEmptyForDelete   DeleteEventBus of a bus with rules        EventBridgeErrorCode
//	EventRuleNotExist               Get/Update/Delete/PutTargets, no rule     EventBridgeErrorCode
//	EventRuleAlreadyExist           CreateRule of an existing rule            EventBridgeErrorCode
//	EventRuleNameInvalid            a rule name outside the accepted set      EventBridgeErrorCode (set assumed)
//	InvalidParameter (400)          a missing or malformed parameter          assumed
//
// CreateServiceLinkedRoleForProduct succeeds for a role that exists
// (assumed).
//
// The default bus cannot be created or deleted, and takes no rules here:
// it carries only Alibaba Cloud's own events (EventBridge, "Event buses").

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// EventBridge is the management API's product.
const EventBridge Product = "eventbridge"

// EventBridgeVersion is the management API's version.
const EventBridgeVersion = "2020-04-01"

var eventBridgeActions = map[string]bool{
	"CreateEventBus": true, "GetEventBus": true, "DeleteEventBus": true,
	"CreateRule": true, "GetRule": true, "UpdateRule": true, "DeleteRule": true,
	"PutTargets": true, "CreateServiceLinkedRoleForProduct": true,
}

// The management API joins the router's tables here rather than in their
// literals in cloud.go, which the other products' actions share.
func init() {
	actions[EventBridge] = eventBridgeActions
	versions[EventBridge] = EventBridgeVersion
}

// EventTarget is a rule's target as the API describes it.
type EventTarget struct {
	ID                string       `json:"Id"`
	Type              string       `json:"Type"`
	Endpoint          string       `json:"Endpoint"`
	PushRetryStrategy string       `json:"PushRetryStrategy,omitempty"`
	ParamList         []EventParam `json:"ParamList"`
}

// EventParam is one entry of a target's ParamList.
type EventParam struct {
	ResourceKey string `json:"ResourceKey"`
	Form        string `json:"Form"`
	Value       string `json:"Value,omitempty"`
	Template    string `json:"Template,omitempty"`
}

// EventRule is a rule on a bus.
type EventRule struct {
	Bus, Name, FilterPattern, Status, Description string
	Targets                                       []EventTarget
}

// eventBridgeState is the cloud's buses, by name, each with its rules, and
// the service-linked roles EventBridge has created.
type eventBridgeState struct {
	buses map[string]map[string]*EventRule
	roles map[string]bool
}

// eventBridgeRoles are the ProductName values of
// CreateServiceLinkedRoleForProduct (EventBridge API reference), the ones
// pwreset may use.
var eventBridgeRoles = map[string]bool{
	"AliyunServiceRoleForEventBridgeSendToFC":  true,
	"AliyunServiceRoleForEventBridgeSendToMNS": true,
}

// EventBridgeServiceLinkedRole reports whether EventBridge has created the
// service-linked role name.
func (c *Cloud) EventBridgeServiceLinkedRole(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eb.roles[name]
}

var (
	reEventBusName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$`)
	reEventParam   = map[string]bool{"ORIGINAL": true, "CONSTANT": true, "JSONPATH": true, "TEMPLATE": true}
)

// EventBuses returns the custom buses' names, sorted.
func (c *Cloud) EventBuses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.eb.buses)
}

// EventBridgeRule returns a copy of a rule.
func (c *Cloud) EventBridgeRule(bus, rule string) (EventRule, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.eb.buses[bus][rule]
	if !ok {
		return EventRule{}, false
	}
	out := *r
	out.Targets = append([]EventTarget(nil), r.Targets...)
	return out, true
}

// eventBridge runs one management action; c.mu is held.
func (c *Cloud) eventBridge(req *request) (map[string]any, *apiError) {
	if c.eb.buses == nil {
		c.eb.buses = map[string]map[string]*EventRule{}
	}
	p := req.params
	if req.action == "CreateServiceLinkedRoleForProduct" {
		// Creating a role that exists succeeds (assumed: not documented).
		if !eventBridgeRoles[p["ProductName"]] {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "ProductName %q is not a service-linked role of EventBridge.", p["ProductName"])
		}
		if c.eb.roles == nil {
			c.eb.roles = map[string]bool{}
		}
		c.eb.roles[p["ProductName"]] = true
		return map[string]any{"Code": "Success", "Message": "success", "Success": true}, nil
	}
	busName := p["EventBusName"]
	if busName == "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "EventBusName is mandatory for this action.")
	}
	if !reEventBusName.MatchString(busName) || busName == "default" {
		return nil, errorf(http.StatusConflict, "EventBusNameInvalid", "The event bus name [%s] is invalid!", busName)
	}
	bus, busExists := c.eb.buses[busName]
	noBus := func() *apiError {
		return errorf(http.StatusConflict, "EventBusNotExist", "The event bus [%s] not existed!", busName)
	}
	ok := func(data any) map[string]any {
		m := map[string]any{"Code": "Success", "Message": "success", "Success": true}
		if data != nil {
			m["Data"] = data
		}
		return m
	}

	switch req.action {
	case "CreateEventBus":
		if busExists {
			return nil, errorf(http.StatusConflict, "EventBusAlreadyExist", "The event bus [%s] already existed!", busName)
		}
		c.eb.buses[busName] = map[string]*EventRule{}
		return ok(map[string]any{"EventBusARN": "acs:eventbridge:" + c.fixture.Region + ":" + c.fixture.AccountID + ":eventbus/" + busName}), nil
	case "GetEventBus":
		if !busExists {
			return nil, noBus()
		}
		return ok(map[string]any{"EventBusName": busName}), nil
	case "DeleteEventBus":
		if !busExists {
			return nil, noBus()
		}
		if len(bus) > 0 {
			return nil, errorf(http.StatusConflict, "EventBusRuleNotEmptyForDelete", "The rules of eventbus [%s] exist, please delete them before delete event bus.", busName)
		}
		delete(c.eb.buses, busName)
		return ok(nil), nil
	}

	if !busExists {
		return nil, noBus()
	}
	ruleName := p["RuleName"]
	if ruleName == "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "RuleName is mandatory for this action.")
	}
	if !reEventBusName.MatchString(ruleName) {
		return nil, errorf(http.StatusConflict, "EventRuleNameInvalid", "The event rule name [%s] is invalid!", ruleName)
	}
	rule, ruleExists := bus[ruleName]
	noRule := func() *apiError {
		return errorf(http.StatusConflict, "EventRuleNotExist", "The event rule [%s] of event bus [%s] not existed!", ruleName, busName)
	}

	switch req.action {
	case "CreateRule":
		if ruleExists {
			return nil, errorf(http.StatusConflict, "EventRuleAlreadyExist", "The event rule [%s] of event bus [%s] already existed!", ruleName, busName)
		}
		if aerr := checkFilterPattern(p["FilterPattern"]); aerr != nil {
			return nil, aerr
		}
		var targets []EventTarget
		if raw := p["EventTargets"]; raw != "" {
			var aerr *apiError
			if targets, aerr = decodeEventTargets("EventTargets", raw); aerr != nil {
				return nil, aerr
			}
		}
		status := p["Status"]
		if status == "" {
			status = "ENABLE"
		}
		if status != "ENABLE" && status != "DISABLE" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "Status must be ENABLE or DISABLE.")
		}
		bus[ruleName] = &EventRule{Bus: busName, Name: ruleName, FilterPattern: p["FilterPattern"], Status: status, Description: p["Description"], Targets: targets}
		return ok(map[string]any{"RuleARN": "acs:eventbridge:" + c.fixture.Region + ":" + c.fixture.AccountID + ":eventbus/" + busName + "/rule/" + ruleName}), nil
	case "GetRule":
		if !ruleExists {
			return nil, noRule()
		}
		return ok(map[string]any{
			"EventBusName": busName, "RuleName": ruleName, "FilterPattern": rule.FilterPattern,
			"Status": rule.Status, "Description": rule.Description, "Targets": rule.Targets,
		}), nil
	case "UpdateRule":
		if !ruleExists {
			return nil, noRule()
		}
		if aerr := checkFilterPattern(p["FilterPattern"]); aerr != nil {
			return nil, aerr
		}
		rule.FilterPattern = p["FilterPattern"]
		if d, ok := p["Description"]; ok {
			rule.Description = d
		}
		return ok(nil), nil
	case "PutTargets":
		if !ruleExists {
			return nil, noRule()
		}
		targets, aerr := decodeEventTargets("Targets", p["Targets"])
		if aerr != nil {
			return nil, aerr
		}
		for _, t := range targets {
			replaced := false
			for i := range rule.Targets {
				if rule.Targets[i].ID == t.ID {
					rule.Targets[i], replaced = t, true
				}
			}
			if !replaced {
				rule.Targets = append(rule.Targets, t)
			}
		}
		return ok(map[string]any{"ErrorEntriesCount": 0, "ErrorEntries": []any{}}), nil
	case "DeleteRule":
		if !ruleExists {
			return nil, noRule()
		}
		delete(bus, ruleName)
		return ok(nil), nil
	}
	return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

// checkFilterPattern requires a non-empty JSON object (EventBridge, "Event
// patterns").
func checkFilterPattern(s string) *apiError {
	var m map[string]any
	if s == "" || json.Unmarshal([]byte(s), &m) != nil || len(m) == 0 {
		return errorf(http.StatusBadRequest, "InvalidParameter", "FilterPattern must be a non-empty JSON object.")
	}
	return nil
}

// decodeEventTargets reads a JSON array of targets, each with an Id, a
// Type, an Endpoint and ParamList entries with a ResourceKey and a known
// Form.
func decodeEventTargets(param, raw string) ([]EventTarget, *apiError) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var targets []EventTarget
	if raw == "" || dec.Decode(&targets) != nil || len(targets) == 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "%s must be a non-empty JSON array of targets.", param)
	}
	for _, t := range targets {
		if t.ID == "" || t.Type == "" || t.Endpoint == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "%s: every target needs Id, Type and Endpoint.", param)
		}
		for _, pl := range t.ParamList {
			if pl.ResourceKey == "" || !reEventParam[pl.Form] {
				return nil, errorf(http.StatusBadRequest, "InvalidParameter", "%s: target %s: every ParamList entry needs a ResourceKey and a Form of ORIGINAL, CONSTANT, JSONPATH or TEMPLATE.", param, t.ID)
			}
		}
	}
	return targets, nil
}
