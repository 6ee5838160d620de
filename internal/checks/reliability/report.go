package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Report holds the figures of one run of the reliability suite's soak and
// fault matrix. It never holds a password: only counts and names.
type Report struct {
	Seed        int64 `json:"seed"`
	Rotations   int   `json:"rotations"`   // rotations asked for (distinct idempotency keys)
	Invocations int   `json:"invocations"` // handler invocations, first tries and retries
	Retries     int   `json:"retries"`     // invocations that repeated an idempotency key
	// FaultsInjected counts armed faults by kind ("error-5xx", "throttled",
	// "latency", "drop-before-apply", "drop-after-apply").
	FaultsInjected map[string]int `json:"faultsInjected"`
	// FaultsHit counts the cloud calls a fault actually changed, by kind.
	FaultsHit     map[string]int `json:"faultsHit"`
	CloudCalls    int            `json:"cloudCalls"`
	PasswordsLost int            `json:"passwordsLost"` // targets whose ACSCurrent does not hold the password in effect
	// Abandoned counts rotations whose caller gave up after a failure;
	// each may have applied a password the account's next rotation replaced.
	Abandoned      int `json:"abandoned"`
	ExtraPasswords int `json:"extraPasswords"` // passwords applied beyond one per finished rotation
	Leaks          int `json:"leaks"`          // outputs holding an accepted password
	// MatrixCells and MatrixPassed count the fault matrix's cells.
	MatrixCells  int    `json:"matrixCells"`
	MatrixPassed int    `json:"matrixPassed"`
	Command      string `json:"command"` // the command that reproduces the run
	GoVersion    string `json:"goVersion"`
}

// Markers delimit the generated part of the reliability document; the text
// around them is written by hand and kept.
const (
	BeginMarker = "<!-- reliability:figures:begin -->"
	EndMarker   = "<!-- reliability:figures:end -->"
)

// ErrNoMarkers is returned by UpdateDocument when the document lacks the
// markers that delimit its generated part.
var ErrNoMarkers = errors.New("reliability: document has no figures markers")

// Markdown renders r as the generated part of docs/RELIABILITY.md: a table
// of the figures, the JSON they came from, and the command.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	rows := [][2]string{
		{"seed", fmt.Sprint(r.Seed)},
		{"rotations", fmt.Sprint(r.Rotations)},
		{"invocations (first tries and retries)", fmt.Sprint(r.Invocations)},
		{"retries with the same idempotency key", fmt.Sprint(r.Retries)},
		{"faults injected", fmt.Sprint(sum(r.FaultsInjected))},
		{"cloud calls a fault changed", fmt.Sprint(sum(r.FaultsHit))},
		{"cloud calls", fmt.Sprint(r.CloudCalls)},
		{"fault matrix cells passed", fmt.Sprintf("%d of %d", r.MatrixPassed, r.MatrixCells)},
		{"**passwords lost**", fmt.Sprintf("**%d**", r.PasswordsLost)},
		{"rotations abandoned by their caller", fmt.Sprint(r.Abandoned)},
		{"passwords applied beyond one per finished rotation (at most one per abandoned one)", fmt.Sprint(r.ExtraPasswords)},
		{"**passwords leaked**", fmt.Sprintf("**%d**", r.Leaks)},
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], row[1])
	}
	if len(r.FaultsInjected) > 0 {
		fmt.Fprintf(&b, "\nFaults by kind (injected / hit):\n\n")
		for _, k := range sortedKeys(r.FaultsInjected) {
			fmt.Fprintf(&b, "- %s: %d / %d\n", k, r.FaultsInjected[k], r.FaultsHit[k])
		}
	}
	js, _ := json.MarshalIndent(r, "", "  ") // a struct of numbers, strings and maps of ints
	fmt.Fprintf(&b, "\n```json\n%s\n```\n", js)
	if r.Command != "" {
		fmt.Fprintf(&b, "\nReproduce with:\n\n```sh\n%s\n```\n", r.Command)
	}
	return b.String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Splice returns doc with the text between BeginMarker and EndMarker
// replaced by r's Markdown, or ErrNoMarkers.
func Splice(doc []byte, r Report) ([]byte, error) {
	begin := bytes.Index(doc, []byte(BeginMarker))
	end := bytes.Index(doc, []byte(EndMarker))
	if begin < 0 || end < begin {
		return nil, ErrNoMarkers
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(BeginMarker)])
	out.WriteString("\n")
	out.WriteString(r.Markdown())
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// UpdateDocument rewrites the generated part of the document at path with
// r's figures, keeping the rest.
func UpdateDocument(path string, r Report) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reliability: %w", err)
	}
	out, err := Splice(doc, r)
	if err != nil {
		return fmt.Errorf("%w: %s", err, path)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("reliability: %w", err)
	}
	return nil
}
