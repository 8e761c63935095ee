package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/internal/sample"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// result is what one integration did with the command; its JSON form is
// the --json output.
type result struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	OK      bool     `json:"ok"`
	Skipped bool     `json:"skipped"`
	Error   string   `json:"error,omitempty"`
	Receipt *receipt `json:"receipt,omitempty"`
	// Checks are what test proved, step by step.
	Checks     []notify.Check `json:"checks,omitempty"`
	DurationMS float64        `json:"duration_ms"`

	took time.Duration
}

type receipt struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
}

// target is one selected integration, built, or the error that kept it
// from being built.
type target struct {
	name, typ string
	n         notify.Notifier
	err       error
}

// execute runs the command on every selected integration and returns one
// result each, in file order. An error means nothing ran: a usageError, or
// a problem with the config file, its environment references or the event.
func execute(ctx context.Context, cmd *command, progress io.Writer, opts []notify.Option) ([]result, error) {
	entries, err := readConfig(cmd.config)
	if err != nil {
		return nil, err
	}
	selected, err := selectEntries(entries, cmd.only)
	if err != nil {
		return nil, err
	}
	event := sample.Test(time.Now())
	if cmd.event != "" {
		if event, err = readEvent(cmd.event, cmd.stdin); err != nil {
			return nil, err
		}
	}

	// Every reference of the selected integrations, all at once, so that
	// one run names every missing variable.
	stored := make([][]byte, len(selected))
	var missing validate.Errors
	for i, e := range selected {
		var err error
		if stored[i], err = resolve(e, cmd.lookupEnv); err != nil {
			missing.Merge("", err)
		}
	}
	if err := missing.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s", cmd.config, fieldList(err))
	}

	relay, err := relayOption(cmd)
	if err != nil {
		return nil, err
	}
	if relay != nil {
		opts = append(opts, relay)
	}
	targets := make([]target, len(selected))
	for i, e := range selected {
		targets[i] = target{name: e.name, typ: e.typ}
		// A bad integration fails alone: the others still run, since
		// delivering to some beats delivering to none.
		targets[i].n, targets[i].err = integrations.Build(stored[i], opts...)
		if errors.Is(targets[i].err, email.ErrNoRelay) {
			targets[i].err = errNoRelay
		}
	}
	defer func() {
		for _, t := range targets {
			if c, ok := t.n.(io.Closer); ok {
				_ = c.Close()
			}
		}
	}()
	return runAll(ctx, cmd, targets, event, progress), nil
}

// smtpURLEnv is the environment variable that names the SMTP relay when
// --smtp-url is not given.
const smtpURLEnv = "CDNOTIFY_SMTP_URL"

// errNoRelay is what an email integration says without a relay, in the
// program's terms rather than the library's.
var errNoRelay = errors.New("email needs the SMTP relay: pass --smtp-url or set " + smtpURLEnv +
	" (smtp://user:password@host:587?from=alerts@example.com)")

// relayOption reads the SMTP relay from --smtp-url, else CDNOTIFY_SMTP_URL,
// and returns the option that gives it to email integrations, or nil when
// neither is set. The URL holds a password: an error names where it came
// from and what is wrong, never the URL.
func relayOption(cmd *command) (notify.Option, error) {
	raw, from := cmd.smtpURL, "--smtp-url"
	if raw == "" {
		raw, _ = cmd.lookupEnv(smtpURLEnv)
		from = smtpURLEnv
	}
	if raw == "" {
		return nil, nil
	}
	r, err := email.ParseRelayURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", from, fieldList(err))
	}
	return notify.ForType(email.Type, email.WithRelay(r)), nil
}

// fieldList lists a *notify.ValidationError's fields without its
// "invalid:" heading, which would say nothing more here.
func fieldList(err error) string {
	var ve *notify.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	msgs := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "; ")
}

// runAll runs the verb on every target at once and waits for all. When
// test or send runs on more than one, each result goes to progress as it
// comes in.
func runAll(ctx context.Context, cmd *command, targets []target, event notify.Event, progress io.Writer) []result {
	results := make([]result, len(targets))
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	report := cmd.verb != "validate" && len(targets) > 1
	if report {
		fmt.Fprintf(progress, "cdnotify: %s: %d integrations\n", cmd.verb, len(targets))
	}
	for i, t := range targets {
		wg.Go(func() {
			r := runOne(ctx, cmd, t, event)
			results[i] = r
			if !report {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			fmt.Fprintf(progress, "cdnotify: [%d/%d] %s (%s): %s in %s\n", done, len(targets), r.Name, r.Type,
				outcome(r), r.took.Round(time.Millisecond))
		})
	}
	wg.Wait()
	return results
}

// runOne runs the verb on one target, retrying what the destination calls
// temporary.
func runOne(ctx context.Context, cmd *command, t target, event notify.Event) result {
	r := result{Name: t.name, Type: t.typ}
	start := time.Now()
	err := t.err
	if err == nil {
		n := notify.Retry(t.n, notify.RetryPolicy{MaxAttempts: cmd.attempts})
		switch cmd.verb {
		case "validate":
			err = n.Validate()
		case "test":
			var rep notify.Report
			rep, err = testReport(ctx, t.n, cmd.attempts)
			r.Checks = rep.Checks
		case "send":
			var rc notify.Receipt
			rc, err = n.Send(ctx, event)
			if rc != (notify.Receipt{}) {
				r.Receipt = &receipt{ID: rc.ID, URL: rc.URL}
			}
		}
	}
	r.took = time.Since(start)
	r.DurationMS = float64(r.took.Microseconds()) / 1000
	switch {
	case err == nil:
		r.OK = true
	case errors.Is(err, notify.ErrSkipped):
		r.OK, r.Skipped = true, true
	default:
		r.Error = err.Error()
	}
	return r
}

// testReport runs n's TestReport, again while its failure is temporary, up
// to attempts times, waiting what the destination asks (a second at
// least) between attempts.
func testReport(ctx context.Context, n notify.Notifier, attempts int) (notify.Report, error) {
	reporter, ok := n.(notify.Reporter)
	if !ok {
		var rep notify.Report
		rep.Check("test", n.Test(ctx), "")
		return rep, rep.Err()
	}
	for i := 1; ; i++ {
		rep := reporter.TestReport(ctx)
		err := rep.Err()
		if err == nil || !notify.IsRetryable(err) || i >= attempts {
			return rep, err
		}
		wait := max(notify.RetryAfterOf(err), time.Second)
		select {
		case <-ctx.Done():
			return rep, err
		case <-time.After(wait):
		}
	}
}

func outcome(r result) string {
	switch {
	case r.Skipped:
		return "skipped"
	case r.OK:
		return "ok"
	}
	return "FAILED"
}

func countFailed(results []result) int {
	n := 0
	for _, r := range results {
		if !r.OK {
			n++
		}
	}
	return n
}

// writeTable prints the results for a person: a table, then each error in
// full.
func writeTable(w io.Writer, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tRESULT\tRECEIPT\tTIME")
	for _, r := range results {
		rc := "-"
		if r.Receipt != nil {
			rc = r.Receipt.ID
			if r.Receipt.URL != "" {
				rc += " " + r.Receipt.URL
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, outcome(r), rc, r.took.Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if len(r.Checks) > 0 {
			// The failed check carries the error.
			if err := writeChecks(w, r); err != nil {
				return err
			}
			continue
		}
		if r.Error != "" {
			if _, err := fmt.Fprintf(w, "\n%s (%s): %s\n", r.Name, r.Type, r.Error); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeChecks prints what a test proved, one check a line.
func writeChecks(w io.Writer, r result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s (%s):\n", r.Name, r.Type)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-8s %s", c.Status, c.Name)
		switch {
		case c.Err != nil:
			fmt.Fprintf(&b, ": %v", c.Err)
		case c.Detail != "":
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeJSON prints the results for a script: one JSON array.
func writeJSON(w io.Writer, results []result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // receipts such as <cd-…@example.com> stay readable
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}
