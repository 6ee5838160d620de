// Package emulator is pwreset's local Alibaba Cloud: a wire-compatible stand-in
// for the three APIs the function calls (BaaS ResetFabricOrganizationUserPassword,
// CloudSSO ResetUserPassword and the KMS Secrets Manager actions), for tests and
// the demo. For fleet runs it also serves CloudSSO ListUsers, GetUser and
// GetPasswordPolicy (and enforces a directory's password policy), BaaS
// DescribeFabricOrganizationUsers, KMS ListSecrets, and, on listeners of
// their own, Function Compute's InvokeFunction (StartFC, asynchronous
// invocations queued on a Runtime) and EventBridge's data API PutEvents
// (StartEventBus); docs/wire-facts.md gives the sources.
//
// It speaks the real wire so the real SDK clients run unchanged against it:
// requests are routed by x-acs-action/x-acs-version (ACS3-HMAC-SHA256) or by the
// Action/Version parameters (HMAC-SHA1 RPC), signatures are verified byte for
// byte the way the gateway does, and errors carry the real codes and HTTP
// statuses in the JSON body {"RequestId","Code","Message"}.
//
// A Cloud holds all state behind one mutex and has no package globals, so
// every test gets its own. Tests inject faults per action (FailNext,
// SetLatency, DropNext, DropAfterApply, Throttle), read each call back with
// passwords masked (Calls), and read the state as the services see it
// (SSOPassword, FabricPassword, Secret).
package emulator
