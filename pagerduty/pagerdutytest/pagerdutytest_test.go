package pagerdutytest_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/pagerduty/pagerdutytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const pdKey = "0123456789abcdef0123456789abcdef"

var jsonCT = fakekit.JSONContent()

func TestPagerDuty(t *testing.T) {
	fake := pagerdutytest.New()
	srv := notifytest.NewServer(t, fake)
	enqueue := "https://events.pagerduty.com/v2/enqueue"
	event := func(fields string) string { return `{"routing_key":"` + pdKey + `",` + fields + `}` }

	// A trigger without a dedup key gets one generated.
	a := fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT,
		event(`"event_action":"trigger","payload":{"summary":"New script","source":"shop.example.com","severity":"error"}`))
	require.Equal(t, http.StatusAccepted, a.Status)
	m := fakekit.Decode(t, a.Body)
	require.Equal(t, "success", m["status"])
	require.Equal(t, "Event processed", m["message"])
	require.Regexp(t, `^[0-9a-f]{32}$`, m["dedup_key"])

	// The same dedup key updates the open alert; the EU host is the same API.
	for range 2 {
		a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://events.eu.pagerduty.com/v2/enqueue", jsonCT,
			event(`"event_action":"trigger","dedup_key":"evt-1","payload":{"summary":"s","source":"x","severity":"critical","timestamp":"2026-01-01T00:00:00Z"}`))
		require.Equal(t, http.StatusAccepted, a.Status)
		require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"evt-1"}`, a.Body)
	}
	// Test's probe: a resolve for an unknown key is accepted and opens nothing.
	a = fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"conn-test-1"`))
	require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"conn-test-1"}`, a.Body)
	alerts := fake.Alerts()
	require.Len(t, alerts, 2)
	require.Equal(t, pagerdutytest.Alert{DedupKey: "evt-1", Summary: "s", Source: "x", Severity: "critical",
		Status: "triggered", Triggers: 2}, alerts[1])
	fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"evt-1"`))
	require.Equal(t, "resolved", fake.Alerts()[1].Status)

	bad := []struct{ body, err string }{
		{`{"event_action":"resolve","dedup_key":"d"}`, "'routing_key' is missing or blank"},
		{`{"routing_key":"abc","event_action":"resolve","dedup_key":"d"}`, "Length of 'routing_key' is incorrect (should be 32 characters)"},
		{`{"routing_key":"0123456789abcdef0123456789abcde!","event_action":"resolve","dedup_key":"d"}`, "'routing_key' is invalid (must be alphanumeric)"},
		{event(`"event_action":"close","dedup_key":"d"`), "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"},
		{event(`"event_action":"resolve"`), "'dedup_key' is missing or blank"},
		{event(`"event_action":"acknowledge","dedup_key":"` + strings.Repeat("d", 256) + `"`), "'dedup_key' is too long (the maximum is 255 characters)"},
		{event(`"event_action":"trigger"`), "'payload' is missing or blank"},
		{event(`"event_action":"trigger","payload":{"source":"x","severity":"info"}`), "'payload.summary' is missing or blank"},
		{event(`"event_action":"trigger","payload":{"summary":"` + strings.Repeat("é", 1025) + `","source":"x","severity":"info"}`), "'payload.summary' is too long (the maximum is 1024 characters)"},
		{event(`"event_action":"trigger","payload":{"summary":"s","severity":"info"}`), "'payload.source' is missing or blank"},
		{event(`"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"high"}`), "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"},
		{event(`"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","timestamp":"yesterday"}`), "'payload.timestamp' is invalid (must be ISO 8601)"},
		{`[1]`, "Could not parse the request body as a JSON object"},
	}
	for _, b := range bad {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, b.body)
		require.Equal(t, http.StatusBadRequest, a.Status, b.body)
		require.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":[`+strconv.Quote(b.err)+`]}`, a.Body)
	}
	big := event(`"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","custom_details":{"d":"` +
		strings.Repeat("x", 512<<10) + `"}}`)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, big)
	require.Equal(t, http.StatusBadRequest, a.Status)

	srv.ExpectCredentials(notifytest.PagerDuty, "abcdefabcdefabcdefabcdefabcdefab")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"d"`))
	require.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`, a.Body)
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestGeneratedDedupKeysDiffer(t *testing.T) {
	fake := pagerdutytest.New()
	srv := notifytest.NewServer(t, fake)
	seen := map[string]bool{}
	for range 3 {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, "https://events.pagerduty.com/v2/enqueue", jsonCT,
			`{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"}}`)
		k := fakekit.Decode(t, a.Body)["dedup_key"].(string)
		require.Regexp(t, hex32, k)
		seen[k] = true
	}
	require.Len(t, seen, 3)
	require.Len(t, fake.Alerts(), 3)
}

// TestPagerDutyResolve holds the fake to the Events API's dedup rules for
// a resolve: it resolves the open alert, a second resolve or one for a key
// never triggered is accepted and changes nothing, and PagerDutyOpen tells
// what is left open.
func TestPagerDutyResolve(t *testing.T) {
	fake := pagerdutytest.New()
	srv := notifytest.NewServer(t, fake)
	const enqueue = "https://events.pagerduty.com/v2/enqueue"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	post := func(body string) fakekit.Answer {
		t.Helper()
		return fakekit.Send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, `{"routing_key":"`+pdKey+`",`+body+`}`)
	}
	a := post(`"event_action":"trigger","dedup_key":"evt-1","payload":{"summary":"s","source":"x","severity":"info"}`)
	require.Equal(t, http.StatusAccepted, a.Status)
	require.Len(t, fake.Open(), 1)

	a = post(`"event_action":"resolve"`)
	require.Equal(t, http.StatusBadRequest, a.Status, "a resolve needs its dedup key")
	require.Contains(t, a.Body, "'dedup_key' is missing or blank")
	require.Len(t, fake.Open(), 1)

	for _, key := range []string{"evt-1", "evt-1", "never-opened"} {
		a = post(`"event_action":"resolve","dedup_key":"` + key + `"`)
		require.Equal(t, http.StatusAccepted, a.Status)
		require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"`+key+`"}`, a.Body)
	}
	require.Empty(t, fake.Open())
	alerts := fake.Alerts()
	require.Len(t, alerts, 1, "a resolve opens nothing")
	require.Equal(t, "resolved", alerts[0].Status)
}
