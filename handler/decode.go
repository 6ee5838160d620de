package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/pwreset/pwreset/internal/reset"
)

// jsonKind is the JSON type a request field must have.
type jsonKind int

const (
	kindString jsonKind = iota
	kindBool
	kindTargets // an array of target objects
)

// targetFields are the fields of a TargetSpec; requestFields those of a
// Request. decodeRequest checks them before encoding/json sees the input,
// because encoding/json matches names case-insensitively, takes the last of
// duplicate keys and reads null as a zero value: all ways to smuggle a field
// past a reviewer.
var (
	targetFields = map[string]jsonKind{
		"target":                           kindString,
		"directoryId":                      kindString,
		"userId":                           kindString,
		"requirePasswordResetForNextLogin": kindBool,
		"organizationId":                   kindString,
		"username":                         kindString,
		"location":                         kindString,
	}
	requestFields = func() map[string]jsonKind {
		m := map[string]jsonKind{"targets": kindTargets, "dryRun": kindBool}
		for k, v := range targetFields {
			m[k] = v
		}
		return m
	}()
)

// decodeRequest decodes a Request strictly (see Request). where names the
// envelope field that held it ("body", "data", "payload") for errors about
// the input as a whole. Errors are EInvalid *reset.Error values whose Field
// is the JSON path at fault.
func decodeRequest(data []byte, where string) (Request, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Request{}, reset.FieldError(where, "is empty: it must hold the request as a JSON object")
	}
	c := checker{dec: json.NewDecoder(bytes.NewReader(data)), where: where}
	if err := c.object("", requestFields); err != nil {
		return Request{}, err
	}
	if _, err := c.dec.Token(); err != io.EOF {
		return Request{}, reset.FieldError(where, "holds data after the request object")
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		// The checker admits only what encoding/json decodes; reaching here
		// is a bug, reported without the input.
		return Request{}, &reset.Error{Code: reset.EInternal, Field: where, Message: "could not be decoded", Err: err}
	}
	if err := req.checkForm(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// checkForm checks that the request uses exactly one of its two forms.
func (r Request) checkForm() error {
	single := r.TargetSpec != TargetSpec{}
	switch {
	case r.Targets != nil && single:
		if r.Target != "" {
			return reset.FieldError("targets", "must not be given with target: name one target, or a batch in targets")
		}
		return reset.FieldError(firstSetField(r.TargetSpec), "must be inside an entry of targets in a batch")
	case r.Targets == nil && r.Target == "":
		return reset.FieldError("target", `is required: "cloudsso" or "fabric" (or targets, for a batch)`)
	case r.Targets != nil && len(r.Targets) == 0:
		return reset.FieldError("targets", "must hold at least one target")
	}
	return nil
}

func firstSetField(t TargetSpec) string {
	switch {
	case t.DirectoryID != "":
		return "directoryId"
	case t.UserID != "":
		return "userId"
	case t.RequirePasswordResetForNextLogin:
		return "requirePasswordResetForNextLogin"
	case t.OrganizationID != "":
		return "organizationId"
	case t.Username != "":
		return "username"
	}
	return "location"
}

// resetRequest returns the domain request of r under key.
func (r Request) resetRequest(key string) reset.Request {
	out := reset.Request{IdempotencyKey: key, DryRun: r.DryRun, Batch: r.Targets != nil}
	if r.Targets == nil {
		out.Targets = []reset.Target{r.TargetSpec.target()}
		return out
	}
	out.Targets = make([]reset.Target, len(r.Targets))
	for i, t := range r.Targets {
		out.Targets[i] = t.target()
	}
	return out
}

func (t TargetSpec) target() reset.Target {
	return reset.Target{
		Kind:                             t.Target,
		DirectoryID:                      t.DirectoryID,
		UserID:                           t.UserID,
		RequirePasswordResetForNextLogin: t.RequirePasswordResetForNextLogin,
		OrganizationID:                   t.OrganizationID,
		Username:                         t.Username,
		Location:                         t.Location,
	}
}

// checker walks the tokens of a request and rejects anything encoding/json
// would silently accept. It never quotes a value: a rejected field may be
// a password.
type checker struct {
	dec   *json.Decoder
	where string
}

func (c *checker) token() (json.Token, error) {
	tok, err := c.dec.Token()
	if err == nil {
		return tok, nil
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return nil, reset.FieldError(c.where, "is not valid JSON (at byte %d)", syn.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, reset.FieldError(c.where, "is not valid JSON: it ends early")
	}
	return nil, reset.FieldError(c.where, "is not valid JSON")
}

// object checks one object whose fields are fields; path prefixes each
// field's name in errors.
func (c *checker) object(path string, fields map[string]jsonKind) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		name := c.where
		if path != "" {
			name = path[:len(path)-1]
		}
		return reset.FieldError(name, "must be a JSON object")
	}
	seen := make(map[string]bool, len(fields))
	for c.dec.More() {
		tok, err := c.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // object keys are always strings
		name := path + key
		kind, ok := fields[key]
		switch {
		case key == "password":
			return reset.FieldError(name, "must not be given: pwreset generates every password itself")
		case !ok:
			return reset.FieldError(unknownField(path, key), "is not a known field")
		case seen[key]:
			return reset.FieldError(name, "is given twice")
		}
		seen[key] = true
		if err := c.value(name, kind); err != nil {
			return err
		}
	}
	_, err = c.token() // the closing '}'
	return err
}

func (c *checker) value(name string, kind jsonKind) error {
	if kind == kindTargets {
		return c.targets(name)
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	switch kind {
	case kindString:
		if _, ok := tok.(string); !ok {
			return reset.FieldError(name, "must be a string, got %s", typeName(tok))
		}
	case kindBool:
		if _, ok := tok.(bool); !ok {
			return reset.FieldError(name, "must be true or false, got %s", typeName(tok))
		}
	}
	return nil
}

func (c *checker) targets(name string) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return reset.FieldError(name, "must be an array of targets, got %s", typeName(tok))
	}
	for i := 0; c.dec.More(); i++ {
		if i == reset.MaxTargets {
			return reset.FieldError(name, "must hold at most %d targets", reset.MaxTargets)
		}
		if err := c.object(fmt.Sprintf("%s[%d].", name, i), targetFields); err != nil {
			return err
		}
	}
	_, err = c.token() // the closing ']'
	return err
}

// reFieldName is what a field name the caller made up must look like to be
// quoted back.
var reFieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// unknownField names an unknown field in an error. A name that does not look
// like a field name (empty, long, odd characters: a value pasted as a key,
// perhaps a password) is not quoted: errors are logged.
func unknownField(path, key string) string {
	if reFieldName.MatchString(key) {
		return path + key
	}
	return path + "(a field whose name is not shown)"
}

// typeName names a token's JSON type, never its value.
func typeName(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		if tok == json.Delim('[') {
			return "an array"
		}
		return "an object"
	}
	return "another type"
}
