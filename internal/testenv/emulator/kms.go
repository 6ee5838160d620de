package emulator

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits of a KMS secret: at most 10 versions, the earliest deleted past
// them (PutSecretValue,
// https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-putsecretvalue),
// and at most 8 version stages in all ("The total number of version stages
// for each generic secret cannot exceed 8", UpdateSecretVersionStage,
// https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-updatesecretversionstage).
const (
	MaxSecretVersions = 10
	MaxSecretStages   = 8
)

// Stages KMS manages itself.
const (
	StageCurrent  = "ACSCurrent"
	StagePrevious = "ACSPrevious"
)

// Secret is a KMS secret as the service holds it. PlannedDeleteTime is set
// once DeleteSecret scheduled its deletion.
type Secret struct {
	Name              string
	Versions          []SecretVersion // oldest first
	DataType          string          // "text" or "binary"
	Description       string
	EncryptionKeyID   string // the id of the key, however CreateSecret named it
	DKMSInstanceID    string
	Created           time.Time
	Updated           time.Time
	PlannedDeleteTime time.Time
}

// SecretVersion is one version of a secret. Stages are sorted.
type SecretVersion struct {
	VersionID string
	Stages    []string
	Data      string
	DataType  string
	Created   time.Time
}

// Version returns the version with the given id.
func (s Secret) Version(id string) (SecretVersion, bool) {
	for _, v := range s.Versions {
		if v.VersionID == id {
			return v, true
		}
	}
	return SecretVersion{}, false
}

// Staged returns the version that holds stage.
func (s Secret) Staged(stage string) (SecretVersion, bool) {
	for _, v := range s.Versions {
		for _, st := range v.Stages {
			if st == stage {
				return v, true
			}
		}
	}
	return SecretVersion{}, false
}

type secret struct {
	Secret
	versions []*secretVersion // oldest first
}

type secretVersion struct {
	id       string
	data     string
	dataType string
	stages   map[string]bool
	created  time.Time
}

func (s *secret) snapshot() Secret {
	out := s.Secret
	out.Versions = make([]SecretVersion, 0, len(s.versions))
	for _, v := range s.versions {
		out.Versions = append(out.Versions, SecretVersion{
			VersionID: v.id, Stages: v.stageList(), Data: v.data, DataType: v.dataType, Created: v.created,
		})
	}
	return out
}

func (v *secretVersion) stageList() []string {
	out := sortedKeys(v.stages)
	if out == nil {
		out = []string{}
	}
	return out
}

func (s *secret) version(id string) *secretVersion {
	for _, v := range s.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (s *secret) staged(stage string) *secretVersion {
	for _, v := range s.versions {
		if v.stages[stage] {
			return v
		}
	}
	return nil
}

func (s *secret) stageCount() int {
	n := 0
	for _, v := range s.versions {
		n += len(v.stages)
	}
	return n
}

// moveStage attaches stage to v, taking it from any other version. Moving
// ACSCurrent makes the version that held it ACSPrevious.
func (s *secret) moveStage(stage string, v *secretVersion) {
	old := s.staged(stage)
	if old == v {
		return
	}
	if old != nil {
		delete(old.stages, stage)
	}
	v.stages[stage] = true
	if stage == StageCurrent && old != nil {
		if prev := s.staged(StagePrevious); prev != nil {
			delete(prev.stages, StagePrevious)
		}
		old.stages[StagePrevious] = true
	}
}

// evict drops the earliest versions while there are too many. The
// PutSecretValue doc says only that past ten versions "KMS deletes the
// earliest version"; it names no exception for staged ones, so none is
// made: an ACSCurrent or ACSPending version is deleted too when it is the
// earliest (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-putsecretvalue).
func (s *secret) evict() {
	for len(s.versions) > MaxSecretVersions {
		s.versions = s.versions[1:]
	}
}

// Secret returns a copy of the named secret, including one pending deletion.
func (c *Cloud) Secret(name string) (Secret, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.secrets[name]
	if !ok {
		return Secret{}, false
	}
	return s.snapshot(), true
}

// Secrets returns copies of every secret, sorted by name.
func (c *Cloud) Secrets() []Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Secret, 0, len(c.secrets))
	for _, name := range sortedKeys(c.secrets) {
		out = append(out, c.secrets[name].snapshot())
	}
	return out
}

var (
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,192}$`)
	versionIDRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	stageRE      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

const kmsTimeLayout = "2006-01-02T15:04:05Z"

func kmsTime(t time.Time) string { return t.UTC().Format(kmsTimeLayout) }

func errNotFound(what string) *apiError {
	return errorf(http.StatusNotFound, "Forbidden.ResourceNotFound", "The specified %s is not found.", what)
}

func errMissing(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func errInvalid(name string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid.", name)
}

func (c *Cloud) kms(req *request) (map[string]any, *apiError) {
	p := req.params
	switch req.action {
	case "CreateSecret":
		return c.createSecret(p)
	case "PutSecretValue":
		return c.putSecretValue(p)
	case "GetSecretValue":
		return c.getSecretValue(p)
	case "UpdateSecretVersionStage":
		return c.updateSecretVersionStage(p)
	case "DescribeSecret":
		return c.describeSecret(p)
	case "ListSecretVersionIds":
		return c.listSecretVersionIDs(p)
	case "DeleteSecret":
		return c.deleteSecret(p)
	case "ListSecrets":
		return c.listSecrets(p)
	}
	return nil, errorf(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

func (c *Cloud) arn(name string) string {
	return "acs:kms:" + c.fixture.Region + ":" + c.fixture.AccountID + ":secret/" + name
}

// liveSecret finds a secret that may be used: it exists and is not pending
// deletion.
func (c *Cloud) liveSecret(p map[string]string) (*secret, *apiError) {
	name := p["SecretName"]
	if name == "" {
		return nil, errMissing("SecretName")
	}
	s, ok := c.secrets[name]
	if !ok {
		return nil, errNotFound("secret")
	}
	if !s.PlannedDeleteTime.IsZero() {
		return nil, errorf(http.StatusBadRequest, "Rejected.Unavailable", "The secret is pending deletion.")
	}
	return s, nil
}

func dataType(p map[string]string) (string, *apiError) {
	switch t := p["SecretDataType"]; t {
	case "":
		return "text", nil
	case "text", "binary":
		return t, nil
	}
	return "", errInvalid("SecretDataType")
}

func (c *Cloud) createSecret(p map[string]string) (map[string]any, *apiError) {
	name := p["SecretName"]
	switch {
	case name == "":
		return nil, errMissing("SecretName")
	case !secretNameRE.MatchString(name):
		return nil, errInvalid("SecretName")
	}
	vid, data, dt, aerr := versionParams(p)
	if aerr != nil {
		return nil, aerr
	}
	if st := p["SecretType"]; st != "" && st != "Generic" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "Only Generic secrets are supported here.")
	}
	if old, ok := c.secrets[name]; ok {
		if !old.PlannedDeleteTime.IsZero() {
			// CreateSecret's error codes: "Rejected.ResourceInDeleteWindow"
			// (409) for a name whose secret is pending deletion.
			return nil, errorf(http.StatusConflict, "Rejected.ResourceInDeleteWindow", "The secret with the same name is in the deletion window.")
		}
		return nil, errorf(http.StatusConflict, "Rejected.ResourceExist", "The resource already exists.")
	}
	key, instance, aerr := c.encryptionKey(p["EncryptionKeyId"], p["DKMSInstanceId"])
	if aerr != nil {
		return nil, aerr
	}
	now := c.now()
	s := &secret{Secret: Secret{
		Name: name, DataType: dt, Description: p["Description"], EncryptionKeyID: key.ID, DKMSInstanceID: instance,
		Created: now, Updated: now,
	}}
	s.versions = []*secretVersion{{id: vid, data: data, dataType: dt, stages: map[string]bool{StageCurrent: true}, created: now}}
	c.secrets[name] = s
	c.accept(data)
	return map[string]any{
		"Arn": c.arn(name), "SecretName": name, "SecretType": "Generic", "VersionId": vid,
		"AutomaticRotation": "Disabled", "DKMSInstanceId": instance,
	}, nil
}

// encryptionKey resolves CreateSecret's EncryptionKeyId (a key id, an alias
// or an ARN of either) in the instance DKMSInstanceId names, or in any
// instance when it names none, and checks the key may encrypt a secret. In
// KMS 3.0 "the key and the secret must belong to the same KMS instance, and
// the key must be symmetric" (CreateSecret, EncryptionKeyId). The codes of
// the refusals are not documented for CreateSecret and are assumed:
// Forbidden.KeyNotFound is KMS's code for a key it cannot find in its key
// operations, Forbidden.InstanceNotFound is invented. A missing key is
// refused (MissingParameter, assumed): KMS 1.0's default key, which made the
// parameter optional, is gone.
func (c *Cloud) encryptionKey(keyID, instanceID string) (KMSKey, string, *apiError) {
	if keyID == "" {
		return KMSKey{}, "", errMissing("EncryptionKeyId")
	}
	arnPrefix := "acs:kms:" + c.fixture.Region + ":" + c.fixture.AccountID + ":"
	if rest, ok := strings.CutPrefix(keyID, arnPrefix); ok {
		keyID = strings.TrimPrefix(rest, "key/") // "key/<id>" or "alias/<name>"
	}
	found := false
	for _, in := range c.fixture.KMSInstances {
		if instanceID != "" && in.ID != instanceID {
			continue
		}
		found = true
		for _, k := range in.Keys {
			if k.ID != keyID && (k.Alias == "" || k.Alias != keyID) {
				continue
			}
			if !k.Symmetric() {
				return KMSKey{}, "", errorf(http.StatusNotFound, "Forbidden.KeyNotFound",
					"The specified key is not a symmetric key of the KMS instance; a secret needs one.")
			}
			return k, in.ID, nil
		}
	}
	if instanceID != "" && !found {
		return KMSKey{}, "", errorf(http.StatusNotFound, "Forbidden.InstanceNotFound", "The specified KMS instance is not found.")
	}
	return KMSKey{}, "", errorf(http.StatusNotFound, "Forbidden.KeyNotFound", "The specified key is not found in the KMS instance.")
}

// versionParams reads and checks the parameters of a new version, which
// CreateSecret and PutSecretValue share: VersionId, SecretData and
// SecretDataType.
func versionParams(p map[string]string) (vid, data, dt string, _ *apiError) {
	vid, data = p["VersionId"], p["SecretData"]
	switch {
	case vid == "":
		return "", "", "", errMissing("VersionId")
	case data == "":
		return "", "", "", errMissing("SecretData")
	case !versionIDRE.MatchString(vid):
		return "", "", "", errInvalid("VersionId")
	}
	dt, aerr := dataType(p)
	if aerr != nil {
		return "", "", "", aerr
	}
	return vid, data, dt, nil
}

// parseStages reads PutSecretValue's VersionStages, a JSON array of names.
func parseStages(raw string) ([]string, *apiError) {
	if raw == "" {
		return []string{StageCurrent}, nil
	}
	var stages []string
	if err := json.Unmarshal([]byte(raw), &stages); err != nil || len(stages) == 0 {
		return nil, errInvalid("VersionStages")
	}
	seen := map[string]bool{}
	for _, st := range stages {
		if !stageRE.MatchString(st) || seen[st] {
			return nil, errInvalid("VersionStages")
		}
		seen[st] = true
	}
	return stages, nil
}

func stagesBody(v *secretVersion) map[string]any {
	return map[string]any{"VersionStage": v.stageList()}
}

func (c *Cloud) putSecretValue(p map[string]string) (map[string]any, *apiError) {
	s, aerr := c.liveSecret(p)
	if aerr != nil {
		return nil, aerr
	}
	vid, data, dt, aerr := versionParams(p)
	if aerr != nil {
		return nil, aerr
	}
	stages, aerr := parseStages(p["VersionStages"])
	if aerr != nil {
		return nil, aerr
	}
	if v := s.version(vid); v != nil {
		// Idempotent on VersionId: a retry with the same data succeeds and
		// changes nothing; other data is a conflict.
		if v.data != data {
			return nil, errorf(http.StatusConflict, "Rejected.ResourceExist", "The version already exists with different secret data.")
		}
		return map[string]any{"SecretName": s.Name, "VersionId": vid, "VersionStages": stagesBody(v)}, nil
	}
	if added := newStages(s, stages); s.stageCount()+added > MaxSecretStages {
		return nil, errorf(http.StatusBadRequest, "Rejected.LimitExceeded", "A secret can have at most %d version stages.", MaxSecretStages)
	}
	now := c.now()
	v := &secretVersion{id: vid, data: data, dataType: dt, stages: map[string]bool{}, created: now}
	s.versions = append(s.versions, v)
	for _, st := range stages {
		s.moveStage(st, v)
	}
	s.evict()
	s.Updated = now
	c.accept(data)
	return map[string]any{"SecretName": s.Name, "VersionId": vid, "VersionStages": stagesBody(v)}, nil
}

// newStages counts the stages a change would add to the secret, including
// the ACSPrevious that moving ACSCurrent creates.
func newStages(s *secret, stages []string) int {
	n := 0
	for _, st := range stages {
		if s.staged(st) == nil {
			n++
		}
		if st == StageCurrent && s.staged(StageCurrent) != nil && s.staged(StagePrevious) == nil {
			n++
		}
	}
	return n
}

func (c *Cloud) getSecretValue(p map[string]string) (map[string]any, *apiError) {
	s, aerr := c.liveSecret(p)
	if aerr != nil {
		return nil, aerr
	}
	vid, stage := p["VersionId"], p["VersionStage"]
	if vid == "" && stage == "" {
		stage = StageCurrent
	}
	var v *secretVersion
	if vid != "" {
		v = s.version(vid)
		if v != nil && stage != "" && !v.stages[stage] {
			v = nil
		}
	} else {
		v = s.staged(stage)
	}
	if v == nil {
		return nil, errNotFound("secret version")
	}
	return map[string]any{
		"SecretName": s.Name, "SecretType": "Generic", "SecretData": v.data, "SecretDataType": v.dataType,
		"VersionId": v.id, "VersionStages": stagesBody(v), "CreateTime": kmsTime(v.created),
		"AutomaticRotation": "Disabled",
	}, nil
}

func (c *Cloud) updateSecretVersionStage(p map[string]string) (map[string]any, *apiError) {
	s, aerr := c.liveSecret(p)
	if aerr != nil {
		return nil, aerr
	}
	stage, to, from := p["VersionStage"], p["MoveToVersion"], p["RemoveFromVersion"]
	switch {
	case stage == "":
		return nil, errMissing("VersionStage")
	case !stageRE.MatchString(stage):
		return nil, errInvalid("VersionStage")
	case to == "" && from == "":
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "MoveToVersion or RemoveFromVersion must be specified.")
	}
	if from != "" {
		fv := s.version(from)
		if fv == nil {
			return nil, errNotFound("secret version")
		}
		if !fv.stages[stage] {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "The version stage is not attached to the version specified by RemoveFromVersion.")
		}
	}
	if to == "" {
		// ACSCurrent must always be on some version: it can only move.
		if stage == StageCurrent {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "The ACSCurrent stage cannot be removed, only moved.")
		}
		delete(s.version(from).stages, stage)
		s.Updated = c.now()
		return map[string]any{"SecretName": s.Name}, nil
	}
	tv := s.version(to)
	if tv == nil {
		return nil, errNotFound("secret version")
	}
	if s.stageCount()+newStages(s, []string{stage}) > MaxSecretStages {
		return nil, errorf(http.StatusBadRequest, "Rejected.LimitExceeded", "A secret can have at most %d version stages.", MaxSecretStages)
	}
	s.moveStage(stage, tv)
	s.Updated = c.now()
	return map[string]any{"SecretName": s.Name}, nil
}

func (c *Cloud) describeSecret(p map[string]string) (map[string]any, *apiError) {
	name := p["SecretName"]
	if name == "" {
		return nil, errMissing("SecretName")
	}
	s, ok := c.secrets[name]
	if !ok {
		return nil, errNotFound("secret")
	}
	out := map[string]any{
		"Arn": c.arn(name), "SecretName": name, "SecretType": "Generic", "Description": s.Description,
		"EncryptionKeyId": s.EncryptionKeyID, "DKMSInstanceId": s.DKMSInstanceID, "CreateTime": kmsTime(s.Created), "UpdateTime": kmsTime(s.Updated),
		"AutomaticRotation": "Disabled",
	}
	if !s.PlannedDeleteTime.IsZero() {
		out["PlannedDeleteTime"] = kmsTime(s.PlannedDeleteTime)
	}
	return out, nil
}

func (c *Cloud) listSecretVersionIDs(p map[string]string) (map[string]any, *apiError) {
	s, aerr := c.liveSecret(p)
	if aerr != nil {
		return nil, aerr
	}
	page, size := 1, 10
	if v := p["PageNumber"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("PageNumber")
		}
		page = n
	}
	if v := p["PageSize"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("PageSize")
		}
		size = n
	}
	includeDeprecated := p["IncludeDeprecated"] == "true"
	var vs []*secretVersion
	for _, v := range s.versions {
		if includeDeprecated || len(v.stages) > 0 {
			vs = append(vs, v)
		}
	}
	// Newest first, as the console lists them.
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].created.After(vs[j].created) })
	total := len(vs)
	start := (page - 1) * size
	if start > total {
		start = total
	}
	end := min(start+size, total)
	items := []any{}
	for _, v := range vs[start:end] {
		items = append(items, map[string]any{
			"VersionId": v.id, "CreateTime": kmsTime(v.created), "VersionStages": stagesBody(v),
		})
	}
	return map[string]any{
		"SecretName": s.Name, "PageNumber": page, "PageSize": size, "TotalCount": total,
		"VersionIds": map[string]any{"VersionId": items},
	}, nil
}

func (c *Cloud) deleteSecret(p map[string]string) (map[string]any, *apiError) {
	name := p["SecretName"]
	if name == "" {
		return nil, errMissing("SecretName")
	}
	s, ok := c.secrets[name]
	if !ok {
		return nil, errNotFound("secret")
	}
	if p["ForceDeleteWithoutRecovery"] == "true" {
		delete(c.secrets, name)
		return map[string]any{"SecretName": name}, nil
	}
	days := 30
	if v := p["RecoveryWindowInDays"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 7 || n > 30 {
			return nil, errInvalid("RecoveryWindowInDays")
		}
		days = n
	}
	s.PlannedDeleteTime = c.now().Add(time.Duration(days) * 24 * time.Hour)
	return map[string]any{"SecretName": name, "PlannedDeleteTime": kmsTime(s.PlannedDeleteTime)}, nil
}
