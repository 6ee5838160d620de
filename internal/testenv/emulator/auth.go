package emulator

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signature algorithms, as Call.SignatureAlgorithm reports them.
const (
	AlgorithmV3 = "ACS3-HMAC-SHA256"
	AlgorithmV2 = "HMAC-SHA1"
)

// MaxClockSkew is how far a request's timestamp may be from the cloud's
// clock, either way, and how long a nonce stays used.
const MaxClockSkew = 15 * time.Minute

const timestampLayout = "2006-01-02T15:04:05Z"

// v3Auth is a parsed ACS3 Authorization header.
type v3Auth struct {
	algorithm     string
	credential    string
	signedHeaders []string
	signature     string
}

func parseV3Auth(h string) (v3Auth, bool) {
	alg, rest, ok := strings.Cut(h, " ")
	if !ok {
		return v3Auth{}, false
	}
	a := v3Auth{algorithm: alg}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return v3Auth{}, false
		}
		switch k {
		case "Credential":
			a.credential = v
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.credential != "" && a.signature != "" && len(a.signedHeaders) > 0
}

// credentialsOf says who signed a request, for the call record.
func credentialsOf(r *http.Request, params map[string]string) (keyID, token, algorithm string) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "ACS3-") {
		a, _ := parseV3Auth(h)
		return a.credential, r.Header.Get("x-acs-security-token"), a.algorithm
	}
	if params["Signature"] != "" {
		return params["AccessKeyId"], params["SecurityToken"], params["SignatureMethod"]
	}
	return "", "", ""
}

// authenticate checks the credentials, the signature, the timestamp and the
// nonce, in the order the gateway reports them.
//
// BaaS documents one signature, HMAC-SHA1 with SignatureVersion 1.0
// ("Blockchain as a Service: Common parameters",
// https://www.alibabacloud.com/help/en/blockchain-as-a-service/latest/common-parameters),
// so its endpoint refuses an ACS3 request. The code is not documented
// (assumed): InvalidSignatureMethod, the gateway's code for a signature
// method it does not support.
func (c *Cloud) authenticate(r *http.Request, req *request) *apiError {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "ACS3-") {
		if req.product == BaaS {
			return errorf(http.StatusBadRequest, "InvalidSignatureMethod", "BaaS accepts only the HMAC-SHA1 signature (SignatureVersion 1.0).")
		}
		return c.authenticateV3(r, req, h)
	}
	if req.params["Signature"] != "" {
		return c.authenticateV2(r, req)
	}
	return errorf(http.StatusBadRequest, "MissingSignature", "The input parameter \"Signature\" that is mandatory for processing this request is not supplied.")
}

func (c *Cloud) authenticateV3(r *http.Request, req *request, header string) *apiError {
	a, ok := parseV3Auth(header)
	if !ok {
		return errorf(http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
	}
	if a.algorithm != AlgorithmV3 {
		return errorf(http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method %q is not supported.", a.algorithm)
	}
	signed := map[string]bool{}
	for _, h := range a.signedHeaders {
		signed[h] = true
	}
	// Everything the gateway acts on must be covered by the signature.
	if !signed["host"] {
		return errorf(http.StatusBadRequest, "IncompleteSignature", "The header \"host\" must be signed.")
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-acs-") && !signed[l] {
			return errorf(http.StatusBadRequest, "IncompleteSignature", "The header %q must be signed.", l)
		}
	}
	ts := r.Header.Get("x-acs-date")
	nonce := r.Header.Get("x-acs-signature-nonce")
	secret, aerr := c.secretFor(a.credential, r.Header.Get("x-acs-security-token"))
	if aerr != nil {
		return aerr
	}

	sum := sha256.Sum256(req.rawBody)
	payloadHash := hex.EncodeToString(sum[:])
	// The V3 signature document lists x-acs-content-sha256 among the
	// required headers
	// (https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature);
	// the code of its absence is assumed.
	h := r.Header.Get("x-acs-content-sha256")
	if h == "" {
		return errorf(http.StatusBadRequest, "IncompleteSignature", "The header \"x-acs-content-sha256\" is required.")
	}
	if h != payloadHash {
		return errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation: x-acs-content-sha256 does not match the body.")
	}
	canonical := r.Method + "\n" + canonicalURI(r.URL.EscapedPath()) + "\n" +
		canonicalQueryV3(r.URL.RawQuery) + "\n" + canonicalHeadersV3(r, a.signedHeaders) + "\n" +
		strings.Join(a.signedHeaders, ";") + "\n" + payloadHash
	crSum := sha256.Sum256([]byte(canonical))
	stringToSign := AlgorithmV3 + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stringToSign))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
	}
	return c.checkFreshness(ts, nonce)
}

func (c *Cloud) authenticateV2(_ *http.Request, req *request) *apiError {
	p := req.params
	if p["SignatureMethod"] != AlgorithmV2 {
		return errorf(http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not supported.")
	}
	if p["SignatureVersion"] != "1.0" {
		return errorf(http.StatusBadRequest, "InvalidSignatureVersion", "Specified signature version is not supported.")
	}
	if p["AccessKeyId"] == "" {
		return errorf(http.StatusBadRequest, "MissingAccessKeyId", "The input parameter \"AccessKeyId\" that is mandatory for processing this request is not supplied.")
	}
	secret, aerr := c.secretFor(p["AccessKeyId"], p["SecurityToken"])
	if aerr != nil {
		return aerr
	}
	signed := url.Values{}
	for k, v := range p {
		if k != "Signature" {
			signed.Set(k, v)
		}
	}
	s := percentFixups(signed.Encode())
	stringToSign := req.method + "&%2F&" + url.QueryEscape(s)
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(p["Signature"])) {
		return errorf(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation.")
	}
	return c.checkFreshness(p["Timestamp"], p["SignatureNonce"])
}

// checkHost refuses a request whose Host is not an endpoint of the product:
// a loopback address (the listener itself) or a host the product documents
// (docs/endpoints.md): BaaS only baas.aliyuncs.com; CloudSSO
// cloudsso[-vpc].<region>.aliyuncs.com in its six regions; KMS
// kms[-vpc].<the cloud's region>.aliyuncs.com. A real request to another
// host reaches another service or none; the answer here is assumed:
// InvalidAction.NotFound, what a gateway answers for an action it does not
// serve.
func (c *Cloud) checkHost(r *http.Request, p Product) *apiError {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip := net.ParseIP(strings.Trim(host, "[]")); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return nil
	}
	ok := false
	switch p {
	case BaaS:
		ok = host == "baas.aliyuncs.com"
	case CloudSSO:
		for _, region := range CloudSSORegions {
			ok = ok || host == "cloudsso."+region+".aliyuncs.com" || host == "cloudsso-vpc."+region+".aliyuncs.com"
		}
	case KMS:
		ok = host == "kms."+c.fixture.Region+".aliyuncs.com" || host == "kms-vpc."+c.fixture.Region+".aliyuncs.com"
	}
	if !ok {
		return errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method (host %q does not serve %s).", host, p)
	}
	return nil
}

// CloudSSORegions are the regions with a CloudSSO endpoint
// ("CloudSSO:Endpoints",
// https://www.alibabacloud.com/help/en/cloudsso/developer-reference/api-cloudsso-2021-05-15-endpoint).
var CloudSSORegions = []string{"cn-shanghai", "cn-hongkong", "ap-northeast-2", "ap-southeast-1", "us-west-1", "eu-central-1"}

// secretFor resolves an AccessKey ID and the security token sent with it to
// the secret that must have signed the request.
func (c *Cloud) secretFor(keyID, token string) (string, *apiError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if secret, ok := c.keys[keyID]; ok {
		if token != "" {
			// A token makes the request an STS request, and this key is
			// not the token's.
			return "", errorf(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
		}
		return secret, nil
	}
	t, ok := c.sts[keyID]
	if !ok {
		return "", errorf(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	if token == "" {
		return "", errorf(http.StatusBadRequest, "MissingSecurityToken", "SecurityToken is mandatory for this AccessKey.")
	}
	if !hmac.Equal([]byte(token), []byte(t.SecurityToken)) {
		for _, other := range c.sts {
			if other.SecurityToken == token {
				return "", errorf(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
			}
		}
		return "", errorf(http.StatusBadRequest, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.")
	}
	if !c.now().Before(t.Expiration) {
		return "", errorf(http.StatusBadRequest, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	}
	return t.AccessKeySecret, nil
}

// checkFreshness rejects a stale or future timestamp and a reused nonce. It
// runs after the signature check, so a forged request cannot burn a nonce.
func (c *Cloud) checkFreshness(ts, nonce string) *apiError {
	if ts == "" {
		return errorf(http.StatusBadRequest, "MissingTimestamp", "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.")
	}
	t, err := time.Parse(timestampLayout, ts)
	if err != nil {
		return errorf(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if nonce == "" {
		return errorf(http.StatusBadRequest, "MissingSignatureNonce", "The input parameter \"SignatureNonce\" that is mandatory for processing this request is not supplied.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if skew := now.Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return errorf(http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}
	for n, seen := range c.nonces {
		if now.Sub(seen) > 2*MaxClockSkew {
			delete(c.nonces, n)
		}
	}
	if _, used := c.nonces[nonce]; used {
		return errorf(http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	c.nonces[nonce] = now
	return nil
}

func percentFixups(s string) string {
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

func canonicalURI(p string) string {
	if p == "" {
		p = "/"
	}
	return percentFixups(p)
}

// canonicalQueryV3 sorts the parameters by key (bytewise) and escapes the
// values only, as the SDK does.
func canonicalQueryV3(raw string) string {
	q, _ := url.ParseQuery(raw)
	keys := sortedKeys(q)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		if v := q[k][0]; v != "" {
			b.WriteString(url.QueryEscape(v))
		}
	}
	return percentFixups(b.String())
}

func canonicalHeadersV3(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		var vals []string
		if name == "host" {
			vals = []string{strings.TrimSpace(r.Host)}
		} else {
			for _, v := range r.Header[textproto.CanonicalMIMEHeaderKey(name)] {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}
