package reset_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/require"
)

// Operation names the fakes record.
const (
	opCreate   = "CreateSecret"
	opPut      = "PutVersion"
	opGet      = "GetVersion"
	opStaged   = "GetStaged"
	opCheck    = "CheckAccount"
	opPromote  = "Promote"
	opDescribe = "Describe"
	opReset    = "ResetPassword"
)

// call is one recorded call to a fake.
type call struct {
	Op       string
	Name     string // secret name, or the target's key for a reset
	Version  string
	At       time.Time // on the fake clock
	Deadline time.Time // of the call's context; zero if none
}

// recorder is the call log the fake store and resetters share, so a test
// sees the order of store and target calls.
type recorder struct {
	mu    sync.Mutex
	clock *FakeClock
	calls []call
}

func (r *recorder) add(ctx context.Context, c call) {
	c.At = r.clock.Now()
	c.Deadline, _ = ctx.Deadline()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

// Calls returns the recorded calls.
func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Ops returns the names of the recorded calls, in order.
func (r *recorder) Ops() []string {
	var ops []string
	for _, c := range r.Calls() {
		ops = append(ops, c.Op)
	}
	return ops
}

// Count returns how many calls of op were made.
func (r *recorder) Count(op string) int {
	n := 0
	for _, c := range r.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

// fakeVersion is a stored version.
type fakeVersion struct {
	id     string
	data   []byte
	stages []string
}

// FakeStore is a SecretStore with KMS Secrets Manager's semantics: a stage
// label is on at most one version, CreateSecret stages its version
// ACSCurrent, Promote makes the old current ACSPrevious, PutVersion is
// idempotent for the same data. Before and After, when set, run before and
// after an operation takes effect; an error from After is returned although
// the operation took effect (a lost response).
type FakeStore struct {
	rec *recorder

	Before func(ctx context.Context, op, name, version string) error
	After  func(ctx context.Context, op, name, version string) error

	mu      sync.Mutex
	secrets map[string][]*fakeVersion
}

var _ reset.SecretStore = (*FakeStore)(nil)

func (s *FakeStore) do(ctx context.Context, op, name, version string, apply func() error) error {
	s.rec.add(ctx, call{Op: op, Name: name, Version: version})
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.Before != nil {
		if err := s.Before(ctx, op, name, version); err != nil {
			return err
		}
	}
	s.mu.Lock()
	err := apply()
	s.mu.Unlock()
	if err == nil && s.After != nil {
		return s.After(ctx, op, name, version)
	}
	return err
}

// CreateSecret implements reset.SecretStore.
func (s *FakeStore) CreateSecret(ctx context.Context, name, versionID string, data []byte) error {
	return s.do(ctx, opCreate, name, versionID, func() error {
		if _, ok := s.secrets[name]; ok {
			return reset.ErrSecretExists
		}
		if s.secrets == nil {
			s.secrets = map[string][]*fakeVersion{}
		}
		s.secrets[name] = []*fakeVersion{{id: versionID, data: bytes.Clone(data), stages: []string{reset.StageCurrent}}}
		return nil
	})
}

// PutVersion implements reset.SecretStore.
func (s *FakeStore) PutVersion(ctx context.Context, name, versionID string, data []byte, stages []string) error {
	return s.do(ctx, opPut, name, versionID, func() error {
		versions, ok := s.secrets[name]
		if !ok {
			return reset.ErrSecretNotFound
		}
		for _, v := range versions {
			if v.id == versionID {
				if bytes.Equal(v.data, data) {
					return nil
				}
				return reset.ErrVersionExists
			}
		}
		for _, st := range stages {
			for _, v := range versions {
				v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == st })
			}
		}
		versions = append(versions, &fakeVersion{id: versionID, data: bytes.Clone(data), stages: slices.Clone(stages)})
		// "KMS deletes the earliest version" past ten, whatever its stages.
		for len(versions) > 10 {
			versions = versions[1:]
		}
		s.secrets[name] = versions
		return nil
	})
}

// GetVersion implements reset.SecretStore.
func (s *FakeStore) GetVersion(ctx context.Context, name, versionID string) (reset.SecretVersion, error) {
	var out reset.SecretVersion
	err := s.do(ctx, opGet, name, versionID, func() error {
		v := s.find(name, versionID)
		if v == nil {
			return reset.ErrSecretNotFound
		}
		out = reset.SecretVersion{VersionID: v.id, Stages: slices.Clone(v.stages), Data: bytes.Clone(v.data)}
		return nil
	})
	return out, err
}

// GetStaged implements reset.SecretStore: ErrSecretNotFound for a missing
// secret and for a stage no version carries, as KMS answers both.
func (s *FakeStore) GetStaged(ctx context.Context, name, stage string) (reset.SecretVersion, error) {
	var out reset.SecretVersion
	err := s.do(ctx, opStaged, name, stage, func() error {
		for _, v := range s.secrets[name] {
			if v.has(stage) {
				out = reset.SecretVersion{VersionID: v.id, Stages: slices.Clone(v.stages), Data: bytes.Clone(v.data)}
				return nil
			}
		}
		return reset.ErrSecretNotFound
	})
	return out, err
}

// Promote implements reset.SecretStore.
func (s *FakeStore) Promote(ctx context.Context, name, versionID string) error {
	return s.do(ctx, opPromote, name, versionID, func() error {
		target := s.find(name, versionID)
		if target == nil {
			return reset.ErrSecretNotFound
		}
		if target.has(reset.StageCurrent) {
			return nil
		}
		for _, v := range s.secrets[name] {
			v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == reset.StagePrevious })
		}
		for _, v := range s.secrets[name] {
			if v.has(reset.StageCurrent) {
				v.stages = slices.DeleteFunc(v.stages, func(s string) bool { return s == reset.StageCurrent })
				v.stages = append(v.stages, reset.StagePrevious)
			}
		}
		target.stages = append(target.stages, reset.StageCurrent)
		return nil
	})
}

// Describe implements reset.SecretStore.
func (s *FakeStore) Describe(ctx context.Context, name string) error {
	return s.do(ctx, opDescribe, name, "", func() error {
		if _, ok := s.secrets[name]; !ok {
			return reset.ErrSecretNotFound
		}
		return nil
	})
}

func (s *FakeStore) find(name, versionID string) *fakeVersion {
	for _, v := range s.secrets[name] {
		if v.id == versionID {
			return v
		}
	}
	return nil
}

func (v *fakeVersion) has(stage string) bool { return slices.Contains(v.stages, stage) }

// Staged returns the version of secret name that holds stage.
func (s *FakeStore) Staged(name, stage string) (reset.SecretVersion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.secrets[name] {
		if v.has(stage) {
			return reset.SecretVersion{VersionID: v.id, Stages: slices.Clone(v.stages), Data: bytes.Clone(v.data)}, true
		}
	}
	return reset.SecretVersion{}, false
}

// Version returns version id of secret name.
func (s *FakeStore) Version(name, id string) (reset.SecretVersion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.find(name, id)
	if v == nil {
		return reset.SecretVersion{}, false
	}
	return reset.SecretVersion{VersionID: v.id, Stages: slices.Clone(v.stages), Data: bytes.Clone(v.data)}, true
}

// AllData returns every stored value, for leak checks.
func (s *FakeStore) AllData() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, vs := range s.secrets {
		for _, v := range vs {
			out = append(out, bytes.Clone(v.data))
		}
	}
	return out
}

// FakeResetter is a Resetter and AccountChecker that remembers every
// password it applied per target. Before and After work as in FakeStore.
// Every account exists unless Remove took it away.
type FakeResetter struct {
	rec *recorder

	Before func(ctx context.Context, t reset.Target, password string) error
	After  func(ctx context.Context, t reset.Target, password string) error
	// BeforeCheck, when set, runs before CheckAccount looks.
	BeforeCheck func(ctx context.Context, t reset.Target) error

	mu      sync.Mutex
	applied map[string][]string // target key → passwords, oldest first
	gone    map[string]bool
}

var (
	_ reset.Resetter       = (*FakeResetter)(nil)
	_ reset.AccountChecker = (*FakeResetter)(nil)
)

// Remove deletes t's account: checks and resets answer ENotFound.
func (f *FakeResetter) Remove(t reset.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone == nil {
		f.gone = map[string]bool{}
	}
	f.gone[t.Key()] = true
}

func (f *FakeResetter) exists(t reset.Target) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.gone[t.Key()]
}

// CheckAccount implements reset.AccountChecker.
func (f *FakeResetter) CheckAccount(ctx context.Context, t reset.Target) error {
	f.rec.add(ctx, call{Op: opCheck, Name: t.Key()})
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.BeforeCheck != nil {
		if err := f.BeforeCheck(ctx, t); err != nil {
			return err
		}
	}
	if !f.exists(t) {
		return reset.Errorf(reset.ENotFound, "fake: no such user")
	}
	return nil
}

// ResetPassword implements reset.Resetter.
func (f *FakeResetter) ResetPassword(ctx context.Context, t reset.Target, password string) error {
	f.rec.add(ctx, call{Op: opReset, Name: t.Key()})
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.Before != nil {
		if err := f.Before(ctx, t, password); err != nil {
			return err
		}
	}
	if !f.exists(t) {
		return reset.Errorf(reset.ENotFound, "fake: no such user")
	}
	f.mu.Lock()
	if f.applied == nil {
		f.applied = map[string][]string{}
	}
	f.applied[t.Key()] = append(f.applied[t.Key()], password)
	f.mu.Unlock()
	if f.After != nil {
		return f.After(ctx, t, password)
	}
	return nil
}

// Current returns the password t has now, if one was ever set.
func (f *FakeResetter) Current(t reset.Target) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.applied[t.Key()]
	if len(ps) == 0 {
		return "", false
	}
	return ps[len(ps)-1], true
}

// Applied returns every password applied to t, oldest first.
func (f *FakeResetter) Applied(t reset.Target) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied[t.Key()])
}

// AllApplied returns every password applied to any target.
func (f *FakeResetter) AllApplied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, ps := range f.applied {
		out = append(out, ps...)
	}
	return out
}

// FakeClock is a Clock whose Sleep advances it at once.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

var _ reset.Clock = (*FakeClock)(nil)

// epoch is the fake clock's start. It lies in the future so that context
// deadlines derived from it never fire on the wall clock during a test.
var epoch = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)

// Now implements reset.Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep implements reset.Clock: it records d and advances the clock by it.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return nil
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleeps returns the recorded sleeps.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// env is a Rotator with its fakes.
type env struct {
	tb       testing.TB
	Rotator  *reset.Rotator
	Store    *FakeStore
	SSO      *FakeResetter
	Fabric   *FakeResetter
	Clock    *FakeClock
	Rec      *recorder
	Config   reset.Config
	LogLines *bytes.Buffer
}

// testConfig is the configuration of MustEnv unless a test changes it.
func testConfig() reset.Config {
	return reset.Config{
		MaxAttempts: 4,
		BaseBackoff: 100 * time.Millisecond,
		MaxBackoff:  400 * time.Millisecond,
		StepReserve: time.Second,
	}
}

// MustEnv builds a Rotator over fresh fakes; edit, when given, changes the
// configuration first.
func MustEnv(tb testing.TB, edit func(*reset.Config), withDeps ...func(*reset.Deps)) *env {
	tb.Helper()
	clock := &FakeClock{now: epoch}
	rec := &recorder{clock: clock}
	e := &env{
		tb:       tb,
		Store:    &FakeStore{rec: rec},
		SSO:      &FakeResetter{rec: rec},
		Fabric:   &FakeResetter{rec: rec},
		Clock:    clock,
		Rec:      rec,
		Config:   testConfig(),
		LogLines: &bytes.Buffer{},
	}
	if edit != nil {
		edit(&e.Config)
	}
	// The store lists its secrets too, for sweeps.
	deps := reset.Deps{Clock: clock, Rand: rand.NewChaCha8([32]byte{1, 2, 3}), Logger: newLogger(e.LogLines), Secrets: e.Store}
	for _, f := range withDeps {
		f(&deps)
	}
	r, err := newPacedRotator(e.Config,
		map[reset.Kind]reset.Resetter{reset.KindCloudSSO: e.SSO, reset.KindFabric: e.Fabric},
		e.Store, deps,
	)
	require.NoError(tb, err)
	e.Rotator = r
	return e
}

// newPacedRotator builds a Rotator as app.New does: the store and the
// resetters paced on the rotator's clock.
func newPacedRotator(cfg reset.Config, resetters map[reset.Kind]reset.Resetter, store reset.SecretStore, deps reset.Deps) (*reset.Rotator, error) {
	pacedStore, pacedResetters := reset.Pace(store, resetters, deps.Clock)
	return reset.NewRotator(cfg, pacedResetters, pacedStore, deps)
}

// Resetter returns the fake resetter of t's kind.
func (e *env) Resetter(t reset.Target) *FakeResetter {
	if t.Kind == reset.KindFabric {
		return e.Fabric
	}
	return e.SSO
}

// lockedBuffer lets concurrent log writes land in one buffer.
type lockedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func newLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(&lockedBuffer{buf: buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const (
	opListSecrets  = "ListSecrets"
	opListVersions = "ListVersions"
)

var _ reset.SecretLister = (*FakeStore)(nil)

// ListSecrets implements reset.SecretLister: the names under prefix, in
// order.
func (s *FakeStore) ListSecrets(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := s.do(ctx, opListSecrets, prefix, "", func() error {
		for name := range s.secrets {
			if strings.HasPrefix(name, prefix) {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return nil
	})
	return out, err
}

// ListVersions implements reset.SecretLister (no creation times).
func (s *FakeStore) ListVersions(ctx context.Context, name string) ([]reset.VersionInfo, error) {
	var out []reset.VersionInfo
	err := s.do(ctx, opListVersions, name, "", func() error {
		versions, ok := s.secrets[name]
		if !ok {
			return reset.ErrSecretNotFound
		}
		for _, v := range versions {
			out = append(out, reset.VersionInfo{VersionID: v.id, Stages: slices.Clone(v.stages)})
		}
		return nil
	})
	return out, err
}
