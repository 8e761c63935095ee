package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// MaxResponseBytes is how much of a response body the library reads.
const MaxResponseBytes = 64 << 10

// maxDrainBytes is how much more is read and thrown away so the connection
// can be reused; a longer body costs the connection instead.
const maxDrainBytes = 256 << 10

// maxMessageRunes bounds the destination's own message in an *Error.
const maxMessageRunes = 512

// NewTransport returns the guarded transport the default client uses: every
// dialled address goes through the network guard, the proxy is off (behind
// a proxy the guard would see only the proxy), TLS 1.2 is the minimum, and a
// plain http:// request may reach only a private or loopback address.
// tlsConfig may be nil; destinations with client certificates pass their own.
func NewTransport(allowPrivate bool, tlsConfig *tls.Config) http.RoundTripper {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.MinVersion < tls.VersionTLS12 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           guardedDialer(allowPrivate).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // each request is bounded by its context
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// Headers are bounded like bodies; no destination sends more.
		MaxResponseHeaderBytes: MaxResponseBytes,
	}
	return plaintextMarker{t}
}

// plaintextMarker tells the guarded dialer which connections carry plain
// http://, which may go only to private addresses.
type plaintextMarker struct{ *http.Transport }

func (p plaintextMarker) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		r = r.WithContext(context.WithValue(r.Context(), plaintextKey{}, true))
	}
	return p.Transport.RoundTrip(r)
}

// NewHTTPClient returns the client a notifier uses: a copy of the caller's
// client (WithHTTPClient) or the guarded default, in both cases with
// redirects refused so no credential travels to another host.
func NewHTTPClient(s Settings) *http.Client {
	var c http.Client
	if s.HTTPClient != nil {
		c = *s.HTTPClient
	} else {
		c.Transport = NewTransport(s.AllowPrivateNetworks, nil)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Sender is the HTTP plumbing every HTTP destination shares: it builds JSON
// requests, bounds each one with the notifier's timeout, reads at most
// MaxResponseBytes of the answer and drains the rest so the connection is
// reused, refuses redirects, classifies the status with ClassifyStatus, reads
// Retry-After, and turns failures into *Error values scrubbed of every
// secret the notifier holds.
type Sender struct {
	integration string
	client      *http.Client
	userAgent   string
	timeout     time.Duration
	logger      *slog.Logger
	scrub       *Scrubber
	now         func() time.Time
	ownsClient  bool
}

// NewSender returns a Sender for the integration type (for example "slack")
// that scrubs the given secrets from everything it reports.
func NewSender(integration string, s Settings, secrets ...Secret) *Sender {
	return &Sender{
		integration: integration,
		client:      NewHTTPClient(s),
		userAgent:   s.UserAgent,
		timeout:     s.Timeout,
		logger:      s.Logger,
		scrub:       NewScrubber(secrets...),
		now:         time.Now,
		ownsClient:  s.HTTPClient == nil,
	}
}

// Close closes the idle connections of the client the Sender made for
// itself; a client given with WithHTTPClient stays the caller's to manage.
// The Sender still works afterwards, opening new connections.
func (s *Sender) Close() {
	if s.ownsClient {
		s.client.CloseIdleConnections()
	}
}

// Client returns the HTTP client the Sender uses (redirects refused).
func (s *Sender) Client() *http.Client { return s.client }

// Scrubber returns the scrubber of the notifier's secrets.
func (s *Sender) Scrubber() *Scrubber { return s.scrub }

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
	// Describe, when set, pulls the destination's own message out of an
	// error response; by default a JSON "message", "error", "errors" or
	// "text" field, an HTML page's title, or the body's first line.
	Describe func(r *Response) string
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
// destination can read its own error codes) with an *Error; when there was
// no answer the response is nil.
func (s *Sender) Do(ctx context.Context, r Request) (*Response, error) {
	body := r.Body
	if r.JSON != nil {
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, s.Errorf(r.Op, ErrRejected, false, "cannot encode the request: %v", err)
		}
		body = b
	}
	if err := ctx.Err(); err != nil {
		// Some transports (a test double, a cache) would answer anyway.
		return nil, s.transportError(r.Op, ctx, err)
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
		return nil, s.Errorf(r.Op, ErrRejected, false, "cannot build the %s request (bad URL or method)", r.Method)
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
	// Building the log line's attributes costs allocations on every
	// request, so only when someone listens.
	debug := s.logger.Enabled(ctx, slog.LevelDebug)
	resp, err := s.client.Do(req)
	if err != nil {
		e := s.transportError(r.Op, ctx, err)
		if debug {
			s.logger.DebugContext(ctx, "notify: request failed", "integration", s.integration, "op", r.Op,
				"method", r.Method, "host", req.URL.Host, "error", e.Error(), "duration", time.Since(start))
		}
		return nil, e
	}
	out, readErr := readBody(resp)
	if debug {
		s.logger.DebugContext(ctx, "notify: request", "integration", s.integration, "op", r.Op,
			"method", r.Method, "host", req.URL.Host, "status", resp.StatusCode, "duration", time.Since(start))
	}
	if readErr != nil {
		return nil, s.transportError(r.Op, ctx, readErr)
	}
	if err := s.StatusError(r.Op, out, r.Describe); err != nil {
		return out, err
	}
	return out, nil
}

// StatusError returns nil for a 2xx response, else the *Error the status
// table gives, with the destination's message (read by describe, or the
// default) and Retry-After.
func (s *Sender) StatusError(op string, r *Response, describe func(*Response) string) error {
	kind, retryable := ClassifyStatus(r.StatusCode)
	if kind == nil {
		return nil
	}
	e := &Error{
		Integration: s.integration,
		Op:          op,
		StatusCode:  r.StatusCode,
		Retryable:   retryable,
		RetryAfter:  ParseRetryAfter(r.Header, s.now()),
		Kind:        kind,
	}
	if r.StatusCode >= 300 && r.StatusCode <= 399 {
		e.Message = "redirect not followed"
		if loc, err := url.Parse(r.Header.Get("Location")); err == nil && loc.Host != "" {
			e.Message = "redirect to " + loc.Host + " not followed"
		}
		e.Hint = "the address has moved: configure the final URL"
		return e
	}
	if describe == nil {
		describe = DescribeBody
	}
	e.Message = s.Clean(describe(r))
	switch kind {
	case ErrUnauthorized:
		e.Hint = "check the credentials"
	case ErrForbidden:
		e.Hint = "the credentials lack a permission"
	case ErrRateLimited:
		e.Hint = "slow down and retry later"
	}
	return e
}

// Clean makes a destination's text fit for an error: secrets scrubbed,
// control characters folded, truncated.
func (s *Sender) Clean(text string) string {
	return CleanMessage(s.scrub, text)
}

// CleanMessage scrubs secrets from text, folds its white space and control
// characters, and truncates it, so it fits in an error message.
func CleanMessage(scrub *Scrubber, text string) string {
	text = scrub.Scrub(text)
	text = strings.Join(strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r < 0x20 || r == 0x7f
	}), " ")
	return Truncate(text, maxMessageRunes)
}

// Errorf returns an *Error of the given kind for the integration, its
// message formatted and scrubbed.
func (s *Sender) Errorf(op string, kind error, retryable bool, format string, args ...any) *Error {
	return &Error{
		Integration: s.integration,
		Op:          op,
		Kind:        kind,
		Retryable:   retryable,
		Message:     s.Clean(fmt.Sprintf(format, args...)),
	}
}

// BadAnswer is the error for a 2xx whose body is not what the destination
// documents: usually a proxy, or a URL that points somewhere else.
func (s *Sender) BadAnswer(op string, r *Response, err error) *Error {
	e := s.Errorf(op, ErrRejected, false,
		"the answer is not the expected JSON (%v); is the URL the destination's own?", err)
	e.StatusCode = r.StatusCode
	return e
}

// transportError classifies a failure to get an answer.
func (s *Sender) transportError(op string, ctx context.Context, err error) *Error {
	return NetworkError(s.integration, op, s.scrub, ctx, err)
}

// NetworkError turns a failure to reach a destination into an *Error: a
// guard refusal or an untrusted certificate is ErrRejected and permanent, a
// timeout or network failure is ErrUnavailable and retryable, a cancelled
// context is ErrUnavailable and not retryable. The message is scrubbed and
// never repeats the URL.
func NetworkError(integration, op string, scrub *Scrubber, ctx context.Context, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the URL, which may be a credential
	}
	e := &Error{Integration: integration, Op: op, Err: scrubbed{msg: CleanMessage(scrub, err.Error()), err: err}}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertError tls.AlertError
	)
	switch {
	case errors.Is(err, ErrBlockedAddress):
		e.Kind = ErrRejected
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verifyErr):
		e.Kind, e.Hint = ErrRejected, "the server's TLS certificate is not trusted"
	case errors.As(err, &recordErr), errors.Is(err, http.ErrSchemeMismatch):
		e.Kind, e.Hint = ErrRejected, "the server does not speak TLS on this port"
	case errors.As(err, &alertError), isRemoteTLSAlert(err):
		e.Kind, e.Hint = ErrRejected, "the server refused the TLS handshake"
		for _, clientCert := range []string{"certificate required", "bad certificate", "unknown certificate authority",
			"certificate unknown", "certificate expired", "certificate revoked"} {
			if strings.Contains(err.Error(), clientCert) {
				e.Hint = "the server wants a client certificate it trusts"
			}
		}
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up: whatever the transport made of it, that is final.
		e.Kind = ErrUnavailable
		if !errors.Is(err, context.Canceled) {
			e.Err = scrubbed{msg: e.Err.Error(), err: errors.Join(err, context.Canceled)}
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || deadlinePassed(ctx):
		// A connection deadline set to the context's can fire a moment
		// before the context's own timer: that is the same timeout.
		e.Kind, e.Retryable, e.Hint = ErrUnavailable, true, "timed out"
		if !errors.Is(err, context.DeadlineExceeded) {
			e.Err = scrubbed{msg: e.Err.Error(), err: errors.Join(err, context.DeadlineExceeded)}
		}
	default:
		var ne net.Error
		e.Kind, e.Retryable = ErrUnavailable, true
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			e.Hint = "timed out"
		case errors.Is(err, syscall.ECONNREFUSED):
			e.Hint = "nothing accepts connections there: check the host and port"
		case errors.As(err, new(*net.DNSError)):
			e.Hint = "the host name does not resolve: check it"
		}
	}
	return e
}

// isRemoteTLSAlert reports whether the server ended the TLS handshake with
// an alert. Over TCP crypto/tls reports that as a *net.OpError whose Op is
// "remote error" around an unexported type (tls.AlertError is QUIC's).
func isRemoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// scrubbed carries a cause whose message has been scrubbed of secrets while
// keeping it reachable for errors.Is and errors.As.
type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.err }

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

var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// DescribeBody is the default reading of an error body: the "message",
// "error", "errors" or "text" of a JSON body, an HTML page's title, or the
// text itself.
func DescribeBody(r *Response) string {
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return http.StatusText(r.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "text/html" || bytes.HasPrefix(body, []byte("<")) {
		if m := htmlTitle.FindSubmatch(body); m != nil {
			return "HTML page: " + strings.TrimSpace(string(m[1]))
		}
		return "an HTML page (" + http.StatusText(r.StatusCode) + ")"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		var parts []string
		for _, k := range []string{"message", "error", "errors", "errorMessages", "text"} {
			if v, ok := obj[k]; ok {
				if t := jsonText(v); t != "" {
					parts = append(parts, t)
				}
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return string(body)
}

// jsonText renders a JSON value as plain text: a string as is, a list of
// strings joined, anything else compact.
func jsonText(v json.RawMessage) string {
	switch string(bytes.TrimSpace(v)) {
	case "{}", "[]", `""`, "null":
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return strings.Join(list, "; ")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}
