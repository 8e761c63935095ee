package conformance

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// hugeBody is the size of the answer that must not be read whole.
const hugeBody = 10 << 20

// hangTimeout is the first notifier timeout of the cases where the server
// never finishes: short, since the point is only that the timeout holds.
// When it runs out before the server has the request (a machine too slow
// to get it there in time), the attempt proves nothing, and runFault tries
// again with four times the timeout, up to hangGuard.
const hangTimeout = 100 * time.Millisecond

// hangGuard bounds everything else the suite waits for: the notifier
// timeout of the cases that the server ends itself, the wait for a server
// to stop writing, the routed client's dialer. It guards against a hang
// and is never what a case measures, so a slow machine cannot reach it.
const hangGuard = time.Minute

// expect is what a destination must make of a case.
type expect struct {
	ok        bool  // a Receipt and no error
	kind      error // the sentinel errors.Is must find
	retryable bool  // notify.IsRetryable
	// fragment is a regular expression the error's message must match.
	fragment string
	// raMin and raMax bound notify.RetryAfterOf; both zero: it must be 0.
	raMin, raMax time.Duration
}

// serverKind is what listens where the destination's requests go.
type serverKind int

const (
	goodTLS    serverKind = iota // the harness's trusted certificate
	rogueTLS                     // a certificate from a CA nobody trusts
	wrongHost                    // trusted CA, another host's certificate
	expiredTLS                   // trusted CA, expired
	plainHTTP                    // HTTP without TLS on the https:// port
	banner                       // a server that is not TLS: it greets first, as SSH does
	silent                       // accepts TCP, never answers the TLS handshake
	closedPort                   // nothing listens: connection refused
)

// faultRun is one case run against one destination.
type faultRun struct {
	main    *loopbackServer    // nil for silent and closed ports
	other   *loopbackServer    // the host redirects point at
	stop    chan struct{}      // closed at the end: handlers that hold on return
	written atomic.Int64       // bytes the huge-body handler managed to write
	read    atomic.Int64       // bytes the routed client read from the network
	done    chan struct{}      // closed when the huge-body or gzip-bomb handler returns
	cancel  context.CancelFunc // cancels the caller's context (cancelOnRequest)
	silent  *silentListener    // the silent and banner servers
	// dated is when the server wrote a Retry-After date (the date is a
	// minute later, in whole seconds).
	dated atomic.Pointer[time.Time]
	// err and returned are the operation's error and when it returned.
	err      error
	returned time.Time
}

type faultCase struct {
	name string
	// test: the case also runs for Test, where the answer is a network or
	// status failure whose reading does not depend on the operation.
	test    bool
	server  serverKind
	handler func(run *faultRun) http.HandlerFunc
	timeout time.Duration // the notifier's first timeout (hangTimeout); 0 for hangGuard
	// sendBuffer bounds the server's socket send buffer (huge bodies).
	sendBuffer int
	want       expect
	// per overrides want for the destinations that differ; each entry
	// says why.
	per   map[string]expect
	check func(t *testing.T, d destination, run *faultRun)
	// http1 cases take the connection over, which an HTTP/2 stream cannot.
	http1 bool
	// cancelOnRequest gives the Send a context that the handler cancels
	// (run.cancel) once the request has arrived.
	cancelOnRequest bool
}

// echo is what a misbehaving server reflects of the request in its answer:
// the path (Slack's credential), the auth headers and the start of the body
// (PagerDuty's routing key), so that every error path is checked for
// scrubbing; and a forged log line with a terminal escape, so that it is
// checked for control characters too.
func echo(r *http.Request) string {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 300))
	drain(r)
	return fmt.Sprintf("%s auth=%s dd=%s/%s body=%s%s", r.URL.Path, r.Header.Get("Authorization"),
		r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY"), b, injection)
}

// injection would forge a log line and recolour a terminal if an error
// carried it as is.
const injection = "\r\nlevel=ERROR msg=\"forged\" \x1b[31mred\x1b[0m\x00"

func answer(status int, header http.Header, contentType string, body func(echo string) string) func(*faultRun) http.HandlerFunc {
	return func(*faultRun) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			e := echo(r)
			for k, vs := range header {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body(e))
		}
	}
}

func htmlPage(status int) func(*faultRun) http.HandlerFunc {
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return answer(status, nil, "text/html; charset=utf-8", func(e string) string {
		return "<html><head><title>" + title + " for " + e + "</title></head><body><h1>" + title + "</h1>" + e + "</body></html>"
	})
}

func fixed(body string) func(string) string { return func(string) string { return body } }

func redirect(status int) func(*faultRun) http.HandlerFunc {
	return func(run *faultRun) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			drain(r)
			w.Header().Set("Location", "https://"+run.other.addr()+"/collect")
			w.WriteHeader(status)
		}
	}
}

// hijack takes the connection over and hands f the TLS connection and the
// TCP connection under it.
func hijack(w http.ResponseWriter, f func(c net.Conn, tcp *net.TCPConn)) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	tc := c.(*tls.Conn)
	f(tc, tc.NetConn().(*net.TCPConn))
}

var faultCases = []faultCase{
	{
		name: "connection refused", test: true, server: closedPort,
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `connection refused.*\(nothing accepts connections there`},
	},
	{
		name: "reset mid-response", test: true, http1: true,
		handler: func(*faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				hijack(w, func(c net.Conn, tcp *net.TCPConn) {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":")
					_ = tcp.SetLinger(0) // close with a RST, not a FIN
					_ = tcp.Close()
				})
			}
		},
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `connection reset by peer|unexpected EOF`},
	},
	{
		name: "never answers", test: true, timeout: hangTimeout,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				hangUp(r, run.stop)
			}
		},
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `deadline exceeded.*\(timed out\)`},
	},
	{
		name: "stalls mid-body", test: true, timeout: hangTimeout,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "1000")
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, `{"status":`)
				w.(http.Flusher).Flush()
				hangUp(r, run.stop)
			}
		},
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `deadline exceeded.*\(timed out\)`},
	},
	{
		name: "TLS handshake never completes", test: true, server: silent, timeout: hangTimeout,
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `\(timed out\)`},
	},
	{
		name: "10 MiB body", sendBuffer: 64 << 10,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				defer close(run.done)
				drain(r)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", strconv.Itoa(hugeBody))
				w.WriteHeader(http.StatusOK)
				chunk := make([]byte, 32<<10)
				copy(chunk, `{"status":"success","pad":"`)
				for i := len(`{"status":"success","pad":"`); i < len(chunk); i++ {
					chunk[i] = 'a'
				}
				for run.written.Load() < hugeBody {
					n, err := w.Write(chunk)
					run.written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}
		},
		// The 2xx body is read to its first 64 KiB and no further: a
		// destination that must decode it says it is too large.
		want: expect{kind: notify.ErrRejected, fragment: `the answer is larger than 65536 bytes`},
		per: map[string]expect{
			// Slack documents any 200 as success and gives no id: the
			// Receipt is the (truncated) answer.
			"slack": {ok: true},
			// The webhook takes any 2xx as success and ignores the body.
			"webhook": {ok: true}, "webhook-loopback": {ok: true},
			// HEC's body code decides; a body that is not HEC's JSON is
			// not a success, whatever the status.
			"splunk":        {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
			"splunk-onprem": {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
		},
		check: func(t *testing.T, d destination, run *faultRun) {
			select {
			case <-run.done:
			case <-time.After(hangGuard):
				t.Fatal("the server is still writing the 10 MiB body: the client neither read it nor closed the connection")
			}
			t.Logf("the server wrote %d bytes of %d; the client read %d", run.written.Load(), hugeBody, run.read.Load())
			require.Less(t, run.written.Load(), int64(hugeBody), "the server could not write the whole body")
			if !d.direct {
				// 64 KiB read, 256 KiB drained, and what TLS reads ahead.
				require.Less(t, run.read.Load(), int64(512<<10), "the client read far more than the limit")
			}
		},
	},
	{
		name:    "malformed JSON on 2xx",
		handler: answer(http.StatusOK, nil, "application/json", fixed(`{"status":"success","dedup_key":"x","requestId":`)),
		want:    expect{kind: notify.ErrRejected, fragment: `not the expected JSON \(unexpected end of JSON input\)`},
		per: map[string]expect{
			"slack":   {ok: true},                                 // any 200 is Slack's success
			"webhook": {ok: true}, "webhook-loopback": {ok: true}, // any 2xx is the webhook's success
			"splunk":        {kind: notify.ErrRejected, fragment: `not HEC's JSON`}, // HEC's code decides
			"splunk-onprem": {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
		},
	},
	{
		name:    "2xx without the id",
		handler: answer(http.StatusAccepted, nil, "application/json", fixed(`{"status":"success","message":"ok"}`)),
		// Receipts come from the answer: a destination that documents an id
		// in its 2xx refuses an answer without one.
		per: map[string]expect{
			// Slack answers 200 "ok" and gives no id; another 2xx means the
			// URL is not Slack's own (slack.go).
			"slack": {kind: notify.ErrRejected, fragment: `status 202: Slack answers 200 ok`},
			// The webhook takes any 2xx as success and ignores the body.
			"webhook": {ok: true}, "webhook-loopback": {ok: true},
			"pagerduty":     {kind: notify.ErrRejected, fragment: `no dedup_key in it`},
			"opsgenie":      {kind: notify.ErrRejected, fragment: `no requestId in it`},
			"jira":          {kind: notify.ErrRejected, fragment: `no issue key`}, // the search finds nothing, the create names nothing
			"datadog":       {kind: notify.ErrRejected, fragment: `no incident id`},
			"splunk":        {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
			"splunk-onprem": {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
		},
	},
	{
		name: "HTML 500 page", test: true, handler: htmlPage(http.StatusInternalServerError),
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `status 500: HTML page: 500 Internal Server Error for`},
	},
	{
		name: "HTML 502 page", test: true, handler: htmlPage(http.StatusBadGateway),
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `status 502: HTML page: 502 Bad Gateway for`},
	},
	{
		name: "400 echoing the credentials", test: true,
		handler: answer(http.StatusBadRequest, nil, "application/json", func(e string) string {
			return string(must(json.Marshal(map[string]any{"message": "bad request: " + e, "errors": []string{e}})))
		}),
		want: expect{kind: notify.ErrRejected, fragment: `status 400: .*bad request`},
	},
	{
		name: "400 with a 60 KiB message", test: true,
		handler: answer(http.StatusBadRequest, nil, "application/json", func(e string) string {
			return string(must(json.Marshal(map[string]any{"message": "bad request: " + strings.Repeat("very long ", 6<<10) + e})))
		}),
		// The message is cut (notify's 512 characters) and ends with the
		// truncation marker; checkOutcome bounds the whole error.
		want: expect{kind: notify.ErrRejected, fragment: `status 400: .*bad request: very long very long .*…`},
	},
	{
		name: "caller cancels while waiting", test: true, cancelOnRequest: true,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				run.cancel()
				hangUp(r, run.stop)
			}
		},
		// The caller gave up: final, whatever the transport made of it.
		want: expect{kind: notify.ErrUnavailable, fragment: `context canceled`},
	},
	{
		name: "gzip bomb on 2xx", sendBuffer: 64 << 10,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				defer close(run.done)
				drain(r)
				if r.Header.Get("Accept-Encoding") != "gzip" {
					// Without the transport's transparent gzip the bomb is
					// just a 1 MiB body; the case is about decompression.
					http.Error(w, "the client did not offer gzip", http.StatusTeapot)
					return
				}
				member := gzipBombMember()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.WriteHeader(http.StatusOK)
				// Concatenated gzip members decompress as one stream:
				// 1 GiB of answer in about 1 MiB of gzip.
				for range 1024 {
					n, err := w.Write(member)
					run.written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}
		},
		want: expect{kind: notify.ErrRejected, fragment: `the answer is larger than 65536 bytes`},
		per: map[string]expect{
			"slack":   {ok: true},
			"webhook": {ok: true}, "webhook-loopback": {ok: true},
			"splunk":        {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
			"splunk-onprem": {kind: notify.ErrRejected, fragment: `not HEC's JSON`},
		},
		check: func(t *testing.T, d destination, run *faultRun) {
			select {
			case <-run.done:
			case <-time.After(hangGuard):
				t.Fatal("the server is still writing the gzip bomb: the client neither read it nor closed the connection")
			}
			t.Logf("the server wrote %d bytes of gzip of %d", run.written.Load(), 1024*len(gzipBombMember()))
			require.Less(t, run.written.Load(), int64(1024*len(gzipBombMember())), "the client stopped decompressing")
			if !d.direct {
				require.Less(t, run.read.Load(), int64(512<<10), "the client read far more than the limit")
			}
		},
	},
	{
		name: "429 without Retry-After", test: true,
		handler: answer(http.StatusTooManyRequests, nil, "text/plain", fixed("Too Many Requests")),
		// No wait named: RetryAfterOf's floor for a rate-limited error, so
		// that a 429 is never retried at once.
		want: expect{kind: notify.ErrRateLimited, retryable: true, fragment: `status 429`, raMin: time.Second, raMax: time.Second},
	},
	{
		name: "429 Retry-After in seconds", test: true,
		handler: answer(http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, "text/plain", fixed("Too Many Requests")),
		want:    expect{kind: notify.ErrRateLimited, retryable: true, fragment: `status 429.*\[retry after 7s\]`, raMin: 7 * time.Second, raMax: 7 * time.Second},
	},
	{
		name: "429 Retry-After as an HTTP date", test: true,
		handler: func(run *faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				now := time.Now()
				run.dated.Store(&now)
				w.Header().Set("Retry-After", retryDate(now))
				w.WriteHeader(http.StatusTooManyRequests)
			}
		},
		// The date has whole seconds and the clock moves on: at most a
		// minute, and check bounds it by when the date was written and
		// when the operation returned, however slow the machine.
		want: expect{kind: notify.ErrRateLimited, retryable: true, fragment: `status 429.*\[retry after`, raMin: time.Second, raMax: 60 * time.Second},
		check: func(t *testing.T, _ destination, run *faultRun) {
			dated := run.dated.Load()
			require.NotNil(t, dated, "the server wrote the date")
			date, err := http.ParseTime(retryDate(*dated))
			require.NoError(t, err)
			ra := notify.RetryAfterOf(run.err)
			require.GreaterOrEqual(t, ra, date.Sub(run.returned), "Retry-After: the date, read no later than the operation returned")
			require.LessOrEqual(t, ra, date.Sub(*dated), "Retry-After: the date, read no earlier than the server wrote it")
		},
	},
	{
		name: "429 X-RateLimit-Reset in seconds", test: true,
		handler: answer(http.StatusTooManyRequests, http.Header{"X-Ratelimit-Reset": {"12"}}, "application/json", fixed(`{"errors":["Too many requests"]}`)),
		want:    expect{kind: notify.ErrRateLimited, retryable: true, fragment: `status 429.*\[retry after 12s\]`, raMin: 12 * time.Second, raMax: 12 * time.Second},
	},
	{name: "301 to another host", test: true, handler: redirect(http.StatusMovedPermanently), want: redirected(301)},
	{name: "302 to another host", test: true, handler: redirect(http.StatusFound), want: redirected(302)},
	{name: "307 to another host", test: true, handler: redirect(http.StatusTemporaryRedirect), want: redirected(307)},
	{name: "308 to another host", test: true, handler: redirect(http.StatusPermanentRedirect), want: redirected(308)},
	{
		name: "garbage instead of HTTP", test: true, http1: true,
		handler: func(*faultRun) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				e := echo(r)
				hijack(w, func(c net.Conn, _ *net.TCPConn) {
					_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6 "+e+"\r\n\r\n")
					_ = c.Close()
				})
			}
		},
		want: expect{kind: notify.ErrUnavailable, retryable: true, fragment: `malformed HTTP`},
	},
	{
		name: "SSH server on the https port", test: true, server: banner,
		want: expect{kind: notify.ErrRejected, fragment: `first record does not look like a TLS handshake.*\(the server does not speak TLS on this port\)`},
	},
	{
		// The usual form of this mistake: HEC (or a receiver) with TLS
		// turned off. net/http's Client replaces the tls.RecordHeaderError
		// with http.ErrSchemeMismatch when the bytes are "HTTP/"
		// (net/http/client.go); both are the same permanent mistake.
		name: "plain HTTP on the https port", test: true, server: plainHTTP,
		handler: answer(http.StatusOK, nil, "text/plain", fixed("ok")),
		want:    expect{kind: notify.ErrRejected, fragment: `server gave HTTP response to HTTPS client.*\(the server does not speak TLS on this port\)`},
	},
	{
		name: "untrusted certificate", test: true, server: rogueTLS,
		want: expect{kind: notify.ErrRejected, fragment: `certificate signed by unknown authority.*\(the server's TLS certificate is not trusted\)`},
	},
	{
		name: "certificate for another host", test: true, server: wrongHost,
		want: expect{kind: notify.ErrRejected, fragment: `(valid for elsewhere\.example|doesn't contain any IP SANs).*\(the server's TLS certificate is not trusted\)`},
	},
	{
		name: "expired certificate", test: true, server: expiredTLS,
		want: expect{kind: notify.ErrRejected, fragment: `certificate has expired.*\(the server's TLS certificate is not trusted\)`},
	},
}

// retryDate is the Retry-After date a server writes at now: a minute later.
func retryDate(now time.Time) string { return now.Add(time.Minute).UTC().Format(http.TimeFormat) }

// gzipBombMember is one gzip member holding 1 MiB of the letter a.
var gzipBombMember = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw := must(gzip.NewWriterLevel(&b, gzip.BestCompression))
	must(zw.Write(bytes.Repeat([]byte("a"), 1<<20)))
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// redirected is what every destination makes of a redirect: a refusal that
// names the status and the other host, which sees no request.
func redirected(status int) expect {
	return expect{kind: notify.ErrRejected, fragment: fmt.Sprintf(`status %d: redirect to 127\.0\.0\.1:\d+ not followed`, status)}
}

// TestFaults runs every fault case against every HTTP destination, for Send
// and, where the reading of the failure does not depend on the operation,
// for Test.
func TestFaults(t *testing.T) {
	for _, d := range destinations() {
		t.Run(d.name, func(t *testing.T) {
			for _, fc := range faultCases {
				if fc.http1 && d.http2 {
					continue
				}
				ops := []string{"send"}
				if fc.test {
					ops = append(ops, "test")
				}
				for _, op := range ops {
					t.Run(op+"/"+fc.name, func(t *testing.T) {
						t.Parallel()
						runFault(t, d, fc, op)
					})
				}
			}
		})
	}
}

// runFault runs the case. A case with its own (short) timeout runs until
// an attempt where the server had the request (or, silent, the ClientHello)
// before the operation gave up, the timeout growing fourfold each time;
// the attempt past which the next timeout would pass hangGuard must be that
// one. An attempt that times out before the server has anything is still
// checked for what it is: a retryable timeout without a secret.
func runFault(t *testing.T, d destination, fc faultCase, op string) {
	if fc.timeout == 0 {
		runFaultOnce(t, d, fc, op, hangGuard, true)
		return
	}
	for timeout := fc.timeout; ; timeout *= 4 {
		if runFaultOnce(t, d, fc, op, timeout, 4*timeout > hangGuard) {
			return
		}
		t.Logf("the %v timeout ran out before the server had the request (a slow machine): again with %v", timeout, 4*timeout)
	}
}

// runFaultOnce runs one attempt of the case with the notifier timeout
// given, and reports whether the server had the request (or the
// ClientHello) before the operation returned. When final is set, or the
// server had it, every check of the case applies.
func runFaultOnce(t *testing.T, d destination, fc faultCase, op string, timeout time.Duration, final bool) bool {
	p := testPKI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := &faultRun{stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	handler := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if fc.handler != nil {
		handler = fc.handler(run)
	}
	var addr string
	switch fc.server {
	case closedPort:
		addr = closedAddr(t)
	case silent:
		run.silent = startSilent(t, nil)
		addr = run.silent.Addr().String()
	case banner:
		run.silent = startSilent(t, []byte("SSH-2.0-OpenSSH_9.6\r\n"))
		addr = run.silent.Addr().String()
	default:
		o := serverOptions{cert: p.good, sendBuffer: fc.sendBuffer, http2: d.http2}
		switch fc.server {
		case rogueTLS:
			o.cert = p.rogue
		case wrongHost:
			o.cert = p.wrongHost
		case expiredTLS:
			o.cert = p.expired
		case plainHTTP:
			o.plain = true
		}
		run.main = startServer(t, o, handler)
		addr = run.main.addr()
	}
	run.other = startServer(t, serverOptions{cert: p.good, http2: d.http2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		_, _ = io.WriteString(w, `{"status":"success","dedup_key":"stolen","requestId":"stolen","text":"Success","code":0}`)
	}))
	t.Cleanup(func() { close(run.stop) }) // runs before the servers close

	logger, logs := notifytest.NewLogger()
	var read *atomic.Int64
	if fc.sendBuffer > 0 {
		read = &run.read
	}
	n, err := d.build(buildEnv{
		addr:   addr,
		client: routedClient(t, addr, read),
		opts:   []notify.Option{notify.WithLogger(logger), notify.WithTimeout(timeout)},
	})
	require.NoError(t, err)
	t.Cleanup(func() { closeNotifier(n) })

	if !fc.cancelOnRequest {
		ctx = context.Background()
	}
	var rc notify.Receipt
	if op == "send" {
		rc, err = n.Send(ctx, qualityEvent())
	} else {
		err = n.Test(ctx)
	}
	run.err, run.returned = err, time.Now()
	// What the server had when the operation returned.
	requests := int64(-1)
	if run.main != nil {
		requests = run.main.requests.Load()
	}
	reached := true
	switch fc.server {
	case goodTLS:
		reached = requests > 0
	case silent:
		reached = run.silent.heard.Load() > 0
	}
	if !reached && !final {
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err), "retryable: %v", err)
		require.Contains(t, err.Error(), "(timed out)")
		notifytest.AssertNoSecret(t, err, d.secrets...)
		notifytest.AssertNoSecret(t, logs.String(), d.secrets...)
		return false
	}

	want := fc.want
	if w, ok := fc.per[strings.TrimSuffix(d.name, "-h2")]; ok { // HTTP/2 changes no outcome
		want = w
	}
	checkOutcome(t, d, want, op, rc, err)
	notifytest.AssertNoSecret(t, err, d.secrets...)
	notifytest.AssertNoSecret(t, logs.String(), d.secrets...)

	switch fc.server {
	case goodTLS:
		require.Positive(t, requests, "the case must reach the server")
	case silent:
		require.Positive(t, run.silent.heard.Load(), "the ClientHello must reach the server")
	case rogueTLS, wrongHost, expiredTLS, plainHTTP:
		require.Positive(t, run.main.conns.Load(), "the case must reach the server")
		require.Zero(t, run.main.requests.Load(), "no request may go over a connection that is not trusted")
	}
	require.Zero(t, run.other.conns.Load(), "nothing may reach the host a redirect names")
	if fc.check != nil {
		fc.check(t, d, run)
	}
	return true
}

func checkOutcome(t *testing.T, d destination, want expect, op string, rc notify.Receipt, err error) {
	t.Helper()
	if want.ok {
		require.NoError(t, err)
		if op == "send" {
			require.NotEmpty(t, rc.ID, "a receipt comes from the answer")
			require.LessOrEqual(t, utf8.RuneCountInString(rc.ID), 64, "a receipt is bounded")
		}
		return
	}
	require.Error(t, err)
	require.Empty(t, rc, "no receipt with an error")
	require.ErrorIs(t, err, want.kind)
	var ne *notify.Error
	require.ErrorAs(t, err, &ne, "Test and Send fail with a *notify.Error")
	require.Equal(t, d.typ, ne.Integration)
	require.Equal(t, want.retryable, notify.IsRetryable(err), "retryable: %v", err)
	require.Regexp(t, regexp.MustCompile(want.fragment), err.Error())
	require.False(t, strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }),
		"no control character in an error message: %q", err.Error())
	require.Less(t, len(err.Error()), 4<<10, "an error message is bounded")
	ra := notify.RetryAfterOf(err)
	require.GreaterOrEqual(t, ra, want.raMin, "Retry-After")
	require.LessOrEqual(t, ra, want.raMax, "Retry-After")
	for _, other := range []error{notify.ErrUnauthorized, notify.ErrForbidden, notify.ErrNotFound,
		notify.ErrRateLimited, notify.ErrRejected, notify.ErrUnavailable} {
		if other != want.kind {
			require.False(t, errors.Is(err, other), "one sentinel only: %v also matches %v", err, other)
		}
	}
}
