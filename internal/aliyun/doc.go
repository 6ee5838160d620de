// Package aliyun implements reset's interfaces with the Alibaba Cloud SDKs:
// CloudSSO (ResetUserPassword), BaaS (ResetFabricOrganizationUserPassword,
// through darabonba-openapi's CallApi) and KMS Secrets Manager.
//
// Clients are built once per function instance by New and shared by every
// invocation, so TCP and TLS connections stay open between invocations.
// What changes per invocation — the credentials and the deadline — is bound
// to each call, never to the shared clients: see call.go.
//
// Every error these types return is a *reset.Error whose text carries only
// an operation, an upstream error code and a request id: never a password,
// a request URL (the SDKs put parameters, passwords included, in the query
// string) or a response body (BaaS echoes the password in its response).
//
// The SDKs print requests, URLs included, when the DEBUG environment
// variable names "tea" or "dara"; a deployment must never set it.
package aliyun
