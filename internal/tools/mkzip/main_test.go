package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "bin-under-test")
	content := []byte("\x7fELF not really a binary")
	require.NoError(t, os.WriteFile(src, content, 0o600))

	tests := []struct {
		name    string
		entry   string
		wantErr bool
	}{
		{name: "OK", entry: "main"},
		{name: "ErrEntryWithDirectory", entry: "bin/main", wantErr: true},
		{name: "ErrEmptyEntry", entry: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "pkg.zip")
			err := write(archive, src, tt.entry)
			if tt.wantErr {
				require.Error(t, err)
				assert.NoFileExists(t, archive)
				return
			}
			require.NoError(t, err)

			zr, err := zip.OpenReader(archive)
			require.NoError(t, err)
			defer zr.Close()
			require.Len(t, zr.File, 1)
			f := zr.File[0]
			assert.Equal(t, tt.entry, f.Name)
			assert.Equal(t, os.FileMode(0o755), f.Mode().Perm(), "the handler must unpack as an executable")
			rc, err := f.Open()
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, rc.Close())
			require.NoError(t, err)
			assert.Equal(t, content, got)
		})
	}
}

func TestWriteMissingInput(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "pkg.zip")
	err := write(archive, filepath.Join(dir, "absent"), "main")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NoFileExists(t, archive)
}

func TestWriteReproducible(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main")
	require.NoError(t, os.WriteFile(src, []byte("same input"), 0o755))
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	require.NoError(t, write(a, src, "main"))
	require.NoError(t, write(b, src, "main"))
	ga, err := os.ReadFile(a)
	require.NoError(t, err)
	gb, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, ga, gb, "the same binary must give the same archive")
}

func TestWriteSum(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "pwreset.zip")
	require.NoError(t, os.WriteFile(archive, []byte("zip bytes"), 0o600))
	require.NoError(t, writeSum(archive))
	got, err := os.ReadFile(archive + ".sha256")
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("zip bytes"))
	assert.Equal(t, hex.EncodeToString(sum[:])+"  pwreset.zip\n", string(got), "the format `sha256sum -c` reads")

	require.ErrorIs(t, writeSum(filepath.Join(dir, "absent.zip")), os.ErrNotExist)
}
