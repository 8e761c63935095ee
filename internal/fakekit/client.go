package fakekit

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Answer is what a fake answered one of a test's requests.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// Send makes one request through c and reads the whole answer, failing
// the test if the request cannot be made: the fakes' tests talk to them
// with it.
func Send(t testing.TB, c *http.Client, method, url string, header map[string]string, body string) Answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatalf("fakekit: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("fakekit: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("fakekit: %v", err)
	}
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// JSONContent is the header of a request with a JSON body.
func JSONContent() map[string]string { return map[string]string{"Content-Type": "application/json"} }

// Decode decodes an answer's JSON object, failing the test when it is not
// one.
func Decode(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("fakekit: the answer %q is not a JSON object: %v", body, err)
	}
	return m
}

// Gzip returns s compressed, for a request with Content-Encoding: gzip.
func Gzip(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatalf("fakekit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("fakekit: %v", err)
	}
	return b.String()
}

// Basic returns the headers of a JSON request with Basic auth.
func Basic(email, token string) map[string]string {
	return map[string]string{
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+token)),
		"Content-Type":  "application/json",
	}
}
