// Command localcloud serves pwreset's local Alibaba Cloud (KMS, CloudSSO and
// BaaS) and the Function Compute runtime API on loopback for the demo and the
// end-to-end tests. It prints one NAME=URL line per endpoint on stdout
// (FC_RUNTIME_API as host:port, the form the runtime SDK takes), then serves
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Printf("localcloud: %v", err)
		os.Exit(1)
	}
}

// run starts the cloud described by args, writes its endpoints to stdout and
// serves until ctx is done.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localcloud", flag.ContinueOnError)
	fixture := fs.String("fixture", "", "JSON fixture file (default: the embedded seed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f := emulator.DefaultFixture()
	if *fixture != "" {
		var err error
		if f, err = emulator.LoadFixture(*fixture); err != nil {
			return err
		}
	}
	cloud := emulator.New(f)
	eps, err := cloud.Start()
	if err != nil {
		return err
	}
	defer cloud.Close()
	rt := emulator.NewRuntime()
	rtAddr, err := rt.Start()
	if err != nil {
		return err
	}
	defer rt.Close()
	if _, err := fmt.Fprintf(stdout, "KMS_ENDPOINT=%s\nCLOUDSSO_ENDPOINT=%s\nBAAS_ENDPOINT=%s\nKMS_ENCRYPTION_KEY_ID=%s\nFC_RUNTIME_API=%s\n",
		eps.KMS, eps.CloudSSO, eps.BaaS, emulator.FixtureKMSKeyID, rtAddr); err != nil {
		return fmt.Errorf("print endpoints: %w", err)
	}
	<-ctx.Done()
	return nil
}
