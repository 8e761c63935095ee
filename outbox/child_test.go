package outbox_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/outbox/postgres"
	"github.com/codedefender/integrations/outbox/sqlite"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/webhook"
)

// The environment of a child process: the test binary re-executed to
// deliver from a database as a separate process, killed or stopped by the
// test that started it.
const (
	childEnv     = "OUTBOX_TEST_CHILD"      // "webhook" or "slack": what the integrations are
	childDBEnv   = "OUTBOX_TEST_DB"         // sqlite:FILE or a postgres:// URL
	childSinkEnv = "OUTBOX_TEST_SINK"       // webhook: the loopback sink's base URL
	childFakeEnv = "OUTBOX_TEST_FAKE_ADDR"  // slack: the Slack fake's TLS address
	childCAEnv   = "OUTBOX_TEST_FAKE_CA"    // slack: a file with the fake's CA certificate
	childHookEnv = "OUTBOX_TEST_SLACK_HOOK" // slack: the one webhook URL
)

// childMain delivers until SIGTERM (a graceful Stop) or SIGKILL. For the
// Slack integration it prints "sent <unix nanoseconds> <status>" for each
// request it makes, which the rate-limit test reads.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := runChild(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func runChild(ctx context.Context) error {
	resolve, err := childResolve()
	if err != nil {
		return err
	}
	cfg := outbox.Config{
		Resolve:        resolve,
		Workers:        20,
		PollInterval:   100 * time.Millisecond,
		BackoffBase:    100 * time.Millisecond,
		BackoffMax:     time.Second,
		AttemptTimeout: 5 * time.Second,
		RescueAfter:    6 * time.Second,
		RateLimits:     map[string]time.Duration{"webhook": 0},
	}
	loc := os.Getenv(childDBEnv)
	if path, ok := strings.CutPrefix(loc, "sqlite:"); ok {
		d, err := sqlite.Open(path)
		if err != nil {
			return err
		}
		defer d.Close()
		return serve(ctx, d, cfg)
	}
	d, err := postgres.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer d.Close()
	return serve(ctx, d, cfg)
}

func serve[TTx any](ctx context.Context, d outbox.Driver[TTx], cfg outbox.Config) error {
	ob, err := outbox.New(ctx, d, cfg)
	if err != nil {
		return err
	}
	if err := ob.Start(ctx); err != nil {
		return err
	}
	fmt.Println("started")
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return ob.Stop(stopCtx)
}

func childResolve() (func(context.Context, string) (notify.Notifier, error), error) {
	switch os.Getenv(childEnv) {
	case "webhook":
		sink := os.Getenv(childSinkEnv)
		var mu sync.Mutex
		cache := map[string]notify.Notifier{} // one client per integration, as a service would keep
		return func(_ context.Context, id string) (notify.Notifier, error) {
			mu.Lock()
			defer mu.Unlock()
			if n, ok := cache[id]; ok {
				return n, nil
			}
			n, err := webhook.New(webhook.Config{Name: id, URL: sink + "/" + id}, notify.WithAllowPrivateNetworks())
			if err == nil {
				cache[id] = n
			}
			return n, err
		}, nil
	case "slack":
		pem, err := os.ReadFile(os.Getenv(childCAEnv))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		addr := os.Getenv(childFakeEnv)
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		client := &http.Client{Transport: &printing{inner: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr) // every host is the fake
			},
		}}}
		n, err := slack.New(slack.Config{Name: "slack", WebhookURL: notify.Secret(os.Getenv(childHookEnv))},
			notify.WithHTTPClient(client))
		if err != nil {
			return nil, err
		}
		return func(context.Context, string) (notify.Notifier, error) { return n, nil }, nil
	}
	return nil, fmt.Errorf("unknown child kind %q", os.Getenv(childEnv))
}

// printing prints when each request starts and how it was answered.
type printing struct {
	inner http.RoundTripper
	mu    sync.Mutex
}

func (p *printing) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.inner.RoundTrip(r)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	p.mu.Lock()
	fmt.Printf("sent %d %d\n", start.UnixNano(), status)
	p.mu.Unlock()
	return resp, err
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

// startChild runs the test binary as a child delivering from loc, and
// waits until its outbox has started.
func startChild(t *testing.T, kind, loc string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + kind, childDBEnv + "=" + loc}, env...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, lines: make(chan string, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // a test that does not read the lines never blocks the child
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		_ = cmd.Wait()
	})
	select {
	case l := <-c.lines:
		require.Equal(t, "started", l)
	case <-c.done:
		t.Fatal("the child exited before starting")
	case <-time.After(60 * time.Second):
		t.Fatal("the child did not start")
	}
	return c
}

// kill sends SIGKILL to the child's own PID and waits for it to die.
func (c *child) kill(t *testing.T) {
	require.NoError(t, syscall.Kill(c.cmd.Process.Pid, syscall.SIGKILL))
	<-c.done
	err := c.cmd.Wait()
	require.Error(t, err, "killed")
}

// stop asks the child to stop gracefully and waits for it.
func (c *child) stop(t *testing.T) {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	<-c.done
	require.NoError(t, c.cmd.Wait())
}

// sink counts webhook deliveries per (event, integration) on loopback,
// each answer held a little so that a kill lands mid-delivery.
type sink struct {
	srv *http.Server
	url string
	mu  sync.Mutex
	got map[string]int
	n   int
	// delay holds each answer, so that a kill lands mid-delivery.
	delay time.Duration
}

func newSink(t testing.TB, delay time.Duration) *sink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &sink{got: map[string]int{}, url: "http://" + ln.Addr().String(), delay: delay}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	var e notify.Event
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(s.delay)
	s.mu.Lock()
	s.got[e.ID+"@"+strings.TrimPrefix(r.URL.Path, "/")]++
	s.n++
	s.mu.Unlock()
}

func (s *sink) counts() (distinct, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got), s.n
}

func (s *sink) missing(want []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range want {
		if s.got[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// crashEvents enqueues events × integrations deliveries and returns their
// keys as the sink counts them.
func crashEvents[TTx any](t testing.TB, d outbox.Driver[TTx], events int, integrations ...string) []string {
	ob, err := outbox.New(context.Background(), d, outbox.Config{})
	require.NoError(t, err)
	var keys []string
	var batch []outbox.Delivery
	for i := range events {
		e := event(fmt.Sprintf("evt-%05d", i))
		e.Type = notify.EventClientSideRisk // a type the webhook fires for by default
		for _, id := range integrations {
			batch = append(batch, outbox.Delivery{Event: e, IntegrationID: id})
			keys = append(keys, e.ID+"@"+id)
		}
		if len(batch) >= 500 || i == events-1 {
			_, err := ob.EnqueueMany(context.Background(), batch)
			require.NoError(t, err)
			batch = batch[:0]
		}
	}
	return keys
}

func waitDistinct(t *testing.T, s *sink, n int, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { d, _ := s.counts(); return d >= n }, timeout, 10*time.Millisecond)
}

// TestCrashSQLite kills the only delivering process mid-run with SIGKILL
// and starts another: every delivery arrives at least once.
func TestCrashSQLite(t *testing.T) {
	s := newSink(t, 2*time.Millisecond)
	path := t.TempDir() + "/outbox.db"
	d, err := sqlite.Open(path)
	require.NoError(t, err)
	keys := crashEvents(t, d, 700, "hook-a", "hook-b", "hook-c")
	require.NoError(t, d.Close())
	env := childSinkEnv + "=" + s.url

	c := startChild(t, "webhook", "sqlite:"+path, env)
	waitDistinct(t, s, 400, 60*time.Second)
	c.kill(t)
	distinct, _ := s.counts()
	require.Less(t, distinct, len(keys), "killed mid-run")

	began := time.Now()
	c = startChild(t, "webhook", "sqlite:"+path, env)
	waitDistinct(t, s, len(keys), 120*time.Second)
	c.stop(t)
	require.Empty(t, s.missing(keys))
	_, total := s.counts()
	t.Logf("sqlite: %d deliveries, %d duplicates after the kill at %d; the restart finished in %v",
		len(keys), total-len(keys), distinct, time.Since(began).Round(time.Millisecond))
}

// TestCrashPostgres runs two processes on one PostgreSQL queue and kills
// one mid-run: the other delivers everything, the killed one's jobs
// included once River's rescuer gives them back.
func TestCrashPostgres(t *testing.T) {
	s := newSink(t, 2*time.Millisecond)
	url := postgresHarness().fresh(t)
	d, err := postgres.Open(context.Background(), url)
	require.NoError(t, err)
	keys := crashEvents(t, d, 700, "hook-a", "hook-b", "hook-c")
	require.NoError(t, d.Close())
	env := childSinkEnv + "=" + s.url

	victim := startChild(t, "webhook", url, env)
	survivor := startChild(t, "webhook", url, env)
	waitDistinct(t, s, 400, 60*time.Second)
	victim.kill(t)
	distinct, _ := s.counts()
	require.Less(t, distinct, len(keys), "killed mid-run")

	began := time.Now()
	waitDistinct(t, s, len(keys), 150*time.Second)
	survivor.stop(t)
	require.Empty(t, s.missing(keys))
	_, total := s.counts()
	t.Logf("postgres: %d deliveries, %d duplicates after the kill at %d; the rest took %v",
		len(keys), total-len(keys), distinct, time.Since(began).Round(time.Millisecond))
}

// TestSharedRateLimitPostgres runs two processes on one PostgreSQL queue
// with 40 alerts for one Slack webhook: over 20 s the fake sees at most one
// delivery a second.
func TestSharedRateLimitPostgres(t *testing.T) {
	f := newFakes(t, "slack")
	url := postgresHarness().fresh(t)
	d, err := postgres.Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ob, err := outbox.New(context.Background(), d, outbox.Config{})
	require.NoError(t, err)
	for i := range 40 {
		_, err := ob.Enqueue(context.Background(), event(fmt.Sprintf("evt-%02d", i)), "slack")
		require.NoError(t, err)
	}
	ca := t.TempDir() + "/ca.pem"
	require.NoError(t, os.WriteFile(ca, f.srv.CACertPEM(), 0o600))
	env := []string{
		childFakeEnv + "=" + strings.TrimPrefix(f.srv.URL(), "https://"),
		childCAEnv + "=" + ca,
		childHookEnv + "=" + f.hooks["slack"].Reveal(),
	}
	a := startChild(t, "slack", url, env...)
	b := startChild(t, "slack", url, env...)
	const window = 20 * time.Second
	time.Sleep(window)
	a.stop(t)
	b.stop(t)

	delivered := 0
	for _, r := range f.srv.RequestsTo("slack") {
		if r.Status == http.StatusOK {
			delivered++
		}
	}
	var sends []time.Time
	perChild := map[*child]int{}
	for _, c := range []*child{a, b} {
		for len(c.lines) > 0 {
			var ns, status int64
			if _, err := fmt.Sscanf(<-c.lines, "sent %d %d", &ns, &status); err == nil && status == http.StatusOK {
				sends = append(sends, time.Unix(0, ns))
				perChild[c]++
			}
		}
	}
	t.Logf("delivered %d in %v (a: %d, b: %d)", delivered, window, perChild[a], perChild[b])
	require.LessOrEqual(t, delivered, int(window/time.Second)+1, "at most one a second, counted at the fake")
	require.GreaterOrEqual(t, delivered, int(window/time.Second)-4, "the limit, not something else, paced them")
	require.Equal(t, delivered, len(sends))
	require.Positive(t, perChild[a])
	require.Positive(t, perChild[b])
	sortTimes(sends)
	for i := 1; i < len(sends); i++ {
		require.GreaterOrEqual(t, sends[i].Sub(sends[i-1]), 900*time.Millisecond, "two deliveries within a second")
	}
	var snoozes int64
	require.NoError(t, d.Pool().QueryRow(context.Background(),
		`SELECT coalesce(sum((metadata->>'snoozes')::bigint), 0) FROM river_job`).Scan(&snoozes))
	t.Logf("snoozes of the waiting jobs: %d", snoozes)
	require.Less(t, snoozes, int64(40*20), "the waiting jobs' churn is bounded")
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}
