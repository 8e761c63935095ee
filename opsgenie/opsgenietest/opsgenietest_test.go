package opsgenietest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/opsgenie/opsgenietest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ogKey = "5f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"

func TestOpsgenie(t *testing.T) {
	fake := opsgenietest.New()
	srv := notifytest.NewServer(t, fake)
	auth := map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "application/json"}

	a := fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts", auth,
		`{"message":"`+strings.Repeat("m", 140)+`","alias":"cd-evt-1","priority":"P2","tags":["cd"],
		  "details":{"risk":"high"},"responders":[{"type":"team","id":"t-1"}]}`)
	require.Equal(t, http.StatusAccepted, a.Status)
	m := fakekit.Decode(t, a.Body)
	require.Equal(t, "Request will be processed", m["result"])
	require.IsType(t, float64(0), m["took"])
	requestID, _ := m["requestId"].(string)
	require.Regexp(t, `^[0-9a-f-]{36}$`, requestID)

	alerts := fake.Alerts()
	require.Len(t, alerts, 1)
	require.Equal(t, strings.Repeat("m", 130), alerts[0].Message, "message truncated to 130")
	require.Equal(t, "P2", alerts[0].Priority)
	require.Equal(t, []map[string]string{{"type": "team", "id": "t-1"}}, alerts[0].Responders)
	require.Equal(t, map[string]string{"risk": "high"}, alerts[0].Details)

	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/"+requestID, auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	data := fakekit.Decode(t, a.Body)["data"].(map[string]any)
	require.Equal(t, true, data["isSuccess"])
	require.Equal(t, "Created alert", data["status"])
	require.Equal(t, alerts[0].ID, data["alertId"])
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/nope", auth, "")
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "RequestNotProcessed", a.Header.Get("X-Opsgenie-Errortype"))

	// Test's probe; the EU host and the JSM Ops URL are the same API.
	for _, u := range []string{"https://api.opsgenie.com/v2/alerts?limit=1", "https://api.eu.opsgenie.com/v2/alerts?limit=1",
		"https://api.atlassian.com/jsm/ops/integration/v2/alerts?limit=1"} {
		a = fakekit.Send(t, srv.Client(), http.MethodGet, u, auth, "")
		require.Equal(t, http.StatusOK, a.Status, u)
		list := fakekit.Decode(t, a.Body)["data"].([]any)
		require.Len(t, list, 1)
		require.Equal(t, "cd-evt-1", list[0].(map[string]any)["alias"])
	}

	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts/cd-evt-1/close?identifierType=alias", auth, `{}`)
	require.Equal(t, http.StatusAccepted, a.Status)
	require.Equal(t, "closed", fake.Alerts()[0].Status)

	refused := []struct {
		name, auth, body string
		status           int
		msg              string
	}{
		{"no key", "", `{"message":"m"}`, 401, "Could not authenticate"},
		{"bearer", "Bearer " + ogKey, `{"message":"m"}`, 401, "Could not authenticate"},
		{"malformed key", "GenieKey not-a-uuid", `{"message":"m"}`, 422, "Key format is not valid!"},
		{"no message", "GenieKey " + ogKey, `{"alias":"a"}`, 422, "Request body is not processable. Please check the errors."},
		{"bad priority", "GenieKey " + ogKey, `{"message":"m","priority":"P9"}`, 422, "Request body is not processable. Please check the errors."},
		{"bad responder", "GenieKey " + ogKey, `{"message":"m","responders":[{"type":"group","id":"x"}]}`, 422, "Request body is not processable. Please check the errors."},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			a := fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts",
				map[string]string{"Authorization": c.auth, "Content-Type": "application/json"}, c.body)
			require.Equal(t, c.status, a.Status)
			require.Equal(t, c.msg, fakekit.Decode(t, a.Body)["message"])
		})
	}
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts", auth, `{}`)
	require.Equal(t, map[string]any{"message": "Message can not be empty."}, fakekit.Decode(t, a.Body)["errors"])
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts",
		map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "text/plain"}, `{"message":"m"}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.Status)

	// The Team API: any UUID by default, else the teams set.
	team := "4513b7ea-3b91-438f-b7e4-e3e54af9147c"
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/"+team+"?identifierType=id", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, team, fakekit.Decode(t, a.Body)["data"].(map[string]any)["id"])
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/not-a-uuid", auth, "")
	require.Equal(t, http.StatusNotFound, a.Status)
	fake.SetTeams(opsgenietest.Team{ID: "aaaaaaaa-3b91-438f-b7e4-e3e54af9147c", Name: "SOC"})
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/"+team, auth, "")
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "No team exists with id ["+team+"]", fakekit.Decode(t, a.Body)["message"])
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/SOC?identifierType=name", auth, "")
	require.Equal(t, "aaaaaaaa-3b91-438f-b7e4-e3e54af9147c", fakekit.Decode(t, a.Body)["data"].(map[string]any)["id"])
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.atlassian.com/jsm/ops/integration/v2/teams/"+team, auth, "")
	require.Equal(t, http.StatusNotFound, a.Status, "JSM Operations has no Team API on the integration URL")

	srv.RevokeCredentials(ogKey)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts?limit=1", auth, "")
	require.Equal(t, http.StatusUnauthorized, a.Status)
}

// TestOpsgenieClose holds the fake's Close Alert to what Opsgenie
// documents: the key, the identifierType, a JSON body within its limits, a
// 202 for every well-formed request (the request status says what it did),
// and the alert state that a test asserts "nothing open" on.
func TestOpsgenieClose(t *testing.T) {
	fake := opsgenietest.New()
	srv := notifytest.NewServer(t, fake)
	auth := map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "application/json"}
	open := func(alias, base string) {
		t.Helper()
		a := fakekit.Send(t, srv.Client(), http.MethodPost, base, auth, `{"message":"m","alias":"`+alias+`"}`)
		require.Equal(t, http.StatusAccepted, a.Status)
	}
	closeURL := func(base, alias string) string { return base + "/" + alias + "/close?identifierType=alias" }
	status := func(a fakekit.Answer) string {
		t.Helper()
		id, _ := fakekit.Decode(t, a.Body)["requestId"].(string)
		r := fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/"+id, auth, "")
		require.Equal(t, http.StatusOK, r.Status)
		return fakekit.Decode(t, r.Body)["data"].(map[string]any)["status"].(string)
	}
	const us = "https://api.opsgenie.com/v2/alerts"
	const jsm = "https://api.atlassian.com/jsm/ops/integration/v2/alerts"

	open("evt-1", us)
	open("evt-2", jsm)
	require.Len(t, fake.Open(), 2)

	refused := []struct {
		name   string
		header map[string]string
		url    string
		body   string
		status int
		msg    string
	}{
		{"no key", map[string]string{"Content-Type": "application/json"}, closeURL(us, "evt-1"), `{}`, 401, "Could not authenticate"},
		{"bad identifierType", auth, us + "/evt-1/close?identifierType=name", `{}`, 422, "identifierType should be one of [id, tiny, alias]"},
		{"not JSON content", map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "text/plain"},
			closeURL(us, "evt-1"), `{"note":"n"}`, 415, "Content-Type must be application/json"},
		{"not a JSON object", auth, closeURL(us, "evt-1"), `[1]`, 400, ""},
		{"note too long", auth, closeURL(us, "evt-1"), `{"note":"` + strings.Repeat("n", 25001) + `"}`, 422,
			"Request body is not processable. Please check the errors."},
		{"source not a string", auth, closeURL(us, "evt-1"), `{"source":1}`, 422,
			"Request body is not processable. Please check the errors."},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			a := fakekit.Send(t, srv.Client(), http.MethodPost, c.url, c.header, c.body)
			require.Equal(t, c.status, a.Status, a.Body)
			m := fakekit.Decode(t, a.Body)
			require.Contains(t, m["message"], c.msg)
			require.NotEmpty(t, m["requestId"], "Opsgenie's error body")
		})
	}
	require.Len(t, fake.Open(), 2, "a refused close closes nothing")

	body := `{"source":"Code Defender","note":"Resolved in Code Defender."}`
	a := fakekit.Send(t, srv.Client(), http.MethodPost, closeURL(us, "evt-1"), auth, body)
	require.Equal(t, http.StatusAccepted, a.Status)
	require.Equal(t, "Request will be processed", fakekit.Decode(t, a.Body)["result"])
	require.Equal(t, "Closed alert", status(a))

	a = fakekit.Send(t, srv.Client(), http.MethodPost, closeURL(us, "evt-1"), auth, body)
	require.Equal(t, http.StatusAccepted, a.Status, "closing again is accepted too")
	require.Equal(t, "Alert does not exist", status(a), "an alias names only an open alert")

	a = fakekit.Send(t, srv.Client(), http.MethodPost, closeURL(us, "never-opened"), auth, "")
	require.Equal(t, http.StatusAccepted, a.Status, "the body is optional")
	require.Equal(t, "Alert does not exist", status(a))

	a = fakekit.Send(t, srv.Client(), http.MethodPost, closeURL(jsm, "evt-2"), auth, body)
	require.Equal(t, http.StatusAccepted, a.Status, "the JSM Operations path")
	require.Empty(t, fake.Open())

	alerts := fake.Alerts()
	require.Len(t, alerts, 2, "closing creates nothing")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, us+"/"+alerts[0].ID+"/close?identifierType=id", auth, "")
	require.Equal(t, "Alert is already closed", status(a))
}
