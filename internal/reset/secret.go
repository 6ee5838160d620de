package reset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
)

// PlaceholderVersionID is the id of the first version of a secret the
// rotator creates: it holds the target but no password, because the target's
// password is not known before the first rotation. It can never equal a
// VersionID, whose tail is hexadecimal.
const PlaceholderVersionID = "pwreset-placeholder"

// versionPrefix starts every VersionID.
const versionPrefix = "pwreset-"

// VersionID is the secret version id of the rotation of t that the request
// with idempotencyKey asks for: "pwreset-" and 32 hexadecimal digits (a
// truncated SHA-256 of the key and t.Key()). The same key and target always
// give the same id, so a retried request resumes its rotation; different keys
// or targets give different ids. It is a valid KMS VersionId (letters, digits
// and "-", 40 characters).
func VersionID(idempotencyKey string, t Target) string {
	h := sha256.New()
	// Length-prefixed so that no two (key, target) pairs hash the same input.
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(idempotencyKey)))
	h.Write(n[:])
	h.Write([]byte(idempotencyKey))
	h.Write([]byte(t.Key()))
	sum := h.Sum(nil)
	return versionPrefix + hex.EncodeToString(sum[:16])
}

// secretValue is the JSON value of a secret version (DESIGN.md, "The
// secret"). Only the fields of the target's kind are set; Password is empty
// in the placeholder version.
type secretValue struct {
	Target         Kind   `json:"target"`
	DirectoryID    string `json:"directoryId,omitempty"`
	UserID         string `json:"userId,omitempty"`
	OrganizationID string `json:"organizationId,omitempty"`
	Username       string `json:"username,omitempty"`
	Password       string `json:"password,omitempty"`
}

func newSecretValue(t Target, password string) secretValue {
	v := secretValue{Target: t.Kind, Password: password}
	switch t.Kind {
	case KindCloudSSO:
		v.DirectoryID, v.UserID = t.DirectoryID, t.UserID
	case KindFabric:
		v.OrganizationID, v.Username = t.OrganizationID, t.Username
	}
	return v
}

// SecretData returns the value of a secret version for t holding password:
// {"target":"cloudsso","directoryId":..,"userId":..,"password":..} or
// {"target":"fabric","organizationId":..,"username":..,"password":..}. An
// empty password gives the placeholder value, the same object without
// "password". The result holds the password: never log it.
func SecretData(t Target, password string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Passwords are plain ASCII; keep them readable as stored.
	enc.SetEscapeHTML(false)
	// Encoding a struct of strings cannot fail.
	_ = enc.Encode(newSecretValue(t, password))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ParseSecretData returns the password a secret version's data holds for t.
// It fails with an EInternal *Error when data is not a secret value, belongs
// to another target, or holds no password (the placeholder). Its errors never
// quote data, which holds a password.
func ParseSecretData(data []byte, t Target) (string, error) {
	var v secretValue
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// The decoder's own error can quote the data (a syntax error names the
	// offending character), so it is dropped, not wrapped.
	if err := dec.Decode(&v); err != nil || dec.More() {
		return "", Errorf(EInternal, "secret version data of %s is not a pwreset secret value", t.Key())
	}
	if v != newSecretValue(t, v.Password) {
		return "", Errorf(EInternal, "secret version data belongs to another target than %s", t.Key())
	}
	if v.Password == "" {
		return "", Errorf(EInternal, "secret version data of %s holds no password", t.Key())
	}
	return v.Password, nil
}
