package reset

import (
	"strings"
)

// Target is one account whose password is reset. Which fields apply depends
// on Kind (the table kinds); Validate rejects a field that does not.
type Target struct {
	Kind Kind

	// CloudSSO.
	DirectoryID                      string
	UserID                           string
	RequirePasswordResetForNextLogin bool

	// Fabric.
	OrganizationID string
	Username       string
	Location       string
}

// Validate checks every identifier against its documented character set and
// length. Its error is an *Error with Code EInvalid whose Field is the JSON
// name of the first field at fault.
func (t Target) Validate() error {
	s := specOf(t.Kind)
	if s == nil {
		quoted := make([]string, len(kinds))
		for i, k := range kinds {
			quoted[i] = `"` + string(k.kind) + `"`
		}
		if t.Kind == "" {
			return FieldError("target", "is required: one of %s", strings.Join(quoted, ", "))
		}
		return FieldError("target", "must be one of %s", strings.Join(quoted, ", "))
	}
	if f := t.foreignField(s); f != "" {
		return FieldError(f, "does not apply to target %q", t.Kind)
	}
	for _, f := range s.stringFields() {
		v := *f.get(&t)
		if v == "" {
			return FieldError(f.json, "is required")
		}
		if !f.pattern().MatchString(v) {
			return FieldError(f.json, "%s", f.rule)
		}
	}
	return nil
}

// foreignField returns the JSON name of the first field (by name, for a
// deterministic message) that is set on t but belongs to another kind than
// s, or "".
func (t Target) foreignField(s *kindSpec) string {
	own := map[string]bool{}
	for _, f := range s.kind.Fields() {
		own[f.Name] = true
	}
	best := ""
	consider := func(name string, set bool) {
		if set && !own[name] && (best == "" || name < best) {
			best = name
		}
	}
	for i := range kinds {
		for _, f := range kinds[i].stringFields() {
			consider(f.json, *f.get(&t) != "")
		}
		for _, f := range kinds[i].flags {
			consider(f.json, *f.get(&t))
		}
	}
	return best
}

// Key identifies the account across requests: "<kind>/<id>/<id>". Two targets
// with the same Key are the same account, whatever their other fields.
func (t Target) Key() string {
	s := specOf(t.Kind)
	if s == nil {
		return string(t.Kind)
	}
	return string(t.Kind) + "/" + *s.ids[0].get(&t) + "/" + *s.ids[1].get(&t)
}

// SecretName is the name of the secret that holds t's password. Only a
// validated Target may be named; the caller never chooses the name.
func (t Target) SecretName(prefix string) string {
	return prefix + t.Key()
}

// String names the target for logs; it is its Key.
func (t Target) String() string { return t.Key() }

// allowListValue returns t's allow-listed identifier (the first of its
// kind's ids) and its JSON name; t's kind must be known.
func (t Target) allowListValue() (field, value string) {
	s := specOf(t.Kind)
	return s.ids[0].json, *s.ids[0].get(&t)
}
