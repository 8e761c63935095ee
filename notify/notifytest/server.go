package notifytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// Destination names one of the fakes a Server runs. The values are the
// destination packages' Type constants, so Destination(slack.Type) is Slack.
// Each vendor's fake lives beside its destination (slack/slacktest,
// jira/jiratest, …), whose package documentation says what it models.
type Destination string

// The fakes a Server runs, one per HTTP destination.
const (
	Slack     Destination = "slack"     // hooks.slack.com incoming webhooks
	PagerDuty Destination = "pagerduty" // events(.eu).pagerduty.com Events API v2
	Opsgenie  Destination = "opsgenie"  // api(.eu).opsgenie.com and JSM Ops alerts on api.atlassian.com
	Jira      Destination = "jira"      // <site>.atlassian.net and api.atlassian.com/ex/jira/{cloudId}
	Datadog   Destination = "datadog"   // api.<site> for the nine Datadog sites
	Splunk    Destination = "splunk"    // Splunk Cloud hosts, and /services/collector on any other host
	Webhook   Destination = "webhook"   // every other request: the generic webhook sink
)

// maxRequestBytes bounds what the fake reads of a request body (after
// gzip), far above any vendor's limit, so a runaway client cannot exhaust
// the test's memory.
const maxRequestBytes = 32 << 20

// maxRecordedResponse bounds the answer kept in a RecordedRequest; the
// library itself reads no more than sender.MaxResponseBytes.
const maxRecordedResponse = sender.MaxResponseBytes

// Server is the loopback core the vendor fakes run in: one HTTPS listener
// (and one plain HTTP listener, for webhook and on-premises Splunk URLs
// that use http://) on 127.0.0.1 that routes each request by host and
// path to the first Fake that handles it (slack/slacktest,
// pagerduty/pagerdutytest, opsgenie/opsgenietest, jira/jiratest,
// datadog/datadogtest, splunk/splunktest, webhook/webhooktest), and
// answers 404 when none does.
//
// Configurations keep their production URLs: Client returns an
// *http.Client that sends every host to the fake and trusts the fake's
// in-memory CA, so
//
//	srv := notifytest.NewServer(t, slacktest.New())
//	n, err := slack.New(cfg, notify.WithHTTPClient(srv.Client()))
//
// talks to the Slack fake at https://hooks.slack.com/services/….
//
// Each fake checks a request the way the vendor does, as its API reference
// documents it (auth header present and well formed, required fields, JSON
// shape, length limits) and answers with the vendor's status and body. A
// request over plain http:// to a vendor host gets the 301 to https:// the
// vendors answer.
//
// Credentials: any well-formed credential is accepted until the test calls
// ExpectCredentials for a destination, after which only the listed ones
// are; RevokeCredentials makes a credential fail as a revoked one does.
//
// Every request is recorded (Requests, RequestsTo, LastRequest), and
// Inject makes the fake answer with a given status, body, Retry-After or
// delay. A Server is safe for concurrent use; Close stops it and leaves no
// goroutine behind.
type Server struct {
	tlsSrv    *httptest.Server
	plainSrv  *httptest.Server
	transport *http.Transport
	ca        *certAuthority

	closing   chan struct{}
	closeOnce sync.Once
	// handlers counts running handlers so Close can wait for them all,
	// including one whose connection was hijacked (which httptest no
	// longer tracks).
	handlers sync.WaitGroup

	fakes []Fake // in routing order: the first that handles a request answers it

	mu       sync.Mutex
	closed   bool
	requests []RecordedRequest
	faults   []*faultEntry
	expected map[Destination]map[string]bool
	revoked  map[string]bool
}

// NewServer starts a Server for a test and closes it in t.Cleanup; it
// fails the test if the server cannot start.
//
// A nil t is allowed for programs (the quickstart): the caller then closes
// the server, and since there is no test to fail, NewServer(nil) panics if
// the server cannot start. Programs that want the error call StartServer.
func NewServer(t testing.TB, fakes ...Fake) *Server {
	if t == nil {
		s, err := StartServer(fakes...)
		if err != nil {
			panic(err)
		}
		return s
	}
	t.Helper()
	s, err := StartServer(fakes...)
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Cleanup(s.Close)
	return s
}

// StartServer starts a Server for a program; the caller must Close it.
// The fakes are tried in the order given; a request none handles gets 404.
func StartServer(fakes ...Fake) (*Server, error) {
	names := []string{"localhost"}
	for _, f := range fakes {
		if c, ok := f.(CertNamer); ok {
			names = append(names, c.CertNames()...)
		}
	}
	ca, err := newCertAuthority(time.Now(), names)
	if err != nil {
		return nil, fmt.Errorf("notifytest: %w", err)
	}
	s := &Server{
		ca:       ca,
		closing:  make(chan struct{}),
		fakes:    fakes,
		expected: map[Destination]map[string]bool{},
		revoked:  map[string]bool{},
	}
	for _, f := range fakes {
		f.Attach(s)
	}
	// httptest listens on 127.0.0.1:0 (or [::1]:0): loopback only.
	quiet := log.New(io.Discard, "", 0) // a client refusing the CA is a test, not news
	s.tlsSrv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.tlsSrv.Config.ErrorLog = quiet
	s.tlsSrv.TLS = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		Certificates:   []tls.Certificate{ca.leaf}, // for clients that send no server name
		GetCertificate: ca.getCertificate,
	}
	s.tlsSrv.StartTLS()
	s.plainSrv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.plainSrv.Config.ErrorLog = quiet
	s.plainSrv.Start()

	tlsAddr := s.tlsSrv.Listener.Addr().String()
	plainAddr := s.plainSrv.Listener.Addr().String()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	s.transport = &http.Transport{
		Proxy: nil, // the fake is the only peer
		// Whatever the host, http:// goes to the plain listener...
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", plainAddr)
		},
		// ...and https:// to the TLS one, verified against the fake's CA
		// under the name the client asked for, as a real client would.
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			raw, err := dialer.DialContext(ctx, "tcp", tlsAddr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(raw, &tls.Config{RootCAs: ca.pool, ServerName: host, MinVersion: tls.VersionTLS12})
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				return nil, err
			}
			return tc, nil
		},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	return s, nil
}

// Close stops the server: requests held by a Fault's delay end at once
// (503), Close waits for every handler to return, and it closes the
// connections on both sides, so nothing the server or its Client's
// transport started keeps running (goleak finds nothing once the closed
// connections' goroutines have seen the close). Close may be called more
// than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true // no handler starts after this, so Wait is safe
		s.mu.Unlock()
		close(s.closing)
		s.tlsSrv.Close()
		s.plainSrv.Close()
		s.handlers.Wait()
		s.transport.CloseIdleConnections()
	})
}

// Client returns an *http.Client that sends every request, whatever its
// host, to the fake (https:// to the TLS listener, http:// to the plain
// one) and trusts the fake's certificates, which are issued for the host
// the request names. Pass it to notify.WithHTTPClient. All clients share
// one transport, which Close shuts down.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.transport}
}

// URL returns the HTTPS base URL of the fake's loopback listener, for
// clients that dial it directly (its certificate also covers 127.0.0.1,
// ::1 and localhost). Requests to it reach the webhook sink, or the Splunk
// fake under /services/collector.
func (s *Server) URL() string { return s.tlsSrv.URL }

// PlainURL returns the plain http:// base URL of the fake's loopback
// listener.
func (s *Server) PlainURL() string { return s.plainSrv.URL }

// CACertPEM returns the PEM of the CA that signs the fake's certificates,
// for a client that builds its own TLS configuration (a webhook's ca_cert).
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.ca.pem) }

// CertPool returns a pool holding the fake's CA.
func (s *Server) CertPool() *x509.CertPool { return s.ca.pool.Clone() }

// RecordedRequest is one request the Server received and what it answered.
type RecordedRequest struct {
	Destination Destination
	Method      string
	Scheme      string // "https", or "http" for the plain listener
	Host        string // as the client sent it, with its port if it had one
	Path        string
	Query       url.Values
	// RawQuery is the query as the client wrote it, in its order.
	RawQuery string
	Header   http.Header
	// Body is the request body as the fake read it: decompressed when the
	// request had Content-Encoding: gzip.
	Body []byte
	// Status is what the fake answered; 0 when the client gave up first.
	Status int
	// Response is the answer's body (its first 64 KiB).
	Response []byte
	// Fault reports that an injected Fault answered or delayed the request.
	Fault bool
}

// URL returns the request's URL as the client addressed it, its query in
// the order the client wrote it.
func (r RecordedRequest) URL() string {
	u := url.URL{Scheme: r.Scheme, Host: r.Host, Path: r.Path, RawQuery: r.RawQuery}
	return u.String()
}

// DecodeJSON decodes the request body into v.
func (r RecordedRequest) DecodeJSON(v any) error { return json.Unmarshal(r.Body, v) }

// Requests returns a copy of every request received so far, in the order
// they were answered.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRequests(s.requests, "")
}

// RequestsTo returns a copy of the requests that reached destination d.
func (s *Server) RequestsTo(d Destination) []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRequests(s.requests, d)
}

// LastRequest returns the last request that reached destination d, and
// false when there was none.
func (s *Server) LastRequest(d Destination) (RecordedRequest, bool) {
	rs := s.RequestsTo(d)
	if len(rs) == 0 {
		return RecordedRequest{}, false
	}
	return rs[len(rs)-1], true
}

// ClearRequests forgets the recorded requests, and what a fake that
// implements RequestClearer records per request (Splunk events). What the
// fakes created (Jira issues, Opsgenie alerts…) stays.
func (s *Server) ClearRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
	for _, f := range s.fakes {
		if c, ok := f.(RequestClearer); ok {
			c.ClearRequests()
		}
	}
}

func cloneRequests(rs []RecordedRequest, d Destination) []RecordedRequest {
	var out []RecordedRequest
	for _, r := range rs {
		if d != "" && r.Destination != d {
			continue
		}
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = bytes.Clone(r.Body)
		r.Response = bytes.Clone(r.Response)
		out = append(out, r)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ExpectCredentials makes destination d accept only the given credentials
// from now on (each call replaces the list; none restores the default,
// which accepts any well-formed credential). A credential is:
//
//   - Slack: the whole webhook URL, https://hooks.slack.com/services/T…/B…/…
//   - PagerDuty: the routing key.
//   - Opsgenie: the API key (without "GenieKey ").
//   - Jira: the API token, or "email:token" to tie it to one account.
//   - Datadog: the API key and the application key, both listed.
//   - Splunk: the HEC token.
//   - Webhook: the exact Authorization header value.
//
// Anything else is refused as the vendor refuses an unknown credential.
func (s *Server) ExpectCredentials(d Destination, creds ...notify.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(creds) == 0 {
		delete(s.expected, d)
		return
	}
	set := map[string]bool{}
	for _, c := range creds {
		set[c.Reveal()] = true
	}
	s.expected[d] = set
}

// RevokeCredentials makes the given credentials (in the forms
// ExpectCredentials lists) fail wherever they are presented, the way the
// vendor answers a revoked or disabled one: Slack 403 invalid_token,
// PagerDuty 400 invalid routing key, Opsgenie 401, Jira 401, Datadog 403,
// Splunk 403 code 1 (token disabled), webhook 401.
func (s *Server) RevokeCredentials(creds ...notify.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range creds {
		if !c.IsZero() {
			s.revoked[c.Reveal()] = true
		}
	}
}

// CredentialStatus is how a destination treats a well-formed credential.
type CredentialStatus int

// The answers of Server.Credential.
const (
	CredentialOK      CredentialStatus = iota // accepted
	CredentialUnknown                         // not among those ExpectCredentials listed
	CredentialRevoked                         // passed to RevokeCredentials
)

// Credential tells a fake how destination d treats a well-formed
// credential presented in any of the given forms, after ExpectCredentials
// and RevokeCredentials.
func (s *Server) Credential(d Destination, forms ...string) CredentialStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if s.revoked[f] {
			return CredentialRevoked
		}
	}
	set, ok := s.expected[d]
	if !ok {
		return CredentialOK
	}
	for _, f := range forms {
		if set[f] {
			return CredentialOK
		}
	}
	return CredentialUnknown
}

// Closing is closed when the Server starts closing, so a fake that holds
// an answer back can let it go.
func (s *Server) Closing() <-chan struct{} { return s.closing }

// Fault makes the Server answer matching requests itself instead of the
// fake. Zero fields match anything: a Fault with only Status set applies to
// every request.
type Fault struct {
	// Destination, Method and Path select the requests; Path matches
	// exactly, or as a prefix when it ends in "/".
	Destination Destination
	Method      string
	Path        string

	// Status is the answer's status (200-599). With Status 0 the fault
	// only delays, and the fake answers as usual after Delay.
	Status int
	// Body is the answer's body. Empty means the vendor's usual body for
	// Status (Slack's "rate_limited", a Splunk {"text","code"}, a Jira
	// errorMessages…).
	Body string
	// Header is added to the answer (X-RateLimit-Reset, Location…).
	Header http.Header
	// RetryAfter, when set, is sent as the Retry-After header as is:
	// seconds ("30") or an HTTP date (time.Format(http.TimeFormat)).
	RetryAfter string
	// Delay holds the answer back. It ends early when the client gives up
	// (the request then gets no answer, and is recorded with Status 0) or
	// when the Server closes (503).
	Delay time.Duration
	// Times is how many requests the fault answers before it is dropped;
	// 0 means until ClearFaults.
	Times int
}

// testHookDelay, set only by this package's tests, is told when a fault's
// delay starts ("held") and how it ends ("elapsed", "client gone",
// "closing"), so a test can wait for it without sleeping.
var testHookDelay atomic.Pointer[func(event string)]

type faultEntry struct {
	Fault
	left int // requests still to answer; -1 for until cleared
}

// Inject adds a fault. Faults are tried in the order they were injected and
// the first that matches a request answers it. It returns an error, and
// adds nothing, for a status outside 200-599 or a negative Delay or Times.
func (s *Server) Inject(f Fault) error {
	switch {
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		return fmt.Errorf("notifytest: fault status %d is not in 200-599", f.Status)
	case f.Delay < 0:
		return fmt.Errorf("notifytest: fault delay %v is negative", f.Delay)
	case f.Times < 0:
		return fmt.Errorf("notifytest: fault times %d is negative", f.Times)
	}
	e := &faultEntry{Fault: f, left: f.Times}
	e.Header = f.Header.Clone()
	if f.Times == 0 {
		e.left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, e)
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(d Destination, r *http.Request) bool {
	if f.Destination != "" && f.Destination != d {
		return false
	}
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if f.Path == "" || f.Path == r.URL.Path {
		return true
	}
	return strings.HasSuffix(f.Path, "/") && strings.HasPrefix(r.URL.Path, f.Path)
}

// takeFault returns the first fault matching the request, counting it.
func (s *Server) takeFault(d Destination, r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(d, r) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// applyFault waits out the fault's delay and writes its answer. It returns
// true when the fake should answer the request after all (a delay-only
// fault).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, fk Fake, f Fault) bool {
	if f.Delay > 0 {
		hook := func(string) {}
		if h := testHookDelay.Load(); h != nil {
			hook = *h
		}
		hook("held")
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			hook("elapsed")
		case <-r.Context().Done():
			hook("client gone")
			Abort(w)
			return false
		case <-s.closing:
			hook("closing")
			http.Error(w, "notifytest: server closing", http.StatusServiceUnavailable)
			return false
		}
	}
	if f.Status == 0 {
		return true
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		if w.Header().Get("Content-Type") == "" {
			ct := "text/plain; charset=utf-8"
			if json.Valid([]byte(f.Body)) {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return false
	}
	writeError(w, fk, f.Status, "")
	return false
}

// Abort drops the connection without an answer, for a fake whose client
// gave up while it held the answer back. A handler that returns
// without writing makes net/http answer 200, which a client racing its own
// cancellation can still read, and take for success.
func Abort(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// serve routes a request to its fake, after recording it and applying any
// injected fault. It is the handler of both listeners.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "notifytest: server closing", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done() // after the recording below

	host := hostOnly(r.Host)
	fk := s.route(host, r.URL.Path)
	var d Destination
	if fk != nil {
		d = fk.Destination()
	}
	rw := &recordingWriter{ResponseWriter: w}
	rec := RecordedRequest{
		Destination: d,
		Method:      r.Method,
		Scheme:      "https",
		Host:        r.Host,
		Path:        r.URL.Path,
		Query:       r.URL.Query(),
		RawQuery:    r.URL.RawQuery,
		Header:      r.Header.Clone(),
	}
	if r.TLS == nil {
		rec.Scheme = "http"
	}
	defer func() {
		rec.Status = rw.status
		rec.Response = rw.body.Bytes()
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()

	gz, _ := fk.(GzipAccepter)
	body, status, msg := readBody(r, gz != nil && gz.AcceptsGzip())
	rec.Body = body
	if f, ok := s.takeFault(d, r); ok {
		rec.Fault = true
		if !s.applyFault(rw, r, fk, f) {
			return
		}
	}
	if status != 0 {
		writeError(rw, fk, status, msg)
		return
	}
	if fk == nil {
		fakekit.WriteText(rw, http.StatusNotFound, "notifytest: no fake serves "+host)
		return
	}
	if h, ok := fk.(HTTPSOnly); r.TLS == nil && (!ok || h.HTTPSOnly(host)) {
		// Vendors answer plain HTTP with a redirect to HTTPS; the library
		// must not follow it, and must not have sent a credential in clear.
		u := *r.URL
		u.Scheme, u.Host = "https", r.Host
		rw.Header().Set("Location", u.String())
		rw.WriteHeader(http.StatusMovedPermanently)
		return
	}
	fk.ServeFake(rw, &Request{HTTP: r, Host: host, Body: body})
}

// writeError answers an error in the fake's own error shape; without a
// fake, as plain text. An empty msg asks for the usual text for status.
func writeError(w http.ResponseWriter, fk Fake, status int, msg string) {
	if fk != nil {
		fk.WriteError(w, status, msg)
		return
	}
	if msg == "" {
		msg = StatusText(status)
	}
	fakekit.WriteText(w, status, msg)
}

// StatusText is http.StatusText, or "status N" for a code it does not
// know: the message a fake without a vendor-specific one answers.
func StatusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

// Request is what a fake is given of a request.
type Request struct {
	// HTTP is the request; its body has been read into Body.
	HTTP *http.Request
	// Host is the request's host, lower-case, without its port or a
	// trailing dot.
	Host string
	// Body is the request body, decompressed when the fake accepts gzip.
	Body []byte
}

// Fake is one vendor's fake, which a Server routes requests to by host
// and path. The vendor packages' xxxtest.New return one; a Server runs the
// fakes passed to NewServer or StartServer.
//
// A fake may also implement GzipAccepter, HTTPSOnly, CertNamer and
// RequestClearer.
type Fake interface {
	// Destination names the fake in RecordedRequest, Fault and
	// ExpectCredentials.
	Destination() Destination
	// Handles reports whether a request to host (as Request.Host) and
	// path is the fake's.
	Handles(host, path string) bool
	// ServeFake answers a request that Handles took and no Fault answered.
	ServeFake(w http.ResponseWriter, r *Request)
	// WriteError answers status in the vendor's error shape, for a body
	// the Server could not read and for a Fault without a Body. An empty
	// msg asks for the vendor's usual text for status.
	WriteError(w http.ResponseWriter, status int, msg string)
	// Attach is called once, when the Server starts, with the Server the
	// fake runs in (for Credential, Closing and the recorded requests).
	Attach(s *Server)
}

// Base gives a Fake its Destination and Attach methods: embed it, made by
// NewBase, and read the Server the fake runs in with Server.
type Base struct {
	dest Destination
	srv  *Server
}

// NewBase returns the Base of a fake of destination d.
func NewBase(d Destination) Base { return Base{dest: d} }

// Destination returns the destination the Base was made for.
func (b *Base) Destination() Destination { return b.dest }

// Attach records the Server the fake runs in; the Server calls it before
// it serves any request.
func (b *Base) Attach(s *Server) { b.srv = s }

// Server returns the Server the fake runs in, nil before it starts.
func (b *Base) Server() *Server { return b.srv }

// GzipAccepter is implemented by a fake whose vendor documents
// Content-Encoding: gzip request bodies (Splunk HEC, a webhook receiver).
// Other fakes answer a gzip body 415, as the JSON APIs do.
type GzipAccepter interface {
	AcceptsGzip() bool
}

// HTTPSOnly is implemented by a fake for which some hosts may be reached
// over plain http:// (a webhook receiver, on-premises Splunk). A fake that
// does not implement it is a vendor host served over HTTPS only, which
// answers plain HTTP with a 301 to https://.
type HTTPSOnly interface {
	HTTPSOnly(host string) bool
}

// CertNamer is implemented by a fake that names the hosts (wildcards
// allowed) the Server's default certificate covers. Any other name gets a
// certificate minted when a client asks for it.
type CertNamer interface {
	CertNames() []string
}

// RequestClearer is implemented by a fake that records something per
// request, forgotten by Server.ClearRequests.
type RequestClearer interface {
	ClearRequests()
}

// readBody reads the request body up to maxRequestBytes, decompressing gzip
// where the destination takes it. On failure it returns the status and
// message to answer with.
func readBody(r *http.Request, gzipOK bool) ([]byte, int, string) {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	var src io.Reader = r.Body
	switch {
	case enc == "" || enc == "identity":
	case enc == "gzip" && gzipOK:
		zr, err := gzip.NewReader(io.LimitReader(r.Body, maxRequestBytes))
		if err != nil {
			return nil, http.StatusBadRequest, "the body is not valid gzip"
		}
		defer zr.Close()
		src = zr
	default:
		// Only HEC documents compressed bodies; the JSON APIs do not.
		return nil, http.StatusUnsupportedMediaType, "unsupported Content-Encoding " + enc
	}
	b, err := io.ReadAll(io.LimitReader(src, maxRequestBytes+1))
	if err != nil {
		if enc == "gzip" {
			return b, http.StatusBadRequest, "the body is not valid gzip"
		}
		return b, http.StatusBadRequest, "could not read the body"
	}
	if len(b) > maxRequestBytes {
		return nil, http.StatusRequestEntityTooLarge, "request body too large"
	}
	return b, 0, ""
}

// recordingWriter keeps the status and the start of the body it writes.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// Unwrap gives http.ResponseController the connection's own writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := maxRecordedResponse - w.body.Len(); room > 0 {
		w.body.Write(p[:min(len(p), room)])
	}
	return w.ResponseWriter.Write(p)
}

// hostOnly lower-cases a Host header and drops its port and trailing dot.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// route picks the fake for a host and path: the first that handles it.
func (s *Server) route(host, path string) Fake {
	for _, f := range s.fakes {
		if f.Handles(host, path) {
			return f
		}
	}
	return nil
}
