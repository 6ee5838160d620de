package config_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
)

// env returns a getenv over a map, failing the test when Load reads a
// variable that Variables and PlatformVariables do not list.
func env(tb testing.TB, vars map[string]string) func(string) string {
	tb.Helper()
	known := map[string]bool{}
	for _, v := range config.Variables {
		known[v] = true
	}
	for _, v := range config.PlatformVariables {
		known[v] = true
	}
	return func(name string) string {
		if !known[name] {
			tb.Errorf("Load read %s, which config.Variables does not list", name)
		}
		return vars[name]
	}
}

func TestLoad(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		c, err := config.Load(env(t, map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}))
		require.NoError(t, err)
		assert.Equal(t, config.Config{
			RegionID:           "cn-hangzhou",
			KMSEncryptionKeyID: "alias/pwreset",
			SecretNamePrefix:   "pwreset/",
			PasswordLength:     24,
			MaxInFlight:        24,
			MaxAttempts:        5,
			LogLevel:           slog.LevelInfo,
		}, c)
	})

	t.Run("Everything", func(t *testing.T) {
		c, err := config.Load(env(t, map[string]string{
			"KMS_ENDPOINT":             "http://127.0.0.1:8080",
			"CLOUDSSO_ENDPOINT":        "cloudsso.cn-shanghai.aliyuncs.com",
			"BAAS_ENDPOINT":            " https://baas.aliyuncs.com:443/ ",
			"KMS_ENCRYPTION_KEY_ID":    "alias/pwreset",
			"SECRET_NAME_PREFIX":       "team-a/pw/",
			"PASSWORD_LENGTH":          "32",
			"PASSWORD_EXCLUDE":         "0O1l",
			"ALLOWED_DIRECTORY_IDS":    "d-00fc2p61ab12, d-abc,d-00fc2p61ab12,",
			"ALLOWED_ORGANIZATION_IDS": "peers-aaaaaa2-1eqnj5o5wab12",
			"ALIBABA_CLOUD_REGION_ID":  "cn-shanghai",
			"MAX_IN_FLIGHT":            "4",
			"MAX_ATTEMPTS":             "3",
			"LOG_LEVEL":                "DEBUG",
		}))
		require.NoError(t, err)
		assert.Equal(t, config.Config{
			RegionID:               "cn-shanghai",
			KMSEndpoint:            aliyun.Endpoint{Host: "127.0.0.1:8080", Protocol: "http"},
			CloudSSOEndpoint:       aliyun.Endpoint{Host: "cloudsso.cn-shanghai.aliyuncs.com", Protocol: "https"},
			BaaSEndpoint:           aliyun.Endpoint{Host: "baas.aliyuncs.com:443", Protocol: "https"},
			KMSEncryptionKeyID:     "alias/pwreset",
			SecretNamePrefix:       "team-a/pw/",
			PasswordLength:         32,
			PasswordExclude:        "0O1l",
			AllowedDirectoryIDs:    []string{"d-00fc2p61ab12", "d-abc"},
			AllowedOrganizationIDs: []string{"peers-aaaaaa2-1eqnj5o5wab12"},
			MaxInFlight:            4,
			MaxAttempts:            3,
			LogLevel:               slog.LevelDebug,
		}, c)

		rc := c.RotatorConfig()
		assert.Equal(t, "team-a/pw/", rc.SecretPrefix)
		assert.Equal(t, 32, rc.Password.Length)
		assert.Equal(t, "0O1l", rc.Password.Exclude)
		assert.Equal(t, []string{"d-00fc2p61ab12", "d-abc"}, rc.Allowed[reset.KindCloudSSO])
		assert.Equal(t, []string{"peers-aaaaaa2-1eqnj5o5wab12"}, rc.Allowed[reset.KindFabric])
		ac := c.AliyunConfig()
		assert.Equal(t, c.KMSEndpoint, ac.KMS)
		assert.Equal(t, "alias/pwreset", ac.KMSEncryptionKeyID)
		assert.Equal(t, 4, rc.MaxInFlight)
		assert.Equal(t, 3, rc.MaxAttempts)
	})

	t.Run("RegionFromFC", func(t *testing.T) {
		c, err := config.Load(env(t, map[string]string{"FC_REGION": "cn-beijing", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}))
		require.NoError(t, err)
		assert.Equal(t, "cn-beijing", c.RegionID)
	})

	t.Run("NoRegionWithLocalEndpoints", func(t *testing.T) {
		c, err := config.Load(env(t, map[string]string{
			"KMS_ENDPOINT": "http://127.0.0.1:1", "CLOUDSSO_ENDPOINT": "http://127.0.0.1:2", "BAAS_ENDPOINT": "http://[::1]:3",
			"KMS_ENCRYPTION_KEY_ID": "alias/pwreset",
		}))
		require.NoError(t, err)
		assert.Empty(t, c.RegionID)
	})
}

func TestLoadIgnoresOtherDebugFlags(t *testing.T) {
	_, err := config.Load(env(t, map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset", "DEBUG": "app,teapot"}))
	require.NoError(t, err)
}

// TestLoadGoDebug: GODEBUG settings that make Go's HTTP/2 client log are
// refused; the others (which log nothing) are accepted.
func TestLoadGoDebug(t *testing.T) {
	tests := []struct {
		value   string
		refused bool
	}{
		{"", false},
		{"http2debug=0", false},
		{"http2client=0", false},
		{"netdns=go,tlsrsakex=0,http2server=0", false},
		{"http2debug=1", true},
		{"http2debug=2", true},
		{"netdns=go,http2debug=1", true},
		{"http2debug=10", true}, // Go matches the substring "http2debug=1"
		{"http2debug=3", true},
		{"xhttp2debug=2", true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, err := config.Load(env(t, map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset", "GODEBUG": tt.value}))
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "GODEBUG", ce.Variable)
			assert.Contains(t, ce.Rule, "http2debug")
		})
	}
}

func TestLoadEventBus(t *testing.T) {
	base := map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}
	for _, tt := range []struct {
		name string
		vars map[string]string
		want aliyun.EventBusConfig
	}{
		{"OKOff", nil, aliyun.EventBusConfig{}},
		{"OKDefaultEndpoint", map[string]string{"EVENT_BUS_NAME": "pwreset-outcomes", "FC_ACCOUNT_ID": "1234567890"},
			aliyun.EventBusConfig{BusName: "pwreset-outcomes", AccountID: "1234567890", RegionID: "cn-hangzhou"}},
		{"OKEndpoint", map[string]string{"EVENT_BUS_NAME": "b", "EVENTBRIDGE_ENDPOINT": "http://127.0.0.1:9"},
			aliyun.EventBusConfig{BusName: "b", Endpoint: "http://127.0.0.1:9", RegionID: "cn-hangzhou"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			c, err := config.Load(env(t, vars))
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.EventBus)
		})
	}
}

func TestLoadSelfInvoke(t *testing.T) {
	base := map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}
	for _, tt := range []struct {
		name string
		vars map[string]string
		want aliyun.SelfInvokeConfig
	}{
		{"OKOff", nil, aliyun.SelfInvokeConfig{}},
		{"OKDefaultEndpoint", map[string]string{"FC_FUNCTION_NAME": "pwreset", "FC_ACCOUNT_ID": "1234567890", "FC_REGION": "cn-hangzhou"},
			aliyun.SelfInvokeConfig{FunctionName: "pwreset", AccountID: "1234567890", RegionID: "cn-hangzhou"}},
		{"OKLoopbackEndpoint", map[string]string{"FC_FUNCTION_NAME": "_pw-reset_2", "FUNCTION_COMPUTE_ENDPOINT": "http://127.0.0.1:9"},
			aliyun.SelfInvokeConfig{FunctionName: "_pw-reset_2", Endpoint: "http://127.0.0.1:9"}},
		{"OKDocumentedVPCEndpoint", map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "123456.cn-hangzhou-internal.fc.aliyuncs.com"},
			aliyun.SelfInvokeConfig{FunctionName: "pwreset", Endpoint: "123456.cn-hangzhou-internal.fc.aliyuncs.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			c, err := config.Load(env(t, vars))
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.SelfInvoke)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	region := map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for rk, rv := range region {
			if _, ok := m[rk]; !ok {
				m[rk] = rv
			}
		}
		return m
	}
	withAll := func(vars map[string]string) map[string]string {
		m := with("", "")
		delete(m, "")
		for k, v := range vars {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		vars     map[string]string
		variable string
		rule     string // a part of the rule's text
	}{
		{"ErrPasswordLengthNotNumber", with("PASSWORD_LENGTH", "long"), "PASSWORD_LENGTH", "integer from 8 to 32"},
		{"ErrDebugCredential", with("DEBUG", "credential"), "DEBUG", `"credential"`},
		{"ErrKMSInstanceID", with("KMS_INSTANCE_ID", "kst 1"), "KMS_INSTANCE_ID", "KMS instance id"},
		{"ErrPasswordLengthTooShort", with("PASSWORD_LENGTH", "7"), "PASSWORD_LENGTH", "integer from 8 to 32"},
		{"ErrPasswordLengthTooLong", with("PASSWORD_LENGTH", "33"), "PASSWORD_LENGTH", "integer from 8 to 32"},
		{"ErrPasswordExcludeAllDigits", with("PASSWORD_EXCLUDE", "0123456789"), "PASSWORD_EXCLUDE", "digit"},
		{"ErrPasswordExcludeNotPrintable", with("PASSWORD_EXCLUDE", "a\tb"), "PASSWORD_EXCLUDE", "printable ASCII"},
		{"ErrPasswordEntropyLength", with("PASSWORD_LENGTH", "12"), "PASSWORD_LENGTH", "PASSWORD_LENGTH 12 and PASSWORD_EXCLUDE leaving 75 characters, a generated password has 66.2 bits of entropy, fewer than the 100 required"},
		{"ErrPasswordEntropyExclude", map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset", "PASSWORD_LENGTH": "24",
			"PASSWORD_EXCLUDE": reset.PasswordUpper[1:] + reset.PasswordLower[1:] + reset.PasswordDigits[1:] + reset.PasswordSpecial[1:]},
			"PASSWORD_EXCLUDE", "PASSWORD_LENGTH 24 and PASSWORD_EXCLUDE leaving 4 characters, a generated password has 40.0 bits of entropy, fewer than the 100 required"},
		{"ErrPrefixTraversal", with("SECRET_NAME_PREFIX", "a/../b/"), "SECRET_NAME_PREFIX", ".."},
		{"ErrPrefixLeadingSlash", with("SECRET_NAME_PREFIX", "/pw/"), "SECRET_NAME_PREFIX", "not start with"},
		{"ErrPrefixSpace", with("SECRET_NAME_PREFIX", "pw reset/"), "SECRET_NAME_PREFIX", "characters"},
		{"ErrDirectoryEntry", with("ALLOWED_DIRECTORY_IDS", "d-00fc2p61ab12,D-UPPER"), "ALLOWED_DIRECTORY_IDS", `entry 2 ("D-UPPER")`},
		{"ErrDirectoryEntrySlash", with("ALLOWED_DIRECTORY_IDS", "d-a/b"), "ALLOWED_DIRECTORY_IDS", `"d-" followed by`},
		{"ErrDirectoryListEmpty", with("ALLOWED_DIRECTORY_IDS", ","), "ALLOWED_DIRECTORY_IDS", "no entry"},
		{"ErrOrganizationEntry", with("ALLOWED_ORGANIZATION_IDS", "peers-1,9bad"), "ALLOWED_ORGANIZATION_IDS", `entry 2 ("9bad")`},
		{"ErrEndpointPath", with("KMS_ENDPOINT", "https://kms.example.com/v1"), "KMS_ENDPOINT", "path"},
		{"ErrEndpointScheme", with("CLOUDSSO_ENDPOINT", "ftp://sso.example.com"), "CLOUDSSO_ENDPOINT", "scheme"},
		{"ErrEndpointUserInfo", with("BAAS_ENDPOINT", "https://user:secret@baas.example.com"), "BAAS_ENDPOINT", "user info"},
		{"ErrEndpointPort", with("BAAS_ENDPOINT", "baas.example.com:99999"), "BAAS_ENDPOINT", "port"},
		{"ErrEndpointHost", with("KMS_ENDPOINT", "kms_example.com"), "KMS_ENDPOINT", "host"},
		{"ErrKeyID", with("KMS_ENCRYPTION_KEY_ID", "key id"), "KMS_ENCRYPTION_KEY_ID", "KMS key id"},
		{"ErrKeyMissing", map[string]string{"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}, "KMS_ENCRYPTION_KEY_ID", "is required"},
		{"ErrKeyTooLongForKMS", with("KMS_ENCRYPTION_KEY_ID", "alias/"+strings.Repeat("k", 250)), "KMS_ENCRYPTION_KEY_ID", "up to 255"},
		{"ErrPrefixTooLongForKMS", with("SECRET_NAME_PREFIX", strings.Repeat("p", reset.MaxPrefixLength+1)), "SECRET_NAME_PREFIX", "1 to 54"},
		{"ErrPrefixStar", with("SECRET_NAME_PREFIX", "pw*"), "SECRET_NAME_PREFIX", "characters"},
		{"ErrPrefixUnicode", with("SECRET_NAME_PREFIX", "pw\u2215"), "SECRET_NAME_PREFIX", "characters"},
		{"ErrCloudSSOUndocumented", with("CLOUDSSO_ENDPOINT", "cloudsso.cn-hangzhou.aliyuncs.com"), "CLOUDSSO_ENDPOINT", "does not document"},
		{"ErrHTTPNotLoopback", with("KMS_ENDPOINT", "http://kms.cn-hangzhou.aliyuncs.com"), "KMS_ENDPOINT", "loopback"},
		{"ErrPasswordEntropyShortest", with("PASSWORD_LENGTH", "17"), "PASSWORD_LENGTH", "set PASSWORD_LENGTH to at least 18"},
		{"ErrPasswordExcludeEveryUpper", with("PASSWORD_EXCLUDE", reset.PasswordUpper), "PASSWORD_EXCLUDE", "upper-case"},
		{"ErrRegionMissing", map[string]string{"CLOUDSSO_ENDPOINT": "http://127.0.0.1:1", "BAAS_ENDPOINT": "http://127.0.0.1:1", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}, "ALIBABA_CLOUD_REGION_ID", "is required"},
		{"ErrRegionBad", with("ALIBABA_CLOUD_REGION_ID", "Hangzhou"), "ALIBABA_CLOUD_REGION_ID", "region id"},
		{"ErrFCRegionBad", map[string]string{"FC_REGION": "x", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset"}, "FC_REGION", "region id"},
		{"ErrMaxInFlight", with("MAX_IN_FLIGHT", "0"), "MAX_IN_FLIGHT", "integer from 1 to 32"},
		{"ErrMaxAttempts", with("MAX_ATTEMPTS", "11"), "MAX_ATTEMPTS", "integer from 1 to 10"},
		{"ErrLogLevel", with("LOG_LEVEL", "verbose"), "LOG_LEVEL", `"debug"`},
		{"ErrLogLevelOffset", with("LOG_LEVEL", "info+2"), "LOG_LEVEL", `"debug"`},
		{"ErrDebugTea", with("DEBUG", "tea"), "DEBUG", `"tea"`},
		{"ErrDebugDaraInList", with("DEBUG", "app,dara"), "DEBUG", `"dara"`},
		{"ErrEventBusName", with("EVENT_BUS_NAME", "-bus"), "EVENT_BUS_NAME", "event bus name"},
		{"ErrEventBusNoAccount", with("EVENT_BUS_NAME", "pwreset-outcomes"), "FC_ACCOUNT_ID", "account id"},
		{"ErrEventBridgeEndpointAlone", with("EVENTBRIDGE_ENDPOINT", "http://127.0.0.1:1"), "EVENTBRIDGE_ENDPOINT", "EVENT_BUS_NAME is not"},
		{"ErrEventBridgeEndpointUndocumented", withAll(map[string]string{"EVENT_BUS_NAME": "b", "EVENTBRIDGE_ENDPOINT": "events.aliyuncs.com"}), "EVENTBRIDGE_ENDPOINT", ""},
		{"ErrFCFunctionNameDigitFirst", with("FC_FUNCTION_NAME", "9pwreset"), "FC_FUNCTION_NAME", "a letter or _ first"},
		{"ErrFCFunctionNameSlash", with("FC_FUNCTION_NAME", "svc/pwreset"), "FC_FUNCTION_NAME", "function name"},
		{"ErrFCFunctionNameTooLong", with("FC_FUNCTION_NAME", "f"+strings.Repeat("x", 128)), "FC_FUNCTION_NAME", "at most 128"},
		{"ErrFCEndpointAlone", with("FUNCTION_COMPUTE_ENDPOINT", "http://127.0.0.1:1"), "FUNCTION_COMPUTE_ENDPOINT", "FC_FUNCTION_NAME is not"},
		{"ErrFCEndpointBad", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "ftp://fc.example.com"}), "FUNCTION_COMPUTE_ENDPOINT", "scheme"},
		{"ErrFCEndpointPath", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "https://fc.example.com/2023-03-30"}), "FUNCTION_COMPUTE_ENDPOINT", "path"},
		{"ErrFCEndpointHTTPNotLoopback", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "http://123456.cn-hangzhou.fc.aliyuncs.com"}), "FUNCTION_COMPUTE_ENDPOINT", "loopback"},
		{"ErrFCEndpointUndocumented", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "fc.cn-hangzhou.aliyuncs.com"}), "FUNCTION_COMPUTE_ENDPOINT", "does not document"},
		{"ErrFCEndpointUndocumentedRegion", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FUNCTION_COMPUTE_ENDPOINT": "123456.CN_HANGZHOU.fc.aliyuncs.com"}), "FUNCTION_COMPUTE_ENDPOINT", ""},
		{"ErrFCNoAccount", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FC_REGION": "cn-hangzhou"}), "FC_ACCOUNT_ID", "account id"},
		{"ErrFCAccountNotDigits", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FC_REGION": "cn-hangzhou", "FC_ACCOUNT_ID": "acct-1"}), "FC_ACCOUNT_ID", "digits"},
		{"ErrFCNoRegion", withAll(map[string]string{"FC_FUNCTION_NAME": "pwreset", "FC_ACCOUNT_ID": "123456"}), "FC_REGION", "region id"},
		{"ErrEventBusNoRegion", map[string]string{"KMS_ENDPOINT": "http://127.0.0.1:1", "KMS_ENCRYPTION_KEY_ID": "alias/pwreset", "EVENT_BUS_NAME": "b", "FC_ACCOUNT_ID": "123456"},
			"ALIBABA_CLOUD_REGION_ID", "region id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(t, tt.vars))
			require.Error(t, err)
			var ce *config.Error
			require.True(t, errors.As(err, &ce), "got %T, want *config.Error", err)
			assert.Equal(t, tt.variable, ce.Variable)
			assert.Contains(t, ce.Rule, tt.rule)
			assert.Contains(t, err.Error(), tt.variable+": ")
		})
	}

	t.Run("ErrEndpointNeverQuoted", func(t *testing.T) {
		_, err := config.Load(env(t, with("BAAS_ENDPOINT", "https://user:s3cr3t@baas.example.com")))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cr3t")
	})

	t.Run("ErrEveryVariableReported", func(t *testing.T) {
		_, err := config.Load(env(t, map[string]string{
			"ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "PASSWORD_LENGTH": "3", "MAX_IN_FLIGHT": "x", "LOG_LEVEL": "loud",
			"SECRET_NAME_PREFIX": "../", "KMS_ENDPOINT": "ftp://x", "ALLOWED_ORGANIZATION_IDS": "9",
		}))
		require.Error(t, err)
		for _, v := range []string{"PASSWORD_LENGTH", "MAX_IN_FLIGHT", "LOG_LEVEL", "SECRET_NAME_PREFIX", "KMS_ENDPOINT", "KMS_ENCRYPTION_KEY_ID", "ALLOWED_ORGANIZATION_IDS"} {
			assert.Contains(t, err.Error(), v+": ")
		}
	})
}
