package notify

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// RateLimit wraps n so that Test, Send (and SendBatch, one token per batch,
// when n has it) first wait for a token from l. A wait that the context's
// deadline would cut short fails at once with a retryable ErrRateLimited.
// Destinations with a documented rate export it (slack.RateLimit,
// slack.Burst); a Notifier never throttles itself behind the caller's back.
func RateLimit(n Notifier, l *rate.Limiter) Notifier {
	r := &limiter{wrapped: wrapped{n}, l: l}
	if b, ok := n.(BatchSender); ok {
		return &batchLimiter{limiter: r, batch: b}
	}
	return r
}

type limiter struct {
	wrapped
	l *rate.Limiter
}

func (r *limiter) String() string { return fmt.Sprintf("ratelimit(%v)", r.inner) }

// TestReport waits for a token, then returns the wrapped Notifier's report.
func (r *limiter) TestReport(ctx context.Context) Report {
	if err := r.wait(ctx, "test"); err != nil {
		var rep Report
		rep.Fail("rate limit token", err)
		return rep
	}
	return r.report(ctx, r.inner.Test)
}

func (r *limiter) wait(ctx context.Context, op string) error {
	if err := r.l.Wait(ctx); err != nil {
		return &Error{Integration: r.integration(), Op: op, Kind: ErrRateLimited, Retryable: ctx.Err() == nil,
			Message: "waiting for the rate limit", Err: err}
	}
	return nil
}

func (r *limiter) Test(ctx context.Context) error {
	if err := r.wait(ctx, "test"); err != nil {
		return err
	}
	return r.inner.Test(ctx)
}

func (r *limiter) Send(ctx context.Context, e Event) (Receipt, error) {
	if err := r.wait(ctx, "send"); err != nil {
		return Receipt{}, err
	}
	return r.inner.Send(ctx, e)
}

type batchLimiter struct {
	*limiter
	batch BatchSender
}

func (r *batchLimiter) SendBatch(ctx context.Context, events []Event) ([]Receipt, error) {
	if err := r.wait(ctx, "send batch"); err != nil {
		return nil, err
	}
	return r.batch.SendBatch(ctx, events)
}
