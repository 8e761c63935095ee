package integrations

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/codedefender/integrations/internal/schema"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Merge returns the JSON to store when a user saves an integration that the
// console showed masked (see Mask): edited, with every secret that still
// holds the [REDACTED] mask replaced by the stored value at the same path.
// A secret the user typed in, or cleared, is kept as edited, and so is
// every other field (a renamed integration keeps all its secrets).
//
// Paths are struct fields and list indexes, except in a list of objects
// that have a "name" (webhook headers), where an item takes the secret of
// the stored item of the same name, compared without regard to case (the
// last one, when the stored list repeats a name, as the last one is what is
// sent). A masked secret with nothing stored behind it, or a type that is
// not the stored one, is a *notify.ValidationError naming the field
// ("config.headers[2].value", "type"); so is an unknown field of edited, as
// Build reports it. An error in stored itself is wrapped, naming stored.
//
// A masked secret is not restored when the edit changes where the secrets
// go (url, webhook_url or endpoint): whoever may edit an integration must
// not be able to send its stored credential to an address of their own.
// That is a *notify.ValidationError naming the secret too.
//
// Merge does not Validate: Build the result (or Test it) before storing it.
// Neither input is echoed in an error.
func Merge(stored, edited []byte) ([]byte, error) {
	typ, old, err := decode(stored)
	if err != nil {
		return nil, fmt.Errorf("integrations: the stored integration: %w", err)
	}
	in, err := decodeEnvelope(edited)
	if err != nil {
		return nil, err
	}
	if in.Type != typ {
		return nil, fieldError("type", fmt.Sprintf("cannot change from %q to %q: create a new integration of that type instead", typ, in.Type))
	}
	cfg, err := decodeConfig(in)
	if err != nil {
		return nil, err
	}
	var errs validate.Errors
	var restored []string
	restore(cfg, old, "config", &errs, &restored)
	if moved := changedEndpoint(cfg, old); moved != "" {
		for _, path := range restored {
			errs.Add(path, "holds the "+notify.Redacted+" mask, but config."+moved+
				" changed: enter the secret again, as the stored one is not sent to a new address")
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(reveal(cfg).Interface())
	if err != nil {
		return nil, fmt.Errorf("integrations: %s: %w", typ, err)
	}
	return json.Marshal(notify.Integration{Type: typ, Config: b})
}

var secretType = reflect.TypeFor[notify.Secret]()

// restore walks edited (addressable) beside stored (the zero Value where
// nothing is stored at this path) and puts the stored value into every
// masked secret of edited.
func restore(edited, stored reflect.Value, path string, errs *validate.Errors, restored *[]string) {
	if stored.IsValid() && stored.Kind() == reflect.Pointer {
		stored = stored.Elem() // the zero Value when nil
	}
	switch {
	case edited.Type() == secretType:
		if !edited.Interface().(notify.Secret).IsMasked() {
			return
		}
		if stored.IsValid() {
			if s := stored.Interface().(notify.Secret); !s.IsZero() && !s.IsMasked() {
				edited.Set(stored)
				*restored = append(*restored, path)
				return
			}
		}
		errs.Add(path, "holds the "+notify.Redacted+" mask, but no value is stored for it: enter the secret")
	case edited.Kind() == reflect.Pointer:
		if !edited.IsNil() {
			restore(edited.Elem(), stored, path, errs, restored)
		}
	case edited.Kind() == reflect.Struct:
		for i := range edited.NumField() {
			name, ok := schema.JSONName(edited.Type().Field(i))
			if !ok {
				continue
			}
			var s reflect.Value
			if stored.IsValid() {
				s = stored.Field(i)
			}
			restore(edited.Field(i), s, path+"."+name, errs, restored)
		}
	case edited.Kind() == reflect.Slice || edited.Kind() == reflect.Array:
		key := nameField(edited.Type().Elem())
		for i := range edited.Len() {
			restore(edited.Index(i), counterpart(edited.Index(i), stored, i, key), fmt.Sprintf("%s[%d]", path, i), errs, restored)
		}
	case edited.Kind() == reflect.Map:
		for _, k := range edited.MapKeys() {
			v := reflect.New(edited.Type().Elem()).Elem()
			v.Set(edited.MapIndex(k))
			var s reflect.Value
			if stored.IsValid() {
				s = stored.MapIndex(k)
			}
			restore(v, s, fmt.Sprintf("%s.%v", path, k), errs, restored)
			edited.SetMapIndex(k, v)
		}
	}
}

// endpointFields are the config fields that say where its secrets are sent.
var endpointFields = map[string]bool{"url": true, "webhook_url": true, "endpoint": true}

// changedEndpoint returns the JSON name of the endpoint field whose value
// edited changes from stored's, or "". A field that is itself a secret
// (Slack's webhook_url) is not an endpoint here: editing it replaces the
// secret.
func changedEndpoint(edited, stored reflect.Value) string {
	for edited.Kind() == reflect.Pointer {
		edited = edited.Elem()
	}
	for stored.Kind() == reflect.Pointer {
		stored = stored.Elem()
	}
	if edited.Kind() != reflect.Struct || stored.Kind() != reflect.Struct || edited.Type() != stored.Type() {
		return ""
	}
	for i := range edited.NumField() {
		name, ok := schema.JSONName(edited.Type().Field(i))
		f := edited.Field(i)
		if !ok || !endpointFields[name] || f.Type() == secretType || f.Kind() != reflect.String {
			continue
		}
		if f.String() != stored.Field(i).String() {
			return name
		}
	}
	return ""
}

// nameField returns the index of the string field named "name" in JSON of
// a list's item type, or -1: items with a name are matched by it.
func nameField(t reflect.Type) int {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return -1
	}
	for i := range t.NumField() {
		if name, ok := schema.JSONName(t.Field(i)); ok && name == "name" && t.Field(i).Type.Kind() == reflect.String {
			return i
		}
	}
	return -1
}

// counterpart returns the item of the stored list that item i of the edited
// list stands for: the last one with the same name (without regard to case)
// when items have a name field, the one at the same index otherwise.
func counterpart(item, stored reflect.Value, i, key int) reflect.Value {
	if !stored.IsValid() {
		return reflect.Value{}
	}
	if key < 0 {
		if i < stored.Len() {
			return stored.Index(i)
		}
		return reflect.Value{}
	}
	name := reflect.Indirect(item).Field(key).String()
	for j := stored.Len() - 1; j >= 0; j-- {
		s := reflect.Indirect(stored.Index(j))
		if s.IsValid() && strings.EqualFold(s.Field(key).String(), name) {
			return stored.Index(j)
		}
	}
	return reflect.Value{}
}

// revealed caches revealType.
var revealed sync.Map // reflect.Type → reflect.Type

// revealType returns t with every notify.Secret in it replaced by string,
// field names and JSON tags kept, so that encoding/json writes the same
// document with the secrets' values instead of the mask. Types without a
// secret are returned as they are, with their own methods.
func revealType(t reflect.Type) reflect.Type {
	if r, ok := revealed.Load(t); ok {
		return r.(reflect.Type)
	}
	r := t
	switch {
	case t == secretType:
		r = reflect.TypeFor[string]()
	case t.Kind() == reflect.Pointer:
		if e := revealType(t.Elem()); e != t.Elem() {
			r = reflect.PointerTo(e)
		}
	case t.Kind() == reflect.Slice:
		if e := revealType(t.Elem()); e != t.Elem() {
			r = reflect.SliceOf(e)
		}
	case t.Kind() == reflect.Array:
		if e := revealType(t.Elem()); e != t.Elem() {
			r = reflect.ArrayOf(t.Len(), e)
		}
	case t.Kind() == reflect.Map:
		if e := revealType(t.Elem()); e != t.Elem() {
			r = reflect.MapOf(t.Key(), e)
		}
	case t.Kind() == reflect.Struct:
		fields, changed := make([]reflect.StructField, 0, t.NumField()), false
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue // encoding/json writes none of them
			}
			ft := revealType(f.Type)
			changed = changed || ft != f.Type
			fields = append(fields, reflect.StructField{Name: f.Name, Type: ft, Tag: f.Tag, Anonymous: f.Anonymous})
		}
		if changed {
			r = reflect.StructOf(fields)
		}
	}
	revealed.Store(t, r)
	return r
}

// reveal returns v converted to revealType(v.Type()).
func reveal(v reflect.Value) reflect.Value {
	rt := revealType(v.Type())
	if rt == v.Type() {
		return v
	}
	switch v.Kind() {
	case reflect.String: // a Secret
		return v.Convert(rt)
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(rt)
		}
		p := reflect.New(rt.Elem())
		p.Elem().Set(reveal(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(rt)
		}
		out := reflect.MakeSlice(rt, v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(reveal(v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(rt).Elem()
		for i := range v.Len() {
			out.Index(i).Set(reveal(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(rt)
		}
		out := reflect.MakeMapWithSize(rt, v.Len())
		for _, k := range v.MapKeys() {
			out.SetMapIndex(k, reveal(v.MapIndex(k)))
		}
		return out
	default: // a struct: its exported fields, in order
		out := reflect.New(rt).Elem()
		j := 0
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			out.Field(j).Set(reveal(v.Field(i)))
			j++
		}
		return out
	}
}
