// Package config reads pwreset's configuration from the environment, once,
// into a Config value. It is the only package that knows the variable names;
// everything else receives plain values built from a Config.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pwreset/pwreset/internal/reset"
)

// Names of the variables Load reads.
const (
	EnvKMSEndpoint            = "KMS_ENDPOINT"
	EnvCloudSSOEndpoint       = "CLOUDSSO_ENDPOINT"
	EnvBaaSEndpoint           = "BAAS_ENDPOINT"
	EnvKMSEncryptionKeyID     = "KMS_ENCRYPTION_KEY_ID"
	EnvKMSInstanceID          = "KMS_INSTANCE_ID"
	EnvSecretNamePrefix       = "SECRET_NAME_PREFIX"
	EnvPasswordLength         = "PASSWORD_LENGTH"
	EnvPasswordExclude        = "PASSWORD_EXCLUDE"
	EnvAllowedDirectoryIDs    = "ALLOWED_DIRECTORY_IDS"
	EnvAllowedOrganizationIDs = "ALLOWED_ORGANIZATION_IDS"
	EnvRegionID               = "ALIBABA_CLOUD_REGION_ID"
	EnvMaxInFlight            = "MAX_IN_FLIGHT"
	EnvMaxAttempts            = "MAX_ATTEMPTS"
	EnvLogLevel               = "LOG_LEVEL"

	// EnvFCRegion is set by Function Compute itself in every instance; Load
	// falls back to it when ALIBABA_CLOUD_REGION_ID is empty.
	EnvFCRegion = "FC_REGION"

	// EnvDebug is read by the Alibaba Cloud SDKs themselves, at package
	// initialisation (github.com/alibabacloud-go/debug's Init): "tea" or
	// "dara" in it makes tea v1.5.3 (tea/tea.go, dara/core.go) print every
	// request URL and header to stdout, and CloudSSO's ResetUserPassword
	// carries the password in its query; "credential" makes credentials-go
	// v1.4.14 (credentials/credential.go, internal/http/http.go) print its
	// requests and the STS answer, which holds an AccessKey secret and a
	// security token. Load refuses such a value so that no invocation runs,
	// and nothing is sent, while it is set.
	EnvDebug = "DEBUG"

	// EnvGoDebug is read by the Go runtime and standard library.
	// net/http's bundled HTTP/2 client (src/net/http/h2_bundle.go, Go 1.26)
	// logs every request line and header to stderr when the raw value
	// contains "http2debug=1", and every frame, bodies included, with
	// "http2debug=2" (net/http's package doc lists both): the CloudSSO URL
	// with the password, KMS's SecretData, BaaS's echo of the password and
	// the Authorization header. Load refuses both. No other net/http or
	// crypto/tls setting logs: http2client, http2server, httpmuxgo121,
	// httplaxcontentlength, httpcookiemaxnum, tlsrsakex, tls3des, tlsmlkem,
	// tlsunsafeekm and the others change behaviour only (docs/endpoints.md).
	EnvGoDebug = "GODEBUG"
)

// Variables lists every variable a deployment may set for pwreset, in the
// order of the design's configuration table. A deployment test checks s.yaml
// against it.
var Variables = []string{
	EnvKMSEndpoint,
	EnvCloudSSOEndpoint,
	EnvBaaSEndpoint,
	EnvKMSEncryptionKeyID,
	EnvKMSInstanceID,
	EnvSecretNamePrefix,
	EnvPasswordLength,
	EnvAllowedDirectoryIDs,
	EnvAllowedOrganizationIDs,
	EnvRegionID,
	EnvPasswordExclude,
	EnvMaxInFlight,
	EnvMaxAttempts,
	EnvLogLevel,
}

// PlatformVariables lists the variables Load reads that Function Compute sets
// in every instance; a deployment does not set them.
var PlatformVariables = []string{EnvFCRegion, EnvDebug, EnvGoDebug}

// sdkDebugFlags are the DEBUG entries that turn on the SDKs' request dumps:
// every debug.Init flag in tea v1.5.3, darabonba-openapi v2.1.13 and
// credentials-go v1.4.14.
var sdkDebugFlags = []string{"tea", "dara", "credential"}

// Defaults.
const (
	DefaultSecretNamePrefix = "pwreset/"
	DefaultPasswordLength   = reset.DefaultPasswordLength
	DefaultMaxInFlight      = 8
	DefaultMaxAttempts      = 5

	// MaxInFlightLimit and MaxAttemptsLimit bound the operational knobs: more
	// parallel calls only earn more throttling, and more attempts outlive the
	// function's timeout.
	MaxInFlightLimit = 32
	MaxAttemptsLimit = 10
)

// Config is pwreset's configuration. The zero value is not valid; use Load.
type Config struct {
	// RegionID is the region of the cloud services called:
	// ALIBABA_CLOUD_REGION_ID, else FC_REGION.
	RegionID string

	// Endpoints: "host[:port]", or a URL whose scheme ("http" or "https")
	// sets the protocol. Empty means the service's default endpoint; the
	// adapters hold the rules of which hosts and schemes are allowed
	// (aliyun.Config, docs/endpoints.md).
	KMSEndpoint      string
	CloudSSOEndpoint string
	BaaSEndpoint     string

	// KMSEncryptionKeyID is the symmetric key of the KMS instance that
	// encrypts new secrets. The adapters require it (KMS 3.0); Load only
	// checks its form, so that a missing key is reported by the same rule
	// wherever the adapters are built.
	KMSEncryptionKeyID string
	// KMSInstanceID is the KMS instance of new secrets (CreateSecret's
	// DKMSInstanceId); empty means the key's instance.
	KMSInstanceID string

	SecretNamePrefix string // never empty after Load
	PasswordLength   int    // 8 to 32
	PasswordExclude  string // characters generated passwords never contain

	// Allow-lists; empty allows every directory or organization.
	AllowedDirectoryIDs    []string
	AllowedOrganizationIDs []string

	MaxInFlight int // targets rotated at once, 1 to MaxInFlightLimit
	MaxAttempts int // tries per throttled or unavailable call, 1 to MaxAttemptsLimit

	LogLevel slog.Level
}

// Error is a configuration error: which variable, and the rule its value
// breaks. It never quotes an endpoint's value, which may hold credentials
// in its user-info part.
type Error struct {
	Variable string
	Rule     string
}

func (e *Error) Error() string { return e.Variable + ": " + e.Rule }

// Load reads the configuration through getenv (os.Getenv in production). It
// checks every variable and reports every broken rule: the error joins one
// *Error per variable at fault, so errors.As finds the first.
func Load(getenv func(string) string) (Config, error) {
	l := loader{getenv: getenv}
	c := Config{
		KMSEndpoint:            l.endpoint(EnvKMSEndpoint),
		CloudSSOEndpoint:       l.endpoint(EnvCloudSSOEndpoint),
		BaaSEndpoint:           l.endpoint(EnvBaaSEndpoint),
		KMSEncryptionKeyID:     l.keyID(EnvKMSEncryptionKeyID),
		KMSInstanceID:          l.instanceID(EnvKMSInstanceID),
		SecretNamePrefix:       l.prefix(EnvSecretNamePrefix),
		PasswordLength:         l.integer(EnvPasswordLength, DefaultPasswordLength, reset.MinPasswordLength, reset.MaxPasswordLength),
		PasswordExclude:        l.exclude(EnvPasswordExclude),
		AllowedDirectoryIDs:    l.list(EnvAllowedDirectoryIDs, validDirectoryID),
		AllowedOrganizationIDs: l.list(EnvAllowedOrganizationIDs, validOrganizationID),
		MaxInFlight:            l.integer(EnvMaxInFlight, DefaultMaxInFlight, 1, MaxInFlightLimit),
		MaxAttempts:            l.integer(EnvMaxAttempts, DefaultMaxAttempts, 1, MaxAttemptsLimit),
		LogLevel:               l.logLevel(EnvLogLevel),
	}
	c.RegionID = l.region(c)
	l.password(&c)
	l.noSDKDebug(EnvDebug)
	l.noHTTP2Debug(EnvGoDebug)
	if len(l.errs) > 0 {
		return Config{}, errors.Join(l.errs...)
	}
	return c, nil
}

// RotatorConfig returns the part of c the rotation protocol needs.
func (c Config) RotatorConfig() reset.Config {
	return reset.Config{
		SecretPrefix:           c.SecretNamePrefix,
		AllowedDirectoryIDs:    c.AllowedDirectoryIDs,
		AllowedOrganizationIDs: c.AllowedOrganizationIDs,
		Password:               reset.PasswordPolicy{Length: c.PasswordLength, Exclude: c.PasswordExclude},
		MaxInFlight:            c.MaxInFlight,
		MaxAttempts:            c.MaxAttempts,
	}
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(variable, format string, args ...any) {
	l.errs = append(l.errs, &Error{Variable: variable, Rule: fmt.Sprintf(format, args...)})
}

// get returns the trimmed value: a stray space or newline pasted into a
// console field is not worth a failed deployment.
func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

// noSDKDebug fails when DEBUG turns on an SDK's request dump. The SDKs read
// DEBUG before main runs, so unsetting it here would be too late.
func (l *loader) noSDKDebug(name string) {
	for _, part := range strings.Split(l.getenv(name), ",") {
		for _, flag := range sdkDebugFlags {
			if part == flag {
				l.fail(name, "must not contain %q: the SDKs would print every request, passwords included", flag)
			}
		}
	}
}

// noHTTP2Debug fails when GODEBUG turns on the HTTP/2 client's logs. Go
// tests the raw value for the substrings "http2debug=1" and "http2debug=2"
// (h2_bundle.go), so this does too, and refuses any other http2debug value
// but 0 as well, in case a later Go reads it differently.
func (l *loader) noHTTP2Debug(name string) {
	v := l.getenv(name)
	bad := strings.Contains(v, "http2debug=1") || strings.Contains(v, "http2debug=2")
	for _, part := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "http2debug" && val != "0" {
			bad = true
		}
	}
	if bad {
		l.fail(name, "must not set http2debug (other than http2debug=0): Go's HTTP/2 client would log every request, passwords included")
	}
}

func (l *loader) integer(name string, def, lo, hi int) int {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (l *loader) endpoint(name string) string {
	v := l.get(name)
	if v == "" {
		return ""
	}
	if err := checkEndpoint(v); err != nil {
		l.fail(name, "must be host[:port] or an http:// or https:// URL with no path, query or user info: %s", err)
		return ""
	}
	// "https://host/" and "https://host" name the same endpoint.
	return strings.TrimSuffix(v, "/")
}

func checkEndpoint(v string) error {
	raw := v
	if !strings.Contains(v, "://") {
		raw = "https://" + v
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("it does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme is neither http nor https")
	case u.User != nil:
		return errors.New("it holds user info")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("the host is missing")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return errors.New("it has a path, query or fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("the port is not 1 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("the port is empty")
	}
	if net.ParseIP(u.Hostname()) == nil && !reHost().MatchString(u.Hostname()) {
		return errors.New("the host is not a DNS name or IP address")
	}
	return nil
}

// Each expression is compiled on its first use, not at start-up: compiling
// them all in init cost a cold start several milliseconds (docs/PERFORMANCE.md).
var (
	reHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`)
	})
	reKeyID  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:/_.-]{0,255}$`) })
	reRegion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}$`) })
)

func (l *loader) keyID(name string) string {
	v := l.get(name)
	if v != "" && !reKeyID().MatchString(v) {
		l.fail(name, `must be a KMS key id, alias or ARN: up to 256 letters, digits and ":/_.-"`)
		return ""
	}
	return v
}

// instanceID checks the form of a KMS instance id; the adapters hold the
// rule (aliyun.Config), so only characters that could never be one are
// refused here.
func (l *loader) instanceID(name string) string {
	v := l.get(name)
	if v != "" && !reKeyID().MatchString(v) {
		l.fail(name, `must be a KMS instance id such as "kst-hzz62ee30d6zzvd8ciiqp"`)
		return ""
	}
	return v
}

func (l *loader) prefix(name string) string {
	v := l.get(name)
	if v == "" {
		return DefaultSecretNamePrefix
	}
	if err := reset.ValidatePrefix(v); err != nil {
		l.fail(name, "%s", ruleOf(err))
		return DefaultSecretNamePrefix
	}
	return v
}

func (l *loader) exclude(name string) string {
	// Not trimmed: a space is a character one may exclude.
	v := l.getenv(name)
	for _, r := range v {
		if r < '!' || r > '~' {
			l.fail(name, "must hold printable ASCII characters only")
			return ""
		}
	}
	return v
}

// password checks PASSWORD_LENGTH and PASSWORD_EXCLUDE together: each class
// keeps a character, and the passwords they give have at least
// reset.MinPasswordEntropyBits. The error names the variable reset blames
// (PASSWORD_EXCLUDE when it is set) and its rule names both.
func (l *loader) password(c *Config) {
	err := (reset.PasswordPolicy{Length: c.PasswordLength, Exclude: c.PasswordExclude}).Validate()
	var re *reset.Error
	if errors.As(err, &re) {
		l.fail(re.Field, "%s", ruleOf(err))
		c.PasswordExclude = ""
	}
}

// list splits a comma-separated allow-list. Empty entries (a trailing comma)
// are ignored; every other entry must be a valid identifier, so a typo
// cannot turn into an entry that silently matches nothing.
func (l *loader) list(name string, valid func(string) error) []string {
	v := l.get(name)
	if v == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if err := valid(e); err != nil {
			l.fail(name, "entry %d (%q) %s", i+1, e, err)
			return nil
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		// "," alone would otherwise read as "allow all".
		l.fail(name, "holds no entry: leave it empty to allow all")
	}
	return out
}

// validDirectoryID and validOrganizationID apply reset's own identifier rules,
// so an allow-list entry is valid exactly when a request may name it.
func validDirectoryID(id string) error {
	return fieldRule(reset.Target{Kind: reset.KindCloudSSO, DirectoryID: id, UserID: "u-0"}.Validate(), "directoryId")
}

func validOrganizationID(id string) error {
	return fieldRule(reset.Target{Kind: reset.KindFabric, OrganizationID: id, Username: "u", Location: "cn-hangzhou"}.Validate(), "organizationId")
}

func fieldRule(err error, field string) error {
	var re *reset.Error
	if errors.As(err, &re) && re.Field == field {
		return errors.New(re.Message)
	}
	if err != nil {
		// The placeholder partner fields are valid by construction; reaching
		// here means reset's rules changed under us.
		return fmt.Errorf("is rejected: %s", reset.ErrorMessageOf(err))
	}
	return nil
}

// ruleOf returns the rule text of a reset error about a configuration
// variable, without the variable's name (the Error adds it).
func ruleOf(err error) string {
	var re *reset.Error
	if errors.As(err, &re) && re.Message != "" {
		return re.Message
	}
	return reset.ErrorMessageOf(err)
}

func (l *loader) logLevel(name string) slog.Level {
	v := l.get(name)
	if v == "" {
		return slog.LevelInfo
	}
	var lvl slog.Level
	switch strings.ToLower(v) {
	case "debug", "info", "warn", "error":
		if err := lvl.UnmarshalText([]byte(v)); err == nil {
			return lvl
		}
	}
	l.fail(name, `must be one of "debug", "info", "warn", "error", got %q`, v)
	return slog.LevelInfo
}

// region is required unless KMS_ENDPOINT is given (as for the local cloud):
// KMS's public endpoint is found from it; CloudSSO and BaaS do not depend on
// it. No default region is invented, since calls in the wrong region fail far
// less clearly.
func (l *loader) region(c Config) string {
	v := l.get(EnvRegionID)
	name := EnvRegionID
	if v == "" {
		v, name = l.get(EnvFCRegion), EnvFCRegion
	}
	if v == "" {
		if c.KMSEndpoint == "" {
			l.fail(EnvRegionID, "is required (FC_REGION is not set either) unless KMS_ENDPOINT is set")
		}
		return ""
	}
	if !reRegion().MatchString(v) {
		l.fail(name, `must be a region id such as "cn-hangzhou", got %q`, v)
		return ""
	}
	return v
}
