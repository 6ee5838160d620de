package emulator

import (
	"crypto/rand"
	"math/big"
	"net/http"
	"unicode"
)

// CloudSSO's password rules: the minimum is GetPasswordPolicy's
// MinPasswordLength floor (8 to 32, docs/wire-facts.md); a fixed maximum of
// 32 is assumed (the policy's MaxPasswordLength is read, not documented as a
// range).
const (
	SSOMinPasswordLength = 8
	SSOMaxPasswordLength = 32
)

// ssoPasswordOK applies CloudSSO's rules: 8 to 32 characters (or the
// directory's longer minimum), with upper- and lower-case letters, digits
// and special characters.
func ssoPasswordOK(pw string, minLen int) bool {
	if minLen < SSOMinPasswordLength {
		minLen = SSOMinPasswordLength
	}
	n := len([]rune(pw))
	if n < minLen || n > SSOMaxPasswordLength {
		return false
	}
	var upper, lower, digit, special bool
	for _, r := range pw {
		switch {
		case r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r):
			return false
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
	}
	return upper && lower && digit && special
}

func (c *Cloud) resetUserPassword(p map[string]string) (map[string]any, *apiError) {
	dirID, userID := p["DirectoryId"], p["UserId"]
	switch {
	case dirID == "":
		return nil, errMissing("DirectoryId")
	case userID == "":
		return nil, errMissing("UserId")
	}
	d, ok := c.dirs[dirID]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.Directory", "The specified directory does not exist.")
	}
	u, ok := d.users[userID]
	if !ok {
		return nil, errorf(http.StatusNotFound, "EntityNotExists.User", "The specified user does not exist.")
	}
	if d.SSOLogonEnabled {
		return nil, errorf(http.StatusConflict, "OperationDenied.SSOLogonEnabled", "The password cannot be reset because SSO logon is enabled for the directory.")
	}
	generate := p["GenerateRandomPassword"] == "true"
	pw := p["Password"]
	switch {
	case generate && pw != "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameter.Password", "Password must not be specified when GenerateRandomPassword is true.")
	case !generate && pw == "":
		return nil, errMissing("Password")
	case !generate && !ssoPasswordOK(pw, d.MinPasswordLength):
		return nil, errorf(http.StatusBadRequest, "InvalidParameter.Password", "The password does not meet the password policy of the directory.")
	}
	if aerr := c.checkSSOPolicy(d, u, pw, generate); aerr != nil {
		return nil, aerr
	}
	out := map[string]any{}
	if generate {
		pw = randomSSOPassword(max(d.MinPasswordLength, 16))
		out["NewPassword"] = pw
	}
	c.rememberSSOPassword(d, u)
	u.Password = pw
	u.requireReset = p["RequirePasswordResetForNextLogin"] == "true"
	c.accept(pw)
	return out, nil
}

// randomSSOPassword makes a password that meets the CloudSSO rules, as the
// service does for GenerateRandomPassword.
func randomSSOPassword(n int) string {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*-_=+"}
	all := classes[0] + classes[1] + classes[2] + classes[3]
	for {
		b := make([]byte, n)
		for i := range b {
			set := all
			if i < len(classes) {
				set = classes[i]
			}
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
			if err != nil {
				panic(err) // crypto/rand does not fail on supported platforms
			}
			b[i] = set[k.Int64()]
		}
		// Shuffle so the class order is not fixed.
		for i := len(b) - 1; i > 0; i-- {
			k, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
			j := int(k.Int64())
			b[i], b[j] = b[j], b[i]
		}
		if pw := string(b); ssoPasswordOK(pw, n) {
			return pw
		}
	}
}

// Fabric's password rule as the BaaS console states it: 6 to 32 printable
// ASCII characters.
const (
	FabricMinPasswordLength = 6
	FabricMaxPasswordLength = 32
)

func fabricPasswordOK(pw string) bool {
	if len(pw) < FabricMinPasswordLength || len(pw) > FabricMaxPasswordLength {
		return false
	}
	for _, r := range pw {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

func (c *Cloud) resetFabricPassword(p map[string]string) (map[string]any, *apiError) {
	orgID, user, pw, loc := p["OrganizationId"], p["Username"], p["Password"], p["Location"]
	switch {
	case orgID == "":
		return nil, errMissing("OrganizationId")
	case user == "":
		return nil, errMissing("Username")
	case loc == "":
		return nil, errMissing("Location")
	case pw == "":
		return nil, errMissing("Password")
	}
	o, ok := c.orgs[orgID]
	// An organization lives in one region; asked elsewhere, it does not exist.
	if !ok || o.Location != loc {
		return nil, errorf(http.StatusNotFound, "OrganizationNotFound", "The specified organization does not exist.")
	}
	u, ok := o.users[user]
	if !ok {
		return nil, errorf(http.StatusNotFound, "UserNotFound", "The specified user does not exist in the organization.")
	}
	if !fabricPasswordOK(pw) {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter.Password", "The password must be %d to %d printable characters.", FabricMinPasswordLength, FabricMaxPasswordLength)
	}
	u.Password = pw
	c.accept(pw)
	// The real service echoes the new password in its answer; the adapters
	// must not pass it on, and the emulator keeps the echo so tests prove it.
	return map[string]any{
		"Success":   true,
		"ErrorCode": 200,
		"Result": map[string]any{
			"OrganizationId": orgID,
			"Username":       user,
			"Password":       pw,
			"Location":       loc,
		},
	}, nil
}
