// Command demo shows pwreset at work with no account and no network: it
// builds the function, starts the local cloud and Function Compute runtime,
// runs the real binary under them, sends every sample event in events/, and
// prints for each the response, the secret's versions in the local KMS, the
// outcome events it published to the local EventBridge bus, the
// function's log lines and a check that the password now in effect on each
// target is the one staged ACSCurrent. Then a fleet run: a selector over a
// small seeded directory, and a sweep that finishes a rotation a fault left
// unfinished. It never prints a password, and exits non-zero if any check
// fails.
//
//	go run ./internal/tools/demo [-binary path] [-events dir]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// errChecksFailed is returned when the demo ran but something it checks did
// not hold.
var errChecksFailed = errors.New("some checks failed")

// demoBus is the local EventBridge bus the function publishes its outcome
// events to (EVENT_BUS_NAME).
const demoBus = "pwreset-outcomes"

// invokeTimeout bounds one invocation; the samples finish in milliseconds.
const invokeTimeout = 60 * time.Second

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	binary := fs.String("binary", "", "the built function (default: build it now with go build)")
	events := fs.String("events", "events", "directory of sample events; every *.json file is sent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(*events, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no sample events in %s", *events)
	}
	sort.Strings(files)

	if *binary == "" {
		dir, err := os.MkdirTemp("", "pwreset-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*binary = filepath.Join(dir, "main")
		fmt.Fprintf(stdout, "Building the function (%s)…\n", localrun.FunctionPackage)
		if err := localrun.Build(ctx, *binary); err != nil {
			return err
		}
	}

	stack, err := localrun.Start(ctx, localrun.Config{Binary: *binary, EventBus: demoBus})
	if err != nil {
		return err
	}
	defer stack.Close()
	fmt.Fprintf(stdout, "Local cloud: KMS %s, CloudSSO %s, BaaS %s\n", stack.Endpoints.KMS, stack.Endpoints.CloudSSO, stack.Endpoints.BaaS)
	fmt.Fprintf(stdout, "Function Compute runtime API: %s; invocations carry the role credentials %s\n", stack.RuntimeAddr, stack.Role.AccessKeyID)

	fmt.Fprintf(stdout, "Outcome events go to the local EventBridge bus %s\n", demoBus)
	d := &demo{stack: stack, out: stdout}
	for i, file := range files {
		if err := d.send(ctx, i+1, file); err != nil {
			return err
		}
	}
	if err := d.fleet(ctx, len(files)+1); err != nil {
		return err
	}
	// The whole of the function's output, not only the lines shown above.
	fmt.Fprintln(stdout)
	d.check(!stack.ContainsPassword(stack.Output.String()), "no password in anything the function printed (%d lines)", strings.Count(stack.Output.String(), "\n"))
	fmt.Fprintf(stdout, "\n%d events sent, a directory run and a sweep, %d checks passed, %d failed.\n", len(files), d.passed, d.failed)
	if d.failed > 0 {
		return fmt.Errorf("%d of %d: %w", d.failed, d.passed+d.failed, errChecksFailed)
	}
	return nil
}

// demo sends events and reports on them.
type demo struct {
	stack          *localrun.Stack
	out            io.Writer
	passed, failed int
	seenEvents     int // events of the bus already shown
}

func (d *demo) check(ok bool, format string, args ...any) {
	verdict := "OK"
	if ok {
		d.passed++
	} else {
		d.failed++
		verdict = "FAILED"
	}
	fmt.Fprintf(d.out, "  check: %s: %s\n", fmt.Sprintf(format, args...), verdict)
}

// show prints text indented, unless it holds a password: that would be a
// leak, and is reported as a failed check instead of shown.
func (d *demo) show(what, text string) {
	if d.stack.ContainsPassword(text) {
		d.check(false, "%s holds no password", what)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintln(d.out, "    "+line)
	}
}

// send invokes the function with one event file and reports what happened.
func (d *demo) send(ctx context.Context, n int, file string) error {
	name := strings.TrimSuffix(filepath.Base(file), ".json")
	event, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n== %d. %s (%s)\n", n, name, file)
	ictx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	requestID := fmt.Sprintf("demo-%02d-%s", n, name)
	out, err := d.stack.Invoke(ictx, event, emulator.Invocation{RequestID: requestID})
	if err != nil {
		return err
	}
	answer, err := localrun.Decode(event, out)
	if err != nil {
		d.check(false, "the response follows the contract (%v)", err)
		return nil
	}

	d.printResponse(answer, out)
	d.check(answer.OK(), "the invocation succeeded")
	for _, r := range answer.Results() {
		d.printSecret(r.SecretName)
	}
	d.printEvents(answer)
	fmt.Fprintln(d.out, "  function log:")
	logs, err := d.stack.Logs(ictx, requestID)
	if err != nil {
		return err
	}
	d.show("the log", strings.Join(logs, "\n"))
	for _, r := range answer.Results() {
		err := d.stack.CheckInEffect(r)
		d.check(err == nil, "password in effect on %s == ACSCurrent of %s", r.TargetName(), r.SecretName)
		if err != nil {
			fmt.Fprintf(d.out, "    %v\n", err)
		}
	}
	return nil
}

func (d *demo) printResponse(a localrun.Answer, out emulator.Outcome) {
	switch {
	case a.FunctionError != nil:
		fmt.Fprintf(d.out, "  function error (%s):\n", a.FunctionError.Type)
		d.show("the function error", a.FunctionError.Message)
		return
	case a.HTTP != nil:
		fmt.Fprintf(d.out, "  response: HTTP %d\n", a.HTTP.StatusCode)
		body := prettyRaw([]byte(a.HTTP.Body))
		if a.HTTP.IsBase64Encoded {
			body = pretty(a.Responses[0])
		}
		d.show("the response", body)
	default:
		fmt.Fprintln(d.out, "  response:")
		d.show("the response", prettyRaw(out.Payload))
	}
}

// printSecret lists a secret's versions and stages, never their data.
func (d *demo) printSecret(name string) {
	sec, ok := d.stack.Cloud.Secret(name)
	if !ok {
		fmt.Fprintf(d.out, "  secret %s: not in the local KMS\n", name)
		return
	}
	fmt.Fprintf(d.out, "  secret %s in the local KMS:\n", name)
	for _, v := range sec.Versions {
		stages := strings.Join(v.Stages, ",")
		if stages == "" {
			stages = "-"
		}
		fmt.Fprintf(d.out, "    version %-40s stages %-24s created %s\n", v.VersionID, stages, v.Created.UTC().Format(time.RFC3339))
	}
}

// printEvents prints the outcome events this invocation published (the
// bus's events since the last call), and checks one per result of a
// rotation, none for a dry run.
func (d *demo) printEvents(a localrun.Answer) {
	all := d.stack.Cloud.PublishedEvents()
	fresh := all[min(d.seenEvents, len(all)):]
	d.seenEvents = len(all)
	fmt.Fprintf(d.out, "  outcome events on %s:\n", demoBus)
	for _, e := range fresh {
		d.show("an outcome event", fmt.Sprintf("%s  %s  id %s\n  data %s", e.Type, e.Subject, e.ID, e.Data))
	}
	want := 0
	for _, r := range a.Results() {
		if r.Status != "validated" {
			want++
			if r.RolledForward != "" {
				want++
			}
		}
	}
	d.check(len(fresh) == want, "%d outcome events published, one per rotated target (dry runs publish none)", len(fresh))
}

func pretty(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func prettyRaw(b []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}

// fleetDirectory is the directory the fleet part seeds with users.
const fleetDirectory = emulator.FixtureDirectoryID

// fleet shows a directory run and a sweep: it seeds eight "ops-" users (two
// disabled) into the local directory, rotates every enabled one with a
// selector, leaves one user's next rotation unfinished (every answer of its
// reset lost after the reset took effect), and sweeps: the sweep finishes
// that rotation from the secret alone and reports the rest healthy.
func (d *demo) fleet(ctx context.Context, n int) error {
	var users []emulator.SSOUser
	enabled := 0
	for i := range 8 {
		u := emulator.SSOUser{ID: fmt.Sprintf("u-demofleet%02d", i), Name: fmt.Sprintf("ops-%02d", i), Password: fmt.Sprintf("Seeded#Demo-%02d", i)}
		if i%4 == 3 {
			u.Status = "Disabled"
		} else {
			enabled++
		}
		users = append(users, u)
	}
	d.check(d.stack.Cloud.AddSSOUsers(fleetDirectory, users...), "seeded %d users into %s", len(users), fleetDirectory)
	events := len(d.stack.Cloud.PublishedEvents())

	sel := fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"select":{"status":"Enabled","userNamePrefix":"ops-"},"maxTargets":20}`, fleetDirectory)
	a, err := d.invoke(ctx, n, "directory run: every enabled ops- user", []byte(sel))
	if err != nil {
		return err
	}
	rotated := 0
	for _, r := range a.Results() {
		if r.Status == "rotated" {
			rotated++
		}
		err := d.stack.CheckInEffect(r)
		d.check(err == nil, "password in effect on %s == ACSCurrent of %s", r.TargetName(), r.SecretName)
	}
	d.check(a.OK() && rotated == enabled && len(a.Results()) == enabled, "%d of %d matching users rotated (disabled ones not selected)", rotated, enabled)
	d.checkEvents(events, rotated, 0)

	// A rotation left unfinished: each answer of the reset is lost after
	// it took effect, so the new password stays in the pending version.
	victim := users[1]
	d.stack.Cloud.DropAfterApply("ResetUserPassword", 5)
	one := fmt.Sprintf(`{"target":"cloudsso","directoryId":%q,"userId":%q}`, fleetDirectory, victim.ID)
	a, err = d.invoke(ctx, n+1, "a rotation of "+victim.ID+" whose reset answers are lost", []byte(one))
	if err != nil {
		return err
	}
	d.stack.Cloud.ClearFaults()
	d.check(!a.OK(), "the rotation is reported failed, its password kept in ACSPending")
	d.printSecret(fmt.Sprintf("pwreset/cloudsso/%s/%s", fleetDirectory, victim.ID))
	events = len(d.stack.Cloud.PublishedEvents())

	a, err = d.invoke(ctx, n+2, "the sweep", []byte(`{"sweep":{}}`))
	if err != nil {
		return err
	}
	finished, healthy := 0, 0
	for _, r := range a.Results() {
		switch {
		case r.Status == "rotated" && r.RolledForward != "":
			finished++
			err := d.stack.CheckInEffect(r)
			d.check(err == nil, "password in effect on %s == ACSCurrent of %s", r.TargetName(), r.SecretName)
			d.printSecret(r.SecretName)
		case r.Status == "healthy":
			healthy++
		}
	}
	d.check(a.OK() && finished == 1, "the sweep finished %d unfinished rotation (want 1); %d secrets healthy", finished, healthy)
	d.checkEvents(events, 0, finished)
	return nil
}

// invoke sends one request as a direct invocation and prints its answer
// and log.
func (d *demo) invoke(ctx context.Context, n int, what string, payload []byte) (localrun.Answer, error) {
	fmt.Fprintf(d.out, "\n== %d. %s\n", n, what)
	d.show("the request", prettyRaw(payload))
	ictx, cancel := context.WithTimeout(ctx, invokeTimeout)
	defer cancel()
	requestID := fmt.Sprintf("demo-%02d-fleet", n)
	out, err := d.stack.Invoke(ictx, payload, emulator.Invocation{RequestID: requestID})
	if err != nil {
		return localrun.Answer{}, err
	}
	a, err := localrun.Decode(payload, out)
	if err != nil {
		d.check(false, "the response follows the contract (%v)", err)
		return a, nil
	}
	d.printResponse(a, out)
	logs, err := d.stack.Logs(ictx, requestID)
	if err != nil {
		return a, err
	}
	fmt.Fprintln(d.out, "  function log:")
	d.show("the log", strings.Join(logs, "\n"))
	return a, nil
}

// checkEvents prints the events published since the first from and checks
// a fleet run's: one Succeeded per rotated target, one RolledForward per
// rotation a sweep finished, nothing for healthy or drift secrets, and one
// Run:Completed.
func (d *demo) checkEvents(from, rotated, finished int) {
	all := d.stack.Cloud.PublishedEvents()
	fresh := all[min(from, len(all)):]
	d.seenEvents = len(all)
	counts := map[string]int{}
	fmt.Fprintf(d.out, "  outcome events on %s:\n", demoBus)
	for _, e := range fresh {
		counts[e.Type]++
		d.show("an outcome event", fmt.Sprintf("%s  %s", e.Type, e.Subject))
	}
	want := map[string]int{"pwreset:Run:Completed": 1}
	if rotated > 0 {
		want["pwreset:Rotation:Succeeded"] = rotated
	}
	if finished > 0 {
		want["pwreset:Rotation:RolledForward"] = finished
	}
	d.check(fmt.Sprint(counts) == fmt.Sprint(want), "outcome events %v (want %v)", counts, want)
}
