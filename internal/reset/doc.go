// Package reset is pwreset's domain: the accounts whose passwords it resets
// (targets), the passwords it generates, and the rotation protocol that keeps
// every new password in a secret store before any target is changed.
//
// It knows neither Function Compute nor any cloud SDK. The services it talks
// to are the small interfaces Resetter and SecretStore; adapters implement
// them, and the tests of this package use plain fakes.
package reset
