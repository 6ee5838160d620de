module github.com/pwreset/pwreset

go 1.26.8

require (
	github.com/alibabacloud-go/cloudsso-20210515 v1.2.0 // indirect
	github.com/alibabacloud-go/darabonba-openapi/v2 v2.1.13 // indirect
	github.com/alibabacloud-go/kms-20160120/v3 v3.2.3 // indirect
	github.com/aliyun/credentials-go v1.4.14 // indirect
	github.com/aliyun/fc-runtime-go-sdk v0.3.1 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/text v0.16.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
