package aliyun

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/pwreset/pwreset/internal/reset"
)

// SecretStore implements reset.SecretStore with KMS Secrets Manager. Secret
// values are stored as text (SecretDataType "text").
type SecretStore struct {
	base            *kms.Client // never called directly: each call runs on a copy (see call.go)
	caller          caller
	encryptionKeyID string // always set (Config.validate)
	instanceID      string // CreateSecret's DKMSInstanceId; "" = the key's instance
}

var _ reset.SecretStore = (*SecretStore)(nil)

// client returns the copy of the KMS client that one call runs on.
func (s *SecretStore) client(c *call) *kms.Client {
	cl := *s.base
	cl.Credential = c.cred
	cl.HttpClient = c.http
	return &cl
}

// CreateSecret creates secret name with its first version, which KMS stages
// ACSCurrent. It returns an error wrapping reset.ErrSecretExists when the
// secret already exists.
func (s *SecretStore) CreateSecret(ctx context.Context, name, versionID string, data []byte) error {
	const op = "CreateSecret"
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	req := &kms.CreateSecretRequest{
		SecretName:     dara.String(name),
		VersionId:      dara.String(versionID),
		SecretData:     dara.String(string(data)),
		SecretDataType: dara.String("text"),
	}
	req.EncryptionKeyId = dara.String(s.encryptionKeyID)
	if s.instanceID != "" {
		req.DKMSInstanceId = dara.String(s.instanceID)
	}
	if _, err := s.client(c).CreateSecretWithOptions(req, runtimeOptions()); err != nil {
		return kmsError(op, err)
	}
	return nil
}

// PutVersion adds version versionID of secret name with the given stages,
// which must not be empty (KMS would stage the version ACSCurrent). When the
// version exists already, it succeeds if the version holds the same data and
// otherwise returns an error wrapping reset.ErrVersionExists.
func (s *SecretStore) PutVersion(ctx context.Context, name, versionID string, data []byte, stages []string) error {
	const op = "PutSecretValue"
	if len(stages) == 0 {
		return reset.Errorf(reset.EInternal, "kms %s: no version stages given", op)
	}
	stagesJSON, err := json.Marshal(stages)
	if err != nil {
		return reset.Errorf(reset.EInternal, "kms %s: encoding stages: %v", op, err)
	}
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	req := &kms.PutSecretValueRequest{
		SecretName:     dara.String(name),
		VersionId:      dara.String(versionID),
		SecretData:     dara.String(string(data)),
		SecretDataType: dara.String("text"),
		VersionStages:  dara.String(string(stagesJSON)),
	}
	_, err = s.client(c).PutSecretValueWithOptions(req, runtimeOptions())
	if err == nil {
		return nil
	}
	err = kmsError(op, err)
	if !mayHoldVersion(err) {
		return err
	}
	// A retry of the same write finds its own version. KMS's reference does
	// not say which code PutSecretValue answers for a VersionId that exists
	// (Rejected.ResourceExist is assumed), so whatever refusal it gives, the
	// version is read before deciding: the same data succeeds, as the
	// contract says, other data is reset.ErrVersionExists, and no such
	// version leaves the refusal as it was.
	got, gerr := s.GetVersion(ctx, name, versionID)
	switch {
	case errors.Is(gerr, reset.ErrSecretNotFound):
		return err
	case gerr != nil:
		return gerr
	case subtle.ConstantTimeCompare(got.Data, data) == 1:
		return nil
	case errors.Is(err, reset.ErrVersionExists):
		return err
	}
	var a *APIError
	errors.As(err, &a) // mayHoldVersion found one
	return &reset.Error{Code: reset.EConflict, Message: reset.ErrorMessageOf(err) + ": version " + versionID + " holds other data",
		Err: fmt.Errorf("%w: %w", reset.ErrVersionExists, a)}
}

// mayHoldVersion reports whether a refused PutSecretValue may have met an
// existing version: a 4xx answer that is not throttling, a missing
// permission or a missing secret. Retryable failures are retried whole, and
// the retry meets the version if the first attempt wrote it.
func mayHoldVersion(err error) bool {
	var a *APIError
	if !errors.As(err, &a) || a.StatusCode < 400 || a.StatusCode > 499 || errors.Is(err, reset.ErrSecretNotFound) {
		return false
	}
	switch reset.ErrorCodeOf(err) {
	case reset.EThrottled, reset.EUnavailable, reset.EForbidden, reset.ENotFound:
		return false
	}
	return true
}

// GetVersion reads version versionID of secret name with its stages. It
// returns an error wrapping reset.ErrSecretNotFound if the secret or the
// version does not exist.
func (s *SecretStore) GetVersion(ctx context.Context, name, versionID string) (reset.SecretVersion, error) {
	v, err := s.getSecretValue(ctx, &kms.GetSecretValueRequest{
		SecretName: dara.String(name),
		VersionId:  dara.String(versionID),
	})
	if err == nil && v.VersionID == "" {
		v.VersionID = versionID
	}
	return v, err
}

// getSecretValue runs GetSecretValue and reads the version's id, stages
// and data from its answer.
func (s *SecretStore) getSecretValue(ctx context.Context, req *kms.GetSecretValueRequest) (reset.SecretVersion, error) {
	const op = "GetSecretValue"
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return reset.SecretVersion{}, err
	}
	defer c.cancel()
	resp, err := s.client(c).GetSecretValueWithOptions(req, runtimeOptions())
	if err != nil {
		return reset.SecretVersion{}, kmsError(op, err)
	}
	if resp == nil || resp.Body == nil || resp.Body.SecretData == nil {
		return reset.SecretVersion{}, reset.Errorf(reset.EUpstream, "kms %s: answer holds no secret data", op)
	}
	v := reset.SecretVersion{VersionID: dara.StringValue(resp.Body.VersionId), Data: []byte(*resp.Body.SecretData)}
	if st := resp.Body.VersionStages; st != nil {
		for _, stage := range st.VersionStage {
			if stage != nil {
				v.Stages = append(v.Stages, *stage)
			}
		}
	}
	return v, nil
}

// GetStaged reads the version of secret name that carries stage
// (GetSecretValue with VersionStage: kms-20160120/v3 v3.2.3,
// GetSecretValueRequest.VersionStage; its response body carries VersionId
// and VersionStages.VersionStage, GetSecretValueResponseBody). KMS answers
// Forbidden.ResourceNotFound both when the secret does not exist and when no
// version carries the stage, so either wraps reset.ErrSecretNotFound.
func (s *SecretStore) GetStaged(ctx context.Context, name, stage string) (reset.SecretVersion, error) {
	return s.getSecretValue(ctx, &kms.GetSecretValueRequest{
		SecretName:   dara.String(name),
		VersionStage: dara.String(stage),
	})
}

// Promote moves stage ACSCurrent to version versionID; KMS makes the version
// that held it ACSPrevious. It returns an error wrapping
// reset.ErrSecretNotFound if the secret or the version does not exist.
func (s *SecretStore) Promote(ctx context.Context, name, versionID string) error {
	const op = "UpdateSecretVersionStage"
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	req := &kms.UpdateSecretVersionStageRequest{
		SecretName:    dara.String(name),
		VersionStage:  dara.String(reset.StageCurrent),
		MoveToVersion: dara.String(versionID),
	}
	if _, err := s.client(c).UpdateSecretVersionStageWithOptions(req, runtimeOptions()); err != nil {
		return kmsError(op, err)
	}
	return nil
}

// Describe checks that secret name exists and that the role may read its
// metadata. It returns an error wrapping reset.ErrSecretNotFound if the
// secret does not exist.
func (s *SecretStore) Describe(ctx context.Context, name string) error {
	const op = "DescribeSecret"
	c, err := s.caller.begin(ctx, op)
	if err != nil {
		return err
	}
	defer c.cancel()
	req := &kms.DescribeSecretRequest{SecretName: dara.String(name)}
	if _, err := s.client(c).DescribeSecretWithOptions(req, runtimeOptions()); err != nil {
		return kmsError(op, err)
	}
	return nil
}

// kmsError classifies a KMS error by the table of errors.go.
// Forbidden.ResourceNotFound wraps reset.ErrSecretNotFound;
// Rejected.ResourceExist wraps reset.ErrSecretExists on CreateSecret and
// reset.ErrVersionExists on PutSecretValue.
func kmsError(op string, err error) error {
	return classify("kms", op, err, func(op string, a *APIError) (reset.ErrorCode, error, bool) {
		switch {
		case a.Code == "Forbidden.ResourceNotFound":
			return classOf(a), reset.ErrSecretNotFound, true
		case a.Code == "Rejected.ResourceExist" && op == "CreateSecret":
			return classOf(a), reset.ErrSecretExists, true
		case a.Code == "Rejected.ResourceExist" && op == "PutSecretValue":
			return classOf(a), reset.ErrVersionExists, true
		}
		return "", nil, false
	})
}
