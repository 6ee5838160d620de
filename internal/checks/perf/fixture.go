package perf

import (
	"fmt"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// BatchDirectoryID is the CloudSSO directory of BatchFixture's users.
const BatchDirectoryID = "d-00perfbatch0001"

// BatchUserID returns the id of BatchFixture's i-th user.
func BatchUserID(i int) string { return fmt.Sprintf("u-00perfbatchuser%05d", i) }

// BatchFixture returns the default fixture (its credentials, directories and
// organizations) with one more directory, BatchDirectoryID, holding n users
// named by BatchUserID. Their passwords are invented placeholders.
func BatchFixture(n int) emulator.Fixture {
	f := emulator.DefaultFixture()
	d := emulator.Directory{ID: BatchDirectoryID, MinPasswordLength: 12, Users: make([]emulator.SSOUser, n)}
	for i := range n {
		d.Users[i] = emulator.SSOUser{
			ID:       BatchUserID(i),
			Name:     fmt.Sprintf("perf%05d@example.com", i),
			Password: fmt.Sprintf("Placeholder#Perf%05d", i),
		}
	}
	f.Directories = append(f.Directories, d)
	return f
}

// BatchRequest returns the JSON request rotating BatchFixture's first n
// users in one batch.
func BatchRequest(n int) []byte {
	b := []byte(`{"targets":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"target":"cloudsso","directoryId":%q,"userId":%q}`, BatchDirectoryID, BatchUserID(i))
	}
	return append(b, "]}"...)
}

// SingleRequest is the JSON request rotating the default fixture's
// CloudSSO user.
var SingleRequest = []byte(fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"userId":%q}`,
	emulator.FixtureDirectoryID, emulator.FixtureUserID))
