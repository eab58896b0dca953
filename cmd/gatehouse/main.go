// Command gatehouse is the Gatehouse control plane (`gatehouse serve`) and its
// command-line client. Each verb lives in its own file and registers itself
// with addVerb from an init function (see root.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
