// Package splunktest is the loopback fake of the Splunk HTTP Event Collector that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, splunktest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
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
// index outside Fake.SetIndexes: 7; anything else malformed,
// including a JSON array: 6; each with "invalid-event-number". The envelopes
// before a failing one are kept, as HEC indexes a batch in order
// [unverified]. Over Fake.SetMaxContentLength: 413. Success: 200
// {"text":"Success","code":0}, each envelope kept (Fake.Events).
package splunktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// hecBase is the path every HEC endpoint lives under.
const hecBase = "/services/collector"

// HEC status codes (CONTRACTS §6, SplunkAdmins' copy of Splunk's table).
const (
	hecSuccess              = 0
	hecTokenDisabled        = 1
	hecTokenRequired        = 2
	hecInvalidAuthorization = 3
	hecInvalidToken         = 4
	hecNoData               = 5
	hecInvalidDataFormat    = 6
	hecIncorrectIndex       = 7
	hecInternalError        = 8
	hecServerBusy           = 9
	hecInvalidChannel       = 11
	hecEventRequired        = 12
	hecEventBlank           = 13
	hecIndexedFields        = 15
	hecQueryAuthDisabled    = 16
	hecHealthy              = 17
)

type hecCode struct {
	status int
	text   string
}

var hecCodes = map[int]hecCode{
	hecSuccess:              {http.StatusOK, "Success"},
	hecTokenDisabled:        {http.StatusForbidden, "Token disabled"},
	hecTokenRequired:        {http.StatusUnauthorized, "Token is required"},
	hecInvalidAuthorization: {http.StatusUnauthorized, "Invalid authorization"},
	hecInvalidToken:         {http.StatusForbidden, "Invalid token"},
	hecNoData:               {http.StatusBadRequest, "No data"},
	hecInvalidDataFormat:    {http.StatusBadRequest, "Invalid data format"},
	hecIncorrectIndex:       {http.StatusBadRequest, "Incorrect index"},
	hecInternalError:        {http.StatusInternalServerError, "Internal server error"},
	hecServerBusy:           {http.StatusServiceUnavailable, "Server is busy"},
	hecInvalidChannel:       {http.StatusBadRequest, "Invalid data channel"},
	hecEventRequired:        {http.StatusBadRequest, "Event field is required"},
	hecEventBlank:           {http.StatusBadRequest, "Event field cannot be blank"},
	hecIndexedFields:        {http.StatusBadRequest, "Error in handling indexed fields"},
	hecQueryAuthDisabled:    {http.StatusBadRequest, "Query string authorization is not enabled"},
	hecHealthy:              {http.StatusOK, "HEC is healthy"},
}

// writeSplunk answers HEC's {"text","code"} for a code, with the index of
// the failing event of a batch when invalidEvent is not negative.
func writeSplunk(w http.ResponseWriter, code, invalidEvent int) {
	c := hecCodes[code]
	body := map[string]any{"text": c.text, "code": code}
	if invalidEvent >= 0 {
		body["invalid-event-number"] = invalidEvent
	}
	fakekit.WriteJSON(w, c.status, body)
}

// Event is one event envelope the Splunk fake accepted.
type Event struct {
	// Host is the HEC host the batch was sent to, as the client sent it.
	Host string
	// Path is the endpoint: /services/collector or …/event.
	Path string
	// Time is the envelope's time as sent (epoch seconds), "" when absent.
	Time json.Number
	// EventHost, Source, Sourcetype and Index are the envelope's metadata.
	EventHost  string
	Source     string
	Sourcetype string
	Index      string
	// Event is the event itself: a JSON string, number or object.
	Event json.RawMessage
	// Fields are the indexed fields (strings or lists of strings).
	Fields map[string]any
	// Raw is the whole envelope as sent.
	Raw json.RawMessage
}

// Events returns a copy of the events the Splunk fake accepted, one
// per envelope, in order.
func (s *Fake) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.splunkEvents))
	for i, e := range s.splunkEvents {
		e.Event = bytes.Clone(e.Event)
		e.Raw = bytes.Clone(e.Raw)
		fields := make(map[string]any, len(e.Fields))
		for k, v := range e.Fields {
			fields[k] = v
		}
		if e.Fields != nil {
			e.Fields = fields
		}
		out[i] = e
	}
	return out
}

// SetIndexes limits the indexes events may name to the given ones,
// as a token's allowed-index list does (an event naming another gets code
// 7, Incorrect index). With none, any index is allowed.
func (s *Fake) SetIndexes(indexes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.splunkIndexes = nil
	if len(indexes) > 0 {
		s.splunkIndexes = map[string]bool{}
		for _, ix := range indexes {
			s.splunkIndexes[ix] = true
		}
	}
}

// SetMaxContentLength makes the Splunk fake answer 413 to a body
// longer than n bytes (after gzip), as Splunk's max_content_length does; 0
// removes the limit. Splunk Cloud's own limit is not documented
// (CONTRACTS §6), so by default there is none.
func (s *Fake) SetMaxContentLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.splunkMaxBytes = max(n, 0)
}

// isSplunkWebHost reports whether host (as the client sent it) is a Splunk
// Cloud stack's web address, <stack>.splunkcloud.com on 443, where Splunk
// Web answers and HEC is not served: HEC lives on the stack's http-inputs
// hosts (https://docs.splunk.com/Documentation/SplunkCloud/9.1.2312/Data/UsetheHTTPEventCollector),
// and on <stack>.splunkcloud.com:8088 for trials.
func isSplunkWebHost(host string) bool {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, ""
	}
	stack, ok := strings.CutSuffix(strings.ToLower(name), ".splunkcloud.com")
	return ok && stack != "" && !strings.Contains(stack, ".") && !strings.HasPrefix(stack, "http-inputs") &&
		(port == "" || port == "443")
}

// splunkWebNotFound is Splunk Web's page for a path it does not serve. The
// page's exact shape is [unverified]; what matters is that it is HTML and
// no HEC answer, as a client that posts to the web address meets it.
const splunkWebNotFound = `<!doctype html><html><head><title>Page not found! | Splunk</title></head>` +
	`<body><h1>Oops.</h1><p>Page not found!</p></body></html>`

// Fake is the Splunk HEC fake (see the package documentation).
type Fake struct {
	notifytest.Base
	mu             sync.Mutex
	splunkEvents   []Event
	splunkIndexes  map[string]bool
	splunkMaxBytes int
}

// New returns a Splunk HEC fake to pass to notifytest.NewServer. It
// handles /services/collector on any host, so it goes after the other
// vendors and before the webhook sink.
func New() *Fake { return &Fake{Base: notifytest.NewBase(notifytest.Splunk)} }

// Handles takes the Splunk Cloud hosts, and /services/collector on any
// other host (Splunk Enterprise).
func (s *Fake) Handles(host, path string) bool {
	return isSplunkCloudHost(host) || path == hecBase || strings.HasPrefix(path, hecBase+"/")
}

// CertNames returns wildcards for the Splunk Cloud stacks.
func (s *Fake) CertNames() []string { return []string{"*.splunkcloud.com", "*.splunkcloudgc.com"} }

// AcceptsGzip reports true: HEC documents Content-Encoding: gzip.
func (s *Fake) AcceptsGzip() bool { return true }

// HTTPSOnly reports whether host is Splunk Cloud's; Splunk Enterprise may
// serve HEC over plain http://.
func (s *Fake) HTTPSOnly(host string) bool { return isSplunkCloudHost(host) }

// ClearRequests forgets the accepted events, with the recorded requests.
func (s *Fake) ClearRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.splunkEvents = nil
}

// WriteError answers HEC's {"text","code"}: a body HEC cannot read is
// code 6 (Invalid data format); a status without a HEC code gets
// {"text"} alone.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusBadRequest {
		writeSplunk(w, hecInvalidDataFormat, -1)
		return
	}
	if msg == "" {
		msg = notifytest.StatusText(status)
		for _, c := range []int{hecServerBusy, hecInternalError, hecInvalidAuthorization, hecInvalidToken} {
			if hecCodes[c].status == status {
				msg = hecCodes[c].text
				break
			}
		}
	}
	for code, c := range hecCodes {
		if c.status == status && c.text == msg {
			writeSplunk(w, code, -1)
			return
		}
	}
	fakekit.WriteJSON(w, status, map[string]any{"text": msg})
}

func isSplunkCloudHost(host string) bool {
	return strings.HasSuffix(host, ".splunkcloud.com") || strings.HasSuffix(host, ".splunkcloudgc.com")
}

// ServeFake answers a HEC request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	if isSplunkWebHost(r.Host) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, splunkWebNotFound)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case hecBase + "/health", hecBase + "/health/1.0":
		if r.Method != http.MethodGet {
			fakekit.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"text": "Method not allowed"})
			return
		}
		writeSplunk(w, hecHealthy, -1)
		return
	case hecBase, hecBase + "/event", hecBase + "/event/1.0":
	default:
		fakekit.WriteJSON(w, http.StatusNotFound, map[string]any{"text": "The requested URL was not found on this server.", "code": http.StatusNotFound})
		return
	}
	if r.Method != http.MethodPost {
		fakekit.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"text": "Method not allowed"})
		return
	}
	if code := s.splunkAuth(r); code != hecSuccess {
		writeSplunk(w, code, -1)
		return
	}
	channel := r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" {
		channel = r.URL.Query().Get("channel")
	}
	if channel != "" && !fakekit.UUIDPattern.MatchString(channel) {
		writeSplunk(w, hecInvalidChannel, -1)
		return
	}
	s.mu.Lock()
	limit, indexes := s.splunkMaxBytes, s.splunkIndexes
	s.mu.Unlock()
	if limit > 0 && len(req.Body) > limit {
		fakekit.WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"text": "Content length exceeds max_content_length"})
		return
	}
	var accepted []Event
	code, n := hecSuccess, 0
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.UseNumber()
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			code = hecInvalidDataFormat
			break
		}
		ev, c := parseHECEnvelope(raw, indexes)
		if c != hecSuccess {
			code = c
			break
		}
		ev.Host, ev.Path = r.Host, r.URL.Path
		accepted = append(accepted, ev)
		n++
	}
	s.mu.Lock()
	s.splunkEvents = append(s.splunkEvents, accepted...)
	s.mu.Unlock()
	switch {
	case code != hecSuccess:
		writeSplunk(w, code, n)
	case n == 0:
		writeSplunk(w, hecNoData, -1)
	default:
		writeSplunk(w, hecSuccess, -1)
	}
}

// splunkAuth checks the token and returns the HEC code to answer.
func (s *Fake) splunkAuth(r *http.Request) int {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		if r.URL.Query().Get("token") != "" {
			return hecQueryAuthDisabled
		}
		return hecTokenRequired
	}
	scheme, rest, _ := strings.Cut(h, " ")
	var token string
	switch strings.ToLower(scheme) {
	case "splunk":
		token = strings.TrimSpace(rest)
	case "basic":
		_, token, _ = r.BasicAuth()
	default:
		return hecInvalidAuthorization
	}
	switch {
	case token == "":
		return hecInvalidAuthorization
	case !fakekit.UUIDPattern.MatchString(token):
		return hecInvalidToken
	}
	switch s.Server().Credential(notifytest.Splunk, token) {
	case notifytest.CredentialRevoked:
		return hecTokenDisabled
	case notifytest.CredentialUnknown:
		return hecInvalidToken
	}
	return hecSuccess
}

// parseHECEnvelope checks one envelope as HEC does and returns it with
// hecSuccess, or the code of its first problem.
func parseHECEnvelope(raw json.RawMessage, indexes map[string]bool) (Event, int) {
	env, err := fakekit.DecodeObject(raw)
	if err != nil {
		return Event{}, hecInvalidDataFormat
	}
	ev := Event{Raw: bytes.Clone(raw)}
	event, ok := env["event"]
	if !ok {
		return ev, hecEventRequired
	}
	if text, isString := event.(string); event == nil || isString && strings.TrimSpace(text) == "" {
		return ev, hecEventBlank
	}
	var parts struct {
		Event json.RawMessage `json:"event"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ev, hecInvalidDataFormat
	}
	ev.Event = parts.Event
	for key, dst := range map[string]*string{"host": &ev.EventHost, "source": &ev.Source, "sourcetype": &ev.Sourcetype, "index": &ev.Index} {
		if v, ok := env[key]; ok {
			s, isString := v.(string)
			if !isString {
				return ev, hecInvalidDataFormat
			}
			*dst = s
		}
	}
	if _, ok := env["index"]; ok && indexes != nil && !indexes[ev.Index] {
		return ev, hecIncorrectIndex
	}
	if t, ok := env["time"]; ok {
		switch v := t.(type) {
		case json.Number:
			ev.Time = v
		case string:
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return ev, hecInvalidDataFormat
			}
			ev.Time = json.Number(v)
		default:
			return ev, hecInvalidDataFormat
		}
	}
	if f, ok := env["fields"]; ok {
		fields, isObj := f.(map[string]any)
		if !isObj {
			return ev, hecIndexedFields
		}
		for _, v := range fields {
			if !flatField(v) {
				return ev, hecIndexedFields
			}
		}
		ev.Fields = fields
	}
	return ev, hecSuccess
}

// flatField reports whether an indexed field's value is a string or a list
// of strings, the only shapes HEC takes.
func flatField(v any) bool {
	switch x := v.(type) {
	case string:
		return true
	case []any:
		return !slices.ContainsFunc(x, func(e any) bool { _, ok := e.(string); return !ok })
	}
	return false
}
