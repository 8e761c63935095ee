package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/codedefender/integrations/notify"
)

func testTelemetry[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-ok", "slack-revoked")
	f.srv.RevokeCredentials(f.hooks["slack-revoked"])
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	cfg := f.testConfig()
	cfg.MeterProvider, cfg.TracerProvider = mp, tp
	d := h.open(t, h.fresh(t))
	ob := start(t, d, cfg)
	ctx := context.Background()
	_, err := ob.Enqueue(ctx, event("evt-1"), "slack-ok", "slack-revoked")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n := 0
		for _, s := range spans.Ended() {
			if s.Name() == "outbox.deliver" {
				n++
			}
		}
		return n == 2
	}, 20*time.Second, 10*time.Millisecond)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	outcomes := map[string]int64{}
	var lags uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "outbox.attempts":
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					id, _ := dp.Attributes.Value(notify.AttrIntegrationID)
					typ, _ := dp.Attributes.Value(notify.AttrIntegrationType)
					outcome, _ := dp.Attributes.Value(notify.AttrOutcome)
					kind, _ := dp.Attributes.Value(notify.AttrErrorKind)
					assert.Equal(t, "slack", typ.AsString())
					outcomes[id.AsString()+" "+outcome.AsString()+" "+kind.AsString()] += dp.Value
				}
			case "outbox.queue.lag":
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					lags += dp.Count
				}
			}
		}
	}
	assert.Equal(t, map[string]int64{"slack-ok delivered ": 1, "slack-revoked failed forbidden": 1}, outcomes)
	assert.Equal(t, uint64(2), lags)

	parents := map[string]bool{}
	for _, s := range spans.Ended() {
		if s.Name() == "outbox.deliver" {
			parents[s.SpanContext().SpanID().String()] = true
		}
	}
	sends := 0
	for _, s := range spans.Ended() {
		if s.Name() == "notify.send" {
			sends++
			assert.True(t, parents[s.Parent().SpanID().String()], "notify.send runs inside outbox.deliver")
		}
	}
	assert.Equal(t, 2, sends)
	require.NoError(t, ob.Stop(ctx))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, mp.Shutdown(ctx))
}
