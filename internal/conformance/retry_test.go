package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// fakeClock is a notify.Clock whose Sleep returns at once and moves Now on,
// so that a storm of retries over half a minute runs in milliseconds.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
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
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// stormPolicy backs off from 1s, doubling to at most 16s, and always draws
// the middle of the jitter range, so the schedule is known: waits of 0.5s,
// 1s, 2s, 4s, 8s, 8s, ...
func stormPolicy(clock notify.Clock) notify.RetryPolicy {
	return notify.RetryPolicy{
		MaxAttempts: 50,
		BaseDelay:   time.Second,
		MaxDelay:    16 * time.Second,
		Clock:       clock,
		Jitter:      func() float64 { return 0.5 },
	}
}

// stormDeadline is how far the caller's context reaches.
const stormDeadline = 30 * time.Second

// TestRetryStorms sends to every HTTP destination, through notify.Retry,
// while the server answers 503 to everything: Retry backs off, honours
// Retry-After, and stops before the caller's deadline, with the number of
// attempts the schedule gives.
func TestRetryStorms(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
	storms := []struct {
		name   string
		header string // the Retry-After the server sends
		// sleeps is the schedule: each wait, in order; the next one would
		// pass the deadline.
		sleeps []time.Duration
		// retryAfter is what the final error asks the caller to wait.
		retryAfter time.Duration
	}{
		// 0.5+1+2+4+8+8 = 23.5s; the next 8s wait would end at 31.5s.
		{name: "503 without Retry-After", sleeps: []time.Duration{ms(0.5), ms(1), ms(2), ms(4), ms(8), ms(8)}},
		// Every wait is at least the 3s asked: 3+3+3+4+8+8 = 29s.
		{name: "503 with Retry-After 3", header: "3",
			sleeps: []time.Duration{ms(3), ms(3), ms(3), ms(4), ms(8), ms(8)}, retryAfter: 3 * time.Second},
		// A wait past the deadline is not slept: the error goes back at
		// once, with the wait for the caller to schedule.
		{name: "503 with Retry-After past the deadline", header: "120", retryAfter: 120 * time.Second},
	}
	for _, d := range destinations() {
		for _, st := range storms {
			t.Run(d.name+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				srv := startServer(t, serverOptions{cert: testPKI().good, http2: d.http2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					drain(r)
					if st.header != "" {
						w.Header().Set("Retry-After", st.header)
					}
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, "Service Unavailable")
				}))
				logger, logs := notifytest.NewLogger()
				n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(t, srv.addr(), nil),
					opts: []notify.Option{notify.WithLogger(logger)}})
				require.NoError(t, err)
				t.Cleanup(func() { closeNotifier(n) })

				start := time.Now()
				clock := &fakeClock{now: start}
				ctx, cancel := context.WithDeadline(context.Background(), start.Add(stormDeadline))
				defer cancel()
				rc, err := notify.Retry(n, stormPolicy(clock)).Send(ctx, qualityEvent())

				require.Empty(t, rc)
				var re *notify.RetryError
				require.ErrorAs(t, err, &re)
				require.Equal(t, "the next attempt would pass the deadline", re.Reason)
				require.Equal(t, len(st.sleeps)+1, re.Attempts)
				require.Equal(t, st.sleeps, clock.sleeps(), "the backoff schedule")
				require.EqualValues(t, re.Attempts, srv.requests.Load(), "one request per attempt")
				require.ErrorIs(t, err, notify.ErrUnavailable)
				require.True(t, errors.Is(err, notify.ErrUnavailable) && notify.IsRetryable(err),
					"the last error stays retryable: a later retry, past this deadline, may succeed")
				require.Equal(t, st.retryAfter, notify.RetryAfterOf(err))
				require.Regexp(t, `gave up after \d+ attempts? \(the next attempt would pass the deadline\): .*status 503`, err.Error())
				notifytest.AssertNoSecret(t, err, d.secrets...)
				notifytest.AssertNoSecret(t, logs.String(), d.secrets...)
			})
		}
	}
}
