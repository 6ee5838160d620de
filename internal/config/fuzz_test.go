package config_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pwreset/pwreset/internal/aliyun"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/reset"
)

type nopResetter struct{}

func (nopResetter) ResetPassword(context.Context, reset.Target, string) error { return nil }

type nopStore struct{}

func (nopStore) CreateSecret(context.Context, string, string, []byte) error         { return nil }
func (nopStore) PutVersion(context.Context, string, string, []byte, []string) error { return nil }
func (nopStore) GetVersion(context.Context, string, string) (reset.SecretVersion, error) {
	return reset.SecretVersion{}, reset.ErrSecretNotFound
}
func (nopStore) GetStaged(context.Context, string, string) (reset.SecretVersion, error) {
	return reset.SecretVersion{}, reset.ErrSecretNotFound
}
func (nopStore) Promote(context.Context, string, string) error { return nil }
func (nopStore) Describe(context.Context, string) error        { return nil }

// FuzzLoad loads arbitrary values of the variables: Load never panics; a
// failure names a variable it read and never quotes an endpoint (which may
// hold credentials); a success is a configuration the rotator accepts.
func FuzzLoad(f *testing.F) {
	f.Add("http://127.0.0.1:8080", "pwreset/", "24", "", "d-00fc2p61ab12", "peers-a", "cn-hangzhou", "info")
	f.Add("https://user:secret@kms.example.com", "../", "7", "abc", "d-*", "", "", "loud")
	f.Add("kms.cn-hangzhou.aliyuncs.com", "a/b/", "32", "0O1l", "", "", "cn-shanghai", "debug")
	f.Fuzz(func(t *testing.T, endpoint, prefix, length, exclude, dirs, orgs, region, level string) {
		env := map[string]string{
			config.EnvKMSEndpoint: endpoint, config.EnvCloudSSOEndpoint: endpoint, config.EnvBaaSEndpoint: endpoint,
			config.EnvSecretNamePrefix: prefix, config.EnvPasswordLength: length, config.EnvPasswordExclude: exclude,
			config.EnvAllowedDirectoryIDs: dirs, config.EnvAllowedOrganizationIDs: orgs,
			config.EnvRegionID: region, config.EnvLogLevel: level, config.EnvKMSEncryptionKeyID: exclude + length,
		}
		read := map[string]bool{}
		cfg, err := config.Load(func(k string) string { read[k] = true; return env[k] })
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Variable == "" || ce.Rule == "" {
				t.Fatalf("error without a variable and a rule: %v", err)
			}
			if !read[ce.Variable] && !strings.HasPrefix(ce.Variable, "ALIBABA_CLOUD_") && !strings.HasPrefix(ce.Variable, "FC_") {
				t.Fatalf("error names %s, which Load did not read", ce.Variable)
			}
			if len(endpoint) >= 8 && strings.Contains(err.Error(), endpoint) && !quotedElsewhere(endpoint, prefix, length, exclude, dirs, orgs, region, level) {
				t.Fatalf("error quotes an endpoint")
			}
			return
		}
		if _, err := reset.NewRotator(cfg.RotatorConfig(), map[reset.Kind]reset.Resetter{reset.KindCloudSSO: nopResetter{}}, nopStore{}, reset.Deps{}); err != nil {
			t.Fatalf("Load accepted a configuration the rotator refuses: %v", err)
		}
		if _, err := aliyun.New(cfg.AliyunConfig(), aliyun.Options{}); err != nil {
			t.Fatalf("Load accepted a configuration the adapters refuse: %v", err)
		}
	})
}

// quotedElsewhere reports whether endpoint occurs in another variable's value,
// which Load may quote: then finding it in the error proves nothing.
func quotedElsewhere(endpoint string, others ...string) bool {
	for _, v := range others {
		if strings.Contains(v, endpoint) {
			return true
		}
	}
	return false
}
