package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName is the OpenTelemetry instrumentation scope of the
// meters and tracers this library creates.
const InstrumentationName = "github.com/codedefender/integrations"

// The attribute keys of every span and measurement of an attempt.
const (
	AttrIntegrationType = attribute.Key("integration.type")
	AttrIntegrationID   = attribute.Key("integration.id")
	AttrOutcome         = attribute.Key("outcome")
	AttrErrorKind       = attribute.Key("error.kind")
)

// The outcomes of one attempt, the values of AttrOutcome.
const (
	OutcomeDelivered = "delivered" // Send succeeded
	OutcomeSkipped   = "skipped"   // ErrSkipped: not configured for the event type
	OutcomeRetryable = "retryable" // failed, and may succeed later
	OutcomePermanent = "permanent" // failed, and no retry will change that
)

// InstrumentOption configures Instrument.
type InstrumentOption func(*instrumentConfig)

type instrumentConfig struct {
	meters  metric.MeterProvider
	tracers trace.TracerProvider
	id      string
}

// WithMeterProvider records the attempts' metrics with mp (default: a
// no-op provider, so nothing is recorded unless the caller asks).
func WithMeterProvider(mp metric.MeterProvider) InstrumentOption {
	return func(c *instrumentConfig) { c.meters = mp }
}

// WithTracerProvider records a span per attempt with tp (default: a no-op
// provider).
func WithTracerProvider(tp trace.TracerProvider) InstrumentOption {
	return func(c *instrumentConfig) { c.tracers = tp }
}

// WithIntegrationID names the integration in every span and measurement
// (the console's ID for it), so that two integrations of one type can be
// told apart.
func WithIntegrationID(id string) InstrumentOption {
	return func(c *instrumentConfig) { c.id = id }
}

// Instruments are the meters one Instrument (or the outbox) records with.
// They are created once per provider, not per attempt.
type Instruments struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	attempts metric.Int64Counter
}

// NewInstruments creates the attempt instruments on mp and tp; nil
// providers are no-ops.
func NewInstruments(mp metric.MeterProvider, tp trace.TracerProvider) (*Instruments, error) {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	m := mp.Meter(InstrumentationName)
	in := &Instruments{tracer: tp.Tracer(InstrumentationName)}
	var err error
	if in.duration, err = m.Float64Histogram("notify.send.duration", metric.WithUnit("s"),
		metric.WithDescription("How long one Send to a destination took.")); err != nil {
		return nil, fmt.Errorf("notify: instrument: %w", err)
	}
	if in.attempts, err = m.Int64Counter("notify.send.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Sends to a destination, by outcome and error kind.")); err != nil {
		return nil, fmt.Errorf("notify: instrument: %w", err)
	}
	return in, nil
}

// Send runs one Send of n in a span named "notify.send" and records its
// duration and outcome under the integration's type and id.
func (in *Instruments) Send(ctx context.Context, n Notifier, id string, e Event) (Receipt, error) {
	typ := TypeOf(n)
	attrs := []attribute.KeyValue{AttrIntegrationType.String(typ), AttrIntegrationID.String(id)}
	ctx, span := in.tracer.Start(ctx, "notify.send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...), trace.WithAttributes(attribute.String("event.id", e.ID)))
	defer span.End()
	start := time.Now()
	rc, err := n.Send(ctx, e)
	took := time.Since(start)
	outcome, kind := Outcome(err)
	attrs = append(attrs, AttrOutcome.String(outcome))
	if kind != "" {
		attrs = append(attrs, AttrErrorKind.String(kind))
	}
	span.SetAttributes(attrs[2:]...)
	if outcome == OutcomeRetryable || outcome == OutcomePermanent {
		// The error's text is scrubbed by the destination that built it.
		span.SetStatus(codes.Error, err.Error())
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	in.duration.Record(ctx, took.Seconds(), set)
	in.attempts.Add(ctx, 1, set)
	return rc, err
}

// TypeOf returns n's integration type ("slack"), or "unknown" when n does
// not implement Named.
func TypeOf(n Notifier) string {
	if named, ok := n.(Named); ok {
		return named.Type()
	}
	return "unknown"
}

// Outcome classifies the result of one Send: its AttrOutcome value and, for
// a failure, its AttrErrorKind value ("unauthorized", "rate_limited", …,
// "invalid" for a *ValidationError, "timeout", "canceled", or "other").
func Outcome(err error) (outcome, kind string) {
	switch {
	case err == nil:
		return OutcomeDelivered, ""
	case errors.Is(err, ErrSkipped):
		return OutcomeSkipped, ""
	}
	outcome = OutcomePermanent
	if IsRetryable(err) {
		outcome = OutcomeRetryable
	}
	return outcome, ErrorKind(err)
}

// ErrorKind names the sentinel err wraps, for metrics and logs.
func ErrorKind(err error) string {
	var ve *ValidationError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.As(err, &ve):
		return "invalid"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}

// Instrument wraps n so that every Send is traced (a span "notify.send")
// and measured: the histogram notify.send.duration (seconds) and the
// counter notify.send.attempts, both with the attributes integration.type,
// integration.id (WithIntegrationID), outcome and error.kind. Providers
// default to no-ops. Test, Validate and SendBatch pass through unchanged.
// A provider that refuses to create an instrument is reported to
// otel.Handle, and the wrapper then records nothing rather than failing
// deliveries.
func Instrument(n Notifier, opts ...InstrumentOption) Notifier {
	var c instrumentConfig
	for _, o := range opts {
		o(&c)
	}
	in, err := NewInstruments(c.meters, c.tracers)
	if err != nil {
		otel.Handle(err)
		in, _ = NewInstruments(nil, nil) // no-op providers never fail
	}
	i := &instrumented{inner: n, in: in, id: c.id}
	if b, ok := n.(BatchSender); ok {
		return &batchInstrumented{instrumented: i, batch: b}
	}
	return i
}

type instrumented struct {
	inner Notifier
	in    *Instruments
	id    string
}

func (i *instrumented) Validate() error                { return i.inner.Validate() }
func (i *instrumented) Test(ctx context.Context) error { return i.inner.Test(ctx) }
func (i *instrumented) Unwrap() Notifier               { return i.inner }
func (i *instrumented) String() string                 { return fmt.Sprintf("instrument(%v)", i.inner) }

// Type and Name forward the wrapped notifier's, so that an instrumented
// notifier is still Named.
func (i *instrumented) Type() string { return TypeOf(i.inner) }
func (i *instrumented) Name() string {
	if named, ok := i.inner.(Named); ok {
		return named.Name()
	}
	return ""
}

func (i *instrumented) Send(ctx context.Context, e Event) (Receipt, error) {
	return i.in.Send(ctx, i.inner, i.id, e)
}

type batchInstrumented struct {
	*instrumented
	batch BatchSender
}

func (b *batchInstrumented) SendBatch(ctx context.Context, events []Event) ([]Receipt, error) {
	return b.batch.SendBatch(ctx, events)
}
