package gcs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"

	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
)

// gcsPeer is fake-gcs-server on loopback, served by the test's own
// httptest server so that it can count uploads and answer the next ones
// with an error. The emulator has no auth and no IAM (testPermissions is
// covered with httpmock in gcs_test.go).
type gcsPeer struct {
	fake   *fakestorage.Server
	srv    *httptest.Server
	client *storage.Client

	mu       sync.Mutex
	uploads  int
	failNext []int
}

func startGCS(t testing.TB) *gcsPeer {
	t.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", NoListener: true})
	require.NoError(t, err)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	p := &gcsPeer{fake: fake}
	p.srv = httptest.NewServer(p.middleware(fake.HTTPHandler()))

	// One transport per peer, closed at the end, so no connection outlives
	// the test. No authentication: the emulator has none, and without this
	// option the client would look for default credentials.
	hc := &http.Client{Transport: &http.Transport{}}
	p.client, err = storage.NewClient(context.Background(),
		option.WithEndpoint(p.srv.URL+"/storage/v1/"),
		option.WithHTTPClient(hc),
		option.WithoutAuthentication())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = p.client.Close()
		hc.CloseIdleConnections()
		p.srv.Close()
		fake.Stop()
	})
	return p
}

func (p *gcsPeer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/upload/") {
			p.mu.Lock()
			p.uploads++
			status := 0
			if len(p.failNext) > 0 {
				status, p.failNext = p.failNext[0], p.failNext[1:]
			}
			p.mu.Unlock()
			if status != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"error":{"code":%d,"message":"injected","errors":[{"reason":"injected","message":"injected"}]}}`, status)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (p *gcsPeer) uploadCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uploads
}

func (p *gcsPeer) fail(status ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = append(p.failNext, status...)
}

func (p *gcsPeer) object(t *testing.T, name string) fakestorage.Object {
	t.Helper()
	obj, err := p.fake.GetObject(testBucket, name)
	require.NoError(t, err, "object %s", name)
	return obj
}

func (p *gcsPeer) names(t *testing.T) []string {
	t.Helper()
	objs, _, err := p.fake.ListObjectsWithOptions(testBucket, fakestorage.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

func (p *gcsPeer) notifier(t *testing.T, c gcs.Config, opts ...notify.Option) *gcs.Notifier {
	t.Helper()
	n, err := gcs.New(c, append([]notify.Option{gcs.WithStorageClient(p.client)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })
	return n
}

func TestPeerSend(t *testing.T) {
	p := startGCS(t)
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			c := validConfig(t)
			want := "alerts/2026/01/02/evt-123.json"
			if gz {
				c.Compression = gcs.CompressionGzip
				want += ".gz"
			}
			n := p.notifier(t, c)
			e := testEvent()
			rc, err := n.Send(context.Background(), e)
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{ID: want, URL: "gs://cd-alerts/" + want}, rc)

			obj := p.object(t, want)
			require.Equal(t, "application/json", obj.ContentType)
			body := obj.Content
			if gz {
				require.Equal(t, "gzip", obj.ContentEncoding)
				body = gunzip(t, body)
			} else {
				require.Empty(t, obj.ContentEncoding)
			}
			require.JSONEq(t, eventJSON(t, e), string(body))
		})
	}
}

func TestPeerNeverOverwrites(t *testing.T) {
	p := startGCS(t)
	n := p.notifier(t, validConfig(t))
	e := testEvent()
	rc, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	first := p.object(t, rc.ID)

	// A retry, even with an edited event, finds the object written (412)
	// and succeeds without replacing it.
	e.Title = "edited"
	rc2, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	require.Equal(t, rc, rc2)
	again := p.object(t, rc.ID)
	require.Equal(t, first.Generation, again.Generation)
	require.Equal(t, string(first.Content), string(again.Content))
	require.Equal(t, 2, p.uploadCount())

	events := batchEvents(4)
	for range 2 {
		_, err := n.SendBatch(context.Background(), events)
		require.NoError(t, err)
	}
	require.Len(t, p.names(t), 2, "one event object and one batch object")
}

func TestPeerResolveTwice(t *testing.T) {
	p := startGCS(t)
	n := p.notifier(t, validConfig(t))
	e := testEvent()
	open, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	first := p.object(t, open.ID)
	for range 2 {
		// The second resolution finds the record written (412): a success.
		rc, err := n.Send(context.Background(), testkit.Resolved(e))
		require.NoError(t, err)
		require.Equal(t, "alerts/2026/01/02/evt-123-resolved.json", rc.ID)
	}
	require.ElementsMatch(t, []string{"alerts/2026/01/02/evt-123.json", "alerts/2026/01/02/evt-123-resolved.json"}, p.names(t))
	resolved := p.object(t, "alerts/2026/01/02/evt-123-resolved.json")
	require.JSONEq(t, eventJSON(t, testkit.Resolved(e)), string(resolved.Content))
	require.Contains(t, string(resolved.Content), `"status":"resolved"`)
	again := p.object(t, open.ID)
	require.Equal(t, first.Generation, again.Generation, "the open record stays as it was")
}

func TestPeerSendBatch(t *testing.T) {
	p := startGCS(t)
	c := validConfig(t)
	c.Compression = gcs.CompressionGzip
	n := p.notifier(t, c)
	events := batchEvents(250)
	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Len(t, rcs, len(events))
	require.Regexp(t, `^alerts/2026/03/04/batch-[0-9a-f]{32}\.ndjson\.gz$`, rcs[0].ID)
	for _, rc := range rcs {
		require.Equal(t, rcs[0], rc)
	}

	obj := p.object(t, rcs[0].ID)
	require.Equal(t, "application/x-ndjson", obj.ContentType)
	require.Equal(t, "gzip", obj.ContentEncoding)
	lines := strings.Split(strings.TrimSuffix(string(gunzip(t, obj.Content)), "\n"), "\n")
	require.Len(t, lines, len(events))
	for i, line := range lines {
		require.JSONEq(t, eventJSON(t, events[i]), line)
	}
}

// noSleep runs notify.Retry's backoff without waiting.
type noSleep struct{}

func (noSleep) Now() time.Time                                   { return time.Now() }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestPeerRetryLayer(t *testing.T) {
	p := startGCS(t)
	n := p.notifier(t, validConfig(t))
	r := notify.Retry(n, notify.RetryPolicy{MaxAttempts: 3, Clock: noSleep{}})

	p.fail(http.StatusServiceUnavailable)
	rc, err := r.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, 2, p.uploadCount(), "one 503, one success: notify.Retry is the only retry layer")
	require.Equal(t, []string{rc.ID}, p.names(t))

	p.fail(http.StatusForbidden)
	_, err = r.Send(context.Background(), batchEvents(2)[0])
	require.ErrorIs(t, err, notify.ErrForbidden)
	require.Contains(t, err.Error(), "injected")
	require.Equal(t, 3, p.uploadCount(), "a permanent error is not retried")
}

func TestPeerConcurrentSends(t *testing.T) {
	p := startGCS(t)
	c := validConfig(t)
	c.Compression = gcs.CompressionGzip
	n := p.notifier(t, c)
	events := batchEvents(16)
	var wg sync.WaitGroup
	errs := make([]error, len(events))
	for i := range events {
		wg.Go(func() {
			_, errs[i] = n.Send(context.Background(), events[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, p.names(t), len(events))
}
