package notifytest_test

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/opsgenie/opsgenietest"
	"github.com/codedefender/integrations/pagerduty/pagerdutytest"
)

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), body)
	return m
}

func TestSlack(t *testing.T) {
	srv := fakes.NewServer(t)
	cases := []struct {
		name, url, contentType, body string
		status                       int
		answer                       string
	}{
		{"message", slackHook, "application/json", `{"text":"New script on shop.example.com"}`, 200, "ok"},
		{"form payload", slackHook, "application/x-www-form-urlencoded", `payload=%7B%22text%22%3A%22hi%22%7D`, 200, "ok"},
		{"long text is truncated by Slack, not refused", slackHook, "application/json",
			`{"text":"` + strings.Repeat("a", 40001) + `"}`, 200, "ok"},
		{"test probe: empty text", slackHook, "application/json", `{"text":""}`, 400, "no_text"},
		{"no text", slackHook, "application/json", `{"blocks":[]}`, 400, "no_text"},
		{"not JSON", slackHook, "application/json", `{"text":`, 400, "invalid_payload"},
		{"text not a string", slackHook, "application/json", `{"text":3}`, 400, "invalid_payload"},
		{"too many blocks", slackHook, "application/json",
			`{"text":"t","blocks":[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]}`, 400, "invalid_blocks"},
		{"header too long", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`, 400, "invalid_blocks"},
		{"section too long", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3001) + `"}}]}`, 400, "invalid_blocks"},
		{"blocks at the limits", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 150) +
				`"}},{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3000) + `"}}]}`, 200, "ok"},
		{"not a hook", "https://hooks.slack.com/services/T1/B1/short", "application/json", `{"text":"t"}`, 404, "no_service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := send(t, srv.Client(), http.MethodPost, c.url, map[string]string{"Content-Type": c.contentType}, c.body)
			require.Equal(t, c.status, a.status)
			require.Equal(t, c.answer, a.body)
		})
	}
	a := send(t, srv.Client(), http.MethodGet, slackHook, nil, "")
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
}

func TestPagerDuty(t *testing.T) {
	srv := fakes.NewServer(t)
	enqueue := "https://events.pagerduty.com/v2/enqueue"
	event := func(fields string) string { return `{"routing_key":"` + pdKey + `",` + fields + `}` }

	// A trigger without a dedup key gets one generated.
	a := send(t, srv.Client(), http.MethodPost, enqueue, jsonCT,
		event(`"event_action":"trigger","payload":{"summary":"New script","source":"shop.example.com","severity":"error"}`))
	require.Equal(t, http.StatusAccepted, a.status)
	m := decode(t, a.body)
	require.Equal(t, "success", m["status"])
	require.Equal(t, "Event processed", m["message"])
	require.Regexp(t, `^[0-9a-f]{32}$`, m["dedup_key"])

	// The same dedup key updates the open alert; the EU host is the same API.
	for range 2 {
		a = send(t, srv.Client(), http.MethodPost, "https://events.eu.pagerduty.com/v2/enqueue", jsonCT,
			event(`"event_action":"trigger","dedup_key":"evt-1","payload":{"summary":"s","source":"x","severity":"critical","timestamp":"2026-01-01T00:00:00Z"}`))
		require.Equal(t, http.StatusAccepted, a.status)
		require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"evt-1"}`, a.body)
	}
	// Test's probe: a resolve for an unknown key is accepted and opens nothing.
	a = send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"conn-test-1"`))
	require.JSONEq(t, `{"status":"success","message":"Event processed","dedup_key":"conn-test-1"}`, a.body)
	alerts := srv.PagerDutyAlerts()
	require.Len(t, alerts, 2)
	require.Equal(t, pagerdutytest.Alert{DedupKey: "evt-1", Summary: "s", Source: "x", Severity: "critical",
		Status: "triggered", Triggers: 2}, alerts[1])
	send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"evt-1"`))
	require.Equal(t, "resolved", srv.PagerDutyAlerts()[1].Status)

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
		a := send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, b.body)
		require.Equal(t, http.StatusBadRequest, a.status, b.body)
		require.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":[`+strconv.Quote(b.err)+`]}`, a.body)
	}
	big := event(`"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","custom_details":{"d":"` +
		strings.Repeat("x", 512<<10) + `"}}`)
	a = send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, big)
	require.Equal(t, http.StatusBadRequest, a.status)

	srv.ExpectCredentials(notifytest.PagerDuty, "abcdefabcdefabcdefabcdefabcdefab")
	a = send(t, srv.Client(), http.MethodPost, enqueue, jsonCT, event(`"event_action":"resolve","dedup_key":"d"`))
	require.JSONEq(t, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`, a.body)
}

func TestOpsgenie(t *testing.T) {
	srv := fakes.NewServer(t)
	auth := map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "application/json"}

	a := send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts", auth,
		`{"message":"`+strings.Repeat("m", 140)+`","alias":"cd-evt-1","priority":"P2","tags":["cd"],
		  "details":{"risk":"high"},"responders":[{"type":"team","id":"t-1"}]}`)
	require.Equal(t, http.StatusAccepted, a.status)
	m := decode(t, a.body)
	require.Equal(t, "Request will be processed", m["result"])
	require.IsType(t, float64(0), m["took"])
	requestID, _ := m["requestId"].(string)
	require.Regexp(t, `^[0-9a-f-]{36}$`, requestID)

	alerts := srv.OpsgenieAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, strings.Repeat("m", 130), alerts[0].Message, "message truncated to 130")
	require.Equal(t, "P2", alerts[0].Priority)
	require.Equal(t, []map[string]string{{"type": "team", "id": "t-1"}}, alerts[0].Responders)
	require.Equal(t, map[string]string{"risk": "high"}, alerts[0].Details)

	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/"+requestID, auth, "")
	require.Equal(t, http.StatusOK, a.status)
	data := decode(t, a.body)["data"].(map[string]any)
	require.Equal(t, true, data["isSuccess"])
	require.Equal(t, "Created alert", data["status"])
	require.Equal(t, alerts[0].ID, data["alertId"])
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts/requests/nope", auth, "")
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "RequestNotProcessed", a.header.Get("X-Opsgenie-Errortype"))

	// Test's probe; the EU host and the JSM Ops URL are the same API.
	for _, u := range []string{"https://api.opsgenie.com/v2/alerts?limit=1", "https://api.eu.opsgenie.com/v2/alerts?limit=1",
		"https://api.atlassian.com/jsm/ops/integration/v2/alerts?limit=1"} {
		a = send(t, srv.Client(), http.MethodGet, u, auth, "")
		require.Equal(t, http.StatusOK, a.status, u)
		list := decode(t, a.body)["data"].([]any)
		require.Len(t, list, 1)
		require.Equal(t, "cd-evt-1", list[0].(map[string]any)["alias"])
	}

	a = send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts/cd-evt-1/close?identifierType=alias", auth, `{}`)
	require.Equal(t, http.StatusAccepted, a.status)
	require.Equal(t, "closed", srv.OpsgenieAlerts()[0].Status)

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
			a := send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts",
				map[string]string{"Authorization": c.auth, "Content-Type": "application/json"}, c.body)
			require.Equal(t, c.status, a.status)
			require.Equal(t, c.msg, decode(t, a.body)["message"])
		})
	}
	a = send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts", auth, `{}`)
	require.Equal(t, map[string]any{"message": "Message can not be empty."}, decode(t, a.body)["errors"])
	a = send(t, srv.Client(), http.MethodPost, "https://api.opsgenie.com/v2/alerts",
		map[string]string{"Authorization": "GenieKey " + ogKey, "Content-Type": "text/plain"}, `{"message":"m"}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.status)

	// The Team API: any UUID by default, else the teams set.
	team := "4513b7ea-3b91-438f-b7e4-e3e54af9147c"
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/"+team+"?identifierType=id", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, team, decode(t, a.body)["data"].(map[string]any)["id"])
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/not-a-uuid", auth, "")
	require.Equal(t, http.StatusNotFound, a.status)
	srv.SetOpsgenieTeams(opsgenietest.Team{ID: "aaaaaaaa-3b91-438f-b7e4-e3e54af9147c", Name: "SOC"})
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/"+team, auth, "")
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, "No team exists with id ["+team+"]", decode(t, a.body)["message"])
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/teams/SOC?identifierType=name", auth, "")
	require.Equal(t, "aaaaaaaa-3b91-438f-b7e4-e3e54af9147c", decode(t, a.body)["data"].(map[string]any)["id"])
	a = send(t, srv.Client(), http.MethodGet, "https://api.atlassian.com/jsm/ops/integration/v2/teams/"+team, auth, "")
	require.Equal(t, http.StatusNotFound, a.status, "JSM Operations has no Team API on the integration URL")

	srv.RevokeCredentials(ogKey)
	a = send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts?limit=1", auth, "")
	require.Equal(t, http.StatusUnauthorized, a.status)
}

func basic(email, token string) map[string]string {
	return map[string]string{
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+token)),
		"Content-Type":  "application/json",
	}
}

func TestJiraReads(t *testing.T) {
	srv := fakes.NewServer(t)
	site := "https://acme.atlassian.net"
	auth := basic(jiraEmail, jiraToken)

	a := send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/myself", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "OK", a.header.Get("X-Seraph-LoginReason"))
	me := decode(t, a.body)
	require.Equal(t, jiraEmail, me["emailAddress"])
	require.Equal(t, "soc", me["displayName"])
	require.NotEmpty(t, me["accountId"])

	for _, ref := range []string{"10000", "SEC"} {
		a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/project/"+ref, auth, "")
		require.Equal(t, http.StatusOK, a.status)
		p := decode(t, a.body)
		require.Equal(t, "10000", p["id"])
		require.Equal(t, "SEC", p["key"])
	}
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/project/99", auth, "")
	require.Equal(t, http.StatusNotFound, a.status)

	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	page := decode(t, a.body)
	require.EqualValues(t, 3, page["total"])
	require.Len(t, page["issueTypes"], 3)
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/SEC/issuetypes?startAt=1&maxResults=1", auth, "")
	page = decode(t, a.body)
	require.EqualValues(t, 1, page["startAt"])
	require.Equal(t, "Bug", page["issueTypes"].([]any)[0].(map[string]any)["name"])

	fieldIDs := func(typeID string) (ids []string, priorities []string) {
		a := send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes/"+typeID, auth, "")
		require.Equal(t, http.StatusOK, a.status)
		for _, f := range decode(t, a.body)["fields"].([]any) {
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
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/SEC/issuetypes?startAt=2&maxResults=9223372036854775807", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, decode(t, a.body)["issueTypes"], 1)
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/createmeta/10000/issuetypes/4242", auth, "")
	require.Equal(t, http.StatusNotFound, a.status)

	// Through the API gateway, with a scoped token.
	a = send(t, srv.Client(), http.MethodGet, "https://api.atlassian.com/ex/jira/0b6a/rest/api/2/project/SEC", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "https://api.atlassian.com/ex/jira/0b6a/rest/api/2/project/10000", decode(t, a.body)["self"])

	a = send(t, srv.Client(), http.MethodGet, site+"/_edge/tenant_info", nil, "")
	require.Regexp(t, `^[0-9a-f-]{36}$`, decode(t, a.body)["cloudId"])

	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/search?jql=project=SEC", auth, "")
	require.Equal(t, http.StatusGone, a.status)
}

func TestJiraAuth(t *testing.T) {
	srv := fakes.NewServer(t)
	myself := "https://acme.atlassian.net/rest/api/2/myself"
	project := "https://acme.atlassian.net/rest/api/2/project/SEC"
	for _, h := range []map[string]string{nil, basic("not-an-email", jiraToken), basic(jiraEmail, ""),
		{"Authorization": "Bearer " + jiraToken}} {
		a := send(t, srv.Client(), http.MethodGet, myself, h, "")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.JSONEq(t, `{"errorMessages":["Client must be authenticated to access this resource."],"errors":{}}`, a.body)
	}
	srv.ExpectCredentials(notifytest.Jira, jiraEmail+":"+jiraToken)
	require.Equal(t, http.StatusOK, send(t, srv.Client(), http.MethodGet, myself, basic(jiraEmail, jiraToken), "").status)
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodGet, myself, basic("other@example.com", jiraToken), "").status,
		"an email:token credential ties the token to its account")
	srv.ExpectCredentials(notifytest.Jira, jiraToken)
	require.Equal(t, http.StatusOK, send(t, srv.Client(), http.MethodGet, myself, basic("other@example.com", jiraToken), "").status)

	// The anonymous-browsing trap: 200 after failed auth, with the header.
	srv.RevokeCredentials(jiraToken)
	a := send(t, srv.Client(), http.MethodGet, project, basic(jiraEmail, jiraToken), "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "AUTHENTICATED_FAILED", a.header.Get("X-Seraph-LoginReason"))
	srv.SetJiraAnonymousAccess(true)
	a = send(t, srv.Client(), http.MethodGet, project, basic(jiraEmail, jiraToken), "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "AUTHENTICATED_FAILED", a.header.Get("X-Seraph-LoginReason"))
	a = send(t, srv.Client(), http.MethodGet, project, nil, "")
	require.Equal(t, http.StatusOK, a.status, "anonymous browsing")
	require.Empty(t, a.header.Get("X-Seraph-LoginReason"), "no login was attempted")
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodGet, myself, basic(jiraEmail, jiraToken), "").status)
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodPost, "https://acme.atlassian.net/rest/api/2/issue",
		basic(jiraEmail, jiraToken), `{"fields":{}}`).status)
}

func TestJiraCreateAndSearch(t *testing.T) {
	srv := fakes.NewServer(t)
	site := "https://acme.atlassian.net"
	auth := basic(jiraEmail, jiraToken)
	create := func(fields string) answer {
		return send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", auth, `{"fields":{`+fields+`}}`)
	}
	a := create(`"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"New script","description":"d",
		"labels":["code-defender","cd-evt-1"],"priority":{"name":"High"}`)
	require.Equal(t, http.StatusCreated, a.status)
	require.JSONEq(t, `{"id":"10000","key":"SEC-1","self":"https://acme.atlassian.net/rest/api/2/issue/10000"}`, a.body)
	a = create(`"project":{"key":"SEC"},"issuetype":{"name":"Bug"},"summary":"Other","labels":["cd-evt-2"]`)
	require.JSONEq(t, `{"id":"10001","key":"SEC-2","self":"https://acme.atlassian.net/rest/api/2/issue/10001"}`, a.body)

	issues := srv.JiraIssues()
	require.Len(t, issues, 2)
	require.Equal(t, "High", issues[0].Priority)
	require.Equal(t, []string{"code-defender", "cd-evt-1"}, issues[0].Labels)
	require.Equal(t, "d", issues[0].Description)
	require.JSONEq(t, `{"name":"High"}`, string(issues[0].Fields["priority"]))

	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/2/issue/SEC-1", auth, "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "New script", decode(t, a.body)["fields"].(map[string]any)["summary"])

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
		require.Equal(t, http.StatusBadRequest, a.status, c.fields)
		require.JSONEq(t, `{"errorMessages":[],"errors":`+c.errs+`}`, a.body, c.fields)
	}
	// v3 wants an Atlassian document, not a string (Alertmanager #4585).
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/issue", auth,
		`{"fields":{"project":{"id":"10000"},"issuetype":{"id":"10001"},"summary":"s","description":"plain"}}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, "Atlassian Document")
	a = send(t, srv.Client(), http.MethodPost, site+"/rest/api/2/issue", map[string]string{"Authorization": auth["Authorization"]}, `{}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.status)

	// A required custom field.
	srv.SetJiraProjects(jiratest.Project{ID: "20000", Key: "OPS", Name: "Ops", IssueTypes: []jiratest.IssueType{
		{ID: "1", Name: "Alert", Fields: []string{"labels", "customfield_1"}, Required: []string{"customfield_1"}}}})
	a = create(`"project":{"id":"20000"},"issuetype":{"id":"1"},"summary":"s"`)
	require.JSONEq(t, `{"errorMessages":[],"errors":{"customfield_1":"customfield_1 is required."}}`, a.body)
	a = create(`"project":{"id":"20000"},"issuetype":{"id":"1"},"summary":"s","customfield_1":"v","labels":["cd-evt-1"]`)
	require.JSONEq(t, `{"id":"10002","key":"OPS-1","self":"https://acme.atlassian.net/rest/api/2/issue/10002"}`, a.body)
	srv.SetJiraProjects(jiratest.DefaultProject())

	search := func(body string) (int, []string, map[string]any) {
		a := send(t, srv.Client(), http.MethodPost, site+"/rest/api/3/search/jql", auth, body)
		m := decode(t, a.body)
		var keys []string
		if list, ok := m["issues"].([]any); ok {
			for _, is := range list {
				keys = append(keys, is.(map[string]any)["key"].(string))
			}
		}
		return a.status, keys, m
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
	a = send(t, srv.Client(), http.MethodGet, site+"/rest/api/3/search/jql?jql=key%3DSEC-2&fields=labels", auth, "")
	require.Contains(t, a.body, `"labels":["cd-evt-2"]`)

	for _, jql := range []string{"", "ORDER BY created", `labels = "a" OR labels = "b"`, "summary ~ x", "project = NOPE", `labels = "x`} {
		status, _, m := search(`{"jql":` + strconv.Quote(jql) + `}`)
		require.Equal(t, http.StatusBadRequest, status, jql)
		require.NotEmpty(t, m["errorMessages"], jql)
	}
}

func TestDatadog(t *testing.T) {
	srv := fakes.NewServer(t)
	keys := map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": ddAppKey, "Content-Type": "application/json"}
	for _, site := range []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
		"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com", "ddog-gov.com", "us2.ddog-gov.com"} {
		a := send(t, srv.Client(), http.MethodGet, "https://api."+site+"/api/v2/validate_keys", keys, "")
		require.Equal(t, http.StatusOK, a.status, site)
		require.JSONEq(t, `{"status":"ok"}`, a.body)
		a = send(t, srv.Client(), http.MethodGet, "https://api."+site+"/api/v1/validate", map[string]string{"DD-API-KEY": ddAPIKey}, "")
		require.JSONEq(t, `{"valid":true}`, a.body)
	}
	a := send(t, srv.Client(), http.MethodGet, "https://app.datadoghq.com/api/v2/validate_keys", keys, "")
	require.Equal(t, http.StatusNotFound, a.status, "the API host is api.<site>")

	a = send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.eu/api/v2/incidents", keys,
		`{"data":{"type":"incidents","attributes":{"title":"New script","customer_impacted":false,
		  "fields":{"severity":{"type":"dropdown","value":"SEV-2"}},"notification_handles":[{"handle":"@slack-sec"}]}}}`)
	require.Equal(t, http.StatusCreated, a.status)
	data := decode(t, a.body)["data"].(map[string]any)
	require.Equal(t, "incidents", data["type"])
	attrs := data["attributes"].(map[string]any)
	require.EqualValues(t, 1, attrs["public_id"])
	require.Equal(t, "New script", attrs["title"])
	require.Equal(t, "SEV-2", attrs["severity"])
	incidents := srv.DatadogIncidents()
	require.Len(t, incidents, 1)
	require.Equal(t, data["id"], incidents[0].ID)
	require.Equal(t, "datadoghq.eu", incidents[0].Site)
	require.Equal(t, []string{"@slack-sec"}, incidents[0].Handles)
	a = send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.eu/api/v2/incidents", keys,
		`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false}}}`)
	require.EqualValues(t, 2, decode(t, a.body)["data"].(map[string]any)["attributes"].(map[string]any)["public_id"])
	require.EqualValues(t, "UNKNOWN", decode(t, a.body)["data"].(map[string]any)["attributes"].(map[string]any)["severity"])

	refused := []struct{ body, err string }{
		{`{"data":{"type":"incidents","attributes":{"title":"t"}}}`, "attributes.customer_impacted is required and must be a boolean"},
		{`{"data":{"type":"incident","attributes":{"title":"t","customer_impacted":false}}}`, `data.type must be "incidents"`},
		{`{"data":{"type":"incidents","attributes":{"customer_impacted":false}}}`, "attributes.title is required"},
		{`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":true}}}`, "attributes.customer_impact_scope is required when customer_impacted is true"},
		{`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false,"fields":{"severity":{"type":"dropdown","value":"SEV-9"}}}}}`,
			"attributes.fields.severity.value must be one of UNKNOWN, SEV-0, SEV-1, SEV-2, SEV-3, SEV-4, SEV-5"},
	}
	for _, c := range refused {
		a := send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.com/api/v2/incidents", keys, c.body)
		require.Equal(t, http.StatusBadRequest, a.status, c.body)
		require.JSONEq(t, `{"errors":[`+strconv.Quote(c.err)+`]}`, a.body)
	}

	a = send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys", map[string]string{"DD-API-KEY": ddAPIKey}, "")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.JSONEq(t, `{"errors":["Unauthorized"]}`, a.body)
	a = send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys",
		map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": "short"}, "")
	require.Equal(t, http.StatusForbidden, a.status)
	require.JSONEq(t, `{"errors":["Forbidden"]}`, a.body)
	srv.RevokeCredentials(ddAppKey)
	a = send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys", keys, "")
	require.Equal(t, http.StatusForbidden, a.status)
	a = send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v1/validate", map[string]string{"DD-API-KEY": ddAPIKey}, "")
	require.Equal(t, http.StatusOK, a.status, "v1 checks the API key only")
	a = send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v1/validate", nil, "")
	require.Equal(t, http.StatusForbidden, a.status)
	a = send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.com/api/v2/incidents",
		map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": strings.Repeat("a", 40)}, `{}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.status)
}

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

func TestSplunk(t *testing.T) {
	srv := fakes.NewServer(t)
	cloud := "https://http-inputs-acme.splunkcloud.com/services/collector/event"
	onPrem := "https://splunk.corp.example:8088/services/collector"
	auth := map[string]string{"Authorization": "Splunk " + splunkToken}
	batch := `{"time":1767225600.123,"host":"shop.example.com","sourcetype":"cd:alert","index":"security","event":{"risk":"high"}}
{"time":"1767225601.456","sourcetype":"cd:alert","event":"plain","fields":{"tenant":"t1","tags":["a","b"]}}`

	a := send(t, srv.Client(), http.MethodPost, cloud, auth, batch)
	require.Equal(t, http.StatusOK, a.status)
	require.JSONEq(t, `{"text":"Success","code":0}`, a.body)
	a = send(t, srv.Client(), http.MethodPost, onPrem,
		map[string]string{"Authorization": auth["Authorization"], "Content-Encoding": "gzip"}, gz(t, `{"event":"zipped"}`))
	require.JSONEq(t, `{"text":"Success","code":0}`, a.body)
	events := srv.SplunkEvents()
	require.Len(t, events, 3)
	require.Equal(t, "http-inputs-acme.splunkcloud.com", events[0].Host)
	require.Equal(t, json.Number("1767225600.123"), events[0].Time)
	require.Equal(t, "shop.example.com", events[0].EventHost)
	require.Equal(t, "security", events[0].Index)
	require.JSONEq(t, `{"risk":"high"}`, string(events[0].Event))
	require.Equal(t, map[string]any{"tenant": "t1", "tags": []any{"a", "b"}}, events[1].Fields)
	require.JSONEq(t, `"zipped"`, string(events[2].Event))
	require.Equal(t, "splunk.corp.example:8088", events[2].Host)
	r, _ := srv.LastRequest(notifytest.Splunk)
	require.JSONEq(t, `{"event":"zipped"}`, string(r.Body), "recorded decompressed")

	// Test's probe: an empty body with a good token is "No data".
	a = send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.Equal(t, http.StatusBadRequest, a.status)
	require.JSONEq(t, `{"text":"No data","code":5}`, a.body)

	basicAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+splunkToken))
	a = send(t, srv.Client(), http.MethodPost, cloud, map[string]string{"Authorization": basicAuth}, "")
	require.JSONEq(t, `{"text":"No data","code":5}`, a.body, "Basic auth with the token as password")

	refused := []struct {
		name, url, auth, body string
		status                int
		answer                string
	}{
		{"no token", cloud, "", `{"event":"x"}`, 401, `{"text":"Token is required","code":2}`},
		{"token in query", cloud + "?token=" + splunkToken, "", `{"event":"x"}`, 400, `{"text":"Query string authorization is not enabled","code":16}`},
		{"no Splunk scheme", cloud, splunkToken, `{"event":"x"}`, 401, `{"text":"Invalid authorization","code":3}`},
		{"not a GUID", cloud, "Splunk nope", `{"event":"x"}`, 403, `{"text":"Invalid token","code":4}`},
		{"no event", cloud, auth["Authorization"], `{"event":"a"}{"host":"h"}`, 400, `{"text":"Event field is required","code":12,"invalid-event-number":1}`},
		{"blank event", cloud, auth["Authorization"], `{"event":"  "}`, 400, `{"text":"Event field cannot be blank","code":13,"invalid-event-number":0}`},
		{"nested fields", cloud, auth["Authorization"], `{"event":"a","fields":{"x":{"y":1}}}`, 400, `{"text":"Error in handling indexed fields","code":15,"invalid-event-number":0}`},
		{"array batch", cloud, auth["Authorization"], `[{"event":"a"}]`, 400, `{"text":"Invalid data format","code":6,"invalid-event-number":0}`},
		{"broken JSON", cloud, auth["Authorization"], `{"event":"a"}{"event"`, 400, `{"text":"Invalid data format","code":6,"invalid-event-number":1}`},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			a := send(t, srv.Client(), http.MethodPost, c.url, map[string]string{"Authorization": c.auth}, c.body)
			require.Equal(t, c.status, a.status)
			require.JSONEq(t, c.answer, a.body)
		})
	}
	require.Len(t, srv.SplunkEvents(), 5, "the two events before a failing one are kept")

	a = send(t, srv.Client(), http.MethodGet, "https://acme.splunkcloud.com:8088/services/collector/health", nil, "")
	require.JSONEq(t, `{"text":"HEC is healthy","code":17}`, a.body)

	srv.SetSplunkIndexes("main")
	a = send(t, srv.Client(), http.MethodPost, cloud, auth, `{"event":"a","index":"security"}`)
	require.JSONEq(t, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`, a.body)
	srv.SetSplunkIndexes()
	srv.SetSplunkMaxContentLength(10)
	a = send(t, srv.Client(), http.MethodPost, cloud, auth, `{"event":"longer than ten"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	srv.SetSplunkMaxContentLength(0)
	a = send(t, srv.Client(), http.MethodPost, cloud, map[string]string{"Authorization": auth["Authorization"],
		"X-Splunk-Request-Channel": "not-a-guid"}, `{"event":"a"}`)
	require.JSONEq(t, `{"text":"Invalid data channel","code":11}`, a.body)

	srv.ExpectCredentials(notifytest.Splunk, "aaaaaaaa-1234-4234-9234-123456789012")
	a = send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.JSONEq(t, `{"text":"Invalid token","code":4}`, a.body)
	srv.RevokeCredentials(splunkToken)
	a = send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.Equal(t, http.StatusForbidden, a.status)
	require.JSONEq(t, `{"text":"Token disabled","code":1}`, a.body)
}

func sign(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhook(t *testing.T) {
	srv := fakes.NewServer(t)
	u := "https://hooks.example.org/cd"
	a := send(t, srv.Client(), http.MethodPost, u, jsonCT, `{"id":"evt-1"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, a.body)
	a = send(t, srv.Client(), http.MethodPost, "http://receiver.example.test:9000/hook", nil, "plain")
	require.Equal(t, http.StatusOK, a.status, "plain http:// reaches the sink")

	srv.ExpectCredentials(notifytest.Webhook, "Bearer s3cr3t")
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodPost, u, nil, "{}").status)
	require.Equal(t, http.StatusOK, send(t, srv.Client(), http.MethodPost, u, map[string]string{"Authorization": "Bearer s3cr3t"}, "{}").status)
	srv.ExpectCredentials(notifytest.Webhook)

	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	require.Error(t, srv.SetWebhookSecret("whsec_c2hvcnQ="))
	require.Error(t, srv.SetWebhookSecret("nope"))
	require.NoError(t, srv.SetWebhookSecret(notify.Secret(secret)))
	now := time.Now().Unix()
	body := `{"type":"test"}`
	headers := func(ts int64, sig string) map[string]string {
		return map[string]string{"webhook-id": "evt-1", "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
	}
	a = send(t, srv.Client(), http.MethodPost, u, headers(now, "v1,bm9wZQ== "+sign(secret, "evt-1", now, body)), body)
	require.Equal(t, http.StatusOK, a.status, "any signature of the list may match (rotation)")
	for name, h := range map[string]map[string]string{
		"wrong body key":  headers(now, sign("whsec_"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32)), "evt-1", now, body)),
		"old timestamp":   headers(now-600, sign(secret, "evt-1", now-600, body)),
		"no signature":    {"webhook-id": "evt-1", "webhook-timestamp": strconv.FormatInt(now, 10)},
		"other id signed": headers(now, sign(secret, "evt-2", now, body)),
	} {
		a := send(t, srv.Client(), http.MethodPost, u, h, body)
		require.Equal(t, http.StatusUnauthorized, a.status, name)
		require.True(t, strings.HasPrefix(a.body, "signature verification failed: "), name)
	}
	require.NoError(t, srv.SetWebhookSecret(""))
	require.Equal(t, http.StatusOK, send(t, srv.Client(), http.MethodPost, u, nil, body).status)
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestGeneratedDedupKeysDiffer(t *testing.T) {
	srv := fakes.NewServer(t)
	seen := map[string]bool{}
	for range 3 {
		a := send(t, srv.Client(), http.MethodPost, "https://events.pagerduty.com/v2/enqueue", jsonCT,
			`{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"}}`)
		k := decode(t, a.body)["dedup_key"].(string)
		require.Regexp(t, hex32, k)
		seen[k] = true
	}
	require.Len(t, seen, 3)
	require.Len(t, srv.PagerDutyAlerts(), 3)
}
