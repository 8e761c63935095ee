package splunk

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/codedefender/integrations/notify"
)

// fakeHEC is an HTTP Event Collector on loopback that behaves as CONTRACTS
// §6 describes: it checks "Authorization: Splunk <token>" (codes 2, 3, 4,
// 1), refuses bodies over maxContentLength with 413, gunzips
// Content-Encoding: gzip, answers an empty body with code 5, decodes
// concatenated envelopes with json.Decoder (an array is code 6, a missing
// or blank event 12 or 13, an index not allowed 7, each with
// invalid-event-number), and accepts a request whole or not at all.
type fakeHEC struct {
	srv *httptest.Server

	mu               sync.Mutex
	tokens           map[string]bool // token -> enabled
	indexes          map[string]bool // indexes the tokens may write to
	maxContentLength int             // 413 above this many bytes on the wire; 0 for no limit
	countOnly        bool            // benchmarks: count envelopes, decode nothing
	answers          map[int]fakeAnswer
	onRequest        func()

	scratch   bytes.Buffer
	requests  []fakeRequest
	envelopes []gotEnvelope
	counted   int
}

// fakeAnswer replaces the normal processing of one request.
type fakeAnswer struct {
	status int
	header http.Header
	body   string
}

// fakeRequest is what the fake saw of one request.
type fakeRequest struct {
	path, encoding, contentType, channel string
	wireBytes, bodyBytes, events         int
	status                               int
}

// gotEnvelope is one decoded HEC envelope.
type gotEnvelope struct {
	Time       json.Number     `json:"time"`
	Host       *string         `json:"host"`
	Source     string          `json:"source"`
	Sourcetype string          `json:"sourcetype"`
	Index      *string         `json:"index"`
	Event      json.RawMessage `json:"event"`
}

const (
	testToken     = notify.Secret("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	disabledToken = notify.Secret("11111111-2222-3333-4444-555555555555")
)

// newFakeHEC starts a plain-http fake on loopback, closed with the test.
func newFakeHEC(t testing.TB) *fakeHEC {
	f := newFakeHECUnstarted()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func newFakeHECUnstarted() *fakeHEC {
	return &fakeHEC{
		tokens:  map[string]bool{testToken.Reveal(): true, disabledToken.Reveal(): false},
		indexes: map[string]bool{"security": true, "main": true},
	}
}

// url is the collector URL to configure.
func (f *fakeHEC) url() string { return f.srv.URL + collectorPath }

func (f *fakeHEC) snapshot() ([]fakeRequest, []gotEnvelope) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...), append([]gotEnvelope(nil), f.envelopes...)
}

func (f *fakeHEC) set(fn func(f *fakeHEC)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeHEC) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.onRequest != nil {
		f.onRequest()
	}
	req := fakeRequest{
		path: r.URL.Path, encoding: r.Header.Get("Content-Encoding"), contentType: r.Header.Get("Content-Type"),
		channel: r.Header.Get("X-Splunk-Request-Channel"), wireBytes: int(r.ContentLength),
	}
	status, body, extra := f.process(r, &req)
	req.status = status
	if a, ok := f.answers[len(f.requests)]; ok {
		status, body = a.status, a.body
		req.status = status
		for k, v := range a.header {
			w.Header()[k] = v
		}
		extra = nil
	}
	f.requests = append(f.requests, req)
	if status == http.StatusOK && extra != nil {
		f.envelopes = append(f.envelopes, extra...)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func hecBody(code int, text string) string {
	return fmt.Sprintf(`{"text":%q,"code":%d}`, text, code)
}

func hecEventError(code int, text string, n int) string {
	return fmt.Sprintf(`{"text":%q,"code":%d,"invalid-event-number":%d}`, text, code, n)
}

// process handles one request the way HEC does; it returns the status, the
// body and, on success, the decoded envelopes.
func (f *fakeHEC) process(r *http.Request, req *fakeRequest) (int, string, []gotEnvelope) {
	if r.URL.Path != eventPath && r.URL.Path != collectorPath {
		return http.StatusNotFound, `{"text":"The requested URL was not found on this server.","code":404}`, nil
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, hecBody(8, "Method not allowed"), nil
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return http.StatusUnauthorized, hecBody(2, "Token is required"), nil
	}
	token, ok := strings.CutPrefix(auth, "Splunk ")
	if !ok {
		return http.StatusUnauthorized, hecBody(3, "Invalid authorization"), nil
	}
	enabled, known := f.tokens[token]
	switch {
	case !known:
		return http.StatusForbidden, hecBody(4, "Invalid token"), nil
	case !enabled:
		return http.StatusForbidden, hecBody(1, "Token disabled"), nil
	}
	if f.maxContentLength > 0 && r.ContentLength > int64(f.maxContentLength) {
		return http.StatusRequestEntityTooLarge,
			fmt.Sprintf(`{"text":"Content-Length of %d too large (maximum is %d)"}`, r.ContentLength, f.maxContentLength), nil
	}
	var rd io.Reader = r.Body
	switch req.encoding {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return http.StatusBadRequest, hecBody(6, "Invalid data format"), nil
		}
		defer zr.Close()
		rd = zr
	default:
		return http.StatusUnsupportedMediaType, hecBody(6, "Invalid data format"), nil
	}
	// One buffer for every request, so that benchmarks measure the client.
	f.scratch.Reset()
	if _, err := f.scratch.ReadFrom(rd); err != nil {
		return http.StatusBadRequest, hecBody(6, "Invalid data format"), nil
	}
	data := f.scratch.Bytes()
	req.bodyBytes = len(data)
	if len(bytes.TrimSpace(data)) == 0 {
		return http.StatusBadRequest, hecBody(5, "No data"), nil
	}
	if f.countOnly {
		n := bytes.Count(data, []byte(`{"time":`))
		req.events = n
		f.counted += n
		return http.StatusOK, hecBody(0, "Success"), nil
	}
	var got []gotEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for i := 0; ; i++ {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return http.StatusBadRequest, hecEventError(6, "Invalid data format", i), nil
		}
		ev, has := raw["event"]
		if !has {
			return http.StatusBadRequest, hecEventError(12, "Event field is required", i), nil
		}
		if s := string(bytes.TrimSpace(ev)); s == "null" || s == `""` {
			return http.StatusBadRequest, hecEventError(13, "Event field cannot be blank", i), nil
		}
		var env gotEnvelope
		edec := json.NewDecoder(bytes.NewReader(mustJSON(raw)))
		edec.UseNumber()
		if err := edec.Decode(&env); err != nil {
			return http.StatusBadRequest, hecEventError(6, "Invalid data format", i), nil
		}
		if env.Index != nil && !f.indexes[*env.Index] {
			return http.StatusBadRequest, hecEventError(7, "Incorrect index", i), nil
		}
		got = append(got, env)
	}
	req.events = len(got)
	return http.StatusOK, hecBody(0, "Success"), got
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // test helper: a map of raw messages always marshals
	}
	return b
}

// decodeEvent decodes an envelope's event back into a notify.Event.
func decodeEvent(t testing.TB, raw json.RawMessage) notify.Event {
	t.Helper()
	var e notify.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("event does not decode: %v", err)
	}
	return e
}
