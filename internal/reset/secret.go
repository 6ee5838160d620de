package reset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// placeholderVersionID is the id of the first version of a secret the
// rotator creates: it holds the target but no password, because the target's
// password is not known before the first rotation. It can never equal a
// VersionID, whose tail is hexadecimal.
const placeholderVersionID = "pwreset-placeholder"

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

// secretData returns the value of a secret version for t holding password
// (DESIGN.md, "The secret"): a JSON object of "target", the kind's two ids
// and then its parameters under their JSON names (the table kinds), and
// "password", in that order:
// {"target":"fabric","organizationId":..,"username":..,"location":..,"password":..}.
// The parameters are there so that the sweep can finish a rotation from
// the secret alone (BaaS needs the location); an empty one is left out. An
// empty password gives the placeholder value, the same object without
// "password". The result holds the password: never log it.
func secretData(t Target, password string) []byte {
	s := specOf(t.Kind)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Passwords are plain ASCII; keep them readable as stored.
	enc.SetEscapeHTML(false)
	member := func(name, value string) {
		if buf.Len() > 0 {
			buf.WriteByte(',')
		} else {
			buf.WriteByte('{')
		}
		// Encoding a string cannot fail.
		_ = enc.Encode(name)
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		_ = enc.Encode(value)
		buf.Truncate(buf.Len() - 1)
	}
	member("target", string(t.Kind))
	if s != nil {
		for _, f := range s.ids {
			member(f.json, *f.get(&t))
		}
		for _, f := range s.params {
			if v := *f.get(&t); v != "" {
				member(f.json, v)
			}
		}
	}
	if password != "" {
		member("password", password)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// decodeSecretValue decodes a secret version's data into its members. It
// fails with an EInternal *Error naming t when data is not a secret value:
// an object of strings with no member but those secretData writes, for
// any kind. Its errors never quote data, which holds a password.
func decodeSecretValue(data []byte, t Target) (map[string]*string, error) {
	notValue := Errorf(EInternal, "secret version data of %s is not a pwreset secret value", t.Key())
	var v map[string]*string
	dec := json.NewDecoder(bytes.NewReader(data))
	// The decoder's own error can quote the data (a syntax error names the
	// offending character), so it is dropped, not wrapped.
	if err := dec.Decode(&v); err != nil || dec.More() || v == nil {
		return nil, notValue
	}
	known := map[string]bool{"target": true, "password": true}
	for i := range kinds {
		for _, f := range kinds[i].stringFields() {
			known[f.json] = true
		}
	}
	for name := range v {
		if !known[name] {
			return nil, notValue
		}
	}
	return v, nil
}

// parseSecretData returns the password a secret version's data holds for t.
// It fails with an EInternal *Error when data is not a secret value,
// belongs to another target (its kind or ids differ, or it holds a
// non-empty member of another kind), or holds no password (the
// placeholder). A parameter of t's kind (a Fabric location) may be absent
// (values written before it was stored) and is not compared: it is not
// part of the account's identity, and the rotation uses the request's.
// Its errors never quote data, which holds a password.
func parseSecretData(data []byte, t Target) (string, error) {
	v, err := decodeSecretValue(data, t)
	if err != nil {
		return "", err
	}
	str := func(name string) string {
		if p := v[name]; p != nil {
			return *p
		}
		return ""
	}
	// What t's value would hold; any other member, of any kind, is foreign.
	want := map[string]string{"target": string(t.Kind)}
	own := map[string]bool{"password": true}
	if s := specOf(t.Kind); s != nil {
		for _, f := range s.ids {
			want[f.json] = *f.get(&t)
		}
		for _, f := range s.params {
			own[f.json] = true
		}
	}
	for name := range v {
		if _, ok := want[name]; !ok && !own[name] && str(name) != "" {
			return "", Errorf(EInternal, "secret version data belongs to another target than %s", t.Key())
		}
	}
	for name, w := range want {
		if str(name) != w {
			return "", Errorf(EInternal, "secret version data belongs to another target than %s", t.Key())
		}
	}
	password := str("password")
	if password == "" {
		return "", Errorf(EInternal, "secret version data of %s holds no password", t.Key())
	}
	return password, nil
}

// errNotOwn marks a secret value of another target.
var errNotOwn = errors.New("the secret value belongs to another target")

// withSecretParams returns t with each parameter of its kind that t lacks
// (a Fabric location: a secret's name holds none) taken from data, a
// secret value of t, when data holds a valid one. It returns the JSON
// names of the parameters still missing: t cannot be reset while any is.
// data that is not t's value fills nothing.
func withSecretParams(t Target, data []byte) (Target, []string) {
	s := specOf(t.Kind)
	if s == nil {
		return t, nil
	}
	v, err := decodeSecretValue(data, t)
	if err == nil && (v["target"] == nil || *v["target"] != string(t.Kind)) {
		err = errNotOwn
	}
	for _, f := range s.ids {
		if err == nil && (v[f.json] == nil || *v[f.json] != *f.get(&t)) {
			err = errNotOwn
		}
	}
	var missing []string
	for _, f := range s.params {
		p := f.get(&t)
		if *p != "" {
			continue
		}
		if err == nil && v[f.json] != nil && f.pattern().MatchString(*v[f.json]) {
			*p = *v[f.json]
			continue
		}
		missing = append(missing, f.json)
	}
	return t, missing
}
