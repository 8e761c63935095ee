package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/s3"
)

// BenchmarkPeer writes to gofakes3 on loopback (no signature checks, so the
// peer costs as little as it can) and reports events/s and bytes allocated
// per event, client and in-process peer together. The baselines in the same
// run are single-event Sends and a raw SDK PutObject of the same NDJSON
// bytes a 1,000-event batch makes.
//
//	go test -run '^$' -bench Peer -benchtime 20x ./s3/
func BenchmarkPeer(b *testing.B) {
	// Each case gets its own peer, so none pays for objects another left.
	peer := func(b *testing.B) string {
		backend := s3mem.New()
		if err := backend.CreateBucket(testBucket); err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(gofakes3.New(backend).Server())
		b.Cleanup(srv.Close)
		return srv.URL
	}
	cfg := validConfig()
	cfg.PathStyle, cfg.Region = true, "us-east-1"
	gz := cfg
	gz.Compression = s3.CompressionGzip

	batch := func(size int, c s3.Config) func(b *testing.B) {
		return func(b *testing.B) {
			c.Endpoint = peer(b)
			n, err := s3.New(c, notify.WithAllowPrivateNetworks(), notify.WithTimeout(time.Minute))
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			events := batchEvents(size)
			run(b, size, func() error {
				nextDay(events) // a new key each time, as new alerts would have
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
		c := cfg
		c.Endpoint = peer(b)
		n, err := s3.New(c, notify.WithAllowPrivateNetworks())
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

	b.Run("RawPutObject-1000", func(b *testing.B) {
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		for _, e := range batchEvents(1000) {
			if err := enc.Encode(e); err != nil {
				b.Fatal(err)
			}
		}
		sum := md5.Sum(body.Bytes())
		md5b64 := base64.StdEncoding.EncodeToString(sum[:])
		cli := awss3.New(awss3.Options{
			Region:                     "us-east-1",
			Credentials:                credentials.NewStaticCredentialsProvider(testKeyID, testSecret.Reveal(), ""),
			BaseEndpoint:               aws.String(peer(b)),
			UsePathStyle:               true,
			Retryer:                    aws.NopRetryer{},
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		})
		run(b, 1000, func() error {
			_, err := cli.PutObject(context.Background(), &awss3.PutObjectInput{
				Bucket: aws.String(testBucket), Key: aws.String("raw/batch.ndjson"),
				Body: bytes.NewReader(body.Bytes()), ContentLength: aws.Int64(int64(body.Len())),
				ContentType: aws.String("application/x-ndjson"), ContentMD5: aws.String(md5b64),
			})
			return err
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

// nextDay moves every event a day on: new object keys without allocating.
func nextDay(events []notify.Event) {
	for i := range events {
		events[i].Time = events[i].Time.Add(24 * time.Hour)
	}
}
