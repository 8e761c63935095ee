// Command quickstart shows the library end to end on this machine, with no
// credentials and no network:
//
//	go run ./examples/quickstart
//
// It starts a fake of each of the ten destinations inside the process, on
// 127.0.0.1 (see internal/playground), builds the ten integrations
// from the JSON the console stores with integrations.BuildAll (the seed
// forms' values as the console stores them), runs Validate, TestReport,
// Send of a sample alert and Send of its resolution on each, and prints a
// table: the integration, the result of each step, what the Test proved
// (checks passed and warnings), the receipts of the open and the resolved
// event, and the time the four took. The warnings are listed under the
// table. The exit status is 1 when any integration fails, with the errors
// listed under the table.
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
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/internal/sample"
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
		"  go run ./cmd/cdnotify test --config your.json")
	return nil
}

// result is one row of the table.
type result struct {
	name, typ               string
	validate, send, resolve error
	report                  notify.Report
	opened, resolved        notify.Receipt
	took                    time.Duration
}

// check builds every integration of stored (the console's JSON list) with
// opts, runs Validate, TestReport, Send of an alert and Send of its
// resolution on each, one after the other, and prints the table. It
// returns an error when any of them failed.
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
	resolution := alert
	resolution.Status = notify.StatusResolved
	results := make([]result, len(named))
	for i, n := range named {
		r := result{name: n.Name, typ: n.Type}
		start := time.Now()
		r.validate = n.Notifier.Validate()
		r.report = testReport(ctx, n.Notifier)
		r.opened, r.send = n.Notifier.Send(ctx, alert)
		r.resolved, r.resolve = n.Notifier.Send(ctx, resolution)
		r.took = time.Since(start)
		results[i] = r
	}
	return report(w, results)
}

// testReport returns what n's Test proved, step by step when n reports its
// steps (every destination of this library does).
func testReport(ctx context.Context, n notify.Notifier) notify.Report {
	if r, ok := n.(notify.Reporter); ok {
		return r.TestReport(ctx)
	}
	var rep notify.Report
	rep.Check("test", n.Test(ctx), "")
	return rep
}

// report prints the table, then each warning and each error in full.
func report(w io.Writer, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tTYPE\tVALIDATE\tTEST\tCHECKS\tSEND\tRECEIPT\tRESOLVE\tRESOLVED RECEIPT\tTIME")
	var failures, warnings []string
	for _, r := range results {
		test := r.report.Err()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.typ, status(r.validate), status(test),
			checks(r.report), status(r.send), receiptID(r.opened), status(r.resolve), receiptID(r.resolved),
			r.took.Round(100*time.Microsecond))
		for _, c := range r.report.Warnings() {
			warnings = append(warnings, fmt.Sprintf("%s (%s) test: %s: %s", r.name, r.typ, c.Name, c.Detail))
		}
		for _, op := range []struct {
			verb string
			err  error
		}{{"validate", r.validate}, {"test", test}, {"send", r.send}, {"resolve", r.resolve}} {
			if op.err != nil {
				failures = append(failures, fmt.Sprintf("%s (%s) %s: %v", r.name, r.typ, op.verb, op.err))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(warnings) > 0 {
		fmt.Fprintf(w, "\nWhat a Test could not prove without raising an alert:\n  %s\n", strings.Join(warnings, "\n  "))
	}
	if len(failures) == 0 {
		fmt.Fprintf(w, "\nAll %d integrations passed Validate, Test, Send and resolve.\n", len(results))
		return nil
	}
	fmt.Fprintf(w, "\n%s\n", strings.Join(failures, "\n"))
	return fmt.Errorf("%d of %d checks failed", len(failures), 4*len(results))
}

// checks summarises a report: how many checks passed, and how many are
// warnings.
func checks(r notify.Report) string {
	passed := 0
	for _, c := range r.Checks {
		if c.Status == notify.CheckPassed {
			passed++
		}
	}
	return fmt.Sprintf("%d/%d passed, %d warn", passed, len(r.Checks), len(r.Warnings()))
}

func receiptID(rc notify.Receipt) string {
	if rc.ID == "" {
		return "-"
	}
	return rc.ID
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
