package notifytest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// watchDelays installs the delay hook for one test and returns the channel
// its events arrive on.
func watchDelays(t *testing.T) <-chan string {
	events := make(chan string, 8)
	hook := func(e string) { events <- e }
	testHookDelay.Store(&hook)
	t.Cleanup(func() { testHookDelay.Store(nil) })
	return events
}

// Close must end a request a fault is holding rather than wait out its
// delay.
func TestCloseEndsAHeldRequest(t *testing.T) {
	srv, err := StartServer()
	require.NoError(t, err)
	events := watchDelays(t)
	require.NoError(t, srv.Inject(Fault{Status: http.StatusOK, Delay: time.Hour}))

	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := srv.Client().Get("https://hooks.example.org/")
		if err != nil {
			done <- result{err: err}
			return
		}
		_ = resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	require.Equal(t, "held", <-events)
	srv.Close()
	require.Equal(t, "closing", <-events)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	rs := srv.Requests()
	require.Len(t, rs, 1)
	require.Equal(t, http.StatusServiceUnavailable, rs[0].Status)
}

// stubFake is a Fake that takes every request and answers 200, to test
// the core without a vendor fake (which imports this package).
type stubFake struct{ dest Destination }

func (f stubFake) Destination() Destination                           { return f.dest }
func (stubFake) Handles(string, string) bool                          { return true }
func (stubFake) ServeFake(w http.ResponseWriter, _ *Request)          { w.WriteHeader(http.StatusOK) }
func (stubFake) WriteError(w http.ResponseWriter, code int, m string) { http.Error(w, m, code) }
func (stubFake) Attach(*Server)                                       {}

// A held request ends when its client gives up, and is recorded without an
// answer.
func TestDelayEndsWithTheClient(t *testing.T) {
	srv, err := StartServer(stubFake{dest: Slack})
	require.NoError(t, err)
	defer srv.Close()
	events := watchDelays(t)
	require.NoError(t, srv.Inject(Fault{Destination: Slack, Status: http.StatusOK, Delay: time.Hour}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://hooks.slack.com/services/T1/B1/abcdefghijklmnopqrstuvwx", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	require.Equal(t, "held", <-events)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, "client gone", <-events)
	srv.Close() // waits for the handler to finish recording
	rs := srv.RequestsTo(Slack)
	require.Len(t, rs, 1)
	require.Zero(t, rs[0].Status)
	require.True(t, rs[0].Fault)
}
