// Package config reads pwreset's configuration from the environment, once,
// into a Config value. It is the only package that knows the variable names;
// everything else receives plain values built from a Config.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
)

// Names of the variables Load reads.
const (
	EnvKMSEndpoint            = "KMS_ENDPOINT"
	EnvCloudSSOEndpoint       = "CLOUDSSO_ENDPOINT"
	EnvBaaSEndpoint           = "BAAS_ENDPOINT"
	EnvKMSEncryptionKeyID     = "KMS_ENCRYPTION_KEY_ID"
	envKMSInstanceID          = "KMS_INSTANCE_ID"
	envSecretNamePrefix       = "SECRET_NAME_PREFIX"
	envPasswordLength         = "PASSWORD_LENGTH"
	envPasswordExclude        = "PASSWORD_EXCLUDE"
	EnvAllowedDirectoryIDs    = "ALLOWED_DIRECTORY_IDS"
	EnvAllowedOrganizationIDs = "ALLOWED_ORGANIZATION_IDS"
	EnvRegionID               = "ALIBABA_CLOUD_REGION_ID"
	EnvMaxInFlight            = "MAX_IN_FLIGHT"
	envMaxAttempts            = "MAX_ATTEMPTS"
	envLogLevel               = "LOG_LEVEL"
	// EnvEventBusName, when set, turns on the outcome events: the custom
	// EventBridge bus they are put on. EnvEventBridgeEndpoint overrides the
	// data API's endpoint, <account>.eventbridge.<region>.aliyuncs.com.
	EnvEventBusName        = "EVENT_BUS_NAME"
	EnvEventBridgeEndpoint = "EVENTBRIDGE_ENDPOINT"
	envMaxPasswordAgeDays  = "MAX_PASSWORD_AGE_DAYS"

	// envFCRegion is set by Function Compute itself in every instance; Load
	// falls back to it when ALIBABA_CLOUD_REGION_ID is empty.
	envFCRegion = "FC_REGION"
	// envFCAccountID is the account id Function Compute sets in every
	// instance ("FC_ACCOUNT_ID: the user ID", FC's "Configure environment
	// variables", https://www.alibabacloud.com/help/en/functioncompute/fc/environment-variables);
	// the default EventBridge endpoint needs it.
	envFCAccountID = "FC_ACCOUNT_ID"
	// envFCFunctionName is the function's name, which Function Compute sets
	// in every instance ("FC_FUNCTION_NAME", the same page); set, runs
	// longer than one chunk continue in asynchronous invocations of it
	// (InvokeFunction at FC_ACCOUNT_ID.FC_REGION.fc.aliyuncs.com). Unset
	// (the CLI, a local run), every run finishes in its invocation.
	envFCFunctionName = "FC_FUNCTION_NAME"
	// envFunctionComputeEndpoint overrides the Function Compute endpoint of
	// those invocations.
	envFunctionComputeEndpoint = "FUNCTION_COMPUTE_ENDPOINT"

	// envDebug is read by the Alibaba Cloud SDKs themselves, at package
	// initialisation (github.com/alibabacloud-go/debug's Init): "tea" or
	// "dara" in it makes tea v1.5.3 (tea/tea.go, dara/core.go) print every
	// request URL and header to stdout, and CloudSSO's ResetUserPassword
	// carries the password in its query; "credential" makes credentials-go
	// v1.4.14 (credentials/credential.go, internal/http/http.go) print its
	// requests and the STS answer, which holds an AccessKey secret and a
	// security token. Load refuses such a value so that no invocation runs,
	// and nothing is sent, while it is set.
	envDebug = "DEBUG"

	// envGoDebug is read by the Go runtime and standard library.
	// net/http's bundled HTTP/2 client (src/net/http/h2_bundle.go, Go 1.26)
	// logs every request line and header to stderr when the raw value
	// contains "http2debug=1", and every frame, bodies included, with
	// "http2debug=2" (net/http's package doc lists both): the CloudSSO URL
	// with the password, KMS's SecretData, BaaS's echo of the password and
	// the Authorization header. Load refuses both. No other net/http or
	// crypto/tls setting logs: http2client, http2server, httpmuxgo121,
	// httplaxcontentlength, httpcookiemaxnum, tlsrsakex, tls3des, tlsmlkem,
	// tlsunsafeekm and the others change behaviour only (docs/endpoints.md).
	envGoDebug = "GODEBUG"
)

// Variables lists every variable a deployment may set for pwreset, in the
// order of the design's configuration table. A deployment test checks s.yaml
// against it.
var Variables = []string{
	EnvKMSEndpoint,
	EnvCloudSSOEndpoint,
	EnvBaaSEndpoint,
	EnvKMSEncryptionKeyID,
	envKMSInstanceID,
	envSecretNamePrefix,
	envPasswordLength,
	EnvAllowedDirectoryIDs,
	EnvAllowedOrganizationIDs,
	EnvRegionID,
	envPasswordExclude,
	EnvMaxInFlight,
	envMaxAttempts,
	envLogLevel,
	EnvEventBusName,
	EnvEventBridgeEndpoint,
	envMaxPasswordAgeDays,
	envFunctionComputeEndpoint,
}

// platformVariables lists the variables Load reads that Function Compute sets
// in every instance; a deployment does not set them.
var platformVariables = []string{envFCRegion, envFCAccountID, envFCFunctionName, envDebug, envGoDebug}

// sdkDebugFlags are the DEBUG entries that turn on the SDKs' request dumps:
// every debug.Init flag in tea v1.5.3, darabonba-openapi v2.1.13 and
// credentials-go v1.4.14.
var sdkDebugFlags = []string{"tea", "dara", "credential"}

// Bounds of the operational knobs; their defaults are reset's
// (reset.DefaultMaxInFlight, reset.DefaultMaxAttempts).
const (
	// maxInFlightLimit and maxAttemptsLimit bound the operational knobs: more
	// parallel calls only earn more throttling, and more attempts outlive the
	// function's timeout.
	maxInFlightLimit = 32
	maxAttemptsLimit = 10
	// maxPasswordAgeDaysLimit is ten years: any longer age is no policy.
	maxPasswordAgeDaysLimit = 3650
)

// Config is pwreset's configuration. The zero value is not valid; use Load.
type Config struct {
	// RegionID is the region of the cloud services called:
	// ALIBABA_CLOUD_REGION_ID, else FC_REGION.
	RegionID string

	// Endpoints, parsed by the adapters' rules (aliyun.ParseEndpoint,
	// docs/endpoints.md). The zero Endpoint means the service's default.
	KMSEndpoint      aliyun.Endpoint
	CloudSSOEndpoint aliyun.Endpoint
	BaaSEndpoint     aliyun.Endpoint

	// KMSEncryptionKeyID is the symmetric key of the KMS instance that
	// encrypts new secrets; required (KMS 3.0).
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

	MaxInFlight int // targets rotated at once, 1 to maxInFlightLimit
	MaxAttempts int // tries per throttled or unavailable call, 1 to maxAttemptsLimit

	// MaxPasswordAgeDays makes the sweep report a password older than
	// this many days, 1 to maxPasswordAgeDaysLimit; 0 (unset) reports none.
	MaxPasswordAgeDays int

	LogLevel slog.Level

	// EventBus is where the outcome events go; an empty BusName publishes
	// none. Its fields are EVENT_BUS_NAME, EVENTBRIDGE_ENDPOINT,
	// FC_ACCOUNT_ID and RegionID, checked by aliyun.CheckEventBusConfig,
	// whose errors name the field; Load reports the variable.
	EventBus aliyun.EventBusConfig

	// SelfInvoke is where a continued run's chunks are queued; an empty
	// FunctionName (FC_FUNCTION_NAME unset) continues none. Its fields are
	// FC_FUNCTION_NAME, FUNCTION_COMPUTE_ENDPOINT, FC_ACCOUNT_ID and
	// FC_REGION, checked by aliyun.CheckSelfInvokeConfig, as EventBus is.
	SelfInvoke aliyun.SelfInvokeConfig
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
		KMSEndpoint:            l.endpoint(EnvKMSEndpoint, aliyun.ServiceKMS),
		CloudSSOEndpoint:       l.endpoint(EnvCloudSSOEndpoint, aliyun.ServiceCloudSSO),
		BaaSEndpoint:           l.endpoint(EnvBaaSEndpoint, aliyun.ServiceBaaS),
		KMSEncryptionKeyID:     l.keyID(EnvKMSEncryptionKeyID),
		KMSInstanceID:          l.instanceID(envKMSInstanceID),
		SecretNamePrefix:       l.prefix(envSecretNamePrefix),
		PasswordLength:         l.integer(envPasswordLength, reset.DefaultPasswordLength, reset.MinPasswordLength, reset.MaxPasswordLength),
		PasswordExclude:        l.exclude(envPasswordExclude),
		AllowedDirectoryIDs:    l.list(EnvAllowedDirectoryIDs, reset.KindCloudSSO, reset.ValidDirectoryID),
		AllowedOrganizationIDs: l.list(EnvAllowedOrganizationIDs, reset.KindFabric, reset.ValidOrganizationID),
		MaxInFlight:            l.integer(EnvMaxInFlight, reset.DefaultMaxInFlight, 1, maxInFlightLimit),
		MaxAttempts:            l.integer(envMaxAttempts, reset.DefaultMaxAttempts, 1, maxAttemptsLimit),
		LogLevel:               l.logLevel(envLogLevel),
		MaxPasswordAgeDays:     l.integer(envMaxPasswordAgeDays, 0, 1, maxPasswordAgeDaysLimit),
	}
	c.RegionID = l.region(c)
	c.EventBus = l.eventBus(c.RegionID)
	c.SelfInvoke = l.selfInvoke()
	l.password(&c)
	l.noSDKDebug(envDebug)
	l.noHTTP2Debug(envGoDebug)
	if len(l.errs) > 0 {
		return Config{}, errors.Join(l.errs...)
	}
	return c, nil
}

// RotatorConfig returns the part of c the rotation protocol needs.
func (c Config) RotatorConfig() reset.Config {
	return reset.Config{
		SecretPrefix: c.SecretNamePrefix,
		Allowed: map[reset.Kind][]string{
			reset.KindCloudSSO: c.AllowedDirectoryIDs,
			reset.KindFabric:   c.AllowedOrganizationIDs,
		},
		Password:    reset.PasswordPolicy{Length: c.PasswordLength, Exclude: c.PasswordExclude},
		MaxInFlight: c.MaxInFlight,
		MaxAttempts: c.MaxAttempts,
		// A day is 24 hours here: an age in days is a policy, not a
		// calendar.
		MaxPasswordAge: time.Duration(c.MaxPasswordAgeDays) * 24 * time.Hour,
	}
}

// AliyunConfig returns the part of c the cloud adapters need.
func (c Config) AliyunConfig() aliyun.Config {
	return aliyun.Config{
		RegionID:           c.RegionID,
		KMS:                c.KMSEndpoint,
		CloudSSO:           c.CloudSSOEndpoint,
		BaaS:               c.BaaSEndpoint,
		KMSEncryptionKeyID: c.KMSEncryptionKeyID,
		KMSInstanceID:      c.KMSInstanceID,
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

// endpoint parses an endpoint by the adapters' rule for service. The rule's
// text never quotes the value, which may hold credentials in its user info.
func (l *loader) endpoint(name string, service aliyun.Service) aliyun.Endpoint {
	ep, err := aliyun.ParseEndpoint(service, l.get(name))
	if err != nil {
		l.fail(name, "%s", err)
		return aliyun.Endpoint{}
	}
	return ep
}

func (l *loader) keyID(name string) string {
	v := l.get(name)
	switch {
	case v == "":
		l.fail(name, "is required: KMS 3.0 encrypts each secret with a symmetric key of the secret's KMS instance; give that key's id, alias or ARN")
	case !aliyun.ValidKeyID(v):
		l.fail(name, "%s", aliyun.KeyIDRule)
		return ""
	}
	return v
}

func (l *loader) instanceID(name string) string {
	v := l.get(name)
	if v != "" && !aliyun.ValidInstanceID(v) {
		l.fail(name, "%s", aliyun.InstanceIDRule)
		return ""
	}
	return v
}

func (l *loader) prefix(name string) string {
	v := l.get(name)
	if v == "" {
		return reset.DefaultSecretPrefix
	}
	if !reset.ValidPrefix(v) {
		l.fail(name, "%s, so that every secret name fits KMS's %d characters", reset.PrefixRule, reset.MaxSecretNameLength)
		return reset.DefaultSecretPrefix
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

// password checks PASSWORD_LENGTH and PASSWORD_EXCLUDE together, by
// reset's rule (reset.PasswordPolicy.Validate): each class keeps a
// character, and the passwords they give have at least
// reset.MinPasswordEntropyBits. The error names PASSWORD_EXCLUDE when it is
// set and the entropy falls short, and its rule names both variables.
func (l *loader) password(c *Config) {
	p := reset.PasswordPolicy{Length: c.PasswordLength, Exclude: c.PasswordExclude}
	if p.Validate() == nil {
		return
	}
	c.PasswordExclude = ""
	if class := p.EmptyClass(); class != "" {
		l.fail(envPasswordExclude, "excludes every %s character", class)
		return
	}
	field, fixes := envPasswordLength, []string{}
	if n := p.LengthFor(reset.MinPasswordEntropyBits); n <= reset.MaxPasswordLength {
		fixes = append(fixes, fmt.Sprintf("set %s to at least %d", envPasswordLength, n))
	}
	if p.Exclude != "" {
		field = envPasswordExclude
		fixes = append(fixes, "exclude fewer characters")
	}
	l.fail(field, "with %s %d and %s leaving %d characters, a generated password has %.1f bits of entropy, fewer than the %d required: %s",
		envPasswordLength, p.Length, envPasswordExclude, p.AlphabetSize(), math.Floor(p.EntropyBits()*10)/10,
		reset.MinPasswordEntropyBits, strings.Join(fixes, ", or "))
}

// list splits a comma-separated allow-list. Empty entries (a trailing comma)
// are ignored; every other entry must be a valid identifier, so a typo
// cannot turn into an entry that silently matches nothing.
func (l *loader) list(name string, kind reset.Kind, valid func(string) bool) []string {
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
		if !valid(e) {
			l.fail(name, "entry %d (%q) %s", i+1, e, kind.AllowListRule())
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

// eventBus reads the outcome events' bus. Unset, nothing is published and
// the endpoint and account are not read; set, the adapter's rules apply
// (aliyun.CheckEventBusConfig).
func (l *loader) eventBus(region string) aliyun.EventBusConfig {
	c := aliyun.EventBusConfig{BusName: l.get(EnvEventBusName)}
	if c.BusName == "" {
		if l.get(EnvEventBridgeEndpoint) != "" {
			l.fail(EnvEventBridgeEndpoint, "is set but %s is not: set the bus the outcome events go to, or unset both", EnvEventBusName)
		}
		return c
	}
	c.Endpoint, c.AccountID, c.RegionID = l.get(EnvEventBridgeEndpoint), l.get(envFCAccountID), region
	if l.adapterError(aliyun.CheckEventBusConfig(c), EnvEventBusName, map[string]string{
		"BusName": EnvEventBusName, "Endpoint": EnvEventBridgeEndpoint, "AccountID": envFCAccountID, "RegionID": EnvRegionID,
	}) {
		return aliyun.EventBusConfig{}
	}
	return c
}

// selfInvoke reads where a run's chunks go. FC_FUNCTION_NAME unset: runs
// are not continued, and FUNCTION_COMPUTE_ENDPOINT alone is refused.
func (l *loader) selfInvoke() aliyun.SelfInvokeConfig {
	c := aliyun.SelfInvokeConfig{FunctionName: l.get(envFCFunctionName)}
	if c.FunctionName == "" {
		if l.get(envFunctionComputeEndpoint) != "" {
			l.fail(envFunctionComputeEndpoint, "is set but %s is not: runs continue only in a named function", envFCFunctionName)
		}
		return c
	}
	c.Endpoint, c.AccountID, c.RegionID = l.get(envFunctionComputeEndpoint), l.get(envFCAccountID), l.get(envFCRegion)
	if l.adapterError(aliyun.CheckSelfInvokeConfig(c), envFCFunctionName, map[string]string{
		"FunctionName": envFCFunctionName, "Endpoint": envFunctionComputeEndpoint, "AccountID": envFCAccountID, "RegionID": envFCRegion,
	}) {
		return aliyun.SelfInvokeConfig{}
	}
	return c
}

// adapterError reports err, an adapter's check of a struct filled from the
// environment, under the variable that fills the field at fault: vars maps
// the struct's field names to variables, and an error naming no field of
// it is reported under fallback. It says whether there was an error.
func (l *loader) adapterError(err error, fallback string, vars map[string]string) bool {
	if err == nil {
		return false
	}
	var re *reset.Error
	if errors.As(err, &re) {
		if v, ok := vars[re.Field]; ok {
			l.fail(v, "%s", re.Message)
			return true
		}
	}
	l.fail(fallback, "%s", err)
	return true
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
		v, name = l.get(envFCRegion), envFCRegion
	}
	if v == "" {
		if c.KMSEndpoint.Host == "" {
			l.fail(EnvRegionID, "is required (FC_REGION is not set either) unless KMS_ENDPOINT is set")
		}
		return ""
	}
	if !reset.ValidRegionID(v) {
		l.fail(name, `must be a region id such as "cn-hangzhou", got %q`, v)
		return ""
	}
	return v
}
