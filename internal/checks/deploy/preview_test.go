package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerlessDevsPreviewAgrees runs Serverless Devs itself, when it is
// installed, on the shipped s.yaml in two regions: `s preview` resolves the
// magic variables offline (it needs an access entry for
// ${config('AccountID')}, written here into a throwaway HOME). Its props
// must equal the Go resolution every other test checks, so the tests check
// what s deploys. Without s the test is skipped: the tests never need
// Node.js.
func TestServerlessDevsPreviewAgrees(t *testing.T) {
	sBin, err := exec.LookPath("s")
	if err != nil {
		t.Skip("Serverless Devs (s) is not installed; the Go resolution alone is checked")
	}
	home := t.TempDir()
	run := func(t *testing.T, env []string, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, sBin, args...)
		cmd.Dir = MustRepoRoot(t)
		cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "s %s: %s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.Bytes()
	}
	run(t, nil, "config", "add", "-a", "default", "--AccessKeyID", "LTAI5tPreviewOnly00001",
		"--AccessKeySecret", "preview-only-not-a-secret", "--AccountID", testAccountID, "-f")

	for _, region := range []string{"cn-hangzhou", "cn-shanghai"} {
		t.Run(region, func(t *testing.T) {
			vars := map[string]string{"PWRESET_REGION": region}
			env := []string{"PWRESET_REGION=" + region}
			for k, v := range requiredEnv {
				env = append(env, k+"="+v)
			}
			out := run(t, env, "preview", "-o", "json")
			// s prints warnings (e.g. about running as root) before the JSON.
			i := bytes.IndexByte(out, '{')
			require.GreaterOrEqual(t, i, 0, "no JSON in s preview's output: %s", out)
			var got struct {
				Resources map[string]struct {
					Component string         `json:"component"`
					Props     map[string]any `json:"props"`
				} `json:"resources"`
			}
			dec := json.NewDecoder(bytes.NewReader(out[i:]))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&got))

			want := MustLoadSpecEnv(t, vars)
			require.Len(t, got.Resources, len(want.Resources))
			for name, r := range want.Resources {
				g, ok := got.Resources[name]
				require.True(t, ok, "s preview has no resource %s", name)
				assert.Equal(t, r.Component, g.Component)
				assert.Equal(t, jsonValue(t, r.Props), jsonValue(t, g.Props), "s preview and the Go resolution differ for %s", name)
				found := map[string]string{}
				arns(jsonValue(t, g.Props), "props", found)
				for where, arn := range found {
					m := reARN.FindStringSubmatch(arn)
					if m[1] != "ram" {
						assert.Equal(t, region, m[2], "s preview: %s: %s", where, arn)
					}
					assert.Equal(t, testAccountID, m[3], "s preview: %s: %s", where, arn)
				}
			}
		})
	}
}
