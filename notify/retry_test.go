package notify_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// fakeClock advances only when the code under test sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// scripted answers Send with its errors in order, then succeeds.
type scripted struct {
	notifytest.Recorder
	mu    sync.Mutex
	errs  []error
	calls int
}

func (s *scripted) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	s.mu.Lock()
	s.calls++
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	s.mu.Unlock()
	if err != nil {
		return notify.Receipt{}, err
	}
	return s.Recorder.Send(ctx, e)
}

func (s *scripted) Test(ctx context.Context) error {
	_, err := s.Send(ctx, validEvent())
	return err
}

func unavailable() error {
	return &notify.Error{Integration: "x", Op: "send", StatusCode: 503, Kind: notify.ErrUnavailable, Retryable: true}
}

func rateLimited(after time.Duration) error {
	return &notify.Error{Integration: "x", Op: "send", StatusCode: 429, Kind: notify.ErrRateLimited, Retryable: true, RetryAfter: after}
}

func halfJitter() float64 { return 0.5 }

func TestRetryBacksOffExponentiallyWithJitter(t *testing.T) {
	clock := newFakeClock()
	inner := &scripted{errs: []error{unavailable(), unavailable(), unavailable()}}
	n := notify.Retry(inner, notify.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second, Clock: clock, Jitter: halfJitter})
	rc, err := n.Send(context.Background(), validEvent())
	require.NoError(t, err)
	require.Equal(t, "evt-123", rc.ID)
	require.Equal(t, 4, inner.calls)
	// Half of 1s, 2s, then 4s capped at 3s.
	require.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}, clock.Sleeps())
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	clock := newFakeClock()
	inner := &scripted{errs: []error{rateLimited(20 * time.Second), rateLimited(0)}}
	n := notify.Retry(inner, notify.RetryPolicy{BaseDelay: time.Second, Clock: clock, Jitter: halfJitter})
	_, err := n.Send(context.Background(), validEvent())
	require.NoError(t, err)
	require.Equal(t, []time.Duration{20 * time.Second, time.Second}, clock.Sleeps(),
		"waits at least Retry-After, then falls back to backoff")
}

func TestRetryNeverRetriesAPermanentError(t *testing.T) {
	for _, perm := range []error{
		&notify.Error{Integration: "x", StatusCode: 400, Kind: notify.ErrRejected},
		&notify.Error{Integration: "x", StatusCode: 401, Kind: notify.ErrUnauthorized},
		&notify.ValidationError{Fields: []notify.FieldError{{Field: "id", Message: "is required"}}},
		context.Canceled,
	} {
		clock := newFakeClock()
		inner := &scripted{errs: []error{perm}}
		_, err := notify.Retry(inner, notify.RetryPolicy{Clock: clock}).Send(context.Background(), validEvent())
		require.ErrorIs(t, err, perm)
		var re *notify.RetryError
		require.ErrorAs(t, err, &re)
		require.Equal(t, 1, re.Attempts)
		require.Equal(t, "permanent error", re.Reason)
		require.Equal(t, 1, inner.calls)
		require.Empty(t, clock.Sleeps())
	}
}

func TestRetryStopsAtTheDeadline(t *testing.T) {
	clock := newFakeClock()
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	// The fake clock starts in 2026-01-01, long before the real deadline, so
	// put it 30s before the deadline.
	dl, _ := ctx.Deadline()
	clock.now = dl.Add(-30 * time.Second)
	inner := &scripted{errs: []error{rateLimited(10 * time.Second), rateLimited(25 * time.Second), unavailable()}}
	_, err := notify.Retry(inner, notify.RetryPolicy{MaxAttempts: 10, Clock: clock, Jitter: halfJitter}).Send(ctx, validEvent())
	var re *notify.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 2, re.Attempts)
	require.Equal(t, "the next attempt would pass the deadline", re.Reason)
	require.Equal(t, 25*time.Second, notify.RetryAfterOf(err), "the caller still learns how long to wait")
	require.Equal(t, []time.Duration{10 * time.Second}, clock.Sleeps())
	require.True(t, notify.IsRetryable(err))
	require.Contains(t, err.Error(), "gave up after 2 attempts")
}

func TestRetryGivesUpWhenAttemptsRunOut(t *testing.T) {
	clock := newFakeClock()
	inner := &scripted{errs: []error{unavailable(), unavailable(), unavailable()}}
	_, err := notify.Retry(inner, notify.RetryPolicy{MaxAttempts: 3, Clock: clock}).Send(context.Background(), validEvent())
	var re *notify.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 3, re.Attempts)
	require.Equal(t, "attempts exhausted", re.Reason)
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.Len(t, clock.Sleeps(), 2)
}

func TestRetryRefusesAnAbsurdRetryAfter(t *testing.T) {
	clock := newFakeClock()
	inner := &scripted{errs: []error{rateLimited(time.Hour)}}
	_, err := notify.Retry(inner, notify.RetryPolicy{Clock: clock}).Send(context.Background(), validEvent())
	var re *notify.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 1, inner.calls)
	require.Equal(t, time.Hour, notify.RetryAfterOf(err))
}

func TestRetryWithTheRealClockStopsWhenTheContextEnds(t *testing.T) {
	inner := &scripted{errs: []error{unavailable(), unavailable(), unavailable(), unavailable()}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { cancel() }()
	_, err := notify.Retry(inner, notify.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: func() float64 { return 0.99 }}).
		Send(ctx, validEvent())
	require.Error(t, err)
	require.LessOrEqual(t, inner.calls, 2)
}

func TestRetryTestAndPassThrough(t *testing.T) {
	clock := newFakeClock()
	inner := &scripted{errs: []error{unavailable()}}
	n := notify.Retry(inner, notify.RetryPolicy{Clock: clock})
	require.NoError(t, n.Test(context.Background()))
	require.NoError(t, n.Validate())
	require.Equal(t, inner, n.(interface{ Unwrap() notify.Notifier }).Unwrap())
	_, isBatch := n.(notify.BatchSender)
	require.False(t, isBatch, "a wrapper is a BatchSender only when what it wraps is")
}

type batcher struct {
	scripted
	batches int
	sent    [][]string
}

// SendBatch delivers the first event of the first batch, then fails; later
// batches are delivered whole. It records what it was asked to send.
func (b *batcher) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	b.batches++
	b.sent = append(b.sent, ids(events))
	if b.batches == 1 {
		return []notify.Receipt{{ID: events[0].ID}}, unavailable()
	}
	rcs := make([]notify.Receipt, len(events))
	for i, e := range events {
		rcs[i].ID = e.ID
	}
	return rcs, nil
}

func ids(events []notify.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestRetryResendsOnlyWhatWasNotDelivered(t *testing.T) {
	b := &batcher{}
	n := notify.Retry(b, notify.RetryPolicy{Clock: newFakeClock()})
	bs, ok := n.(notify.BatchSender)
	require.True(t, ok)
	events := []notify.Event{validEvent(), validEvent(), validEvent()}
	events[0].ID, events[1].ID, events[2].ID = "e1", "e2", "e3"
	rcs, err := bs.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, []string{"e1", "e2", "e3"}, ids(toEvents(rcs)))
	require.Equal(t, [][]string{{"e1", "e2", "e3"}, {"e2", "e3"}}, b.sent, "e1 was delivered once")
}

func toEvents(rcs []notify.Receipt) []notify.Event {
	out := make([]notify.Event, len(rcs))
	for i, r := range rcs {
		out[i].ID = r.ID
	}
	return out
}

func TestIsRetryableReadsAnyError(t *testing.T) {
	require.False(t, notify.IsRetryable(nil))
	require.False(t, notify.IsRetryable(errors.New("plain")))
	require.True(t, notify.IsRetryable(context.DeadlineExceeded))
	require.False(t, notify.IsRetryable(context.Canceled))
	require.True(t, notify.IsRetryable(errors.Join(errors.New("ctx"), unavailable())))
	require.True(t, notify.IsRetryable(errors.New("x: "+notify.ErrUnavailable.Error())) == false)
	require.Equal(t, time.Duration(0), notify.RetryAfterOf(errors.New("plain")))
}

// TestRetryRateLimitFloor: a 429 that names no wait is not retried at once,
// even when the jitter draws zero.
func TestRetryRateLimitFloor(t *testing.T) {
	clock := newFakeClock()
	s := &scripted{errs: []error{rateLimited(0), rateLimited(0)}}
	n := notify.Retry(s, notify.RetryPolicy{MaxAttempts: 3, Clock: clock, Jitter: func() float64 { return 0 }})
	_, err := n.Send(context.Background(), validEvent())
	require.NoError(t, err)
	require.Equal(t, []time.Duration{time.Second, time.Second}, clock.Sleeps())
	require.Equal(t, time.Second, notify.RetryAfterOf(rateLimited(0)))
	require.Equal(t, 3*time.Second, notify.RetryAfterOf(rateLimited(3*time.Second)), "a longer wait the destination names stands")
	require.Equal(t, time.Duration(0), notify.RetryAfterOf(unavailable()), "the floor is for rate limits only")
}
