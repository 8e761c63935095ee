// Package webhook delivers Code Defender alerts to any HTTP endpoint: the
// console's "HTTP Webhook" integration. It fires for every event it is
// given unless Config.Events lists some types: then the others return
// notify.ErrSkipped and send nothing (a test event always goes).
//
// Send makes one request with the configured method (POST by default) and
// headers (a repeated name: the last wins). The body is the notify.Event as
// JSON, or Config.BodyPattern rendered over it; GET and DELETE send no body.
// Content-Type is application/json unless a header sets it. Risk is sent as
// is ("critical" … "info"). A resolved event (notify.StatusResolved) is
// sent the same way, as the resolved event: "status": "resolved" in its
// JSON (.Status in a pattern) and a webhook-id of its own, Event.ID +
// ResolvedSuffix ("evt-1:resolved"). Any 2xx is success, and the Receipt's
// ID is the webhook-id; other statuses follow notify's table, and redirects
// are not followed. Test sends a test event (type "test", title "[TEST] …") through
// the same path, so URL, TLS, headers, pattern and signing are all checked;
// the receiver sees a real request. There is no vendor API: signing follows
// Standard Webhooks v1.0.0, https://www.standardwebhooks.com.
//
// # Body pattern
//
// A Go text/template over the Event's fields (.ID .Type .Title .Description
// .Risk .Time .URL .Source .Tags .Details) with a json function, so that
//
//	{"text": {{json .Title}}, "severity": {{json .Risk}}, "page": {{json .Details.page}},
//	 "tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}]}
//
// is valid JSON whatever the title holds. A missing Details key renders as
// "". Validate renders the pattern over a sample event full of quotes,
// backslashes and line breaks and, when the body goes out as JSON, refuses
// output that is not JSON. Send renders into a buffer first: a failure is an
// error and no request is sent. Patterns are held to a bounded subset: no
// define, template or block; range only over .Tags or .Details, not nested;
// printf widths up to 256; and a byte budget per render that every function
// call is charged against before it builds its result. An event larger than
// MaxBodyBytes as JSON is cut to fit, longest text fields first with a "…"
// marker (never the ID, and the title last), and delivered.
//
// # Signing
//
// With Config.SigningSecret ("whsec_" + base64 of 24–64 random bytes) each
// attempt carries webhook-id (Event.ID, or Event.ID + ResolvedSuffix for a
// resolved event; the same on every retry),
// webhook-timestamp (now) and webhook-signature ("v1," + base64
// HMAC-SHA256 of "id.timestamp.body"); without a secret, only the first
// two. Receivers verify with any Standard Webhooks library, or with Verify
// over the raw body:
//
//	body, _ := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes))
//	if err := webhook.Verify(secret, r.Header, body); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	// then drop a webhook-id already seen in the last few minutes: a retry
//
// # Transport
//
// The network guard applies: https://, or http:// only to a loopback or
// private address with notify.WithAllowPrivateNetworks, and by default no
// connection to loopback, private, link-local or metadata addresses.
// Protocol "tcp" presents no client certificate; "tls" is mutual TLS over
// https:// with ClientCert and ClientKey, TLS 1.2 at least. CACert replaces
// the system roots for this webhook. With notify.WithHTTPClient and protocol
// "tls" or CACert, the client's *http.Transport is cloned to carry them (its
// dialer and proxy kept); New refuses any other kind of transport.
package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/notify"
)

// Notifier sends events to one HTTP webhook. It is safe for concurrent use.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as webhook("name"), never the config

	*compiled
	cfg    Config
	url    string
	events []notify.EventType // nil: every type
	http   *sender.Sender
	logger *slog.Logger
	now    func() time.Time
	// ownClient is the client New made for TLS settings, which Close
	// releases; nil otherwise.
	ownClient *http.Client
}

// New validates c, checks its URL against the options (plain http:// only
// to a loopback or private address, with notify.WithAllowPrivateNetworks),
// and returns a Notifier. With notify.WithHTTPClient and a config that needs
// TLS settings (protocol "tls" or ca_cert), the client's transport must be
// an *http.Transport, which is cloned to carry them.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	compile := func() (*compiled, error) { return c.compile(time.Now()) }
	return shell.Compile(compile, opts, func(cc *compiled, s settings.Settings) (*Notifier, error) {
		// The Notifier keeps its own copy: the caller may reuse its slices.
		c.Headers, c.Events = slices.Clone(c.Headers), slices.Clone(c.Events)
		if _, err := guard.CheckURL(c.URL, s.AllowPrivateNetworks); err != nil {
			return nil, &notify.ValidationError{Fields: []notify.FieldError{{Field: "url", Message: err.Error()}}}
		}
		callersClient := s.HTTPClient
		var err error
		if s.HTTPClient, err = httpClientFor(s, cc.tls); err != nil {
			return nil, err
		}
		// With TLS settings the client is one New made (a guarded transport or a
		// clone of the caller's), so Close is the one to release it.
		var ownClient *http.Client
		if s.HTTPClient != callersClient {
			ownClient = s.HTTPClient
		}
		n := &Notifier{
			compiled:  cc,
			cfg:       c,
			url:       c.URL,
			events:    c.Events,
			http:      sender.New(Type, s, c.secrets()...),
			ownClient: ownClient,
			logger:    s.Logger,
			now:       time.Now,
		}
		n.Shell = shell.New(Type, c.Name, c, n.TestReport, n.close)
		return n, nil
	})
}

// close is Close: the Sender refuses every later request, and the client
// New made for TLS settings is released.
func (n *Notifier) close() error {
	if n.ownClient != nil {
		n.ownClient.CloseIdleConnections()
	}
	return n.http.Close()
}

// secrets lists every value that must never reach an error or a log line:
// the key, the signing secret, the URL (a token often rides in it), each
// header value and, for a value such as "Bearer <token>", the credential
// alone.
func (c Config) secrets() []notify.Secret {
	// The scrubber also takes the URL's path token and query values.
	out := []notify.Secret{c.ClientKey, c.SigningSecret, notify.Secret(c.URL)}
	for _, h := range c.Headers {
		out = append(out, h.Value)
		if _, cred, ok := strings.Cut(strings.TrimSpace(h.Value.Reveal()), " "); ok {
			out = append(out, notify.Secret(strings.TrimSpace(cred)))
		}
	}
	return out
}

// The checks of a TestReport, in the order they run.
const (
	checkRendered   = "test event rendered"
	checkReachable  = "receiver reachable"
	checkClientCert = "client certificate accepted"
	checkAccepted   = "test event accepted"
)

// TestReport sends a test event through the same path as Send (pattern,
// headers, TLS, signing) and says what each step proved: the body renders,
// the receiver answers (DNS, the network guard, the TLS handshake), it
// takes the client certificate (protocol "tls"), and it accepts the event
// with a 2xx. The receiver sees a real request: a receiver that acts on
// every event should ignore type "test". A step after a failed one is
// skipped.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	mtls := n.cfg.protocol() == ProtocolTLS
	e := testEvent(n.now())
	body, err := n.encode("test", e)
	switch {
	case err != nil:
		r.Fail(checkRendered, err)
		r.Skip(checkReachable, "no request was sent: the body did not render")
		if mtls {
			r.Skip(checkClientCert, "no request was sent: the body did not render")
		}
		r.Skip(checkAccepted, "no request was sent: the body did not render")
		return r
	case !hasBody(n.method):
		r.Skip(checkRendered, n.method+" requests carry no body")
	case n.pattern != nil:
		r.Pass(checkRendered, "body_pattern rendered the test event")
	default:
		r.Pass(checkRendered, "the test event encodes as JSON")
	}

	_, err = n.deliver(ctx, "test", e, body)
	var ne *notify.Error
	answered := err == nil || errors.As(err, &ne) && ne.StatusCode != 0
	certRefused := mtls && !answered && sender.IsRemoteTLSAlert(err)
	switch {
	case answered || certRefused:
		r.Pass(checkReachable, "the receiver answered over "+n.transportName())
	case sender.IsRemoteTLSAlert(err):
		failWithAdvice(&r, checkReachable, err, `if the server wants a client certificate, set protocol "tls" with `+
			"client_cert and client_key")
	default:
		r.Fail(checkReachable, err)
	}
	if mtls {
		switch {
		case answered:
			r.Pass(checkClientCert, "the receiver completed mutual TLS with client_cert")
		case certRefused:
			failWithAdvice(&r, checkClientCert, err, "check that the server trusts the CA that issued client_cert "+
				"and that client_cert is valid")
		default:
			r.Skip(checkClientCert, "the receiver could not be reached")
		}
	}
	switch {
	case err == nil:
		r.Pass(checkAccepted, "the receiver answered 2xx to a test event (type \"test\")")
	case answered:
		r.Fail(checkAccepted, err)
	default:
		r.Skip(checkAccepted, "the receiver could not be reached")
	}
	return r
}

// failWithAdvice records a failed check whose detail adds to the error
// what this webhook's configuration can do about it; the error itself is
// the one Send returns, unchanged.
func failWithAdvice(r *notify.Report, name string, err error, advice string) {
	r.Checks = append(r.Checks, notify.Check{Name: name, Status: notify.CheckFailed, Detail: err.Error() + "; " + advice, Err: err})
}

// transportName says how requests reach the receiver, for a report.
func (n *Notifier) transportName() string {
	switch {
	case n.cfg.protocol() == ProtocolTLS:
		return "mutual TLS"
	case strings.HasPrefix(strings.ToLower(n.url), "https:"):
		return "TLS"
	}
	return "plain HTTP"
}

// testEvent is what Test sends: a fresh id each time, so a receiver that
// drops repeated ids still sees every test.
func testEvent(now time.Time) notify.Event {
	return notify.Event{
		ID:          "test-" + rand.Text(),
		Type:        notify.EventTest,
		Title:       "[TEST] Code Defender webhook check",
		Description: "A test event sent to check this webhook's configuration. It needs no action.",
		Risk:        notify.RiskInfo,
		Time:        now.UTC().Truncate(time.Second),
	}
}

// Send delivers e. When Config.Events lists types and e's is not among them
// (a test event always is), it returns notify.ErrSkipped and sends nothing.
// An invalid event is refused before any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if len(n.events) > 0 && e.Type != notify.EventTest && !slices.Contains(n.events, e.Type) {
		n.logger.DebugContext(ctx, "webhook: event type not configured, not sent",
			"integration", Type, "name", n.Name(), "event_id", e.ID, "event_type", string(e.Type))
		return notify.Receipt{}, notify.ErrSkipped
	}
	return n.send(ctx, "send", e)
}

// send delivers a valid event; op names it in errors ("send", "test").
func (n *Notifier) send(ctx context.Context, op string, e notify.Event) (notify.Receipt, error) {
	body, err := n.encode(op, e)
	if err != nil {
		return notify.Receipt{}, err
	}
	return n.deliver(ctx, op, e, body)
}

// encode returns the request body of e (nil for a method that sends
// none), or the error that stops the Send before any request.
func (n *Notifier) encode(op string, e notify.Event) ([]byte, error) {
	if !hasBody(n.method) {
		return nil, nil
	}
	b, err := n.body(e)
	if err != nil {
		return nil, n.http.Errorf(op, notify.ErrRejected, false, "event %s: %v", e.ID, err)
	}
	return b, nil
}

// deliver makes the one request of e with its encoded body.
func (n *Notifier) deliver(ctx context.Context, op string, e notify.Event, body []byte) (notify.Receipt, error) {
	id := deliveryID(e)
	h := n.requestHeader(id, body)
	_, err := n.http.Do(ctx, sender.Request{Op: op, Method: n.method, URL: n.url, Header: h, Body: body, Explain: explain})
	if err != nil {
		return notify.Receipt{}, err
	}
	return notify.Receipt{ID: id}, nil
}

// explain adds what a webhook's answer means beyond the status table: a
// 410 is the receiver asking for no more deliveries (Standard Webhooks:
// disable the endpoint). The message is the core's reading of the body.
func explain(r *sender.Response) sender.Explanation {
	if r.StatusCode == http.StatusGone {
		return sender.Explanation{Hint: "the receiver says this endpoint is gone: disable the webhook or configure its new URL"}
	}
	return sender.Explanation{}
}

// ResolvedSuffix ends the webhook-id of a resolved event.
const ResolvedSuffix = ":resolved"

// deliveryID returns the webhook-id of e: Event.ID for an open event, and
// Event.ID + ResolvedSuffix for its resolution. Standard Webhooks makes the
// id the idempotency key of one event, the same on every retry, so a
// receiver drops an id it has seen ("Webhook metadata",
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
// the resolution needs an id of its own or it would be dropped as a retry
// of the open event, and it keeps that id on every retry of its own.
func deliveryID(e notify.Event) string {
	if e.Status.IsResolved() {
		return e.ID + ResolvedSuffix
	}
	return e.ID
}

// requestHeader returns the headers of one attempt: the custom headers,
// Content-Type when a body goes without one, and the Standard Webhooks
// headers with a fresh timestamp and signature. The id is the same on
// every attempt (see deliveryID) so the receiver can drop retries.
func (n *Notifier) requestHeader(id string, body []byte) http.Header {
	h := n.header.Clone()
	if body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	ts := n.now().Unix()
	h[idKey] = []string{id}
	h[timestampKey] = []string{strconv.FormatInt(ts, 10)}
	if n.key != nil {
		h[signatureKey] = []string{sign(n.key, id, ts, body)}
	}
	return h
}

// The Standard Webhooks headers as http.Header keys them (canonical), so
// that each attempt sets them without canonicalising the spec's spelling.
var (
	idKey        = http.CanonicalHeaderKey(HeaderID)
	timestampKey = http.CanonicalHeaderKey(HeaderTimestamp)
	signatureKey = http.CanonicalHeaderKey(HeaderSignature)
)

// body returns the request body for e: the pattern rendered over it, or e
// as JSON. An event larger than MaxBodyBytes as JSON is cut to fit first
// (see fitEvent), so it is delivered shortened rather than refused, and a
// pattern never renders a field larger than a body.
func (n *Notifier) body(e notify.Event) ([]byte, error) {
	if n.pattern == nil {
		_, b, err := fitEvent(e, MaxBodyBytes)
		return b, err
	}
	if !fitsUnmeasured(e, MaxBodyBytes) {
		fitted, _, err := fitEvent(e, MaxBodyBytes)
		if err != nil {
			return nil, err
		}
		e = fitted
	}
	b, err := n.pattern.render(e)
	if err != nil {
		return nil, errors.New("cannot render body_pattern: " + err.Error())
	}
	if n.jsonBody {
		if err := checkJSON(b); err != nil {
			return nil, errors.New("body_pattern rendered invalid JSON for this event " +
				`(pass every value through json, as in {"title": {{json .Title}}}): ` + err.Error())
		}
	}
	return b, nil
}
