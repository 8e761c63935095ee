package outbox

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/codedefender/integrations/notify"
)

// telemetry is the outbox's instruments: a span "outbox.deliver" per
// attempt, around notify's "notify.send" span and its duration and outcome
// measurements; the counter outbox.attempts by the outbox's outcome
// (delivered, retry, failed, snoozed, released); and the histogram
// outbox.queue.lag, how long a job waited between being due and its
// attempt.
type telemetry struct {
	notify   *notify.Instruments
	tracer   trace.Tracer
	attempts metric.Int64Counter
	lag      metric.Float64Histogram
}

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*telemetry, error) {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	ni, err := notify.NewInstruments(mp, tp)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	t := &telemetry{notify: ni, tracer: tp.Tracer(notify.InstrumentationName + "/outbox")}
	m := mp.Meter(notify.InstrumentationName + "/outbox")
	if t.attempts, err = m.Int64Counter("outbox.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts of the outbox, by outcome.")); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if t.lag, err = m.Float64Histogram("outbox.queue.lag", metric.WithUnit("s"),
		metric.WithDescription("How long a delivery waited between being due and its attempt.")); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return t, nil
}

func (t *telemetry) send(ctx context.Context, n notify.Notifier, id string, e notify.Event) (notify.Receipt, error) {
	return t.notify.Send(ctx, n, id, e)
}

// attempt is one delivery attempt being traced.
type attempt struct {
	t    *telemetry
	ctx  context.Context
	span trace.Span
	typ  string
	id   string
}

func (t *telemetry) start(ctx context.Context, jobID int64, n int, integrationID, eventID string) *attempt {
	ctx, span := t.tracer.Start(ctx, "outbox.deliver", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.Int64("outbox.job.id", jobID),
			attribute.Int("outbox.job.attempt", n),
			notify.AttrIntegrationID.String(integrationID),
			attribute.String("event.id", eventID),
		))
	return &attempt{t: t, ctx: ctx, span: span, typ: "unknown", id: integrationID}
}

func (a *attempt) setType(typ string) {
	a.typ = typ
	a.span.SetAttributes(notify.AttrIntegrationType.String(typ))
}

func (a *attempt) queued(d time.Duration) {
	a.t.lag.Record(a.ctx, max(d, 0).Seconds(), metric.WithAttributes(
		notify.AttrIntegrationType.String(a.typ), notify.AttrIntegrationID.String(a.id)))
}

// finish records the attempt's outcome and returns ret, what Work returns.
func (a *attempt) finish(outcome string, cause, ret error) error {
	attrs := []attribute.KeyValue{
		notify.AttrIntegrationType.String(a.typ), notify.AttrIntegrationID.String(a.id),
		notify.AttrOutcome.String(outcome),
	}
	if cause != nil {
		attrs = append(attrs, notify.AttrErrorKind.String(notify.ErrorKind(cause)))
	}
	a.span.SetAttributes(attrs[2:]...)
	if outcome == outcomeRetry || outcome == outcomeFailed {
		a.span.SetStatus(codes.Error, ret.Error())
	}
	a.t.attempts.Add(a.ctx, 1, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	return ret
}

func (a *attempt) end() { a.span.End() }
