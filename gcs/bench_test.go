package gcs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/notify"
)

// BenchmarkPeer writes to fake-gcs-server on loopback and reports events/s
// and bytes allocated per event, client and in-process emulator together.
// The baselines in the same run are single-event Sends and a raw storage
// Writer upload of the same NDJSON bytes a 1,000-event batch makes.
//
//	go test -run '^$' -bench Peer -benchtime 20x ./gcs/
func BenchmarkPeer(b *testing.B) {
	// Each case gets its own emulator: its costs grow with the objects it
	// holds, which would tax whichever case runs last.
	cfg := validConfig(b)
	gz := cfg
	gz.Compression = gcs.CompressionGzip

	batch := func(size int, c gcs.Config) func(b *testing.B) {
		return func(b *testing.B) {
			p := startGCS(b)
			n, err := gcs.New(c, gcs.WithStorageClient(p.client), notify.WithTimeout(time.Minute))
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			events := batchEvents(size)
			run(b, size, func() error {
				nextDay(events) // a new object each time: a rewrite would only meet the precondition
				_, err := n.SendBatch(context.Background(), events)
				return err
			})
		}
	}
	b.Run("SendBatch-1000", batch(1000, cfg))
	b.Run("SendBatch-1000-gzip", batch(1000, gz))
	b.Run("SendBatch-100000-gzip", batch(100_000, gz))

	// What encoding alone costs: json.Encoder over the same 1,000 events
	// into a buffer, the floor under any SendBatch.
	b.Run("EncodeOnly-1000", func(b *testing.B) {
		events := batchEvents(1000)
		var body bytes.Buffer
		run(b, 1000, func() error {
			body.Reset()
			enc := json.NewEncoder(&body)
			for i := range events {
				if err := enc.Encode(&events[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})

	b.Run("Send", func(b *testing.B) {
		p := startGCS(b)
		n, err := gcs.New(cfg, gcs.WithStorageClient(p.client))
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		e := []notify.Event{testEvent()}
		run(b, 1, func() error {
			nextDay(e)
			_, err := n.Send(context.Background(), e[0])
			return err
		})
	})

	b.Run("RawWriter-1000", func(b *testing.B) {
		p := startGCS(b)
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		for _, e := range batchEvents(1000) {
			if err := enc.Encode(e); err != nil {
				b.Fatal(err)
			}
		}
		i := 0
		run(b, 1000, func() error {
			i++
			w := p.client.Bucket(testBucket).Object("raw/" + strconv.Itoa(i) + ".ndjson").
				If(storage.Conditions{DoesNotExist: true}).NewWriter(context.Background())
			w.ContentType = "application/x-ndjson"
			w.ChunkSize = 0
			if _, err := w.Write(body.Bytes()); err != nil {
				_ = w.Close()
				return err
			}
			return w.Close()
		})
	})
}

// run times op, which delivers perOp events, and reports events/s and
// bytes allocated per event.
func run(b *testing.B, perOp int, op func() error) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	events := float64(b.N) * float64(perOp)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/events, "B/event")
}

// nextDay moves every event a day on: new object names without allocating.
func nextDay(events []notify.Event) {
	for i := range events {
		events[i].Time = events[i].Time.Add(24 * time.Hour)
	}
}
