package localrun

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// The contract's response, as DESIGN.md spells it. These types are the
// caller's view, decoded independently of the handler package, so a change
// of the wire format shows up here as a failure.

// Result is one target's outcome.
type Result struct {
	Target         string         `json:"target"`
	DirectoryID    string         `json:"directoryId,omitempty"`
	UserID         string         `json:"userId,omitempty"`
	OrganizationID string         `json:"organizationId,omitempty"`
	Username       string         `json:"username,omitempty"`
	Location       string         `json:"location,omitempty"`
	Status         string         `json:"status"`
	SecretName     string         `json:"secretName,omitempty"`
	VersionID      string         `json:"versionId,omitempty"`
	Resumed        bool           `json:"resumed,omitempty"`
	RolledForward  string         `json:"rolledForward,omitempty"`
	Drift          string         `json:"drift,omitempty"`
	Detail         string         `json:"detail,omitempty"`
	Error          *ResponseError `json:"error,omitempty"`
}

// TargetName names the result's account, e.g. "cloudsso d-1/u-1".
func (r Result) TargetName() string {
	switch r.Target {
	case "cloudsso":
		return "cloudsso " + r.DirectoryID + "/" + r.UserID
	case "fabric":
		return "fabric " + r.OrganizationID + "/" + r.Username
	}
	return r.Target
}

// ResponseError is a response's or a result's error.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Response is the HTTP body, and the return value for the other triggers.
type Response struct {
	RequestID string         `json:"requestId"`
	Results   []Result       `json:"results,omitempty"`
	Error     *ResponseError `json:"error,omitempty"`
	// Accepted, RunID and Targets answer a run continued in asynchronous
	// invocations (handler.Response).
	Accepted bool   `json:"accepted,omitempty"`
	RunID    string `json:"runId,omitempty"`
	Targets  int    `json:"targets,omitempty"`
}

// HTTPResponse is Function Compute 3.0's HTTP trigger response.
type HTTPResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// Answer is an invocation's outcome decoded the way its trigger answers.
type Answer struct {
	// HTTP is set for an HTTP trigger event.
	HTTP *HTTPResponse
	// Responses holds the response (one; or one per event of an
	// event-streaming batch answered with an array). Empty when the
	// function failed.
	Responses []Response
	// FunctionError is set when an event's invocation failed.
	FunctionError *emulator.FunctionError
}

// Results returns every target's result across Responses.
func (a Answer) Results() []Result {
	var all []Result
	for _, r := range a.Responses {
		all = append(all, r.Results...)
	}
	return all
}

// OK reports whether the invocation succeeded as its trigger reports
// success: HTTP 200, or a return value without a function error, and no
// response error.
func (a Answer) OK() bool {
	if a.FunctionError != nil || (a.HTTP != nil && a.HTTP.StatusCode != 200) || len(a.Responses) == 0 {
		return false
	}
	for _, r := range a.Responses {
		if r.Error != nil {
			return false
		}
	}
	return true
}

// IsHTTPEvent tells an HTTP trigger event by its requestContext, as Function
// Compute 3.0 shapes it.
func IsHTTPEvent(event []byte) bool {
	var probe struct {
		RequestContext json.RawMessage `json:"requestContext"`
	}
	return json.Unmarshal(event, &probe) == nil && probe.RequestContext != nil
}

// Decode decodes the outcome of invoking event.
func Decode(event []byte, out emulator.Outcome) (Answer, error) {
	if out.Err != nil {
		return Answer{FunctionError: out.Err}, nil
	}
	if IsHTTPEvent(event) {
		var hr HTTPResponse
		if err := json.Unmarshal(out.Payload, &hr); err != nil {
			return Answer{}, fmt.Errorf("decode HTTP trigger response: %w", err)
		}
		body := []byte(hr.Body)
		if hr.IsBase64Encoded {
			var err error
			if body, err = base64.StdEncoding.DecodeString(hr.Body); err != nil {
				return Answer{}, fmt.Errorf("decode HTTP body: %w", err)
			}
		}
		var r Response
		if err := json.Unmarshal(body, &r); err != nil {
			return Answer{}, fmt.Errorf("decode HTTP body: %w", err)
		}
		return Answer{HTTP: &hr, Responses: []Response{r}}, nil
	}
	var many []Response
	if err := json.Unmarshal(out.Payload, &many); err == nil {
		return Answer{Responses: many}, nil
	}
	var one Response
	if err := json.Unmarshal(out.Payload, &one); err != nil {
		return Answer{}, fmt.Errorf("decode response: %w", err)
	}
	return Answer{Responses: []Response{one}}, nil
}

// ErrNotInEffect is returned by CheckInEffect when the password in effect on
// a target is not the one staged ACSCurrent.
var ErrNotInEffect = errors.New("the password in effect on the target is not ACSCurrent's")

// CheckInEffect checks the rotation's invariant for r: the version staged
// ACSCurrent in r's secret is the version r names, and its password is the
// one in effect on r's target. The passwords are compared, never returned
// or quoted.
func (s *Stack) CheckInEffect(r Result) error {
	var inEffect string
	var ok bool
	switch r.Target {
	case "cloudsso":
		inEffect, ok = s.Cloud.SSOPassword(r.DirectoryID, r.UserID)
	case "fabric":
		inEffect, ok = s.Cloud.FabricPassword(r.OrganizationID, r.Username)
	default:
		return fmt.Errorf("%s: unknown target kind %q", r.SecretName, r.Target)
	}
	if !ok {
		return fmt.Errorf("%s: no such account in the cloud", r.TargetName())
	}
	v, ok := s.Staged(r.SecretName, "ACSCurrent")
	if !ok {
		return fmt.Errorf("%s: no version is ACSCurrent", r.SecretName)
	}
	if v.VersionID != r.VersionID {
		return fmt.Errorf("%s: ACSCurrent is version %s, the response names %s", r.SecretName, v.VersionID, r.VersionID)
	}
	staged, err := SecretPassword(v)
	if err != nil {
		return fmt.Errorf("%s: %w", r.SecretName, err)
	}
	if staged == "" || staged != inEffect {
		return fmt.Errorf("%s: %w", r.SecretName, ErrNotInEffect)
	}
	return nil
}

// Staged returns the version of the secret that holds stage.
func (s *Stack) Staged(secretName, stage string) (emulator.SecretVersion, bool) {
	sec, ok := s.Cloud.Secret(secretName)
	if !ok {
		return emulator.SecretVersion{}, false
	}
	for _, v := range sec.Versions {
		for _, st := range v.Stages {
			if st == stage {
				return v, true
			}
		}
	}
	return emulator.SecretVersion{}, false
}

// SecretPassword returns the password a version's data holds (the contract's
// JSON value); "" for the placeholder version that holds none.
func SecretPassword(v emulator.SecretVersion) (string, error) {
	var data struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(v.Data), &data); err != nil {
		// encoding/json quotes at most one character of the input.
		return "", fmt.Errorf("version %s does not hold the contract's JSON: %w", v.VersionID, err)
	}
	return data.Password, nil
}

// ContainsPassword reports whether text contains any password the cloud has
// accepted or stored so far.
func (s *Stack) ContainsPassword(text string) bool {
	for _, p := range s.Cloud.AcceptedPasswords() {
		if p != "" && strings.Contains(text, p) {
			return true
		}
	}
	return false
}

// Redact returns text with every password the cloud has accepted replaced,
// for showing output of a failed run.
func (s *Stack) Redact(text string) string {
	for _, p := range s.Cloud.AcceptedPasswords() {
		if p != "" {
			text = strings.ReplaceAll(text, p, "[REDACTED]")
		}
	}
	return text
}
