// Command mkzip writes the deployment package of pwreset: a zip archive that
// holds one executable file. It exists so that `make package` needs nothing
// but Go (CI machines and fresh clones may have no zip binary).
//
// Usage:
//
//	go run ./internal/tools/mkzip -o release/pwreset.zip -name main dist/main
//
// Next to the archive it writes archive.sha256, one line in the format
// `sha256sum -c` checks: the hex SHA-256 of the archive, two spaces, its
// base name. The archive must not be written inside the directory s.yaml
// uploads (code: ./dist), or each deploy would upload the previous package
// inside the new one; the Makefile writes it to release/.
//
// The entry is stored under -name (the function's handler) with mode 0755:
// Function Compute runs the handler as a file in the code directory, and a
// zip entry without Unix permissions would unpack as non-executable.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("o", "", "path of the zip archive to write")
	name := flag.String("name", "", "name of the entry in the archive (the handler); default: the input's base name")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o archive.zip [-name entry] binary")
		os.Exit(2)
	}
	entry := *name
	if entry == "" {
		entry = filepath.Base(flag.Arg(0))
	}
	if err := write(*out, flag.Arg(0), entry); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
	if err := writeSum(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

// writeSum writes archive.sha256 for archive.
func writeSum(archive string) error {
	b, err := os.ReadFile(archive)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	line := hex.EncodeToString(sum[:]) + "  " + filepath.Base(archive) + "\n"
	return os.WriteFile(archive+".sha256", []byte(line), 0o644)
}

// write creates archive holding the file at src as an executable entry named
// entry. The archive is written to a temporary file and renamed into place,
// so a failed run never leaves a truncated package behind.
func write(archive, src, entry string) (err error) {
	if entry == "" || filepath.Base(entry) != entry {
		return fmt.Errorf("entry name %q must be a plain file name", entry)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}

	tmp, err := os.CreateTemp(filepath.Dir(archive), ".mkzip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	zw := zip.NewWriter(tmp)
	hdr := &zip.FileHeader{
		Name:   entry,
		Method: zip.Deflate,
		// A fixed time keeps the archive reproducible for the same binary.
		Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err = io.Copy(w, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err = zw.Close(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), archive); err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}
