package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/tidwall/gjson"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// maxErrorRunes bounds each attempt's error as stored.
const maxErrorRunes = 2000

// The outcomes of an attempt as the outbox counts them (outbox.attempts).
const (
	outcomeDelivered = "delivered" // the destination took it (or skipped it on purpose)
	outcomeRetry     = "retry"     // failed, tried again later
	outcomeFailed    = "failed"    // failed for good: kept for Failed and Retry
	outcomeSnoozed   = "snoozed"   // the integration's rate limit had no free slot
	outcomeReleased  = "released"  // the outbox stopped mid-delivery; the job goes back
)

// receipt is what a delivered job keeps as River's output.
type receipt struct {
	ID  string `json:"receipt_id,omitempty"`
	URL string `json:"receipt_url,omitempty"`
}

// retryMark is the output Retry writes: the horizon counts again from it.
type retryMark struct {
	RetriedAt time.Time `json:"retried_at"`
}

type worker[TTx any] struct {
	river.WorkerDefaults[deliveryArgs]
	cfg    Config
	driver Driver[TTx]
	tel    *telemetry

	// next holds, per job ID, when the attempt that just failed asked to
	// be tried again; River asks NextRetry right after Work returns.
	next sync.Map
}

// Timeout leaves River's client-wide JobTimeout (Config.AttemptTimeout).
func (w *worker[TTx]) Timeout(*river.Job[deliveryArgs]) time.Duration { return 0 }

// NextRetry returns the time Work chose for a failed attempt.
func (w *worker[TTx]) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	if v, ok := w.next.LoadAndDelete(job.ID); ok {
		return v.(time.Time)
	}
	return time.Now().Add(w.backoff(job.Attempt, 0))
}

// Work makes one delivery attempt.
func (w *worker[TTx]) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	a := job.Args
	at := w.tel.start(ctx, job.ID, job.Attempt, a.IntegrationID, a.EventID)
	defer at.end()

	n, err := w.cfg.Resolve(at.ctx, a.IntegrationID)
	if err != nil {
		at.setType("unknown")
		if isPermanentResolve(err) {
			return at.finish(outcomeFailed, err, river.JobCancel(w.clean("resolve", err)))
		}
		return at.finish(outcomeRetry, err, w.retry(job, "resolve", err))
	}
	typ := notify.TypeOf(n)
	at.setType(typ)

	// The slot is the integration's rate limit and any Retry-After it
	// answered, shared by every process on the database. A type without a
	// limit only reads whether a Retry-After holds it.
	key := "integration:" + a.IntegrationID
	interval := w.cfg.RateLimits[typ]
	wait, err := w.driver.TakeSlot(at.ctx, key, interval)
	if err != nil {
		return at.finish(outcomeRetry, err, w.retry(job, "rate limit", err))
	}
	if wait > 0 {
		return at.finish(outcomeSnoozed, nil, river.JobSnooze(w.snooze(job, wait, interval)))
	}

	at.queued(time.Since(job.ScheduledAt))
	rc, err := w.tel.send(at.ctx, n, a.IntegrationID, a.Event)
	switch {
	case err == nil || errors.Is(err, notify.ErrSkipped):
		_ = river.RecordOutput(ctx, receipt{ID: rc.ID, URL: rc.URL}) // small and JSON: cannot fail
		return at.finish(outcomeDelivered, nil, nil)
	case errors.Is(ctx.Err(), context.Canceled):
		// Stop cancelled the attempt: River gives the job back without
		// counting it when ctx's cause is its stop.
		return at.finish(outcomeReleased, err, ctx.Err())
	case !notify.IsRetryable(err):
		return at.finish(outcomeFailed, err, river.JobCancel(w.clean("send", err)))
	}
	if ra := notify.RetryAfterOf(err); ra > 0 {
		// The destination asked to wait: no delivery to this integration,
		// from any process, before then.
		if herr := w.driver.Hold(at.ctx, key, ra); herr != nil {
			w.cfg.Logger.WarnContext(ctx, "outbox: could not hold the integration for its Retry-After",
				"integration_id", a.IntegrationID, "error", herr.Error())
		}
	}
	return at.finish(outcomeRetry, err, w.retry(job, "send", err))
}

// retry schedules the next attempt after a retryable failure, or gives up
// when it would fall past the horizon.
func (w *worker[TTx]) retry(job *river.Job[deliveryArgs], op string, err error) error {
	next := time.Now().Add(w.backoff(job.Attempt, notify.RetryAfterOf(err)))
	deadline := horizonStart(job).Add(w.cfg.Horizon)
	if next.After(deadline) {
		return river.JobCancel(w.clean(op, fmt.Errorf("%w (gave up: the next attempt, at %s, would fall after the %s horizon)",
			err, next.UTC().Format(time.RFC3339), w.cfg.Horizon)))
	}
	w.next.Store(job.ID, next)
	return w.clean(op, err)
}

// horizonStart is when the job was enqueued, or last retried by hand.
func horizonStart(job *river.Job[deliveryArgs]) time.Time {
	start := job.CreatedAt
	var m retryMark
	if out := job.Output(); len(out) > 0 && json.Unmarshal(out, &m) == nil && m.RetriedAt.After(start) {
		start = m.RetriedAt
	}
	return start
}

// backoff is the wait before the attempt after attempt: exponential from
// BackoffBase, capped at BackoffMax, drawn from [ceiling/2, ceiling), and
// never shorter than the destination's retryAfter.
func (w *worker[TTx]) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := w.cfg.BackoffMax
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 40 {
		if c := w.cfg.BackoffBase << (attempt - 1); c > 0 && c < ceiling {
			ceiling = c
		}
	}
	d := ceiling/2 + time.Duration(w.jitter()*float64(ceiling/2))
	return max(d, retryAfter)
}

// maxSnoozeSpread caps how many intervals a waiting job's wake-up is
// spread over.
const maxSnoozeSpread = 8

// snooze is how long a job waits for its integration's rate limit: until
// the slot frees, plus a random part of an interval so that the waiting
// jobs do not all wake at once. A job that has already waited many times
// spreads its wake-up over more intervals: every wake-up that finds the
// slot taken is a statement and a job update, and spreading keeps that
// churn near a few per interval however many jobs wait.
func (w *worker[TTx]) snooze(job *river.Job[deliveryArgs], wait, interval time.Duration) time.Duration {
	spread := min(1+gjson.GetBytes(job.Metadata, "snoozes").Int()/2, maxSnoozeSpread)
	return wait + time.Duration(w.jitter()*float64(interval)*float64(spread))
}

func (w *worker[TTx]) jitter() float64 {
	if w.cfg.jitter != nil {
		return w.cfg.jitter()
	}
	return rand.Float64()
}

// clean is the attempt's error as River stores it: one line, bounded, run
// through Config.Redact. The destinations' own errors arrive scrubbed.
func (w *worker[TTx]) clean(op string, err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	msg = text.Truncate(op+": "+msg, maxErrorRunes)
	if w.cfg.Redact != nil {
		msg = w.cfg.Redact(msg)
	}
	return errors.New(msg)
}

// isPermanentResolve reports whether a Resolve error will not change by
// waiting: the integration is gone or its stored configuration is invalid.
func isPermanentResolve(err error) bool {
	var (
		ve *notify.ValidationError
		ne *notify.Error
	)
	switch {
	case errors.Is(err, ErrUnknownIntegration), errors.As(err, &ve):
		return true
	case errors.As(err, &ne):
		return !ne.Retryable
	}
	return false
}
