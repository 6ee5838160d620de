package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, nil, pw)
		_ = pw.Close()
		done <- err
	}()

	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(env) < 3 && sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, "NAME=URL line: %q", sc.Text())
		env[k] = v
	}
	for _, name := range []string{"KMS_ENDPOINT", "CLOUDSSO_ENDPOINT", "BAAS_ENDPOINT"} {
		require.True(t, strings.HasPrefix(env[name], "http://127.0.0.1:"), "%s=%q", name, env[name])
		resp, err := http.Post(env[name]+"/", "", nil)
		require.NoError(t, err)
		var body map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		assert.NotEmpty(t, body["RequestId"], name)
		assert.Equal(t, "MissingParameter", body["Code"], name)
	}

	cancel()
	require.NoError(t, <-done)
}

func TestRunBadFixture(t *testing.T) {
	err := run(context.Background(), []string{"-fixture", filepath.Join(t.TempDir(), "absent.json")}, io.Discard)
	require.Error(t, err)
}
