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
// docs/endpoints.md lists the endpoints and the documents they come from.
type Config struct {
	// RegionID (ALIBABA_CLOUD_REGION_ID) picks KMS's public endpoint,
	// kms.<region>.aliyuncs.com, when KMSEndpoint is not set. Required then.
	// CloudSSO and BaaS do not depend on it: a CloudSSO directory is reached
	// from any of the six regions that serve CloudSSO, and BaaS has one
	// endpoint.
	RegionID string
	// KMSEndpoint (KMS_ENDPOINT), CloudSSOEndpoint (CLOUDSSO_ENDPOINT) and
	// BaaSEndpoint (BAAS_ENDPOINT) are "host[:port]", reached over HTTPS, or
	// a URL whose scheme sets the protocol; "http://" only for a loopback
	// host (the local cloud), since passwords travel in CloudSSO's query,
	// BaaS's form and KMS's SecretData. A host under aliyuncs.com must be
	// one the service documents. Empty means the default: KMS's public
	// endpoint in RegionID, DefaultCloudSSOEndpoint, BaaSEndpointHost.
	KMSEndpoint      string
	CloudSSOEndpoint string
	BaaSEndpoint     string
	// KMSEncryptionKeyID (KMS_ENCRYPTION_KEY_ID) is the symmetric key of the
	// KMS instance that encrypts new secrets. Required: in KMS 3.0 a secret
	// is encrypted by a key of its instance (docs/endpoints.md).
	KMSEncryptionKeyID string
	// KMSInstanceID (KMS_INSTANCE_ID) is CreateSecret's DKMSInstanceId: the
	// KMS instance new secrets belong to. Empty leaves KMS to take the
	// key's instance.
	KMSInstanceID string
	// ConnectTimeout bounds dialing and the TLS handshake; ReadTimeout
	// bounds the wait for an answer. A call never outlives its context
	// either. Zero takes 5s and 10s, the SDKs' defaults. These and
	// SignatureAlgorithm are not read from the environment: the defaults
	// suit Function Compute, and tests set them through app.WithAliyunConfig.
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	// SignatureAlgorithm of the KMS and CloudSSO calls: "" signs with the
	// SDK's default, ACS3-HMAC-SHA256 (V3); "v2" signs the old RPC way
	// (HMAC-SHA1). BaaS calls always sign with HMAC-SHA1, the only signature
	// BaaS documents.
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

// Endpoints the services document (docs/endpoints.md).
const (
	// DefaultCloudSSOEndpoint is CloudSSO's public endpoint in China
	// (Shanghai). CloudSSO serves six regions only ("CloudSSO:Endpoints",
	// https://www.alibabacloud.com/help/en/cloudsso/developer-reference/api-cloudsso-2021-05-15-endpoint).
	DefaultCloudSSOEndpoint = "cloudsso.cn-shanghai.aliyuncs.com"
	// BaaSEndpointHost is the one endpoint BaaS documents ("Blockchain as a
	// Service: Call APIs",
	// https://www.alibabacloud.com/help/en/blockchain-as-a-service/latest/call-apis).
	BaaSEndpointHost = "baas.aliyuncs.com"
)

// CloudSSORegions are the regions with a CloudSSO endpoint, each public
// (cloudsso.<region>.aliyuncs.com) and VPC (cloudsso-vpc.<region>.aliyuncs.com),
// as "CloudSSO:Endpoints" lists them.
var CloudSSORegions = []string{"cn-shanghai", "cn-hongkong", "ap-northeast-2", "ap-southeast-1", "us-west-1", "eu-central-1"}

// baasSignatureAlgorithm is the signature BaaS documents: HMAC-SHA1,
// SignatureVersion 1.0 ("Blockchain as a Service: Common parameters",
// https://www.alibabacloud.com/help/en/blockchain-as-a-service/latest/common-parameters).
// darabonba-openapi v2.1.13 signs an RPC call that way when its
// SignatureAlgorithm is "v2" (client.go, doRPCRequest: SignatureMethod
// HMAC-SHA1, SignatureVersion 1.0, SignatureNonce, Timestamp, AccessKeyId
// and SecurityToken in the query, Signature over the query and the form).
const baasSignatureAlgorithm = "v2"

// Compiled on first use, not in init: compiling every expression at
// start-up cost a cold start milliseconds (docs/PERFORMANCE.md).
var (
	reRegionID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}$`) })
	// A key id, an alias ("alias/name") or an ARN ("acs:kms:region:uid:key/id").
	reKeyID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:/_.@-]{0,254}$`) })
	// A KMS instance id, shaped like the examples of CreateSecret's
	// DKMSInstanceId ("kst-bjj62d8f5e0sgtx8h****").
	reInstanceID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^kst-[A-Za-z0-9]{1,64}$`) })
	// KMS's endpoints: kms.<region>.aliyuncs.com and
	// kms-vpc.<region>.aliyuncs.com ("Key Management Service: Endpoints").
	reEventBridgeDataHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9]{1,32}\.eventbridge\.[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}(-vpc)?\.aliyuncs\.com$`)
	})
	reFCHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9]{1,32}\.[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}(-internal)?\.fc\.aliyuncs\.com$`)
	})
	reKMSHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^kms(-vpc)?\.[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}\.aliyuncs\.com$`)
	})
)

// endpoint is a parsed *_ENDPOINT value.
type endpoint struct {
	host     string // host[:port]; "" = the SDK's (or our) default for the region
	protocol string // "https" or "http"
}

// parseEndpoint reads "host[:port]" or "scheme://host[:port][/]". documented
// says whether a host under aliyuncs.com is one the service documents.
func parseEndpoint(variable, value string, documented func(host string) bool) (endpoint, error) {
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
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if scheme == "http" && !isLoopback(host) {
		return endpoint{}, reset.FieldError(variable,
			"may use http:// only for a loopback host (the local cloud): passwords travel in the requests, use https://")
	}
	if (host == "aliyuncs.com" || strings.HasSuffix(host, ".aliyuncs.com")) && !documented(host) {
		return endpoint{}, reset.FieldError(variable,
			"names a host under aliyuncs.com that the service does not document (see docs/endpoints.md)")
	}
	return endpoint{host: u.Host, protocol: scheme}, nil
}

// isLoopback reports whether host (a name or an address, lower-case) can
// only be this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func documentedKMSHost(host string) bool { return reKMSHost().MatchString(host) }

// documentedEventBridgeDataHost: the data API's endpoints are
// <account>.eventbridge.<region>.aliyuncs.com and, from a VPC,
// <account>.eventbridge.<region>-vpc.aliyuncs.com (docs/wire-facts.md).
func documentedEventBridgeDataHost(host string) bool {
	return reEventBridgeDataHost().MatchString(host)
}

// documentedFCHost: FC 3.0's endpoints are <account>.<region>.fc.aliyuncs.com
// and, from a VPC, <account>.<region>-internal.fc.aliyuncs.com
// (docs/wire-facts.md).
func documentedFCHost(host string) bool { return reFCHost().MatchString(host) }

func documentedCloudSSOHost(host string) bool {
	for _, r := range CloudSSORegions {
		if host == "cloudsso."+r+".aliyuncs.com" || host == "cloudsso-vpc."+r+".aliyuncs.com" {
			return true
		}
	}
	return false
}

func documentedBaaSHost(host string) bool { return host == BaaSEndpointHost }

// endpoints are a validated Config's parsed endpoints, defaults filled in.
type endpoints struct {
	kms, cloudSSO, baas endpoint
}

// validate checks cfg and fills the defaults.
func (cfg *Config) validate() (endpoints, error) {
	var eps endpoints
	var err error
	if eps.kms, err = parseEndpoint("KMS_ENDPOINT", cfg.KMSEndpoint, documentedKMSHost); err != nil {
		return eps, err
	}
	if eps.cloudSSO, err = parseEndpoint("CLOUDSSO_ENDPOINT", cfg.CloudSSOEndpoint, documentedCloudSSOHost); err != nil {
		return eps, err
	}
	if eps.baas, err = parseEndpoint("BAAS_ENDPOINT", cfg.BaaSEndpoint, documentedBaaSHost); err != nil {
		return eps, err
	}
	if cfg.RegionID != "" && !reRegionID().MatchString(cfg.RegionID) {
		return eps, reset.FieldError("ALIBABA_CLOUD_REGION_ID", `must be a region id such as "cn-hangzhou"`)
	}
	if cfg.RegionID == "" && eps.kms.host == "" {
		return eps, reset.FieldError("ALIBABA_CLOUD_REGION_ID", "is required when KMS_ENDPOINT is not set")
	}
	if eps.kms.host == "" {
		eps.kms.host = "kms." + cfg.RegionID + ".aliyuncs.com"
	}
	if eps.cloudSSO.host == "" {
		eps.cloudSSO.host = DefaultCloudSSOEndpoint
	}
	if eps.baas.host == "" {
		eps.baas.host = BaaSEndpointHost
	}
	switch {
	case cfg.KMSEncryptionKeyID == "":
		return eps, reset.FieldError("KMS_ENCRYPTION_KEY_ID",
			"is required: KMS 3.0 encrypts each secret with a symmetric key of the secret's KMS instance; give that key's id, alias or ARN")
	case !reKeyID().MatchString(cfg.KMSEncryptionKeyID):
		return eps, reset.FieldError("KMS_ENCRYPTION_KEY_ID", "must be a key id, an alias or an ARN")
	}
	if cfg.KMSInstanceID != "" && !reInstanceID().MatchString(cfg.KMSInstanceID) {
		return eps, reset.FieldError("KMS_INSTANCE_ID", `must be a KMS instance id such as "kst-hzz62ee30d6zzvd8ciiqp"`)
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
