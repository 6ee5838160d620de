package emulator_test

import (
	"fmt"
	"log"
	"net/url"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// Example starts the local cloud and stores a secret through the real KMS
// client, signed with the fixture's function-role STS credentials.
func Example() {
	cloud := emulator.New(emulator.DefaultFixture())
	eps, err := cloud.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer cloud.Close()

	cred, err := credentials.NewCredential(&credentials.Config{
		Type:            tea.String("sts"),
		AccessKeyId:     tea.String(emulator.FixtureFunctionRoleKeyID),
		AccessKeySecret: tea.String("placeholder-function-role-secret-0001"),
		SecurityToken:   tea.String("CAISplaceholderFunctionRoleSecurityToken0001"),
	})
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(eps.KMS)
	client, err := kms.NewClient(&openapi.Config{
		Credential: cred, Endpoint: tea.String(u.Host), Protocol: tea.String("http"),
		RegionId: tea.String(emulator.FixtureLocation),
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = client.CreateSecret(&kms.CreateSecretRequest{
		SecretName: tea.String("example"), SecretData: tea.String("placeholder"), VersionId: tea.String("v1"),
		EncryptionKeyId: tea.String(emulator.FixtureKMSKeyAlias),
	})
	if err != nil {
		log.Fatal(err)
	}
	s, _ := cloud.Secret("example")
	fmt.Println(s.Versions[0].VersionID, s.Versions[0].Stages, cloud.Calls()[0].Params["SecretData"])
	// Output: v1 [ACSCurrent] ***
}
