package reset

import (
	"context"
	"log/slog"
	"time"
)

// Resetter sets the password of one kind of target on its service. The
// rotator holds one per Kind.
//
// ResetPassword returns an *Error: ENotFound when the directory, user or
// organization does not exist, EInvalid when the service rejects the password
// or a parameter, EForbidden when the role may not act, EConflict when the
// target's state forbids a reset (SSO logon enabled), EThrottled,
// EUnavailable (timeout, connection lost) or EUpstream otherwise. Its text
// never holds the password.
type Resetter interface {
	ResetPassword(ctx context.Context, t Target, password string) error
}

// AccountChecker tells whether a target's account exists. A Resetter that
// also implements it lets the rotator refuse a first rotation of an account
// that does not exist before it creates anything (DESIGN.md, "The rotation
// protocol (v2)"); without one, a first rotation fails with EInternal and
// creates nothing.
//
// CheckAccount returns nil when the account exists, an *Error with ENotFound
// when the directory, user or organization does not, and otherwise the
// kinds ResetPassword returns.
type AccountChecker interface {
	CheckAccount(ctx context.Context, t Target) error
}

// Stage labels of KMS Secrets Manager.
const (
	StageCurrent  = "ACSCurrent"
	StagePrevious = "ACSPrevious"
	StagePending  = "ACSPending"
)

// SecretVersion is one version of a secret as the store holds it.
type SecretVersion struct {
	VersionID string
	Stages    []string
	Data      []byte // the secret value; holds a password: never log it
}

// HasStage reports whether v carries the stage label.
func (v SecretVersion) HasStage(stage string) bool {
	for _, s := range v.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// SecretStore is the part of KMS Secrets Manager the rotation needs. Errors
// are *Error values (EForbidden, EThrottled, EUnavailable, EUpstream) or wrap
// one of the sentinels below, matched with errors.Is.
type SecretStore interface {
	// CreateSecret creates secret name whose first version, versionID, holds
	// data and is staged ACSCurrent. ErrSecretExists if it already exists.
	CreateSecret(ctx context.Context, name, versionID string, data []byte) error
	// PutVersion adds version versionID holding data with the given stages.
	// Idempotent: the same id with the same data succeeds. ErrSecretNotFound
	// if the secret does not exist; ErrVersionExists if the id holds other data.
	PutVersion(ctx context.Context, name, versionID string, data []byte, stages []string) error
	// GetVersion reads one version. ErrSecretNotFound if the secret or the
	// version does not exist.
	GetVersion(ctx context.Context, name, versionID string) (SecretVersion, error)
	// GetStaged reads the version that carries stage, with its id and
	// stages. ErrSecretNotFound if the secret does not exist OR no version
	// carries the stage: KMS answers both with the same 404, so the caller
	// tells them apart with its next call.
	GetStaged(ctx context.Context, name, stage string) (SecretVersion, error)
	// Promote moves ACSCurrent to versionID; the version that held it becomes
	// ACSPrevious. ErrSecretNotFound if the secret or version does not exist.
	Promote(ctx context.Context, name, versionID string) error
	// Describe checks that the secret can be read, for dry runs. It returns
	// ErrSecretNotFound if it does not exist.
	Describe(ctx context.Context, name string) error
}

// Credentials are the temporary credentials of the function's role for one
// invocation. The zero value means "none given": adapters then use their
// default credential chain.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// String, GoString and LogValue keep the secret and the token out of any
// log line or formatted error a Credentials value might reach.
func (c Credentials) String() string       { return "credentials(" + c.AccessKeyID + ", redacted)" }
func (c Credentials) GoString() string     { return c.String() }
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

type credentialsKey struct{}

// WithCredentials returns a context carrying the invocation's credentials, for
// the adapters to sign every call of that invocation with.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFrom returns the credentials WithCredentials stored in ctx.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	c, ok := ctx.Value(credentialsKey{}).(Credentials)
	return c, ok && c.AccessKeyID != ""
}

// Clock is the rotator's source of time, so tests never sleep.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}
