package outbox_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/webhook"
)

// The benchmarks run on both databases with, as the baseline in the same
// run, a plain loop of Send to the same loopback sink:
//
//	go test -run '^$' -bench . -benchtime 1x ./  (see README.md)

func BenchmarkEnqueue(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchEnqueue(b, sqliteHarness()) })
	b.Run("postgres", func(b *testing.B) { benchEnqueue(b, postgresHarness()) })
}

func benchEnqueue[TTx any](b *testing.B, h harness[TTx]) {
	ctx := context.Background()
	// One op is 1,000 enqueues of one job, or 20 batches of 500.
	b.Run("single", func(b *testing.B) {
		ob, err := outbox.New(ctx, h.open(b, h.fresh(b)), outbox.Config{})
		require.NoError(b, err)
		b.ResetTimer()
		for i := range b.N * 1000 {
			if _, err := ob.Enqueue(ctx, event(fmt.Sprintf("evt-%d", i)), "hook"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("batch500", func(b *testing.B) {
		ob, err := outbox.New(ctx, h.open(b, h.fresh(b)), outbox.Config{})
		require.NoError(b, err)
		b.ResetTimer()
		for i := range b.N * 20 {
			ds := make([]outbox.Delivery, 500)
			for j := range ds {
				ds[j] = outbox.Delivery{Event: event(fmt.Sprintf("evt-%d-%d", i, j)), IntegrationID: "hook"}
			}
			if _, err := ob.EnqueueMany(ctx, ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*20*500)/b.Elapsed().Seconds(), "jobs/s")
	})
}

// benchJobs is how many deliveries one end-to-end run makes.
const benchJobs = 5000

func sinkResolve(s *sink) func(context.Context, string) (notify.Notifier, error) {
	var mu sync.Mutex
	cache := map[string]notify.Notifier{}
	return func(_ context.Context, id string) (notify.Notifier, error) {
		mu.Lock()
		defer mu.Unlock()
		if n, ok := cache[id]; ok {
			return n, nil
		}
		n, err := webhook.New(webhook.Config{Name: id, URL: s.url + "/" + id, Events: []notify.EventType{notify.EventIncident}},
			notify.WithAllowPrivateNetworks())
		if err == nil {
			cache[id] = n
		}
		return n, err
	}
}

func BenchmarkDeliver(b *testing.B) {
	b.Run("plain-send", func(b *testing.B) {
		s := newSink(b, 0)
		n, err := sinkResolve(s)(context.Background(), "hook")
		require.NoError(b, err)
		b.ResetTimer()
		for i := range b.N * benchJobs {
			if _, err := n.Send(context.Background(), event(fmt.Sprintf("evt-%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchJobs)/b.Elapsed().Seconds(), "deliveries/s")
	})
	b.Run("sqlite", func(b *testing.B) { benchDeliver(b, sqliteHarness()) })
	b.Run("postgres", func(b *testing.B) { benchDeliver(b, postgresHarness()) })
}

func benchDeliver[TTx any](b *testing.B, h harness[TTx]) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		s := newSink(b, 0)
		d := h.open(b, h.fresh(b))
		ob, err := outbox.New(ctx, d, outbox.Config{Resolve: sinkResolve(s), Workers: 100, RateLimits: map[string]time.Duration{"webhook": 0}})
		require.NoError(b, err)
		var ds []outbox.Delivery
		for i := range benchJobs {
			ds = append(ds, outbox.Delivery{Event: event(fmt.Sprintf("evt-%d", i)), IntegrationID: fmt.Sprintf("hook-%d", i%10)})
			if len(ds) == 500 {
				_, err := ob.EnqueueMany(ctx, ds)
				require.NoError(b, err)
				ds = ds[:0]
			}
		}
		b.StartTimer()
		require.NoError(b, ob.Start(ctx))
		for {
			if _, total := s.counts(); total >= benchJobs {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		require.NoError(b, ob.Stop(ctx))
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*benchJobs)/b.Elapsed().Seconds(), "deliveries/s")
}

// notifying is a Notifier that tells a channel about each delivery.
type notifying struct{ done chan string }

func (notifying) Validate() error            { return nil }
func (notifying) Test(context.Context) error { return nil }
func (n notifying) Send(_ context.Context, e notify.Event) (notify.Receipt, error) {
	n.done <- e.ID
	return notify.Receipt{}, nil
}

// BenchmarkIdleLatency enqueues one alert at a time into an idle, started
// outbox and measures until its delivery: p50 and p99.
func BenchmarkIdleLatency(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchLatency(b, sqliteHarness()) })
	b.Run("postgres", func(b *testing.B) { benchLatency(b, postgresHarness()) })
}

func benchLatency[TTx any](b *testing.B, h harness[TTx]) {
	ctx := context.Background()
	n := notifying{done: make(chan string, 1)}
	ob, err := outbox.New(ctx, h.open(b, h.fresh(b)), outbox.Config{
		Resolve: func(context.Context, string) (notify.Notifier, error) { return n, nil }})
	require.NoError(b, err)
	require.NoError(b, ob.Start(ctx))
	b.Cleanup(func() { _ = ob.Stop(ctx) })
	const per = 50
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N * per {
		time.Sleep(20 * time.Millisecond) // idle between alerts
		began := time.Now()
		_, err := ob.Enqueue(ctx, event(fmt.Sprintf("evt-%d", i)), "hook")
		require.NoError(b, err)
		<-n.done
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// BenchmarkPending100k measures what 100,000 pending jobs cost: the Go
// heap of the process that holds the outbox (jobs live in the database,
// not in memory) and, on SQLite, the file's size.
func BenchmarkPending100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchPending(b, sqliteHarness()) })
	b.Run("postgres", func(b *testing.B) { benchPending(b, postgresHarness()) })
}

func benchPending[TTx any](b *testing.B, h harness[TTx]) {
	ctx := context.Background()
	for range b.N {
		loc := h.fresh(b)
		ob, err := outbox.New(ctx, h.open(b, loc), outbox.Config{})
		require.NoError(b, err)
		var ds []outbox.Delivery
		for i := range 100_000 {
			ds = append(ds, outbox.Delivery{Event: event(fmt.Sprintf("evt-%d", i)), IntegrationID: fmt.Sprintf("hook-%d", i%10)})
			if len(ds) == 500 {
				_, err := ob.EnqueueMany(ctx, ds)
				require.NoError(b, err)
				ds = ds[:0]
			}
		}
		cs, err := ob.Counts(ctx)
		require.NoError(b, err)
		total := int64(0)
		for _, c := range cs {
			total += c.Jobs
		}
		require.Equal(b, int64(100_000), total)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MB")
		if fi, err := os.Stat(loc); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "file_MB")
		}
	}
}
