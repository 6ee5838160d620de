package aliyun

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/pwreset/pwreset/internal/reset"
)

// Publisher implements reset.Publisher on an EventBus: the rotator's
// outcome events become CloudEvents of source eventSource on the bus.
type Publisher struct {
	bus *EventBus
}

var _ reset.Publisher = (*Publisher)(nil)

// NewPublisher returns the reset.Publisher of bus.
func NewPublisher(bus *EventBus) *Publisher { return &Publisher{bus: bus} }

// Publish puts events on the bus in as few PutEvents calls as its limits
// allow, and returns those that did not get there with the reason: the
// failed call's error (throttling EThrottled, a lost connection
// EUnavailable, a missing bus or permission as errors.go classifies it),
// or, when only entries were refused, EThrottled if one of them was
// throttled, else EUpstream; an event over maxEventBytes, or one that cannot
// be encoded, is refused here (EInternal: no retry mends it).
func (p *Publisher) Publish(ctx context.Context, events []reset.Event) ([]reset.Event, error) {
	wire := make([]Event, 0, len(events))
	byID := make(map[string]reset.Event, len(events))
	var rest []reset.Event
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			rest = append(rest, e)
			continue
		}
		byID[e.ID] = e
		wire = append(wire, Event{ID: e.ID, Type: e.Type, Subject: e.Subject, Time: e.Time, Data: data})
	}
	var firstErr error
	if len(rest) > 0 {
		firstErr = reset.Errorf(reset.EInternal, "eventbridge PutEvents: %d events' data is not JSON", len(rest))
	}
	res, err := p.bus.Publish(ctx, wire)
	code := reset.ErrorCode("")
	for _, f := range res.Failed {
		if e, ok := byID[f.ID]; ok {
			rest = append(rest, e)
		}
		switch c := entryCode(f.Code); {
		case c == reset.EThrottled:
			code = c
		case code == "":
			code = c
		}
	}
	for _, id := range res.Unsent {
		if e, ok := byID[id]; ok {
			rest = append(rest, e)
		}
	}
	switch {
	case err != nil:
		return rest, err
	case code != "":
		codes := make([]string, 0, len(res.Failed))
		for _, f := range res.Failed {
			codes = append(codes, f.Code)
		}
		return rest, reset.Errorf(code, "eventbridge PutEvents: %d events refused (%s)", len(res.Failed), strings.Join(codes, ", "))
	case firstErr != nil:
		return rest, firstErr
	}
	return nil, nil
}

// entryCode classifies an EntryList ErrorCode. The entry codes are not
// documented (docs/wire-facts.md: assumed): throttling is matched as in
// errors.go, an event this package refused (its size, its encoding) is
// EInternal, and anything else EUpstream, not retried.
func entryCode(code string) reset.ErrorCode {
	switch {
	case code == codeEventTooLarge, code == codeEventMalformed:
		return reset.EInternal
	case strings.HasPrefix(code, "Throttling"):
		return reset.EThrottled
	}
	return reset.EUpstream
}

// The password rules of CloudSSO directories (DESIGN.md, "Passwords the
// directory accepts"). BaaS documents no policy API: Fabric has no
// PolicyReader.
var _ reset.PolicyReader = (*CloudSSO)(nil)

// DirectoryRules reads the password policy of t's directory with
// GetPasswordPolicy (readPasswordPolicy, shared with
// Directory.GetPasswordPolicy).
func (s *CloudSSO) DirectoryRules(ctx context.Context, t reset.Target) (reset.DirectoryRules, error) {
	if t.Kind != reset.KindCloudSSO {
		return reset.DirectoryRules{}, reset.Errorf(reset.EInternal, "cloudsso GetPasswordPolicy: target kind %q", t.Kind)
	}
	p, err := readPasswordPolicy(ctx, s.base, s.caller, t.DirectoryID)
	if err != nil {
		return reset.DirectoryRules{}, err
	}
	return reset.DirectoryRules{
		MinPasswordLength:          p.MinPasswordLength,
		MaxPasswordLength:          p.MaxPasswordLength,
		MinPasswordDifferentChars:  p.MinPasswordDifferentChars,
		PasswordNotContainUsername: p.PasswordNotContainUsername,
	}, nil
}

// UserName returns the name of CloudSSO user t.UserID, with GetUser (user).
func (s *CloudSSO) UserName(ctx context.Context, t reset.Target) (string, error) {
	u, err := s.user(ctx, t)
	if err != nil {
		return "", err
	}
	if u.UserName == "" {
		return "", reset.Errorf(reset.EUpstream, "cloudsso GetUser: answer has no UserName")
	}
	return u.UserName, nil
}

// Policies returns the password-rule reader of each kind that has one, as
// reset.Deps.Policies takes them.
func (c *Clients) Policies() map[reset.Kind]reset.PolicyReader {
	return map[reset.Kind]reset.PolicyReader{reset.KindCloudSSO: c.CloudSSO}
}
