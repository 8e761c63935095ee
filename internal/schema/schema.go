// Package schema generates the JSON Schema (draft 2020-12) of an
// integration's config object from its Go Config type, with the console's
// field labels and help text. It does not import the destination packages:
// the caller passes the Config's reflect.Type and its integration type name,
// so that internal/testkit, which every destination's tests import, can use
// it without an import cycle.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/codedefender/integrations/notify"
)

// Field is what the console shows and pre-checks for one JSON path of a
// config: its label and help text, and the constraints JSON Schema can say.
// Zero values add nothing.
type Field struct {
	// Title is the console's label for the field.
	Title string
	// Description is the console's help text.
	Description string
	// Format is a JSON Schema format ("uri", "email", "uuid").
	Format string
	// Pattern is a regular expression the value must match. It is written in
	// the subset that ECMA-262 (with the u flag, as draft 2020-12 asks) and
	// Go's RE2 read alike: no look-around, no back-references.
	Pattern string
	// Enum lists the only values allowed, in the order a form offers them.
	Enum []string
	// MinLength and MaxLength bound a string, in characters.
	MinLength, MaxLength int
	// MinItems and MaxItems bound a list; UniqueItems forbids repeats.
	MinItems, MaxItems int
	UniqueItems        bool
	// Minimum and Maximum bound a number; nil means no bound.
	Minimum, Maximum *int
	// ContentMediaType says what a string holds ("application/json").
	ContentMediaType string
	// Default is what an empty or absent value means, for a form to show.
	Default any
}

// Type describes one integration type's config as a whole.
type Type struct {
	// Title and Description head the type's schema.
	Title, Description string
	// Fields are keyed by JSON path: "name", "smtp.host", "headers[].value".
	// A path ending in "[]" holds the rules of a list's items.
	Fields map[string]Field
}

// Types returns the integration type names the table describes, sorted.
func Types() []string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the console's description of one field of type typ.
func Lookup(typ, path string) (Field, bool) {
	f, ok := types[typ].Fields[path]
	return f, ok
}

var secretType = reflect.TypeFor[notify.Secret]()

// Generate returns the JSON Schema of the config object of integration type
// typ, whose Go type is t (a struct). Properties follow the struct's JSON
// tags: a field without omitempty is required, and unknown properties are
// refused (additionalProperties: false), as Build refuses unknown fields.
// A notify.Secret is a write-only password string: the console shows the
// mask for it and never reads it back, which is why no secret has a
// pattern (the mask would not match it).
func Generate(typ string, t reflect.Type) ([]byte, error) {
	desc, ok := types[typ]
	if !ok {
		return nil, fmt.Errorf("schema: unknown integration type %q", typ)
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema: %s config must be a struct, not %s", typ, t)
	}
	r := &jsonschema.Reflector{
		Anonymous:      true,
		DoNotReference: true,
		ExpandedStruct: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == secretType {
				return &jsonschema.Schema{Type: "string", Format: "password", WriteOnly: true}
			}
			return nil
		},
	}
	s := r.ReflectFromType(t)
	s.Definitions = nil
	s.Title, s.Description = desc.Title, desc.Description
	apply(s, "", desc.Fields)
	// Not json.MarshalIndent: patterns and help text keep their & and <
	// as they are, for a person reading the schema.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("schema: %s: %w", typ, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// apply sets the labels and rules of every property of s, whose properties
// sit at JSON paths starting with prefix.
func apply(s *jsonschema.Schema, prefix string, fields map[string]Field) {
	if s.Properties == nil {
		return
	}
	for p := s.Properties.Oldest(); p != nil; p = p.Next() {
		path := prefix + p.Key
		prop := p.Value
		if f, ok := fields[path]; ok {
			f.set(prop)
		}
		switch {
		case prop.Type == "object":
			apply(prop, path+".", fields)
		case prop.Type == "array" && prop.Items != nil:
			if f, ok := fields[path+"[]"]; ok {
				f.set(prop.Items)
			}
			apply(prop.Items, path+"[].", fields)
		}
	}
}

func (f Field) set(s *jsonschema.Schema) {
	s.Title, s.Description = f.Title, f.Description
	if f.Format != "" {
		s.Format = f.Format
	}
	s.Pattern = f.Pattern
	for _, v := range f.Enum {
		s.Enum = append(s.Enum, v)
	}
	s.MinLength, s.MaxLength = bound(f.MinLength), bound(f.MaxLength)
	s.MinItems, s.MaxItems = bound(f.MinItems), bound(f.MaxItems)
	s.UniqueItems = f.UniqueItems
	s.Minimum, s.Maximum = number(f.Minimum), number(f.Maximum)
	s.ContentMediaType = f.ContentMediaType
	s.Default = f.Default
}

func bound(n int) *uint64 {
	if n <= 0 {
		return nil
	}
	u := uint64(n)
	return &u
}

func number(n *int) json.Number {
	if n == nil {
		return ""
	}
	return json.Number(strconv.Itoa(*n))
}

// Paths returns the JSON path of every field of the struct type t, as the
// table keys them: "name", "smtp.host", "headers", "headers[].name".
// Unexported fields and fields tagged json:"-" are left out, as
// encoding/json leaves them out.
func Paths(t reflect.Type) []string {
	var out []string
	for _, p := range fieldPaths(t) {
		out = append(out, p.path)
	}
	return out
}

type fieldPath struct {
	path string
	list bool
}

func fieldPaths(t reflect.Type) []fieldPath {
	var out []fieldPath
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := JSONName(f)
			if !ok {
				continue
			}
			path := prefix + name
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			list := ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array
			out = append(out, fieldPath{path, list})
			if list {
				walk(ft.Elem(), path+"[].")
			} else {
				walk(ft, path+".")
			}
		}
	}
	walk(t, "")
	return out
}

// JSONName returns the name encoding/json gives a struct field, and false
// when encoding/json leaves the field out.
func JSONName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

// Check reports the fields of t (the Config of type typ) that have no label
// or no help text, and the table entries that name no field of t, so that a
// field added to a Config cannot reach the console unlabelled.
func Check(typ string, t reflect.Type) error {
	desc, ok := types[typ]
	if !ok {
		return fmt.Errorf("schema: unknown integration type %q", typ)
	}
	var problems []string
	lists := map[string]bool{}
	for _, p := range fieldPaths(t) {
		lists[p.path] = p.list
		f, ok := desc.Fields[p.path]
		switch {
		case !ok:
			problems = append(problems, p.path+" has no entry")
		case f.Title == "" || f.Description == "":
			problems = append(problems, p.path+" needs a title and a description")
		}
	}
	for p := range desc.Fields {
		field, items := strings.CutSuffix(p, "[]")
		if list, ok := lists[field]; !ok || (items && !list) {
			problems = append(problems, p+" names no field of "+t.String())
		}
	}
	if desc.Title == "" || desc.Description == "" {
		problems = append(problems, "the type needs a title and a description")
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("schema: %s: %s", typ, strings.Join(problems, "; "))
	}
	return nil
}
