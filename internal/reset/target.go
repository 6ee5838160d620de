package reset

import (
	"regexp"
	"strings"
	"sync"
)

// Kind names the service whose user a Target is.
type Kind string

// Target kinds.
const (
	KindCloudSSO Kind = "cloudsso" // a CloudSSO user: ResetUserPassword
	KindFabric   Kind = "fabric"   // a BaaS Hyperledger Fabric organization user: ResetFabricOrganizationUserPassword
)

// Target is one account whose password is reset. Which fields apply depends
// on Kind; Validate rejects a field that does not.
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

// Identifier rules. Each pattern admits only characters that cannot alter the
// meaning of a secret name (no "/", ".", "*", whitespace or anything outside
// ASCII), so a valid Target's SecretName always stays under the prefix.
// They are compiled on first use, not in init, to keep cold starts short.
var (
	reDirectoryID    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^d-[0-9a-z]{1,62}$`) })
	reUserID         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^u-[0-9a-z]{1,62}$`) })
	reOrganizationID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`) })
	reUsername       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`) })
	reLocation       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}$`) })
	rePrefix         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_/+=.@-]{1,64}$`) })
)

type fieldRule struct {
	field string
	value string
	re    *regexp.Regexp
	rule  string
}

// Validate checks every identifier against its documented character set and
// length. Its error is an *Error with Code EInvalid whose Field is the JSON
// name of the first field at fault.
func (t Target) Validate() error {
	var rules []fieldRule
	switch t.Kind {
	case KindCloudSSO:
		if t.OrganizationID != "" || t.Username != "" || t.Location != "" {
			return FieldError(firstSet(map[string]string{"organizationId": t.OrganizationID, "username": t.Username, "location": t.Location}),
				"does not apply to target %q", t.Kind)
		}
		rules = []fieldRule{
			{"directoryId", t.DirectoryID, reDirectoryID(), `must be "d-" followed by 1 to 62 lower-case letters or digits`},
			{"userId", t.UserID, reUserID(), `must be "u-" followed by 1 to 62 lower-case letters or digits`},
		}
	case KindFabric:
		if t.DirectoryID != "" || t.UserID != "" || t.RequirePasswordResetForNextLogin {
			return FieldError(firstSet(map[string]string{"directoryId": t.DirectoryID, "userId": t.UserID, "requirePasswordResetForNextLogin": boolString(t.RequirePasswordResetForNextLogin)}),
				"does not apply to target %q", t.Kind)
		}
		rules = []fieldRule{
			{"organizationId", t.OrganizationID, reOrganizationID(), "must be 1 to 64 lower-case letters, digits or hyphens, starting with a letter"},
			{"username", t.Username, reUsername(), "must be 1 to 64 letters, digits, underscores or hyphens, starting with a letter or digit"},
			{"location", t.Location, reLocation(), `must be a region id such as "cn-hangzhou"`},
		}
	case "":
		return FieldError("target", "is required: one of %q, %q", KindCloudSSO, KindFabric)
	default:
		return FieldError("target", "must be one of %q, %q", KindCloudSSO, KindFabric)
	}
	for _, r := range rules {
		if r.value == "" {
			return FieldError(r.field, "is required")
		}
		if !r.re.MatchString(r.value) {
			return FieldError(r.field, "%s", r.rule)
		}
	}
	return nil
}

func firstSet(fields map[string]string) string {
	// Sorted for a deterministic message.
	best := ""
	for name, v := range fields {
		if v != "" && (best == "" || name < best) {
			best = name
		}
	}
	return best
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// Key identifies the account across requests: "<kind>/<id>/<id>". Two targets
// with the same Key are the same account, whatever their other fields.
func (t Target) Key() string {
	switch t.Kind {
	case KindCloudSSO:
		return string(t.Kind) + "/" + t.DirectoryID + "/" + t.UserID
	case KindFabric:
		return string(t.Kind) + "/" + t.OrganizationID + "/" + t.Username
	}
	return string(t.Kind)
}

// SecretName is the name of the secret that holds t's password. Only a
// validated Target may be named; the caller never chooses the name.
func (t Target) SecretName(prefix string) string {
	return prefix + t.Key()
}

// String names the target for logs; it is its Key.
func (t Target) String() string { return t.Key() }

// ValidatePrefix checks a configured secret name prefix: KMS secret names are
// at most 192 characters of letters, digits and "_/+=.@-".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !rePrefix().MatchString(prefix) || strings.Contains(prefix, "..") || strings.HasPrefix(prefix, "/") {
		return FieldError("SECRET_NAME_PREFIX", `must be at most 64 of the characters letters, digits and "_/+=.@-", not start with "/" and hold no ".."`)
	}
	return nil
}
