package config

// Names the black-box tests read; the package does not export them.
const (
	EnvLogLevel         = envLogLevel
	EnvPasswordExclude  = envPasswordExclude
	EnvPasswordLength   = envPasswordLength
	EnvSecretNamePrefix = envSecretNamePrefix
)

var PlatformVariables = platformVariables
