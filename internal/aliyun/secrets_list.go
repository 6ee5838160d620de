package aliyun

// Listing secrets and versions for the sweep and the status view. Wire
// facts and their sources: docs/wire-facts.md ("KMS").

import (
	"context"
	"strings"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// kmsPageSize is the PageSize of every ListSecrets and ListSecretVersionIds
// call: the largest both take ("Valid values: 1 to 100",
// kms-20160120 v3.2.3 request comments).
const kmsPageSize = 100

// SecretLister lists KMS secrets and their versions, and reads a secret's
// metadata; it never reads a secret value. Make it with NewSecretLister.
type SecretLister struct {
	base   *kms.Client // never called directly: each call runs on a copy
	caller caller
}

// NewSecretLister returns the SecretLister of the instance's clients.
func NewSecretLister(c *Clients) *SecretLister {
	return &SecretLister{base: c.Secrets.base, caller: c.Secrets.caller}
}

func (l *SecretLister) client(c *call) *kms.Client {
	cl := *l.base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	return &cl
}

// SecretSummary is one secret as ListSecrets lists it.
type SecretSummary struct {
	Name              string
	CreateTime        string // as KMS writes it, e.g. "2026-12-01T16:02:25Z"
	UpdateTime        string
	PlannedDeleteTime string // set once deletion is scheduled
}

// ListSecrets returns every secret whose name starts with prefix, reading
// all pages. Whether ListSecrets' SecretName filter matches a prefix is not
// documented (the SDK comment reads like exact matches, ORed), so no filter
// is sent: every secret of the account and region is listed, and each name
// is checked against prefix here. Secrets pending deletion are included.
func (l *SecretLister) ListSecrets(ctx context.Context, prefix string) ([]SecretSummary, error) {
	const op = "ListSecrets"
	var out []SecretSummary
	for page := int32(1); ; page++ {
		if page > maxListPages {
			return nil, reset.Errorf(reset.EUpstream, "kms %s: more than %d pages", op, maxListPages)
		}
		body, err := l.listSecretsPage(ctx, page)
		if err != nil {
			return nil, err
		}
		var n int
		if body.SecretList != nil {
			for _, s := range body.SecretList.Secret {
				if s == nil {
					continue
				}
				n++
				name := dara.StringValue(s.SecretName)
				if strings.HasPrefix(name, prefix) {
					out = append(out, SecretSummary{
						Name: name, CreateTime: dara.StringValue(s.CreateTime), UpdateTime: dara.StringValue(s.UpdateTime),
						PlannedDeleteTime: dara.StringValue(s.PlannedDeleteTime),
					})
				}
			}
		}
		// The last page is the one that reaches TotalCount, or a short or
		// empty one (a TotalCount that shrinks while paging must not loop).
		if n < kmsPageSize || int(page)*kmsPageSize >= int(dara.Int32Value(body.TotalCount)) {
			return out, nil
		}
	}
}

func (l *SecretLister) listSecretsPage(ctx context.Context, page int32) (*kms.ListSecretsResponseBody, error) {
	const op = "ListSecrets"
	c, err := l.caller.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	defer c.cancel()
	req := &kms.ListSecretsRequest{PageNumber: dara.Int32(page), PageSize: dara.Int32(kmsPageSize), FetchTags: dara.String("false")}
	resp, err := l.client(c).ListSecretsWithOptions(req, runtimeOptions())
	if err != nil {
		return nil, kmsError(op, err)
	}
	if resp == nil || resp.Body == nil {
		return nil, reset.Errorf(reset.EUpstream, "kms %s: answer has no body", op)
	}
	return resp.Body, nil
}

// VersionInfo is one version of a secret as ListSecretVersionIds lists it.
type VersionInfo struct {
	VersionID  string
	Stages     []string
	CreateTime string
}

// ListVersions returns the versions of secret name, all pages. Without
// includeDeprecated KMS lists only versions that hold a stage. A missing
// secret wraps reset.ErrSecretNotFound.
func (l *SecretLister) ListVersions(ctx context.Context, name string, includeDeprecated bool) ([]VersionInfo, error) {
	const op = "ListSecretVersionIds"
	var out []VersionInfo
	for page := int32(1); ; page++ {
		if page > maxListPages {
			return nil, reset.Errorf(reset.EUpstream, "kms %s: more than %d pages", op, maxListPages)
		}
		c, err := l.caller.begin(ctx, op)
		if err != nil {
			return nil, err
		}
		req := &kms.ListSecretVersionIdsRequest{
			SecretName: dara.String(name), PageNumber: dara.Int32(page), PageSize: dara.Int32(kmsPageSize),
			IncludeDeprecated: dara.String("false"),
		}
		if includeDeprecated {
			req.IncludeDeprecated = dara.String("true")
		}
		resp, err := l.client(c).ListSecretVersionIdsWithOptions(req, runtimeOptions())
		c.cancel()
		if err != nil {
			return nil, kmsError(op, err)
		}
		if resp == nil || resp.Body == nil {
			return nil, reset.Errorf(reset.EUpstream, "kms %s: answer has no body", op)
		}
		var n int
		if ids := resp.Body.VersionIds; ids != nil {
			for _, v := range ids.VersionId {
				if v == nil {
					continue
				}
				n++
				info := VersionInfo{VersionID: dara.StringValue(v.VersionId), CreateTime: dara.StringValue(v.CreateTime)}
				if v.VersionStages != nil {
					for _, st := range v.VersionStages.VersionStage {
						if st != nil {
							info.Stages = append(info.Stages, *st)
						}
					}
				}
				out = append(out, info)
			}
		}
		if n < kmsPageSize || int(page)*kmsPageSize >= int(dara.Int32Value(resp.Body.TotalCount)) {
			return out, nil
		}
	}
}

// SecretMetadata is what DescribeSecret tells about a secret.
type SecretMetadata struct {
	Name              string
	ARN               string
	Description       string
	EncryptionKeyID   string
	CreateTime        string
	UpdateTime        string
	PlannedDeleteTime string
}

// DescribeSecret reads secret name's metadata. A missing secret wraps
// reset.ErrSecretNotFound.
func (l *SecretLister) DescribeSecret(ctx context.Context, name string) (SecretMetadata, error) {
	const op = "DescribeSecret"
	c, err := l.caller.begin(ctx, op)
	if err != nil {
		return SecretMetadata{}, err
	}
	defer c.cancel()
	resp, err := l.client(c).DescribeSecretWithOptions(&kms.DescribeSecretRequest{SecretName: dara.String(name)}, runtimeOptions())
	if err != nil {
		return SecretMetadata{}, kmsError(op, err)
	}
	if resp == nil || resp.Body == nil {
		return SecretMetadata{}, reset.Errorf(reset.EUpstream, "kms %s: answer has no body", op)
	}
	b := resp.Body
	return SecretMetadata{
		Name: dara.StringValue(b.SecretName), ARN: dara.StringValue(b.Arn), Description: dara.StringValue(b.Description),
		EncryptionKeyID: dara.StringValue(b.EncryptionKeyId), CreateTime: dara.StringValue(b.CreateTime),
		UpdateTime: dara.StringValue(b.UpdateTime), PlannedDeleteTime: dara.StringValue(b.PlannedDeleteTime),
	}, nil
}
