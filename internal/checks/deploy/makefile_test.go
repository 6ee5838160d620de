package deploy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MustMake runs make in the repository with PATH set to path and stdin not
// a terminal (as in CI), and returns its combined output.
func MustMake(tb testing.TB, path string, args ...string) (string, error) {
	tb.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		tb.Skip("make is not installed")
	}
	cmd := exec.Command(mk, append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = MustRepoRoot(tb)
	// The test's own environment (Go's caches, proxy settings) with PATH
	// replaced.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+path)
	cmd.Stdin = nil // /dev/null: no terminal
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fakeS writes an `s` that prints its arguments and whether stdin is a
// terminal, and returns the directory to put first on PATH.
func fakeS(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	script := "#!/bin/sh\necho \"fake-s $*\"\nif [ -t 0 ]; then echo stdin-tty; else echo stdin-not-tty; fi\n"
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "s"), []byte(script), 0o755))
	return dir
}

// systemPath is a PATH with the shell tools make's recipes use and Go, but
// neither s nor Node.js.
func systemPath(tb testing.TB) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(tb, err)
	dir := tb.TempDir()
	// Only go, sh and the coreutils: a directory of links, so that an s or
	// npx installed next to them on this machine stays out of reach.
	for _, tool := range []string{"sh", "test", "ls", "mkdir", "cat", "grep", "awk", "git", "rm", "env", "dirname", "sed"} {
		if p, err := exec.LookPath(tool); err == nil {
			require.NoError(tb, os.Symlink(p, filepath.Join(dir, tool)))
		}
	}
	require.NoError(tb, os.Symlink(goBin, filepath.Join(dir, "go")))
	return dir
}

func TestMakeServerlessDevsTargets(t *testing.T) {
	path := fakeS(t) + ":" + systemPath(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"DeployPassesAccessAndArgs", []string{"deploy", "ACCESS=prod", "ARGS=--debug"}, []string{"fake-s deploy -a prod -y --debug", "stdin-not-tty"}},
		{"DeployDefaultAccess", []string{"deploy"}, []string{"fake-s deploy -a default -y"}},
		{"InvokeDefaultsToADryRun", []string{"invoke"}, []string{"fake-s invoke -a default -f events/dry-run/http-cloudsso.json", "stdin-not-tty"}},
		{"InvokeOtherEvent", []string{"invoke", "EVENT=dry-run/http-fabric.json", "ARGS=--silent"}, []string{"fake-s invoke -a default -f events/dry-run/http-fabric.json --silent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := MustMake(t, path, tt.args...)
			require.NoError(t, err, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
	t.Run("ErrInvokeNoSuchEvent", func(t *testing.T) {
		out, err := MustMake(t, path, "invoke", "EVENT=nope.json")
		require.Error(t, err)
		assert.Contains(t, out, "no such event file: events/nope.json")
		assert.NotContains(t, out, "fake-s")
	})
}

func TestMakeWithoutServerlessDevs(t *testing.T) {
	for _, target := range []string{"deploy", "invoke", "remove"} {
		t.Run(target, func(t *testing.T) {
			out, err := MustMake(t, systemPath(t), target)
			require.Error(t, err)
			assert.Contains(t, out, "neither 's' nor Node.js's 'npx' is on PATH")
			assert.Contains(t, out, "npm install -g @serverless-devs/s@")
		})
	}
}

// TestMakeNpxFallbackIsPinned checks that without s, the npx fallback runs
// a pinned version of Serverless Devs (make -n prints the command).
func TestMakeNpxFallbackIsPinned(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "npx"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	out, err := MustMake(t, dir+":"+systemPath(t), "-n", "deploy")
	require.NoError(t, err, out)
	assert.Regexp(t, `npx --yes @serverless-devs/s@\d+\.\d+\.\d+ deploy -a default`, out)
}

// TestMakePackage builds the package: outside s.yaml's code directory, with
// a SHA-256 file `sha256sum -c` accepts.
func TestMakePackage(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the function")
	}
	rel := t.TempDir()
	out, err := MustMake(t, systemPath(t), "package", "RELEASE="+rel, "VERSION=v0.0.0-test")
	require.NoError(t, err, out)
	zipPath := filepath.Join(rel, "pwreset.zip")
	b, err := os.ReadFile(zipPath)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	line, err := os.ReadFile(zipPath + ".sha256")
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(sum[:])+"  pwreset.zip\n", string(line))

	mk := MustParseMakefile(t)
	assert.False(t, strings.HasPrefix(filepath.Clean(mkVar(t, "PACKAGE")), filepath.Clean(mk.Dist)+string(filepath.Separator)),
		"PACKAGE must not be inside DIST (%s): s deploy uploads DIST", mk.Dist)
}

// mkVar reads a variable's default from the Makefile.
func mkVar(tb testing.TB, name string) string {
	tb.Helper()
	for _, m := range reMakeVar.FindAllStringSubmatch(string(MustReadFile(tb, "Makefile")), -1) {
		if m[1] == name {
			return strings.NewReplacer("$(RELEASE)", mkVarRaw(tb, "RELEASE")).Replace(m[2])
		}
	}
	tb.Fatalf("Makefile: %s is not set", name)
	return ""
}

func mkVarRaw(tb testing.TB, name string) string {
	tb.Helper()
	for _, m := range reMakeVar.FindAllStringSubmatch(string(MustReadFile(tb, "Makefile")), -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}
