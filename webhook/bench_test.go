package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
)

// BenchmarkSend measures a Send against a loopback receiver beside its
// baseline in the same run: a raw net/http POST of the same bytes, with the
// same headers, to the same server. What the library adds (validating the
// event, encoding or rendering it, signing, the guarded client, bounded
// reads) is the difference.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	e := testkit.FullEvent()
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		secret  notify.Secret
		pattern string
	}{
		{"unsigned", "", ""},
		{"signed", testSecret, ""},
		{"signed+pattern", testSecret, `{"title": {{json .Title}}, "risk": {{json .Risk}}, "time": {{json .Time}},` +
			` "tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}]}`},
	} {
		cfg := Config{Name: "bench", URL: srv.URL + "/hook", SigningSecret: tc.secret, BodyPattern: tc.pattern,
			Headers: []Header{{Name: "Authorization", Value: bearer}}}
		n, err := New(cfg, notify.WithAllowPrivateNetworks())
		require.NoError(b, err)
		body, err := n.body(e)
		require.NoError(b, err)
		header := n.requestHeader(e.ID, body)
		header.Set("User-Agent", notify.DefaultUserAgent)
		raw := &http.Client{Transport: &http.Transport{}}

		post := func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header = header.Clone()
			resp, err := raw.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Fatal(resp.Status)
			}
		}
		// The baseline and the Send alternate, one of each per iteration, so
		// that a machine whose load changes during the run slows both alike;
		// the medians resist the spikes of a shared machine, and send/raw
		// (of the medians) is the figure to read.
		b.Run(tc.name, func(b *testing.B) {
			var rawTimes, sendTimes []time.Duration
			for b.Loop() {
				start := time.Now()
				post()
				mid := time.Now()
				if _, err := n.Send(ctx, e); err != nil {
					b.Fatal(err)
				}
				rawTimes = append(rawTimes, mid.Sub(start))
				sendTimes = append(sendTimes, time.Since(mid))
			}
			rawMedian, sendMedian := median(rawTimes), median(sendTimes)
			b.ReportMetric(float64(rawMedian.Nanoseconds()), "raw-median-ns")
			b.ReportMetric(float64(sendMedian.Nanoseconds()), "send-median-ns")
			b.ReportMetric(float64(sendMedian)/float64(rawMedian), "send/raw")
		})
		raw.CloseIdleConnections()
		_ = n.Close()
	}
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
