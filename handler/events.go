package handler

import (
	"encoding/json"

	"github.com/pwreset/pwreset/internal/reset"
)

// Trigger names the kind of event an invocation carries.
type Trigger string

// Triggers.
const (
	// TriggerHTTP is the HTTP trigger of a built-in runtime: an HTTPEvent in,
	// an HTTPResponse out.
	TriggerHTTP Trigger = "http"
	// TriggerEventBridge is an EventBridge rule targeting the function: one
	// CloudEvent, or an array of them (the event-streaming form).
	TriggerEventBridge Trigger = "eventbridge"
	// TriggerTimer is a timer trigger: a TimerEvent whose payload holds the
	// request.
	TriggerTimer Trigger = "timer"
	// TriggerInvoke is a direct invocation (the Invoke API, "s invoke", or an
	// EventBridge rule that delivers only the event's data) whose event is
	// the Request itself.
	TriggerInvoke Trigger = "invoke"
	// TriggerContinuation is a chunk of a run the function continues in
	// asynchronous invocations of itself (reset.ContinuationEvent): signed,
	// and refused unsigned or mis-signed.
	TriggerContinuation Trigger = "continuation"
)

// HTTPEvent is the event of an HTTP trigger in Function Compute 3.0's
// built-in runtimes.
//
// See https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/http-trigger-invoking-function
type HTTPEvent struct {
	Version string `json:"version"` // the event format's version: "v1"
	RawPath string `json:"rawPath"`
	// Body is the request body, Base64-encoded when IsBase64Encoded.
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
	// Headers maps each header to its values joined by ",". Names are
	// matched case-insensitively.
	Headers         map[string]string  `json:"headers"`
	QueryParameters map[string]string  `json:"queryParameters"`
	RequestContext  HTTPRequestContext `json:"requestContext"`
}

// HTTPRequestContext is the requestContext of an HTTPEvent.
type HTTPRequestContext struct {
	AccountID    string          `json:"accountId"`
	DomainName   string          `json:"domainName"`
	DomainPrefix string          `json:"domainPrefix"`
	HTTP         HTTPDescription `json:"http"`
	RequestID    string          `json:"requestId"` // the invocation's request id
	Time         string          `json:"time"`      // RFC 3339
	TimeEpoch    string          `json:"timeEpoch"` // milliseconds since the epoch, as a string
}

// HTTPDescription is the http part of an HTTPRequestContext.
type HTTPDescription struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// HTTPResponse is what a built-in runtime's function returns to an HTTP
// trigger; Function Compute turns it into the HTTP response.
//
// See https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/http-trigger-invoking-function
type HTTPResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"` // a Response, as JSON
}

// CloudEvent is an event EventBridge delivers: a CloudEvents 1.0 object in
// its JSON form, with EventBridge's extension attributes. Data holds the
// Request (as a JSON object, or a JSON string holding one).
//
// See https://www.alibabacloud.com/help/en/eventbridge/latest/event-overview
// and https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"` // "1.0"
	ID              string          `json:"id"`          // the idempotency key of its request
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data"`

	AliyunAccountID         string `json:"aliyunaccountid,omitempty"`
	AliyunOriginalAccountID string `json:"aliyunoriginalaccountid,omitempty"`
	AliyunPublishTime       string `json:"aliyunpublishtime,omitempty"`
	AliyunEventBusName      string `json:"aliyuneventbusname,omitempty"`
	AliyunRegionID          string `json:"aliyunregionid,omitempty"`
	AliyunPublishAddr       string `json:"aliyunpublishaddr,omitempty"`
}

// TimerEvent is the event of a timer trigger. Payload is the trigger's
// message, configured with the trigger: it holds the Request as JSON text.
//
// See https://www.alibabacloud.com/help/doc-detail/70140.htm (Formats of event for different triggers)
type TimerEvent struct {
	TriggerTime string `json:"triggerTime"` // RFC 3339, UTC
	TriggerName string `json:"triggerName"`
	Payload     string `json:"payload"`
}

// Request is the reset request, the same whatever the trigger: an HTTP body,
// a CloudEvent's data, a timer's payload. It names one target (the fields of
// TargetSpec) or a batch (Targets), never both. It is decoded strictly: an
// unknown field, a null, a duplicate key or a value of the wrong JSON type is
// rejected, naming the field. A "password" field is rejected too: pwreset
// generates every password itself.
type Request struct {
	TargetSpec
	Targets []TargetSpec `json:"targets,omitempty"`
	// DryRun validates the request and checks the secrets are readable,
	// changing nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Select names a set of accounts of the target's directory or
	// organization instead of one account; MaxTargets (1 to 100,000) is
	// then required: more matches refuse the request before any reset.
	Select     *SelectSpec `json:"select,omitempty"`
	MaxTargets int         `json:"maxTargets,omitempty"`
	// Sweep, an empty object, asks for the sweep of the secrets under the
	// prefix: unfinished rotations are finished, drift is reported.
	Sweep *SweepSpec `json:"sweep,omitempty"`
}

// SelectSpec filters a directory's or organization's accounts. Status,
// ProvisionType and UserNamePrefix apply to CloudSSO; Exclude holds user
// ids (CloudSSO) or user names (Fabric) to leave out.
type SelectSpec struct {
	Status         string   `json:"status,omitempty"`
	ProvisionType  string   `json:"provisionType,omitempty"`
	UserNamePrefix string   `json:"userNamePrefix,omitempty"`
	Exclude        []string `json:"exclude,omitempty"`
}

// SweepSpec is the sweep request's body: it has no fields.
type SweepSpec struct{}

// TargetSpec names one account. Target says which service; the fields that
// apply depend on it.
type TargetSpec struct {
	Target reset.Kind `json:"target,omitempty"` // "cloudsso" or "fabric"

	// cloudsso.
	DirectoryID                      string `json:"directoryId,omitempty"`
	UserID                           string `json:"userId,omitempty"`
	RequirePasswordResetForNextLogin bool   `json:"requirePasswordResetForNextLogin,omitempty"`

	// fabric.
	OrganizationID string `json:"organizationId,omitempty"`
	Username       string `json:"username,omitempty"`
	Location       string `json:"location,omitempty"`
}

// Response is the answer to a request: the HTTP body, and the return value
// for the other triggers. Results has one entry per target of the request,
// in its order. Error is set when the request failed as a whole, or (for
// HTTP) when any target failed; it then summarizes the failures, and Results
// still holds every target's outcome.
type Response struct {
	RequestID string     `json:"requestId"`
	Results   []Result   `json:"results,omitempty"`
	Error     *ErrorBody `json:"error,omitempty"`
	// Accepted, RunID and Targets answer a run that goes on in
	// asynchronous invocations of the function (HTTP 202): the run id (the
	// request's scoped idempotency key) and how many accounts, or secrets,
	// it covers. Each chunk of the run answers the same.
	Accepted bool   `json:"accepted,omitempty"`
	RunID    string `json:"runId,omitempty"`
	Targets  int    `json:"targets,omitempty"`
}

// Result is one target's outcome: the target (its kind, identifiers and
// parameters; its options, such as requirePasswordResetForNextLogin, are not
// echoed), and where its password is kept. It never holds the password.
type Result struct {
	TargetSpec

	Status     reset.Status `json:"status"`
	SecretName string       `json:"secretName,omitempty"`
	VersionID  string       `json:"versionId,omitempty"`
	// Resumed is true when this call finished (or found finished) a rotation
	// an earlier call with the same idempotency key started.
	Resumed bool `json:"resumed,omitempty"`
	// RolledForward, when set, is the version id of an earlier unfinished
	// rotation of the same account (under another key) that this call
	// finished first.
	RolledForward string `json:"rolledForward,omitempty"`
	// Drift, for a sweep's "drift" status, says what drifted:
	// "placeholder", "stale", "accountGone", "unfinished" or "notPwreset".
	Drift string `json:"drift,omitempty"`
	// Detail says why a drift was not acted on, when the sweep knows.
	Detail string `json:"detail,omitempty"`
	// Error is set for a failed or skipped target.
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorBody is an error as a caller sees it: a stable code and a message
// that is safe to show (never a password, never an upstream body).
type ErrorBody struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}
