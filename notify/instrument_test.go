package notify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// named is a Recorder with a type and a name, as every destination has.
type named struct{ *notifytest.Recorder }

func (named) Type() string { return "slack" }
func (named) Name() string { return "security" }

func TestInstrumentRecordsEveryAttempt(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	rec := named{notifytest.NewRecorder()}
	n := notify.Instrument(rec, notify.WithMeterProvider(mp), notify.WithTracerProvider(tp), notify.WithIntegrationID("int-7"))
	ctx := context.Background()

	_, err := n.Send(ctx, testkit.MinimalEvent())
	require.NoError(t, err)
	rec.FailSend(&notify.Error{Integration: "slack", Op: "send", StatusCode: 403, Kind: notify.ErrForbidden})
	_, err = n.Send(ctx, testkit.MinimalEvent())
	require.ErrorIs(t, err, notify.ErrForbidden)
	rec.FailSend(&notify.Error{Integration: "slack", Op: "send", StatusCode: 503, Kind: notify.ErrUnavailable, Retryable: true})
	_, err = n.Send(ctx, testkit.MinimalEvent())
	require.ErrorIs(t, err, notify.ErrUnavailable)

	named, ok := n.(notify.Named)
	require.True(t, ok, "the wrapper stays Named")
	assert.Equal(t, "slack", named.Type())
	assert.Equal(t, "security", named.Name())

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	require.Len(t, rm.ScopeMetrics, 1)
	got := map[string]int64{}
	var durations uint64
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch data := m.Data.(type) {
		case metricdata.Sum[int64]:
			require.Equal(t, "notify.send.attempts", m.Name)
			for _, dp := range data.DataPoints {
				typ, _ := dp.Attributes.Value(notify.AttrIntegrationType)
				id, _ := dp.Attributes.Value(notify.AttrIntegrationID)
				assert.Equal(t, "slack", typ.AsString())
				assert.Equal(t, "int-7", id.AsString())
				outcome, _ := dp.Attributes.Value(notify.AttrOutcome)
				kind, _ := dp.Attributes.Value(notify.AttrErrorKind)
				got[outcome.AsString()+"/"+kind.AsString()] += dp.Value
			}
		case metricdata.Histogram[float64]:
			require.Equal(t, "notify.send.duration", m.Name)
			assert.Equal(t, "s", m.Unit)
			for _, dp := range data.DataPoints {
				durations += dp.Count
			}
		default:
			t.Fatalf("unexpected metric %s", m.Name)
		}
	}
	assert.Equal(t, map[string]int64{"delivered/": 1, "permanent/forbidden": 1, "retryable/unavailable": 1}, got)
	assert.Equal(t, uint64(3), durations)

	ended := spans.Ended()
	require.Len(t, ended, 3)
	for _, s := range ended {
		assert.Equal(t, "notify.send", s.Name())
	}
	assert.Equal(t, codes.Unset, ended[0].Status().Code)
	assert.Equal(t, codes.Error, ended[1].Status().Code)
	assert.Contains(t, ended[2].Attributes(), notify.AttrErrorKind.String("unavailable"))
	assert.Contains(t, ended[2].Attributes(), attribute.String("event.id", testkit.MinimalEvent().ID))
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, mp.Shutdown(ctx))
}

func TestInstrumentIsNoOpByDefault(t *testing.T) {
	rec := notifytest.NewRecorder()
	n := notify.Instrument(rec)
	_, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	assert.Len(t, rec.Events(), 1)
	assert.Equal(t, "unknown", notify.TypeOf(n))
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		err           error
		outcome, kind string
	}{
		{nil, notify.OutcomeDelivered, ""},
		{notify.ErrSkipped, notify.OutcomeSkipped, ""},
		{&notify.Error{Kind: notify.ErrRateLimited, Retryable: true, RetryAfter: time.Second}, notify.OutcomeRetryable, "rate_limited"},
		{&notify.Error{Kind: notify.ErrUnauthorized}, notify.OutcomePermanent, "unauthorized"},
		{&notify.ValidationError{}, notify.OutcomePermanent, "invalid"},
		{context.DeadlineExceeded, notify.OutcomeRetryable, "timeout"},
		{context.Canceled, notify.OutcomePermanent, "canceled"},
		{errors.New("boom"), notify.OutcomePermanent, "other"},
	} {
		outcome, kind := notify.Outcome(c.err)
		assert.Equal(t, c.outcome, outcome, "%v", c.err)
		assert.Equal(t, c.kind, kind, "%v", c.err)
	}
}
