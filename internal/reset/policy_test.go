package reset_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FakePolicies answers each directory's rules and user names, counting
// calls; Err, when set, fails DirectoryRules.
type FakePolicies struct {
	mu        sync.Mutex
	Rules     map[string]reset.DirectoryRules
	Names     map[string]string
	Err       error
	RuleCalls int
	NameCalls int
}

var _ reset.PolicyReader = (*FakePolicies)(nil)

func (f *FakePolicies) DirectoryRules(ctx context.Context, t reset.Target) (reset.DirectoryRules, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.RuleCalls++
	if f.Err != nil {
		return reset.DirectoryRules{}, f.Err
	}
	return f.Rules[t.DirectoryID], nil
}

func (f *FakePolicies) UserName(ctx context.Context, t reset.Target) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.NameCalls++
	return f.Names[t.UserID], nil
}

func (f *FakePolicies) set(dir string, r reset.DirectoryRules) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Rules == nil {
		f.Rules = map[string]reset.DirectoryRules{}
	}
	f.Rules[dir] = r
}

func withPolicies(p reset.PolicyReader) func(*reset.Deps) {
	return func(d *reset.Deps) { d.Policies = map[reset.Kind]reset.PolicyReader{reset.KindCloudSSO: p} }
}

// enforcing refuses, as the directory would, a password that breaks rules
// (length and different characters; the user name when name is set).
func enforcing(p *FakePolicies, name string) func(context.Context, reset.Target, string) error {
	return func(_ context.Context, t reset.Target, pw string) error {
		p.mu.Lock()
		r := p.Rules[t.DirectoryID]
		p.mu.Unlock()
		distinct := map[rune]bool{}
		for _, c := range pw {
			distinct[c] = true
		}
		switch {
		case len(pw) < r.MinPasswordLength, r.MaxPasswordLength > 0 && len(pw) > r.MaxPasswordLength:
			return reset.Errorf(reset.EInvalid, "fake: password length refused")
		case len(distinct) < r.MinPasswordDifferentChars:
			return reset.Errorf(reset.EInvalid, "fake: too few different characters")
		case r.PasswordNotContainUsername && name != "" && strings.Contains(strings.ToLower(pw), strings.ToLower(name)):
			return reset.Errorf(reset.EInvalid, "fake: contains the user name")
		}
		return nil
	}
}

func TestPasswordsMeetTheDirectory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   reset.PasswordPolicy
		rules reset.DirectoryRules
		user  string
		check func(t *testing.T, pw string)
	}{
		{"LongerMinimum", reset.PasswordPolicy{Length: 20}, reset.DirectoryRules{MinPasswordLength: 30},
			"", func(t *testing.T, pw string) { assert.Len(t, pw, 30) }},
		{"MaximumShortens", reset.PasswordPolicy{Length: 32}, reset.DirectoryRules{MaxPasswordLength: 26},
			"", func(t *testing.T, pw string) { assert.Len(t, pw, 26) }},
		{"DifferentChars", reset.PasswordPolicy{Length: 24}, reset.DirectoryRules{MinPasswordDifferentChars: 24},
			"", func(t *testing.T, pw string) {
				seen := map[rune]bool{}
				for _, c := range pw {
					seen[c] = true
				}
				assert.Len(t, seen, 24)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := &FakePolicies{Names: map[string]string{sso.UserID: tc.user}}
			pol.set(sso.DirectoryID, tc.rules)
			e := MustEnv(t, func(c *reset.Config) { c.Password = tc.cfg }, withPolicies(pol))
			e.SSO.Before = enforcing(pol, tc.user)
			for i, key := range []string{"k1", "k2", "k3"} {
				res := MustRotate(t, context.Background(), e, req(key, sso))
				requireRotated(t, e, sso, res[0])
				pw, _ := e.SSO.Current(sso)
				tc.check(t, pw)
				assert.Equal(t, 1, pol.RuleCalls, "rotation %d: the rules are cached", i+1)
			}
		})
	}
}

func TestPasswordsAvoidTheUserName(t *testing.T) {
	pol := &FakePolicies{Names: map[string]string{sso.UserID: "X"}}
	pol.set(sso.DirectoryID, reset.DirectoryRules{PasswordNotContainUsername: true})
	e := MustEnv(t, nil, withPolicies(pol))
	e.SSO.Before = enforcing(pol, "X")
	for _, key := range []string{"k1", "k2", "k3", "k4", "k5", "k6"} {
		res := MustRotate(t, context.Background(), e, req(key, sso))
		requireRotated(t, e, sso, res[0])
	}
	for _, pw := range e.SSO.Applied(sso) {
		assert.NotContains(t, strings.ToLower(pw), "x")
	}
	assert.Equal(t, 6, pol.NameCalls, "the user name is read once per rotation")
}

// TestPolicyReadOncePerBatch: the targets of a batch in flight together
// wait for one read of their directory's rules.
func TestPolicyReadOncePerBatch(t *testing.T) {
	pol := &FakePolicies{}
	pol.set(sso.DirectoryID, reset.DirectoryRules{MinPasswordLength: 26})
	e := MustEnv(t, nil, withPolicies(pol))
	var targets []reset.Target
	for i := range 30 {
		targets = append(targets, reset.Target{Kind: reset.KindCloudSSO, DirectoryID: sso.DirectoryID, UserID: fmt.Sprintf("u-batch%02d", i)})
	}
	res := MustRotate(t, context.Background(), e, req("k1", targets...))
	for i, r := range res {
		requireRotated(t, e, targets[i], r)
		pw, _ := e.SSO.Current(targets[i])
		assert.Len(t, pw, 26)
	}
	assert.Equal(t, 1, pol.RuleCalls)
}

func TestPolicyCacheExpires(t *testing.T) {
	pol := &FakePolicies{}
	pol.set(sso.DirectoryID, reset.DirectoryRules{MinPasswordLength: 12})
	e := MustEnv(t, nil, withPolicies(pol))
	MustRotate(t, context.Background(), e, req("k1", sso))
	e.Clock.Advance(reset.PolicyTTL - time.Second)
	MustRotate(t, context.Background(), e, req("k2", sso))
	assert.Equal(t, 1, pol.RuleCalls)
	e.Clock.Advance(2 * time.Second)
	MustRotate(t, context.Background(), e, req("k3", sso))
	assert.Equal(t, 2, pol.RuleCalls)
	// Fabric has no policy reader: no read for it.
	MustRotate(t, context.Background(), e, req("k4", fab))
	assert.Equal(t, 2, pol.RuleCalls)
}

// TestRaisedMinimumDoesNotBlock is the sequence that blocked accounts
// before passwords followed the directory: the directory raises its minimum
// length to 30, a rotation runs, and the next rotation, under another key,
// finds nothing to roll forward and no block.
func TestRaisedMinimumDoesNotBlock(t *testing.T) {
	pol := &FakePolicies{}
	pol.set(sso.DirectoryID, reset.DirectoryRules{MinPasswordLength: 8})
	e := MustEnv(t, func(c *reset.Config) { c.Password.Length = 20 }, withPolicies(pol))
	e.SSO.Before = enforcing(pol, "")
	requireRotated(t, e, sso, MustRotate(t, context.Background(), e, req("k1", sso))[0])

	pol.set(sso.DirectoryID, reset.DirectoryRules{MinPasswordLength: 30})
	e.Clock.Advance(reset.PolicyTTL) // the cached rules expire
	res := MustRotate(t, context.Background(), e, req("k2", sso))
	requireRotated(t, e, sso, res[0])
	res = MustRotate(t, context.Background(), e, req("k3", sso))
	requireRotated(t, e, sso, res[0])
	assert.Empty(t, res[0].RolledForward)
	pw, _ := e.SSO.Current(sso)
	assert.Len(t, pw, 30)
}

func TestPolicyFailuresChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		rules reset.DirectoryRules
		code  reset.ErrorCode
		field string
	}{
		{"Throttled", reset.Errorf(reset.EThrottled, "fake: throttled"), reset.DirectoryRules{}, reset.EThrottled, ""},
		{"Unavailable", reset.Errorf(reset.EUnavailable, "fake: timeout"), reset.DirectoryRules{}, reset.EUnavailable, ""},
		{"Forbidden", reset.Errorf(reset.EForbidden, "fake: denied"), reset.DirectoryRules{}, reset.EForbidden, ""},
		{"MinAboveMax", nil, reset.DirectoryRules{MinPasswordLength: 30, MaxPasswordLength: 20}, reset.EConflict, "MinPasswordLength"},
		{"MaxTooShortForEntropy", nil, reset.DirectoryRules{MaxPasswordLength: 12}, reset.EConflict, "MaxPasswordLength"},
		{"DifferentCharsAboveMax", nil, reset.DirectoryRules{MinPasswordDifferentChars: 40}, reset.EConflict, "MinPasswordDifferentChars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := &FakePolicies{Err: tc.err}
			pol.set(sso.DirectoryID, tc.rules)
			e := MustEnv(t, nil, withPolicies(pol))
			res := MustRotate(t, context.Background(), e, req("k1", sso))
			require.Equal(t, reset.StatusFailed, res[0].Status)
			var re *reset.Error
			require.True(t, errors.As(res[0].Err, &re))
			assert.Equal(t, tc.code, re.Code)
			assert.Contains(t, re.Message, "nothing was changed")
			if tc.field != "" {
				assert.Contains(t, re.Message, "("+tc.field+")")
			}
			assert.Equal(t, 0, e.Rec.Count(opReset), "no reset")
			assert.Equal(t, 0, e.Rec.Count(opPut)+e.Rec.Count(opCreate), "no version written")
		})
	}
}

func TestMeet(t *testing.T) {
	small := "BCDEFGHIJKLMNOPQRSTUVWXYZbcdefghijklmnopqrstuvwxyz23456789"
	for _, tc := range []struct {
		name   string
		p      reset.PasswordPolicy
		rules  reset.DirectoryRules
		length int
		field  string
	}{
		{"NoRules", reset.PasswordPolicy{Length: 24}, reset.DirectoryRules{}, 24, ""},
		{"MinRaises", reset.PasswordPolicy{Length: 20}, reset.DirectoryRules{MinPasswordLength: 28}, 28, ""},
		{"MaxLowers", reset.PasswordPolicy{Length: 30}, reset.DirectoryRules{MaxPasswordLength: 22}, 22, ""},
		// Without "yz", 18 characters drawn with repeats give 103.0 bits,
		// all different 99.8: the length is raised to 19.
		{"DistinctRaisesForEntropy", reset.PasswordPolicy{Length: 18, Exclude: "yz"}, reset.DirectoryRules{MinPasswordDifferentChars: 8}, 19, ""},
		{"DifferentAboveLengthRaises", reset.PasswordPolicy{Length: 20}, reset.DirectoryRules{MinPasswordDifferentChars: 26}, 26, ""},
		// The exclusions leave 17 characters: 30 with repeats are fine.
		{"SmallAlphabetMin30", reset.PasswordPolicy{Length: 32, Exclude: small}, reset.DirectoryRules{MinPasswordLength: 30}, 32, ""},
		// 30 all different cannot be drawn from 17.
		{"SmallAlphabetMin30Different", reset.PasswordPolicy{Length: 32, Exclude: small}, reset.DirectoryRules{MinPasswordLength: 30, MinPasswordDifferentChars: 10}, 0, "MinPasswordDifferentChars"},
		{"DistinctTooShortForEntropy", reset.PasswordPolicy{Length: 24}, reset.DirectoryRules{MaxPasswordLength: 17, MinPasswordDifferentChars: 8}, 0, "MinPasswordDifferentChars"},
		{"MinAbove32", reset.PasswordPolicy{Length: 24}, reset.DirectoryRules{MinPasswordLength: 33}, 0, "MinPasswordLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Meet(tc.rules)
			if tc.field != "" {
				var re *reset.Error
				require.True(t, errors.As(err, &re), "err %v", err)
				assert.Equal(t, reset.EConflict, re.Code)
				assert.Contains(t, re.Message, "("+tc.field+")")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.length, got.Length)
			assert.GreaterOrEqual(t, got.EntropyBits(), float64(reset.MinPasswordEntropyBits))
			assert.Equal(t, tc.rules.MinPasswordDifferentChars > 0, got.Distinct)
			require.NoError(t, got.Validate())
		})
	}
}
