package emulator

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
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
	KMSInstances  []KMSInstance
}

// KMSInstance is a KMS 3.0 instance and its keys. In KMS 3.0 a secret is
// encrypted by a symmetric key of its instance ("Secrets management FAQ",
// https://www.alibabacloud.com/help/en/kms/key-management-service/user-guide/secrets-faq).
type KMSInstance struct {
	ID   string
	Keys []KMSKey
}

// KMSKey is a key of a KMS instance. Spec is its KeySpec: "Aliyun_AES_256"
// (and the other Aliyun_AES_* and Aliyun_SM4) are symmetric, "RSA_2048",
// "EC_P256" and the like asymmetric. Alias, when set, is "alias/<name>".
type KMSKey struct {
	ID    string
	Alias string
	Spec  string
}

// Symmetric reports whether the key is symmetric, by its KeySpec.
func (k KMSKey) Symmetric() bool {
	return strings.HasPrefix(k.Spec, "Aliyun_AES_") || k.Spec == "Aliyun_SM4"
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
// PasswordPolicy, when set, is the whole policy (GetPasswordPolicy answers
// it and ResetUserPassword enforces it; see directory.go); the larger of
// the two minimum lengths applies.
type Directory struct {
	ID                string
	SSOLogonEnabled   bool
	MinPasswordLength int
	PasswordPolicy    *PasswordPolicy `json:",omitempty"`
	Users             []SSOUser
}

// SSOUser is a CloudSSO user of a directory. Status ("Enabled" or
// "Disabled") and ProvisionType ("Manual" or "Synchronized") default to
// Enabled and Manual.
type SSOUser struct {
	ID            string
	Name          string
	Password      string
	Status        string `json:",omitempty"`
	ProvisionType string `json:",omitempty"`
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
	// The KMS instance and its symmetric key that encrypt pwreset's secrets.
	FixtureKMSInstanceID = "kst-hzz00placeholder0001"
	FixtureKMSKeyID      = "key-hzz00placeholder00000001"
	FixtureKMSKeyAlias   = "alias/pwreset"
	// An asymmetric key of the same instance, and a symmetric key of
	// another instance: neither may encrypt a secret of FixtureKMSInstanceID.
	FixtureKMSAsymmetricKeyID  = "key-hzz00placeholder00000002"
	FixtureKMSOtherInstanceKey = "key-hzz00placeholder00000003"
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
	keyIDs := map[string]bool{}
	for _, in := range f.KMSInstances {
		if in.ID == "" || keyIDs[in.ID] {
			return fmt.Errorf("kms instance %q: empty or listed twice", in.ID)
		}
		keyIDs[in.ID] = true
		for _, k := range in.Keys {
			if k.ID == "" || keyIDs[k.ID] || (k.Alias != "" && (keyIDs[k.Alias] || !strings.HasPrefix(k.Alias, "alias/"))) || k.Spec == "" {
				return fmt.Errorf("kms instance %s: key %q empty, listed twice, without a Spec or with an alias not \"alias/...\"", in.ID, k.ID)
			}
			keyIDs[k.ID] = true
			if k.Alias != "" {
				keyIDs[k.Alias] = true
			}
		}
	}
	return nil
}
