package notifytest

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
	writeJSON(w, c.status, body)
}

// SplunkEvent is one event envelope the Splunk fake accepted.
type SplunkEvent struct {
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

// SplunkEvents returns a copy of the events the Splunk fake accepted, one
// per envelope, in order.
func (s *Server) SplunkEvents() []SplunkEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SplunkEvent, len(s.splunkEvents))
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

// SetSplunkIndexes limits the indexes events may name to the given ones,
// as a token's allowed-index list does (an event naming another gets code
// 7, Incorrect index). With none, any index is allowed.
func (s *Server) SetSplunkIndexes(indexes ...string) {
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

// SetSplunkMaxContentLength makes the Splunk fake answer 413 to a body
// longer than n bytes (after gzip), as Splunk's max_content_length does; 0
// removes the limit. Splunk Cloud's own limit is not documented
// (CONTRACTS §6), so by default there is none.
func (s *Server) SetSplunkMaxContentLength(n int) {
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

// serveSplunk is the Splunk HEC fake (see Destination).
func (s *Server) serveSplunk(w http.ResponseWriter, req *fakeRequest) {
	r := req.r
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
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"text": "Method not allowed"})
			return
		}
		writeSplunk(w, hecHealthy, -1)
		return
	case hecBase, hecBase + "/event", hecBase + "/event/1.0":
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"text": "The requested URL was not found on this server.", "code": http.StatusNotFound})
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"text": "Method not allowed"})
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
	if channel != "" && !uuidPattern.MatchString(channel) {
		writeSplunk(w, hecInvalidChannel, -1)
		return
	}
	s.mu.Lock()
	limit, indexes := s.splunkMaxBytes, s.splunkIndexes
	s.mu.Unlock()
	if limit > 0 && len(req.body) > limit {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"text": "Content length exceeds max_content_length"})
		return
	}
	var accepted []SplunkEvent
	code, n := hecSuccess, 0
	dec := json.NewDecoder(bytes.NewReader(req.body))
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
func (s *Server) splunkAuth(r *http.Request) int {
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
	case !uuidPattern.MatchString(token):
		return hecInvalidToken
	}
	switch s.checkCredential(Splunk, token) {
	case credRevoked:
		return hecTokenDisabled
	case credUnknown:
		return hecInvalidToken
	}
	return hecSuccess
}

// parseHECEnvelope checks one envelope as HEC does and returns it with
// hecSuccess, or the code of its first problem.
func parseHECEnvelope(raw json.RawMessage, indexes map[string]bool) (SplunkEvent, int) {
	env, err := decodeObject(raw)
	if err != nil {
		return SplunkEvent{}, hecInvalidDataFormat
	}
	ev := SplunkEvent{Raw: bytes.Clone(raw)}
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
