package splunk

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

// benchEvents is the batch size the issue asks about.
const benchEvents = 10_000

// BenchmarkDelivery compares, against the loopback HEC fake (which only
// counts envelopes, so it allocates little), SendBatch of 10,000 events
// with and without gzip and the baseline of 10,000 single Sends. It reports
// events/s and the bytes and allocations per event of the whole process
// (client and fake server).
func BenchmarkDelivery(b *testing.B) {
	events := makeEvents(benchEvents)
	for _, bc := range []struct {
		name  string
		batch bool
		opts  []notify.Option
	}{
		{"SendBatch/gzip", true, nil},
		{"SendBatch/plain", true, []notify.Option{WithGzip(false)}},
		{"Send/single", false, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFakeHEC(b)
			f.countOnly = true
			n := fakeNotifier(b, f, bc.opts...)
			ctx := context.Background()
			measure(b, benchEvents, func() {
				if bc.batch {
					rcs, err := n.SendBatch(ctx, events)
					require.NoError(b, err)
					require.Len(b, rcs, benchEvents)
					return
				}
				for _, e := range events {
					if _, err := n.Send(ctx, e); err != nil {
						b.Fatal(err)
					}
				}
			})
			f.mu.Lock()
			defer f.mu.Unlock()
			require.Equal(b, b.N*benchEvents, f.counted, "every event reached the fake")
		})
	}
}

// BenchmarkSendBatch100k is the memory benchmark: SendBatch of 100,000
// events, reporting the bytes allocated per event. (The peak held at once
// is checked by TestSendBatchStreamsMemory.)
func BenchmarkSendBatch100k(b *testing.B) {
	const count = 100_000
	events := makeEvents(count)
	f := newFakeHEC(b)
	f.countOnly = true
	n := fakeNotifier(b, f)
	measure(b, count, func() {
		rcs, err := n.SendBatch(context.Background(), events)
		require.NoError(b, err)
		require.Len(b, rcs, count)
	})
}

// measure runs op b.N times and reports events/s, B/event and allocs/event
// for perOp events per run.
func measure(b *testing.B, perOp int, op func()) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		op()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(b.N * perOp)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
}
