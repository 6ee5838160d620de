package reset

import "context"

// Unexported names the black-box tests (package reset_test) use.
var (
	NewPasswordGenerator = newPasswordGenerator
	SecretData           = secretData
	ParseSecretData      = parseSecretData
	WithSecretParams     = withSecretParams
)

// PasswordGenerator is passwordGenerator, for the tests.
type PasswordGenerator = passwordGenerator

// PlaceholderVersionID is placeholderVersionID, for the tests.
const PlaceholderVersionID = placeholderVersionID

// PublishRun publishes the Run:Completed event of a run's results.
func (r *Rotator) PublishRun(ctx context.Context, req Request, results []Result) {
	r.publishRun(ctx, req, results)
}
