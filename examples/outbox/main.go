// Command outbox is a small service that raises alerts into the durable
// outbox on an embedded SQLite file and delivers them to in-process fakes
// of Slack, PagerDuty and a webhook receiver, with no credentials and no
// network:
//
//	go run .                      (from examples/outbox)
//	go run . -db alerts.db -alerts 5
//
// Each alert is stored in the service's own table and enqueued in the same
// transaction (EnqueueTx), so it is delivered exactly when the service's
// change commits. The PagerDuty fake is down (503) for the first attempts:
// the outbox retries with backoff. Slack is held to one message a second
// per webhook, across every process on the database. The program waits
// until everything is delivered, prints the outbox's counts and what each
// fake received, and stops. Run it again on the same file: the same alerts
// are not delivered twice (the enqueue is idempotent), new ones are.
//
// The same program inspects the file, as cdnotify's outbox command does:
//
//	go run . list --db sqlite:/tmp/codedefender-outbox-example.db --counts
//	go run . retry --db sqlite:FILE JOB_ID
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/outbox/outboxcli"
	"github.com/codedefender/integrations/outbox/sqlite"
)

// stored is the console's store of integrations, keyed by integration ID:
// the outbox's jobs hold only these IDs, and every attempt builds the
// Notifier from what is stored now.
var stored = map[string]string{
	"slack-security": `{"type":"slack","config":{"name":"Security channel",
		"webhook_url":"https://hooks.slack.com/services/T0EXAMPLE/B0EXAMPLE/ExampleWebhookToken00001"}}`,
	"pagerduty-oncall": `{"type":"pagerduty","config":{"name":"On-call",
		"webhook_url":"https://events.pagerduty.com/v2/enqueue","api_key":"ExampleRoutingKey000000000000001"}}`,
	"webhook-siem": `{"type":"webhook","config":{"name":"SIEM",
		"url":"https://siem.example.com/codedefender","events":["incident"]}}`,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) > 1 && isCommand(os.Args[1]) {
		stop()
		os.Exit(outboxcli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "outbox example:", err)
		os.Exit(1)
	}
}

// isCommand reports whether arg is one of outboxcli's commands.
func isCommand(arg string) bool { return arg == "list" || arg == "retry" || arg == "discard" }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	db := fs.String("db", filepath.Join(os.TempDir(), "codedefender-outbox-example.db"), "the SQLite file of the outbox")
	alerts := fs.Int("alerts", 3, "how many alerts to raise")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for every delivery")
	if err := fs.Parse(args); err != nil {
		return err
	}

	fakes, err := fakes.StartServer()
	if err != nil {
		return err
	}
	defer fakes.Close()
	// PagerDuty is down for its first three requests.
	if err := fakes.Inject(notifytest.Fault{Destination: notifytest.PagerDuty, Status: 503, Times: 3}); err != nil {
		return err
	}

	d, err := sqlite.Open(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	ob, err := outbox.New(ctx, d, outbox.Config{Resolve: resolver(fakes), BackoffBase: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := ob.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = ob.Stop(stopCtx)
	}()
	fmt.Fprintf(stdout, "Outbox on %s; fakes on loopback at %s\n", *db, fakes.URL())

	added, err := raise(ctx, d.DB(), ob, *alerts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Raised %d alerts: %d deliveries queued, %d already known\n", *alerts, added.queued, added.duplicates)

	began := time.Now()
	if err := waitDelivered(ctx, ob, *timeout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Everything delivered in %v\n\n", time.Since(began).Round(10*time.Millisecond))
	return report(ctx, stdout, ob, fakes)
}

// resolver builds an integration from the store for each attempt, through
// the fakes' client, caching one Notifier per integration.
func resolver(fakes *fakes.Server) func(context.Context, string) (notify.Notifier, error) {
	var mu sync.Mutex
	cache := map[string]notify.Notifier{}
	return func(_ context.Context, id string) (notify.Notifier, error) {
		mu.Lock()
		defer mu.Unlock()
		if n, ok := cache[id]; ok {
			return n, nil
		}
		raw, ok := stored[id]
		if !ok {
			return nil, fmt.Errorf("%w: %s", outbox.ErrUnknownIntegration, id)
		}
		n, err := integrations.Build([]byte(raw), notify.WithHTTPClient(fakes.Client()))
		if err != nil {
			return nil, err
		}
		cache[id] = n
		return n, nil
	}
}

type added struct{ queued, duplicates int }

// raise stores n alerts in the service's own table and enqueues their
// deliveries in the same transaction.
func raise(ctx context.Context, db *sql.DB, ob *outbox.Outbox[*sql.Tx], n int) (added, error) {
	var a added
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		return a, err
	}
	ids := []string{"slack-security", "pagerduty-oncall", "webhook-siem"}
	for i := range n {
		e := notify.Event{
			ID: fmt.Sprintf("example-%03d", i+1), Type: notify.EventIncident, Risk: notify.RiskHigh,
			Title:  fmt.Sprintf("Unexpected script on checkout (#%d)", i+1),
			Source: "shop.example.com", Time: time.Date(2026, 12, 4, 12, i, 0, 0, time.UTC),
		}
		body, err := json.Marshal(e)
		if err != nil {
			return a, err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return a, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, e.ID, body); err != nil {
			return a, errors.Join(err, tx.Rollback())
		}
		res, err := ob.EnqueueTx(ctx, tx, e, ids...)
		if err != nil {
			return a, errors.Join(err, tx.Rollback())
		}
		if err := tx.Commit(); err != nil {
			return a, err
		}
		for _, r := range res {
			if r.Duplicate {
				a.duplicates++
			} else {
				a.queued++
			}
		}
	}
	return a, nil
}

func waitDelivered(ctx context.Context, ob *outbox.Outbox[*sql.Tx], timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pending, err := ob.Pending(ctx, outbox.ListOptions{Limit: 1})
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still pending after %v: %w", timeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func report(ctx context.Context, stdout io.Writer, ob *outbox.Outbox[*sql.Tx], fakes *fakes.Server) error {
	cs, err := ob.Counts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INTEGRATION\tSTATE\tJOBS")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", c.IntegrationID, c.State, c.Jobs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAKE\tREQUESTS\tANSWERED 2XX")
	for _, dest := range []notifytest.Destination{notifytest.Slack, notifytest.PagerDuty, notifytest.Webhook} {
		ok := 0
		rs := fakes.RequestsTo(dest)
		for _, r := range rs {
			if r.Status >= 200 && r.Status < 300 {
				ok++
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", dest, len(rs), ok)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nInspect the file with: go run . list --db sqlite:<file> [--counts]")
	return nil
}
