// Package notifytest helps test code that uses the integrations library: a
// Recorder Notifier that records what it is sent and can be told to fail;
// Server, the loopback HTTPS core that the vendor fakes beside each
// destination (slack/slacktest, jira/jiratest, …) run in (NewServer,
// Client), for tests that keep production URLs; and AssertNoSecret, the check
// every destination's tests run on each error path so that no credential
// reaches an error or a log line.
package notifytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/codedefender/integrations/notify"
)

// Recorder is a Notifier for unit tests: it records every event it is sent
// and every Test call, and fails with the error it was told to. It is safe
// for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	events  []notify.Event
	tests   int
	sendErr error
	testErr error
}

var _ notify.Notifier = (*Recorder)(nil)

// NewRecorder returns a Recorder that accepts everything.
func NewRecorder() *Recorder { return &Recorder{} }

// FailSend makes every later Send return err (nil to succeed again).
func (r *Recorder) FailSend(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendErr = err
}

// FailTest makes every later Test return err (nil to succeed again).
func (r *Recorder) FailTest(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.testErr = err
}

// Validate always succeeds.
func (r *Recorder) Validate() error { return nil }

// Test counts the call and returns the error set by FailTest.
func (r *Recorder) Test(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tests++
	return r.testErr
}

// Send refuses an invalid event as every destination does, records a valid
// one, and returns the error set by FailSend, or a Receipt whose ID is the
// event's.
func (r *Recorder) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return notify.Receipt{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.sendErr != nil {
		return notify.Receipt{}, r.sendErr
	}
	return notify.Receipt{ID: e.ID}, nil
}

// Events returns a copy of the events sent so far, in order.
func (r *Recorder) Events() []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Event(nil), r.events...)
}

// Tests returns how many times Test was called.
func (r *Recorder) Tests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tests
}

// AssertNoSecret fails t if any secret appears in v: an error (its Error()
// and its %v, %+v and %#v forms), a string, a []byte, or anything else as
// printed by %+v. It looks for each secret as is, URL-escaped, and in
// base64 (as in a Basic auth header). It returns whether v was clean.
func AssertNoSecret(t testing.TB, v any, secrets ...notify.Secret) bool {
	t.Helper()
	var texts []string
	switch x := v.(type) {
	case nil:
		return true
	case error:
		texts = append(texts, x.Error(), fmt.Sprintf("%v", x), fmt.Sprintf("%+v", x), fmt.Sprintf("%#v", x))
	case string:
		texts = append(texts, x)
	case []byte:
		texts = append(texts, string(x))
	default:
		texts = append(texts, fmt.Sprintf("%+v", x), fmt.Sprintf("%#v", x))
	}
	clean := true
	for _, s := range secrets {
		for _, form := range secretForms(s.Reveal()) {
			for _, text := range texts {
				if strings.Contains(text, form) {
					t.Errorf("a secret (%d characters) appears in: %s", len(s.Reveal()), text)
					clean = false
				}
			}
		}
	}
	return clean
}

func secretForms(s string) []string {
	if len(s) < 4 {
		return nil
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s))}
	if u, err := url.Parse(s); err == nil && u.Host != "" && len(u.Path) > 8 {
		forms = append(forms, u.Path)
	}
	return forms
}

// LogBuffer is a concurrency-safe buffer for captured log output.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NewLogger returns a debug-level slog.Logger writing text lines into the
// returned buffer, to pass to notify.WithLogger and then check with
// AssertNoSecret.
func NewLogger() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// FieldsOf returns the JSON paths a *notify.ValidationError in err names,
// in order, or nil when err holds none: the assertion every Validate table
// makes.
func FieldsOf(err error) []string {
	var ve *notify.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	fields := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		fields[i] = f.Field
	}
	return fields
}
