package notifytest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
)

// TestPagerDutyResolve holds the fake to the Events API's dedup rules for
// a resolve: it resolves the open alert, a second resolve or one for a key
// never triggered is accepted and changes nothing, and PagerDutyOpen tells
// what is left open.
func TestPagerDutyResolve(t *testing.T) {
	srv := fakes.NewServer(t)
	const enqueue = "https://events.pagerduty.com/v2/enqueue"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	post := func(body string) answer {
		t.Helper()
		return send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, `{"routing_key":"`+pdKey+`",`+body+`}`)
	}
	a := post(`"event_action":"trigger","dedup_key":"evt-1","payload":{"summary":"s","source":"x","severity":"info"}`)
	require.Equal(t, http.StatusAccepted, a.status)
	require.Len(t, srv.PagerDutyOpen(), 1)

	a = post(`"event_action":"resolve"`)
	require.Equal(t, http.StatusBadRequest, a.status, "a resolve needs its dedup key")
	require.Contains(t, a.body, "'dedup_key' is missing or blank")
	require.Len(t, srv.PagerDutyOpen(), 1)

	for _, key := range []string{"evt-1", "evt-1", "never-opened"} {
		a = post(`"event_action":"resolve","dedup_key":"` + key + `"`)
		require.Equal(t, http.StatusAccepted, a.status)
		require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"`+key+`"}`, a.body)
	}
	require.Empty(t, srv.PagerDutyOpen())
	alerts := srv.PagerDutyAlerts()
	require.Len(t, alerts, 1, "a resolve opens nothing")
	require.Equal(t, "resolved", alerts[0].Status)
}
