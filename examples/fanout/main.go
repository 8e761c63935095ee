// Command fanout is the shape of a service that delivers Code Defender
// alerts: it builds every integration once, wraps each with notify.Retry
// and, where the destination documents a rate (slack.RateLimit,
// pagerduty.RateLimit), with notify.RateLimit, then sends one event to all
// of them at once with notify.Fanout, logging each result as JSON with
// log/slog on stderr.
//
//	go run ./examples/fanout                       # against fakes started in-process
//	go run ./examples/fanout -config integrations.json [-event alert.json] [-v]
//
// Without -config it starts the examples' playground (a fake of each
// destination on 127.0.0.1) and sends to it, so it needs no credentials.
// -event names a JSON notify.Event; without it a sample alert is sent. -v
// adds the library's debug lines (one per request, never a secret). The exit
// status is 1 when any integration failed.
//
// A real service keeps the wrapped notifiers, and so their rate limiters,
// for its whole life and fans out every alert through them: a limiter made
// per event would not limit anything.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/internal/sample"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/slack"
)

// defaultTimeout bounds one fan-out, retries included: an alert that has
// not gone out by then is better reported than waited on.
const defaultTimeout = 2 * time.Minute

// maxFileBytes bounds what is read of -config and -event.
const maxFileBytes = 10 << 20

// retryPolicy is the service's: notify.Retry's defaults (4 attempts,
// backoff from 500ms, capped at 30s, Retry-After honoured up to 5m).
var retryPolicy = notify.RetryPolicy{}

// rates are the destinations that document a rate, each limiter being per
// integration (Slack's is per webhook, PagerDuty's per integration key).
var rates = map[string]struct {
	limit rate.Limit
	burst int
}{
	slack.Type:     {slack.RateLimit, slack.Burst},
	pagerduty.Type: {pagerduty.RateLimit, pagerduty.Burst},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fanout:", err)
		}
		os.Exit(1)
	}
}

// run parses the flags, picks the integrations (the playground's unless
// -config is given) and the event, and fans it out.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the integrations `file` (the console's JSON list); the in-process fakes if absent")
	eventFile := fs.String("event", "", "the event to send, a JSON `file`; a sample alert if absent")
	verbose := fs.Bool("v", false, "log the library's debug lines too")
	timeout := fs.Duration("timeout", defaultTimeout, "give up on the fan-out after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", text.Truncate(fs.Arg(0), 40))
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	event := sample.Alert(time.Now())
	if *eventFile != "" {
		var err error
		if event, err = readEvent(*eventFile); err != nil {
			return err
		}
	}

	var (
		stored []byte
		opts   []notify.Option
	)
	if *config == "" {
		pg, err := playground.Start()
		if err != nil {
			return err
		}
		defer pg.Close()
		logger.Info("no -config: sending to the fakes on loopback", "fakes", pg.Addresses())
		stored, opts = pg.Integrations, pg.Options()
	} else {
		var err error
		if stored, err = readFile(*config); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return deliver(ctx, logger, stored, event, retryPolicy, opts...)
}

// deliver builds every integration of stored, wraps each, sends e to all
// at once, and logs one line per result. It returns an error when any
// integration failed.
func deliver(ctx context.Context, logger *slog.Logger, stored []byte, e notify.Event, p notify.RetryPolicy,
	opts ...notify.Option) error {
	named, err := integrations.BuildAll(stored, append(opts, notify.WithLogger(logger))...)
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

	targets := make(map[string]notify.Notifier, len(named))
	types := make(map[string]string, len(named))
	for _, n := range named {
		targets[n.Name] = wrap(n, p)
		types[n.Name] = n.Type
	}

	logger.InfoContext(ctx, "fanning out", "event_id", e.ID, "event_type", e.Type, "risk", e.Risk,
		"integrations", len(targets))
	start := time.Now()
	results := notify.Fanout(ctx, e, targets)

	var delivered, skipped, failed int
	for _, r := range results {
		attrs := []any{"integration", r.Name, "type", types[r.Name], "duration_ms", r.Duration.Milliseconds()}
		switch {
		case r.Err == nil:
			delivered++
			logger.InfoContext(ctx, "delivered", append(attrs, "receipt_id", r.Receipt.ID, "receipt_url", r.Receipt.URL)...)
		case errors.Is(r.Err, notify.ErrSkipped):
			skipped++
			logger.InfoContext(ctx, "skipped: not configured for this event type", attrs...)
		default:
			failed++
			logger.ErrorContext(ctx, "delivery failed", append(attrs, "error", r.Err.Error(),
				"retryable", notify.IsRetryable(r.Err))...)
		}
	}
	logger.InfoContext(ctx, "fan-out done", "event_id", e.ID, "delivered", delivered, "skipped", skipped,
		"failed", failed, "duration_ms", time.Since(start).Milliseconds())
	if failed > 0 {
		return fmt.Errorf("%d of %d integrations failed", failed, len(results))
	}
	return nil
}

// wrap puts the destination's rate limit (when it documents one) inside
// the retry, so that every attempt, a retried one too, waits for a token.
func wrap(n integrations.Named, p notify.RetryPolicy) notify.Notifier {
	inner := n.Notifier
	if r, ok := rates[n.Type]; ok {
		inner = notify.RateLimit(inner, rate.NewLimiter(r.limit, r.burst))
	}
	return notify.Retry(inner, p)
}

// readEvent reads a notify.Event from a JSON file; it must be valid.
func readEvent(path string) (notify.Event, error) {
	data, err := readFile(path)
	if err != nil {
		return notify.Event{}, err
	}
	var e notify.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return notify.Event{}, fmt.Errorf("event %s: %w", path, err)
	}
	if err := e.Validate(); err != nil {
		return notify.Event{}, fmt.Errorf("event %s: %w", path, err)
	}
	return e, nil
}

// readFile reads a whole file of at most maxFileBytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileBytes)
	}
	return data, nil
}
