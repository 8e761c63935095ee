// Package splunk delivers Code Defender alerts to Splunk through the HTTP
// Event Collector (HEC), on Splunk Cloud or on-premises Splunk Enterprise.
//
// Each alert becomes one HEC event envelope posted to
// <url>/services/collector/event with "Authorization: Splunk <token>":
//
//	{"time":1767225600.123,"host":"shop.example.com","source":"codedefender",
//	 "sourcetype":"_json","index":"security","event":{...the notify.Event...}}
//
// time is the event's own time in epoch seconds with milliseconds, host is
// the host of Event.Source (omitted when Source is empty), index is set only
// when the config names one, and event is the notify.Event as JSON, so in
// Splunk a search such as `sourcetype=_json source=codedefender
// risk=critical` finds the critical alerts. Risk is not mapped onto another
// scale: it stays the event's "risk" field (critical, high, medium, low,
// info). A resolved event (notify.StatusResolved) is its own HEC event,
// the same envelope with "status":"resolved" in the event, so a search
// for the event's id finds both the alert and its end.
//
// HEC gives no id for an event, so a Receipt's ID is the Event.ID that HEC
// accepted (code 0, "Success"). Accepted means queued, not yet indexed:
// indexer acknowledgement is not polled. Every request carries an
// X-Splunk-Request-Channel (a random GUID per Notifier), so a token with
// acknowledgement turned on does not refuse events with code 10.
//
// # Test
//
// Test proves the token without indexing anything: it posts an empty body
// to the event endpoint, which HEC answers with 400 and code 5 ("No data")
// when the token is good, and 401 or 403 with codes 1 to 4 when it is not;
// any other answer is reported with HEC's code and text. This probe is
// documented by practice (the Firehose check SplunkAdmins describe), not in
// Splunk's API reference. Test cannot prove the index: only a real event
// can, so send a notify.EventTest event to check it.
//
// # Batches
//
// Notifier implements notify.BatchSender. SendBatch writes envelopes one
// after another (HEC's batch form, never a JSON array), streaming: it builds
// one request body at a time, at most the request limit
// (DefaultMaxRequestBytes, see WithMaxRequestBytes) and never splitting an
// event, and gzips a body larger than a few KiB (WithGzip). A 413 from HEC
// splits the request in halves and retries them, and lowers the packing size
// for the rest of the batch. On a failure SendBatch returns the receipts of
// the events delivered so far, in order, with the error: events[len(receipts)]
// is the first one not delivered, so a retry of events[len(receipts):] does
// not resend what was delivered.
//
// # Errors
//
// HEC's body code decides the error, not the HTTP status: a disabled token
// (codes 1, 22) is notify.ErrForbidden; a missing or invalid token (2, 3, 4,
// 21) is notify.ErrUnauthorized; an index the token may not write to (7) is
// notify.ErrRejected whose cause is a *notify.ValidationError naming the
// field "index"; an internal error or a busy server (8, 9, 18-20) is
// notify.ErrUnavailable and retryable, with Retry-After when HEC sends it.
// An answer without a HEC code (a proxy's page, a load balancer's 429, 502
// or 504) goes by the shared status table.
//
// # URLs and TLS
//
// Splunk Cloud URLs must use the documented HEC hosts
// (https://http-inputs-<stack>.splunkcloud.com, http-inputs.<stack>.splunkcloud.com,
// http-inputs.<stack>.splunkcloudgc.com, or <stack>.splunkcloud.com:8088 on
// trials). A stack's web address, https://<stack>.splunkcloud.com/services/collector
// (the console's documented form), is accepted as stored and sent to
// https://http-inputs-<stack>.splunkcloud.com, the stack's HEC host on AWS;
// when that host does not resolve (a stack on Google Cloud or Azure), the
// error's hint says to enter the stack's HEC URL. Other forms under those
// domains are accepted with a logged warning.
// On-premises hosts are arbitrary; private addresses need
// notify.WithAllowPrivateNetworks. For an on-premises certificate from a
// private CA, pass that CA with WithCACert. Splunk's shipped
// SplunkServerDefaultCert cannot be trusted this way: it names no host and
// its CA ships with every Splunk install, so replace it with a certificate
// for the HEC host.
//
// Vendor API: https://help.splunk.com ("HTTP Event Collector REST API
// endpoints", "Format events for HTTP Event Collector").
package splunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// DefaultMaxRequestBytes is the default cap on one request's body before
// compression: Splunk's max_content_length before 6.5 (1 MB), which
// CONTRACTS §6 recommends for Splunk Cloud, whose own limit is unverified.
const DefaultMaxRequestBytes = 1_000_000

// gzipMinBytes is the smallest body worth compressing: below a few KiB the
// CPU cost and gzip's header outweigh the bytes saved.
const gzipMinBytes = 4 << 10

// The envelope's fixed fields.
const (
	// SourceName is every envelope's source, so that searches can select
	// Code Defender's events.
	SourceName = "codedefender"
	// Sourcetype is every envelope's sourcetype: Splunk's built-in JSON
	// type, whose search-time extraction makes every event field searchable.
	Sourcetype = "_json"
)

// Notifier sends events to one Splunk HTTP Event Collector. It is safe for
// concurrent use.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as splunk("name"), never the config

	cfg       Config
	eventURL  string
	stack     string      // the Splunk Cloud stack whose web address the URL was, or empty
	header    http.Header // Authorization, Content-Type, channel: never modified after New
	fixedTail []byte      // the envelope's constant fields, from ",\"source\"" to "\"event\":"
	maxBytes  int
	gzip      bool
	http      *sender.Sender
	log       *slog.Logger
}

var _ notify.BatchSender = (*Notifier)(nil)

type (
	caCertKey   struct{}
	maxBytesKey struct{}
	gzipKey     struct{}
)

// WithCACert makes the default HTTP client trust only the CA certificates in
// pem (PEM-encoded) for the HEC server: for an on-premises HEC whose
// certificate comes from a private CA. The host name is still verified, so
// the certificate must name the host in the URL. New fails when pem holds no
// certificate, and when WithHTTPClient is given too (the caller's client
// then owns TLS).
func WithCACert(pem []byte) notify.Option {
	return func(s *settings.Settings) { s.SetExtra(caCertKey{}, bytes.Clone(pem)) }
}

// WithMaxRequestBytes caps each request's body, before compression, at n
// bytes (DefaultMaxRequestBytes when not given; n <= 0 keeps it). An event
// whose envelope alone is larger is not sent: it is an error for that event.
func WithMaxRequestBytes(n int) notify.Option {
	return func(s *settings.Settings) {
		if n > 0 {
			s.SetExtra(maxBytesKey{}, n)
		}
	}
}

// WithGzip turns gzip compression (Content-Encoding: gzip) of bodies larger
// than a few KiB on or off; it is on by default. HEC accepts gzip, though
// Splunk documents it only by practice: turn it off for a HEC-compatible
// receiver that does not.
func WithGzip(on bool) notify.Option {
	return func(s *settings.Settings) { s.SetExtra(gzipKey{}, on) }
}

// New validates c and returns a Notifier. Besides the notify options it
// takes WithCACert, WithMaxRequestBytes and WithGzip.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		hu, msg := parseHECURL(c.URL, s.AllowPrivateNetworks)
		if msg != "" {
			return nil, &notify.ValidationError{Fields: []notify.FieldError{{Field: "url", Message: msg}}}
		}
		if err := applyCACert(&s); err != nil {
			return nil, err
		}
		if hu.cloud == cloudUnknown {
			s.Logger.Warn("splunk: the URL is under a Splunk Cloud domain but not in a documented HEC form "+
				"(http-inputs-<stack>.splunkcloud.com, http-inputs.<stack>.splunkcloud.com, "+
				"http-inputs.<stack>.splunkcloudgc.com, <stack>.splunkcloud.com:8088); run Test to check it",
				"integration", Type, "name", c.Name, "host", hu.host)
		}
		channel, err := newChannel()
		if err != nil {
			return nil, fmt.Errorf("splunk: cannot make a request channel id: %w", err)
		}
		n := &Notifier{
			cfg:      c,
			eventURL: hu.event,
			stack:    hu.stack,
			header: http.Header{
				"Authorization":            {"Splunk " + c.APIToken.Reveal()},
				"Content-Type":             {"application/json"},
				"X-Splunk-Request-Channel": {channel},
			},
			fixedTail: envelopeTail(c.Index),
			maxBytes:  DefaultMaxRequestBytes,
			gzip:      true,
			http:      sender.New(Type, s, c.APIToken),
			log:       s.Logger,
		}
		if v, ok := s.Extra(maxBytesKey{}); ok {
			n.maxBytes = v.(int)
		}
		if v, ok := s.Extra(gzipKey{}); ok {
			n.gzip = v.(bool)
		}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

// applyCACert turns WithCACert into the default client's transport.
func applyCACert(s *settings.Settings) error {
	v, ok := s.Extra(caCertKey{})
	if !ok {
		return nil
	}
	if s.HTTPClient != nil {
		return errors.New("splunk: WithCACert shapes the library's own client; with WithHTTPClient, " +
			"set the CA in your client's transport instead")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(v.([]byte)) {
		return errors.New("splunk: WithCACert: no PEM certificate found")
	}
	s.HTTPClient = &http.Client{Transport: guard.NewTransport(s.AllowPrivateNetworks, &tls.Config{RootCAs: pool})}
	return nil
}

// newChannel returns a random GUID for X-Splunk-Request-Channel.
func newChannel() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// testOp names Test's request in errors and logs.
const testOp = "test: POST " + eventPath + " with an empty body"

// The names of TestReport's checks.
const (
	stepToken = "token accepted"
	stepIndex = "index writable"
)

// TestReport checks that HEC accepts the token without indexing an event
// (see the package documentation) and says what each step proved: the token
// accepted (an empty request answered with code 5, which indexes nothing),
// then the index, which only a real event can prove: a warning when the
// config names one.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	if !r.Check(stepToken, n.probeToken(ctx), "HEC accepted the token without indexing anything (code 5, No data)") {
		r.Skip(stepIndex, "the token was not accepted")
		return r
	}
	if n.cfg.Index == "" {
		r.Skip(stepIndex, "no index is configured: events go to the token's default index")
		return r
	}
	r.Warn(stepIndex, fmt.Sprintf("HEC cannot tell whether the token may write to index %q without indexing an event: "+
		"send a test event to prove it", n.cfg.Index))
	return r
}

// probeToken posts the empty body and reads HEC's answer.
func (n *Notifier) probeToken(ctx context.Context) error {
	resp, err := n.http.Do(ctx, sender.Request{
		Op: testOp, Method: http.MethodPost, URL: n.eventURL, Header: n.header, Body: []byte{},
		Explain: n.explainer(nil), NetworkHint: n.networkHint,
	})
	if resp == nil {
		return err
	}
	ans, ok := parseAnswer(resp)
	switch {
	case ok && *ans.Code == codeNoData:
		return nil
	case resp.StatusCode >= 200 && resp.StatusCode <= 299 && (!ok || *ans.Code == codeSuccess):
		// HEC never accepts an empty request: whatever answered is not HEC.
		return n.http.Status(testOp, resp.StatusCode, resp.Header, sender.Explanation{Kind: notify.ErrRejected,
			Message: fmt.Sprintf("an empty request was accepted, which HEC answers with code %d (No data); is the URL the HEC endpoint?", codeNoData)})
	}
	return n.checkAnswer(testOp, resp, err, nil)
}

// Send delivers one event as one HEC envelope. An invalid event is refused
// with a *notify.ValidationError before any network call. An event whose
// envelope is larger than the request limit, or than HEC's (a 413), is
// delivered shortened: its largest text fields cut first, each ending in
// "…", the ID never. The Receipt's ID is the Event.ID, since HEC gives
// none.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if err := n.sendOne(ctx, "send", e, n.maxBytes); err != nil {
		return notify.Receipt{}, err
	}
	return notify.Receipt{ID: e.ID}, nil
}

// sendOne posts e alone, fitted to limit bytes (see fit). A 413 means HEC's
// max_content_length is lower than limit: e is fitted to half the refused
// size and sent again, down to minShrinkBytes, so that it is delivered
// shortened rather than lost.
func (n *Notifier) sendOne(ctx context.Context, op string, e notify.Event, limit int) error {
	var w envelopeWriter
	for {
		env, _, err := n.fit(&w, e, limit)
		if err != nil {
			return n.http.Errorf(op, notify.ErrRejected, false, "cannot encode event %q: %v", e.ID, err)
		}
		if len(env) > limit {
			return n.tooLarge(op, e, len(env), limit, "the request limit")
		}
		resp, err := n.post(ctx, op, env, []notify.Event{e})
		if resp == nil {
			return err
		}
		err = n.checkAnswer(op, resp, err, []notify.Event{e})
		if err == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
			return err
		}
		if limit = len(env) / 2; limit < minShrinkBytes {
			return n.tooLarge(op, e, len(env), 0, "HEC's max_content_length")
		}
		n.log.DebugContext(ctx, "splunk: HEC refused the event as too large; shortening it",
			"integration", Type, "op", op, "bytes", len(env), "limit", limit)
	}
}

// post sends body, the envelopes of events, to the event endpoint, gzipped
// when that pays. It returns the response whenever HEC answered, with the
// finished error of a status other than 2xx (HEC's code read by
// explainAnswer); checkAnswer reads a 2xx.
func (n *Notifier) post(ctx context.Context, op string, body []byte, events []notify.Event) (*sender.Response, error) {
	header := n.header
	if n.gzip && len(body) >= gzipMinBytes {
		gz, err := gzipBytes(body)
		if err != nil {
			return nil, n.http.Errorf(op, notify.ErrRejected, false, "cannot gzip the request: %v", err)
		}
		body = gz
		header = n.header.Clone()
		header.Set("Content-Encoding", "gzip")
	}
	return n.http.Do(ctx, sender.Request{Op: op, Method: http.MethodPost, URL: n.eventURL, Header: header, Body: body,
		Explain: n.explainer(events), NetworkHint: n.networkHint})
}

// networkHint explains a HEC host that does not resolve when the library
// derived it from a stack's web address: the stack is not on AWS (or its
// name differs), and only its own HEC URL will do.
func (n *Notifier) networkHint(err error) string {
	var de *net.DNSError
	if n.stack == "" || !errors.As(err, &de) || !de.IsNotFound {
		return ""
	}
	return "the URL is the Splunk Cloud stack's own address, and its HEC host " + cloudHECHost(n.stack) +
		" does not resolve: enter the stack's HEC URL instead (https://http-inputs." + n.stack + cloudDomain + collectorPath +
		" on Google Cloud or Azure; Splunk Web shows it under Settings > Data inputs > HTTP Event Collector)"
}

// gzipWriters reuses compressors: each one allocates several hundred KiB of
// state, which would otherwise dominate a batch's allocations.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // BestSpeed keeps a 1 MB body to a few ms
	return w
}}

// gzipBytes returns b compressed into a new buffer, so the result can be
// handed to the transport, which may read it after Do returns.
func gzipBytes(b []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(b)/4 + 64) // JSON envelopes compress about 4-10x
	w := gzipWriters.Get().(*gzip.Writer)
	defer func() {
		w.Reset(io.Discard) // a pooled writer must not keep this body alive
		gzipWriters.Put(w)
	}()
	w.Reset(&out)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tooLarge is the error for one event that cannot fit in a request.
func (n *Notifier) tooLarge(op string, e notify.Event, size, limit int, what string) error {
	msg := fmt.Sprintf("event %q is %d bytes as a HEC envelope, more than %s", e.ID, size, what)
	if limit > 0 {
		msg = fmt.Sprintf("event %q is %d bytes as a HEC envelope, more than %s (%d bytes)", e.ID, size, what, limit)
	}
	status := 0 // refused offline
	if limit == 0 {
		status = http.StatusRequestEntityTooLarge // HEC's answer
	}
	return n.http.Status(op, status, nil, sender.Explanation{Kind: notify.ErrRejected, Message: msg,
		Hint: "shorten the event's title, or raise the limit (splunk.WithMaxRequestBytes, HEC's max_content_length)"})
}

// envelopeTail returns the envelope's constant fields, written once in New.
func envelopeTail(index string) []byte {
	tail := []byte(`,"source":"` + SourceName + `","sourcetype":"` + Sourcetype + `"`)
	if index != "" {
		q, _ := json.Marshal(index) // a string always marshals
		tail = append(append(tail, `,"index":`...), q...)
	}
	return append(tail, `,"event":`...)
}

// envelopeWriter encodes HEC envelopes into a buffer it reuses. The zero
// value is ready to use; it is not safe for concurrent use.
type envelopeWriter struct {
	buf bytes.Buffer
	enc *json.Encoder
	// The last Source and its host: a batch's events mostly share one
	// source, and parsing it for each event was a tenth of a batch's
	// allocations.
	source, host string
}

// encode returns e's envelope. The bytes are valid until the next call.
// e is a pointer so that the encoder does not copy the Event to the heap.
func (w *envelopeWriter) encode(e *notify.Event, tail []byte) ([]byte, error) {
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.buf)
		w.enc.SetEscapeHTML(false) // '<' as is: shorter, and Splunk shows it as sent
	}
	w.buf.Reset()
	w.buf.WriteString(`{"time":`)
	w.buf.Write(appendEpoch(w.buf.AvailableBuffer(), e.Time.UnixMilli()))
	if e.Source != w.source {
		w.source, w.host = e.Source, hostOf(e.Source)
	}
	if host := w.host; host != "" {
		w.buf.WriteString(`,"host":`)
		if err := w.encodeValue(host); err != nil {
			return nil, err
		}
	}
	w.buf.Write(tail)
	if err := w.encodeValue(e); err != nil {
		return nil, err
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), nil
}

// encodeValue appends v as JSON, without the newline json.Encoder adds.
func (w *envelopeWriter) encodeValue(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	w.buf.Truncate(w.buf.Len() - 1)
	return nil
}

// appendEpoch appends ms (milliseconds since the epoch) as seconds with
// three decimals, the form HEC's time field takes, without float rounding.
func appendEpoch(b []byte, ms int64) []byte {
	u := uint64(ms)
	if ms < 0 {
		b = append(b, '-')
		u = -u // as uint64 this is right even for math.MinInt64
	}
	b = strconv.AppendUint(b, u/1000, 10)
	frac := u % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// hostOf returns what goes into an envelope's host field for an event's
// Source: the host name when Source is a URL, else Source itself.
func hostOf(source string) string {
	if !strings.Contains(source, "://") {
		return source
	}
	if u, err := url.Parse(source); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return source
}

// minShrinkBytes is the smallest envelope a 413 makes the notifier try:
// below it, HEC's max_content_length is not the reason for the refusal.
const minShrinkBytes = 1 << 10

// maxFitPasses bounds fit's re-encodings. One pass removes at least the
// overflow (a byte cut from a field removes at least a byte of its JSON),
// so the second pass exists only for the fallback that drops tags and
// details.
const maxFitPasses = 3

// fit returns e's envelope within limit bytes, and the event it encodes:
// e itself when it fits, else e with its largest text fields cut first,
// each ending in text.TruncationMarker (the description, the source, the
// URL, tags and detail values; then the title), and as a last resort
// without tags and details. The ID is never cut: it is the dedup key. An
// oversized alert is delivered shortened rather than lost. The envelope's
// bytes are valid until w's next use; e's Tags and Details are never
// modified in place.
func (n *Notifier) fit(w *envelopeWriter, e notify.Event, limit int) ([]byte, notify.Event, error) {
	env, err := w.encode(&e, n.fixedTail)
	for pass := 0; err == nil && len(env) > limit && pass < maxFitPasses; pass++ {
		over := len(env) - limit
		if pass > 0 {
			e.Tags, e.Details = nil, nil // what is left cannot be cut further
		}
		e = shrinkEvent(e, over)
		env, err = w.encode(&e, n.fixedTail)
	}
	return env, e, err
}

// shrinkEvent returns e with at least over bytes cut from its text fields,
// largest first: every field longer than a cap is cut to the cap, the cap
// chosen as the highest that removes enough. The title joins the fields
// only when the others cannot give enough.
func shrinkEvent(e notify.Event, over int) notify.Event {
	e.Tags = slices.Clone(e.Tags)
	e.Details = maps.Clone(e.Details)
	fields := []*string{&e.Description, &e.Source, &e.URL}
	for i := range e.Tags {
		fields = append(fields, &e.Tags[i])
	}
	values := make([]string, 0, len(e.Details))
	keys := make([]string, 0, len(e.Details))
	for k, v := range e.Details {
		keys, values = append(keys, k), append(values, v)
	}
	for i := range values {
		fields = append(fields, &values[i])
	}
	total := 0
	for _, f := range fields {
		total += len(*f)
	}
	if total < over {
		fields = append(fields, &e.Title)
	}
	capBytes := shrinkCap(fields, over)
	for _, f := range fields {
		if len(*f) > capBytes {
			*f = text.TruncateBytes(*f, capBytes)
		}
	}
	if strings.TrimSpace(e.Title) == "" {
		e.Title = text.TruncationMarker // an event always has a title
	}
	for i, k := range keys {
		e.Details[k] = values[i]
	}
	e.Tags = slices.DeleteFunc(e.Tags, func(t string) bool { return t == "" })
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	return e
}

// shrinkCap returns the largest length c such that cutting every field
// longer than c down to c removes at least over bytes (0 when even that
// is not enough).
func shrinkCap(fields []*string, over int) int {
	removed := func(c int) int {
		n := 0
		for _, f := range fields {
			n += max(len(*f)-c, 0)
		}
		return n
	}
	longest := 0
	for _, f := range fields {
		longest = max(longest, len(*f))
	}
	lo, hi := 0, longest // removed(lo) >= over is what is searched for
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if removed(mid) >= over {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// HEC answers {"text": ..., "code": N} and, for a batch whose event N
// failed, "invalid-event-number" (CONTRACTS §6).
type hecAnswer struct {
	Text               string `json:"text"`
	Code               *int   `json:"code"`
	InvalidEventNumber *int   `json:"invalid-event-number"`
}

// The HEC codes the notifier itself branches on.
const (
	codeSuccess      = 0
	codeNoData       = 5
	codeIncorrectIdx = 7
)

// hecCode is what one HEC code means for the caller.
type hecCode struct {
	kind      error
	retryable bool
	hint      string
}

// hecCodes maps HEC's body codes onto sentinels (CONTRACTS §6, from
// SplunkAdmins' copy of Splunk's table). The code decides, not the HTTP
// status: a 403 with code 1 (token disabled) and a 403 with code 4 (invalid
// token) need different fixes. Code 7 (incorrect index) is handled apart,
// since it names a config field. Codes not listed fall back to the HTTP
// status table.
var hecCodes = map[int]hecCode{
	1:  {notify.ErrForbidden, false, disabledHint},
	2:  {notify.ErrUnauthorized, false, "the Authorization header did not reach HEC: a proxy in between may strip it"},
	3:  {notify.ErrUnauthorized, false, "HEC did not accept the Authorization header"},
	4:  {notify.ErrUnauthorized, false, invalidHint},
	5:  {notify.ErrRejected, false, "the request reached HEC without its body: a proxy in between may drop it"},
	6:  {notify.ErrRejected, false, "HEC could not parse an event"},
	8:  {notify.ErrUnavailable, true, "HEC had an internal error: retry later"},
	9:  {notify.ErrUnavailable, true, "HEC is busy: retry later"},
	10: {notify.ErrRejected, false, "the token has indexer acknowledgement on and wants a request channel"},
	11: {notify.ErrRejected, false, "HEC refused the request channel"},
	12: {notify.ErrRejected, false, "an event reached HEC without its event field"},
	13: {notify.ErrRejected, false, "an event reached HEC with a blank event field"},
	14: {notify.ErrRejected, false, "indexer acknowledgement is off for this token"},
	15: {notify.ErrRejected, false, "HEC could not handle the indexed fields"},
	16: {notify.ErrRejected, false, "this library sends the token in the Authorization header, never in the query string"},
	18: {notify.ErrUnavailable, true, "HEC's queues are full: retry later"},
	19: {notify.ErrUnavailable, true, "HEC's acknowledgement service is unavailable: retry later"},
	20: {notify.ErrUnavailable, true, "HEC's queues are full and its acknowledgement service is unavailable: retry later"},
	21: {notify.ErrUnauthorized, false, invalidHint},
	22: {notify.ErrForbidden, false, disabledHint},
}

const (
	disabledHint = "the token is disabled: enable it in Splunk under Settings > Data inputs > HTTP Event Collector"
	invalidHint  = "HEC does not know this token: copy it again from Settings > Data inputs > HTTP Event Collector"
)

// parseAnswer reads HEC's JSON answer; ok is false when the body is not one.
func parseAnswer(r *sender.Response) (hecAnswer, bool) {
	var a hecAnswer
	if err := r.DecodeJSON(&a); err != nil || a.Code == nil {
		return hecAnswer{}, false
	}
	return a, true
}

// noHECHint is the hint of a 404 that is not HEC's answer.
const noHECHint = "no HEC endpoint at this URL: check it (Splunk Cloud: https://http-inputs-<stack>.splunkcloud.com/services/collector) and that HEC is enabled"

// checkAnswer returns nil when HEC accepted the request (a 2xx with code
// 0), and otherwise the error for it. doErr is what Sender.Do returned with
// resp: for a status other than 2xx it is already the finished error, read
// by explainer; events are the request's events, in order, to name the one
// HEC's invalid-event-number points at.
func (n *Notifier) checkAnswer(op string, resp *sender.Response, doErr error, events []notify.Event) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return doErr
	}
	a, ok := parseAnswer(resp)
	switch {
	case ok && *a.Code == codeSuccess:
		return nil
	case !ok:
		// A receipt must come from HEC's own answer; a proxy's page is not one.
		return n.http.Status(op, resp.StatusCode, resp.Header, sender.Explanation{Kind: notify.ErrRejected,
			Message: "the answer is not HEC's JSON (it has no code); is the URL the HEC endpoint?"})
	}
	return n.http.Status(op, resp.StatusCode, resp.Header, n.explainAnswer(resp, events))
}

// explainer is the sender.Request.Explain of a request holding events.
func (n *Notifier) explainer(events []notify.Event) func(*sender.Response) sender.Explanation {
	return func(r *sender.Response) sender.Explanation { return n.explainAnswer(r, events) }
}

// explainAnswer reads HEC's answer once: its code decides the sentinel
// when it is one HEC documents, else the HTTP status does; an answer
// without a HEC code (a proxy's page, a load balancer's 429, 502 or 504)
// goes by the shared status table. What HEC said is scrubbed of the token
// by the Sender.
func (n *Notifier) explainAnswer(r *sender.Response, events []notify.Event) sender.Explanation {
	a, ok := parseAnswer(r)
	if !ok {
		if r.StatusCode == http.StatusNotFound {
			return sender.Explanation{Hint: noHECHint}
		}
		return sender.Explanation{}
	}
	x := sender.Explanation{Message: fmt.Sprintf("HEC code %d: %s", *a.Code, a.Text)}
	if a.InvalidEventNumber != nil {
		i := *a.InvalidEventNumber
		if i >= 0 && i < len(events) {
			x.Message += fmt.Sprintf(" (event %d of the request, id %q)", i, events[i].ID)
		} else {
			x.Message += fmt.Sprintf(" (event %d of the request)", i)
		}
	}
	switch c, known := hecCodes[*a.Code]; {
	case *a.Code == codeIncorrectIdx:
		x.Kind, x.Retryable, x.Err = notify.ErrRejected, false, n.indexError()
	case known:
		x.Kind, x.Retryable, x.Hint = c.kind, c.retryable, c.hint
	}
	return x
}

// indexError is the cause of a code 7: a field error naming "index", so
// that a console can point at the field (errors.As to *notify.ValidationError)
// while errors.Is(err, notify.ErrRejected) still holds.
func (n *Notifier) indexError() *notify.ValidationError {
	msg := "the token's default index does not exist or the token may not write to it: set index, or fix the token in Splunk"
	if n.cfg.Index != "" {
		msg = fmt.Sprintf("%q is not an index this token may write to: add it to the token's allowed indexes in Splunk, "+
			"or change index", n.cfg.Index)
	}
	return &notify.ValidationError{Fields: []notify.FieldError{{Field: "index", Message: msg}}}
}

// maxReportedInvalid bounds how many invalid events one *ValidationError
// lists, so that a batch of 100,000 bad events gives a readable error.
const maxReportedInvalid = 10

// SendBatch delivers events in HEC's batch form: envelopes one after
// another in as few requests as the request limit allows, sent one at a
// time, so that only one request body (two while a 413 is split) is held at
// once whatever the batch size.
//
// Every event is checked first: if any is invalid, SendBatch returns a
// *notify.ValidationError whose fields are prefixed "events[i]." and sends
// nothing. Otherwise it returns one Receipt per delivered event, in order
// (ID = Event.ID). On a failure it returns the receipts of the events
// delivered before it with the error, whose Op names the failed request's
// events (for example "send batch: events[2500:5000]"); events[len(receipts)]
// is the first event not delivered, so a retry should resend
// events[len(receipts):]. An event whose envelope alone exceeds the request
// limit, or HEC's (a 413), is delivered shortened as Send does, and the
// events after it follow: one oversized event never blocks the rest. When
// HEC reports an invalid event inside a request, the whole request counts
// as not delivered (HEC may have kept the events before it [unverified]),
// which can duplicate those events on retry but never loses one.
func (n *Notifier) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	var errs validate.Errors
	bad := 0
	for i, e := range events {
		if err := e.Validate(); err != nil {
			if bad++; bad <= maxReportedInvalid {
				errs.Merge(fmt.Sprintf("events[%d]", i), err)
			}
		}
	}
	if bad > maxReportedInvalid {
		errs.Addf("events", "%d more events are invalid", bad-maxReportedInvalid)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	b := &batch{n: n, events: events, receipts: make([]notify.Receipt, 0, len(events)), pack: n.maxBytes}
	err := b.run(ctx)
	return b.receipts, err
}

// batch is one SendBatch call in progress.
type batch struct {
	n        *Notifier
	events   []notify.Event
	receipts []notify.Receipt
	// pack is how full a request is filled: the request limit, lowered after
	// a 413 so the rest of the batch does not hit the same wall.
	pack int
}

// run encodes the events into bodies of at most pack bytes and sends each
// as soon as it is full.
func (b *batch) run(ctx context.Context) error {
	var (
		w     envelopeWriter
		body  []byte
		ends  []int // ends[k] is where the k-th envelope of body ends
		first int   // index in b.events of body's first envelope
	)
	for i := range b.events {
		e := &b.events[i]
		// An event larger than a request goes shortened (fit), never
		// stopping the events after it.
		env, _, err := b.n.fit(&w, *e, b.n.maxBytes)
		if err == nil && len(env) > b.n.maxBytes {
			err = b.n.tooLarge(b.op(i, i+1), *e, len(env), b.n.maxBytes, "the request limit")
		} else if err != nil {
			err = b.n.http.Errorf(b.op(i, i+1), notify.ErrRejected, false, "cannot encode event %q: %v", e.ID, err)
		}
		if err != nil {
			if ferr := b.flush(ctx, body, first, ends); ferr != nil {
				return ferr
			}
			return err
		}
		if len(ends) > 0 && len(body)+len(env) > b.pack {
			if err := b.flush(ctx, body, first, ends); err != nil {
				return err
			}
			body, ends, first = nil, ends[:0], i
		}
		if body == nil {
			// A new body each time: the transport may still read the last
			// one after Do returns. Sized for the rest of the batch at this
			// event's size, so a small batch does not take a full megabyte.
			body = make([]byte, 0, min(b.pack, len(env)*(len(b.events)-i)))
		}
		body = append(body, env...)
		ends = append(ends, len(body))
	}
	return b.flush(ctx, body, first, ends)
}

// op names the request holding events[from:to].
func (b *batch) op(from, to int) string {
	return fmt.Sprintf("send batch: events[%d:%d]", from, to)
}

// flush sends body, which holds the envelopes of b.events[first:first+len(ends)].
func (b *batch) flush(ctx context.Context, body []byte, first int, ends []int) error {
	if len(ends) == 0 {
		return nil
	}
	return b.send(ctx, body, first, ends, 0)
}

// send posts body, the envelopes of b.events[first:first+len(ends)], where
// ends are offsets into the original body and body starts at base. A 413
// splits it in halves at an envelope boundary and sends each; a body already
// larger than a size HEC refused is split without being sent.
func (b *batch) send(ctx context.Context, body []byte, first int, ends []int, base int) error {
	if len(ends) > 1 && len(body) > b.pack {
		return b.split(ctx, body, first, ends, base)
	}
	evs := b.events[first : first+len(ends)]
	op := b.op(first, first+len(ends))
	resp, err := b.n.post(ctx, op, body, evs)
	if resp == nil {
		return err
	}
	if err := b.n.checkAnswer(op, resp, err, evs); err != nil {
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			return err
		}
		if len(evs) == 1 {
			// HEC's limit is below this one event: it goes alone,
			// shortened, and the batch carries on after it.
			b.pack = min(b.pack, len(body)-1)
			if len(body)/2 < minShrinkBytes {
				return b.n.tooLarge(op, evs[0], len(body), 0, "HEC's max_content_length")
			}
			if err := b.n.sendOne(ctx, op, evs[0], len(body)/2); err != nil {
				return err
			}
			b.receipts = append(b.receipts, notify.Receipt{ID: evs[0].ID})
			return nil
		}
		// Pack no larger than the bigger half from now on, so the rest of
		// the batch, and this body's other pieces, are not refused again.
		cut := ends[len(ends)/2-1] - base
		b.pack = min(b.pack, max(cut, len(body)-cut))
		b.n.log.DebugContext(ctx, "splunk: HEC refused the request as too large; splitting it",
			"integration", Type, "op", op, "bytes", len(body), "pack", b.pack)
		return b.split(ctx, body, first, ends, base)
	}
	for _, e := range evs {
		b.receipts = append(b.receipts, notify.Receipt{ID: e.ID})
	}
	return nil
}

// split sends body's two halves, cut at the envelope boundary nearest the
// middle by count, in order.
func (b *batch) split(ctx context.Context, body []byte, first int, ends []int, base int) error {
	mid := len(ends) / 2
	cut := ends[mid-1] - base
	if err := b.send(ctx, body[:cut], first, ends[:mid], base); err != nil {
		return err
	}
	return b.send(ctx, body[cut:], first+mid, ends[mid:], base+cut)
}
