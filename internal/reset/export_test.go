package reset

// Unexported names the black-box tests (package reset_test) use.
var (
	NewPasswordGenerator = newPasswordGenerator
	SecretData           = secretData
	ParseSecretData      = parseSecretData
)

// PasswordGenerator is passwordGenerator, for the tests.
type PasswordGenerator = passwordGenerator

// PlaceholderVersionID is placeholderVersionID, for the tests.
const PlaceholderVersionID = placeholderVersionID
