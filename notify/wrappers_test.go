package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestRateLimitWaitsForAToken(t *testing.T) {
	rec := notifytest.NewRecorder()
	l := rate.NewLimiter(rate.Every(time.Hour), 2)
	n := notify.RateLimit(rec, l)
	_, err := n.Send(context.Background(), validEvent())
	require.NoError(t, err)
	require.NoError(t, n.Test(context.Background()))

	// The bucket is empty and the next token is an hour away: a deadline
	// that cannot be met fails at once, retryable, without sending.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = n.Send(ctx, validEvent())
	require.ErrorIs(t, err, notify.ErrRateLimited)
	require.True(t, notify.IsRetryable(err))
	require.Len(t, rec.Events(), 1)
	require.Equal(t, 1, rec.Tests())
}

// slowNotifier takes d to answer, or fails.
type slowNotifier struct {
	notifytest.Recorder
	d     time.Duration
	fail  error
	panic bool
	calls atomic.Int32
}

func (s *slowNotifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	s.calls.Add(1)
	if s.panic {
		panic("boom")
	}
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return notify.Receipt{}, ctx.Err()
	}
	if s.fail != nil {
		return notify.Receipt{}, s.fail
	}
	return notify.Receipt{ID: "rc-" + e.ID}, nil
}

func TestFanoutSendsToEveryTargetAndReportsEach(t *testing.T) {
	failure := errors.New("destination down")
	targets := map[string]notify.Notifier{
		"b-fails":  &slowNotifier{fail: failure},
		"a-ok":     &slowNotifier{},
		"c-panics": &slowNotifier{panic: true},
		"d-nil":    nil,
	}
	results := notify.Fanout(context.Background(), validEvent(), targets)
	require.Len(t, results, 4)
	require.Equal(t, "a-ok", results[0].Name)
	require.NoError(t, results[0].Err)
	require.Equal(t, "rc-evt-123", results[0].Receipt.ID)
	require.Equal(t, "b-fails", results[1].Name)
	require.ErrorIs(t, results[1].Err, failure)
	require.Equal(t, "c-panics", results[2].Name)
	require.ErrorContains(t, results[2].Err, "panicked: boom")
	require.Equal(t, "d-nil", results[3].Name)
	require.Error(t, results[3].Err)
}

// TestFanoutRunsConcurrently shows every Send is in flight at once: each
// waits for all the others to have started, which a sequential fan-out
// would never reach.
func TestFanoutRunsConcurrently(t *testing.T) {
	const n = 10
	var started atomic.Int32
	all := make(chan struct{})
	targets := map[string]notify.Notifier{}
	for i := 0; i < n; i++ {
		targets[fmt.Sprintf("n%02d", i)] = barrier{started: &started, all: all, n: n}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := notify.Fanout(ctx, validEvent(), targets)
	for _, r := range results {
		require.NoError(t, r.Err, r.Name)
	}
}

type barrier struct {
	started *atomic.Int32
	all     chan struct{}
	n       int32
}

func (b barrier) Validate() error                { return nil }
func (b barrier) Test(ctx context.Context) error { return nil }
func (b barrier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if b.started.Add(1) == b.n {
		close(b.all)
	}
	select {
	case <-b.all:
		return notify.Receipt{ID: e.ID}, nil
	case <-ctx.Done():
		return notify.Receipt{}, ctx.Err()
	}
}

func TestRecorder(t *testing.T) {
	r := notifytest.NewRecorder()
	_, err := r.Send(context.Background(), notify.Event{})
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve, "the recorder refuses an invalid event as a destination does")
	r.FailSend(notify.ErrUnavailable)
	_, err = r.Send(context.Background(), validEvent())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	r.FailTest(notify.ErrUnauthorized)
	require.ErrorIs(t, r.Test(context.Background()), notify.ErrUnauthorized)
	require.Len(t, r.Events(), 1)
}

// goexiter ends its goroutine from inside Send, as t.FailNow or a
// misused log.Fatal-style helper would.
type goexiter struct{ notifytest.Recorder }

func (*goexiter) Send(context.Context, notify.Event) (notify.Receipt, error) {
	runtime.Goexit()
	return notify.Receipt{}, nil
}

func TestFanoutKeepsTheResultOfAGoexit(t *testing.T) {
	targets := map[string]notify.Notifier{"a-ok": &slowNotifier{}, "b-goexit": &goexiter{}}
	results := notify.Fanout(context.Background(), validEvent(), targets)
	require.Len(t, results, 2)
	require.NoError(t, results[0].Err)
	require.Equal(t, "b-goexit", results[1].Name)
	require.ErrorContains(t, results[1].Err, "runtime.Goexit")
}

// identified is a Notifier with the shell every destination has: a type, a
// name, a report of its Test, and a Close.
type identified struct {
	notifytest.Recorder
	closed atomic.Int32
}

func (*identified) Type() string   { return "slack" }
func (*identified) Name() string   { return "SOC channel" }
func (i *identified) Close() error { i.closed.Add(1); return nil }
func (*identified) TestReport(context.Context) notify.Report {
	var r notify.Report
	r.Pass("webhook accepted", "")
	r.Warn("channel honoured", "only legacy webhooks honour it")
	return r
}

func TestWrappersForwardTheShell(t *testing.T) {
	wrappers := map[string]func(notify.Notifier) notify.Notifier{
		"retry":     func(n notify.Notifier) notify.Notifier { return notify.Retry(n, notify.RetryPolicy{}) },
		"ratelimit": func(n notify.Notifier) notify.Notifier { return notify.RateLimit(n, rate.NewLimiter(rate.Inf, 1)) },
		"both": func(n notify.Notifier) notify.Notifier {
			return notify.RateLimit(notify.Retry(n, notify.RetryPolicy{}), rate.NewLimiter(rate.Inf, 1))
		},
	}
	for name, wrap := range wrappers {
		t.Run(name, func(t *testing.T) {
			inner := &identified{}
			w := wrap(inner)
			named, ok := w.(notify.Named)
			require.True(t, ok)
			require.Equal(t, "slack", named.Type())
			require.Equal(t, "SOC channel", named.Name())
			rep := w.(notify.Reporter).TestReport(context.Background())
			require.Len(t, rep.Checks, 2)
			require.Len(t, rep.Warnings(), 1)
			require.NoError(t, w.(interface{ Close() error }).Close())
			require.Equal(t, int32(1), inner.closed.Load(), "Close reaches the destination once")
		})
	}
	t.Run("bare notifier", func(t *testing.T) {
		w := notify.Retry(&notifytest.Recorder{}, notify.RetryPolicy{})
		require.Equal(t, "", w.(notify.Named).Type())
		require.NoError(t, w.(interface{ Close() error }).Close())
		rep := w.(notify.Reporter).TestReport(context.Background())
		require.Len(t, rep.Checks, 1)
		require.False(t, rep.Failed())
	})
}

// batchRecorder records batches, so a batch wrapper's events can be read.
type batchRecorder struct {
	notifytest.Recorder
	mu      sync.Mutex
	batches [][]notify.Event
}

func (b *batchRecorder) SendBatch(_ context.Context, events []notify.Event) ([]notify.Receipt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, append([]notify.Event(nil), events...))
	return make([]notify.Receipt, len(events)), nil
}

// A resolved event reaches the destination resolved, through every
// wrapper and its JSON form.
func TestStatusFlowsThroughTheWrappers(t *testing.T) {
	resolved := validEvent()
	resolved.Status = notify.StatusResolved
	inner := &batchRecorder{}
	wrapped := notify.RateLimit(notify.Retry(inner, notify.RetryPolicy{}), rate.NewLimiter(rate.Inf, 1))

	_, err := wrapped.Send(context.Background(), resolved)
	require.NoError(t, err)
	results := notify.Fanout(context.Background(), resolved, map[string]notify.Notifier{"x": wrapped})
	require.NoError(t, results[0].Err)
	_, err = wrapped.(notify.BatchSender).SendBatch(context.Background(), []notify.Event{validEvent(), resolved})
	require.NoError(t, err)

	events := inner.Events()
	require.Len(t, events, 2)
	for _, e := range events {
		require.Equal(t, notify.StatusResolved, e.Status)
	}
	require.Equal(t, []notify.Status{notify.StatusOpen, notify.StatusResolved},
		[]notify.Status{inner.batches[0][0].Status, inner.batches[0][1].Status})

	// The JSON form (what a queue stores) keeps it too.
	b, err := json.Marshal(resolved)
	require.NoError(t, err)
	require.Contains(t, string(b), `"status":"resolved"`)
	var back notify.Event
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, resolved, back)
}
