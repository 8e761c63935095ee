package conformance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
)

// benchDestinations are the destinations the overhead target is
// about, by name in destinations().
var benchDestinations = []string{"slack", "pagerduty", "opsgenie", "datadog", "jira", "splunk", "webhook"}

func destinationNamed(tb testing.TB, name string) destination {
	for _, d := range destinations() {
		if d.name == name {
			return d
		}
	}
	tb.Fatalf("no destination %q", name)
	return destination{}
}

// capturedRequest is one request exactly as a destination sent it.
type capturedRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// capture sends one event through the destination and records the
// requests its Send made, in order: what BenchmarkRawPost replays.
func capture(b *testing.B, d destination) []capturedRequest {
	var (
		mu  sync.Mutex
		got []capturedRequest
	)
	srv := startServer(b, serverOptions{cert: testPKI().good}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := r.Header.Clone()
		// The transport writes these itself, as it does for the Send.
		for _, k := range []string{"Content-Length", "Accept-Encoding"} {
			h.Del(k)
		}
		mu.Lock()
		got = append(got, capturedRequest{method: r.Method, url: "https://" + r.Host + r.URL.RequestURI(), header: h, body: body})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.success(w, r)
	}))
	n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(b, srv.addr(), nil)})
	if err != nil {
		b.Fatal(err)
	}
	defer closeNotifier(n)
	if _, err := n.Send(context.Background(), qualityEvent()); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

// baseline is a BenchmarkRawPost result, kept for BenchmarkSend of the
// same run to report its ratio.
type baseline struct{ nsPerOp, allocsPerOp float64 }

var (
	baselinesMu sync.Mutex
	baselines   = map[string]baseline{}
)

// measure runs f b.N times and returns ns/op and allocs/op as the testing
// package counts them: the whole process, so the loopback server's share is
// the same in both benchmarks and cancels out of the difference.
func measure(b *testing.B, f func()) baseline {
	b.ReportAllocs()
	f() // warm up: the connection and its TLS session
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		f()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	return baseline{
		nsPerOp:     float64(b.Elapsed().Nanoseconds()) / float64(b.N),
		allocsPerOp: float64(after.Mallocs-before.Mallocs) / float64(b.N),
	}
}

// BenchmarkRawPost is the baseline: the exact requests a destination's Send
// makes (captured once), posted with plain net/http over a client equivalent
// to the one the notifier gets, answer read whole. It is declared before
// BenchmarkSenderDo and BenchmarkSend so that it runs first.
func BenchmarkRawPost(b *testing.B) {
	for _, name := range benchDestinations {
		b.Run(name, func(b *testing.B) {
			d := destinationNamed(b, name)
			reqs := capture(b, d)
			srv := startServer(b, serverOptions{cert: testPKI().good}, d.success)
			client := routedClient(b, srv.addr(), nil)
			ctx := context.Background()
			res := measure(b, func() {
				for _, c := range reqs {
					req, err := http.NewRequestWithContext(ctx, c.method, c.url, bytes.NewReader(c.body))
					if err != nil {
						b.Fatal(err)
					}
					req.Header = c.header.Clone()
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, err = io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if err != nil || resp.StatusCode/100 != 2 {
						b.Fatalf("raw post: status %d, %v", resp.StatusCode, err)
					}
				}
			})
			baselinesMu.Lock()
			baselines[name] = res
			baselinesMu.Unlock()
		})
	}
}

// BenchmarkSenderDo replays the same captured requests through the core's
// plumbing alone, sender.Sender.Do, with a client equivalent to the raw
// post's: the difference from BenchmarkRawPost is what notify costs (the
// per-request timeout, header copy, bounded read, status table), the
// difference from BenchmarkSend what the destination's own code costs
// (validating the event, building and encoding the payload, reading the
// answer into a Receipt).
func BenchmarkSenderDo(b *testing.B) {
	for _, name := range benchDestinations {
		b.Run(name, func(b *testing.B) {
			d := destinationNamed(b, name)
			reqs := capture(b, d)
			srv := startServer(b, serverOptions{cert: testPKI().good}, d.success)
			snd := sender.New(d.typ, settings.Apply(notify.WithHTTPClient(routedClient(b, srv.addr(), nil))))
			ctx := context.Background()
			res := measure(b, func() {
				for _, c := range reqs {
					if _, err := snd.Do(ctx, sender.Request{Op: "send", Method: c.method, URL: c.url,
						Header: c.header, Body: c.body}); err != nil {
						b.Fatal(err)
					}
				}
			})
			reportAgainstRaw(b, name, res)
		})
	}
}

// reportAgainstRaw reports x-raw and extra-allocs/op against the
// BenchmarkRawPost result of the same run, when there is one.
func reportAgainstRaw(b *testing.B, name string, res baseline) {
	baselinesMu.Lock()
	raw, ok := baselines[name]
	baselinesMu.Unlock()
	if ok {
		b.ReportMetric(res.nsPerOp/raw.nsPerOp, "x-raw")
		b.ReportMetric(res.allocsPerOp-raw.allocsPerOp, "extra-allocs/op")
	}
}

// BenchmarkSend is a destination's Send against the same loopback server:
// validating the event, building and encoding the payload, the Sender's
// plumbing, and reading the answer into a Receipt. When BenchmarkRawPost
// ran first it reports x-raw (Send's ns/op over the raw post's) and
// extra-allocs/op (Send's allocs/op minus the raw post's). The issue's
// target is x-raw <= 1.15 and extra-allocs/op < 40.
func BenchmarkSend(b *testing.B) {
	for _, name := range benchDestinations {
		b.Run(name, func(b *testing.B) {
			d := destinationNamed(b, name)
			srv := startServer(b, serverOptions{cert: testPKI().good}, d.success)
			n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(b, srv.addr(), nil)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { closeNotifier(n) })
			ctx := context.Background()
			e := qualityEvent()
			res := measure(b, func() {
				if _, err := n.Send(ctx, e); err != nil {
					b.Fatal(err)
				}
			})
			reportAgainstRaw(b, name, res)
		})
	}
}

// fanoutDelay is how long each destination takes in BenchmarkFanout.
const fanoutDelay = 50 * time.Millisecond

// BenchmarkFanout sends one event with notify.Fanout to ten destinations
// (the nine of httpDestinations() and a second webhook), each behind a loopback
// server that takes 50 ms to answer (Jira's duplicate search excepted, so
// that each Send takes 50 ms). Before each fan-out, with the timer stopped,
// it times one Send to a single such destination (the webhook): x-single is
// the fan-out's time over the single Send's, and the target is
// under 1.3.
func BenchmarkFanout(b *testing.B) {
	ds := httpDestinations()
	second := destinationNamed(b, "webhook")
	second.name = "webhook-2"
	ds = append(ds, second)

	targets := make(map[string]notify.Notifier, len(ds))
	var single notify.Notifier
	for _, d := range ds {
		srv := startServer(b, serverOptions{cert: testPKI().good}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d.delayed(r) {
				t := time.NewTimer(fanoutDelay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					panic(http.ErrAbortHandler) // no 200 for a client that gave up (see hangUp)
				}
			}
			d.success(w, r)
		}))
		n, err := d.build(buildEnv{addr: srv.addr(), client: routedClient(b, srv.addr(), nil)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { closeNotifier(n) })
		targets[d.name] = n
		if d.name == "webhook" {
			single = n
		}
	}

	ctx := context.Background()
	e := qualityEvent()
	fan := func() {
		for _, r := range notify.Fanout(ctx, e, targets) {
			if r.Err != nil {
				b.Fatalf("%s: %v", r.Name, r.Err)
			}
		}
	}
	one := func() {
		if _, err := single.Send(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	fan() // warm up every connection
	var singleTotal, fanTotal time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		start := time.Now()
		one()
		singleTotal += time.Since(start)
		b.StartTimer()

		start = time.Now()
		fan()
		fanTotal += time.Since(start)
	}
	b.ReportMetric(float64(fanTotal)/float64(singleTotal), "x-single")
	b.ReportMetric(float64(singleTotal.Nanoseconds())/float64(b.N), "single-ns/op")
}
