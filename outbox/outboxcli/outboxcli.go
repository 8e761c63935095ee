// Package outboxcli is the "outbox" command of cdnotify: it lists the
// deliveries of an outbox database and retries or discards them.
//
//	cdnotify outbox list    --db sqlite:alerts.db [--failed|--pending] [--integration ID] [--limit N] [--counts] [--json]
//	cdnotify outbox retry   --db postgres://host/db JOB_ID...
//	cdnotify outbox discard --db sqlite:alerts.db JOB_ID...
//
// It opens the database without starting delivery, so it runs beside the
// service that delivers from it.
package outboxcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/outbox/postgres"
	"github.com/codedefender/integrations/outbox/sqlite"
)

// Exit codes of Run.
const (
	ExitOK    = 0 // done
	ExitError = 1 // the database or a job could not be handled
	ExitUsage = 2 // the command line is wrong
)

const usage = `usage: outbox list|retry|discard --db sqlite:FILE|postgres://...

  list    [--failed|--pending] [--integration ID] [--limit N] [--counts] [--json]
          the deliveries not yet done and those that failed (both by default),
          or with --counts the number of jobs per integration and state
  retry   JOB_ID...   make failed (or waiting) deliveries due now
  discard JOB_ID...   delete deliveries that are not running
`

// Run runs one outbox command; args are the words after "outbox". It
// writes results to stdout and errors to stderr, and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd := command{name: args[0], stdout: stdout}
	fs := flag.NewFlagSet("outbox "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	db := fs.String("db", "", "the outbox database: sqlite:FILE or a postgres:// URL")
	switch cmd.name {
	case "list":
		fs.BoolVar(&cmd.failed, "failed", false, "only the deliveries that failed")
		fs.BoolVar(&cmd.pending, "pending", false, "only the deliveries not yet done")
		fs.StringVar(&cmd.opts.IntegrationID, "integration", "", "only this integration's deliveries")
		fs.IntVar(&cmd.opts.Limit, "limit", 100, "the most deliveries listed of each kind")
		fs.BoolVar(&cmd.counts, "counts", false, "print the number of jobs per integration and state")
		fs.BoolVar(&cmd.json, "json", false, "print JSON")
	case "retry", "discard":
	default:
		fmt.Fprintf(stderr, "outbox: unknown command %q\n%s", cmd.name, usage)
		return ExitUsage
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if *db == "" {
		fmt.Fprintf(stderr, "outbox %s: --db is required\n", cmd.name)
		return ExitUsage
	}
	for _, a := range fs.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 || cmd.name == "list" {
			fmt.Fprintf(stderr, "outbox %s: unexpected argument %q\n", cmd.name, a)
			return ExitUsage
		}
		cmd.ids = append(cmd.ids, id)
	}
	if cmd.name != "list" && len(cmd.ids) == 0 {
		fmt.Fprintf(stderr, "outbox %s: name at least one job ID\n", cmd.name)
		return ExitUsage
	}
	if err := open(ctx, *db, &cmd); err != nil {
		fmt.Fprintf(stderr, "outbox %s: %v\n", cmd.name, err)
		return ExitError
	}
	return ExitOK
}

// command is a parsed command line.
type command struct {
	name            string
	stdout          io.Writer
	failed, pending bool
	counts, json    bool
	opts            outbox.ListOptions
	ids             []int64
}

// open opens the database the way its URL says and runs cmd on it.
func open(ctx context.Context, db string, cmd *command) error {
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		path = strings.TrimPrefix(path, "//")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no outbox at %s: %w", path, err)
		}
		d, err := sqlite.Open(path)
		if err != nil {
			return err
		}
		defer d.Close()
		return runOn(ctx, d, cmd)
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		d, err := postgres.Open(ctx, db)
		if err != nil {
			return err
		}
		defer d.Close()
		return runOn(ctx, d, cmd)
	}
	return errors.New("--db must be sqlite:FILE or a postgres:// URL")
}

func runOn[TTx any](ctx context.Context, d outbox.Driver[TTx], cmd *command) error {
	ob, err := outbox.New(ctx, d, outbox.Config{})
	if err != nil {
		return err
	}
	switch cmd.name {
	case "list":
		if cmd.counts {
			return printCounts(ctx, ob, cmd)
		}
		return list(ctx, ob, cmd)
	}
	var errs []error
	for _, id := range cmd.ids {
		var j outbox.Job
		var err error
		if cmd.name == "retry" {
			j, err = ob.Retry(ctx, id)
		} else {
			j, err = ob.Discard(ctx, id)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		verb := "retrying"
		if cmd.name == "discard" {
			verb = "discarded"
		}
		fmt.Fprintf(cmd.stdout, "%s job %d: event %s to %s\n", verb, j.ID, j.Event.ID, j.IntegrationID)
	}
	return errors.Join(errs...)
}

func list[TTx any](ctx context.Context, ob *outbox.Outbox[TTx], cmd *command) error {
	both := cmd.failed == cmd.pending
	var jobs []outbox.Job
	if cmd.pending || both {
		p, err := ob.Pending(ctx, cmd.opts)
		if err != nil {
			return err
		}
		jobs = append(jobs, p...)
	}
	if cmd.failed || both {
		f, err := ob.Failed(ctx, cmd.opts)
		if err != nil {
			return err
		}
		jobs = append(jobs, f...)
	}
	if cmd.json {
		out := make([]jobJSON, len(jobs))
		for i, j := range jobs {
			out[i] = toJSON(j)
		}
		return writeJSON(cmd.stdout, out)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(cmd.stdout, "no deliveries pending or failed")
		return nil
	}
	tw := tabwriter.NewWriter(cmd.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tINTEGRATION\tEVENT\tSTATUS\tATTEMPTS\tNEXT OR LAST\tLAST ERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.State, j.IntegrationID, j.Event.ID,
			statusOf(j), j.Attempts, j.ScheduledAt.UTC().Format(time.RFC3339), lastError(j, 120))
	}
	return tw.Flush()
}

func printCounts[TTx any](ctx context.Context, ob *outbox.Outbox[TTx], cmd *command) error {
	cs, err := ob.Counts(ctx)
	if err != nil {
		return err
	}
	if cmd.opts.IntegrationID != "" {
		kept := cs[:0]
		for _, c := range cs {
			if c.IntegrationID == cmd.opts.IntegrationID {
				kept = append(kept, c)
			}
		}
		cs = kept
	}
	if cmd.json {
		type countJSON struct {
			IntegrationID string `json:"integration_id"`
			State         string `json:"state"`
			Jobs          int64  `json:"jobs"`
		}
		out := make([]countJSON, len(cs))
		for i, c := range cs {
			out[i] = countJSON{c.IntegrationID, string(c.State), c.Jobs}
		}
		return writeJSON(cmd.stdout, out)
	}
	tw := tabwriter.NewWriter(cmd.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tSTATE\tJOBS")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", c.IntegrationID, c.State, c.Jobs)
	}
	return tw.Flush()
}

type jobJSON struct {
	ID            int64                 `json:"id"`
	State         string                `json:"state"`
	IntegrationID string                `json:"integration_id"`
	EventID       string                `json:"event_id"`
	Status        string                `json:"status"`
	Attempts      int                   `json:"attempts"`
	CreatedAt     time.Time             `json:"created_at"`
	ScheduledAt   time.Time             `json:"scheduled_at"`
	Errors        []outbox.AttemptError `json:"errors,omitempty"`
}

func toJSON(j outbox.Job) jobJSON {
	return jobJSON{ID: j.ID, State: string(j.State), IntegrationID: j.IntegrationID, EventID: j.Event.ID,
		Status: statusOf(j), Attempts: j.Attempts, CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, Errors: j.Errors}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statusOf(j outbox.Job) string {
	if j.Event.Status == "" {
		return "open"
	}
	return string(j.Event.Status)
}

func lastError(j outbox.Job, max int) string {
	if len(j.Errors) == 0 {
		return "-"
	}
	msg := j.Errors[len(j.Errors)-1].Error
	if r := []rune(msg); len(r) > max {
		msg = string(r[:max-1]) + "…"
	}
	return msg
}
