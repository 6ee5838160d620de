package reset

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Rotator rotates the passwords of targets by the protocol of DESIGN.md: the
// new password is stored as a pending secret version before the target is
// changed, and promoted to current after. It is safe for concurrent use:
// rotations of the same target (whatever their keys) wait for each other
// within a Rotator; across instances the deployment runs one at a time.
type Rotator struct {
	cfg       Config
	resetters map[Kind]Resetter
	checkers  map[Kind]AccountChecker
	store     SecretStore
	clock     Clock
	rand      io.Reader
	log       *slog.Logger
	passwords *passwordGenerator
	allowed   map[Kind]map[string]bool
	locks     targetLocks
	publisher Publisher
	policies  map[Kind]PolicyReader
	rules     policyCache
	listers   map[Kind]Lister
	secrets   SecretLister
	completed RunCompleted
	continuer Continuer
	keys      signingKeys
}

// Deps are a Rotator's sources of time, randomness and logs. A zero field
// takes the production default: SystemClock, crypto/rand.Reader, a logger
// that discards.
type Deps struct {
	// Clock is the source of time and of the sleeps between retries.
	Clock Clock
	// Rand is the random source of passwords and backoff jitter. It need
	// not be safe for concurrent use: the rotator serializes its reads.
	Rand io.Reader
	// Logger receives the per-target outcome lines.
	Logger *slog.Logger
	// Publisher, when set, receives the outcome events of every request
	// that is not a dry run (events.go); nil publishes nothing.
	Publisher Publisher
	// Policies holds, per kind, the reader of its directories' password
	// rules (policy.go); a kind without one (Fabric: BaaS documents no
	// policy API) gets passwords of Config.Password alone.
	Policies map[Kind]PolicyReader
	// Listers list the accounts of a selector, per kind; a kind without
	// one refuses select.
	Listers map[Kind]Lister
	// Secrets lists the secrets under the prefix for the sweep; nil
	// refuses sweep.
	Secrets SecretLister
	// Completed is told when a selector run or a sweep ends (the
	// pwreset:Run:Completed hook); nil does nothing.
	Completed RunCompleted
	// Continuer, when set, continues a run longer than one chunk in
	// asynchronous invocations of the function itself (run.go); nil runs
	// every run in its invocation, chunk after chunk.
	Continuer Continuer
}

// NewRotator returns a Rotator that resets each kind of target with its
// Resetter in resetters and keeps passwords in store. A kind without a
// resetter is refused at ValidateRequest; a Resetter that is also an
// AccountChecker lets first rotations check the account exists. Calls go
// to resetters and store as given: pacing a throttling service is the
// caller's to wire (Pace; see budget.go).
//
// cfg takes its defaults here. Its values are expected checked already
// (internal/config checks the environment with ValidPrefix, the
// PasswordPolicy methods and the identifier predicates): a value that
// breaks a rule is a programmer's error, returned as a plain error.
func NewRotator(cfg Config, resetters map[Kind]Resetter, store SecretStore, deps Deps) (*Rotator, error) {
	if store == nil {
		return nil, errors.New("reset: a secret store is required")
	}
	if len(resetters) == 0 {
		return nil, errors.New("reset: at least one resetter is required")
	}
	r := &Rotator{
		resetters: make(map[Kind]Resetter, len(resetters)),
		checkers:  map[Kind]AccountChecker{},
		store:     store,
		clock:     deps.Clock,
		rand:      deps.Rand,
		log:       deps.Logger,
		allowed:   map[Kind]map[string]bool{},
		publisher: deps.Publisher,
		policies:  map[Kind]PolicyReader{},
		listers:   map[Kind]Lister{},
		secrets:   deps.Secrets,
		completed: deps.Completed,
		continuer: deps.Continuer,
	}
	if r.completed == nil {
		r.completed = noRunCompleted{}
	}
	for k, p := range deps.Policies {
		if specOf(k) == nil || p == nil {
			return nil, fmt.Errorf("reset: password policy reader for kind %q is unknown or nil", k)
		}
		r.policies[k] = p
	}
	for k, l := range deps.Listers {
		if specOf(k) == nil || l == nil {
			return nil, fmt.Errorf("reset: lister for %q is unknown or nil", k)
		}
		r.listers[k] = l
	}
	for k, v := range resetters {
		if specOf(k) == nil {
			return nil, fmt.Errorf("reset: resetter for unknown target kind %q", k)
		}
		if v == nil {
			return nil, fmt.Errorf("reset: resetter for %q is nil", k)
		}
		r.resetters[k] = v
		if c, ok := v.(AccountChecker); ok {
			r.checkers[k] = c
		}
	}
	var err error
	if r.cfg, err = cfg.withDefaults(); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	for k, ids := range r.cfg.Allowed {
		if len(ids) > 0 {
			r.allowed[k] = set(ids)
		}
	}
	if r.clock == nil {
		r.clock = SystemClock{}
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.rand = &lockedReader{r: r.rand}
	if r.passwords, err = newPasswordGenerator(r.cfg.Password, r.rand); err != nil {
		return nil, fmt.Errorf("reset: password policy: %w", err)
	}
	return r, nil
}

// withDefaults fills in c's zero values and refuses values no checked
// configuration holds.
func (c Config) withDefaults() (Config, error) {
	if c.SecretPrefix == "" {
		c.SecretPrefix = DefaultSecretPrefix
	}
	if !ValidPrefix(c.SecretPrefix) {
		return c, fmt.Errorf("secret prefix %q %s", c.SecretPrefix, PrefixRule)
	}
	for k, ids := range c.Allowed {
		s := specOf(k)
		if s == nil {
			return c, fmt.Errorf("allow-list of unknown target kind %q", k)
		}
		for _, id := range ids {
			if !s.ids[0].pattern().MatchString(id) {
				return c, fmt.Errorf("allow-list of %s holds an entry that %s", k, s.ids[0].rule)
			}
		}
	}
	if err := c.Password.Validate(); err != nil {
		return c, err
	}
	if c.Password.Length == 0 {
		c.Password.Length = DefaultPasswordLength
	}
	for _, d := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"BaseBackoff", &c.BaseBackoff, defaultBaseBackoff},
		{"MaxBackoff", &c.MaxBackoff, defaultMaxBackoff},
		{"StepReserve", &c.StepReserve, defaultStepReserve},
		{"MaxPasswordAge", &c.MaxPasswordAge, 0},
		{"ChunkTime", &c.ChunkTime, DefaultChunkTime},
	} {
		if *d.d < 0 {
			return c, fmt.Errorf("%s must not be negative", d.name)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if c.BaseBackoff > c.MaxBackoff {
		return c, errors.New("BaseBackoff must not exceed MaxBackoff")
	}
	if c.MaxInFlight < 0 || c.MaxAttempts < 0 {
		return c, errors.New("MaxInFlight and MaxAttempts must not be negative")
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.ChunkTargets < 0 || c.ChunkTargets > MaxTargets {
		return c, fmt.Errorf("ChunkTargets must be 0 to %d", MaxTargets)
	}
	if c.ChunkTargets == 0 {
		c.ChunkTargets = DefaultChunkTargets
	}
	return c, nil
}

func set(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
