package reset_test

import (
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

func TestCheck(t *testing.T) {
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

		{name: "OKAllowedDirectory", req: req("k", sso), config: func(c *reset.Config) { c.AllowedDirectoryIDs = []string{"d-other", sso.DirectoryID} }},
		{name: "ErrDirectoryNotAllowed", req: req("k", sso), code: reset.EForbidden, field: "directoryId", config: func(c *reset.Config) { c.AllowedDirectoryIDs = []string{"d-other"} }},
		{name: "ErrDirectoryNotAllowedInBatch", req: req("k", fab, sso), code: reset.EForbidden, field: "targets[1].directoryId", config: func(c *reset.Config) { c.AllowedDirectoryIDs = []string{"d-other"} }},
		{name: "OKDirectoryListDoesNotLimitFabric", req: req("k", fab), config: func(c *reset.Config) { c.AllowedDirectoryIDs = []string{"d-other"} }},
		{name: "OKAllowedOrganization", req: req("k", fab), config: func(c *reset.Config) { c.AllowedOrganizationIDs = []string{fab.OrganizationID} }},
		{name: "ErrOrganizationNotAllowed", req: req("k", fab), code: reset.EForbidden, field: "organizationId", config: func(c *reset.Config) { c.AllowedOrganizationIDs = []string{"other-org"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := MustEnv(t, tc.config)
			err := e.Rotator.Check(tc.req)
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

func TestCheckDisabledKind(t *testing.T) {
	r, err := reset.NewRotator(testConfig(), map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{}}, &FakeStore{})
	require.NoError(t, err)
	require.NoError(t, r.Check(req("k", sso)))
	var rerr *reset.Error
	require.ErrorAs(t, r.Check(req("k", fab)), &rerr)
	assert.Equal(t, reset.EInvalid, rerr.Code)
	assert.Equal(t, "target", rerr.Field)
}

func TestNewRotatorConfig(t *testing.T) {
	resetters := map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{}}
	cases := []struct {
		name  string
		edit  func(*reset.Config)
		field string // "" for OK
	}{
		{"OKDefaults", func(*reset.Config) {}, ""},
		{"OKPrefix", func(c *reset.Config) { c.SecretPrefix = "team-a/pwreset/" }, ""},
		{"OKLongestPrefix", func(c *reset.Config) { c.SecretPrefix = strings.Repeat("p", 54) }, ""},
		{"ErrPrefixTooLongForKMS", func(c *reset.Config) { c.SecretPrefix = strings.Repeat("p", 55) }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixDotDot", func(c *reset.Config) { c.SecretPrefix = "../" }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixLeadingSlash", func(c *reset.Config) { c.SecretPrefix = "/pwreset/" }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixStar", func(c *reset.Config) { c.SecretPrefix = "pw*" }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixSpace", func(c *reset.Config) { c.SecretPrefix = "pw reset/" }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixUnicode", func(c *reset.Config) { c.SecretPrefix = "pw\u2215" }, "SECRET_NAME_PREFIX"},
		{"ErrPrefixControl", func(c *reset.Config) { c.SecretPrefix = "pw\n" }, "SECRET_NAME_PREFIX"},
		{"ErrAllowedDirectoryMalformed", func(c *reset.Config) { c.AllowedDirectoryIDs = []string{" d-abc"} }, "ALLOWED_DIRECTORY_IDS"},
		{"ErrAllowedOrganizationMalformed", func(c *reset.Config) { c.AllowedOrganizationIDs = []string{"Org"} }, "ALLOWED_ORGANIZATION_IDS"},
		{"ErrPasswordTooShort", func(c *reset.Config) { c.Password.Length = 7 }, "PASSWORD_LENGTH"},
		{"ErrPasswordTooLong", func(c *reset.Config) { c.Password.Length = 33 }, "PASSWORD_LENGTH"},
		{"ErrExcludeEveryDigit", func(c *reset.Config) { c.Password.Exclude = reset.PasswordDigits }, "PASSWORD_EXCLUDE"},
		{"ErrNegativeBackoff", func(c *reset.Config) { c.BaseBackoff = -time.Second }, "BaseBackoff"},
		{"ErrBaseAboveMax", func(c *reset.Config) { c.BaseBackoff, c.MaxBackoff = 2*time.Second, time.Second }, "BaseBackoff"},
		{"ErrNegativeReserve", func(c *reset.Config) { c.StepReserve = -1 }, "StepReserve"},
		{"ErrNegativeInFlight", func(c *reset.Config) { c.MaxInFlight = -1 }, "MaxInFlight"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cfg reset.Config
			tc.edit(&cfg)
			r, err := reset.NewRotator(cfg, resetters, &FakeStore{})
			if tc.field == "" {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			var rerr *reset.Error
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, reset.EInvalid, rerr.Code)
			assert.Equal(t, tc.field, rerr.Field, "got %v", err)
		})
	}
	t.Run("ErrNoStore", func(t *testing.T) {
		_, err := reset.NewRotator(reset.Config{}, resetters, nil)
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
	})
	t.Run("ErrNoResetter", func(t *testing.T) {
		_, err := reset.NewRotator(reset.Config{}, nil, &FakeStore{})
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
	})
	t.Run("ErrNilResetter", func(t *testing.T) {
		_, err := reset.NewRotator(reset.Config{}, map[reset.Kind]reset.Resetter{reset.KindFabric: nil}, &FakeStore{})
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		_, err := reset.NewRotator(reset.Config{}, map[reset.Kind]reset.Resetter{"ram": &FakeResetter{}}, &FakeStore{})
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
	})
	t.Run("ErrNilClock", func(t *testing.T) {
		_, err := reset.NewRotator(reset.Config{}, resetters, &FakeStore{}, reset.WithClock(nil))
		assert.Equal(t, reset.EInvalid, reset.ErrorCodeOf(err))
	})
}

func TestSecretNameUsesPrefix(t *testing.T) {
	e := MustEnv(t, func(c *reset.Config) { c.SecretPrefix = "team-a/" })
	res := MustRotate(t, t.Context(), e, req("k", sso))
	assert.Equal(t, "team-a/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12", res[0].SecretName)
}
