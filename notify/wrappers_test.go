package notify_test

import (
	"context"
	"errors"
	"fmt"
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
