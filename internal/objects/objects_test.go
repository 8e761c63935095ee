package objects_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/objects"
	"github.com/codedefender/integrations/notify"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func event(id string, t time.Time) notify.Event {
	return notify.Event{ID: id, Type: notify.EventIncident, Title: "t <b>&</b>", Risk: notify.RiskLow, Time: t}
}

func TestKeys(t *testing.T) {
	// 23:30 in UTC-5 is the next day in UTC: the key uses the UTC date.
	ny := time.FixedZone("UTC-5", -5*3600)
	e := event("evt-1", time.Date(2026, 3, 9, 23, 30, 0, 0, ny))
	require.Equal(t, "alerts/2026/03/10/evt-1.json", objects.EventKey("alerts", e, false))
	require.Equal(t, "2026/03/10/evt-1.json.gz", objects.EventKey("", e, true))

	early := event("b", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	late := event("a", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	sum := sha256.Sum256([]byte("a\nb\n"))
	want := "p/2026/01/01/batch-" + hex.EncodeToString(sum[:16]) + ".ndjson"
	require.Equal(t, want, objects.BatchKey("p", []notify.Event{late, early}, false))
	require.Equal(t, want, objects.BatchKey("p", []notify.Event{early, late}, false), "the order does not change the key")
	require.Equal(t, want+".gz", objects.BatchKey("p", []notify.Event{early, late}, true))
}

func TestResolvedEventIsItsOwnRecord(t *testing.T) {
	e := event("evt-1", time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC))
	r := e
	r.Status = notify.StatusResolved
	require.Equal(t, "alerts/2026/03/10/evt-1.json", objects.EventKey("alerts", e, false), "the open record stays where it was")
	require.Equal(t, "alerts/2026/03/10/evt-1-resolved.json", objects.EventKey("alerts", r, false))
	require.Equal(t, "2026/03/10/evt-1-resolved.json.gz", objects.EventKey("", r, true))

	// A batch of resolutions is not the batch of the events it resolves.
	sum := sha256.Sum256([]byte("evt-1-resolved\n"))
	require.Equal(t, "p/2026/03/10/batch-"+hex.EncodeToString(sum[:16])+".ndjson", objects.BatchKey("p", []notify.Event{r}, false))
	require.NotEqual(t, objects.BatchKey("p", []notify.Event{e}, false), objects.BatchKey("p", []notify.Event{r}, false))

	var body bytes.Buffer
	require.NoError(t, objects.WriteEvents(&body, []notify.Event{r}, false))
	require.JSONEq(t, `{"id":"evt-1","type":"incident","title":"t <b>&</b>","risk":"low","time":"2026-03-10T01:00:00Z","status":"resolved"}`, body.String())
}

func TestWriteEvents(t *testing.T) {
	events := []notify.Event{event("a", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), event("b", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))}
	var plain, zipped bytes.Buffer
	require.NoError(t, objects.WriteEvents(&plain, events, false))
	lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.JSONEq(t, `{"id":"a","type":"incident","title":"t <b>&</b>","risk":"low","time":"2026-01-01T00:00:00Z"}`, lines[0])
	require.Contains(t, lines[0], "<b>&</b>", "HTML is not escaped")

	require.NoError(t, objects.WriteEvents(&zipped, events, true))
	zr, err := gzip.NewReader(&zipped)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, plain.String(), string(unzipped))
}

func TestCheckBatch(t *testing.T) {
	good := event("a", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	bad := good
	bad.Title = ""
	err := objects.CheckBatch([]notify.Event{good, bad})
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("events[1].title"))
	require.NoError(t, objects.CheckBatch([]notify.Event{good}))
}

func TestPrefixProblem(t *testing.T) {
	for _, ok := range []string{"", "alerts", "cd/alerts", "a-b_c.d!*'()"} {
		require.Empty(t, objects.PrefixProblem(ok), ok)
	}
	for _, bad := range []string{"/alerts", "alerts/", "a//b", "a/../b", "a/./b", "a b", "é", strings.Repeat("a", objects.MaxPrefixBytes+1)} {
		require.NotEmpty(t, objects.PrefixProblem(bad), bad)
	}
}

func TestCompression(t *testing.T) {
	for _, ok := range []objects.Compression{"", objects.CompressionNone, objects.CompressionGzip} {
		require.Empty(t, ok.Problem(), ok)
	}
	require.Equal(t, `must be "none" or "gzip"`, objects.Compression("zstd").Problem())
	require.True(t, objects.CompressionGzip.Gzip())
	require.False(t, objects.CompressionNone.Gzip())
	require.False(t, objects.Compression("").Gzip())
}
