// Command readonce is a one-time secret API: the first read of a secret destroys it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/readonce/readonce/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop() // os.Exit skips it; the process is ending anyway
	if err := run(ctx, os.Args[1:], environ(os.Environ()), os.Stdout, os.Stderr); err != nil {
		var exit *cli.ExitError
		if errors.As(err, &exit) { // a client command: it has said why
			os.Exit(exit.Code)
		}
		fmt.Fprintln(os.Stderr, "readonce:", err)
		os.Exit(1)
	}
}
