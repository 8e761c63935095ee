package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Input limits: far above any real file, low enough that a wrong path (a
// log file, a device) fails fast instead of filling the memory.
const (
	maxConfigBytes = 10 << 20
	maxEventBytes  = 1 << 20
)

// envKey is the one member of an environment reference, {"env": "NAME"}.
const envKey = "env"

// envName is what a reference may name: a portable environment variable
// name (POSIX: letters, digits and underscores, not starting with a digit).
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// entry is one integration of the file, before its references are
// resolved.
type entry struct {
	index  int
	typ    string
	name   string
	config map[string]any // numbers kept as json.Number
}

// path names a field of the entry in messages: [2].config.api_key.
func (e entry) path(field string) string {
	if field == "" {
		return fmt.Sprintf("[%d].config", e.index)
	}
	return fmt.Sprintf("[%d].config.%s", e.index, field)
}

// readConfig reads and parses the integrations file.
func readConfig(path string) ([]entry, error) {
	data, err := readLimited(path, nil, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	entries, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// parseConfig splits the file into entries and checks what the program
// needs of each: a type, a config object, a written-out name, and names
// that differ. What a config holds is left to the destination's decoding.
func parseConfig(data []byte) ([]entry, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf(`must be a JSON list of {"type", "config"} objects: %w`, jsonProblem(err))
	}
	var (
		entries []entry
		errs    validate.Errors
		seen    = map[string]int{}
	)
	for i, raw := range raws {
		var in struct {
			Type   json.RawMessage `json:"type"`
			Config json.RawMessage `json:"config"`
		}
		at := fmt.Sprintf("[%d]", i)
		if err := json.Unmarshal(raw, &in); err != nil {
			errs.Add(at, `must be a {"type", "config"} object`)
			continue
		}
		e := entry{index: i}
		if err := json.Unmarshal(in.Type, &e.typ); err != nil || e.typ == "" {
			errs.Add(at+".type", "must be an integration type such as \"slack\"")
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(in.Config))
		dec.UseNumber()
		if err := dec.Decode(&e.config); err != nil || e.config == nil {
			errs.Add(at+".config", "must be a JSON object")
			continue
		}
		switch name := e.config["name"].(type) {
		case string:
			e.name = name
		case nil:
			// The destination's Validate says that a name is required.
		default:
			errs.Add(e.path("name"), "must be written out as a string (not taken from the environment): --only and the results use it")
			continue
		}
		if j, dup := seen[e.name]; dup && e.name != "" {
			errs.Addf(e.path("name"), "%q is already the name of entry [%d]: names must differ", e.name, j)
			continue
		}
		seen[e.name] = i
		entries = append(entries, e)
	}
	if err := errs.Err(); err != nil {
		return nil, errors.New(fieldList(err))
	}
	if len(entries) == 0 {
		return nil, errors.New("holds no integration")
	}
	return entries, nil
}

// selectEntries keeps the entries named by only, in file order; all of them
// when only is empty. A name that matches none is a usage error that lists
// the names there are.
func selectEntries(entries []entry, only []string) ([]entry, error) {
	if len(only) == 0 {
		return entries, nil
	}
	var all []string
	for _, e := range entries {
		all = append(all, e.name)
	}
	for _, name := range only {
		if !slices.Contains(all, name) {
			sort.Strings(all)
			return nil, usageError{fmt.Sprintf("--only %q: no integration has that name (there are: %s)",
				text.Truncate(name, 100), quoteAll(all))}
		}
	}
	var out []entry
	for _, e := range entries {
		if slices.Contains(only, e.name) {
			out = append(out, e)
		}
	}
	return out, nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// resolve replaces every environment reference in the entry's config by
// the variable's value and returns the entry in the stored form,
// {"type", "config"}, ready for integrations.Build. Every problem is
// reported at once, by the field's path and the variable's name; a value
// never appears in an error.
func resolve(e entry, lookupEnv func(string) (string, bool)) ([]byte, error) {
	var errs validate.Errors
	config := resolveValue(e.config, "", e, lookupEnv, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"type": e.typ, "config": config})
}

func resolveValue(v any, field string, e entry, lookupEnv func(string) (string, bool), errs *validate.Errors) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, isRef := x[envKey]; isRef {
			return resolveRef(x, ref, field, e, lookupEnv, errs)
		}
		out := make(map[string]any, len(x))
		for k, sub := range x {
			out[k] = resolveValue(sub, join(field, k), e, lookupEnv, errs)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, sub := range x {
			out[i] = resolveValue(sub, fmt.Sprintf("%s[%d]", field, i), e, lookupEnv, errs)
		}
		return out
	}
	return v
}

// resolveRef looks up one reference. Any object holding "env" is taken as
// one, since no config has a field of that name: a malformed one is an
// error, not a value passed on.
func resolveRef(obj map[string]any, ref any, field string, e entry, lookupEnv func(string) (string, bool),
	errs *validate.Errors) any {
	name, ok := ref.(string)
	if len(obj) != 1 || !ok || !envName.MatchString(name) {
		errs.Add(e.path(field), `an environment reference is {"env": "NAME"} alone, NAME being a variable name such as PD_ROUTING_KEY`)
		return nil
	}
	value, set := lookupEnv(name)
	switch {
	case !set:
		errs.Addf(e.path(field), "environment variable %s is not set", name)
	case value == "":
		errs.Addf(e.path(field), "environment variable %s is empty", name)
	}
	return value
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// readEvent reads the event to send from a file, or from stdin for "-",
// strictly: an unknown field is an error, as a misspelt one would
// otherwise be dropped. The event must pass notify.Event.Validate.
func readEvent(path string, stdin io.Reader) (notify.Event, error) {
	data, err := readLimited(path, stdin, maxEventBytes)
	if err != nil {
		return notify.Event{}, err
	}
	var e notify.Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return notify.Event{}, fmt.Errorf("event %s: %w", path, jsonProblem(err))
	}
	if dec.More() {
		return notify.Event{}, fmt.Errorf("event %s: holds more than one JSON value: send one event at a time", path)
	}
	if err := e.Validate(); err != nil {
		return notify.Event{}, fmt.Errorf("event %s: %w", path, err)
	}
	return e, nil
}

// readLimited reads a file, or stdin for "-" when stdin is given, refusing
// one over limit bytes.
func readLimited(path string, stdin io.Reader, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" && stdin != nil {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err // *PathError: names the file and the reason
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// jsonProblem says where JSON failed to parse without quoting the input,
// which may hold a secret.
func jsonProblem(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("field %s has the wrong JSON type (a JSON %s)", typ.Field, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("a JSON %s is not what is expected here", typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON ends too early")
	}
	// The remaining decoder errors (unknown field, trailing data) name a
	// field or nothing of the input.
	return err
}
