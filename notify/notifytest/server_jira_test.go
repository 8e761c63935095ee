package notifytest_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/jira/jiratest"
)

func TestJiraCommentsAndTransitions(t *testing.T) {
	srv := fakes.NewServer(t)
	site := "https://acme.atlassian.net"
	auth := basic(jiraEmail, jiraToken)
	a := send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", auth,
		`{"fields":{"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","labels":["cd-evt-1"]}}`)
	require.Equal(t, http.StatusCreated, a.status)

	// Comments: a string on v2, an Atlassian document on v3.
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-1/comment", auth, `{"body":"resolved"}`)
	require.Equal(t, http.StatusCreated, a.status)
	require.Equal(t, "resolved", decode(t, a.body)["body"])
	for _, c := range []struct{ url, body, errs string }{
		{site + "/rest/api/2/issue/SEC-1/comment", `{"body":" "}`, `{"comment":"Comment body can not be empty!"}`},
		{site + "/rest/api/2/issue/SEC-1/comment", `{}`, `{"comment":"Comment body can not be empty!"}`},
		{site + "/rest/api/3/issue/SEC-1/comment", `{"body":"a string"}`, `{"comment":"Comment body is not valid!"}`},
	} {
		a := send(t, srv.Client(), http.MethodPost, c.url, auth, c.body)
		require.Equal(t, http.StatusBadRequest, a.status, c.body)
		require.JSONEq(t, `{"errorMessages":[],"errors":`+c.errs+`}`, a.body)
	}
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-9/comment", auth, `{"body":"x"}`)
	require.Equal(t, http.StatusNotFound, a.status)
	require.JSONEq(t, `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`, a.body)
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-1/comment", nil, `{"body":"x"}`).status)

	// Transitions: every one but the current status's, with its category.
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/3/issue/SEC-1/transitions", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	ts := decode(t, a.body)["transitions"].([]any)
	require.Len(t, ts, 2)
	done := ts[1].(map[string]any)
	require.Equal(t, "31", done["id"])
	require.Equal(t, "done", done["to"].(map[string]any)["statusCategory"].(map[string]any)["key"])

	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"99"}}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.JSONEq(t, `{"errorMessages":["Transition id '99' is not valid for this issue."],"errors":{}}`, a.body)
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"31"}}`)
	require.Equal(t, http.StatusNoContent, a.status)

	is := srv.JiraIssues()[0]
	require.Equal(t, "Done", is.Status)
	require.Equal(t, "done", is.StatusCategory)
	require.Equal(t, []string{"resolved"}, is.Comments)

	// The dedup search no longer finds it, and JQL reads its status.
	for jql, hits := range map[string]int{
		`project = SEC AND labels = "cd-evt-1" AND statusCategory != "Done"`: 0,
		`project = SEC AND statusCategory = Done`:                            1,
		`project = SEC AND status = "Done" AND resolution is not EMPTY`:      1,
		`project = SEC AND resolution = Unresolved`:                          0,
	} {
		a := send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/search/jql", auth, `{"jql":`+strconv.Quote(jql)+`}`)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Len(t, decode(t, a.body)["issues"], hits, jql)
	}
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"31"}}`)
	require.Equal(t, http.StatusBadRequest, a.status, "no transition to the status the issue is in")

	// A transition whose screen requires a field.
	srv.SetJiraWorkflow(jiratest.Transition{ID: "41", Name: "Close", To: "Closed", Category: "done", Required: []string{"resolution"}})
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"41"}}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.JSONEq(t, `{"errorMessages":[],"errors":{"resolution":"Resolution is required."}}`, a.body)
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth,
		`{"transition":{"id":"41"},"fields":{"resolution":{"name":"Done"}}}`)
	require.Equal(t, http.StatusNoContent, a.status)
	require.Equal(t, "Closed", srv.JiraIssues()[0].Status)
}
