package reset_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/pwreset/pwreset/internal/reset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPasswordPolicyValidate(t *testing.T) {
	cases := []struct {
		name   string
		policy reset.PasswordPolicy
		field  string // "" for OK
	}{
		{"OKDefault", reset.PasswordPolicy{}, ""},
		{"OKShortestWithEnoughEntropy", reset.PasswordPolicy{Length: 18}, ""},
		{"OKLongest", reset.PasswordPolicy{Length: 32}, ""},
		{"OKExcludeLookAlikes", reset.PasswordPolicy{Length: 20, Exclude: "Il1O0o"}, ""},
		{"ErrEntropyCloudSSOMinimum", reset.PasswordPolicy{Length: 8}, "Length"},
		{"ErrEntropyOneShort", reset.PasswordPolicy{Length: 17}, "Length"},
		{"ErrEntropyExcludeLookAlikes", reset.PasswordPolicy{Length: 16, Exclude: "Il1O0o"}, "Exclude"},
		{"OKExcludeAllButOneSpecial", reset.PasswordPolicy{Exclude: reset.PasswordSpecial[1:]}, ""},
		{"ErrTooShort", reset.PasswordPolicy{Length: 7}, "Length"},
		{"ErrTooLong", reset.PasswordPolicy{Length: 33}, "Length"},
		{"ErrNegative", reset.PasswordPolicy{Length: -1}, "Length"},
		{"ErrNoUpper", reset.PasswordPolicy{Exclude: reset.PasswordUpper}, "Exclude"},
		{"ErrNoLower", reset.PasswordPolicy{Exclude: reset.PasswordLower + "A"}, "Exclude"},
		{"ErrNoDigit", reset.PasswordPolicy{Exclude: reset.PasswordDigits}, "Exclude"},
		{"ErrNoSpecial", reset.PasswordPolicy{Exclude: reset.PasswordSpecial}, "Exclude"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var rerr *reset.Error
			require.ErrorAs(t, err, &rerr)
			assert.Equal(t, reset.EInvalid, rerr.Code)
			assert.Equal(t, tc.field, rerr.Field)
		})
	}
}

// TestPasswordEntropy checks the bound against figures worked by hand and
// that the refusal names both fields, the bits and the minimum.
func TestPasswordEntropy(t *testing.T) {
	oneOfEach := reset.PasswordUpper[1:] + reset.PasswordLower[1:] + reset.PasswordDigits[1:] + reset.PasswordSpecial[1:]
	cases := []struct {
		name   string
		policy reset.PasswordPolicy
		bits   float64
		msg    []string // parts of the refusal; none for an accepted policy
	}{
		// 20 draws from 75 characters, then one from each of 26, 26, 10, 13.
		{"Default", reset.PasswordPolicy{}, 20*math.Log2(75) + 2*math.Log2(26) + math.Log2(10) + math.Log2(13), nil},
		{"Shortest", reset.PasswordPolicy{Length: 18}, 14*math.Log2(75) + 2*math.Log2(26) + math.Log2(10) + math.Log2(13), nil},
		{"OneTooShort", reset.PasswordPolicy{Length: 17}, 13*math.Log2(75) + 2*math.Log2(26) + math.Log2(10) + math.Log2(13),
			[]string{"length 17", "the exclusions leaving 75 characters", "97.3 bits", "the 100 required: set the length to at least 18"}},
		// One character per class left: the class draws add nothing, 4 choices for the rest.
		{"ExcludeAlmostAll", reset.PasswordPolicy{Length: 32, Exclude: oneOfEach}, 28 * 2,
			[]string{"length 32", "the exclusions leaving 4 characters", "56.0 bits", "the 100 required", ": exclude fewer characters"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.bits, tc.policy.EntropyBits(), 1e-9)
			err := tc.policy.Validate()
			if tc.msg == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, part := range tc.msg {
				assert.Contains(t, err.Error(), part)
			}
			assert.NotContains(t, reset.ErrorMessageOf(err), "length to at least 33")
		})
	}
}

func TestSpecialCharactersAreSafe(t *testing.T) {
	assert.NotContains(t, reset.PasswordSpecial, `"`)
	assert.NotContains(t, reset.PasswordSpecial, `'`)
	assert.NotContains(t, reset.PasswordSpecial, "`")
	assert.NotContains(t, reset.PasswordSpecial, `\`)
	assert.NotContains(t, reset.PasswordSpecial, " ")
	for _, c := range reset.PasswordSpecial {
		assert.True(t, c > ' ' && c < 0x7f, "%q is not printable ASCII", c)
	}
}

var (
	reUpper   = regexp.MustCompile(`[A-Z]`)
	reLower   = regexp.MustCompile(`[a-z]`)
	reDigit   = regexp.MustCompile(`[0-9]`)
	reSpecial = regexp.MustCompile(`[` + regexp.QuoteMeta(reset.PasswordSpecial) + `]`)
	reAllowed = regexp.MustCompile(`^[A-Za-z0-9` + regexp.QuoteMeta(reset.PasswordSpecial) + `]+$`)
)

// MustGenerator returns a generator on a seeded source.
func MustGenerator(tb testing.TB, p reset.PasswordPolicy, seed byte) *reset.PasswordGenerator {
	tb.Helper()
	g, err := reset.NewPasswordGenerator(p, rand.NewChaCha8([32]byte{seed}))
	require.NoError(tb, err)
	return g
}

func TestGenerateMeetsCloudSSORules(t *testing.T) {
	// 18 is the shortest length with MinPasswordEntropyBits (TestPasswordEntropy).
	for length := 18; length <= reset.MaxPasswordLength; length++ {
		g := MustGenerator(t, reset.PasswordPolicy{Length: length}, byte(length))
		for range 200 {
			pw, err := g.Generate()
			require.NoError(t, err)
			// Messages name the rule only: a failing test prints no password.
			require.Len(t, []rune(pw), length, "length")
			require.True(t, reUpper.MatchString(pw), "no upper-case letter")
			require.True(t, reLower.MatchString(pw), "no lower-case letter")
			require.True(t, reDigit.MatchString(pw), "no digit")
			require.True(t, reSpecial.MatchString(pw), "no special character")
			require.True(t, reAllowed.MatchString(pw), "a character outside the alphabet")
		}
	}
}

func TestGenerateDefaultLength(t *testing.T) {
	g, err := reset.NewPasswordGenerator(reset.PasswordPolicy{}, nil) // crypto/rand
	require.NoError(t, err)
	pw, err := g.Generate()
	require.NoError(t, err)
	assert.Len(t, pw, reset.DefaultPasswordLength)
}

func TestGenerateHonoursExclude(t *testing.T) {
	const exclude = "Il1O0o|" + "!#$()*-.:?@^" // leaves "_" as the only special
	g := MustGenerator(t, reset.PasswordPolicy{Length: 24, Exclude: exclude}, 7)
	for range 500 {
		pw, err := g.Generate()
		require.NoError(t, err)
		require.False(t, strings.ContainsAny(pw, exclude), "an excluded character was used")
		require.Contains(t, pw, "_", "the only special character left is required")
	}
}

// TestGenerateDistribution checks, on a fixed seed (so it cannot flake),
// that every allowed character is used about equally often and that the
// required classes land in every position.
func TestGenerateDistribution(t *testing.T) {
	const length, n = 20, 20000
	g := MustGenerator(t, reset.PasswordPolicy{Length: length}, 42)
	alphabet := reset.PasswordUpper + reset.PasswordLower + reset.PasswordDigits + reset.PasswordSpecial
	counts := map[rune]int{}
	specialAt := make([]int, length)
	for range n {
		pw, err := g.Generate()
		require.NoError(t, err)
		for i, c := range pw {
			counts[c]++
			if strings.ContainsRune(reset.PasswordSpecial, c) {
				specialAt[i]++
			}
		}
	}
	// Each password has 16 uniform draws plus one of each class, so a
	// character of a class of size k is expected 16n/|alphabet| + n/k times.
	draws := float64((length - 4) * n)
	classes := []string{reset.PasswordUpper, reset.PasswordLower, reset.PasswordDigits, reset.PasswordSpecial}
	for _, class := range classes {
		want := draws/float64(len(alphabet)) + float64(n)/float64(len(class))
		for _, c := range class {
			got := float64(counts[c])
			assert.InDelta(t, want, got, want*0.1, "character %q", c)
		}
	}
	require.Len(t, counts, len(alphabet))
	// Positions are shuffled: no position is favoured for the special class.
	mean := 0
	for _, c := range specialAt {
		mean += c
	}
	for i, c := range specialAt {
		assert.InDelta(t, float64(mean)/length, float64(c), float64(mean)/length*0.1, "position %d", i)
	}
}

func TestGenerateDiffers(t *testing.T) {
	g := MustGenerator(t, reset.PasswordPolicy{Length: 18}, 1)
	seen := map[string]bool{}
	for range 1000 {
		pw, err := g.Generate()
		require.NoError(t, err)
		require.False(t, seen[pw], "a password repeated")
		seen[pw] = true
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestGenerateRandomSourceFails(t *testing.T) {
	g, err := reset.NewPasswordGenerator(reset.PasswordPolicy{}, failingReader{})
	require.NoError(t, err)
	pw, err := g.Generate()
	assert.Empty(t, pw)
	assert.Equal(t, reset.EInternal, reset.ErrorCodeOf(err))
}

func TestRotateRandomSourceFails(t *testing.T) {
	clock := &FakeClock{now: epoch}
	rec := &recorder{clock: clock}
	store := &FakeStore{rec: rec}
	r, err := reset.NewRotator(testConfig(), map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{rec: rec}}, store,
		reset.Deps{Clock: clock, Rand: failingReader{}})
	require.NoError(t, err)
	res, err := r.Rotate(t.Context(), req("k", sso))
	require.NoError(t, err)
	assert.Equal(t, reset.StatusFailed, res[0].Status)
	assert.Equal(t, reset.EInternal, reset.ErrorCodeOf(res[0].Err))
	for _, c := range rec.Calls() {
		assert.Equal(t, opStaged, c.Op, "nothing is written without a password")
	}
}

func BenchmarkGenerate(b *testing.B) {
	g, err := reset.NewPasswordGenerator(reset.PasswordPolicy{}, nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Generate(); err != nil {
			b.Fatal(err)
		}
	}
}
