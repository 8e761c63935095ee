// Package sender is the HTTP plumbing every HTTP destination shares, and
// the one place where the library's errors and receipts are built: a
// destination fills a Request, says how to read its error answers
// (Request.Explain), and gets back a Response or a finished *notify.Error.
package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
)

// MaxResponseBytes is how much of a response body the library reads.
const MaxResponseBytes = 64 << 10

// maxDrainBytes is how much more is read and thrown away so the connection
// can be reused; a longer body costs the connection instead.
const maxDrainBytes = 256 << 10

// Sender builds JSON requests, bounds each one with the notifier's
// timeout, reads at most MaxResponseBytes of the answer and drains the rest
// so the connection is reused, refuses redirects, classifies the status
// with ClassifyStatus, reads Retry-After, and turns failures into
// *notify.Error values scrubbed of every secret the notifier holds.
type Sender struct {
	*Errors
	closing    Closing
	client     *http.Client
	userAgent  string
	timeout    time.Duration
	logger     *slog.Logger
	ownsClient bool
}

// New returns a Sender for the integration type (for example "slack") that
// scrubs the given secrets from everything it reports.
func New(integration string, s settings.Settings, secrets ...notify.Secret) *Sender {
	return &Sender{
		Errors:     NewErrors(integration, secrets...),
		client:     guard.NewHTTPClient(s),
		userAgent:  s.UserAgent,
		timeout:    s.Timeout,
		logger:     s.Logger,
		ownsClient: s.HTTPClient == nil,
	}
}

// Close closes the idle connections of the client the Sender made for
// itself (a client given with WithHTTPClient stays the caller's to
// manage) and refuses every later request with a permanent error: the
// Close contract of every HTTP destination. It may be called more than
// once.
func (s *Sender) Close() error {
	return s.closing.Close(func() error {
		if s.ownsClient {
			s.client.CloseIdleConnections()
		}
		return nil
	})
}

// Client returns the HTTP client the Sender uses (redirects refused).
func (s *Sender) Client() *http.Client { return s.client }

// Request is one HTTP request to a destination.
type Request struct {
	// Op names what is being done, for errors and logs: "send", "test: GET /myself".
	Op     string
	Method string
	URL    string
	Header http.Header
	// JSON, when not nil, is marshalled as the body and sent with
	// Content-Type: application/json.
	JSON any
	// Body is sent as is when JSON is nil.
	Body []byte
	// Explain reads the destination's error answer once and says what it
	// means; nil reads the message with DescribeBody and keeps the status
	// table's verdict. It is called only for a status other than 2xx and
	// 3xx.
	Explain func(r *Response) Explanation
	// NetworkHint, when set, may give the hint of a failure to reach the
	// destination (see Errors.NetworkHint); "" keeps the usual one.
	NetworkHint func(err error) string
}

// Response is a destination's answer, its body read up to MaxResponseBytes.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	// Truncated is set when the body was longer than MaxResponseBytes.
	Truncated bool
}

// DecodeJSON decodes the body into v.
func (r *Response) DecodeJSON(v any) error {
	if r.Truncated {
		return fmt.Errorf("the answer is larger than %d bytes", MaxResponseBytes)
	}
	return json.Unmarshal(r.Body, v)
}

// Do sends the request. On a 2xx it returns the response and nil. When the
// destination answered otherwise it returns the response too (so a
// destination can read what it needs) with the finished *notify.Error; when
// there was no answer the response is nil.
func (s *Sender) Do(ctx context.Context, r Request) (*Response, error) {
	if err := s.closing.Closed(s.Errors, r.Op); err != nil {
		return nil, err
	}
	body := r.Body
	if r.JSON != nil {
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, s.Errorf(r.Op, notify.ErrRejected, false, "cannot encode the request: %v", err)
		}
		body = b
	}
	if err := ctx.Err(); err != nil {
		// Some transports (a test double, a cache) would answer anyway.
		return nil, s.Network(ctx, r.Op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		// The parse error would repeat the URL, which may be a credential.
		return nil, s.Errorf(r.Op, notify.ErrRejected, false, "cannot build the %s request (bad URL or method)", r.Method)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v) // canonicalises a literal key such as "DD-API-KEY"
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", s.userAgent)
	}
	if r.JSON != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}

	start := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		e := s.NetworkHint(ctx, r.Op, err, r.NetworkHint)
		s.logger.DebugContext(ctx, "notify: request failed", "integration", s.integration, "op", r.Op,
			"method", r.Method, "host", s.Clean(req.URL.Host), "error", e.Error(), "duration", time.Since(start))
		return nil, e
	}
	out, readErr := readBody(resp)
	s.logger.DebugContext(ctx, "notify: request", "integration", s.integration, "op", r.Op,
		"method", r.Method, "host", s.Clean(req.URL.Host), "status", resp.StatusCode, "duration", time.Since(start))
	if readErr != nil {
		return nil, s.Network(ctx, r.Op, readErr)
	}
	if err := s.check(r, out); err != nil {
		return out, err
	}
	return out, nil
}

// check returns nil for a 2xx, else the finished error for the answer.
func (s *Sender) check(r Request, resp *Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return s.redirect(r.Op, resp)
	}
	var x Explanation
	if r.Explain != nil {
		x = r.Explain(resp)
	}
	if x.Message == "" {
		x.Message = DescribeBody(resp)
	}
	return s.Status(r.Op, resp.StatusCode, resp.Header, x)
}

func readBody(resp *http.Response) (*Response, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header}
	if err != nil {
		return nil, err
	}
	if len(b) > MaxResponseBytes {
		out.Truncated = true
		b = b[:MaxResponseBytes]
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
	}
	out.Body = b
	return out, nil
}

// Message returns an Explain that reads only the destination's message
// with describe, keeping the status table's verdict and hints.
func Message(describe func(*Response) string) func(*Response) Explanation {
	return func(r *Response) Explanation { return Explanation{Message: describe(r)} }
}
