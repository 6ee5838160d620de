package reset_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ssoWith(edit func(*reset.Target)) reset.Target {
	t := sso
	edit(&t)
	return t
}

func fabWith(edit func(*reset.Target)) reset.Target {
	t := fab
	edit(&t)
	return t
}

func TestValidateRequest(t *testing.T) {
	long := strings.Repeat("a", 63)
	cases := []struct {
		name   string
		req    reset.Request
		code   reset.ErrorCode // "" for OK
		field  string
		config func(*reset.Config)
	}{
		{name: "OK", req: req("k", sso)},
		{name: "OKFabric", req: req("k", fab)},
		{name: "OKBatch", req: req("k", sso, fab)},
		{name: "OKLongestIDs", req: req("k", ssoWith(func(t *reset.Target) {
			t.DirectoryID = "d-" + strings.Repeat("z", 62)
			t.UserID = "u-" + strings.Repeat("9", 62)
		}))},

		{name: "ErrKeyRequired", req: req("", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeyTooLong", req: req(strings.Repeat("k", reset.MaxScopedKeyLength+1), sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeyControl", req: req("k\n1", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeyNotUTF8", req: req("k\xff", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeySpace", req: req("k 1", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeyComma", req: req("k,1", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "ErrKeyNonASCII", req: req("ké", sso), code: reset.EInvalid, field: "idempotencyKey"},
		{name: "OKLongestScopedKey", req: req(strings.Repeat("k", reset.MaxScopedKeyLength), sso)},
		{name: "ErrNoTargets", req: req("k"), code: reset.EInvalid, field: "targets"},
		{name: "ErrTooManyTargets", req: req("k", make([]reset.Target, reset.MaxTargets+1)...), code: reset.EInvalid, field: "targets"},

		{name: "ErrKindRequired", req: req("k", reset.Target{}), code: reset.EInvalid, field: "target"},
		{name: "ErrKindUnknown", req: req("k", reset.Target{Kind: "ram"}), code: reset.EInvalid, field: "target"},

		{name: "ErrDirectoryIDRequired", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDDotDot", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-../x" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDSlash", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-a/b" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDStar", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-*" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDUpper", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-ABC" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDCyrillic", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-\u0430bc" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDFullwidth", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-\uff41bc" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDNewline", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-abc\n" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDNUL", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-abc\x00" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDSpace", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = " d-abc" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDTooLong", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "d-" + long + "aa" })), code: reset.EInvalid, field: "directoryId"},
		{name: "ErrDirectoryIDNoPrefix", req: req("k", ssoWith(func(t *reset.Target) { t.DirectoryID = "00fc2p61ab12" })), code: reset.EInvalid, field: "directoryId"},

		{name: "ErrUserIDRequired", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "" })), code: reset.EInvalid, field: "userId"},
		{name: "ErrUserIDDotDot", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "u-.." })), code: reset.EInvalid, field: "userId"},
		{name: "ErrUserIDSlash", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "u-1/../../x" })), code: reset.EInvalid, field: "userId"},
		{name: "ErrUserIDStar", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "u-*" })), code: reset.EInvalid, field: "userId"},
		{name: "ErrUserIDTab", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "u-1\t" })), code: reset.EInvalid, field: "userId"},
		{name: "ErrUserIDTooLong", req: req("k", ssoWith(func(t *reset.Target) { t.UserID = "u-" + long + "aa" })), code: reset.EInvalid, field: "userId"},

		{name: "ErrOrganizationIDRequired", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "" })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDDotDot", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "peers.." })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDSlash", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "peers/x" })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDStar", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "peers*" })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDLookAlike", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "p\u0435ers" })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDLeadingDigit", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "1peers" })), code: reset.EInvalid, field: "organizationId"},
		{name: "ErrOrganizationIDTooLong", req: req("k", fabWith(func(t *reset.Target) { t.OrganizationID = "p" + long + "aa" })), code: reset.EInvalid, field: "organizationId"},

		{name: "ErrUsernameRequired", req: req("k", fabWith(func(t *reset.Target) { t.Username = "" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameDotDot", req: req("k", fabWith(func(t *reset.Target) { t.Username = "../admin" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameSlash", req: req("k", fabWith(func(t *reset.Target) { t.Username = "a/b" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameStar", req: req("k", fabWith(func(t *reset.Target) { t.Username = "*" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameUnicode", req: req("k", fabWith(func(t *reset.Target) { t.Username = "asian\u0030\u0301" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameControl", req: req("k", fabWith(func(t *reset.Target) { t.Username = "asian\x7f" })), code: reset.EInvalid, field: "username"},
		{name: "ErrUsernameTooLong", req: req("k", fabWith(func(t *reset.Target) { t.Username = "a" + long + "aa" })), code: reset.EInvalid, field: "username"},

		{name: "ErrLocationRequired", req: req("k", fabWith(func(t *reset.Target) { t.Location = "" })), code: reset.EInvalid, field: "location"},
		{name: "ErrLocationMalformed", req: req("k", fabWith(func(t *reset.Target) { t.Location = "hangzhou" })), code: reset.EInvalid, field: "location"},
		{name: "ErrLocationSlash", req: req("k", fabWith(func(t *reset.Target) { t.Location = "cn-hangzhou/x" })), code: reset.EInvalid, field: "location"},

		{name: "ErrFabricFieldOnCloudSSO", req: req("k", ssoWith(func(t *reset.Target) { t.Location = "cn-hangzhou" })), code: reset.EInvalid, field: "location"},
		{name: "ErrCloudSSOFieldOnFabric", req: req("k", fabWith(func(t *reset.Target) { t.RequirePasswordResetForNextLogin = true })), code: reset.EInvalid, field: "requirePasswordResetForNextLogin"},

		{name: "ErrBatchFieldNamesIndex", req: req("k", sso, fabWith(func(t *reset.Target) { t.Username = "../x" })), code: reset.EInvalid, field: "targets[1].username"},
		{name: "ErrBatchOfOneFieldNamesIndex", req: reset.Request{IdempotencyKey: "k", Batch: true, Targets: []reset.Target{ssoWith(func(t *reset.Target) { t.UserID = "" })}}, code: reset.EInvalid, field: "targets[0].userId"},
		{name: "OKExactDuplicate", req: req("k", sso, sso)},
		{name: "ErrDuplicateWithOtherOptions", req: req("k", sso, fab, ssoWith(func(t *reset.Target) { t.RequirePasswordResetForNextLogin = true })), code: reset.EInvalid, field: "targets[2].target"},

		{name: "OKAllowedDirectory", req: req("k", sso), config: func(c *reset.Config) {
			c.Allowed = map[reset.Kind][]string{reset.KindCloudSSO: {"d-other", sso.DirectoryID}}
		}},
		{name: "ErrDirectoryNotAllowed", req: req("k", sso), code: reset.EForbidden, field: "directoryId", config: func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindCloudSSO: {"d-other"}} }},
		{name: "ErrDirectoryNotAllowedInBatch", req: req("k", fab, sso), code: reset.EForbidden, field: "targets[1].directoryId", config: func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindCloudSSO: {"d-other"}} }},
		{name: "OKDirectoryListDoesNotLimitFabric", req: req("k", fab), config: func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindCloudSSO: {"d-other"}} }},
		{name: "OKAllowedOrganization", req: req("k", fab), config: func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindFabric: {fab.OrganizationID}} }},
		{name: "ErrOrganizationNotAllowed", req: req("k", fab), code: reset.EForbidden, field: "organizationId", config: func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindFabric: {"other-org"}} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t, tc.config)
			err := e.Rotator.ValidateRequest(tc.req)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			var rerr *reset.Error
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, tc.code, rerr.Code, "got %v", err)
			assert.Equal(t, tc.field, rerr.Field, "got %v", err)
			if tc.code == reset.EForbidden {
				assert.Contains(t, rerr.Message, "allow-list")
			}

			// Rotate refuses the same request before any call.
			res, rerr2 := e.Rotator.Rotate(t.Context(), tc.req)
			assert.Nil(t, res)
			assert.Equal(t, err, rerr2)
			assert.Empty(t, e.Rec.Calls())
		})
	}
}

func TestValidateRequestDisabledKind(t *testing.T) {
	r, err := reset.NewRotator(testConfig(), map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{}}, &FakeStore{}, reset.Deps{})
	require.NoError(t, err)
	require.NoError(t, r.ValidateRequest(req("k", sso)))
	var rerr *reset.Error
	require.ErrorAs(t, r.ValidateRequest(req("k", fab)), &rerr)
	assert.Equal(t, reset.EInvalid, rerr.Code)
	assert.Equal(t, "target", rerr.Field)
}

// TestNewRotatorConfig: NewRotator takes its defaults and refuses, as a
// programmer's error (not an *Error naming a variable: internal/config
// checks the environment), a value no checked configuration holds.
func TestNewRotatorConfig(t *testing.T) {
	resetters := map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{}}
	cases := []struct {
		name string
		edit func(*reset.Config)
		want string // a part of the error; "" for OK
	}{
		{"OKDefaults", func(*reset.Config) {}, ""},
		{"OKPrefix", func(c *reset.Config) { c.SecretPrefix = "team-a/pwreset/" }, ""},
		{"OKLongestPrefix", func(c *reset.Config) { c.SecretPrefix = strings.Repeat("p", reset.MaxPrefixLength) }, ""},
		{"ErrPrefixTooLongForKMS", func(c *reset.Config) { c.SecretPrefix = strings.Repeat("p", reset.MaxPrefixLength+1) }, "secret prefix"},
		{"ErrPrefixDotDot", func(c *reset.Config) { c.SecretPrefix = "../" }, "secret prefix"},
		{"ErrPrefixLeadingSlash", func(c *reset.Config) { c.SecretPrefix = "/pwreset/" }, "secret prefix"},
		{"ErrPrefixStar", func(c *reset.Config) { c.SecretPrefix = "pw*" }, "secret prefix"},
		{"ErrPrefixSpace", func(c *reset.Config) { c.SecretPrefix = "pw reset/" }, "secret prefix"},
		{"ErrPrefixUnicode", func(c *reset.Config) { c.SecretPrefix = "pw\u2215" }, "secret prefix"},
		{"ErrPrefixControl", func(c *reset.Config) { c.SecretPrefix = "pw\n" }, "secret prefix"},
		{"ErrAllowedDirectoryMalformed", func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindCloudSSO: {" d-abc"}} }, "allow-list of cloudsso"},
		{"ErrAllowedOrganizationMalformed", func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{reset.KindFabric: {"Org"}} }, "allow-list of fabric"},
		{"ErrAllowedUnknownKind", func(c *reset.Config) { c.Allowed = map[reset.Kind][]string{"ram": {"x"}} }, "unknown target kind"},
		{"ErrPasswordTooShort", func(c *reset.Config) { c.Password.Length = 7 }, "Length"},
		{"ErrPasswordTooLong", func(c *reset.Config) { c.Password.Length = 33 }, "Length"},
		{"ErrExcludeEveryDigit", func(c *reset.Config) { c.Password.Exclude = reset.PasswordDigits }, "Exclude"},
		{"ErrNegativeBackoff", func(c *reset.Config) { c.BaseBackoff = -time.Second }, "BaseBackoff"},
		{"ErrBaseAboveMax", func(c *reset.Config) { c.BaseBackoff, c.MaxBackoff = 2*time.Second, time.Second }, "BaseBackoff"},
		{"ErrNegativeReserve", func(c *reset.Config) { c.StepReserve = -1 }, "StepReserve"},
		{"ErrNegativeInFlight", func(c *reset.Config) { c.MaxInFlight = -1 }, "MaxInFlight"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cfg reset.Config
			tc.edit(&cfg)
			r, err := reset.NewRotator(cfg, resetters, &FakeStore{}, reset.Deps{})
			if tc.want == "" {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var rerr *reset.Error
			if errors.As(err, &rerr) {
				assert.NotContains(t, rerr.Field, "_", "a programmer's error names no environment variable")
			}
		})
	}
	for _, tc := range []struct {
		name      string
		resetters map[reset.Kind]reset.Resetter
		store     reset.SecretStore
	}{
		{"ErrNoStore", resetters, nil},
		{"ErrNoResetter", nil, &FakeStore{}},
		{"ErrNilResetter", map[reset.Kind]reset.Resetter{reset.KindFabric: nil}, &FakeStore{}},
		{"ErrUnknownKind", map[reset.Kind]reset.Resetter{"ram": &FakeResetter{}}, &FakeStore{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reset.NewRotator(reset.Config{}, tc.resetters, tc.store, reset.Deps{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "reset: ")
		})
	}
}

func TestSecretNameUsesPrefix(t *testing.T) {
	e := MustEnv(t, func(c *reset.Config) { c.SecretPrefix = "team-a/" })
	res := MustRotate(t, t.Context(), e, req("k", sso))
	assert.Equal(t, "team-a/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12", res[0].SecretName)
}
