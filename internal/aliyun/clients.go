package aliyun

import (
	"fmt"

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

// New builds the clients cfg describes, with opt's settings (production
// passes the zero Options). It makes no network call and reads no
// credentials: the default credential chain is built on the first call
// whose context carries no credentials. cfg comes checked
// (internal/config); New's error is a programmer's, for a value no checked
// Config holds.
func New(cfg Config, opt Options) (*Clients, error) {
	eps, err := cfg.check(&opt)
	if err != nil {
		return nil, err
	}
	newDefault := opt.DefaultCredentials
	if newDefault == nil {
		newDefault = func() (credentials.Credential, error) { return credentials.NewCredential(nil) }
	}
	creds := &credentialSource{newDefault: newDefault, allowStatic: opt.OperatorCredentials}
	hc := newHTTPClient(opt.ConnectTimeout, opt.ReadTimeout)
	limit := opt.ConnectTimeout + opt.ReadTimeout
	newCaller := func(service string) caller {
		return caller{service: service, hc: hc, creds: creds, limit: limit}
	}

	// openapiConfig leaves Credential unset: every call sets its own.
	openapiConfig := func(ep Endpoint, signatureAlgorithm string) *openapi.Config {
		c := &openapi.Config{
			RegionId:       dara.String(cfg.RegionID),
			Protocol:       dara.String(ep.Protocol),
			Endpoint:       dara.String(ep.Host),
			ConnectTimeout: dara.Int(int(opt.ConnectTimeout.Milliseconds())),
			ReadTimeout:    dara.Int(int(opt.ReadTimeout.Milliseconds())),
		}
		if signatureAlgorithm != "" {
			c.SignatureAlgorithm = dara.String(signatureAlgorithm)
		}
		return c
	}

	kmsClient, err := kms.NewClient(openapiConfig(eps.kms, opt.SignatureAlgorithm))
	if err != nil {
		return nil, fmt.Errorf("aliyun: the KMS client: %w", err)
	}
	ssoClient, err := cloudsso.NewClient(openapiConfig(eps.cloudSSO, opt.SignatureAlgorithm))
	if err != nil {
		return nil, fmt.Errorf("aliyun: the CloudSSO client: %w", err)
	}
	baasClient, err := openapi.NewClient(openapiConfig(eps.baas, baasSignatureAlgorithm))
	if err != nil {
		return nil, fmt.Errorf("aliyun: the BaaS client: %w", err)
	}

	return &Clients{
		CloudSSO: &CloudSSO{base: ssoClient, caller: newCaller("cloudsso")},
		Fabric:   &Fabric{base: baasClient, caller: newCaller("baas")},
		Secrets: &SecretStore{base: kmsClient, caller: newCaller("kms"),
			encryptionKeyID: cfg.KMSEncryptionKeyID, instanceID: cfg.KMSInstanceID},
	}, nil
}
