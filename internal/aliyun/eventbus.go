package aliyun

// Outcome events, published with EventBridge's data API PutEvents. Wire
// facts and their sources: docs/wire-facts.md ("EventBridge").
//
// github.com/alibabacloud-go/eventbridge-sdk v1.3.3 is served, but its
// client cannot keep this package's call model (call.go): PutEvents takes
// no context; it sends through tea v1's tea.DoRequest, whose runtime map
// the SDK builds without any way to pass an http.Client, so every call goes
// through tea's process-wide client pool instead of the shared transport;
// it reads the credential from the shared Client struct (a per-invocation
// credential would race between invocations); it retries on its own; and it
// defaults to HTTP. So the request is built and signed here, the way the
// SDK's DoRequest and eventbridge-util v1.0.4's GetStringToSign /
// getSignedStr / GetSignature define it, and sent on the shared client with
// the call's context.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// PutEvents limits (EventBridge PutEvents API reference and limits page):
// at most 16 events and 256 KB per request, at most 64 KB per event.
const (
	MaxEventsPerRequest = 16
	maxRequestBytes     = 256 << 10
	maxEventBytes       = 64 << 10
)

// eventSource is the CloudEvents source of every event pwreset publishes.
const eventSource = "pwreset"

// The data API's fixed wire values, as eventbridge-sdk v1.3.3's DoRequest
// and PutEventsWithOptions send them.
const (
	eventBridgeVersion  = "2015-06-06"
	putEventsPath       = "/openapi/putEvents"
	putEventsType       = "application/cloudevents-batch+json; charset=utf-8"
	eventDataType       = "application/json; charset=utf-8"
	eventBusExtension   = "aliyuneventbusname"
	maxEventAnswerBytes = 1 << 20
	maxEventSubject     = 512 // EventBridge limits page
)

var (
	// Bus names: at most 127 letters, digits and hyphens, a letter or digit
	// first (EventBridge limits page).
	// (The page also reserves "default" and the prefix
	// "eventbridge-reserved-"; those are not refused here: the service does.)
	reBusName = newPattern(`^[A-Za-z0-9][A-Za-z0-9-]*$`, 127)
	// type: "at most 64 characters" (EventBridge limits page); the character
	// set is assumed (the page gives none; pwreset's own types use only it).
	reEventType = newPattern(`^[A-Za-z0-9:._-]+$`, 64)
	// "id: 128 characters. Must start with a letter or digit. Can contain
	// letters, digits, and hyphens (-)." (EventBridge limits page)
	reEventID = newPattern(`^[A-Za-z0-9][A-Za-z0-9-]*$`, 128)
)

// EventBusConfig says where events go.
type EventBusConfig struct {
	// Endpoint is host[:port] or a URL. Empty means
	// <AccountID>.eventbridge.<RegionID>.aliyuncs.com over HTTPS.
	Endpoint  string
	AccountID string
	RegionID  string
	// BusName is the custom bus every event is put on.
	BusName string
}

// EventBus publishes CloudEvents to one bus. Make it with NewEventBus.
type EventBus struct {
	caller caller
	url    string // scheme://host, without path
	host   string
	region string
	bus    string
	now    func() time.Time
}

// CheckEventBusConfig checks cfg by the rules NewEventBus applies; its
// error is a *reset.Error whose Field names the EventBusConfig field at
// fault (internal/config maps it to its variable).
func CheckEventBusConfig(cfg EventBusConfig) error {
	_, err := cfg.endpoint()
	return err
}

// endpoint returns the checked endpoint of cfg.
func (cfg EventBusConfig) endpoint() (Endpoint, error) {
	if !reBusName.MatchString(cfg.BusName) {
		return Endpoint{}, reset.FieldError("BusName", "must be an event bus name: letters, digits and -, a letter or digit first, at most 127")
	}
	return defaultedEndpoint(cfg.Endpoint, documentedEventBridgeDataHost, cfg.AccountID, cfg.RegionID,
		func(account, region string) string { return account + ".eventbridge." + region + ".aliyuncs.com" })
}

// NewEventBus validates cfg and builds the publisher on the transport and
// credentials of c. Its error names the field at fault.
func NewEventBus(c *Clients, cfg EventBusConfig) (*EventBus, error) {
	ep, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	base := c.Secrets.caller
	return &EventBus{
		caller: caller{service: "eventbridge", hc: base.hc, creds: base.creds, limit: base.limit},
		url:    ep.Protocol + "://" + ep.Host,
		host:   ep.Host,
		region: cfg.RegionID,
		bus:    cfg.BusName,
		now:    time.Now,
	}, nil
}

// Event is one outcome event. Source is always eventSource, and the bus
// extension is the EventBus's; Data is a JSON object and must hold no
// password.
type Event struct {
	ID      string
	Type    string // e.g. "pwreset:Rotation:Succeeded"
	Subject string
	Time    time.Time
	Data    json.RawMessage
}

// wireEvent is an event as eventbridge-util v1.0.4's Serialize sends it: a
// structured CloudEvent whose extensions are top-level attributes and whose
// JSON data is inlined.
type wireEvent struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Specversion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Datacontenttype string          `json:"datacontenttype"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	Data            json.RawMessage `json:"data"`
	Bus             string          `json:"aliyuneventbusname"`
}

// FailedEvent is an event that was not put on the bus.
type FailedEvent struct {
	ID   string
	Code string // the service's ErrorCode, or codeEventTooLarge or codeEventMalformed when refused here
}

// The codes of the events Publish refuses itself, before any call: one over
// maxEventBytes, and one its encoding refuses (an id, type or subject
// EventBridge would not take, data that is not JSON). No retry helps either.
const (
	codeEventTooLarge  = "EventTooLarge"
	codeEventMalformed = "EventMalformed"
)

// PublishResult counts what Publish did.
type PublishResult struct {
	Published int
	Requests  int // PutEvents calls sent
	Failed    []FailedEvent
	// Unsent holds, after an error, the ids of the events of the failed
	// call and of every event after it: none of them reached the bus.
	Unsent []string
}

// Publish puts events on the bus in as few PutEvents calls as the limits
// allow, in order. An event over maxEventBytes or that cannot be encoded is
// not sent and is reported in Failed, and the others go on; so is an event
// the service refused in its EntryList. An error
// means a call failed as a whole: the events of that call and of the calls
// after it were not published (Published counts the ones that were).
func (b *EventBus) Publish(ctx context.Context, events []Event) (PublishResult, error) {
	var res PublishResult
	var batch [][]byte
	var batchIDs []string
	size := 2 // "[]"
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		body := append([]byte{'['}, bytes.Join(batch, []byte{','})...)
		body = append(body, ']')
		res.Requests++
		failed, err := b.put(ctx, body, batchIDs)
		if err != nil {
			return err
		}
		res.Published += len(batch) - len(failed)
		res.Failed = append(res.Failed, failed...)
		batch, batchIDs, size = nil, nil, 2
		return nil
	}
	unsent := func(from int) {
		res.Unsent = append(res.Unsent, batchIDs...)
		for _, e := range events[from:] {
			res.Unsent = append(res.Unsent, e.ID)
		}
	}
	for i, e := range events {
		enc, err := b.encode(e)
		if err != nil {
			res.Failed = append(res.Failed, FailedEvent{ID: e.ID, Code: codeEventMalformed})
			continue
		}
		if len(enc) > maxEventBytes {
			res.Failed = append(res.Failed, FailedEvent{ID: e.ID, Code: codeEventTooLarge})
			continue
		}
		sep := 0
		if len(batch) > 0 {
			sep = 1
		}
		if len(batch) == MaxEventsPerRequest || size+sep+len(enc) > maxRequestBytes {
			if err := flush(); err != nil {
				unsent(i)
				return res, err
			}
			sep = 0
		}
		batch = append(batch, enc)
		batchIDs = append(batchIDs, e.ID)
		size += sep + len(enc)
	}
	if err := flush(); err != nil {
		unsent(len(events))
		return res, err
	}
	return res, nil
}

func (b *EventBus) encode(e Event) ([]byte, error) {
	if !reEventID.MatchString(e.ID) {
		return nil, reset.Errorf(reset.EInternal, "eventbridge PutEvents: an event id must be 1 to 128 letters, digits and hyphens, a letter or digit first")
	}
	if len(e.Subject) > maxEventSubject {
		return nil, reset.Errorf(reset.EInternal, "eventbridge PutEvents: event %s: subject over %d characters", e.ID, maxEventSubject)
	}
	if !reEventType.MatchString(e.Type) {
		return nil, reset.Errorf(reset.EInternal, "eventbridge PutEvents: event %s: type must be 1 to 64 of [A-Za-z0-9:._-]", e.ID)
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	if !json.Valid(data) {
		return nil, reset.Errorf(reset.EInternal, "eventbridge PutEvents: event %s: data is not JSON", e.ID)
	}
	w := wireEvent{
		ID: e.ID, Source: eventSource, Specversion: "1.0", Type: e.Type, Datacontenttype: eventDataType,
		Subject: e.Subject, Data: data, Bus: b.bus,
	}
	// time is required by the PutEvents reference.
	t := e.Time
	if t.IsZero() {
		t = b.now()
	}
	w.Time = t.UTC().Format(time.RFC3339Nano)
	out, err := json.Marshal(w)
	if err != nil {
		return nil, reset.Errorf(reset.EInternal, "eventbridge PutEvents: event %s: %v", e.ID, err)
	}
	return out, nil
}

// dataAction names an action of a data API signed by hand, as rpcAction
// names one sent with CallApi; the RAM policy test reads its Action and
// Version (internal/checks/deploy) to derive the role's eventbridge:PutEvents.
type dataAction struct{ Action, Version string }

// putEventsAction is the one action of the data API pwreset calls.
var putEventsAction = dataAction{Action: "PutEvents", Version: eventBridgeVersion}

// putAnswer is PutEvents' answer (eventbridge-sdk v1.3.3 PutEventsResponse).
type putAnswer struct {
	RequestID        string `json:"RequestId"`
	FailedEntryCount int    `json:"FailedEntryCount"`
	EntryList        []struct {
		EventID   string `json:"EventId"`
		ErrorCode string `json:"ErrorCode"`
	} `json:"EntryList"`
}

// put sends one PutEvents call and returns the events it refused.
func (b *EventBus) put(ctx context.Context, body []byte, ids []string) ([]FailedEvent, error) {
	op := putEventsAction.Action
	c, err := b.caller.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	defer c.cancel()
	m, err := c.cred.GetCredential()
	if err != nil || m == nil {
		return nil, reset.Errorf(reset.EInternal, "eventbridge %s: no credentials", op)
	}
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, b.url+putEventsPath, bytes.NewReader(body))
	if err != nil {
		return nil, reset.Errorf(reset.EInternal, "eventbridge %s: cannot build the request", op)
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, reset.Errorf(reset.EInternal, "eventbridge %s: %v", op, err)
	}
	h := map[string]string{
		"date":                    b.now().UTC().Format(http.TimeFormat),
		"accept":                  "application/json",
		"content-type":            putEventsType,
		"x-acs-signature-nonce":   nonce,
		"x-acs-signature-method":  "HMAC-SHA1",
		"x-acs-signature-version": "1.0",
		"x-eventbridge-version":   putEventsAction.Version,
	}
	if b.region != "" {
		h["x-eventbridge-regionId"] = b.region
	}
	if tok := dara.StringValue(m.SecurityToken); tok != "" {
		h["x-acs-accesskey-id"] = dara.StringValue(m.AccessKeyId)
		h["x-acs-security-token"] = tok
	}
	sig := signEventBridge(http.MethodPost, putEventsPath, h, dara.StringValue(m.AccessKeySecret))
	h["authorization"] = "acs:" + dara.StringValue(m.AccessKeyId) + ":" + sig
	for k, v := range h {
		req.Header.Set(k, v)
	}
	req.Host = b.host

	resp, err := c.http.hc.Do(req)
	if err != nil {
		return nil, transportError("eventbridge", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxEventAnswerBytes))
	if err != nil {
		return nil, transportError("eventbridge", op, err)
	}
	if resp.StatusCode >= 400 {
		return nil, eventBridgeError(op, resp.StatusCode, raw)
	}
	var ans putAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, reset.Errorf(reset.EUpstream, "eventbridge %s: malformed answer", op)
	}
	var failed []FailedEvent
	for i, e := range ans.EntryList {
		if e.ErrorCode == "" {
			continue
		}
		id := e.EventID
		if id == "" && i < len(ids) {
			id = ids[i]
		}
		a := (&APIError{Code: e.ErrorCode}).clean()
		failed = append(failed, FailedEvent{ID: id, Code: a.Code})
	}
	if len(failed) == 0 && ans.FailedEntryCount > 0 {
		return nil, reset.Errorf(reset.EUpstream, "eventbridge %s: %d entries failed without an entry list", op, ans.FailedEntryCount)
	}
	return failed, nil
}

// eventBridgeError classifies an error answer of the data API, whose body is
// {"code","message","requestId"} (lower case, as eventbridge-sdk v1.3.3's
// DoRequest reads it). The message is never kept: it may quote the request.
func eventBridgeError(op string, status int, raw []byte) error {
	var body struct {
		Code      string `json:"code"`
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return &reset.Error{Code: reset.EUpstream, Message: fmt.Sprintf("eventbridge %s: HTTP %d with a body that is not JSON", op, status)}
	}
	a := (&APIError{Service: "eventbridge", Code: body.Code, StatusCode: status, RequestID: body.RequestID}).clean()
	msg := fmt.Sprintf("eventbridge %s: %s", op, a.Code)
	if a.RequestID != "" {
		msg += " (request id " + a.RequestID + ")"
	}
	return &reset.Error{Code: classOf(a), Message: msg, Err: a}
}

// signEventBridge returns the signature of a data API request, as
// eventbridge-util v1.0.4 computes it: base64 HMAC-SHA1, keyed with the
// AccessKey secret, of
//
//	METHOD \n content-md5 \n content-type \n date \n
//	each x-acs-* header "name:value\n", names lower-cased and sorted \n
//	path[?sorted query]
//
// The body is not signed (the SDK sends no content-md5).
func signEventBridge(method, resource string, headers map[string]string, secret string) string {
	var names []string
	for k := range headers {
		if strings.HasPrefix(strings.ToLower(k), "x-acs") {
			names = append(names, strings.ToLower(k))
		}
	}
	sort.Strings(names)
	lower := make(map[string]string, len(headers))
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	var sb strings.Builder
	sb.WriteString(method + "\n" + lower["content-md5"] + "\n" + lower["content-type"] + "\n" + lower["date"] + "\n")
	for _, n := range names {
		sb.WriteString(n + ":" + lower[n] + "\n")
	}
	sb.WriteString(resource)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(sb.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("cannot make a nonce")
	}
	return hex.EncodeToString(b[:]), nil
}
