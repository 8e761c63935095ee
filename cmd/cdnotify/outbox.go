package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// outboxCommand is the program that carries "cdnotify outbox": the outbox
// inspection commands live in the outbox module, which holds the database
// drivers, so that this program (and every user of the senders) builds
// without them. Like git's and kubectl's plugins, it is found on the PATH.
const outboxCommand = "cdnotify-outbox"

// outboxInstall says how to get it.
const outboxInstall = "go install github.com/codedefender/integrations/outbox/cmd/cdnotify-outbox@latest"

// runOutbox runs "cdnotify outbox ARGS" as cdnotify-outbox ARGS, with this
// program's standard streams, and returns its exit status.
func runOutbox(ctx context.Context, args []string, lookPath func(string) (string, error), stdin io.Reader,
	stdout, stderr io.Writer) int {
	path, err := lookPath(outboxCommand)
	if err != nil {
		fmt.Fprintf(stderr, "cdnotify: outbox: %s is not on the PATH; install it with\n  %s\n", outboxCommand, outboxInstall)
		return exitUsage
	}
	c := exec.CommandContext(ctx, path, args...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	err = c.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(stderr, "cdnotify: outbox: %v\n", err)
		return exitFailed
	}
}
