package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/strictjson"
)

// Factory builds a destination's Notifier from its JSON config. Every
// destination package exports one as FromJSON.
type Factory func(config json.RawMessage, opts ...Option) (Notifier, error)

// Integration is how the console stores one integration: its type name and
// its config as JSON.
type Integration struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// Registry maps integration type names to their factories. Register only the
// destinations you import; the root package of this module offers a Registry
// with all ten. The zero value is ready to use and safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// Register makes typ buildable. It returns an error when typ is empty,
// already registered, or f is nil.
func (r *Registry) Register(typ string, f Factory) error {
	if typ == "" || f == nil {
		return fmt.Errorf("notify: Register needs a type name and a factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.factories[typ]; dup {
		return fmt.Errorf("notify: integration type %q is already registered", typ)
	}
	if r.factories == nil {
		r.factories = make(map[string]Factory)
	}
	r.factories[typ] = f
	return nil
}

// Types returns the registered type names, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ts := make([]string, 0, len(r.factories))
	for t := range r.factories {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Build turns one stored integration, {"type": "slack", "config": {...}},
// into a Notifier. An unknown type, an unknown JSON field (in the envelope
// or the config) or a bad field is an error that names it.
func (r *Registry) Build(data []byte, opts ...Option) (Notifier, error) {
	var in Integration
	if err := strictjson.Decode(data, &in); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return nil, &ValidationError{Fields: []FieldError{{Field: se.Field, Message: se.Message}}}
		}
		return nil, err
	}
	return r.BuildIntegration(in, opts...)
}

// BuildIntegration builds a Notifier from an already decoded Integration.
func (r *Registry) BuildIntegration(in Integration, opts ...Option) (Notifier, error) {
	r.mu.RLock()
	f, ok := r.factories[in.Type]
	r.mu.RUnlock()
	if !ok {
		return nil, &ValidationError{Fields: []FieldError{{Field: "type",
			Message: fmt.Sprintf("unknown integration type %q (known: %s)", truncateForError(in.Type), strings.Join(r.Types(), ", "))}}}
	}
	if len(in.Config) == 0 {
		return nil, &ValidationError{Fields: []FieldError{{Field: "config", Message: "is required"}}}
	}
	if v, ok := settings.Apply(opts...).Extra(forTypeKey{in.Type}); ok {
		opts = append(append([]Option(nil), opts...), v.([]Option)...)
	}
	n, err := f(in.Config, opts...)
	if err != nil {
		// Field paths are relative to the config; here they sit under
		// "config" in the stored integration.
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w", in.Type, err)
		}
		fields := make([]FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = f
			if f.Field != "config" { // DecodeConfig's name for the whole object
				fields[i].Field = "config." + f.Field
			}
		}
		return nil, fmt.Errorf("%s: %w", in.Type, &ValidationError{Fields: fields})
	}
	return n, nil
}

// Named is implemented by every destination Notifier, and forwarded by
// Retry and RateLimit: the integration type ("slack") and its name in the
// console.
type Named interface {
	Type() string
	Name() string
}

type forTypeKey struct{ typ string }

// ForType returns an Option that passes opts only to the integrations of
// type typ that a Registry builds, after the options given to all: for
// example the fake's HTTP client for the HTTP destinations and an emulator's
// storage client for "gcs", in one call to Build or BuildAll. Outside a
// Registry it does nothing.
func ForType(typ string, opts ...Option) Option {
	return func(s *settings.Settings) {
		prev, _ := s.Extra(forTypeKey{typ})
		list, _ := prev.([]Option)
		s.SetExtra(forTypeKey{typ}, append(append([]Option(nil), list...), opts...))
	}
}
