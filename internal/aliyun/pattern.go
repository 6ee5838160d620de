package aliyun

import (
	"regexp"
	"sync"
)

// pattern is a regular expression compiled on first use, whose matches are
// also at most max bytes long. The length is checked apart because Go's
// regexp compiles a counted repetition such as [A-Za-z0-9:/_.@-]{0,254}
// into that many copies of the class: KMS_ENCRYPTION_KEY_ID's rule alone
// took about 0.6 ms of every cold start, checked by config.Load (measured
// with perfreport's cold-start binaries on this machine), against
// microseconds for the same class with *. Every class such a pattern uses
// is ASCII, so bytes are characters.
type pattern struct {
	re  func() *regexp.Regexp
	max int
}

func newPattern(expr string, max int) pattern {
	return pattern{re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) }), max: max}
}

// MatchString reports whether s matches, within the length.
func (p pattern) MatchString(s string) bool { return len(s) <= p.max && p.re().MatchString(s) }
