package conformance

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// reuseSends is how many sequential Sends must share one connection (the
// issue's figure).
const reuseSends = 1000

// TestConnectionReuse sends 1,000 events in a row to each HTTP destination
// and counts the TCP connections the loopback server accepts: one. Every
// answer is read to its end (and a long one drained), so the connection
// goes back to the pool before Send returns, which the reuseMeter checks
// Send by Send; a Jira or Datadog Send searches before it creates, over the
// same connection. The only other connection allowed replaces one that
// net/http itself dropped on a starved machine (see writeWait), never one
// the library gave up.
func TestConnectionReuse(t *testing.T) {
	for _, d := range destinations() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverOptions{cert: testPKI().good, http2: d.http2}, d.success)
			logger, logs := notifytest.NewLogger()
			n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(t, srv.addr(), nil),
				opts: []notify.Option{notify.WithLogger(logger)}})
			require.NoError(t, err)
			t.Cleanup(func() { closeNotifier(n) })

			ctx := context.Background()
			e := qualityEvent()
			meter := newReuseMeter(t)
			var first notify.Receipt
			for i := range reuseSends {
				rc, err := meter.send(ctx, n, e)
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if i == 0 {
					first = rc
				}
			}
			require.Equal(t, d.receipt, first, "the receipt comes from the answer")
			meter.check(srv, reuseSends, d.http2)
			perSend := int64(1)
			if d.name == "jira" || d.name == "datadog" {
				perSend = 2 // the search for the event's issue or incident, then the create
			}
			require.EqualValues(t, reuseSends*perSend, srv.requests.Load())
			notifytest.AssertNoSecret(t, logs.String(), d.secrets...)
		})
	}
}

// TestConnectionReuseAfterFailures cycles the server through the failures a
// destination answers with a complete HTTP response (500 and 502 pages, 429,
// 400, a redirect, a 2xx of 100 KiB that is read to its limit and drained),
// with a success between each: the connection survives them all (the
// reuseMeter's reading of "one").
func TestConnectionReuseAfterFailures(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	failures := []http.HandlerFunc{
		htmlPage(http.StatusInternalServerError)(nil),
		htmlPage(http.StatusBadGateway)(nil),
		answer(http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, "text/plain", fixed("Too Many Requests"))(nil),
		answer(http.StatusBadRequest, nil, "application/json", fixed(`{"message":"bad request"}`))(nil),
		answer(http.StatusMovedPermanently, http.Header{"Location": {"https://elsewhere.example/"}}, "text/html", fixed("<a>moved</a>"))(nil),
		answer(http.StatusOK, nil, "application/json", fixed(`{"pad":"`+long+`"}`))(nil),
	}
	const rounds = 20
	for _, d := range destinations() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			var next atomic.Int64
			srv := startServer(t, serverOptions{cert: testPKI().good, http2: d.http2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Even requests succeed, odd ones fail in turn; a Jira Send
				// may be two requests, which only shifts the turn.
				i := next.Add(1) - 1
				if i%2 == 0 {
					d.success(w, r)
					return
				}
				failures[(i/2)%int64(len(failures))](w, r)
			}))
			n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(t, srv.addr(), nil)})
			require.NoError(t, err)
			t.Cleanup(func() { closeNotifier(n) })
			meter := newReuseMeter(t)
			failed := 0
			for range rounds * len(failures) {
				if _, err := meter.send(context.Background(), n, qualityEvent()); err != nil {
					failed++
					notifytest.AssertNoSecret(t, err, d.secrets...)
				}
			}
			require.Positive(t, failed, "the failures reached the notifier")
			meter.check(srv, rounds*len(failures), d.http2)
		})
	}
}

// TestConcurrentSends has eight goroutines share each notifier, so that the
// race detector (go test -race) sees every destination's Send run
// concurrently, as the packages promise.
func TestConcurrentSends(t *testing.T) {
	const workers, perWorker = 8, 25
	for _, d := range destinations() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverOptions{cert: testPKI().good, http2: d.http2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				d.success(w, r)
			}))
			n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(t, srv.addr(), nil)})
			require.NoError(t, err)
			t.Cleanup(func() { closeNotifier(n) })
			var wg sync.WaitGroup
			errs := make(chan error, workers*perWorker)
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						e := qualityEvent()
						e.ID = fmt.Sprintf("evt-%d-%d", w, i)
						if _, err := n.Send(context.Background(), e); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			perSend := int64(1)
			if d.name == "jira" || d.name == "datadog" {
				perSend = 2 // the search for the event's issue or incident, then the create
			}
			require.EqualValues(t, workers*perWorker*perSend, srv.requests.Load())
		})
	}
}
