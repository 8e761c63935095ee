package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the longest integration name the console accepts.
const MaxNameLength = 100

// CheckName records a field error unless name is a valid integration name:
// 1-100 characters, no control characters.
func (fe *FieldErrors) CheckName(field, name string) {
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		fe.Add(field, "is required")
	case n > MaxNameLength:
		fe.Addf(field, "must be at most %d characters (it has %d)", MaxNameLength, n)
	case !utf8.ValidString(name):
		fe.Add(field, "must be valid UTF-8")
	case HasControl(name):
		fe.Add(field, "must not contain control characters")
	}
}

// CheckSecret records a field error when a required secret is missing, when
// it still holds the [REDACTED] mask (a masked config sent back must never
// replace the real credential), or when it holds a line break or control
// character (it would break the header it is sent in).
func (fe *FieldErrors) CheckSecret(field string, s Secret, required bool) bool {
	switch {
	case s.IsZero():
		if required {
			fe.Add(field, "is required")
			return false
		}
	case s.IsMasked():
		fe.Add(field, "holds the "+Redacted+" mask, not a credential: enter the real value again")
		return false
	case HasControl(s.Reveal()):
		fe.Add(field, "must not contain line breaks or control characters")
		return false
	}
	return true
}

// DecodeConfig decodes a destination's JSON config into v strictly: an
// unknown field, a value of the wrong JSON type, or trailing data is an
// error (a *ValidationError) that names the field. The error never repeats
// a value, which may be a credential.
func DecodeConfig(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &ValidationError{Fields: []FieldError{{Field: "config", Message: "has data after the JSON object"}}}
	}
	return nil
}

func configDecodeError(err error) error {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	field, msg := "config", ""
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			field = typeErr.Field
		}
		msg = fmt.Sprintf("must be a JSON %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		msg = fmt.Sprintf("is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "is empty or cut short"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		field, msg = strings.Trim(name, `"`), "is not a known field"
	default:
		// Errors from a field's own UnmarshalJSON (Secret, Risk) carry no
		// value; anything else is summarised without the input.
		msg = "cannot be decoded: " + Truncate(err.Error(), 200)
	}
	return &ValidationError{Fields: []FieldError{{Field: field, Message: msg}}}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	default:
		return goKind
	}
}
