// Package fakekit holds the small HTTP and JSON helpers the vendor fakes
// (slack/slacktest, jira/jiratest, …) and their notifytest core share, so
// that no fake keeps its own copy.
package fakekit

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// WriteJSON answers v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "notifytest: cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteText answers a plain-text body.
func WriteText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// NewUUID returns a random version-4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ErrNotObject is returned by DecodeObject for a body that is not a JSON
// object.
var ErrNotObject = errors.New("the body is not a JSON object")

// DecodeObject decodes a JSON object body into a map, keeping numbers as
// json.Number so lengths and types can be checked like the vendor does.
func DecodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrNotObject
	}
	return m, nil
}

// IsJSONContent reports whether the request says its body is JSON.
func IsJSONContent(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// Str returns m[k] when it is a string.
func Str(m map[string]any, k string) (string, bool) {
	s, ok := m[k].(string)
	return s, ok
}

// Obj returns m[k] when it is an object.
func Obj(m map[string]any, k string) (map[string]any, bool) {
	o, ok := m[k].(map[string]any)
	return o, ok
}

// NonNil returns s, or an empty slice for nil, so it encodes as [] and
// not null as the vendors answer.
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UUIDPattern is the shape of Opsgenie API keys, Splunk HEC tokens and
// HEC channels.
var UUIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
