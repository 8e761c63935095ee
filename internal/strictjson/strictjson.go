// Package strictjson decodes the console's JSON strictly: unknown fields,
// wrong JSON types and trailing data are errors that name the field and
// never repeat its value.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/codedefender/integrations/internal/text"
)

// Error is what Decode returns: the JSON path of the bad field ("config"
// for the whole object) and what is wrong with it. It never repeats a
// value, which may be a credential.
type Error struct {
	Field   string
	Message string
}

// Error formats the error as "field: message".
func (e *Error) Error() string { return e.Field + ": " + e.Message }

// Decode decodes data into v strictly: an unknown field, a value of the
// wrong JSON type, or trailing data is an *Error that names the field.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Field: "config", Message: "has data after the JSON object"}
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
		msg = "cannot be decoded: " + text.Truncate(err.Error(), 200)
	}
	return &Error{Field: field, Message: msg}
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
