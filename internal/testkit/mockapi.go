package testkit

import (
	"io"
	"net/http"
	"sync"

	"github.com/jarcoal/httpmock"

	"github.com/codedefender/integrations/notify/notifytest"
)

// MockAPI is an httpmock transport that records every request it answers,
// for unit tests that assert the exact request a destination sends. Pass
// Client() to New with notify.WithHTTPClient; no global transport changes.
type MockAPI struct {
	*httpmock.MockTransport

	mu   sync.Mutex
	reqs []notifytest.RecordedRequest
}

// NewMockAPI returns a MockAPI with no responders: an unregistered request
// fails the Send, as an unknown endpoint would.
func NewMockAPI() *MockAPI { return &MockAPI{MockTransport: httpmock.NewMockTransport()} }

// Client returns an *http.Client that uses the mock.
func (m *MockAPI) Client() *http.Client { return &http.Client{Transport: m} }

// On answers method and url (as httpmock matches them: the full URL, query
// included when given) with status, body and header, recording each request.
func (m *MockAPI) On(method, url string, status int, body string, header http.Header) {
	m.RegisterResponder(method, url, func(r *http.Request) (*http.Response, error) {
		rec, err := m.record(r)
		if err != nil {
			return nil, err
		}
		resp := httpmock.NewStringResponse(status, body)
		for k, vs := range header {
			for _, v := range vs {
				resp.Header.Add(k, v)
			}
		}
		resp.Request = r
		rec.Status, rec.Response = status, []byte(body)
		m.mu.Lock()
		m.reqs = append(m.reqs, rec)
		m.mu.Unlock()
		return resp, nil
	})
}

func (m *MockAPI) record(r *http.Request) (notifytest.RecordedRequest, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return notifytest.RecordedRequest{}, err
		}
		body = b
	}
	return notifytest.RecordedRequest{
		Method:   r.Method,
		Scheme:   r.URL.Scheme,
		Host:     r.URL.Host,
		Path:     r.URL.Path,
		Query:    r.URL.Query(),
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	}, nil
}

// Requests returns a copy of the requests answered so far, in order.
func (m *MockAPI) Requests() []notifytest.RecordedRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notifytest.RecordedRequest(nil), m.reqs...)
}

// Calls returns how many requests method and url were answered, as
// httpmock counts them.
func (m *MockAPI) Calls(method, url string) int {
	return m.GetCallCountInfo()[method+" "+url]
}
