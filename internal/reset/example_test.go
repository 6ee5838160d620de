package reset_test

import (
	"context"
	"fmt"

	"github.com/pwreset/pwreset/internal/reset"
)

// ExampleRotator_Rotate rotates a CloudSSO user's password. In production the
// resetter and store are the Alibaba Cloud adapters; here they are fakes.
// The caller learns where the password is, never the password.
func ExampleRotator_Rotate() {
	clock := &FakeClock{now: epoch}
	rec := &recorder{clock: clock}
	rotator, err := reset.NewRotator(reset.Config{},
		map[reset.Kind]reset.Resetter{reset.KindCloudSSO: &FakeResetter{rec: rec}},
		&FakeStore{rec: rec}, reset.Deps{Clock: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := rotator.Rotate(context.Background(), reset.Request{
		IdempotencyKey: "helpdesk-ticket-4711",
		Targets:        []reset.Target{{Kind: reset.KindCloudSSO, DirectoryID: "d-00fc2p61ab12", UserID: "u-00q8wbq42wiltcrkab12"}},
	})
	if err != nil {
		fmt.Println(reset.ErrorMessageOf(err))
		return
	}
	for _, r := range results {
		fmt.Println(r.Status, r.SecretName, r.VersionID == reset.VersionID("helpdesk-ticket-4711", r.Target))
	}
	fmt.Println(rec.Ops())
	// Output:
	// rotated pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12 true
	// [GetStaged PutVersion CheckAccount CreateSecret PutVersion ResetPassword Promote]
}
