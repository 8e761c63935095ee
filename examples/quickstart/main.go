// Command quickstart shows the library end to end on this machine, with no
// credentials and no network:
//
//	go run ./examples/quickstart
//
// It starts a fake of each of the ten destinations inside the process, on
// 127.0.0.1 (see examples/internal/playground), builds the ten integrations
// from the JSON the console stores with integrations.BuildAll, runs
// Validate, Test and Send on each with a sample alert, and prints a table:
// the integration, the result of each verb, the receipt the destination
// answered with, and the time the three took. The exit status is 1 when any
// integration fails, with the errors listed under the table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/examples/internal/playground"
	"github.com/codedefender/integrations/examples/internal/sample"
	"github.com/codedefender/integrations/notify"
)

// timeout bounds the whole run; against the in-process fakes it takes well
// under a second.
const timeout = time.Minute

func main() {
	os.Exit(mainCode())
}

func mainCode() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		return 1
	}
	return 0
}

// run starts the fakes, checks every integration against them, and prints
// the table to stdout.
func run(ctx context.Context, stdout io.Writer) error {
	pg, err := playground.Start()
	if err != nil {
		return err
	}
	defer pg.Close()
	addr := pg.Addresses()
	fmt.Fprintf(stdout, "Fakes listening on loopback: HTTP destinations %s, S3 %s, GCS %s, SMTP %s\n\n",
		addr["http"], addr["s3"], addr["gcs"], addr["smtp"])
	if err := check(ctx, stdout, pg.Integrations, pg.Options()...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nNext: copy integrations.example.json, put your own values in, and run\n"+
		"  go run ./examples/cdnotify test --config your.json")
	return nil
}

// result is one row of the table.
type result struct {
	name, typ            string
	validate, test, send error
	receipt              notify.Receipt
	took                 time.Duration
}

// check builds every integration of stored (the console's JSON list) with
// opts, runs Validate, Test and Send on each, one after the other, and
// prints the table. It returns an error when any of them failed.
func check(ctx context.Context, w io.Writer, stored []byte, opts ...notify.Option) error {
	named, err := integrations.BuildAll(stored, opts...)
	if err != nil {
		return fmt.Errorf("building the integrations: %w", err)
	}
	defer func() {
		for _, n := range named {
			if c, ok := n.Notifier.(io.Closer); ok {
				_ = c.Close()
			}
		}
	}()

	alert := sample.Alert(time.Now())
	results := make([]result, len(named))
	for i, n := range named {
		r := result{name: n.Name, typ: n.Type}
		start := time.Now()
		r.validate = n.Notifier.Validate()
		r.test = n.Notifier.Test(ctx)
		r.receipt, r.send = n.Notifier.Send(ctx, alert)
		r.took = time.Since(start)
		results[i] = r
	}
	return report(w, results)
}

// report prints the table, then each error in full.
func report(w io.Writer, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tTYPE\tVALIDATE\tTEST\tSEND\tRECEIPT\tTIME")
	var failures []string
	for _, r := range results {
		receipt := r.receipt.ID
		if receipt == "" {
			receipt = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.typ, status(r.validate), status(r.test),
			status(r.send), receipt, r.took.Round(100*time.Microsecond))
		for _, op := range []struct {
			verb string
			err  error
		}{{"validate", r.validate}, {"test", r.test}, {"send", r.send}} {
			if op.err != nil {
				failures = append(failures, fmt.Sprintf("%s (%s) %s: %v", r.name, r.typ, op.verb, op.err))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failures) == 0 {
		fmt.Fprintf(w, "\nAll %d integrations passed Validate, Test and Send.\n", len(results))
		return nil
	}
	fmt.Fprintf(w, "\n%s\n", strings.Join(failures, "\n"))
	return fmt.Errorf("%d of %d checks failed", len(failures), 3*len(results))
}

func status(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, notify.ErrSkipped):
		return "skipped"
	}
	return "FAIL"
}
