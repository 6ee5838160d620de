package aliyun

// Names the black-box tests read; the package does not export them.
const (
	EventSource              = eventSource
	MaxAsyncPayload          = maxAsyncPayload
	SSOProvisionManual       = ssoProvisionManual
	SSOProvisionSynchronized = ssoProvisionSynchronized
	SSOStatusDisabled        = ssoStatusDisabled
	SSOStatusEnabled         = ssoStatusEnabled
)
