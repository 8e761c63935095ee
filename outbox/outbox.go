// Package outbox delivers alerts durably: a transactional outbox on River
// (github.com/riverqueue/river) with one job per (event, integration),
// delivered at least once, surviving the crash of the process that raised
// the alert and outages longer than any context.
//
// The database is chosen by the driver subpackage: outbox/sqlite (one file,
// the embedded default, pure Go) or outbox/postgres (any number of
// processes and machines sharing the queue). The API is the same on both;
// importing one never compiles the other.
//
//	d, err := sqlite.Open("alerts.db")
//	ob, err := outbox.New(ctx, d, outbox.Config{Resolve: resolve})
//	err = ob.Start(ctx)
//	defer ob.Stop(stopCtx)
//	_, err = ob.Enqueue(ctx, event, "slack-security", "pagerduty-oncall")
//
// Jobs hold the event and the integration ID, never a configuration or a
// secret: every attempt asks Config.Resolve for the Notifier, so an edited
// credential takes effect on the next attempt.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/codedefender/integrations/notify"
)

// Kind is the River job kind of a delivery.
const Kind = "codedefender_outbox_delivery"

// Queue is the River queue the outbox's jobs go to and its workers take
// them from, so that an application's own River jobs on the same database
// are not worked by the outbox (and the reverse).
const Queue = "codedefender_outbox"

// Defaults of Config.
const (
	DefaultHorizon            = 24 * time.Hour
	DefaultWorkers            = 20
	DefaultAttemptTimeout     = 30 * time.Second
	DefaultBackoffBase        = time.Second
	DefaultBackoffMax         = 30 * time.Minute
	DefaultCompletedRetention = 24 * time.Hour
	DefaultFailedRetention    = 30 * 24 * time.Hour
	DefaultPollInterval       = time.Second
	DefaultFetchCooldown      = 10 * time.Millisecond
)

// DefaultRateLimits is the shortest interval between two deliveries to one
// integration, per integration type, shared by every process on the
// database. Slack's incoming webhooks take one message per second per
// webhook (https://api.slack.com/docs/rate-limits);
// PagerDuty's Events API v2 takes 120 events a minute per routing key
// (https://developer.pagerduty.com/docs/events-api-v2-overview).
var DefaultRateLimits = map[string]time.Duration{
	"slack":     time.Second,
	"pagerduty": 500 * time.Millisecond,
}

// ErrUnknownIntegration is what Resolve returns (wrapped or not) for an
// integration that no longer exists: its jobs then fail at once, without
// retries.
var ErrUnknownIntegration = errors.New("outbox: unknown integration")

// ErrNotStarted is returned by Stop when Start was not called.
var ErrNotStarted = errors.New("outbox: not started")

// Config configures an Outbox. Only Resolve is required, and only to Start
// working: an Outbox that only enqueues or inspects (a web handler, the
// cdnotify CLI) can leave it nil.
type Config struct {
	// Resolve returns the Notifier of an integration, typically
	// integrations.Build over the JSON the console stores. It is called for
	// every attempt, so an edited credential takes effect on the next one;
	// it may cache. The outbox does not Close what it returns. An error
	// wrapping ErrUnknownIntegration, a *notify.ValidationError or a
	// permanent *notify.Error fails the job at once; any other error is
	// retried like a failed delivery.
	Resolve func(ctx context.Context, integrationID string) (notify.Notifier, error)

	// Workers is how many deliveries one process runs at once (default 20).
	Workers int
	// Horizon is how long after its enqueue a delivery is retried at most
	// (default 24h); the job then ends failed, with every attempt's error.
	Horizon time.Duration
	// AttemptTimeout bounds one attempt (default 30s). Keep each
	// notifier's own timeout (notify.WithTimeout) below it.
	AttemptTimeout time.Duration
	// RescueAfter is how long a job may stay running before another
	// process takes it as abandoned by a dead one and delivers it (default:
	// AttemptTimeout + 15s). River's rescuer runs every 30s on the elected
	// leader, so after a crash on PostgreSQL a delivery resumes within about
	// RescueAfter + 30s (+ ~20s more when the dead process was the leader).
	// On SQLite a starting outbox that holds the file's lock resumes at once.
	RescueAfter time.Duration
	// BackoffBase and BackoffMax shape the wait before a retry: exponential
	// from BackoffBase, capped at BackoffMax, each drawn from [ceiling/2,
	// ceiling) and never shorter than the destination's Retry-After
	// (defaults 1s and 30m).
	BackoffBase, BackoffMax time.Duration
	// RateLimits overrides DefaultRateLimits: the shortest interval between
	// two deliveries to one integration, per integration type. A zero or
	// negative interval turns a type's limit off.
	RateLimits map[string]time.Duration
	// CompletedRetention is how long a delivered job is kept (default 24h).
	// Enqueue is idempotent only while the job is kept: enqueuing the same
	// delivery after it was cleaned away delivers it again.
	CompletedRetention time.Duration
	// FailedRetention is how long an undelivered job is kept for Failed,
	// Retry and Discard (default 30 days).
	FailedRetention time.Duration
	// PollInterval is how often a process looks for jobs when no
	// notification woke it (default 1s). SQLite has no notifications:
	// it bounds the latency of a job enqueued by another process.
	PollInterval time.Duration
	// FetchCooldown is the shortest wait between two fetches (default
	// 10ms; River's 100ms caps a process at about Workers×10 jobs/s).
	FetchCooldown time.Duration

	// MeterProvider and TracerProvider receive a span and measurements per
	// attempt (default: no-op providers).
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// Logger receives River's and the outbox's log lines (default: warnings
	// and errors to the default slog handler).
	Logger *slog.Logger
	// Redact is applied to every attempt's error before it is stored, after
	// the outbox's own cleaning (the destinations already scrub their own
	// secrets). Use it for secrets your Resolve may put in an error.
	Redact func(string) string

	// jitter returns a number in [0, 1); tests fix it.
	jitter func() float64
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	def(&c.Horizon, DefaultHorizon)
	def(&c.AttemptTimeout, DefaultAttemptTimeout)
	def(&c.RescueAfter, c.AttemptTimeout+15*time.Second)
	if c.RescueAfter < c.AttemptTimeout {
		c.RescueAfter = c.AttemptTimeout
	}
	def(&c.BackoffBase, DefaultBackoffBase)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.CompletedRetention, DefaultCompletedRetention)
	def(&c.FailedRetention, DefaultFailedRetention)
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.FetchCooldown, DefaultFetchCooldown)
	limits := make(map[string]time.Duration, len(DefaultRateLimits)+len(c.RateLimits))
	for k, v := range DefaultRateLimits {
		limits[k] = v
	}
	for k, v := range c.RateLimits {
		limits[k] = v
	}
	c.RateLimits = limits
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return c
}

// Outbox is a durable delivery queue on one database. Its methods are safe
// for concurrent use.
type Outbox[TTx any] struct {
	driver Driver[TTx]
	client *river.Client[TTx]
	cfg    Config
	worker *worker[TTx]

	mu      sync.Mutex
	started bool
	release func()
}

// New opens the outbox on d and migrates the database (River's tables and
// the outbox's own) when it is behind. It starts no goroutine: Start does.
func New[TTx any](ctx context.Context, d Driver[TTx], cfg Config) (*Outbox[TTx], error) {
	if err := Migrate(ctx, d); err != nil {
		return nil, err
	}
	return open(d, cfg)
}

// Migrate brings the database's River tables and the outbox's own up to
// date, for those who run migrations apart from the service. New calls it.
func Migrate[TTx any](ctx context.Context, d Driver[TTx]) error {
	m, err := rivermigrate.New(d.River(), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", d.Name(), err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", d.Name(), err)
	}
	if err := d.Migrate(ctx); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", d.Name(), err)
	}
	return nil
}

func open[TTx any](d Driver[TTx], cfg Config) (*Outbox[TTx], error) {
	cfg = cfg.withDefaults()
	ins, err := newTelemetry(cfg.MeterProvider, cfg.TracerProvider)
	if err != nil {
		return nil, err
	}
	w := &worker[TTx]{cfg: cfg, driver: d, tel: ins}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	client, err := river.NewClient(d.River(), &river.Config{
		Queues:                      map[string]river.QueueConfig{Queue: {MaxWorkers: cfg.Workers}},
		Workers:                     workers,
		JobTimeout:                  cfg.AttemptTimeout,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		CancelledJobRetentionPeriod: cfg.FailedRetention,
		DiscardedJobRetentionPeriod: cfg.FailedRetention,
		FetchPollInterval:           cfg.PollInterval,
		FetchCooldown:               min(cfg.FetchCooldown, cfg.PollInterval),
		MaxAttempts:                 maxAttempts,
		Logger:                      cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox[TTx]{driver: d, client: client, cfg: cfg, worker: w}, nil
}

// maxAttempts is River's attempt cap. The outbox stops on its horizon
// instead, so this is only a bound against a clock gone wrong.
const maxAttempts = 10_000

// Start starts delivering: Workers goroutines take jobs until Stop. It
// needs Config.Resolve. Every process that may become River's leader must
// run an outbox (River's rescuer discards stuck jobs of kinds it does not
// know), so a process on the same database that only enqueues should not
// run River workers of its own without the outbox's.
func (o *Outbox[TTx]) Start(ctx context.Context) error {
	if o.cfg.Resolve == nil {
		return errors.New("outbox: Start needs Config.Resolve")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return errors.New("outbox: already started")
	}
	release, err := o.driver.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := o.client.Start(ctx); err != nil {
		release()
		return fmt.Errorf("outbox: start: %w", err)
	}
	o.started, o.release = true, release
	return nil
}

// Stop stops taking jobs and waits for the deliveries in flight to finish.
// When ctx ends first, the deliveries still in flight are cancelled and
// their jobs released for the next start (the attempt is not counted);
// Stop then waits for them to return, which a Send does promptly once its
// context is cancelled, and returns ctx's error. No goroutine of the outbox
// outlives Stop.
func (o *Outbox[TTx]) Stop(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		return ErrNotStarted
	}
	o.started = false
	defer func() {
		o.release()
		o.release = nil
	}()
	err := o.client.Stop(ctx)
	if err == nil {
		return nil
	}
	// The deadline passed with deliveries in flight: cancel them (River
	// makes their jobs available again without counting the attempt) and
	// wait, with a fresh bound, for their goroutines to return.
	cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.AttemptTimeout)
	defer cancel()
	if cerr := o.client.StopAndCancel(cancelCtx); cerr != nil {
		return errors.Join(err, fmt.Errorf("outbox: deliveries still running after cancel: %w", cerr))
	}
	return err
}

// Close releases what the driver opened (an SQLite file it opened itself).
// Stop the outbox first.
func (o *Outbox[TTx]) Close() error { return o.driver.Close() }

// River returns the River client underneath, for what the outbox does not
// wrap (subscriptions, queue pauses). Jobs of Kind belong to the outbox.
func (o *Outbox[TTx]) River() *river.Client[TTx] { return o.client }
