package reliability_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

// reportPath, when set, makes TestSoak write its figures into that document
// (between reliability.BeginMarker and EndMarker).
var reportPath = flag.String("report", "", "write the soak's figures into this Markdown document")

// canary is the leak canary of the whole package run; see TestMain.
var canary = &leakCanary{}

// TestMain runs the suite with the process's stdout and stderr (and the log
// package) going through a pipe that also records them, so the leak canary
// sees every byte the suite prints — test logs, failure messages, panics —
// as well as every response, log line and error the tests handed it. After
// the run, every password any of the suite's clouds accepted is searched for
// in all of it, in the encodings a transport or a log could give it. A hit
// fails the run and is reported by count only.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	stdout, stderr := os.Stdout, os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(io.MultiWriter(stdout, canary.newWriter("test output")), r)
	}()
	os.Stdout, os.Stderr = w, w
	log.SetOutput(w)

	code := m.Run()

	os.Stdout, os.Stderr = stdout, stderr
	log.SetOutput(stderr)
	_ = w.Close()
	<-copied
	cleanupBinary()

	texts, bytes, passwords, hits := canary.scan()
	fmt.Fprintf(stdout, "leak canary: %d passwords accepted by %d clouds, searched in %d texts (%d bytes): %d hits\n",
		passwords, canary.cloudCount(), texts, bytes, len(hits))
	if len(hits) > 0 {
		for _, h := range hits {
			fmt.Fprintf(stdout, "leak canary: a password appears in %s\n", h)
		}
		return 1
	}
	if passwords == 0 && code == 0 && !testing.Short() && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(stdout, "leak canary: no cloud accepted any password: the canary proved nothing")
		return 1
	}
	return code
}

// leakCanary collects every text the suite produced and every cloud it ran.
type leakCanary struct {
	mu     sync.Mutex
	texts  []labelled
	clouds []*emulator.Cloud
	extra  []string // passwords known by other means (the binary's cloud)
}

type labelled struct {
	label string
	text  string
}

// Add records text (a response, a log, an error) under label.
func (c *leakCanary) Add(label, text string) {
	if text == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append(c.texts, labelled{label, text})
}

// AddJSON records v's JSON.
func (c *leakCanary) AddJSON(label string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.Add(label, fmt.Sprintf("%#v", v))
		return
	}
	c.Add(label, string(b))
}

// AddError records err's whole text, its chain included: SDK error texts
// end up here.
func (c *leakCanary) AddError(label string, err error) {
	if err != nil {
		c.Add(label, err.Error()+" | "+fmt.Sprintf("%+v", err))
	}
}

// Watch registers a cloud whose accepted passwords are searched for.
func (c *leakCanary) Watch(cloud *emulator.Cloud) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clouds = append(c.clouds, cloud)
}

func (c *leakCanary) cloudCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.clouds)
}

type canaryWriter struct {
	c       *leakCanary
	label   string
	mu      sync.Mutex
	buf     strings.Builder
	written chan struct{} // closed (and replaced) by each Write
}

func (w *canaryWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.written != nil {
		close(w.written)
		w.written = nil
	}
	return len(p), nil
}

// WaitFor waits until the text written holds s, or ctx ends; it reports
// whether it does.
func (w *canaryWriter) WaitFor(ctx context.Context, s string) bool {
	for {
		w.mu.Lock()
		if strings.Contains(w.buf.String(), s) {
			w.mu.Unlock()
			return true
		}
		if w.written == nil {
			w.written = make(chan struct{})
		}
		ch := w.written
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// String returns every byte written so far.
func (w *canaryWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// passwordForms are the encodings a password may take in a text: as is,
// URL-encoded (a query string), and JSON-escaped (a log line).
func passwordForms(p string) []string {
	forms := []string{p, url.QueryEscape(p), url.PathEscape(p)}
	if b, err := json.Marshal(p); err == nil {
		forms = append(forms, strings.Trim(string(b), `"`))
	}
	return forms
}

// Check fails tb if any text recorded so far holds a password, naming the
// texts' labels only.
func (c *leakCanary) Check(tb testing.TB) {
	tb.Helper()
	_, _, _, hits := c.scan()
	require.Empty(tb, hits, "texts holding an accepted password")
}

// scan searches every text for every accepted password.
func (c *leakCanary) scan() (texts, size, passwords int, hits []string) {
	c.mu.Lock()
	all := append([]labelled(nil), c.texts...)
	clouds := append([]*emulator.Cloud(nil), c.clouds...)
	pw := append([]string(nil), c.extra...)
	c.mu.Unlock()
	for _, w := range registeredWriters() {
		all = append(all, labelled{w.label, w.String()})
	}
	for _, cl := range clouds {
		pw = append(pw, cl.AcceptedPasswords()...)
		// Every outcome event a bus of the cloud accepted, whole.
		for _, e := range cl.PublishedEvents() {
			all = append(all, labelled{"published event " + e.Type + " " + e.ID, string(e.Raw)})
		}
	}
	idx := newFormIndex(pw)
	for _, t := range all {
		if idx.found(t.text) {
			hits = append(hits, t.label)
		}
	}
	for _, t := range all {
		size += len(t.text)
	}
	return len(all), size, idx.passwords, hits
}

// formIndex finds any form of any password in a text in one pass: forms
// are indexed by their first indexLen bytes, and a text is slid over once,
// the whole form compared only where its head matches.
type formIndex struct {
	passwords int
	heads     map[string][]string
	short     []string // forms shorter than indexLen, searched one by one
}

const indexLen = 6

func newFormIndex(passwords []string) formIndex {
	idx := formIndex{heads: map[string][]string{}}
	seen := map[string]bool{}
	for _, p := range passwords {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		idx.passwords++
		for _, f := range passwordForms(p) {
			if len(f) < indexLen {
				idx.short = append(idx.short, f)
				continue
			}
			idx.heads[f[:indexLen]] = append(idx.heads[f[:indexLen]], f)
		}
	}
	return idx
}

func (idx formIndex) found(text string) bool {
	for _, f := range idx.short {
		if strings.Contains(text, f) {
			return true
		}
	}
	if len(idx.heads) == 0 {
		return false
	}
	for i := 0; i+indexLen <= len(text); i++ {
		for _, f := range idx.heads[text[i:i+indexLen]] {
			if strings.HasPrefix(text[i:], f) {
				return true
			}
		}
	}
	return false
}

var (
	writersMu sync.Mutex
	writers   []*canaryWriter
)

// registeredWriters returns the writers made by newWriter.
func registeredWriters() []*canaryWriter {
	writersMu.Lock()
	defer writersMu.Unlock()
	return append([]*canaryWriter(nil), writers...)
}

// newWriter returns a writer whose bytes the canary scans at the end.
func (c *leakCanary) newWriter(label string) *canaryWriter {
	w := &canaryWriter{c: c, label: label}
	writersMu.Lock()
	writers = append(writers, w)
	writersMu.Unlock()
	return w
}

// The binary, built once on first need.
var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// MustBinary builds the function as it is deployed, once per run.
func MustBinary(tb testing.TB) string {
	tb.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "pwreset-reliability-")
		if binaryErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		binaryPath = filepath.Join(binaryDir, "main")
		binaryErr = localrun.Build(ctx, binaryPath)
	})
	require.NoError(tb, binaryErr)
	return binaryPath
}

func cleanupBinary() {
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
}
