package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Clock is the time source of Retry, so tests can run backoff without
// sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and
	// returns ctx's error in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryPolicy says how Retry backs off. The zero value uses the defaults.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included (default 4).
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt (default 500ms);
	// it doubles with each attempt, and each wait is drawn uniformly from
	// [0, backoff) ("full jitter").
	BaseDelay time.Duration
	// MaxDelay caps the backoff (default 30s).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest a destination's Retry-After is honoured
	// by waiting (default 5m); a longer one ends the retries and the error,
	// with its RetryAfter, goes to the caller to schedule.
	MaxRetryAfter time.Duration
	// Clock defaults to the real clock.
	Clock Clock
	// Jitter returns a number in [0, 1); it defaults to math/rand/v2.
	Jitter func() float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 5 * time.Minute
	}
	if p.Clock == nil {
		p.Clock = realClock{}
	}
	if p.Jitter == nil {
		p.Jitter = rand.Float64
	}
	return p
}

// backoff returns the wait before attempt number next (2, 3, ...): full
// jitter over an exponential ceiling, but at least what the destination
// asked for.
func (p RetryPolicy) backoff(next int, retryAfter time.Duration) time.Duration {
	ceiling := p.BaseDelay << (next - 2)
	if ceiling > p.MaxDelay || ceiling <= 0 {
		ceiling = p.MaxDelay
	}
	d := time.Duration(p.Jitter() * float64(ceiling))
	if d < retryAfter {
		d = retryAfter
	}
	return d
}

// RetryError is what Retry returns when it stops without success: how many
// attempts were made, why it stopped, and the last error (which it wraps).
type RetryError struct {
	Attempts int
	Reason   string // "permanent error", "attempts exhausted", "deadline", ...
	Err      error
}

// Error formats the error as "gave up after N attempts (reason): last error".
func (e *RetryError) Error() string {
	s := "s"
	if e.Attempts == 1 {
		s = ""
	}
	return fmt.Sprintf("gave up after %d attempt%s (%s): %v", e.Attempts, s, e.Reason, e.Err)
}

// Unwrap returns the last error.
func (e *RetryError) Unwrap() error { return e.Err }

// Retry wraps n so that Test, Send (and SendBatch, when n has it) are tried
// again after a retryable error, with exponential backoff and full jitter,
// waiting at least the destination's RetryAfter and never past the context's
// deadline. A permanent error is returned at once. When it stops without
// success the error is a *RetryError carrying the attempt count and the last
// error.
func Retry(n Notifier, p RetryPolicy) Notifier {
	r := &retrier{wrapped: wrapped{n}, p: p.withDefaults()}
	if b, ok := n.(BatchSender); ok {
		return &batchRetrier{retrier: r, batch: b}
	}
	return r
}

type retrier struct {
	wrapped
	p RetryPolicy
}

func (r *retrier) String() string { return fmt.Sprintf("retry(%v)", r.inner) }

// TestReport returns the wrapped Notifier's report. It is not retried: a
// report is what one look at the destination proved, and a console shows
// its failed step rather than waiting out a backoff.
func (r *retrier) TestReport(ctx context.Context) Report { return r.report(ctx, r.inner.Test) }

func (r *retrier) Test(ctx context.Context) error {
	return r.do(ctx, func() error { return r.inner.Test(ctx) })
}

func (r *retrier) Send(ctx context.Context, e Event) (Receipt, error) {
	var rc Receipt
	err := r.do(ctx, func() error {
		var err error
		rc, err = r.inner.Send(ctx, e)
		return err
	})
	return rc, err
}

func (r *retrier) do(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if err == nil {
			return nil
		}
		stop := func(reason string) error { return &RetryError{Attempts: n, Reason: reason, Err: err} }
		switch {
		case !IsRetryable(err):
			return stop("permanent error")
		case n >= r.p.MaxAttempts:
			return stop("attempts exhausted")
		case ctx.Err() != nil:
			return stop("context done")
		}
		ra := RetryAfterOf(err)
		if ra > r.p.MaxRetryAfter {
			return stop("the destination asked to wait " + ra.String())
		}
		wait := r.p.backoff(n+1, ra)
		if dl, ok := ctx.Deadline(); ok && !r.p.Clock.Now().Add(wait).Before(dl) {
			return stop("the next attempt would pass the deadline")
		}
		if r.p.Clock.Sleep(ctx, wait) != nil {
			return stop("context done")
		}
	}
}

type batchRetrier struct {
	*retrier
	batch BatchSender
}

// SendBatch resends only what a failed attempt did not deliver, so a
// partial failure never delivers an event twice.
func (r *batchRetrier) SendBatch(ctx context.Context, events []Event) ([]Receipt, error) {
	rcs := make([]Receipt, 0, len(events))
	err := r.do(ctx, func() error {
		got, err := r.batch.SendBatch(ctx, events[len(rcs):])
		if n := len(events) - len(rcs); len(got) > n {
			got = got[:n]
		}
		rcs = append(rcs, got...)
		return err
	})
	return rcs, err
}
