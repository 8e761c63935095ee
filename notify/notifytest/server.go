package notifytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
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

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// Destination names one of the fakes a Server runs. The values are the
// destination packages' Type constants, so Destination(slack.Type) is Slack.
//
// Each fake checks a request as the vendor documents it and answers
// with the vendor's status and body. Credentials below are "any well-formed
// one" until Server.ExpectCredentials lists the accepted ones.
//
// Slack, hooks.slack.com: POST /services/T…/B…/<secret> with a JSON message
// (or payload=<json>). 200 "ok". No text or a blank one: 400 no_text (Slack
// takes blocks alone; the fake insists on the notification text, which the
// library always sets). Not a JSON object: 400 invalid_payload. Over Block
// Kit's limits (50 blocks, header 150, section 3,000, 10 fields of 2,000):
// 400 invalid_blocks; over 100 attachments: 400 too_many_attachments. A path
// that is not a hook, or a hook not expected: 404 no_service; a revoked hook:
// 403 invalid_token. A text over 40,000 is accepted, as Slack truncates it.
//
// PagerDuty, events.pagerduty.com and events.eu.pagerduty.com: POST
// /v2/enqueue, authenticated by routing_key (32 alphanumerics) in the body;
// event_action trigger, acknowledge or resolve; dedup_key at most 255 and
// required for acknowledge and resolve; on trigger payload.summary (at most
// 1,024), payload.source and payload.severity (critical, error, warning,
// info); the request at most 512 KB. 202 {"status":"success","message":
// "Event processed","dedup_key":…}, a key generated for a trigger without
// one; else 400 {"status":"invalid event","message":"Event object is
// invalid","errors":[…]} listing every problem. A revoked or unexpected key:
// 400 with "Invalid routing key" (undocumented; what has been reported).
// Alerts follow the dedup rules (Server.PagerDutyAlerts, PagerDutyOpen).
//
// Opsgenie, api.opsgenie.com, api.eu.opsgenie.com and the JSM Ops URL
// api.atlassian.com/jsm/ops/integration/…: Authorization: GenieKey <uuid>.
// No key or another scheme: 401 "Could not authenticate"; a key that is not a
// UUID: 422 "Key format is not valid!"; a revoked or unexpected key: 401.
// POST /v2/alerts (JSON, else 415) needs a message (422 with
// errors.message); alias at most 512, priority P1-P5, responders {type:
// team|user|escalation|schedule, id|name|username}, at most 20 tags of 50,
// details a string map; message and description are truncated to 130 and
// 15,000. 202 {"result":"Request will be processed","took":…,"requestId":…};
// an open alert with the same alias counts up instead of opening another.
// GET /v2/alerts?limit=N (1-100): 200 {"data":[…]}, newest first. GET
// /v2/alerts/requests/{id}: the request's status, or 404 with
// X-Opsgenie-Errortype: RequestNotProcessed. POST
// /v2/alerts/{id}/close?identifierType=id|tiny|alias (an alias names the
// open alert; an optional JSON body of user, source and note): 202, even
// when no alert matches (Server.OpsgenieOpen lists what is open). GET
// /v2/teams/{identifier}?identifierType=id|name (not on the JSM URL): the
// team, or 404 (Server.SetOpsgenieTeams; by default any UUID is a team).
//
// Jira, <site>.atlassian.net and api.atlassian.com/ex/jira/{cloudId}/: Basic
// auth email:token. No or bad auth: 401 {"errorMessages":[…],"errors":{}}
// with X-Seraph-LoginReason: AUTHENTICATED_FAILED (or, with
// Server.SetJiraAnonymousAccess, 200 and that header on anonymous-readable
// endpoints); success carries X-Seraph-LoginReason: OK. GET
// /rest/api/2/myself: {accountId, emailAddress, displayName} of the Basic
// auth user. GET /rest/api/2/project/{idOrKey}, or 404. GET
// /rest/api/2/issue/createmeta/{project}/issuetypes and …/issuetypes/{id}:
// pages of issue types and of create-screen fields, priority with
// allowedValues Highest…Lowest. POST /rest/api/2/issue (JSON, else 415):
// project by id or key, issuetype by id or name, summary required and under
// 255, description a string (v3: an Atlassian document) of at most 32,767,
// labels without spaces, priority from the scheme, no field off the create
// screen, the issue type's required fields: 201 {"id","key":"SEC-1","self"},
// else 400 {"errorMessages":[],"errors":{field: message}}. GET
// /rest/api/2/issue/{idOrKey}. POST …/issue/{idOrKey}/comment {"body"} (v2
// a string, v3 an Atlassian document; empty: 400 errors.comment): 201. GET
// …/issue/{idOrKey}/transitions: the workflow's transitions but the one to
// the issue's own status, each with to.statusCategory.key (new,
// indeterminate, done); POST …/transitions {"transition":{"id"}}: 204, 400
// for an id not available or a field the transition's screen requires
// (Server.SetJiraWorkflow). POST or GET /rest/api/3/search/jql: a JQL
// subset (clauses joined by AND on project, labels, key, issuetype, status,
// statusCategory, resolution, and ORDER BY created|updated|key|id; anything
// else is a 400 that lists the subset); /rest/api/2/search: 410. GET
// /_edge/tenant_info: {"cloudId"}. Projects: DefaultJiraProject, or
// Server.SetJiraProjects.
//
// Datadog, api.<site> for the nine sites (another host under a Datadog
// domain, such as app.datadoghq.com, is 404): GET /api/v1/validate needs
// DD-API-KEY (32 hex): 200 {"valid":true}, else 403 {"errors":["Forbidden"]}.
// Everything else needs DD-API-KEY and DD-APPLICATION-KEY (40 hex): a missing
// one 401 {"errors":["Unauthorized"]}, a malformed, revoked or unexpected one
// 403 {"errors":["Forbidden"]}. GET /api/v2/validate_keys: 200
// {"status":"ok"}. POST /api/v2/incidents (JSON, else 415): data.type
// "incidents", attributes.title, attributes.customer_impacted (a boolean,
// even when false), customer_impact_scope when impacted,
// fields.severity.value among UNKNOWN and SEV-0…SEV-5, notification_handles
// [{handle}]: 201 {"data":{"type":"incidents","id":…,"attributes":
// {"public_id":1,…}}}, else 400 {"errors":[…]}; fields of every documented
// type are kept (Server.HoldDatadogAnswers answers creates late). GET
// /api/v2/incidents/{id}. GET /api/v2/incidents/search?query=: facets joined
// by AND (name:value, name:"value", name:(a OR b)) on state, severity and
// any property field, else 400; 200 {"data":{"attributes":{"incidents":
// [{"data":…}],"total"}}}. PATCH /api/v2/incidents/{id} (data.id the same):
// title and fields, state among them: 200, 404, or 400 {"errors":[…]}.
//
// Splunk, the HTTP Event Collector on *.splunkcloud.com and
// *.splunkcloudgc.com, and under /services/collector on any other host
// (Splunk Enterprise, port 8088 or any): GET /services/collector/health:
// {"text":"HEC is healthy","code":17} without auth. POST /services/collector
// and /services/collector/event: Authorization: Splunk <guid> (or Basic with
// the token as password). None: 401 code 2 (400 code 16 when the token is in
// the query); another scheme: 401 code 3; an unknown token: 403 code 4; a
// revoked one: 403 code 1 (Token disabled); a channel that is not a GUID: 400
// code 11. The body is envelopes one after another, gzip with
// Content-Encoding: gzip. Empty: 400 code 5 (No data), the token probe. No
// event: code 12; a null or blank event: 13; fields that are not flat: 15; an
// index outside Server.SetSplunkIndexes: 7; anything else malformed,
// including a JSON array: 6; each with "invalid-event-number". The envelopes
// before a failing one are kept, as HEC indexes a batch in order
// [unverified]. Over Server.SetSplunkMaxContentLength: 413. Success: 200
// {"text":"Success","code":0}, each envelope kept (Server.SplunkEvents).
//
// Webhook, every other host and path: 200 with an empty body to any method,
// unless Server.ExpectCredentials(Webhook, …) names the accepted
// Authorization values, the value is revoked, or Server.SetWebhookSecret is
// set and the Standard Webhooks signature does not verify: then 401.
//
// Every JSON API but Splunk's refuses a gzip body (415): only HEC documents
// compressed requests. A vendor host reached over plain http:// answers 301
// to https://.
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

// Server is a loopback fake of every HTTP destination: one HTTPS listener
// (and one plain HTTP listener, for webhook and on-premises Splunk URLs
// that use http://) on 127.0.0.1 that answers like Slack, PagerDuty,
// Opsgenie, Jira, Datadog, Splunk HEC and a generic webhook receiver.
//
// Configurations keep their production URLs: Client returns an
// *http.Client that sends every host to the fake and trusts the fake's
// in-memory CA, so
//
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

	mu             sync.Mutex
	closed         bool
	requests       []RecordedRequest
	faults         []*faultEntry
	expected       map[Destination]map[string]bool
	revoked        map[string]bool
	webhookKey     []byte
	splunkEvents   []SplunkEvent
	splunkIndexes  map[string]bool
	splunkMaxBytes int
	pagerduty      pagerdutyState
	opsgenie       opsgenieState
	jira           jiraState
	datadog        datadogState
}

// NewServer starts a Server for a test and closes it in t.Cleanup; it
// fails the test if the server cannot start.
//
// A nil t is allowed for programs (the quickstart): the caller then closes
// the server, and since there is no test to fail, NewServer(nil) panics if
// the server cannot start. Programs that want the error call StartServer.
func NewServer(t testing.TB) *Server {
	if t == nil {
		s, err := StartServer()
		if err != nil {
			panic(err)
		}
		return s
	}
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Cleanup(s.Close)
	return s
}

// StartServer starts a Server for a program; the caller must Close it.
func StartServer() (*Server, error) {
	ca, err := newCertAuthority(time.Now())
	if err != nil {
		return nil, fmt.Errorf("notifytest: %w", err)
	}
	s := &Server{
		ca:        ca,
		closing:   make(chan struct{}),
		expected:  map[Destination]map[string]bool{},
		revoked:   map[string]bool{},
		pagerduty: newPagerDutyState(),
		opsgenie:  newOpsgenieState(),
		jira:      newJiraState(),
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

// ClearRequests forgets the recorded requests and Splunk events. What the
// fakes created (Jira issues, Opsgenie alerts…) stays.
func (s *Server) ClearRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.splunkEvents = nil
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

type credStatus int

const (
	credOK credStatus = iota
	credUnknown
	credRevoked
)

// checkCredential tells how destination d treats a well-formed credential
// presented in any of the given forms.
func (s *Server) checkCredential(d Destination, forms ...string) credStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if s.revoked[f] {
			return credRevoked
		}
	}
	set, ok := s.expected[d]
	if !ok {
		return credOK
	}
	for _, f := range forms {
		if set[f] {
			return credOK
		}
	}
	return credUnknown
}

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
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, d Destination, f Fault) bool {
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
			abort(w)
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
	writeVendorError(w, d, f.Status, defaultMessage(d, f.Status))
	return false
}

// abort drops the connection without an answer. A handler that returns
// without writing makes net/http answer 200, which a client racing its own
// cancellation can still read, and take for success.
func abort(w http.ResponseWriter) {
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
	d := route(host, r.URL.Path)
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

	body, status, msg := readBody(r, d == Splunk || d == Webhook)
	rec.Body = body
	if f, ok := s.takeFault(d, r); ok {
		rec.Fault = true
		if !s.applyFault(rw, r, d, f) {
			return
		}
	}
	if status != 0 {
		if d == Splunk && status == http.StatusBadRequest {
			writeSplunk(rw, hecInvalidDataFormat, -1)
			return
		}
		writeVendorError(rw, d, status, msg)
		return
	}
	if r.TLS == nil && isVendorHost(d, host) {
		// Vendors answer plain HTTP with a redirect to HTTPS; the library
		// must not follow it, and must not have sent a credential in clear.
		u := *r.URL
		u.Scheme, u.Host = "https", r.Host
		rw.Header().Set("Location", u.String())
		rw.WriteHeader(http.StatusMovedPermanently)
		return
	}
	req := &fakeRequest{r: r, host: host, body: body}
	switch d {
	case Slack:
		s.serveSlack(rw, req)
	case PagerDuty:
		s.servePagerDuty(rw, req)
	case Opsgenie:
		s.serveOpsgenie(rw, req)
	case Jira:
		s.serveJira(rw, req)
	case Datadog:
		s.serveDatadog(rw, req)
	case Splunk:
		s.serveSplunk(rw, req)
	default:
		s.serveWebhook(rw, req)
	}
}

// fakeRequest is what a fake needs of a request: the request, its host
// without port, and its decoded body.
type fakeRequest struct {
	r    *http.Request
	host string
	body []byte
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

// datadogSites are the nine sites Datadog's Go client accepts (CONTRACTS §4).
var datadogSites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com",
	"ddog-gov.com", "us2.ddog-gov.com",
}

// route picks the fake for a host and path.
func route(host, path string) Destination {
	switch {
	case host == "hooks.slack.com":
		return Slack
	case host == "events.pagerduty.com" || host == "events.eu.pagerduty.com":
		return PagerDuty
	case host == "api.opsgenie.com" || host == "api.eu.opsgenie.com":
		return Opsgenie
	case host == "api.atlassian.com" && strings.HasPrefix(path, jsmOpsPrefix+"/"):
		return Opsgenie
	case host == "api.atlassian.com", strings.HasSuffix(host, ".atlassian.net"):
		return Jira
	case isDatadogHost(host):
		return Datadog
	case isSplunkCloudHost(host), path == hecBase || strings.HasPrefix(path, hecBase+"/"):
		return Splunk
	}
	return Webhook
}

// isVendorHost reports whether host is a vendor's own, which vendors serve
// over HTTPS only; webhook receivers and on-premises Splunk may be plain.
func isVendorHost(d Destination, host string) bool {
	switch d {
	case Webhook:
		return false
	case Splunk:
		return isSplunkCloudHost(host)
	}
	return true
}

func isDatadogHost(host string) bool {
	for _, site := range []string{"datadoghq.com", "datadoghq.eu", "ddog-gov.com"} {
		if host == site || strings.HasSuffix(host, "."+site) {
			return true
		}
	}
	return false
}

func isSplunkCloudHost(host string) bool {
	return strings.HasSuffix(host, ".splunkcloud.com") || strings.HasSuffix(host, ".splunkcloudgc.com")
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "notifytest: cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeText answers a plain-text body.
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// writeVendorError answers an error in the destination's own error shape.
func writeVendorError(w http.ResponseWriter, d Destination, status int, msg string) {
	switch d {
	case Slack:
		writeText(w, status, msg)
	case PagerDuty:
		writeJSON(w, status, map[string]any{"status": http.StatusText(status), "message": msg, "errors": []string{msg}})
	case Opsgenie:
		writeJSON(w, status, opsgenieError(msg, nil))
	case Jira:
		writeJSON(w, status, jiraErrors([]string{msg}, nil))
	case Datadog:
		writeJSON(w, status, map[string]any{"errors": []string{msg}})
	case Splunk:
		for code, c := range hecCodes {
			if c.status == status && c.text == msg {
				writeSplunk(w, code, -1)
				return
			}
		}
		writeJSON(w, status, map[string]any{"text": msg})
	default:
		writeText(w, status, msg)
	}
}

// defaultMessage is the vendor's usual error text for a status, used when a
// Fault gives no body.
func defaultMessage(d Destination, status int) string {
	switch d {
	case Slack:
		switch status {
		case http.StatusTooManyRequests:
			return "rate_limited"
		case http.StatusForbidden:
			return "invalid_token"
		case http.StatusNotFound:
			return "no_service"
		case http.StatusGone:
			return "channel_is_archived"
		case http.StatusInternalServerError:
			return "rollup_error"
		case http.StatusBadRequest:
			return "invalid_payload"
		}
	case Splunk:
		for _, c := range []int{hecServerBusy, hecInternalError, hecInvalidDataFormat, hecInvalidAuthorization, hecInvalidToken} {
			if hecCodes[c].status == status {
				return hecCodes[c].text
			}
		}
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// errNotObject is returned by decodeObject for a body that is not a JSON
// object.
var errNotObject = errors.New("the body is not a JSON object")

// decodeObject decodes a JSON object body into a map, keeping numbers as
// json.Number so lengths and types can be checked like the vendor does.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	return m, nil
}

// isJSONContent reports whether the request says its body is JSON.
func isJSONContent(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// str returns m[k] when it is a string.
func str(m map[string]any, k string) (string, bool) {
	s, ok := m[k].(string)
	return s, ok
}

// obj returns m[k] when it is an object.
func obj(m map[string]any, k string) (map[string]any, bool) {
	o, ok := m[k].(map[string]any)
	return o, ok
}
