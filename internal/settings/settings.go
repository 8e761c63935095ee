// Package settings holds what the options given to a destination's New
// resolve to. notify.Option is a function over Settings, so callers set it
// only through the options notify and the destination packages export.
package settings

import (
	"log/slog"
	"net/http"
	"time"
)

// The defaults of the shared options.
const (
	DefaultTimeout   = 15 * time.Second
	DefaultUserAgent = "codedefender-integrations/1"
)

// Settings is what the options resolve to.
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

// Apply resolves opts over the defaults. A nil option is ignored.
func Apply[O ~func(*Settings)](opts ...O) Settings {
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

// Lookup returns the destination-specific setting of type T stored under
// key, and whether there was one.
func Lookup[T any](s Settings, key any) (T, bool) {
	v, ok := s.extras[key].(T)
	return v, ok
}
