package reset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// Passwords the directory accepts (DESIGN.md). A CloudSSO directory's
// password policy can ask for more than Config.Password gives: a longer
// minimum, more different characters, no user name inside. Before any
// change to a target whose kind has a PolicyReader (Deps.Policies), the
// rotator reads its directory's rules (cached per Rotator for PolicyTTL)
// and generates to them; rules it cannot read fail the target before any
// change (retryable when throttled or unavailable), rules no password of
// MinPasswordEntropyBits can meet fail it with EConflict naming the rule.
// A password the directory would refuse is never staged, so it can never
// block the account at the next rotation (a refused roll-forward).

// PolicyTTL is how long a directory's rules are reused before they are
// read again: a policy changed meanwhile costs at most one refused reset
// per target in that time, and a batch of one directory costs one read.
const PolicyTTL = 5 * time.Minute

// DirectoryRules are the password rules a target's directory adds to
// Config.Password, in the words of CloudSSO's GetPasswordPolicy. Zero
// values set no rule.
type DirectoryRules struct {
	MinPasswordLength          int
	MaxPasswordLength          int
	MinPasswordDifferentChars  int
	PasswordNotContainUsername bool
}

// PolicyReader reads the password rules of a target's directory. Its
// errors are *Error values: ENotFound when the directory or user does not
// exist, EForbidden when the role may not read them, EThrottled,
// EUnavailable or EUpstream otherwise.
type PolicyReader interface {
	// DirectoryRules returns the rules of t's directory (ids[0] of the
	// kind: a CloudSSO directory).
	DirectoryRules(ctx context.Context, t Target) (DirectoryRules, error)
	// UserName returns the name of t's user, for
	// PasswordNotContainUsername.
	UserName(ctx context.Context, t Target) (string, error)
}

// maxUserNameTries bounds the draws of a password that must not contain
// the user name: a name of one character is absent from a 24-character
// password about 7 times in 10, so 64 draws fail only when no password can
// avoid it.
const maxUserNameTries = 64

// Meet returns the policy of passwords that meet both p and rules:
//
//   - the length is p's, raised to MinPasswordLength, lowered to
//     MaxPasswordLength (and never above reset's MaxPasswordLength), and
//     raised again, within those bounds, until the passwords have
//     MinPasswordEntropyBits;
//   - with MinPasswordDifferentChars set, every character differs (Distinct),
//     which meets any minimum up to the length.
//
// Rules no such policy meets are an EConflict *Error whose message names
// the rule (GetPasswordPolicy's name, in parentheses) and says why.
func (p PasswordPolicy) Meet(rules DirectoryRules) (PasswordPolicy, error) {
	ceil, ceilName := MaxPasswordLength, fmt.Sprintf("pwreset's limit of %d characters", MaxPasswordLength)
	if rules.MaxPasswordLength > 0 && rules.MaxPasswordLength < ceil {
		ceil, ceilName = rules.MaxPasswordLength, fmt.Sprintf("the directory's MaxPasswordLength %d", rules.MaxPasswordLength)
	}
	conflict := func(field, format string, args ...any) (PasswordPolicy, error) {
		return PasswordPolicy{}, &Error{Code: EConflict,
			Message: "the directory's password policy cannot be met (" + field + "): " + fmt.Sprintf(format, args...) + "; nothing was changed"}
	}
	if rules.MinPasswordLength > ceil {
		return conflict("MinPasswordLength", "its minimum length %d is more than %s", rules.MinPasswordLength, ceilName)
	}
	q := PasswordPolicy{Length: min(max(p.length(), rules.MinPasswordLength), ceil), Exclude: p.Exclude}
	if d := rules.MinPasswordDifferentChars; d > 0 {
		q.Distinct = true
		if d > ceil {
			return conflict("MinPasswordDifferentChars", "it asks for %d different characters, more than %s", d, ceilName)
		}
		q.Length = max(q.Length, d)
		if n := q.AlphabetSize(); q.Length > n {
			return conflict("MinPasswordDifferentChars", "a password of %d different characters needs %d characters to draw from, and the excluded characters leave %d",
				q.Length, q.Length, n)
		}
	}
	if q.EntropyBits() < MinPasswordEntropyBits {
		n := q.LengthFor(MinPasswordEntropyBits)
		if n > ceil || (q.Distinct && n > q.AlphabetSize()) {
			field := "MaxPasswordLength"
			if q.Distinct {
				field = "MinPasswordDifferentChars"
			}
			return conflict(field, "within %s and with %d characters to draw from, no password reaches the %d bits of entropy pwreset requires (%.1f at most)",
				ceilName, q.AlphabetSize(), MinPasswordEntropyBits, math.Floor(PasswordPolicy{Length: ceil, Exclude: q.Exclude, Distinct: q.Distinct}.EntropyBits()*10)/10)
		}
		q.Length = n
	}
	return q, nil
}

// policyCache keeps each directory's rules for PolicyTTL, and lets one
// rotation at a time read a directory's rules: the others of a batch wait
// for its answer instead of sending the same read (a batch of one
// directory costs one GetPasswordPolicy, not one per target in flight).
type policyCache struct {
	mu      sync.Mutex
	m       map[string]cachedRules
	reading map[string]chan struct{} // closed when the read of a key ends
}

// claim returns nil when the caller is to read key's rules (it then calls
// done), or the channel that closes when another caller's read ends.
func (c *policyCache) claim(key string) (wait <-chan struct{}, done func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.reading[key]; ok {
		return ch, nil
	}
	if c.reading == nil {
		c.reading = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	c.reading[key] = ch
	return nil, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.reading, key)
		close(ch)
	}
}

type cachedRules struct {
	rules DirectoryRules
	at    time.Time
}

func (c *policyCache) get(key string, now time.Time) (DirectoryRules, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.Sub(e.at) >= PolicyTTL || now.Before(e.at) {
		return DirectoryRules{}, false
	}
	return e.rules, true
}

func (c *policyCache) put(key string, rules DirectoryRules, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedRules{}
	}
	c.m[key] = cachedRules{rules: rules, at: now}
}

// passwordSource makes the passwords of one rotation.
type passwordSource interface {
	Generate() (string, error)
}

// passwordsFor returns the source of in's new password: the rotator's own
// generator for a kind without a PolicyReader, else one that meets the
// rules of the target's directory (read, or taken from the cache), and,
// when they ask, avoids the user's name (read once, here). It runs before
// any change to the target: its error fails the target with nothing done.
func (r *Rotator) passwordsFor(ctx context.Context, in rotation) (passwordSource, *Error) {
	reader, ok := r.policies[in.target.Kind]
	if !ok {
		return r.passwords, nil
	}
	s := specOf(in.target.Kind)
	key := string(in.target.Kind) + "/" + *s.ids[0].get(&in.target)
	end, bounded := r.stepEnd(ctx, 3)
	rules, err := r.directoryRules(ctx, reader, in, key, end, bounded)
	if err != nil {
		return nil, &Error{Code: codeOf(err), Err: err,
			Message: fmt.Sprintf("reading the directory's password policy failed (%s); nothing was changed", causeMessage(err))}
	}
	policy, err := r.cfg.Password.Meet(rules)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, &Error{Code: EInternal, Message: "the directory's password rules could not be applied", Err: err}
	}
	g, err := newPasswordGenerator(policy, r.rand)
	if err != nil {
		return nil, &Error{Code: EInternal, Message: "the password policy for this directory is inconsistent", Err: err}
	}
	if !rules.PasswordNotContainUsername {
		return g, nil
	}
	var name string
	err = r.retry(ctx, end, bounded, func(ctx context.Context) error {
		var err error
		name, err = reader.UserName(ctx, in.target)
		return err
	})
	if err != nil {
		return nil, &Error{Code: codeOf(err), Err: err,
			Message: fmt.Sprintf("reading the user name, which the directory's password policy forbids in passwords, failed (%s); nothing was changed", causeMessage(err))}
	}
	return withoutName{g: g, name: strings.ToLower(name)}, nil
}

// directoryRules returns key's rules from the cache, or reads them, one
// reader at a time per key: a caller that finds a read under way waits for
// it (or for ctx) and looks again; if that read failed, it reads itself.
func (r *Rotator) directoryRules(ctx context.Context, reader PolicyReader, in rotation, key string, end time.Time, bounded bool) (DirectoryRules, error) {
	for {
		if rules, ok := r.rules.get(key, r.clock.Now()); ok {
			return rules, nil
		}
		wait, done := r.rules.claim(key)
		if done == nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return DirectoryRules{}, &Error{Code: EUnavailable, Message: "the invocation ended while the directory's password policy was being read", Err: ctx.Err()}
			}
		}
		return r.readRules(ctx, reader, in, key, end, bounded, done)
	}
}

// readRules reads key's rules and caches them; done ends the claim, even
// if the reader panics (runOne recovers it).
func (r *Rotator) readRules(ctx context.Context, reader PolicyReader, in rotation, key string, end time.Time, bounded bool, done func()) (DirectoryRules, error) {
	defer done()
	var rules DirectoryRules
	err := r.retry(ctx, end, bounded, func(ctx context.Context) error {
		var err error
		rules, err = reader.DirectoryRules(ctx, in.target)
		return err
	})
	if err == nil {
		r.rules.put(key, rules, r.clock.Now())
	}
	return rules, err
}

// withoutName draws passwords until one does not contain name (compared
// case-insensitively, as the local cloud does: assumed, the policy says
// only "cannot contain the username").
type withoutName struct {
	g    *passwordGenerator
	name string
}

func (w withoutName) Generate() (string, error) {
	for range maxUserNameTries {
		pw, err := w.g.Generate()
		if err != nil || w.name == "" || !strings.Contains(strings.ToLower(pw), w.name) {
			return pw, err
		}
	}
	return "", &Error{Code: EConflict,
		Message: fmt.Sprintf("the directory's password policy cannot be met (PasswordNotContainUsername): no password drawn in %d tries avoided the user name; nothing was changed", maxUserNameTries)}
}
