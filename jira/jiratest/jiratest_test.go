package jiratest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	jiraEmail = "soc@example.com"
	jiraToken = "ATATT3xFfGF0exampletoken"
)

func TestJiraReads(t *testing.T) {
	fake := jiratest.New()
	srv := notifytest.NewServer(t, fake)
	site := "https://acme.atlassian.net"
	auth := fakekit.Basic(jiraEmail, jiraToken)

	a := fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/myself", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, "OK", a.Header.Get("X-Seraph-LoginReason"))
	me := fakekit.Decode(t, a.Body)
	require.Equal(t, jiraEmail, me["emailAddress"])
	require.Equal(t, "soc", me["displayName"])
	require.NotEmpty(t, me["accountId"])

	for _, ref := range []string{"10000", "SEC"} {
		a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/project/"+ref, auth, "")
		require.Equal(t, http.StatusOK, a.Status)
		p := fakekit.Decode(t, a.Body)
		require.Equal(t, "10000", p["id"])
		require.Equal(t, "SEC", p["key"])
	}
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/project/99", auth, "")
	require.Equal(t, http.StatusNotFound, a.Status)

	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	page := fakekit.Decode(t, a.Body)
	require.EqualValues(t, 3, page["total"])
	require.Len(t, page["issueTypes"], 3)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/SEC/issuetypes?startAt=1&maxResults=1", auth, "")
	page = fakekit.Decode(t, a.Body)
	require.EqualValues(t, 1, page["startAt"])
	require.Equal(t, "Bug", page["issueTypes"].([]any)[0].(map[string]any)["name"])

	fieldIDs := func(typeID string) (ids []string, priorities []string) {
		a := fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes/"+typeID, auth, "")
		require.Equal(t, http.StatusOK, a.Status)
		for _, f := range fakekit.Decode(t, a.Body)["fields"].([]any) {
			f := f.(map[string]any)
			ids = append(ids, f["fieldId"].(string))
			if f["fieldId"] == "priority" {
				for _, v := range f["allowedValues"].([]any) {
					priorities = append(priorities, v.(map[string]any)["name"].(string))
				}
			}
		}
		return ids, priorities
	}
	ids, priorities := fieldIDs("10001")
	require.Equal(t, []string{"summary", "issuetype", "project", "description", "labels", "priority", "reporter", "assignee"}, ids)
	require.Equal(t, []string{"Highest", "High", "Medium", "Low", "Lowest"}, priorities)
	ids, _ = fieldIDs("10003")
	require.Equal(t, []string{"summary", "issuetype", "project", "description"}, ids)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/SEC/issuetypes?startAt=2&maxResults=9223372036854775807", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Len(t, fakekit.Decode(t, a.Body)["issueTypes"], 1)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes/4242", auth, "")
	require.Equal(t, http.StatusNotFound, a.Status)

	// Through the API gateway, with a scoped token.
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.atlassian.com/ex/jira/0b6a/rest/api/2/project/SEC", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, "https://api.atlassian.com/ex/jira/0b6a/rest/api/2/project/10000", fakekit.Decode(t, a.Body)["self"])

	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/_edge/tenant_info", nil, "")
	require.Regexp(t, `^[0-9a-f-]{36}$`, fakekit.Decode(t, a.Body)["cloudId"])

	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/search?jql=project=SEC", auth, "")
	require.Equal(t, http.StatusGone, a.Status)
}

func TestJiraAuth(t *testing.T) {
	fake := jiratest.New()
	srv := notifytest.NewServer(t, fake)
	myself := "https://acme.atlassian.net/rest/api/2/myself"
	project := "https://acme.atlassian.net/rest/api/2/project/SEC"
	for _, h := range []map[string]string{nil, fakekit.Basic("not-an-email", jiraToken), fakekit.Basic(jiraEmail, ""),
		{"Authorization": "Bearer " + jiraToken}} {
		a := fakekit.Send(t, srv.Client(), http.MethodGet, myself, h, "")
		require.Equal(t, http.StatusUnauthorized, a.Status)
		require.JSONEq(t, `{"errorMessages":["Client must be authenticated to access this resource."],"errors":{}}`, a.Body)
	}
	srv.ExpectCredentials(notifytest.Jira, jiraEmail+":"+jiraToken)
	require.Equal(t, http.StatusOK, fakekit.Send(t, srv.Client(), http.MethodGet, myself, fakekit.Basic(jiraEmail, jiraToken), "").Status)
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodGet, myself, fakekit.Basic("other@example.com", jiraToken), "").Status,
		"an email:token credential ties the token to its account")
	srv.ExpectCredentials(notifytest.Jira, jiraToken)
	require.Equal(t, http.StatusOK, fakekit.Send(t, srv.Client(), http.MethodGet, myself, fakekit.Basic("other@example.com", jiraToken), "").Status)

	// The anonymous-browsing trap: 200 after failed auth, with the header.
	srv.RevokeCredentials(jiraToken)
	a := fakekit.Send(t, srv.Client(), http.MethodGet, project, fakekit.Basic(jiraEmail, jiraToken), "")
	require.Equal(t, http.StatusUnauthorized, a.Status)
	require.Equal(t, "AUTHENTICATED_FAILED", a.Header.Get("X-Seraph-LoginReason"))
	fake.SetAnonymousAccess(true)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, project, fakekit.Basic(jiraEmail, jiraToken), "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, "AUTHENTICATED_FAILED", a.Header.Get("X-Seraph-LoginReason"))
	a = fakekit.Send(t, srv.Client(), http.MethodGet, project, nil, "")
	require.Equal(t, http.StatusOK, a.Status, "anonymous browsing")
	require.Empty(t, a.Header.Get("X-Seraph-LoginReason"), "no login was attempted")
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodGet, myself, fakekit.Basic(jiraEmail, jiraToken), "").Status)
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodPost, "https://acme.atlassian.net/rest/api/2/issue",
		fakekit.Basic(jiraEmail, jiraToken), `{"fields":{}}`).Status)
}

func TestJiraCreateAndSearch(t *testing.T) {
	fake := jiratest.New()
	srv := notifytest.NewServer(t, fake)
	site := "https://acme.atlassian.net"
	auth := fakekit.Basic(jiraEmail, jiraToken)
	create := func(fields string) fakekit.Answer {
		return fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", auth, `{"fields":{`+fields+`}}`)
	}
	a := create(`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"New script","description":"d",
		"labels":["code-defender","cd-evt-1"],"priority":{"name":"High"}`)
	require.Equal(t, http.StatusCreated, a.Status)
	require.JSONEq(t, `{"id":"10000","key":"SEC-1","self":"https://acme.atlassian.net/rest/api/2/issue/10000"}`, a.Body)
	a = create(`"project":{"key":"SEC"},"issuetype":{"name":"Bug"},"summary":"Other","labels":["cd-evt-2"]`)
	require.JSONEq(t, `{"id":"10001","key":"SEC-2","self":"https://acme.atlassian.net/rest/api/2/issue/10001"}`, a.Body)

	issues := fake.Issues()
	require.Len(t, issues, 2)
	require.Equal(t, "High", issues[0].Priority)
	require.Equal(t, []string{"code-defender", "cd-evt-1"}, issues[0].Labels)
	require.Equal(t, "d", issues[0].Description)
	require.JSONEq(t, `{"name":"High"}`, string(issues[0].Fields["priority"]))

	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/SEC-1", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, "New script", fakekit.Decode(t, a.Body)["fields"].(map[string]any)["summary"])

	refused := []struct{ fields, errs string }{
		{`"issuetype":{"id":"10001"},"summary":"s"`, `{"project":"Specify a valid project ID or key"}`},
		{`"project":{"id":"99"},"issuetype":{"id":"10001"},"summary":"s"`, `{"project":"Specify a valid project ID or key"}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"1"},"summary":"s"`, `{"issuetype":"Specify a valid issue type"}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10001"}`, `{"summary":"You must specify a summary of the issue."}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"` + strings.Repeat("s", 255) + `"`,
			`{"summary":"Summary must be less than 255 characters."}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","labels":["severity high"]`,
			`{"labels":"The label 'severity high' contains spaces which is invalid."}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","priority":{"name":"Urgent"}`,
			`{"priority":"Specify a valid priority (id or name) from the project's priority scheme"}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","description":{"type":"doc"}`,
			`{"description":"Operation value must be a string"}`},
		{`"project":{"id":"10000"},"issuetype":{"id":"10003"},"summary":"s","labels":["x"],"priority":{"name":"High"}`,
			`{"labels":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown.",
			  "priority":"Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."}`},
	}
	for _, c := range refused {
		a := create(c.fields)
		require.Equal(t, http.StatusBadRequest, a.Status, c.fields)
		require.JSONEq(t, `{"errorMessages":[],"errors":`+c.errs+`}`, a.Body, c.fields)
	}
	// v3 wants an Atlassian document, not a string (Alertmanager #4585).
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue", auth,
		`{"fields":{"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","description":"plain"}}`)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Contains(t, a.Body, "Atlassian Document")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", map[string]string{"Authorization": auth["Authorization"]}, `{}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.Status)

	// A required custom field.
	fake.SetProjects(jiratest.Project{ID: "20000", Key: "OPS", Name: "Ops", IssueTypes: []jiratest.IssueType{
		{ID: "1", Name: "Alert", Fields: []string{"labels", "customfield_1"}, Required: []string{"customfield_1"}}}})
	a = create(`"project":{"id":"20000"},"issuetype":{"id":"1"},"summary":"s"`)
	require.JSONEq(t, `{"errorMessages":[],"errors":{"customfield_1":"customfield_1 is required."}}`, a.Body)
	a = create(`"project":{"id":"20000"},"issuetype":{"id":"1"},"summary":"s","customfield_1":"v","labels":["cd-evt-1"]`)
	require.JSONEq(t, `{"id":"10002","key":"OPS-1","self":"https://acme.atlassian.net/rest/api/2/issue/10002"}`, a.Body)
	fake.SetProjects(jiratest.DefaultProject())

	search := func(body string) (int, []string, map[string]any) {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/search/jql", auth, body)
		m := fakekit.Decode(t, a.Body)
		var keys []string
		if list, ok := m["issues"].([]any); ok {
			for _, is := range list {
				keys = append(keys, is.(map[string]any)["key"].(string))
			}
		}
		return a.Status, keys, m
	}
	status, keys, m := search(`{"jql":"project = SEC AND labels = \"cd-evt-1\" AND statusCategory != Done","fields":["summary"]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []string{"SEC-1"}, keys)
	require.Equal(t, true, m["isLast"])
	require.Equal(t, map[string]any{"summary": "New script"}, m["issues"].([]any)[0].(map[string]any)["fields"])
	_, keys, _ = search(`{"jql":"labels in (\"cd-evt-1\", 'cd-evt-2') ORDER BY created DESC"}`)
	require.Equal(t, []string{"OPS-1", "SEC-2", "SEC-1"}, keys)
	_, keys, _ = search(`{"jql":"project = 10000 and labels = cd-evt-9"}`)
	require.Empty(t, keys)
	_, keys, m = search(`{"jql":"labels is not EMPTY","maxResults":2}`)
	require.Equal(t, []string{"SEC-1", "SEC-2"}, keys)
	require.Equal(t, false, m["isLast"])
	_, keys, _ = search(`{"jql":"labels is not EMPTY","maxResults":2,"nextPageToken":"` + m["nextPageToken"].(string) + `"}`)
	require.Equal(t, []string{"OPS-1"}, keys)
	_, keys, _ = search(`{"jql":"labels is not EMPTY","maxResults":9223372036854775807,"nextPageToken":"1"}`)
	require.Equal(t, []string{"SEC-2", "OPS-1"}, keys)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/3/search/jql?jql=key%3DSEC-2&fields=labels", auth, "")
	require.Contains(t, a.Body, `"labels":["cd-evt-2"]`)

	for _, jql := range []string{"", "ORDER BY created", `labels = "a" OR labels = "b"`, "summary ~ x", "project = NOPE", `labels = "x`} {
		status, _, m := search(`{"jql":` + strconv.Quote(jql) + `}`)
		require.Equal(t, http.StatusBadRequest, status, jql)
		require.NotEmpty(t, m["errorMessages"], jql)
	}
}

func TestJiraCommentsAndTransitions(t *testing.T) {
	fake := jiratest.New()
	srv := notifytest.NewServer(t, fake)
	site := "https://acme.atlassian.net"
	auth := fakekit.Basic(jiraEmail, jiraToken)
	a := fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", auth,
		`{"fields":{"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","labels":["cd-evt-1"]}}`)
	require.Equal(t, http.StatusCreated, a.Status)

	// Comments: a string on v2, an Atlassian document on v3.
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-1/comment", auth, `{"body":"resolved"}`)
	require.Equal(t, http.StatusCreated, a.Status)
	require.Equal(t, "resolved", fakekit.Decode(t, a.Body)["body"])
	for _, c := range []struct{ url, body, errs string }{
		{site + "/rest/api/2/issue/SEC-1/comment", `{"body":" "}`, `{"comment":"Comment body can not be empty!"}`},
		{site + "/rest/api/2/issue/SEC-1/comment", `{}`, `{"comment":"Comment body can not be empty!"}`},
		{site + "/rest/api/3/issue/SEC-1/comment", `{"body":"a string"}`, `{"comment":"Comment body is not valid!"}`},
	} {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, c.url, auth, c.body)
		require.Equal(t, http.StatusBadRequest, a.Status, c.body)
		require.JSONEq(t, `{"errorMessages":[],"errors":`+c.errs+`}`, a.Body)
	}
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-9/comment", auth, `{"body":"x"}`)
	require.Equal(t, http.StatusNotFound, a.Status)
	require.JSONEq(t, `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`, a.Body)
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue/SEC-1/comment", nil, `{"body":"x"}`).Status)

	// Transitions: every one but the current status's, with its category.
	a = fakekit.Send(t, srv.Client(), http.MethodGet, site+"/rest/api/3/issue/SEC-1/transitions", auth, "")
	require.Equal(t, http.StatusOK, a.Status)
	ts := fakekit.Decode(t, a.Body)["transitions"].([]any)
	require.Len(t, ts, 2)
	done := ts[1].(map[string]any)
	require.Equal(t, "31", done["id"])
	require.Equal(t, "done", done["to"].(map[string]any)["statusCategory"].(map[string]any)["key"])

	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"99"}}`)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.JSONEq(t, `{"errorMessages":["Transition id '99' is not valid for this issue."],"errors":{}}`, a.Body)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"31"}}`)
	require.Equal(t, http.StatusNoContent, a.Status)

	is := fake.Issues()[0]
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
		a := fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/search/jql", auth, `{"jql":`+strconv.Quote(jql)+`}`)
		require.Equal(t, http.StatusOK, a.Status, a.Body)
		require.Len(t, fakekit.Decode(t, a.Body)["issues"], hits, jql)
	}
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"31"}}`)
	require.Equal(t, http.StatusBadRequest, a.Status, "no transition to the status the issue is in")

	// A transition whose screen requires a field.
	fake.SetWorkflow(jiratest.Transition{ID: "41", Name: "Close", To: "Closed", Category: "done", Required: []string{"resolution"}})
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth, `{"transition":{"id":"41"}}`)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.JSONEq(t, `{"errorMessages":[],"errors":{"resolution":"Resolution is required."}}`, a.Body)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue/SEC-1/transitions", auth,
		`{"transition":{"id":"41"},"fields":{"resolution":{"name":"Done"}}}`)
	require.Equal(t, http.StatusNoContent, a.Status)
	require.Equal(t, "Closed", fake.Issues()[0].Status)
}
