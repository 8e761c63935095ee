// Package validate holds what every destination's Config.Validate and
// FromJSON share: the field-error collector, the name and secret rules, and
// strict decoding of the console's JSON.
package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/strictjson"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Errors collects field errors while a Validate walks a config. The zero
// value is ready to use.
type Errors []notify.FieldError

// Add records that field is bad.
func (fe *Errors) Add(field, message string) {
	*fe = append(*fe, notify.FieldError{Field: field, Message: message})
}

// Addf records that field is bad, with a formatted message.
func (fe *Errors) Addf(field, format string, args ...any) {
	fe.Add(field, fmt.Sprintf(format, args...))
}

// Merge records every field of err (a *notify.ValidationError) under prefix, or err
// itself under prefix when it is another error.
func (fe *Errors) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var ve *notify.ValidationError
	if !errors.As(err, &ve) {
		fe.Add(prefix, err.Error())
		return
	}
	for _, f := range ve.Fields {
		name := f.Field
		if prefix != "" {
			name = prefix + "." + name
		}
		fe.Add(name, f.Message)
	}
}

// Err returns nil when nothing was recorded, else a *notify.ValidationError.
func (fe Errors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return &notify.ValidationError{Fields: append([]notify.FieldError(nil), fe...)}
}

// CheckName records a field error unless name is a valid integration name:
// 1-100 characters, no control characters.
func (fe *Errors) CheckName(field, name string) {
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		fe.Add(field, "is required")
	case n > notify.MaxNameLength:
		fe.Addf(field, "must be at most %d characters (it has %d)", notify.MaxNameLength, n)
	case !utf8.ValidString(name):
		fe.Add(field, "must be valid UTF-8")
	case text.HasControl(name):
		fe.Add(field, "must not contain control characters")
	}
}

// CheckSecret records a field error when a required secret is missing, when
// it still holds the [REDACTED] mask (a masked config sent back must never
// replace the real credential), or when it holds a line break or control
// character (it would break the header it is sent in).
func (fe *Errors) CheckSecret(field string, s notify.Secret, required bool) bool {
	switch {
	case s.IsZero():
		if required {
			fe.Add(field, "is required")
			return false
		}
	case s.IsMasked():
		fe.Add(field, "holds the "+notify.Redacted+" mask, not a credential: enter the real value again")
		return false
	case text.HasControl(s.Reveal()):
		fe.Add(field, "must not contain line breaks or control characters")
		return false
	}
	return true
}

// DecodeConfig decodes a destination's JSON config into v strictly: an
// unknown field, a value of the wrong JSON type, or trailing data is a
// *notify.ValidationError that names the field and never repeats a value.
func DecodeConfig(data []byte, v any) error {
	if err := strictjson.Decode(data, v); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return &notify.ValidationError{Fields: []notify.FieldError{{Field: se.Field, Message: se.Message}}}
		}
		return err
	}
	return nil
}

// FromJSON decodes a destination's JSON config strictly and builds its
// Notifier with newFn: every destination's FromJSON (its notify.Factory).
func FromJSON[C any, N notify.Notifier](raw json.RawMessage, newFn func(C, ...notify.Option) (N, error), opts ...notify.Option) (notify.Notifier, error) {
	var c C
	if err := DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	n, err := newFn(c, opts...)
	if err != nil {
		return nil, err
	}
	return n, nil
}
