package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/s3"
)

// peer is an in-process S3: gofakes3 on an s3mem backend, on loopback,
// behind a middleware that does what gofakes3 does not: it checks the
// access key, verifies the SigV4 signature with the secret, and answers a
// request signed for another region as S3 does (301 PermanentRedirect
// naming the bucket's region). It can also refuse deletes, or answer the
// next requests with an error, and it counts requests by method.
type peer struct {
	srv     *httptest.Server
	backend *s3mem.Backend

	keyID, secret, region string

	mu         sync.Mutex
	denyDelete bool
	failNext   []peerFailure
	methods    map[string]int
}

type peerFailure struct {
	status        int
	code, message string
}

func startPeer(t testing.TB, keyID string, secret notify.Secret, region string, buckets ...string) *peer {
	t.Helper()
	p := &peer{backend: s3mem.New(), keyID: keyID, secret: secret.Reveal(), region: region, methods: map[string]int{}}
	for _, b := range buckets {
		require.NoError(t, p.backend.CreateBucket(b))
	}
	fake := gofakes3.New(p.backend)
	p.srv = httptest.NewServer(p.middleware(fake.Server()))
	t.Cleanup(p.srv.Close)
	return p
}

// config points a Config at the peer (path-style, over loopback http).
func (p *peer) config(bucket string) s3.Config {
	c := validConfig()
	c.Endpoint = p.srv.URL
	c.PathStyle = true
	c.Region = p.region
	c.Bucket = bucket
	return c
}

func (p *peer) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.methods[method]
}

func (p *peer) fail(f ...peerFailure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = append(p.failNext, f...)
}

// object reads an object back from the backend: body and metadata.
func (p *peer) object(t *testing.T, bucket, key string) ([]byte, map[string]string) {
	t.Helper()
	obj, err := p.backend.GetObject(bucket, key, nil)
	require.NoError(t, err, "object %s", key)
	defer obj.Contents.Close()
	b, err := io.ReadAll(obj.Contents)
	require.NoError(t, err)
	return b, obj.Metadata
}

// keys lists every key in bucket.
func (p *peer) keys(t *testing.T, bucket string) []string {
	t.Helper()
	list, err := p.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	require.NoError(t, err)
	var out []string
	for _, c := range list.Contents {
		out = append(out, c.Key)
	}
	return out
}

var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

func (p *peer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.methods[r.Method]++
		var fail *peerFailure
		if len(p.failNext) > 0 {
			fail = &p.failNext[0]
			p.failNext = p.failNext[1:]
		}
		denyDelete := p.denyDelete
		p.mu.Unlock()

		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		m := authHeader.FindStringSubmatch(r.Header.Get("Authorization"))
		switch {
		case m == nil:
			writeS3Error(w, r, http.StatusForbidden, "AccessDenied", "Anonymous access is forbidden")
			return
		case m[1] != p.keyID:
			writeS3Error(w, r, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
			return
		case m[3] != p.region:
			w.Header().Set("X-Amz-Bucket-Region", p.region)
			writeS3Error(w, r, http.StatusMovedPermanently, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.")
			return
		case !p.signatureOK(r, body, m[4]):
			writeS3Error(w, r, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
			return
		case fail != nil:
			writeS3Error(w, r, fail.status, fail.code, fail.message)
			return
		case denyDelete && r.Method == http.MethodDelete:
			writeS3Error(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signatureOK signs the request again, with the headers it says it signed
// and the secret the peer knows, and compares. It also checks the body
// against the payload hash that was signed.
func (p *peer) signatureOK(r *http.Request, body []byte, signedHeaders string) bool {
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		if payloadHash != hex.EncodeToString(sum[:]) {
			return false
		}
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	again, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return false
	}
	again.Host = r.Host
	for _, h := range strings.Split(signedHeaders, ";") {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: p.keyID, SecretAccessKey: p.secret}
	if err := signer.SignHTTP(context.Background(), creds, again, payloadHash, "s3", p.region, at); err != nil {
		return false
	}
	return again.Header.Get("Authorization") == r.Header.Get("Authorization")
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, message)
	}
}

// peerOptions are what a Notifier needs to reach the loopback peer.
func peerOptions(extra ...notify.Option) []notify.Option {
	return append([]notify.Option{notify.WithAllowPrivateNetworks()}, extra...)
}

func newPeerNotifier(t *testing.T, c s3.Config, opts ...notify.Option) *s3.Notifier {
	t.Helper()
	n, err := s3.New(c, peerOptions(opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func TestPeerSend(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			c := p.config(testBucket)
			if gz {
				c.Compression = s3.CompressionGzip
			}
			n := newPeerNotifier(t, c)
			e := testEvent()
			rc, err := n.Send(context.Background(), e)
			require.NoError(t, err)
			want := "alerts/2026/01/02/evt-123.json"
			if gz {
				want += ".gz"
			}
			require.Equal(t, want, rc.ID)
			require.Equal(t, "s3://cd-alerts/"+want, rc.URL)

			body, meta := p.object(t, testBucket, rc.ID)
			require.Equal(t, "application/json", meta["Content-Type"])
			if gz {
				require.Equal(t, "gzip", meta["Content-Encoding"])
				body = gunzip(t, body)
			} else {
				require.Empty(t, meta["Content-Encoding"])
			}
			require.JSONEq(t, eventJSON(t, e), string(body))
		})
	}
}

func TestPeerRetryWritesOneObject(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	n := newPeerNotifier(t, p.config(testBucket))
	e := testEvent()
	for range 3 {
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
	}
	events := batchEvents(5)
	for range 2 {
		_, err := n.SendBatch(context.Background(), events)
		require.NoError(t, err)
	}
	keys := p.keys(t, testBucket)
	require.Len(t, keys, 2, "the same event and the same batch land on the same keys: %v", keys)
}

func TestPeerResolveTwice(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	n := newPeerNotifier(t, p.config(testBucket))
	e := testEvent()
	open, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	openBody, _ := p.object(t, testBucket, open.ID)
	for range 2 {
		rc, err := n.Send(context.Background(), testkit.Resolved(e))
		require.NoError(t, err)
		require.Equal(t, "alerts/2026/01/02/evt-123-resolved.json", rc.ID)
	}
	require.Equal(t, []string{"alerts/2026/01/02/evt-123-resolved.json", "alerts/2026/01/02/evt-123.json"}, p.keys(t, testBucket))
	body, _ := p.object(t, testBucket, "alerts/2026/01/02/evt-123-resolved.json")
	require.JSONEq(t, eventJSON(t, testkit.Resolved(e)), string(body))
	require.Contains(t, string(body), `"status":"resolved"`)
	again, _ := p.object(t, testBucket, open.ID)
	require.Equal(t, string(openBody), string(again), "the open record stays as it was")
}

func TestPeerSendBatch(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	c := p.config(testBucket)
	c.Compression = s3.CompressionGzip
	n := newPeerNotifier(t, c)
	events := batchEvents(250)
	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Len(t, rcs, len(events))
	require.Regexp(t, `^alerts/2026/03/04/batch-[0-9a-f]{32}\.ndjson\.gz$`, rcs[0].ID)

	body, meta := p.object(t, testBucket, rcs[0].ID)
	require.Equal(t, "application/x-ndjson", meta["Content-Type"])
	require.Equal(t, "gzip", meta["Content-Encoding"])
	lines := strings.Split(strings.TrimSuffix(string(gunzip(t, body)), "\n"), "\n")
	require.Len(t, lines, len(events))
	for i, line := range lines {
		require.JSONEq(t, eventJSON(t, events[i]), line)
	}
	require.Equal(t, []string{rcs[0].ID}, p.keys(t, testBucket))
}

func TestPeerAuthErrors(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	otherSecret := notify.Secret("not-the-secret-not-the-secret-not-the-se")
	tests := []struct {
		name string
		edit func(c *s3.Config)
		kind error
		want string
	}{
		{"wrong secret", func(c *s3.Config) { c.SecretAccessKey = otherSecret }, notify.ErrUnauthorized, "check secret_access_key"},
		{"unknown key", func(c *s3.Config) { c.AccessKeyID = "AKIAOTHERKEYEXAMPLE1" }, notify.ErrUnauthorized, "does not know access key ID AKIAOTHERKEYEXAMPLE1"},
		{"wrong region", func(c *s3.Config) { c.Region = "us-east-1" }, notify.ErrRejected, "the bucket is in region eu-west-1, not us-east-1: set region to eu-west-1"},
		{"no bucket", func(c *s3.Config) { c.Bucket = "no-such-bucket" }, notify.ErrNotFound, `bucket "no-such-bucket" does not exist`},
	}
	for _, tt := range tests {
		for _, op := range []string{"send", "test"} {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				c := p.config(testBucket)
				tt.edit(&c)
				logger, logs := notifytest.NewLogger()
				n := newPeerNotifier(t, c, notify.WithLogger(logger))
				var err error
				if op == "send" {
					_, err = n.Send(context.Background(), testEvent())
				} else {
					err = n.Test(context.Background())
				}
				require.ErrorIs(t, err, tt.kind, "%v", err)
				require.False(t, notify.IsRetryable(err))
				require.Contains(t, err.Error(), tt.want)
				notifytest.AssertNoSecret(t, err, testSecret, otherSecret)
				notifytest.AssertNoSecret(t, logs.String(), testSecret, otherSecret)
			})
		}
	}
}

func TestPeerTest(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	t.Run("head bucket writes nothing", func(t *testing.T) {
		n := newPeerNotifier(t, p.config(testBucket))
		require.NoError(t, n.Test(context.Background()))
		require.Empty(t, p.keys(t, testBucket))
		require.Zero(t, p.count(http.MethodPut))
	})
	t.Run("probe write cleans up", func(t *testing.T) {
		n := newPeerNotifier(t, p.config(testBucket), s3.WithProbeWrite())
		require.NoError(t, n.Test(context.Background()))
		require.Equal(t, 1, p.count(http.MethodPut))
		require.Equal(t, 1, p.count(http.MethodDelete))
		require.Empty(t, p.keys(t, testBucket))
	})
	t.Run("probe write without delete permission", func(t *testing.T) {
		p.mu.Lock()
		p.denyDelete = true
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.denyDelete = false
			p.mu.Unlock()
		}()
		n := newPeerNotifier(t, p.config(testBucket), s3.WithProbeWrite())
		rep := n.TestReport(context.Background())
		require.NoError(t, rep.Err())
		keys := p.keys(t, testBucket)
		require.Len(t, keys, 1, "the probe was left behind")
		last := rep.Checks[len(rep.Checks)-1]
		require.Equal(t, notify.CheckWarning, last.Status)
		require.Contains(t, last.Detail, "write OK, cleanup not permitted: delete "+keys[0])
		_, err := p.backend.DeleteObject(testBucket, keys[0])
		require.NoError(t, err)
	})
}

// noSleep runs notify.Retry's backoff without waiting.
type noSleep struct{}

func (noSleep) Now() time.Time                                   { return time.Now() }
func (noSleep) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestPeerRetryLayer(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	n := newPeerNotifier(t, p.config(testBucket))
	r := notify.Retry(n, notify.RetryPolicy{MaxAttempts: 3, Clock: noSleep{}})
	p.fail(peerFailure{http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."})

	rc, err := r.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, 2, p.count(http.MethodPut), "one SlowDown, one success: notify.Retry is the only retry layer")
	require.Equal(t, []string{rc.ID}, p.keys(t, testBucket))

	p.fail(peerFailure{http.StatusForbidden, "AccessDenied", "Access Denied"})
	_, err = r.Send(context.Background(), testEvent())
	require.ErrorIs(t, err, notify.ErrForbidden)
	require.Equal(t, 3, p.count(http.MethodPut), "a permanent error is not retried")
}

func TestPeerConcurrentSends(t *testing.T) {
	p := startPeer(t, testKeyID, testSecret, testRegion, testBucket)
	c := p.config(testBucket)
	c.Compression = s3.CompressionGzip
	n := newPeerNotifier(t, c)
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
	require.Len(t, p.keys(t, testBucket), len(events))
}

// A store whose error answer never ends: the SDK reads error bodies whole,
// so the library bounds every body it is given.
func TestEndlessAnswerIsBounded(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte("<Error><Code>InternalError</Code><Message>" + strings.Repeat("x", 32<<10))
		for written.Load() < 1<<30 && r.Context().Err() == nil {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := validConfig()
	c.Endpoint, c.AccessKeyID, c.Region, c.PathStyle = srv.URL, "minio-user", "us-east-1", true
	n := newPeerNotifier(t, c, notify.WithTimeout(20*time.Second))
	start := time.Now()
	_, err := n.Send(context.Background(), testEvent())
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded, "stopped by the bound, not by the timeout: %v", err)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Less(t, written.Load(), int64(64<<20), "the bound plus socket buffers, never the GiB")
	notifytest.AssertNoSecret(t, err, testSecret)
}
