// Package reliability holds pwreset's proofs that no password is lost or
// leaked: a fault matrix over every cloud call of the rotation protocol, a
// seeded randomized soak, duplicate and concurrent deliveries, a corpus of
// hostile requests, a leak canary over everything the suite saw, and checks
// of credentials, authorization and deadlines. They run the real handler,
// rotator and adapters against the local cloud of internal/testenv/emulator, and,
// where a process must die, the built binary under the emulated runtime.
//
// The package's only non-test code is the report: the figures a soak run
// produces and their rendering into docs/RELIABILITY.md.
package reliability
