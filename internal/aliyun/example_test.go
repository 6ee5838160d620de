package aliyun_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/reset"
)

// ExampleNew builds the clients once per instance and signs each call with
// the invocation's credentials, taken from its context.
func ExampleNew() {
	kms, err := aliyun.ParseEndpoint(aliyun.ServiceKMS, "http://127.0.0.1:1") // nothing listens here: the call fails as unavailable
	if err != nil {
		fmt.Println(err)
		return
	}
	clients, err := aliyun.New(aliyun.Config{
		RegionID:           "cn-hangzhou",
		KMS:                kms,
		KMSEncryptionKeyID: "alias/pwreset", // a symmetric key of the KMS instance
	}, aliyun.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := reset.WithCredentials(context.Background(), reset.Credentials{
		AccessKeyID: "STS.NTexample", AccessKeySecret: "example-secret", SecurityToken: "CAISexample",
	})
	err = clients.Secrets.Describe(ctx, "pwreset/cloudsso/d-00fc2p61ab12/u-00q8wbq42wiltcrkab12")
	fmt.Println(reset.ErrorCodeOf(err), errors.Is(err, reset.ErrSecretNotFound))
	fmt.Println(len(clients.Resetters()))
	// Output:
	// unavailable false
	// 2
}
