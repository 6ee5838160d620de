package reset

import (
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"strings"
)

// Password lengths CloudSSO accepts, and the length used when a policy sets none.
const (
	MinPasswordLength     = 8
	MaxPasswordLength     = 32
	DefaultPasswordLength = 24
)

// Character classes of generated passwords. CloudSSO asks for at least one of
// each. The special characters are those that survive every layer between
// here and the services unchanged and unambiguous: no quotes, backslash or
// space (shell and JSON), no "&", "=", "+" or "%" (form and query encoding),
// no "<" or ">" (escaped by JSON encoders), no "," (our own comma-separated
// configuration lists).
const (
	PasswordUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	PasswordLower   = "abcdefghijklmnopqrstuvwxyz"
	PasswordDigits  = "0123456789"
	PasswordSpecial = "!#$()*-.:?@^_"
)

// MinPasswordEntropyBits is the least entropy a generated password may have:
// a policy whose length and alphabet give fewer bits is refused.
const MinPasswordEntropyBits = 100

// PasswordPolicy is the shape of generated passwords.
type PasswordPolicy struct {
	Length  int    // 8 to 32; default 24
	Exclude string // characters never used (e.g. look-alikes)
	// Distinct makes every character of a password different (a
	// directory's MinPasswordDifferentChars; see Meet). Configuration
	// never sets it.
	Distinct bool
}

// Validate checks the policy: Length is 0 (meaning DefaultPasswordLength) or
// MinPasswordLength to MaxPasswordLength, Exclude leaves a character in
// each class (EmptyClass), and the two together give at least
// MinPasswordEntropyBits (EntropyBits). Its error is an EInvalid *Error
// whose Field is the policy's field at fault ("Length" or "Exclude"; the
// latter when Exclude is set and the entropy falls short): a caller that
// reads the policy from somewhere checks it there, with these same
// functions, and names its own source.
func (p PasswordPolicy) Validate() error {
	if p.Length != 0 && (p.Length < MinPasswordLength || p.Length > MaxPasswordLength) {
		return FieldError("Length", "must be %d to %d, got %d", MinPasswordLength, MaxPasswordLength, p.Length)
	}
	if c := p.EmptyClass(); c != "" {
		return FieldError("Exclude", "excludes every %s character", c)
	}
	if p.Distinct && p.length() > p.AlphabetSize() {
		return FieldError("Exclude", "leaves %d characters, too few for %d different ones", p.AlphabetSize(), p.length())
	}
	if bits := p.EntropyBits(); bits < MinPasswordEntropyBits {
		field, fixes := "Length", []string{}
		if n := p.LengthFor(MinPasswordEntropyBits); n <= MaxPasswordLength {
			fixes = append(fixes, fmt.Sprintf("set the length to at least %d", n))
		}
		if p.Exclude != "" {
			field = "Exclude"
			fixes = append(fixes, "exclude fewer characters")
		}
		return FieldError(field, "with length %d and the exclusions leaving %d characters, a generated password has %.1f bits of entropy, fewer than the %d required: %s",
			p.length(), p.AlphabetSize(), math.Floor(bits*10)/10, MinPasswordEntropyBits, strings.Join(fixes, ", or "))
	}
	return nil
}

// EmptyClass returns the name of the first character class ("upper-case",
// "lower-case", "digit", "special") that Exclude empties, or "".
func (p PasswordPolicy) EmptyClass() string {
	for _, c := range passwordClasses {
		if len(without(c.chars, p.Exclude)) == 0 {
			return c.name
		}
	}
	return ""
}

// AlphabetSize is how many characters generated passwords draw from.
func (p PasswordPolicy) AlphabetSize() int { return len(p.alphabet()) }

// EntropyBits returns a lower bound of the entropy of one generated password,
// in bits: the generator draws one character from each class (sizes n1…n4)
// and the other L−4 from the whole alphabet of N, then shuffles them. Any
// one output can come from at most L! of the L!·n1·n2·n3·n4·N^(L−4) equally
// likely draws, so no password has a probability above
// 1/(n1·n2·n3·n4·N^(L−4)): the min-entropy, and so the entropy, is at
// least Σlog2(ni) + (L−4)·log2(N). It counts the required characters at
// their class's size, never the alphabet's, which is what keeps it
// conservative. With Distinct, the j-th of the other characters is drawn
// from the N−j not yet used (j from 4 to L−1), so the bound is
// Σlog2(ni) + Σlog2(N−j) by the same argument.
func (p PasswordPolicy) EntropyBits() float64 {
	n := len(p.alphabet())
	var bits float64
	for j := len(passwordClasses); j < p.length(); j++ {
		if !p.Distinct {
			bits += math.Log2(float64(n))
		} else if n-j > 0 {
			bits += math.Log2(float64(n - j))
		}
	}
	for _, c := range passwordClasses {
		bits += math.Log2(float64(len(without(c.chars, p.Exclude))))
	}
	return bits
}

// LengthFor returns the shortest length whose EntropyBits reach bits with
// p's alphabet, or MaxPasswordLength+1 when none does.
func (p PasswordPolicy) LengthFor(bits float64) int {
	for n := MinPasswordLength; n <= MaxPasswordLength; n++ {
		if (PasswordPolicy{Length: n, Exclude: p.Exclude, Distinct: p.Distinct}).EntropyBits() >= bits {
			return n
		}
	}
	return MaxPasswordLength + 1
}

func (p PasswordPolicy) length() int {
	if p.Length == 0 {
		return DefaultPasswordLength
	}
	return p.Length
}

func (p PasswordPolicy) alphabet() string {
	var all string
	for _, c := range passwordClasses {
		all += without(c.chars, p.Exclude)
	}
	return all
}

var passwordClasses = []struct{ name, chars string }{
	{"upper-case", PasswordUpper},
	{"lower-case", PasswordLower},
	{"digit", PasswordDigits},
	{"special", PasswordSpecial},
}

func without(chars, exclude string) string {
	var b strings.Builder
	for i := 0; i < len(chars); i++ {
		if !strings.ContainsRune(exclude, rune(chars[i])) {
			b.WriteByte(chars[i])
		}
	}
	return b.String()
}

// passwordGenerator makes passwords that meet a PasswordPolicy and CloudSSO's
// rules: one character of each class at a uniformly random position, the
// others drawn uniformly from all allowed characters. Every draw is unbiased
// (rejection sampling, never a bare modulo). It is safe for concurrent use if
// its random source is.
type passwordGenerator struct {
	length   int
	distinct bool      // no character twice (PasswordPolicy.Distinct)
	classes  [4]string // each class minus the excluded characters
	all      string    // the union of classes
	rand     io.Reader
}

// newPasswordGenerator returns a generator for policy drawing from rnd; a
// nil rnd means crypto/rand.Reader. Tests inject a deterministic reader.
func newPasswordGenerator(policy PasswordPolicy, rnd io.Reader) (*passwordGenerator, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	g := &passwordGenerator{length: policy.Length, distinct: policy.Distinct, rand: rnd}
	if g.length == 0 {
		g.length = DefaultPasswordLength
	}
	for i, c := range passwordClasses {
		g.classes[i] = without(c.chars, policy.Exclude)
		g.all += g.classes[i]
	}
	return g, nil
}

// Generate returns a new password. Its only error is a failing random
// source, an EInternal *Error; no error ever holds password characters.
func (g *passwordGenerator) Generate() (string, error) {
	src := byteSource{r: g.rand}
	pw := make([]byte, g.length)
	defer clear(pw) // the string copy is what leaves; don't keep a second one
	for i, class := range g.classes {
		c, err := src.pick(class)
		if err != nil {
			return "", err
		}
		pw[i] = c
	}
	pool := g.all
	if g.distinct {
		pool = without(g.all, string(pw[:len(g.classes)]))
	}
	for i := len(g.classes); i < len(pw); i++ {
		c, err := src.pick(pool)
		if err != nil {
			return "", err
		}
		pw[i] = c
		if g.distinct {
			pool = without(pool, string(c))
		}
	}
	// Fisher–Yates, so the required characters sit anywhere with equal odds.
	for i := len(pw) - 1; i > 0; i-- {
		j, err := src.intn(i + 1)
		if err != nil {
			return "", err
		}
		pw[i], pw[j] = pw[j], pw[i]
	}
	return string(pw), nil
}

// byteSource draws small uniform integers from a reader, a buffer at a time
// so that a password costs one or two reads.
type byteSource struct {
	r   io.Reader
	buf [64]byte
	n   int // unread bytes at the end of buf
}

func (s *byteSource) byte() (byte, error) {
	if s.n == 0 {
		if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
			return 0, &Error{Code: EInternal, Message: "random source failed", Err: err}
		}
		s.n = len(s.buf)
	}
	s.n--
	b := s.buf[len(s.buf)-1-s.n]
	s.buf[len(s.buf)-1-s.n] = 0
	return b, nil
}

// intn returns a uniform integer in [0, n) for 0 < n <= 256, rejecting the
// bytes at the top of the range that a modulo would favour.
func (s *byteSource) intn(n int) (int, error) {
	if n <= 0 || n > 256 {
		panic(fmt.Sprintf("reset: intn(%d) out of range", n))
	}
	limit := 256 - 256%n
	for {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		if int(b) < limit {
			return int(b) % n, nil
		}
	}
}

func (s *byteSource) pick(chars string) (byte, error) {
	i, err := s.intn(len(chars))
	if err != nil {
		return 0, err
	}
	return chars[i], nil
}
