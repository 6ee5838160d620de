package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/pwreset/pwreset/internal/reset"
)

// field is one field of a TargetSpec as the decoder knows it: its JSON name
// and type, read from reset's table of kinds (reset.Kind.Fields), and where
// it is in TargetSpec and in reset.Target (the field of the same Go name).
type field struct {
	name    string
	boolean bool
	spec    int // field index in TargetSpec
	target  int // field index in reset.Target
}

// targetFields returns the fields of a TargetSpec, "target" first and then
// each kind's in reset's order. It is built on first use, not at start-up.
// A kind's field without a TargetSpec field of that JSON name and a
// reset.Target field of its Go name is a programmer error: it panics, on
// the first request any test sends.
var targetFields = sync.OnceValue(func() []field {
	spec, target := reflect.TypeFor[TargetSpec](), reflect.TypeFor[reset.Target]()
	byTag := map[string]reflect.StructField{}
	for i := range spec.NumField() {
		f := spec.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		byTag[name] = f
	}
	kind, _ := target.FieldByName("Kind")
	out := []field{{name: "target", spec: byTag["target"].Index[0], target: kind.Index[0]}}
	for _, k := range reset.Kinds() {
		for _, f := range k.Fields() {
			sf, ok := byTag[f.Name]
			tf, ok2 := target.FieldByName(sf.Name)
			if !ok || !ok2 || (sf.Type.Kind() == reflect.Bool) != f.Bool || sf.Type != tf.Type {
				panic("handler: TargetSpec and reset.Target disagree about reset's field " + f.Name)
			}
			if _, dup := lookupField(out, f.Name); !dup {
				out = append(out, field{name: f.Name, boolean: f.Bool, spec: sf.Index[0], target: tf.Index[0]})
			}
		}
	}
	return out
})

func lookupField(fs []field, name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// knownField reports whether name is a field of a Request.
func knownField(name string) bool {
	_, ok := lookupField(targetFields(), name)
	return ok || topLevel[name]
}

// topLevel are the fields of a Request besides a TargetSpec's.
var topLevel = map[string]bool{"targets": true, "dryRun": true, "select": true, "maxTargets": true, "sweep": true}

// decodeRequest decodes a Request strictly (see Request), in one pass over
// its tokens: encoding/json alone matches names case-insensitively, takes
// the last of duplicate keys and reads null as a zero value, all ways to
// smuggle a field past a reviewer. where names the envelope field that held
// it ("body", "data", "payload", "event") for errors about the input as a
// whole. Errors are EInvalid *reset.Error values whose Field is the JSON
// path at fault.
func decodeRequest(data []byte, where string) (Request, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Request{}, reset.FieldError(where, "is empty: it must hold the request as a JSON object")
	}
	c := checker{dec: json.NewDecoder(bytes.NewReader(data)), where: where}
	var req Request
	if err := c.object("", &req.TargetSpec, &req); err != nil {
		return Request{}, err
	}
	if _, err := c.dec.Token(); err != io.EOF {
		return Request{}, reset.FieldError(where, "holds data after the request object")
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
	case r.Sweep != nil && (single || r.Targets != nil || r.Select != nil || r.MaxTargets != 0):
		return reset.FieldError("sweep", "must be the only field besides dryRun")
	case r.Sweep != nil:
		return nil
	case r.Select != nil && r.Targets != nil:
		return reset.FieldError("select", "must not be given with targets: a selector names one directory or organization")
	case r.Targets != nil && single:
		if r.Target != "" {
			return reset.FieldError("targets", "must not be given with target: name one target, or a batch in targets")
		}
		return reset.FieldError(r.firstSetField(), "must be inside an entry of targets in a batch")
	case r.Targets == nil && r.Target == "":
		return reset.FieldError("target", `is required: "cloudsso" or "fabric" (or targets, for a batch)`)
	case r.Targets != nil && len(r.Targets) == 0:
		return reset.FieldError("targets", "must hold at least one target")
	}
	return nil
}

// firstSetField returns the JSON name of the first field of r's TargetSpec,
// in reset's order, that is set.
func (r Request) firstSetField() string {
	v := reflect.ValueOf(r.TargetSpec)
	for _, f := range targetFields() {
		if !v.Field(f.spec).IsZero() {
			return f.name
		}
	}
	return "target"
}

// resetRequest returns the domain request of r under key.
func (r Request) resetRequest(key string) reset.Request {
	out := reset.Request{IdempotencyKey: key, DryRun: r.DryRun, Batch: r.Targets != nil, MaxTargets: r.MaxTargets, Sweep: r.Sweep != nil}
	if r.Select != nil {
		out.Select = &reset.Selector{Status: r.Select.Status, ProvisionType: r.Select.ProvisionType,
			UserNamePrefix: r.Select.UserNamePrefix, Exclude: r.Select.Exclude}
	}
	if out.Sweep {
		return out
	}
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

// target returns the domain target t names.
func (t TargetSpec) target() reset.Target {
	var out reset.Target
	src, dst := reflect.ValueOf(t), reflect.ValueOf(&out).Elem()
	for _, f := range targetFields() {
		dst.Field(f.target).Set(src.Field(f.spec))
	}
	return out
}

// specOf returns the identity of t as a result shows it: its kind, its
// identifiers and parameters; not its options (a result never echoed them).
func specOf(t reset.Target) TargetSpec {
	var out TargetSpec
	src, dst := reflect.ValueOf(t), reflect.ValueOf(&out).Elem()
	for _, f := range targetFields() {
		if !f.boolean {
			dst.Field(f.spec).Set(src.Field(f.target))
		}
	}
	return out
}

// checker walks the tokens of a request, rejecting anything encoding/json
// would silently accept, and fills the request as it goes. It never quotes
// a value: a rejected field may be a password.
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

// object decodes one object into spec; path prefixes each field's name in
// errors. At the request's top level req is set, and the object may also
// hold targets and dryRun.
func (c *checker) object(path string, spec *TargetSpec, req *Request) error {
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
	fields := targetFields()
	v := reflect.ValueOf(spec).Elem()
	seen := map[string]bool{}
	for c.dec.More() {
		tok, err := c.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // object keys are always strings
		name := path + key
		f, ok := lookupField(fields, key)
		top := req != nil && topLevel[key]
		switch {
		case key == "password":
			return reset.FieldError(name, "must not be given: pwreset generates every password itself")
		case !ok && !top:
			return reset.FieldError(unknownField(path, key), "is not a known field")
		case seen[key]:
			return reset.FieldError(name, "is given twice")
		}
		seen[key] = true
		switch {
		case key == "targets" && top:
			req.Targets, err = c.targets(name)
		case key == "dryRun" && top:
			req.DryRun, err = c.boolean(name)
		case key == "select" && top:
			req.Select, err = c.selector(name)
		case key == "maxTargets" && top:
			req.MaxTargets, err = c.count(name)
		case key == "sweep" && top:
			req.Sweep, err = c.sweep(name)
		case f.boolean:
			var b bool
			b, err = c.boolean(name)
			v.Field(f.spec).SetBool(b)
		default:
			var s string
			s, err = c.string(name)
			v.Field(f.spec).SetString(s)
		}
		if err != nil {
			return err
		}
	}
	_, err = c.token() // the closing '}'
	return err
}

func (c *checker) string(name string) (string, error) {
	tok, err := c.token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", reset.FieldError(name, "must be a string, got %s", typeName(tok))
	}
	return s, nil
}

func (c *checker) boolean(name string) (bool, error) {
	tok, err := c.token()
	if err != nil {
		return false, err
	}
	b, ok := tok.(bool)
	if !ok {
		return false, reset.FieldError(name, "must be true or false, got %s", typeName(tok))
	}
	return b, nil
}

func (c *checker) targets(name string) ([]TargetSpec, error) {
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, reset.FieldError(name, "must be an array of targets, got %s", typeName(tok))
	}
	out := []TargetSpec{}
	for i := 0; c.dec.More(); i++ {
		if i == reset.MaxTargets {
			return nil, reset.FieldError(name, "must hold at most %d targets", reset.MaxTargets)
		}
		out = append(out, TargetSpec{})
		if err := c.object(fmt.Sprintf("%s[%d].", name, i), &out[i], nil); err != nil {
			return nil, err
		}
	}
	_, err = c.token() // the closing ']'
	return out, err
}

// selector decodes a select object strictly.
func (c *checker) selector(name string) (*SelectSpec, error) {
	if err := c.open(name, '{', "an object"); err != nil {
		return nil, err
	}
	out := &SelectSpec{}
	seen := map[string]bool{}
	for c.dec.More() {
		tok, err := c.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		path := name + "." + key
		if seen[key] {
			return nil, reset.FieldError(path, "is given twice")
		}
		seen[key] = true
		switch key {
		case "status":
			out.Status, err = c.string(path)
		case "provisionType":
			out.ProvisionType, err = c.string(path)
		case "userNamePrefix":
			out.UserNamePrefix, err = c.string(path)
		case "exclude":
			out.Exclude, err = c.strings(path, reset.MaxExclude)
		default:
			return nil, reset.FieldError(unknownField(name+".", key), "is not a known field")
		}
		if err != nil {
			return nil, err
		}
	}
	_, err := c.token()
	return out, err
}

// sweep decodes the sweep's body, an empty object.
func (c *checker) sweep(name string) (*SweepSpec, error) {
	if err := c.open(name, '{', "an object"); err != nil {
		return nil, err
	}
	if c.dec.More() {
		return nil, reset.FieldError(name, "must be an empty object")
	}
	_, err := c.token()
	return &SweepSpec{}, err
}

// open reads the opening delimiter of a value that must be an object or
// array.
func (c *checker) open(name string, d json.Delim, what string) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	if tok != d {
		return reset.FieldError(name, "must be %s, got %s", what, typeName(tok))
	}
	return nil
}

// strings decodes an array of at most max strings.
func (c *checker) strings(name string, max int) ([]string, error) {
	if err := c.open(name, '[', "an array of strings"); err != nil {
		return nil, err
	}
	out := []string{}
	for i := 0; c.dec.More(); i++ {
		if i == max {
			return nil, reset.FieldError(name, "must hold at most %d entries", max)
		}
		s, err := c.string(fmt.Sprintf("%s[%d]", name, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	_, err := c.token()
	return out, err
}

// count decodes a positive integer of at most reset.MaxSelectTargets.
func (c *checker) count(name string) (int, error) {
	tok, err := c.token()
	if err != nil {
		return 0, err
	}
	f, ok := tok.(float64)
	if !ok {
		return 0, reset.FieldError(name, "must be a number, got %s", typeName(tok))
	}
	if f != float64(int(f)) || f < 1 || f > reset.MaxSelectTargets {
		return 0, reset.FieldError(name, "must be a whole number from 1 to %d", reset.MaxSelectTargets)
	}
	return int(f), nil
}

// validName reports whether a name the caller made up may be quoted back:
// ^[A-Za-z_][A-Za-z0-9_]{0,63}$, checked by hand (a regexp compiled at
// start-up cost cold start 0.15 ms and 743 allocations).
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// unknownField names an unknown field in an error. A name that does not look
// like a field name (empty, long, odd characters: a value pasted as a key,
// perhaps a password) is not quoted: errors are logged.
func unknownField(path, key string) string {
	if validName(key) {
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
