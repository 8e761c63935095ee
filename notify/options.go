package notify

import (
	"log/slog"
	"net/http"
	"time"
)

// DefaultTimeout bounds each request when WithTimeout is not given.
const DefaultTimeout = 15 * time.Second

// DefaultUserAgent is sent when WithUserAgent is not given.
const DefaultUserAgent = "codedefender-integrations/1"

// Option configures a Notifier. The options here are shared by every
// destination's New; destination packages define their own Option values too
// (for example gcs.WithStorageClient), which go to the same New.
type Option func(*Settings)

// Settings is what the options resolve to. Destination packages read it in
// New through Apply; callers set it only through Options.
type Settings struct {
	// HTTPClient is the caller's client, or nil for the library's guarded
	// default.
	HTTPClient *http.Client
	// Logger receives debug lines about each request; it never sees a secret.
	Logger *slog.Logger
	// UserAgent is sent with every HTTP request.
	UserAgent string
	// Timeout bounds each request.
	Timeout time.Duration
	// AllowPrivateNetworks lifts the default client's refusal of loopback and
	// private addresses, and allows plain http:// to such addresses.
	AllowPrivateNetworks bool

	extras map[any]any
}

// Apply resolves opts over the defaults. A nil Option is ignored.
func Apply(opts ...Option) Settings {
	s := Settings{UserAgent: DefaultUserAgent, Timeout: DefaultTimeout}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// SetExtra stores a destination-specific setting under key. Destination
// packages use an unexported key type, as with context values.
func (s *Settings) SetExtra(key, value any) {
	if s.extras == nil {
		s.extras = make(map[any]any)
	}
	s.extras[key] = value
}

// Extra returns the destination-specific setting stored under key.
func (s Settings) Extra(key any) (any, bool) {
	v, ok := s.extras[key]
	return v, ok
}

// WithHTTPClient makes the notifier use c. The caller then owns transport,
// TLS and network policy: WithAllowPrivateNetworks changes nothing for it.
// Redirects are still never followed: the library uses a copy of c whose
// CheckRedirect refuses them.
func WithHTTPClient(c *http.Client) Option {
	return func(s *Settings) { s.HTTPClient = c }
}

// WithLogger sends the library's debug lines to l. Nothing it logs holds a
// secret.
func WithLogger(l *slog.Logger) Option {
	return func(s *Settings) { s.Logger = l }
}

// WithUserAgent sets the User-Agent of every HTTP request.
func WithUserAgent(ua string) Option {
	return func(s *Settings) {
		if ua != "" {
			s.UserAgent = StripCRLF(ua)
		}
	}
}

// WithTimeout bounds each request (connect, send and read the answer) to d.
// A d <= 0 keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(s *Settings) {
		if d > 0 {
			s.Timeout = d
		}
	}
}

// WithAllowPrivateNetworks lets the default client connect to loopback and
// private addresses (on-premises targets, tests), and allows plain http:// to
// them. Link-local, cloud-metadata, multicast and unspecified addresses stay
// refused. With WithHTTPClient it changes nothing.
func WithAllowPrivateNetworks() Option {
	return func(s *Settings) { s.AllowPrivateNetworks = true }
}
