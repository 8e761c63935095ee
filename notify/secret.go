package notify

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
)

// Redacted is what a Secret prints and marshals as.
const Redacted = "[REDACTED]"

// Secret holds a credential: a token, a password, a key, or a URL that is
// itself the credential. It prints as [REDACTED] with every fmt verb, in
// slog output and in json.Marshal; only Reveal gives the value.
//
// json.Unmarshal takes a plain string, so a Config decodes from the console's
// JSON as is. A Secret that holds the mask itself (a masked config sent back)
// fails its Config's Validate, so it can never replace a real credential.
type Secret string

// Reveal returns the credential. Call it only where the value is sent to the
// destination.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether no credential is set.
func (s Secret) IsZero() bool { return s == "" }

// IsMasked reports whether s holds the mask that MarshalJSON writes instead
// of a real credential.
func (s Secret) IsMasked() bool { return s == Redacted }

// String returns [REDACTED] (or "" when no credential is set).
func (s Secret) String() string { return s.mask() }

// GoString returns the masked value, quoted, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.mask()) }

// Format prints the masked value for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.mask())
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.mask())
	default:
		fmt.Fprint(f, s.mask())
	}
}

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalJSON writes the mask, or "" when no credential is set, which is
// what a console shows.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.mask()) }

// MarshalText writes the mask, so a Secret used as a map key or in a text
// encoding is masked too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// UnmarshalJSON takes a plain JSON string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		// A type error lets encoding/json name the field; the value itself
		// is never repeated.
		return &json.UnmarshalTypeError{Value: jsonKindOf(b), Type: reflect.TypeFor[string]()}
	}
	*s = Secret(v)
	return nil
}

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// jsonKindOf names the kind of a JSON value from its first byte, as
// json.UnmarshalTypeError.Value does.
func jsonKindOf(b []byte) string {
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '{':
			return "object"
		case c == '[':
			return "array"
		case c == 't' || c == 'f':
			return "bool"
		case c == '"':
			return "string"
		default:
			return "number"
		}
	}
	return "value"
}
