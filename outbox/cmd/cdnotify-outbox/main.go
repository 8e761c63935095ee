// Command cdnotify-outbox lists, retries and discards the deliveries of a
// durable outbox (package github.com/codedefender/integrations/outbox):
//
//	cdnotify-outbox list|retry|discard --db sqlite:FILE|postgres://...
//
// cdnotify runs it for "cdnotify outbox ...". It lives in the outbox module,
// with the database drivers, so that cdnotify itself builds without them.
// See package outboxcli for the commands and their flags.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/codedefender/integrations/outbox/outboxcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := outboxcli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
