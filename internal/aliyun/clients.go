package aliyun

import (
	cloudsso "github.com/alibabacloud-go/cloudsso-20210515/client"
	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/reset"
)

// Clients are the adapters of one function instance, built once by New and
// shared by all its invocations.
type Clients struct {
	CloudSSO *CloudSSO
	Fabric   *Fabric
	Secrets  *SecretStore
}

// Resetters returns the resetter of each target kind, as reset's rotator
// takes them.
func (c *Clients) Resetters() map[reset.Kind]reset.Resetter {
	return map[reset.Kind]reset.Resetter{
		reset.KindCloudSSO: c.CloudSSO,
		reset.KindFabric:   c.Fabric,
	}
}

// New validates cfg and builds the clients. It makes no network call and
// reads no credentials: the default credential chain is built on the first
// call whose context carries no credentials. Its error is an *reset.Error
// whose Field names the variable at fault.
func New(cfg Config) (*Clients, error) {
	eps, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	newDefault := cfg.DefaultCredentials
	if newDefault == nil {
		newDefault = func() (credentials.Credential, error) { return credentials.NewCredential(nil) }
	}
	creds := &credentialSource{newDefault: newDefault}
	hc := newHTTPClient(cfg.ConnectTimeout, cfg.ReadTimeout)
	limit := cfg.ConnectTimeout + cfg.ReadTimeout
	newCaller := func(service string) caller {
		return caller{service: service, hc: hc, creds: creds, limit: limit}
	}

	// openapiConfig leaves Credential unset: every call sets its own.
	openapiConfig := func(ep endpoint, signatureAlgorithm string) *openapi.Config {
		c := &openapi.Config{
			RegionId:       dara.String(cfg.RegionID),
			Protocol:       dara.String(ep.protocol),
			Endpoint:       dara.String(ep.host),
			ConnectTimeout: dara.Int(int(cfg.ConnectTimeout.Milliseconds())),
			ReadTimeout:    dara.Int(int(cfg.ReadTimeout.Milliseconds())),
		}
		if signatureAlgorithm != "" {
			c.SignatureAlgorithm = dara.String(signatureAlgorithm)
		}
		return c
	}

	kmsClient, err := kms.NewClient(openapiConfig(eps.kms, cfg.SignatureAlgorithm))
	if err != nil {
		return nil, &reset.Error{Code: reset.EInvalid, Field: "KMS_ENDPOINT", Message: "cannot build the KMS client", Err: err}
	}
	ssoClient, err := cloudsso.NewClient(openapiConfig(eps.cloudSSO, cfg.SignatureAlgorithm))
	if err != nil {
		return nil, &reset.Error{Code: reset.EInvalid, Field: "CLOUDSSO_ENDPOINT", Message: "cannot build the CloudSSO client", Err: err}
	}
	baasClient, err := openapi.NewClient(openapiConfig(eps.baas, baasSignatureAlgorithm))
	if err != nil {
		return nil, &reset.Error{Code: reset.EInvalid, Field: "BAAS_ENDPOINT", Message: "cannot build the BaaS client", Err: err}
	}

	return &Clients{
		CloudSSO: &CloudSSO{base: ssoClient, caller: newCaller("cloudsso")},
		Fabric:   &Fabric{base: baasClient, caller: newCaller("baas")},
		Secrets: &SecretStore{base: kmsClient, caller: newCaller("kms"),
			encryptionKeyID: cfg.KMSEncryptionKeyID, instanceID: cfg.KMSInstanceID},
	}, nil
}
