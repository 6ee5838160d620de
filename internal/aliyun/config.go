package aliyun

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/reset"
)

// Config configures the clients. A bad field's error names the environment
// variable main reads it from, or the field where no variable sets it.
type Config struct {
	// RegionID (ALIBABA_CLOUD_REGION_ID) picks the public endpoints of the
	// services whose endpoint is not set. Required unless all three are set.
	RegionID string
	// KMSEndpoint (KMS_ENDPOINT), CloudSSOEndpoint (CLOUDSSO_ENDPOINT) and
	// BaaSEndpoint (BAAS_ENDPOINT) are "host[:port]", reached over HTTPS, or
	// a URL whose scheme sets the protocol ("http://127.0.0.1:8080"). Empty
	// means the region's public endpoint.
	KMSEndpoint      string
	CloudSSOEndpoint string
	BaaSEndpoint     string
	// KMSEncryptionKeyID (KMS_ENCRYPTION_KEY_ID) is the CMK that encrypts new
	// secrets; empty leaves KMS's default key.
	KMSEncryptionKeyID string
	// ConnectTimeout bounds dialing and the TLS handshake; ReadTimeout
	// bounds the wait for an answer. A call never outlives its context
	// either. Zero takes 5s and 10s, the SDKs' defaults. These and
	// SignatureAlgorithm are not read from the environment: the defaults
	// suit Function Compute, and tests set them through app.WithAliyunConfig.
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	// SignatureAlgorithm: "" signs with the SDK's
	// default, ACS3-HMAC-SHA256 (V3); "v2" signs the old RPC way (HMAC-SHA1).
	SignatureAlgorithm string
	// DefaultCredentials, when set, replaces credentials-go's default chain,
	// which signs the calls of an invocation whose context carries no
	// credentials. It is called at most once per Clients, on first need.
	DefaultCredentials func() (credentials.Credential, error)
}

// Defaults of the timeouts, those of darabonba-openapi.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 10 * time.Second
)

// Compiled on first use, not in init: compiling every expression at
// start-up cost a cold start milliseconds (docs/PERFORMANCE.md).
var (
	reRegionID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}$`) })
	// A key id, an alias ("alias/name") or an ARN ("acs:kms:region:uid:key/id").
	reKeyID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:/_.@-]{0,254}$`) })
)

// endpoint is a parsed *_ENDPOINT value.
type endpoint struct {
	host     string // host[:port]; "" = the SDK's (or our) default for the region
	protocol string // "https" or "http"
}

// parseEndpoint reads "host[:port]" or "scheme://host[:port][/]".
func parseEndpoint(variable, value string) (endpoint, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return endpoint{protocol: "https"}, nil
	}
	raw := value
	if !strings.Contains(value, "://") {
		raw = "https://" + value
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, reset.FieldError(variable, "must be host[:port] or a URL such as http://127.0.0.1:8080")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return endpoint{}, reset.FieldError(variable, "scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return endpoint{}, reset.FieldError(variable, "has no host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return endpoint{}, reset.FieldError(variable, "must be only a scheme, a host and a port, without path, query or user")
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return endpoint{}, reset.FieldError(variable, "has an empty port")
	}
	return endpoint{host: u.Host, protocol: scheme}, nil
}

// endpoints are a validated Config's parsed endpoints.
type endpoints struct {
	kms, cloudSSO, baas endpoint
}

// validate checks cfg and fills the defaults.
func (cfg *Config) validate() (endpoints, error) {
	var eps endpoints
	var err error
	if eps.kms, err = parseEndpoint("KMS_ENDPOINT", cfg.KMSEndpoint); err != nil {
		return eps, err
	}
	if eps.cloudSSO, err = parseEndpoint("CLOUDSSO_ENDPOINT", cfg.CloudSSOEndpoint); err != nil {
		return eps, err
	}
	if eps.baas, err = parseEndpoint("BAAS_ENDPOINT", cfg.BaaSEndpoint); err != nil {
		return eps, err
	}
	if cfg.RegionID != "" && !reRegionID().MatchString(cfg.RegionID) {
		return eps, reset.FieldError("ALIBABA_CLOUD_REGION_ID", `must be a region id such as "cn-hangzhou"`)
	}
	if cfg.RegionID == "" {
		for _, e := range []struct {
			variable string
			ep       endpoint
		}{{"KMS_ENDPOINT", eps.kms}, {"CLOUDSSO_ENDPOINT", eps.cloudSSO}, {"BAAS_ENDPOINT", eps.baas}} {
			if e.ep.host == "" {
				return eps, reset.FieldError("ALIBABA_CLOUD_REGION_ID", "is required when %s is not set", e.variable)
			}
		}
	}
	if cfg.KMSEncryptionKeyID != "" && !reKeyID().MatchString(cfg.KMSEncryptionKeyID) {
		return eps, reset.FieldError("KMS_ENCRYPTION_KEY_ID", "must be a key id, an alias or an ARN")
	}
	switch {
	case cfg.ConnectTimeout < 0:
		return eps, reset.FieldError("ConnectTimeout", "must not be negative")
	case cfg.ConnectTimeout == 0:
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case cfg.ReadTimeout < 0:
		return eps, reset.FieldError("ReadTimeout", "must not be negative")
	case cfg.ReadTimeout == 0:
		cfg.ReadTimeout = DefaultReadTimeout
	}
	switch cfg.SignatureAlgorithm {
	case "", "v2":
	default:
		return eps, reset.FieldError("SignatureAlgorithm", `must be empty (ACS3-HMAC-SHA256) or "v2"`)
	}
	return eps, nil
}

// baasEndpoint is the public BaaS endpoint of a region, as the generated
// BaaS SDKs (2018-12-21) map it: one endpoint for the mainland regions, the
// Singapore one for the others, the regional rule for any region not listed.
func baasEndpoint(region string) string {
	switch region {
	case "cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-shanghai", "cn-shenzhen":
		return "baas.aliyuncs.com"
	case "cn-hongkong", "ap-southeast-2", "ap-northeast-1", "eu-west-1", "us-west-1", "us-east-1", "eu-central-1", "ap-south-1":
		return "baas.ap-southeast-1.aliyuncs.com"
	}
	return "baas." + region + ".aliyuncs.com"
}
