package aliyun

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/reset"
)

// Config is what the clients reach and encrypt with, as internal/config
// read and checked it from the environment (docs/endpoints.md lists the
// endpoints and the documents they come from). New refuses only what no
// checked configuration holds.
type Config struct {
	// RegionID picks KMS's public endpoint, kms.<region>.aliyuncs.com,
	// when KMS is the zero Endpoint; required then. CloudSSO and BaaS do
	// not depend on it: a CloudSSO directory is reached from any of the
	// six regions that serve CloudSSO, and BaaS has one endpoint.
	RegionID string
	// KMS, CloudSSO and BaaS are the endpoints ParseEndpoint returned; the
	// zero Endpoint means the default: KMS's public endpoint in RegionID,
	// defaultCloudSSOEndpoint, baasEndpointHost.
	KMS, CloudSSO, BaaS Endpoint
	// KMSEncryptionKeyID is the symmetric key of the KMS instance that
	// encrypts new secrets (ValidKeyID). Required: in KMS 3.0 a secret is
	// encrypted by a key of its instance (docs/endpoints.md).
	KMSEncryptionKeyID string
	// KMSInstanceID is CreateSecret's DKMSInstanceId (ValidInstanceID): the
	// KMS instance new secrets belong to. Empty leaves KMS to take the
	// key's instance.
	KMSInstanceID string
}

// Options are the clients' settings that no environment variable sets: the
// defaults suit Function Compute, and tests change them. The zero value is
// production's.
type Options struct {
	// ConnectTimeout bounds dialing and the TLS handshake; ReadTimeout
	// bounds the wait for an answer. A call never outlives its context
	// either. Zero takes 5s and 10s, the SDKs' defaults.
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
	// OperatorCredentials lets the default chain sign with a static
	// AccessKey (no security token), as an operator at a terminal may from
	// an aliyun CLI profile or the environment: the operator CLI
	// (internal/cli) sets it. The function never does: it signs only with
	// its RAM role's temporary credentials.
	OperatorCredentials bool
}

// Defaults of the timeouts, those of darabonba-openapi.
const (
	defaultConnectTimeout = 5 * time.Second
	defaultReadTimeout    = 10 * time.Second
)

// Endpoints the services document (docs/endpoints.md).
const (
	// defaultCloudSSOEndpoint is CloudSSO's public endpoint in China
	// (Shanghai). CloudSSO serves six regions only ("CloudSSO:Endpoints",
	// https://www.alibabacloud.com/help/en/cloudsso/developer-reference/api-cloudsso-2021-05-15-endpoint).
	defaultCloudSSOEndpoint = "cloudsso.cn-shanghai.aliyuncs.com"
	// baasEndpointHost is the one endpoint BaaS documents ("Blockchain as a
	// Service: Call APIs",
	// https://www.alibabacloud.com/help/en/blockchain-as-a-service/latest/call-apis).
	baasEndpointHost = "baas.aliyuncs.com"
)

// cloudSSORegions are the regions with a CloudSSO endpoint, each public
// (cloudsso.<region>.aliyuncs.com) and VPC (cloudsso-vpc.<region>.aliyuncs.com),
// as "CloudSSO:Endpoints" lists them.
var cloudSSORegions = []string{"cn-shanghai", "cn-hongkong", "ap-northeast-2", "ap-southeast-1", "us-west-1", "eu-central-1"}

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
	// A key id, an alias ("alias/name") or an ARN ("acs:kms:region:uid:key/id"),
	// at most 255 characters: an alias is "1 to 255 characters in length"
	// (kms-20160120 v3.2.3, CreateAliasRequest.AliasName).
	reKeyID = newPattern(`^[A-Za-z0-9][A-Za-z0-9:/_.@-]*$`, 255)
	// A KMS instance id, shaped like the examples of CreateSecret's
	// DKMSInstanceId ("kst-bjj62d8f5e0sgtx8h****").
	reInstanceID = newPattern(`^kst-[A-Za-z0-9]+$`, 4+64)
	// The hosts of documentedEventBridgeDataHost and documentedFCHost; the
	// account-id and region shapes are assumed (a region as reset.ValidRegionID).
	reEventBridgeDataHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9]{1,32}\.eventbridge\.[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}(-vpc)?\.aliyuncs\.com$`)
	})
	reFCHost = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9]{1,32}\.[a-z]{2,8}(-[a-z0-9]{1,16}){1,3}(-internal)?\.fc\.aliyuncs\.com$`)
	})
)

// Endpoint is a parsed endpoint: where one service is reached. The zero
// value means the service's default.
type Endpoint struct {
	Host     string // host[:port]
	Protocol string // "https" or "http"; "" in the zero value means "https"
}

// Service names a service whose endpoint a deployment may set.
type Service string

// Services with a configurable endpoint.
const (
	ServiceKMS      Service = "kms"
	ServiceCloudSSO Service = "cloudsso"
	ServiceBaaS     Service = "baas"
)

// ParseEndpoint reads an endpoint of service s: "host[:port]", reached over
// HTTPS, or a URL whose scheme sets the protocol, with no path, query or
// user info; "http://" only for a loopback host (the local cloud), since
// passwords travel in CloudSSO's query, BaaS's form and KMS's SecretData;
// a host under aliyuncs.com only if the service documents it. An empty
// value is the zero Endpoint. The error's text is the rule broken; it
// never quotes value, which may hold credentials.
func ParseEndpoint(s Service, value string) (Endpoint, error) {
	documented := map[Service]func(string) bool{
		ServiceKMS: documentedKMSHost, ServiceCloudSSO: documentedCloudSSOHost, ServiceBaaS: documentedBaaSHost,
	}[s]
	if documented == nil {
		return Endpoint{}, fmt.Errorf("aliyun: unknown service %q", s)
	}
	ep, rule := parseEndpoint(value, documented)
	if rule != "" {
		return Endpoint{}, errors.New(rule)
	}
	return ep, nil
}

// parseEndpoint reads "host[:port]" or "scheme://host[:port][/]", or
// returns the rule it breaks. documented says whether a host under
// aliyuncs.com is one the service documents.
func parseEndpoint(value string, documented func(host string) bool) (Endpoint, string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return Endpoint{}, ""
	}
	u, rule := parseEndpointURL(value)
	if rule != "" {
		return Endpoint{}, rule
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	switch {
	case net.ParseIP(host) == nil && !reHost().MatchString(host):
		return Endpoint{}, "has a host that is not a DNS name or IP address"
	case scheme == "http" && !isLoopback(host):
		return Endpoint{}, "may use http:// only for a loopback host (the local cloud): passwords travel in the requests, use https://"
	case (host == "aliyuncs.com" || strings.HasSuffix(host, ".aliyuncs.com")) && !documented(host):
		return Endpoint{}, "names a host under aliyuncs.com that the service does not document (see docs/endpoints.md)"
	}
	return Endpoint{Host: u.Host, Protocol: scheme}, ""
}

// parseEndpointURL parses value as a URL (https:// when it has no scheme)
// that holds only a scheme, a host and a port, or returns the rule broken.
func parseEndpointURL(value string) (*url.URL, string) {
	raw := value
	if !strings.Contains(value, "://") {
		raw = "https://" + value
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "must be host[:port] or a URL such as http://127.0.0.1:8080"
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme != "http" && scheme != "https":
		return nil, "scheme must be http or https"
	case u.Host == "" || u.Hostname() == "":
		return nil, "has no host"
	case u.User != nil:
		return nil, "must not hold user info"
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/"):
		return nil, "must be only a scheme, a host and a port, without path, query or fragment"
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			if port == "" {
				return nil, "has an empty port"
			}
			return nil, "has a port that is not 1 to 65535"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, "has an empty port"
	}
	return u, ""
}

// reHost is a DNS name: labels of letters, digits and hyphens.
var reHost = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$`)
})

// ValidKeyID reports whether id is shaped like a KMS key id, alias or ARN.
func ValidKeyID(id string) bool { return reKeyID.MatchString(id) }

// KeyIDRule says what ValidKeyID admits.
const KeyIDRule = `must be a KMS key id, alias or ARN: up to 255 letters, digits and ":/_.@-"`

// ValidInstanceID reports whether id is shaped like a KMS instance id.
func ValidInstanceID(id string) bool { return reInstanceID.MatchString(id) }

// InstanceIDRule says what ValidInstanceID admits.
const InstanceIDRule = `must be a KMS instance id such as "kst-hzz62ee30d6zzvd8ciiqp"`

// isLoopback reports whether host (a name or an address, lower-case) can
// only be this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// documentedKMSHost: KMS's endpoints are kms.<region>.aliyuncs.com and
// kms-vpc.<region>.aliyuncs.com ("Key Management Service: Endpoints",
// https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-endpoint).
func documentedKMSHost(host string) bool {
	for _, p := range []string{"kms.", "kms-vpc."} {
		if region, ok := strings.CutSuffix(strings.TrimPrefix(host, p), ".aliyuncs.com"); ok && strings.HasPrefix(host, p) && reset.ValidRegionID(region) {
			return true
		}
	}
	return false
}

// documentedEventBridgeDataHost: the data API's endpoints are
// <account>.eventbridge.<region>.aliyuncs.com and, from a VPC,
// <account>.eventbridge.<region>-vpc.aliyuncs.com ("EventBridge: Regions and
// endpoints", https://www.alibabacloud.com/help/en/eventbridge/regions-and-endpoints;
// that page lists the VPC endpoint with http:// only, so whether it serves
// HTTPS is assumed; docs/wire-facts.md).
func documentedEventBridgeDataHost(host string) bool {
	return reEventBridgeDataHost().MatchString(host)
}

// documentedFCHost: FC 3.0's endpoints are <account>.<region>.fc.aliyuncs.com
// and, from a VPC, <account>.<region>-internal.fc.aliyuncs.com ("Function
// Compute: Endpoints",
// https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/fc-endpoints;
// docs/wire-facts.md).
func documentedFCHost(host string) bool { return reFCHost().MatchString(host) }

func documentedCloudSSOHost(host string) bool {
	for _, r := range cloudSSORegions {
		if host == "cloudsso."+r+".aliyuncs.com" || host == "cloudsso-vpc."+r+".aliyuncs.com" {
			return true
		}
	}
	return false
}

func documentedBaaSHost(host string) bool { return host == baasEndpointHost }

// endpoints are a Config's endpoints, defaults filled in.
type endpoints struct {
	kms, cloudSSO, baas Endpoint
}

// check refuses what no checked Config holds, and fills the defaults of
// cfg's endpoints and of opt.
func (cfg Config) check(opt *Options) (endpoints, error) {
	eps := endpoints{kms: cfg.KMS, cloudSSO: cfg.CloudSSO, baas: cfg.BaaS}
	if cfg.RegionID != "" && !reset.ValidRegionID(cfg.RegionID) {
		return eps, fmt.Errorf("aliyun: region id %q is not one", cfg.RegionID)
	}
	for _, ep := range []*Endpoint{&eps.kms, &eps.cloudSSO, &eps.baas} {
		if ep.Protocol == "" {
			ep.Protocol = "https"
		}
	}
	if eps.kms.Host == "" {
		if cfg.RegionID == "" {
			return eps, errors.New("aliyun: a region id is required when the KMS endpoint is the default")
		}
		eps.kms.Host = "kms." + cfg.RegionID + ".aliyuncs.com"
	}
	if eps.cloudSSO.Host == "" {
		eps.cloudSSO.Host = defaultCloudSSOEndpoint
	}
	if eps.baas.Host == "" {
		eps.baas.Host = baasEndpointHost
	}
	if !ValidKeyID(cfg.KMSEncryptionKeyID) {
		return eps, errors.New("aliyun: the KMS encryption key id is required and " + KeyIDRule)
	}
	if cfg.KMSInstanceID != "" && !ValidInstanceID(cfg.KMSInstanceID) {
		return eps, errors.New("aliyun: the KMS instance id " + InstanceIDRule)
	}
	switch {
	case opt.ConnectTimeout < 0, opt.ReadTimeout < 0:
		return eps, errors.New("aliyun: Options.ConnectTimeout and ReadTimeout must not be negative")
	}
	if opt.ConnectTimeout == 0 {
		opt.ConnectTimeout = defaultConnectTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = defaultReadTimeout
	}
	switch opt.SignatureAlgorithm {
	case "", "v2":
	default:
		return eps, errors.New(`aliyun: Options.SignatureAlgorithm must be empty (ACS3-HMAC-SHA256) or "v2"`)
	}
	return eps, nil
}
