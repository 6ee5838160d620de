package reset

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request limits.
const (
	// MaxTargets bounds a batch, so one request cannot hold the single
	// instance (and every other caller) for long.
	MaxTargets = 1000
	// MaxIdempotencyKeyLength bounds a caller-given idempotency key (or
	// each part of one, such as a CloudEvent's source and id), in bytes;
	// IdempotencyKeyRule admits only ASCII, so bytes are characters.
	MaxIdempotencyKeyLength = 256
	// MaxScopedKeyLength bounds Request.IdempotencyKey, the key scoped by
	// its trigger: a namespace and up to three length-prefixed parts.
	MaxScopedKeyLength = 4*MaxIdempotencyKeyLength + 64
	// MaxSecretNameLength is KMS's limit on secret names.
	MaxSecretNameLength = 192
)

// MaxPrefixLength is the longest secret name prefix: with it, the longest
// Key of every kind still fits KMS's MaxSecretNameLength.
var MaxPrefixLength = MaxSecretNameLength - maxKeyLength

// Defaults of Config.
const (
	DefaultSecretPrefix = "pwreset/"
	DefaultMaxInFlight  = 24
	DefaultMaxAttempts  = 5
	defaultBaseBackoff  = 100 * time.Millisecond
	defaultMaxBackoff   = 5 * time.Second
	defaultStepReserve  = 3 * time.Second
)

// Config configures a Rotator. Zero values take the defaults noted. The
// values come checked (internal/config): NewRotator refuses a bad one as a
// programmer's error, not as a caller's.
type Config struct {
	SecretPrefix string // default DefaultSecretPrefix; ValidPrefix
	// Allowed holds, per kind, the values of its allow-listed identifier
	// (directory ids for CloudSSO, organization ids for Fabric). A kind
	// without an entry allows all.
	Allowed     map[Kind][]string
	Password    PasswordPolicy
	MaxInFlight int           // targets rotated at once; default 24 (docs/PERFORMANCE.md)
	MaxAttempts int           // tries per cloud call when unavailable, and when throttled without a deadline (throttled tries under a deadline are bounded by time: retry.go); default 5
	BaseBackoff time.Duration // first backoff; default 100ms
	MaxBackoff  time.Duration // backoff cap; default 5s
	// StepReserve is the time one cloud call is allowed (see the time
	// budget in budget.go). Default 3s.
	StepReserve time.Duration
	// MaxPasswordAge, when set, makes the sweep report a secret whose
	// ACSCurrent version is older (MAX_PASSWORD_AGE_DAYS); 0 reports none.
	MaxPasswordAge time.Duration
	// ChunkTargets is how many accounts or secrets a run may hold and
	// still run in its invocation, and how many its first chunk covers
	// (run.go); default DefaultChunkTargets.
	ChunkTargets int
	// ChunkTime is how long a chunk of a continued run hands out targets
	// (run.go: chunks are sized by time); default DefaultChunkTime.
	ChunkTime time.Duration
}

// rePrefix is the character set of KMS secret names: letters, digits and
// "_/+=.@-".
var rePrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_/+=.@-]+$`) })

// PrefixRule says what ValidPrefix admits.
var PrefixRule = `must be 1 to ` + strconv.Itoa(MaxPrefixLength) + ` of the characters letters, digits and "_/+=.@-", not start with "/" and hold no ".."`

// ValidPrefix reports whether prefix may start every secret name: KMS's
// characters, at most MaxPrefixLength of them, and no way to climb out of
// it ("..", a leading "/").
func ValidPrefix(prefix string) bool {
	return len(prefix) <= MaxPrefixLength && rePrefix().MatchString(prefix) &&
		!strings.Contains(prefix, "..") && !strings.HasPrefix(prefix, "/")
}

// IdempotencyKeyRule returns the rule key breaks as an idempotency key of
// at most max bytes, or "" when it is one. A key is printable ASCII other
// than space, ",", `"` and `\`, so that it is always safe to log and show.
// The handler applies it to each caller-given part (max
// MaxIdempotencyKeyLength), the rotator to the scoped key
// (MaxScopedKeyLength).
func IdempotencyKeyRule(key string, max int) string {
	if key == "" {
		return "is required"
	}
	if len(key) > max {
		return "must be at most " + strconv.Itoa(max) + " characters"
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' || c == ',' || c == '"' || c == '\\' {
			return `must hold only printable ASCII characters other than space, ",", quotes and "\"`
		}
	}
	return ""
}
