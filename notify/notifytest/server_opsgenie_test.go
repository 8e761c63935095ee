package notifytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
)

// TestOpsgenieClose holds the fake's Close Alert to what Opsgenie
// documents: the key, the identifierType, a JSON body within its limits, a
// 202 for every well-formed request (the request status says what it did),
// and the alert state that a test asserts "nothing open" on.
func TestOpsgenieClose(t *testing.T) {
	srv := fakes.NewServer(t)
	auth := map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "application/json"}
	open := func(alias, base string) {
		t.Helper()
		a := send(t, srv.Client(), http.MethodPost, base, auth, `{"message":"m","alias":"`+alias+`"}`)
		require.Equal(t, http.StatusAccepted, a.status)
	}
	closeURL := func(base, alias string) string { return base + "/" + alias + "/close?identifierType=alias" }
	status := func(a answer) string {
		t.Helper()
		id, _ := decode(t, a.body)["requestId"].(string)
		r := send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/"+id, auth, "")
		require.Equal(t, http.StatusOK, r.status)
		return decode(t, r.body)["data"].(map[string]any)["status"].(string)
	}
	const us = "https://api.opsgenie.com/v2/alerts"
	const jsm = "https://api.atlassian.com/jsm/ops/integration/v2/alerts"

	open("evt-1", us)
	open("evt-2", jsm)
	require.Len(t, srv.OpsgenieOpen(), 2)

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
			a := send(t, srv.Client(), http.MethodPost, c.url, c.header, c.body)
			require.Equal(t, c.status, a.status, a.body)
			m := decode(t, a.body)
			require.Contains(t, m["message"], c.msg)
			require.NotEmpty(t, m["requestId"], "Opsgenie's error body")
		})
	}
	require.Len(t, srv.OpsgenieOpen(), 2, "a refused close closes nothing")

	body := `{"source":"Code Defender","note":"Resolved in Code Defender."}`
	a := send(t, srv.Client(), http.MethodPost, closeURL(us, "evt-1"), auth, body)
	require.Equal(t, http.StatusAccepted, a.status)
	require.Equal(t, "Request will be processed", decode(t, a.body)["result"])
	require.Equal(t, "Closed alert", status(a))

	a = send(t, srv.Client(), http.MethodPost, closeURL(us, "evt-1"), auth, body)
	require.Equal(t, http.StatusAccepted, a.status, "closing again is accepted too")
	require.Equal(t, "Alert does not exist", status(a), "an alias names only an open alert")

	a = send(t, srv.Client(), http.MethodPost, closeURL(us, "never-opened"), auth, "")
	require.Equal(t, http.StatusAccepted, a.status, "the body is optional")
	require.Equal(t, "Alert does not exist", status(a))

	a = send(t, srv.Client(), http.MethodPost, closeURL(jsm, "evt-2"), auth, body)
	require.Equal(t, http.StatusAccepted, a.status, "the JSM Operations path")
	require.Empty(t, srv.OpsgenieOpen())

	alerts := srv.OpsgenieAlerts()
	require.Len(t, alerts, 2, "closing creates nothing")
	a = send(t, srv.Client(), http.MethodPost, us+"/"+alerts[0].ID+"/close?identifierType=id", auth, "")
	require.Equal(t, "Alert is already closed", status(a))
}
