package datadog

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
)

const (
	incidentID  = "00000000-0000-0000-1234-000000000000"
	incidentURL = incidentsURL + "/" + incidentID
	// fixtureSearch is the search for testkit's events (evt-123).
	fixtureSearch = searchURL + "?page%5Bsize%5D=10&query=cd_event_id%3A%22evt-123%22"
	activeHit     = `{"data":{"type":"incidents_search_results","attributes":{"total":1,"incidents":[{"data":{"type":"incidents","id":"` +
		incidentID + `","attributes":{"public_id":42,"title":"New script on checkout","fields":{"state":{"type":"dropdown","value":"active"}}}}}]}}}`
	resolvedHit = `{"data":{"type":"incidents_search_results","attributes":{"total":1,"incidents":[{"data":{"type":"incidents","id":"` +
		incidentID + `","attributes":{"public_id":42,"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}]}}}`
	updatedBody = `{"data":{"type":"incidents","id":"` + incidentID + `","attributes":{"public_id":42,"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`
)

func TestResolveSetsTheIncidentResolved(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodGet, fixtureSearch, 200, activeHit, nil)
	h.On(http.MethodPatch, incidentURL, 200, updatedBody, nil)
	h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)

	r, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "42", URL: "https://app.datadoghq.eu/incidents/42"}, r)

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, http.MethodGet, reqs[0].Method)
	require.Equal(t, fixtureSearch, reqs[0].URL())
	require.Equal(t, http.MethodPatch, reqs[1].Method)
	require.Equal(t, incidentURL, reqs[1].URL())
	for _, r := range reqs {
		require.Equal(t, apiKey.Reveal(), r.Header.Get("DD-API-KEY"))
		require.Equal(t, appKey.Reveal(), r.Header.Get("DD-APPLICATION-KEY"))
		require.Equal(t, "application/json", r.Header.Get("Accept"))
	}
	require.Equal(t, "application/json", reqs[1].Header.Get("Content-Type"))
	testkit.JSONEq(t, `{"data":{"id":"`+incidentID+`","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`, reqs[1].Body)
	require.Zero(t, h.Calls(http.MethodPost, incidentsURL), "resolving opens nothing")
}

func TestResolveNothingOpen(t *testing.T) {
	for name, search := range map[string]string{"never opened": noIncidents, "resolved already": resolvedHit} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodGet, fixtureSearch, 200, search, nil)
			h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)
			for range 2 {
				r, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
				require.NoError(t, err)
				require.Equal(t, notify.Receipt{}, r)
			}
			require.Equal(t, 2, h.GetTotalCallCount(), "only the searches")
		})
	}
}

func TestResolveFailures(t *testing.T) {
	tests := []struct {
		name      string
		search    int
		patch     int
		kind      error
		retryable bool
		op        string
		hint      string
	}{
		{name: "no incident_read", search: 403, kind: notify.ErrForbidden, op: opSearch, hint: "incident_read"},
		{name: "search unavailable", search: 503, kind: notify.ErrUnavailable, retryable: true, op: opSearch},
		{name: "no incident_write", search: 200, patch: 403, kind: notify.ErrForbidden, op: opResolve, hint: "incident_write"},
		{name: "incident deleted", search: 200, patch: 404, kind: notify.ErrNotFound, op: opResolve, hint: "the incident is gone"},
		{name: "update rate limited", search: 200, patch: 429, kind: notify.ErrRateLimited, retryable: true, op: opResolve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodGet, fixtureSearch, tt.search, activeHit, nil)
			h.On(http.MethodPatch, incidentURL, tt.patch, `{"errors":["Forbidden"]}`, nil)
			_, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
			ne := requireKind(t, err, tt.kind, tt.retryable)
			require.Equal(t, tt.op, ne.Op)
			require.Contains(t, ne.Hint, tt.hint)
		})
	}
}

func TestSendReturnsTheEventsOpenIncident(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodGet, fixtureSearch, 200, activeHit, nil)
	h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)
	r, err := h.n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "42", URL: "https://app.datadoghq.eu/incidents/42"}, r)
	require.Zero(t, h.Calls(http.MethodPost, incidentsURL), "no second incident")

	t.Run("a resolved incident of the event is not reopened", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.On(http.MethodGet, fixtureSearch, 200, resolvedHit, nil)
		h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)
		_, err := h.n.Send(context.Background(), testkit.FullEvent())
		require.NoError(t, err)
		require.Equal(t, 1, h.Calls(http.MethodPost, incidentsURL))
	})
}

func TestSendSearchRefusedForGoodStillOpens(t *testing.T) {
	for _, status := range []int{400, 403, 404} {
		h := newHarness(t, validConfig())
		h.On(http.MethodGet, fixtureSearch, status, `{"errors":["Forbidden"]}`, nil)
		h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)
		r, err := h.n.Send(context.Background(), testkit.FullEvent())
		require.NoError(t, err, status)
		require.Equal(t, "42", r.ID)
		require.Contains(t, h.logs.String(), "the search for the event's incident failed")
	}
	h := newHarness(t, validConfig())
	h.On(http.MethodGet, fixtureSearch, 401, `{"errors":["Unauthorized"]}`, nil)
	h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)
	_, err := h.n.Send(context.Background(), testkit.FullEvent())
	requireKind(t, err, notify.ErrUnauthorized, false)
	require.Zero(t, h.Calls(http.MethodPost, incidentsURL))
}

// TestRetryAfterTimeoutOpensOneIncident: the first create reaches Datadog
// and opens the incident, but its answer comes after the client's deadline;
// the retry finds the incident by the event's id and opens no second one.
func TestRetryAfterTimeoutOpensOneIncident(t *testing.T) {
	api := testkit.NewMockAPI()
	n, err := New(validConfig(), notify.WithHTTPClient(api.Client()), notify.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)

	var (
		mu      sync.Mutex
		opened  []string // the event ids of the incidents Datadog holds
		creates int
	)
	api.RegisterResponder(http.MethodGet, searchURL, func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range opened {
			if r.URL.Query().Get("query") == `cd_event_id:"`+id+`"` {
				return newJSON(200, activeHit), nil
			}
		}
		return newJSON(200, noIncidents), nil
	})
	api.RegisterResponder(http.MethodPost, incidentsURL, func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		creates++
		first := creates == 1
		opened = append(opened, "evt-123") // created server-side, whatever happens to the answer
		mu.Unlock()
		if first {
			<-r.Context().Done() // the answer is held past the client's deadline
			return nil, r.Context().Err()
		}
		return newJSON(201, createdBody), nil
	})

	retry := notify.Retry(n, notify.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	r, err := retry.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "42", URL: "https://app.datadoghq.eu/incidents/42"}, r)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, creates, "exactly one incident opened")
}

func newJSON(status int, body string) *http.Response {
	resp := httpmock.NewStringResponse(status, body)
	resp.Header.Set("Content-Type", "application/json")
	return resp
}
