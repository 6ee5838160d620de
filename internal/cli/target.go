package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
)

// targetFlags name one account on the command line, as a request's fields
// do (the JSON form is the contract; these are a convenience).
type targetFlags struct {
	directoryID, userID                string
	requireReset                       bool
	organizationID, username, location string
}

func (f *targetFlags) register(fs *flag.FlagSet, options bool) {
	fs.StringVar(&f.directoryID, "directory-id", "", "cloudsso: the directory (directoryId)")
	fs.StringVar(&f.userID, "user-id", "", "cloudsso: the user (userId)")
	if options {
		fs.BoolVar(&f.requireReset, "require-reset", false, "cloudsso: the user must change the password at next logon (requirePasswordResetForNextLogin)")
	}
	fs.StringVar(&f.organizationID, "organization-id", "", "fabric: the organization (organizationId)")
	fs.StringVar(&f.username, "username", "", "fabric: the user (username)")
	fs.StringVar(&f.location, "location", "", "fabric: the organization's region (location)")
}

func (f targetFlags) given() bool { return f != targetFlags{} }

// spec is the account the flags name. A mix of both kinds' flags is bad
// input; a missing identifier is left for the request's own validation,
// which names the field.
func (f targetFlags) spec() (handler.TargetSpec, error) {
	sso := f.directoryID != "" || f.userID != "" || f.requireReset
	fabric := f.organizationID != "" || f.username != "" || f.location != ""
	switch {
	case sso && fabric:
		return handler.TargetSpec{}, errors.New("name a cloudsso account (--directory-id, --user-id) or a fabric one (--organization-id, --username, --location), not both")
	case sso:
		return handler.TargetSpec{Target: reset.KindCloudSSO, DirectoryID: f.directoryID, UserID: f.userID,
			RequirePasswordResetForNextLogin: f.requireReset}, nil
	}
	return handler.TargetSpec{Target: reset.KindFabric, OrganizationID: f.organizationID, Username: f.username, Location: f.location}, nil
}

// target is the domain target the flags name, validated (each field's rule).
func (f targetFlags) target() (reset.Target, error) {
	spec, err := f.spec()
	if err != nil {
		return reset.Target{}, err
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return reset.Target{}, err
	}
	req, err := handler.ParseRequest(body, "")
	if err != nil {
		return reset.Target{}, errors.New(reset.ErrorMessageOf(err))
	}
	t := req.Targets[0]
	if err := t.Validate(); err != nil {
		return reset.Target{}, errors.New(reset.ErrorMessageOf(err))
	}
	return t, nil
}

// accountOf returns the target a SECRET-NAME argument or the target flags
// name (exactly one of them), checked, calling nothing. A fabric secret's
// name lacks the location: --location gives it.
func accountOf(prefix string, pos []string, f targetFlags) (reset.Target, error) {
	switch {
	case len(pos) > 1:
		return reset.Target{}, fmt.Errorf("takes one SECRET-NAME (got %d arguments)", len(pos))
	case len(pos) == 1 && f.given() && (f.directoryID != "" || f.userID != "" || f.organizationID != "" || f.username != ""):
		return reset.Target{}, errors.New("name the account by SECRET-NAME or by target flags, not both")
	case len(pos) == 1:
		t, err := reset.ParseSecretName(prefix, pos[0])
		if err != nil {
			return reset.Target{}, errors.New(reset.ErrorMessageOf(err))
		}
		if t.Kind == reset.KindFabric {
			t.Location = f.location
		}
		return t, nil
	case !f.given():
		return reset.Target{}, errors.New("name the account: SECRET-NAME, or --directory-id and --user-id, or --organization-id, --username and --location")
	}
	return f.target()
}

// versionLister is what the status view and the concurrency warning read:
// aliyun.SecretLister.
type versionLister interface {
	ListVersions(ctx context.Context, name string, includeDeprecated bool) ([]aliyun.VersionInfo, error)
}

// recentPending returns the secret's version staged ACSPending and not
// ACSCurrent, if it was written less than ConcurrentWindow before now.
func recentPending(ctx context.Context, l versionLister, name string, now time.Time) (aliyun.VersionInfo, time.Duration, bool) {
	versions, err := l.ListVersions(ctx, name, false)
	if err != nil {
		return aliyun.VersionInfo{}, 0, false
	}
	for _, v := range versions {
		if pending, recent, age := unfinished(v, now); pending && recent {
			return v, age, true
		}
	}
	return aliyun.VersionInfo{}, 0, false
}

// unfinished says whether v is an unfinished rotation's version (staged
// ACSPending and not ACSCurrent) and, if so, whether it was written less
// than ConcurrentWindow before now, and how long ago. A time KMS writes in
// another layout counts as recent: safer.
func unfinished(v aliyun.VersionInfo, now time.Time) (pending, recent bool, age time.Duration) {
	if !slices.Contains(v.Stages, reset.StagePending) || slices.Contains(v.Stages, reset.StageCurrent) {
		return false, false, 0
	}
	created, err := time.Parse(time.RFC3339, v.CreateTime)
	age = now.Sub(created)
	return true, err != nil || age < ConcurrentWindow, age
}

// warnConcurrent warns on w, for each account of targets (at most
// maxWarnChecks are read), when its unfinished rotation is recent: the
// function, or another operator, may be rotating it at this moment, and
// reservedConcurrency 1 does not cover a second process. It only warns:
// the rotation that follows finishes the unfinished one first.
func warnConcurrent(ctx context.Context, w io.Writer, l versionLister, prefix string, targets []reset.Target, now time.Time) {
	seen := map[string]bool{}
	for i, t := range targets {
		if i == maxWarnChecks {
			fmt.Fprintf(w, "pwreset: note: checked only the first %d accounts for a rotation in progress\n", maxWarnChecks)
			return
		}
		name := t.SecretName(prefix)
		if seen[name] {
			continue
		}
		seen[name] = true
		if v, age, ok := recentPending(ctx, l, name, now); ok {
			fmt.Fprintf(w, "pwreset: warning: %s: version %s is staged ACSPending, not ACSCurrent, and was written %s ago: "+
				"the function or another operator may be rotating this account now; this run finishes that rotation first\n",
				name, v.VersionID, age.Round(time.Second))
		}
	}
}

// maxWarnChecks bounds the reads warnConcurrent makes before a batch.
const maxWarnChecks = 50
