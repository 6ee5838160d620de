// Command ebsetup creates or updates the EventBridge side of a pwreset
// deployment: the custom bus, the rule matching reset requests, and the
// function as its target (see package ebsetup). `make eventbridge` runs it
// after `make deploy`; `make remove` runs it with -remove.
//
// It reads the region, the function and the bus, rule, source and type
// from s.yaml (the same values the function is deployed with), and signs
// with the deployer's credentials from credentials-go's default chain:
// ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (with
// ALIBABA_CLOUD_SECURITY_TOKEN for STS), or a profile. Exit status: 0 done,
// 1 a call failed, 2 bad flags or configuration (no call made).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/pwreset/pwreset/internal/checks/deploy"
	"github.com/pwreset/pwreset/internal/tools/ebsetup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, defaultCredential)
	stop()
	os.Exit(code)
}

func defaultCredential() (credentials.Credential, error) { return credentials.NewCredential(nil) }

// run is main without the process: flags, environment, output and the
// credential source come in, the exit status goes out.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer,
	newCredential func() (credentials.Credential, error)) int {
	fs := flag.NewFlagSet("ebsetup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(k string) string { v, _ := lookupEnv(k); return v }
	specPath := fs.String("spec", "s.yaml", "the Serverless Devs spec the function was deployed with")
	account := fs.String("account-id", env("PWRESET_ACCOUNT_ID"), "the account the function is deployed to (default $PWRESET_ACCOUNT_ID)")
	endpoint := fs.String("endpoint", "", "EventBridge management endpoint, host[:port] or URL (default eventbridge-console.<region>.aliyuncs.com)")
	remove := fs.Bool("remove", false, "delete the rule and the bus instead")
	dryRun := fs.Bool("dry-run", false, "print what would be created, call nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ebsetup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *account == "" {
		fmt.Fprintln(stderr, "ebsetup: -account-id (or PWRESET_ACCOUNT_ID) is required: the account the function is deployed to")
		return 2
	}
	spec, err := deploy.Load(*specPath, deploy.Env{AccountID: *account, Getenv: lookupEnv})
	if err != nil {
		fmt.Fprintf(stderr, "ebsetup: %v\n", err)
		return 2
	}
	setup, err := ebsetup.FromSpec(spec, *account)
	if err != nil {
		fmt.Fprintf(stderr, "ebsetup: %v\n", err)
		return 2
	}
	if *dryRun {
		fmt.Fprintf(stdout, "region:   %s\nbus:      %s\nrule:     %s\npattern:  %s\ntarget:   %s (asynchronous)\n",
			setup.Region, setup.Bus, setup.Rule, setup.Pattern(), setup.FunctionARN())
		return 0
	}
	cred, err := newCredential()
	if err != nil {
		fmt.Fprintf(stderr, "ebsetup: no credentials (set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or a profile): %v\n", err)
		return 2
	}
	client, err := ebsetup.NewClient(ebsetup.Config{Region: setup.Region, Endpoint: *endpoint, Credential: cred})
	if err != nil {
		fmt.Fprintf(stderr, "ebsetup: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	do := client.Apply
	if *remove {
		do = client.Remove
	}
	steps, err := do(ctx, setup)
	for _, s := range steps {
		fmt.Fprintln(stdout, s)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ebsetup: %v\n", err)
		if errors.Is(err, ebsetup.ErrInvalid) {
			return 2
		}
		return 1
	}
	return 0
}
