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
// Each endpoint serves only its product's documented hosts (and its loopback
// address): BaaS baas.aliyuncs.com with the HMAC-SHA1 signature only, CloudSSO
// cloudsso[-vpc].<region>.aliyuncs.com in its six regions, KMS
// kms[-vpc].<region>.aliyuncs.com. KMS is a KMS 3.0 instance: CreateSecret
// needs a symmetric key of the secret's instance (Fixture.KMSInstances). The
// function runtime (Runtime) hands out one invocation at a time.
//
// A Cloud holds all state behind one mutex and has no package globals, so
// every test gets its own. Tests inject faults per action (FailNext,
// SetLatency, DropNext, DropAfterApply; Throttle per product, ThrottleAction
// per API, ApplyQuotas for the per-API quotas of Quotas, each with its
// source or marked assumed: KMS CreateSecret 10/s and GetSecretValue 450/s
// published, PutSecretValue, UpdateSecretVersionStage and BaaS assumed),
// read each call back with
// passwords masked (Calls), and read the state as the services see it
// (SSOPassword, FabricPassword, Secret).
//
// # Error codes
//
// Every code the cloud answers by itself (FailNext answers any code a test
// names), its HTTP status, and where it comes from. "assumed" marks a code
// no document gives for that case; the adapters are written to be safe
// whatever the real code is (internal/aliyun/errors.go).
//
//	code                                     status  products        source
//	MissingSignature                         400     all             common error codes of the POP gateway
//	IncompleteSignature                      400     all (V3)        V3 signature document (required headers; x-acs-content-sha256 absent: assumed)
//	InvalidSignatureMethod                   400     all             common error codes; BaaS refusing ACS3: assumed
//	InvalidSignatureVersion                  400     all (V2)        common error codes
//	SignatureDoesNotMatch                    400     all             common error codes
//	SignatureNonceUsed                       400     all             common error codes
//	MissingAccessKeyId                       400     all (V2)        common error codes
//	MissingTimestamp                         400     all             common error codes
//	MissingSignatureNonce                    400     all             common error codes
//	InvalidTimeStamp.Format                  400     all             common error codes
//	InvalidTimeStamp.Expired                 400     all             common error codes (15-minute window)
//	InvalidAccessKeyId.NotFound              404     all             common error codes
//	MissingSecurityToken                     400     all             common error codes
//	InvalidSecurityToken.Expired             400     all             common error codes
//	InvalidSecurityToken.Malformed           400     all             common error codes
//	InvalidSecurityToken.MismatchWithAccessKey 400   all             common error codes
//	UnsupportedHTTPMethod                    405     all             common error codes
//	RequestTooLarge                          413     all             assumed
//	InvalidAction.NotFound                   404     all             common error codes; for a host the product does not serve: assumed
//	InvalidVersion                           400     all             common error codes
//	MissingParameter                         400     all             common error codes; CreateSecret without EncryptionKeyId: assumed
//	InvalidParameter                         400     all             common error codes
//	InternalError                            500     all             common error codes (an answer that cannot be encoded)
//	Throttling.User                          400     CloudSSO, BaaS  common error codes (Throttle)
//	Rejected.Throttling                      429     KMS             KMS API reference (Throttle)
//	Forbidden.ResourceNotFound               404     KMS             KMS API reference (GetSecretValue, PutSecretValue, ...)
//	Rejected.ResourceExist                   409     KMS             KMS API reference (CreateSecret; PutSecretValue with other data: assumed)
//	Rejected.ResourceInDeleteWindow          409     KMS             issue 10 (CreateSecret on a name pending deletion); no KMS page found that lists it: assumed
//	Rejected.Unavailable                     400     KMS             KMS secrets FAQ ("Rejected.Unavailable": pending deletion); status assumed
//	Rejected.LimitExceeded                   400     KMS             KMS API reference (stage limit); status assumed
//	Forbidden.KeyNotFound                    404     KMS             KMS API reference for key operations; for CreateSecret's key: assumed
//	Forbidden.InstanceNotFound               404     KMS             assumed (CreateSecret's DKMSInstanceId names no instance)
//	EntityNotExists.Directory                404     CloudSSO        CloudSSO error codes
//	EntityNotExists.User                     404     CloudSSO        CloudSSO error codes
//	OperationDenied.SSOLogonEnabled          409     CloudSSO        assumed (ResetUserPassword documents the refusal, not its code)
//	InvalidParameter.Password                400     CloudSSO, BaaS  assumed
//	OrganizationNotFound                     404     BaaS            assumed (BaaS documents no error codes)
//	UserNotFound                             404     BaaS            assumed
//	InvalidParameter.Password.DifferentChars 400     CloudSSO        assumed (GetPasswordPolicy documents the rule, not the refusal's code)
//	InvalidParameter.Password.ContainUsername 400    CloudSSO        assumed
//	InvalidParameter.Password.Reused         400     CloudSSO        assumed (PasswordReusePrevention)
//	InvalidParameter.NextToken               400     CloudSSO        assumed (ListUsers with a token it did not issue)
//	InvalidArgument                          400     FC, EventBridge FC 3.0 error codes; EventBridge PutEvents: assumed
//	EntityTooLarge                           413     FC              FC limits (asynchronous payload over 128 KB)
//	FunctionNotFound                         404     FC              FC 3.0 error codes
//	EventsCountExceedLimit                   400     EventBridge     assumed (more than 16 events per PutEvents)
//	EventsSizeExceedLimit                    413     EventBridge     assumed (over 256 KB per PutEvents)
//	EventBusNotExist                         409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode (management API)
//	EventBusAlreadyExist                     409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode
//	EventBusNameInvalid                      409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode (accepted set assumed)
//	EventBusRuleNotEmptyForDelete            409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode
//	EventRuleNotExist                        409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode
//	EventRuleAlreadyExist                    409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode
//	EventRuleNameInvalid                     409     EventBridge     apache/rocketmq-eventbridge EventBridgeErrorCode (accepted set assumed)
//	NotFound                                 404     runtime API     assumed (an unknown path)
//	MethodNotAllowed                         405     runtime API     assumed (a wrong method)
//	RuntimeClosed                            503     runtime API     assumed (a poll while the runtime shuts down)
//	InstanceExited                           410     runtime API     assumed (a poll from an instance that exited)
//	PayloadTooLarge                          413     runtime API     assumed (an outcome over 32 MB)
//	InvalidRequest                           400     runtime API     assumed (an outcome that cannot be read)
//	InvalidErrorPayload                      400     runtime API     assumed (an error that is not {"errorMessage","errorType"})
//	InvalidRequestID                         400     runtime API     assumed (an outcome for no running invocation)
//
// Inside a 200 answer of PutEvents (the data API), an entry of EntryList
// may fail with EventBusNotExist (no such bus) or EventSizeExceedLimit (an event over
// 64 KB); both per-entry codes are assumed.
//
// The runtime API (Runtime) answers its errors as {"errorMessage","errorType"}
// with the code as errorType. Function Compute documents neither its
// runtime API's paths nor its errors; fc-runtime-go-sdk v0.3.1 only checks
// that the status is 200 (fc/runtime_api_client.go), so the codes matter
// only to tests. TestErrorCodeTable checks that this table lists every code
// the package answers, with its status, and no other.
//
// Documents: common error codes, https://api.alibabacloud.com/document (error
// center); V3 signature,
// https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature;
// KMS, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-createsecret
// and its sibling pages; CloudSSO,
// https://www.alibabacloud.com/help/en/cloudsso/developer-reference/api-cloudsso-2021-05-15-resetuserpassword;
// BaaS, https://www.alibabacloud.com/help/en/blockchain-as-a-service/latest/common-parameters.
package emulator
