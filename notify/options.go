package notify

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/text"
)

// DefaultTimeout bounds each request when WithTimeout is not given.
const DefaultTimeout = settings.DefaultTimeout

// DefaultUserAgent is sent when WithUserAgent is not given.
const DefaultUserAgent = settings.DefaultUserAgent

// Option configures a Notifier. The options here are shared by every
// destination's New; destination packages export their own Option values
// too (for example gcs.WithStorageClient), which go to the same New.
type Option func(*settings.Settings)

// WithHTTPClient makes the notifier use c. The caller then owns transport,
// TLS and network policy: WithAllowPrivateNetworks changes nothing for it.
// Redirects are still never followed: the library uses a copy of c whose
// CheckRedirect refuses them.
func WithHTTPClient(c *http.Client) Option {
	return func(s *settings.Settings) { s.HTTPClient = c }
}

// WithLogger sends the library's debug lines to l. Nothing it logs holds a
// secret.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings.Settings) { s.Logger = l }
}

// WithUserAgent sets the User-Agent of every HTTP request.
func WithUserAgent(ua string) Option {
	return func(s *settings.Settings) {
		if ua != "" {
			s.UserAgent = text.StripCRLF(ua)
		}
	}
}

// WithTimeout bounds each request (connect, send and read the answer) to d.
// A d <= 0 keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(s *settings.Settings) {
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
	return func(s *settings.Settings) { s.AllowPrivateNetworks = true }
}
