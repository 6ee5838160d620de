package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
)

const statusUsage = "[--json] SECRET-NAME | TARGET-FLAGS\n\n" +
	"Lists each version's id, stages and creation time (KMS DescribeSecret and ListSecretVersionIds;\n" +
	"no secret value is read) and says whether a rotation is unfinished: a version staged ACSPending\n" +
	"and not ACSCurrent"

// Status is what status shows of a secret; never a secret value.
type Status struct {
	SecretName        string          `json:"secretName"`
	CreateTime        string          `json:"createTime,omitempty"`
	UpdateTime        string          `json:"updateTime,omitempty"`
	PlannedDeleteTime string          `json:"plannedDeleteTime,omitempty"`
	Versions          []StatusVersion `json:"versions"`
	// State is "finished" (ACSPending, if any, is on ACSCurrent's version),
	// "unfinished" (a version is ACSPending and not ACSCurrent, written
	// less than ConcurrentWindow ago: a rotation may be running) or "stale"
	// (unfinished for longer: the account is blocked, or no rotation ran
	// since; the next rotation finishes it or answers Conflict naming it).
	State string `json:"state"`
	// PendingVersionID is the unfinished rotation's version, when State is
	// not "finished".
	PendingVersionID string `json:"pendingVersionId,omitempty"`
	// NeverRotated is set while ACSCurrent is the placeholder of the first
	// rotation: no password of the account is stored yet.
	NeverRotated bool `json:"neverRotated,omitempty"`
}

// StatusVersion is one version of a secret.
type StatusVersion struct {
	VersionID  string   `json:"versionId"`
	Stages     []string `json:"stages"`
	CreateTime string   `json:"createTime"`
}

// Status states.
const (
	StateFinished   = "finished"
	StateUnfinished = "unfinished"
	StateStale      = "stale"
)

// statusReader is what status reads: aliyun.SecretLister.
type statusReader interface {
	versionLister
	DescribeSecret(ctx context.Context, name string) (aliyun.SecretMetadata, error)
}

// ReadStatus reads secret name's status at now: its metadata and every
// version, deprecated ones too. A missing secret wraps
// reset.ErrSecretNotFound.
func ReadStatus(ctx context.Context, l statusReader, name string, now time.Time) (Status, error) {
	meta, err := l.DescribeSecret(ctx, name)
	if err != nil {
		return Status{}, err
	}
	versions, err := l.ListVersions(ctx, name, true)
	if err != nil {
		return Status{}, err
	}
	st := Status{SecretName: name, CreateTime: meta.CreateTime, UpdateTime: meta.UpdateTime,
		PlannedDeleteTime: meta.PlannedDeleteTime, Versions: []StatusVersion{}, State: StateFinished}
	for _, v := range versions {
		stages := v.Stages
		if stages == nil {
			stages = []string{}
		}
		st.Versions = append(st.Versions, StatusVersion{VersionID: v.VersionID, Stages: stages, CreateTime: v.CreateTime})
		if slices.Contains(v.Stages, reset.StageCurrent) && !reset.ValidVersionID(v.VersionID) {
			st.NeverRotated = true
		}
		if pending, recent, _ := unfinished(v, now); pending {
			st.PendingVersionID = v.VersionID
			st.State = StateStale
			if recent {
				st.State = StateUnfinished
			}
		}
	}
	return st, nil
}

func runStatus(ctx context.Context, e Env, args []string) int {
	fs := newFlags("status")
	var tf targetFlags
	tf.register(fs, false)
	asJSON := fs.Bool("json", false, "print the status as JSON, for scripts")
	var pos []string
	if code, done := parse(fs, e, args, &pos); done {
		return code
	}
	op, code := build(e, "status", nil, nil)
	if op == nil {
		return code
	}
	t, err := accountOf(op.Prefix, pos, tf)
	if err != nil {
		return usageError(e, "status", "%s", err)
	}
	name := t.SecretName(op.Prefix)
	st, err := ReadStatus(ctx, op.Secrets, name, e.now())
	switch {
	case errors.Is(err, reset.ErrSecretNotFound):
		fmt.Fprintf(e.Stderr, "pwreset status: no such secret %s (the account was never rotated under this prefix)\n", name)
		return ExitFailed
	case err != nil:
		fmt.Fprintf(e.Stderr, "pwreset status: %s: %s\n", name, reset.ErrorMessageOf(err))
		return ExitFailed
	}
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return ExitOK
	}
	printStatus(e.Stdout, st)
	return ExitOK
}

func printStatus(w io.Writer, st Status) {
	fmt.Fprintf(w, "secret   %s\ncreated  %s\nupdated  %s\n", st.SecretName, st.CreateTime, st.UpdateTime)
	if st.PlannedDeleteTime != "" {
		fmt.Fprintf(w, "DELETION scheduled for %s\n", st.PlannedDeleteTime)
	}
	fmt.Fprintln(w, "versions:")
	for _, v := range st.Versions {
		stages := strings.Join(v.Stages, ",")
		if stages == "" {
			stages = "-"
		}
		fmt.Fprintf(w, "  %-40s %-24s %s\n", v.VersionID, stages, v.CreateTime)
	}
	switch st.State {
	case StateFinished:
		fmt.Fprintln(w, "state    finished: no rotation is unfinished")
	case StateUnfinished:
		fmt.Fprintf(w, "state    unfinished: version %s is ACSPending, not ACSCurrent, and recent: a rotation may be running now\n", st.PendingVersionID)
	case StateStale:
		fmt.Fprintf(w, "state    stale: version %s is ACSPending, not ACSCurrent. The next rotation finishes it, or answers\n"+
			"         Conflict (blocked) naming it; then: pwreset resolve %s --apply %s | --discard %s --confirm\n",
			st.PendingVersionID, st.SecretName, st.PendingVersionID, st.PendingVersionID)
	}
	if st.NeverRotated {
		fmt.Fprintln(w, "note     ACSCurrent is the first rotation's placeholder: no password of this account is stored")
	}
}
