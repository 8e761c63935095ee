package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/internal/sample"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which only the
		// GCS emulator imports: it lives as long as the process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// record is one JSON log line.
type record map[string]any

func records(t *testing.T, logs string) []record {
	t.Helper()
	var out []record
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "a log line that is not JSON: %s", sc.Text())
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

// byMessage returns the records with message msg, by integration name.
func byMessage(rs []record, msg string) map[string]record {
	out := map[string]record{}
	for _, r := range rs {
		if r["msg"] == msg {
			out[r["integration"].(string)] = r
		}
	}
	return out
}

func find(t *testing.T, rs []record, msg string) record {
	t.Helper()
	for _, r := range rs {
		if r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no %q record", msg)
	return nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// quickRetry backs off a millisecond, so that a test that retries does not
// wait the service's half second.
var quickRetry = notify.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}

// With no flags, the program sends a sample alert to the ten fakes.
func TestRunAgainstThePlayground(t *testing.T) {
	var logs bytes.Buffer
	require.NoError(t, run(ctx(t), nil, &logs))
	rs := records(t, logs.String())

	delivered := byMessage(rs, "delivered")
	require.Len(t, delivered, 10, logs.String())
	var types []string
	for name, r := range delivered {
		types = append(types, r["type"].(string))
		require.NotEmpty(t, r["receipt_id"], name)
		require.Equal(t, "INFO", r["level"])
	}
	require.ElementsMatch(t, integrations.Types(), types)
	done := find(t, rs, "fan-out done")
	require.EqualValues(t, 10, done["delivered"])
	require.EqualValues(t, 0, done["failed"])
}

// A temporary failure is retried and delivered; a permanent one fails
// that integration alone, is logged with its error, and fails the run.
func TestDeliverRetriesAndReports(t *testing.T) {
	pg, err := playground.Start()
	require.NoError(t, err)
	defer pg.Close()
	require.NoError(t, pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.PagerDuty, Status: http.StatusServiceUnavailable, Times: 2}))
	require.NoError(t, pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.Opsgenie, Status: http.StatusForbidden}))

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := sample.Alert(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	err = deliver(ctx(t), logger, pg.Integrations, e, quickRetry, pg.Options()...)
	require.EqualError(t, err, "1 of 10 integrations failed")
	notifytest.AssertNoSecret(t, logs.String(), pg.Secrets()...)

	rs := records(t, logs.String())
	delivered := byMessage(rs, "delivered")
	require.Len(t, delivered, 9)
	require.Equal(t, e.ID, delivered["On-call"]["receipt_id"], "PagerDuty answered its dedup_key")
	require.Len(t, pg.HTTP.RequestsTo(notifytest.PagerDuty), 3, "two 503s, then the delivery")
	require.Len(t, pg.HTTP.PagerDutyAlerts(), 1)

	failed := byMessage(rs, "delivery failed")
	require.Len(t, failed, 1)
	og := failed["Opsgenie SOC team"]
	require.Equal(t, "ERROR", og["level"])
	require.Equal(t, "opsgenie", og["type"])
	require.Equal(t, false, og["retryable"])
	require.Contains(t, og["error"], "gave up after 1 attempt (permanent error): opsgenie: send: status 403")
	require.Len(t, pg.HTTP.RequestsTo(notifytest.Opsgenie), 1, "a permanent error is not retried")

	// The library's own debug lines share the logger.
	require.NotEmpty(t, byMessage(rs, "notify: request"))
}

// The webhook skips an event type it is not configured for; that is no
// failure.
func TestDeliverSkips(t *testing.T) {
	pg, err := playground.Start()
	require.NoError(t, err)
	defer pg.Close()
	var logs bytes.Buffer
	e := sample.Alert(time.Now())
	e.Type = notify.EventIncident
	path := filepath.Join(t.TempDir(), "event.json")
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	got, err := readEvent(path)
	require.NoError(t, err)

	require.NoError(t, deliver(ctx(t), slog.New(slog.NewJSONHandler(&logs, nil)), pg.Integrations, got, quickRetry, pg.Options()...))
	rs := records(t, logs.String())
	require.Contains(t, byMessage(rs, "skipped: not configured for this event type"), "SIEM webhook")
	require.EqualValues(t, 1, find(t, rs, "fan-out done")["skipped"])
	require.Empty(t, pg.HTTP.RequestsTo(notifytest.Webhook))
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-colour"}, {"extra"}, {"-config", filepath.Join(t.TempDir(), "none.json")}} {
		var out bytes.Buffer
		require.Error(t, run(ctx(t), args, &out), "%v", args)
	}
	bad := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"id":"e1","type":"incident"}`), 0o600))
	var out bytes.Buffer
	require.ErrorContains(t, run(ctx(t), []string{"-event", bad}, &out), "title: is required")
}
