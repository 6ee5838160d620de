package reset

import (
	"regexp"
	"sync"
)

// Kind names the service whose user a Target is.
type Kind string

// Target kinds.
const (
	KindCloudSSO Kind = "cloudsso" // a CloudSSO user: ResetUserPassword
	KindFabric   Kind = "fabric"   // a BaaS Hyperledger Fabric organization user: ResetFabricOrganizationUserPassword
)

// kinds is the one table of target kinds: everything that differs between
// them (their fields and JSON names, the rules of their identifiers, their
// Key, their secret value and the field their allow-list holds) is read
// from here. Adding a kind is a row here, a Target field per identifier, a
// Resetter (its adapter) and its wiring.
var kinds = []kindSpec{
	{
		kind: KindCloudSSO,
		ids: [2]idField{
			{json: "directoryId", pattern: reDirectoryID, max: 64, rule: `must be "d-" followed by 1 to 62 lower-case letters or digits`,
				get: func(t *Target) *string { return &t.DirectoryID }},
			{json: "userId", pattern: reUserID, max: 64, rule: `must be "u-" followed by 1 to 62 lower-case letters or digits`,
				get: func(t *Target) *string { return &t.UserID }},
		},
		flags: []flagField{
			{json: "requirePasswordResetForNextLogin", get: func(t *Target) *bool { return &t.RequirePasswordResetForNextLogin }},
		},
	},
	{
		kind: KindFabric,
		ids: [2]idField{
			{json: "organizationId", pattern: reOrganizationID, max: 64, rule: "must be 1 to 64 lower-case letters, digits or hyphens, starting with a letter",
				get: func(t *Target) *string { return &t.OrganizationID }},
			{json: "username", pattern: reUsername, max: 64, rule: "must be 1 to 64 letters, digits, underscores or hyphens, starting with a letter or digit",
				get: func(t *Target) *string { return &t.Username }},
		},
		params: []idField{
			{json: "location", pattern: reRegionID, max: 59, rule: `must be a region id such as "cn-hangzhou"`,
				get: func(t *Target) *string { return &t.Location }},
		},
	},
}

// kindSpec is one row of kinds.
type kindSpec struct {
	kind Kind
	// ids identify the account: Key is "<kind>/<ids[0]>/<ids[1]>", and the
	// secret value holds both. The allow-list of the kind (Config.Allowed)
	// holds values of ids[0].
	ids [2]idField
	// params are further required string fields the service needs (BaaS's
	// location): not part of the Key, but held by the secret value, so
	// that the sweep can reset the account from the secret alone.
	params []idField
	// flags are optional options of the reset.
	flags []flagField
}

// idField is a required string field of a target kind.
type idField struct {
	json    string                  // its JSON name in requests, results and secret values
	pattern func() *regexp.Regexp   // the documented character set and length
	max     int                     // the longest value pattern admits, in bytes
	rule    string                  // what pattern admits, for errors
	get     func(t *Target) *string // the Target field
}

// flagField is an optional boolean field of a target kind.
type flagField struct {
	json string
	get  func(t *Target) *bool
}

// Identifier rules. Each pattern admits only characters that cannot alter the
// meaning of a secret name (no "/", ".", "*", whitespace or anything outside
// ASCII), so a valid Target's SecretName always stays under the prefix.
// They are compiled on first use, not in init, to keep cold starts short.
var (
	reDirectoryID    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^d-[0-9a-z]{1,62}$`) })
	reUserID         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^u-[0-9a-z]{1,62}$`) })
	reOrganizationID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`) })
	reUsername       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`) })
	// A region id, as Alibaba Cloud spells them ("cn-hangzhou",
	// "ap-southeast-1", "cn-shanghai-finance-1"): the one definition, for
	// BaaS's location and for the configuration's region.
	reRegionID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}$`) })
)

// specOf returns the row of k, or nil.
func specOf(k Kind) *kindSpec {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

// fields returns every field of the row, ids first.
func (s *kindSpec) stringFields() []idField {
	return append(s.ids[:len(s.ids):len(s.ids)], s.params...)
}

// Kinds returns every target kind, in the table's order.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, s := range kinds {
		out[i] = s.kind
	}
	return out
}

// Field is one request field of a target kind, as a decoder needs it.
type Field struct {
	Name string // the JSON name
	Bool bool   // a JSON boolean; otherwise a JSON string
}

// Fields returns the fields of a target of kind k besides "target": its
// identifiers, its parameters and its options, with their JSON names. It is
// nil for an unknown kind.
func (k Kind) Fields() []Field {
	s := specOf(k)
	if s == nil {
		return nil
	}
	var out []Field
	for _, f := range s.stringFields() {
		out = append(out, Field{Name: f.json})
	}
	for _, f := range s.flags {
		out = append(out, Field{Name: f.json, Bool: true})
	}
	return out
}

// ValidDirectoryID reports whether id is a CloudSSO directory id a request
// may name (and so an allow-list may hold).
func ValidDirectoryID(id string) bool { return reDirectoryID().MatchString(id) }

// ValidOrganizationID reports whether id is a BaaS organization id a request
// may name (and so an allow-list may hold).
func ValidOrganizationID(id string) bool { return reOrganizationID().MatchString(id) }

// ValidRegionID reports whether id is shaped like an Alibaba Cloud region id.
func ValidRegionID(id string) bool { return reRegionID().MatchString(id) }

// AllowListRule returns what an allow-list entry of kind k must be: the
// rule of the kind's first identifier.
func (k Kind) AllowListRule() string {
	if s := specOf(k); s != nil {
		return s.ids[0].rule
	}
	return ""
}

// maxKeyLength is the longest Target.Key a valid target has, over every
// kind: "<kind>/<id>/<id>" at the identifiers' longest.
var maxKeyLength = func() int {
	n := 0
	for _, s := range kinds {
		n = max(n, len(s.kind)+1+s.ids[0].max+1+s.ids[1].max)
	}
	return n
}()
