package emulator

// EventBridge's data API, PutEvents, as eventbridge-sdk v1.3.3 sends it and
// eventbridge-util v1.0.4 signs it. Sources: docs/wire-facts.md
// ("EventBridge").

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// EventBridgeData is the product name of EventBridge's data API in the call
// records.
const EventBridgeData Product = "eventbridge-data"

// PutEvents limits (PutEvents API reference): 64 KB per event, 16 events
// and 256 KB per request. (The product's limits page gives 256 KB and 1 MB:
// the stricter reference is served.)
const (
	MaxEventsPerPut  = 16
	MaxPutEventsSize = 256 << 10
	MaxEventSize     = 64 << 10
)

// Error codes of the data API. None is documented: assumed.
const (
	CodeEventBusNotExist = "EventBusNotExist"
	CodeEventTooLarge    = "EventSizeExceedLimit"
)

// PublishedEvent is an event a bus accepted. Raw is the event as sent.
type PublishedEvent struct {
	Bus, ID, Source, Type, Subject, Time string
	Data                                 json.RawMessage
	Raw                                  json.RawMessage
}

// busState is the data API's state, under Cloud.mu.
type busState struct {
	buses  map[string]bool
	events []PublishedEvent
}

// AddEventBus creates a custom event bus events can be put on.
func (c *Cloud) AddEventBus(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fleet.bus.buses == nil {
		c.fleet.bus.buses = map[string]bool{}
	}
	c.fleet.bus.buses[name] = true
}

// PublishedEvents returns every event put on any bus, oldest first.
func (c *Cloud) PublishedEvents() []PublishedEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]PublishedEvent(nil), c.fleet.bus.events...)
}

// StartEventBus serves the data API (POST /openapi/putEvents) on
// 127.0.0.1:0 and returns its URL (the EVENTBRIDGE_ENDPOINT of a test).
// Close stops it.
func (c *Cloud) StartEventBus() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("start eventbridge: %w", err)
	}
	srv := c.server(EventBridgeData)
	srv.Handler = http.HandlerFunc(c.servePutEvents)
	c.mu.Lock()
	c.servers = append(c.servers, srv)
	c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

func (c *Cloud) servePutEvents(w http.ResponseWriter, r *http.Request) {
	call := Call{Product: EventBridgeData, Action: "PutEvents", Version: r.Header.Get("x-eventbridge-version"), RequestID: newRequestID(), Params: map[string]string{}}
	if id, ok := r.Context().Value(connIDKey{}).(uint64); ok {
		call.ConnID = id
	}
	keyID, _, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Authorization"), "acs:"), ":")
	call.AccessKeyID, call.SecurityToken = keyID, r.Header.Get("x-acs-security-token")
	if keyID != "" {
		call.SignatureAlgorithm = AlgorithmV2
	}
	out, aerr := c.putEvents(r, &call)
	status := http.StatusOK
	var body any = out
	if aerr != nil {
		status, call.Code = aerr.Status, aerr.Code
		// The data API's error body is lower case (eventbridge-sdk v1.3.3
		// DoRequest reads code, message, requestId).
		body = map[string]string{"code": aerr.Code, "message": aerr.Message, "requestId": call.RequestID}
	} else {
		out["RequestId"] = call.RequestID
	}
	call.Status = status
	c.mu.Lock()
	call.Time = c.now()
	c.calls = append(c.calls, call)
	hook := c.onCall
	c.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (c *Cloud) putEvents(r *http.Request, call *Call) (map[string]any, *apiError) {
	if r.URL.Path != "/openapi/putEvents" {
		return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	if r.Method != http.MethodPost {
		return nil, errorf(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method is not supported.")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxPutEventsSize+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "The request body could not be read.")
	}
	if f, ok := c.faults.takeFail("PutEvents"); ok {
		return nil, errorf(f.status, f.code, "The request failed (injected fault).")
	}
	if aerr := c.throttle(EventBridgeData, "PutEvents"); aerr != nil {
		return nil, aerr
	}
	if aerr := c.authenticateEventBridge(r); aerr != nil {
		return nil, aerr
	}
	if len(raw) > MaxPutEventsSize {
		return nil, errorf(http.StatusRequestEntityTooLarge, "EventsSizeExceedLimit", "A request may carry at most %d bytes of events.", MaxPutEventsSize)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cloudevents-batch+json") {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "Content-Type must be application/cloudevents-batch+json.")
	}
	var events []json.RawMessage
	if err := json.Unmarshal(raw, &events); err != nil || len(events) == 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "The body must be a non-empty JSON array of CloudEvents.")
	}
	if len(events) > MaxEventsPerPut {
		return nil, errorf(http.StatusBadRequest, "EventsCountExceedLimit", "A request may carry at most %d events.", MaxEventsPerPut)
	}
	call.Params["Events"] = fmt.Sprint(len(events))
	c.mu.Lock()
	defer c.mu.Unlock()
	entries := make([]any, 0, len(events))
	failed := 0
	for _, e := range events {
		ev, code := c.acceptEvent(e)
		if code != "" {
			failed++
			entries = append(entries, map[string]any{"EventId": ev.ID, "ErrorCode": code, "ErrorMessage": "The event was not accepted."})
			continue
		}
		c.fleet.bus.events = append(c.fleet.bus.events, ev)
		entries = append(entries, map[string]any{"EventId": ev.ID, "TraceId": strings.ReplaceAll(newRequestID(), "-", "")})
	}
	return map[string]any{"FailedEntryCount": failed, "EntryList": entries, "ResourceOwnerAccountId": c.fixture.AccountID}, nil
}

// acceptEvent checks one structured CloudEvent; a non-empty code refuses it.
func (c *Cloud) acceptEvent(raw json.RawMessage) (PublishedEvent, string) {
	var e struct {
		ID, Source, Specversion, Type, Subject, Time, Datacontenttype string
		Data                                                          json.RawMessage
		Bus                                                           string `json:"aliyuneventbusname"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return PublishedEvent{}, "InvalidArgument"
	}
	ev := PublishedEvent{Bus: e.Bus, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time, Data: e.Data, Raw: raw}
	switch {
	case len(raw) > MaxEventSize:
		return ev, CodeEventTooLarge
	case e.ID == "" || len(e.ID) > 128 || e.Source == "" || len(e.Source) > 128 || e.Type == "" || len(e.Type) > 64 ||
		len(e.Subject) > 512 || e.Specversion != "1.0" || e.Time == "":
		return ev, "InvalidArgument"
	case !c.fleet.bus.buses[e.Bus]:
		return ev, CodeEventBusNotExist
	}
	return ev, ""
}

// authenticateEventBridge checks the data API's signature: Authorization
// "acs:<AccessKeyId>:<base64 HMAC-SHA1>" over the string eventbridge-util
// v1.0.4 builds (method, content-md5, content-type, date, the sorted x-acs-*
// headers, the path). The date must be within MaxClockSkew and the nonce
// unused.
func (c *Cloud) authenticateEventBridge(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "acs:")
	keyID, sig, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || keyID == "" || sig == "" {
		return errorf(http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
	}
	if r.Header.Get("x-acs-signature-method") != "HMAC-SHA1" || r.Header.Get("x-acs-signature-version") != "1.0" {
		return errorf(http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not supported.")
	}
	token := r.Header.Get("x-acs-security-token")
	if token != "" && r.Header.Get("x-acs-accesskey-id") != keyID {
		return errorf(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
	}
	secret, aerr := c.secretFor(keyID, token)
	if aerr != nil {
		return aerr
	}
	var names []string
	for k := range r.Header {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-acs") {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	for _, n := range names {
		sb.WriteString(n + ":" + r.Header.Get(n) + "\n")
	}
	resource := r.URL.Path
	if q := r.URL.Query(); len(q) > 0 {
		keys := sortedKeys(q)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+"="+q.Get(k))
		}
		resource += "?" + strings.Join(parts, "&")
	}
	sb.WriteString(resource)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(sb.String()))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
	}
	date, err := time.Parse(http.TimeFormat, r.Header.Get("Date"))
	if err != nil {
		return errorf(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	return c.checkFreshness(date.UTC().Format(timestampLayout), r.Header.Get("x-acs-signature-nonce"))
}
