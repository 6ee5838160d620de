package emulator

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Fixture is the seed of a Cloud: the credentials it accepts and the
// directories and organizations it starts with. Its JSON form uses the Go
// field names (see testdata/fixture.json).
type Fixture struct {
	AccountID     string
	Region        string
	AccessKeys    []AccessKey
	STSTokens     []STSToken
	Directories   []Directory
	Organizations []Organization
}

// AccessKey is a long-lived AccessKey pair (a RAM user's).
type AccessKey struct {
	ID     string
	Secret string
}

// STSToken is a set of temporary credentials, as a RAM role hands out.
// A zero Expiration means "valid for DefaultSTSLifetime from New", so a
// fixture file can hold a token that is still valid whenever it is loaded.
type STSToken struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expiration      time.Time
}

// Directory is a CloudSSO directory. MinPasswordLength is its password
// policy's minimum length; values below the service minimum of 8 mean 8.
// PasswordReusePrevention N > 0 refuses any of a user's last N passwords,
// the one in effect included (SetPasswordPolicy).
type Directory struct {
	ID                      string
	SSOLogonEnabled         bool
	MinPasswordLength       int
	PasswordReusePrevention int
	Users                   []SSOUser
}

// SSOUser is a CloudSSO user of a directory.
type SSOUser struct {
	ID       string
	Name     string
	Password string
}

// Organization is a BaaS (Hyperledger Fabric) organization in a region.
type Organization struct {
	ID       string
	Location string
	Users    []FabricUser
}

// FabricUser is a user of a Fabric organization.
type FabricUser struct {
	Username string
	Password string
}

// DefaultSTSLifetime is the lifetime New gives an STS token whose fixture
// entry has no Expiration.
const DefaultSTSLifetime = 12 * time.Hour

// Names of well-known entries of the default fixture, for tests and the demo.
const (
	FixtureDirectoryID         = "d-00fc2p61ab12"
	FixtureUserID              = "u-00q8wbq42wiltcrkab12"
	FixtureSSOLogonDirectoryID = "d-00sso0logon0on"
	FixtureSSOLogonUserID      = "u-00ssologon0user01"
	FixtureOrganizationID      = "peers-aaaaaa2-1eqnj5o5wab12"
	FixtureLocation            = "cn-hangzhou"
	FixtureFunctionRoleKeyID   = "STS.NTPlaceholderFunctionRole01"
	FixtureExpiredRoleKeyID    = "STS.NTPlaceholderExpiredRole001"
	FixtureAccessKeyID         = "LTAI5tPlaceholderAdmin01"
)

//go:embed testdata/fixture.json
var defaultFixtureJSON []byte

// DefaultFixture returns the seed shared by the demo and the tests
// (testdata/fixture.json). Every value in it is an invented placeholder.
func DefaultFixture() Fixture {
	f, err := parseFixture(defaultFixtureJSON)
	if err != nil {
		// The file is embedded at build time and covered by the tests.
		panic(fmt.Sprintf("emulator: embedded fixture: %v", err))
	}
	return f
}

// LoadFixture reads a Fixture from a JSON file. Unknown fields are an error,
// so a misspelt key cannot silently drop an entry.
func LoadFixture(path string) (Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fixture{}, fmt.Errorf("load fixture: %w", err)
	}
	f, err := parseFixture(b)
	if err != nil {
		return Fixture{}, fmt.Errorf("load fixture %s: %w", path, err)
	}
	return f, nil
}

func parseFixture(b []byte) (Fixture, error) {
	var f Fixture
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Fixture{}, fmt.Errorf("decode: %w", err)
	}
	if err := f.validate(); err != nil {
		return Fixture{}, err
	}
	return f, nil
}

// validate rejects fixtures whose lookups would be ambiguous.
func (f Fixture) validate() error {
	keys := map[string]bool{}
	for _, k := range f.AccessKeys {
		if k.ID == "" || k.Secret == "" {
			return fmt.Errorf("access key %q: ID and Secret are required", k.ID)
		}
		if keys[k.ID] {
			return fmt.Errorf("access key %q listed twice", k.ID)
		}
		keys[k.ID] = true
	}
	for _, t := range f.STSTokens {
		if t.AccessKeyID == "" || t.AccessKeySecret == "" || t.SecurityToken == "" {
			return fmt.Errorf("sts token %q: AccessKeyID, AccessKeySecret and SecurityToken are required", t.AccessKeyID)
		}
		if keys[t.AccessKeyID] {
			return fmt.Errorf("access key %q listed twice", t.AccessKeyID)
		}
		keys[t.AccessKeyID] = true
	}
	dirs := map[string]bool{}
	for _, d := range f.Directories {
		if d.ID == "" || dirs[d.ID] {
			return fmt.Errorf("directory %q: empty or listed twice", d.ID)
		}
		dirs[d.ID] = true
		users := map[string]bool{}
		for _, u := range d.Users {
			if u.ID == "" || users[u.ID] {
				return fmt.Errorf("directory %s: user %q empty or listed twice", d.ID, u.ID)
			}
			users[u.ID] = true
		}
	}
	orgs := map[string]bool{}
	for _, o := range f.Organizations {
		if o.ID == "" || orgs[o.ID] {
			return fmt.Errorf("organization %q: empty or listed twice", o.ID)
		}
		orgs[o.ID] = true
		users := map[string]bool{}
		for _, u := range o.Users {
			if u.Username == "" || users[u.Username] {
				return fmt.Errorf("organization %s: user %q empty or listed twice", o.ID, u.Username)
			}
			users[u.Username] = true
		}
	}
	return nil
}
