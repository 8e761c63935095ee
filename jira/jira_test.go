package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	site      = "https://acme.atlassian.net"
	token     = notify.Secret("ATATT3xFfGF0-test-token-9f8e7d6c5b4a")
	email     = "secops@acme.example"
	searchURL = site + "/rest/api/3/search/jql"
	createURL = site + "/rest/api/2/issue"
	myselfURL = site + "/rest/api/2/myself"
	projURL   = site + "/rest/api/2/project/10000"
	typesURL  = site + "/rest/api/2/issue/createmeta/10000/issuetypes"
	fieldsURL = site + "/rest/api/2/issue/createmeta/10000/issuetypes/10002"
	noIssues  = `{"issues":[],"isLast":true}`
	created   = `{"id":"10100","key":"SEC-24","self":"https://acme.atlassian.net/rest/api/2/issue/10100"}`
	searchJQL = `project = 10000 AND labels = \"cd-evt-1\" AND statusCategory != \"Done\"`
)

// basic is the Basic auth credential: a secret of its own.
var basic = notify.Secret(base64.StdEncoding.EncodeToString([]byte(email + ":" + token.Reveal())))

var secrets = []notify.Secret{token, basic}

func validConfig() Config {
	return Config{
		Name:          "Jira SEC",
		URL:           site + "/rest/api/2/issue/",
		ProjectID:     "10000",
		APIToken:      token,
		ReporterEmail: email,
	}
}

// fullEvent is testkit's full event with the wiki markup edge cases this
// package's exact-request tests pin down.
func fullEvent() notify.Event {
	e := testkit.FullEvent()
	e.ID = "evt-1"
	e.Description = "Script *evil* loaded from [cdn|https://cdn.evil.example]\nh1. not a heading\r\nC:\\temp {noformat}"
	e.Risk = notify.RiskHigh
	e.URL = "https://console.codedefender.example/alerts/evt-1"
	e.Tags = []string{"pci", "new script", "pci", " "}
	e.Details = map[string]string{"script": "https://cdn.evil.example/x.js", "page": "/checkout|pay"}
	return e
}

// minimalEvent is testkit's minimal event as a test event.
func minimalEvent() notify.Event {
	e := testkit.MinimalEvent()
	e.ID = "evt-2"
	e.Type = notify.EventTest
	e.Title = "Test alert"
	e.Risk = notify.RiskInfo
	return e
}

// harness is a Notifier on a MockAPI, with its log captured.
type harness struct {
	*testkit.MockAPI
	n    *Notifier
	logs *notifytest.LogBuffer
}

func newHarness(t *testing.T, c Config) *harness {
	t.Helper()
	api := testkit.NewMockAPI()
	logger, logs := notifytest.NewLogger()
	n, err := New(c, notify.WithHTTPClient(api.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	t.Cleanup(func() { notifytest.AssertNoSecret(t, logs.String(), secrets...) })
	return &harness{MockAPI: api, n: n, logs: logs}
}

// requireHeaders checks the headers every Jira call carries.
func requireHeaders(t *testing.T, r notifytest.RecordedRequest, withBody bool) {
	t.Helper()
	require.Equal(t, "Basic "+basic.Reveal(), r.Header.Get("Authorization"))
	require.Equal(t, "application/json", r.Header.Get("Accept"))
	require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
	if withBody {
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	}
}

func requireKind(t *testing.T, err error, kind error, retryable bool) *notify.Error {
	t.Helper()
	require.Error(t, err)
	notifytest.AssertNoSecret(t, err, secrets...)
	require.ErrorIs(t, err, kind)
	require.Equal(t, retryable, notify.IsRetryable(err), "retryable")
	var ne *notify.Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, Type, ne.Integration)
	return ne
}

func TestConfigValidate(t *testing.T) {
	tests := []testkit.EditCase[Config]{
		{Name: "full", Edit: func(c *Config) { c.IssueType = "Bug"; c.PriorityFromRisk = true }},
		{Name: "minimal, no trailing slash", Edit: func(c *Config) { c.URL = site + "/rest/api/2/issue" }},
		{Name: "site host in capitals", Edit: func(c *Config) { c.URL = "https://ACME.atlassian.net/rest/api/2/issue/" }},
		{Name: "no name", Edit: func(c *Config) { c.Name = "" }, Field: "name", Want: "required", Schema: true},
		{Name: "name too long", Edit: func(c *Config) { c.Name = strings.Repeat("n", 101) }, Field: "name", Want: "at most 100", Schema: true},
		{Name: "no url", Edit: func(c *Config) { c.URL = "" }, Field: "url", Want: "required", Schema: true},
		{Name: "v3 url", Edit: func(c *Config) { c.URL = site + "/rest/api/3/issue/" }, Field: "url",
			Want: "must be the v2 address https://acme.atlassian.net/rest/api/2/issue/: v3 wants descriptions in the Atlassian Document Format"},
		{Name: "latest url", Edit: func(c *Config) { c.URL = site + "/rest/api/latest/issue" }, Field: "url", Want: "v2 address"},
		{Name: "site only", Edit: func(c *Config) { c.URL = site }, Field: "url", Want: "did you mean https://acme.atlassian.net/rest/api/2/issue/?"},
		{Name: "http", Edit: func(c *Config) { c.URL = "http://acme.atlassian.net/rest/api/2/issue/" }, Field: "url", Want: "https://", Schema: true},
		{Name: "other host", Edit: func(c *Config) { c.URL = "https://jira.example.com/rest/api/2/issue/" }, Field: "url", Want: "Jira Cloud site"},
		{Name: "look-alike host", Edit: func(c *Config) { c.URL = "https://acme.atlassian.net.evil.example/rest/api/2/issue/" }, Field: "url", Want: "Jira Cloud site"},
		{Name: "port", Edit: func(c *Config) { c.URL = "https://acme.atlassian.net:8443/rest/api/2/issue/" }, Field: "url", Want: "Jira Cloud site"},
		{Name: "scoped-token gateway", Edit: func(c *Config) { c.URL = "https://api.atlassian.com/ex/jira/abc/rest/api/2/issue" }, Field: "url", Want: "classic API token"},
		{Name: "query", Edit: func(c *Config) { c.URL = site + "/rest/api/2/issue/?x=1" }, Field: "url", Want: "nothing after"},
		{Name: "userinfo", Edit: func(c *Config) { c.URL = "https://u:p@acme.atlassian.net/rest/api/2/issue/" }, Field: "url", Want: "user name or password"},
		{Name: "spaces around url", Edit: func(c *Config) { c.URL = " " + site + "/rest/api/2/issue/" }, Field: "url", Want: "spaces"},
		{Name: "not a url", Edit: func(c *Config) { c.URL = "acme" }, Field: "url", Want: "not a URL"},
		{Name: "no project", Edit: func(c *Config) { c.ProjectID = "" }, Field: "project_id", Want: "required", Schema: true},
		{Name: "project key", Edit: func(c *Config) { c.ProjectID = "SEC" }, Field: "project_id", Want: "numeric id", Schema: true},
		{Name: "project zero", Edit: func(c *Config) { c.ProjectID = "000" }, Field: "project_id", Want: "positive"},
		{Name: "project too long", Edit: func(c *Config) { c.ProjectID = strings.Repeat("1", 19) }, Field: "project_id", Want: "at most 18", Schema: true},
		{Name: "no token", Edit: func(c *Config) { c.APIToken = "" }, Field: "api_token", Want: "required", Schema: true},
		{Name: "masked token", Edit: func(c *Config) { c.APIToken = notify.Redacted }, Field: "api_token", Want: "mask"},
		{Name: "token with spaces", Edit: func(c *Config) { c.APIToken = token + " " }, Field: "api_token", Want: "spaces"},
		{Name: "token with newline", Edit: func(c *Config) { c.APIToken = token + "\n" }, Field: "api_token", Want: "line breaks"},
		{Name: "no email", Edit: func(c *Config) { c.ReporterEmail = "" }, Field: "reporter_email", Want: "required", Schema: true},
		{Name: "bad email", Edit: func(c *Config) { c.ReporterEmail = "secops" }, Field: "reporter_email", Want: "plain e-mail address"},
		{Name: "email with name", Edit: func(c *Config) { c.ReporterEmail = "Sec <" + email + ">" }, Field: "reporter_email", Want: "plain e-mail address"},
		{Name: "email with CRLF", Edit: func(c *Config) { c.ReporterEmail = email + "\r\nBcc: x@y.z" }, Field: "reporter_email", Want: "line breaks"},
		{Name: "issue type spaces", Edit: func(c *Config) { c.IssueType = " Task" }, Field: "issue_type", Want: "spaces"},
		{Name: "issue type control", Edit: func(c *Config) { c.IssueType = "Ta\x01sk" }, Field: "issue_type", Want: "control"},
		{Name: "issue type too long", Edit: func(c *Config) { c.IssueType = strings.Repeat("t", 256) }, Field: "issue_type", Want: "at most 255", Schema: true},
	}
	testkit.RunEdits(t, validConfig, tests, func(Config) []notify.Secret { return secrets })
}

func TestConfigValidateReportsEveryField(t *testing.T) {
	err := Config{APIToken: notify.Redacted, IssueType: " x"}.Validate()
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, f := range []string{"name", "url", "project_id", "api_token", "reporter_email", "issue_type"} {
		require.True(t, ve.Has(f), "missing %s in %v", f, err)
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	c := validConfig()
	c.URL = site + "/rest/api/3/issue"
	n, err := New(c)
	require.Nil(t, n)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("url"))
}

func TestFromJSON(t *testing.T) {
	raw := `{"name":"Jira SEC","url":"https://acme.atlassian.net/rest/api/2/issue/","project_id":"10000",` +
		`"api_token":"` + token.Reveal() + `","reporter_email":"` + email + `","issue_type":"Bug","priority_from_risk":true}`
	n, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.NoError(t, n.Validate())
	require.Equal(t, `jira("Jira SEC")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), secrets...)
	}
	jn := n.(*Notifier)
	require.Equal(t, Config{Name: "Jira SEC", URL: site + "/rest/api/2/issue/", ProjectID: "10000", APIToken: token,
		ReporterEmail: email, IssueType: "Bug", PriorityFromRisk: true}, jn.cfg)

	b, err := json.Marshal(jn.cfg)
	require.NoError(t, err)
	require.Contains(t, string(b), `"api_token":"[REDACTED]"`)
	notifytest.AssertNoSecret(t, fmt.Sprintf("%+v %#v", jn.cfg, jn.cfg), secrets...)

	_, err = FromJSON(json.RawMessage(`{"name":"x","project_id":10000}`))
	notifytest.AssertNoSecret(t, err, secrets...)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("project_id"), "project_id is a JSON string: %v", err)

	_, err = FromJSON(json.RawMessage(`{"name":"x","projectid":"1"}`))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("projectid"), "unknown field named: %v", err)
}

func TestSendFullEvent(t *testing.T) {
	c := validConfig()
	c.PriorityFromRisk = true
	h := newHarness(t, c)
	h.On(http.MethodPost, searchURL, 200, noIssues, nil)
	h.On(http.MethodPost, createURL, 201, created, nil)

	r, err := h.n.Send(context.Background(), fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "SEC-24", URL: site + "/browse/SEC-24"}, r)

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, http.MethodPost, reqs[0].Method)
	require.Equal(t, searchURL, reqs[0].URL())
	requireHeaders(t, reqs[0], true)
	require.JSONEq(t, `{"jql":"`+searchJQL+`","maxResults":1,"fields":["summary"]}`, string(reqs[0].Body))

	require.Equal(t, http.MethodPost, reqs[1].Method)
	require.Equal(t, createURL, reqs[1].URL())
	requireHeaders(t, reqs[1], true)
	wantDescription := "Script \\*evil\\* loaded from \\[cdn\\|https://cdn.evil.example\\]\n" +
		"&#104;1. not a heading\n" +
		"C:&#92;temp \\{noformat\\}\n\n" +
		"*Risk:* HIGH\n" +
		"*Type:* client\\_side\\_risk\n" +
		"*Source:* shop.example.com\n" +
		"*Time:* 2026-01-02T03:04:05Z\n" +
		"*Console:* [Open in Code Defender|https://console.codedefender.example/alerts/evt-1]\n" +
		"*Event ID:* evt\\-1\n\n" +
		"||Detail||Value||\n" +
		"|page|/checkout\\|pay|\n" +
		"|script|https://cdn.evil.example/x.js|"
	want := map[string]any{"fields": map[string]any{
		"project":     map[string]any{"id": "10000"},
		"issuetype":   map[string]any{"name": "Task"},
		"summary":     "[HIGH] New script on checkout",
		"description": wantDescription,
		"labels":      []string{"cd-evt-1", "pci", "new-script"},
		"priority":    map[string]any{"name": "High"},
	}}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(reqs[1].Body))
}

func TestSendMinimalEvent(t *testing.T) {
	c := validConfig()
	c.URL = site + "/rest/api/2/issue"
	c.IssueType = "Security Alert"
	h := newHarness(t, c)
	h.On(http.MethodPost, searchURL, 200, noIssues, nil)
	h.On(http.MethodPost, createURL, 201, created, nil)

	r, err := h.n.Send(context.Background(), minimalEvent())
	require.NoError(t, err)
	require.Equal(t, "SEC-24", r.ID)

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	require.JSONEq(t, `{"jql":"project = 10000 AND labels = \"cd-evt-2\" AND statusCategory != \"Done\"","maxResults":1,"fields":["summary"]}`, string(reqs[0].Body))
	require.JSONEq(t, `{"fields":{
		"project":{"id":"10000"},
		"issuetype":{"name":"Security Alert"},
		"summary":"[INFO] Test alert",
		"description":"*Risk:* INFO\n*Type:* test\n*Time:* 2026-01-02T03:04:05Z\n*Event ID:* evt\\-2",
		"labels":["cd-evt-2"]}}`, string(reqs[1].Body))
}

func TestSendPriorityFromRisk(t *testing.T) {
	c := validConfig()
	c.PriorityFromRisk = true
	want := map[notify.Risk]string{notify.RiskCritical: "Highest", notify.RiskHigh: "High", notify.RiskMedium: "Medium",
		notify.RiskLow: "Low", notify.RiskInfo: "Lowest"}
	h := newHarness(t, c)
	for risk, priority := range want {
		e := minimalEvent()
		e.Risk = risk
		require.Equal(t, priority, h.n.payload(e).Fields.Priority.Name, risk)
	}
}

func TestSendTruncation(t *testing.T) {
	h := newHarness(t, validConfig())

	t.Run("summary counts UTF-16 units", func(t *testing.T) {
		e := minimalEvent()
		e.Risk = notify.RiskHigh
		e.Title = strings.Repeat("🚨", 200)
		s := h.n.payload(e).Fields.Summary
		// "[HIGH] " is 7 units, each siren 2: 123 sirens fit in 253, then the marker.
		require.Equal(t, "[HIGH] "+strings.Repeat("🚨", 123)+"…", s)
		require.Equal(t, maxSummaryUnits, utf16Len(s))
	})
	t.Run("summary on one line", func(t *testing.T) {
		e := minimalEvent()
		e.Title = "a\r\nb\tc"
		require.Equal(t, "[INFO] a  b c", h.n.payload(e).Fields.Summary)
	})
	t.Run("description at Jira's limit", func(t *testing.T) {
		e := minimalEvent()
		e.Description = strings.Repeat("a", 40000)
		d := h.n.payload(e).Fields.Description
		require.Equal(t, maxDescriptionUnits, utf16Len(d))
		require.Contains(t, d, "a…\n\n*Risk:* INFO")
		require.True(t, strings.HasSuffix(d, "*Event ID:* evt\\-2"), "the metadata survives the cut")
	})
	t.Run("description cut between escapes", func(t *testing.T) {
		e := minimalEvent()
		e.Description = strings.Repeat("*", 20000) // 40,000 units once escaped
		d := h.n.payload(e).Fields.Description
		body, _, ok := strings.Cut(d, "…\n\n*Risk:*")
		require.True(t, ok)
		require.Equal(t, strings.Repeat(`\*`, len(body)/2), body, "no escape is split")
		require.LessOrEqual(t, utf16Len(d), maxDescriptionUnits)
	})
	t.Run("details table", func(t *testing.T) {
		e := minimalEvent()
		e.Details = map[string]string{}
		for i := range 40 {
			e.Details[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 3000)
		}
		d := h.n.payload(e).Fields.Description
		table := d[strings.Index(d, "||Detail||Value||"):]
		require.LessOrEqual(t, utf16Len(table), maxTableUnits)
		require.Contains(t, table, "|k00|"+strings.Repeat("v", maxDetailValUnits-1)+"…|")
		require.True(t, strings.HasSuffix(table, "|…|33 more details not shown|"), table[len(table)-60:])
	})
	t.Run("labels", func(t *testing.T) {
		e := minimalEvent()
		long := strings.Repeat("x", 300)
		e.Tags = []string{long, "a\tb"}
		for i := range 150 {
			e.Tags = append(e.Tags, fmt.Sprintf("t%d", i))
		}
		l := h.n.payload(e).Fields.Labels
		require.Len(t, l, maxLabels)
		require.Equal(t, "cd-evt-2", l[0])
		require.Equal(t, strings.Repeat("x", 254)+"…", l[1])
		require.Equal(t, "a-b", l[2])
		for _, x := range l {
			require.NotContains(t, x, " ")
			require.True(t, utf8.ValidString(x))
		}
	})
	t.Run("long console link left out", func(t *testing.T) {
		e := minimalEvent()
		e.URL = "https://console.example/" + strings.Repeat("p", 3000)
		require.NotContains(t, h.n.payload(e).Fields.Description, "*Console:*")
	})
}

func TestSendReturnsExistingIssue(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, searchURL, 200, `{"issues":[{"id":"10042","key":"SEC-7","fields":{"summary":"[HIGH] New script"}}],"isLast":true}`, nil)
	h.On(http.MethodPost, createURL, 201, created, nil)

	r, err := h.n.Send(context.Background(), fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "SEC-7", URL: site + "/browse/SEC-7"}, r)
	require.Equal(t, 1, h.Calls(http.MethodPost, searchURL))
	require.Equal(t, 0, h.Calls(http.MethodPost, createURL), "no second issue is filed")
	require.Equal(t, 1, h.GetTotalCallCount())
}

func TestSendSearchRefusedForGoodStillFiles(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		warning bool
	}{
		{name: "unknown label", status: 400, body: `{"errorMessages":["The value 'cd-evt-1' does not exist for the field 'labels'."],"errors":{}}`},
		{name: "search gone", status: 410, body: `{"errorMessages":["The requested API has been removed."]}`, warning: true},
		{name: "bad JQL", status: 400, body: `{"errorMessages":["Error in the JQL Query"]}`, warning: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, searchURL, tt.status, tt.body, nil)
			h.On(http.MethodPost, createURL, 201, created, nil)
			r, err := h.n.Send(context.Background(), fullEvent())
			require.NoError(t, err)
			require.Equal(t, "SEC-24", r.ID)
			require.Equal(t, 1, h.Calls(http.MethodPost, createURL))
			require.Equal(t, tt.warning, strings.Contains(h.logs.String(), "level=WARN"), h.logs.String())
		})
	}
}

func TestSendSearchFailureStopsSend(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		kind      error
		retryable bool
	}{
		{name: "unavailable", status: 503, kind: notify.ErrUnavailable, retryable: true},
		{name: "rate limited", status: 429, header: http.Header{"Retry-After": {"7"}}, kind: notify.ErrRateLimited, retryable: true},
		{name: "unauthorized", status: 401, kind: notify.ErrUnauthorized},
		{name: "anonymous answer after a failed login", status: 200, header: http.Header{seraphHeader: {"AUTHENTICATED_FAILED"}}, kind: notify.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, searchURL, tt.status, noIssues, tt.header)
			h.On(http.MethodPost, createURL, 201, created, nil)
			_, err := h.n.Send(context.Background(), fullEvent())
			ne := requireKind(t, err, tt.kind, tt.retryable)
			require.Equal(t, opSearch, ne.Op)
			require.Equal(t, 0, h.Calls(http.MethodPost, createURL), "nothing is filed")
		})
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		header    http.Header
		kind      error
		retryable bool
		message   string // part of the error text
		hint      string // part of the hint
	}{
		{
			name: "labels not on screen", status: 400,
			body:    `{"errorMessages":[],"errors":{"labels":"Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."}}`,
			kind:    notify.ErrRejected,
			message: "labels: Field 'labels' cannot be set",
			hint:    `add the Labels field to the create screen of issue type "Task"`,
		},
		{
			name: "priority not on screen", status: 400,
			body:    `{"errorMessages":[],"errors":{"priority":"Field 'priority' cannot be set. It is not on the appropriate screen, or unknown.","labels":"x"}}`,
			kind:    notify.ErrRejected,
			message: "labels: x; priority: Field 'priority' cannot be set",
			hint:    "add the Priority field to the create screen",
		},
		{
			name: "priority unknown", status: 400,
			body:    `{"errorMessages":[],"errors":{"priority":"The priority selected is invalid."}}`,
			kind:    notify.ErrRejected,
			message: "priority: The priority selected is invalid.",
			hint:    "priority scheme lacks",
		},
		{
			name: "issue type not in project", status: 400,
			body:    `{"errorMessages":[],"errors":{"issuetype":"The issue type selected is invalid."}}`,
			kind:    notify.ErrRejected,
			message: "issuetype: The issue type selected is invalid.",
			hint:    `issue type "Task" is not in project 10000`,
		},
		{
			name: "project", status: 400,
			body:    `{"errorMessages":[],"errors":{"project":"Specify a valid project ID or key"}}`,
			kind:    notify.ErrRejected,
			message: "project: Specify a valid project ID or key",
			hint:    "check project_id",
		},
		{
			name: "required custom field", status: 400,
			body:    `{"errorMessages":["Team is required."],"errors":{"customfield_10001":"Team is required."}}`,
			kind:    notify.ErrRejected,
			message: "Team is required.; customfield_10001: Team is required.",
			hint:    "requires fields the integration does not fill (customfield_10001)",
		},
		{
			name: "error text echoing the credentials", status: 400,
			body: `{"errorMessages":["bad header Basic ` + basic.Reveal() + ` for token ` + token.Reveal() + `"]}`,
			kind: notify.ErrRejected, message: "bad header Basic [REDACTED] for token [REDACTED]",
		},
		{name: "unauthorized", status: 401, body: `{"errorMessages":["Client must be authenticated"]}`, kind: notify.ErrUnauthorized,
			message: "Client must be authenticated", hint: "classic API token"},
		{name: "forbidden", status: 403, body: `{"errorMessages":["no permission"]}`, kind: notify.ErrForbidden, hint: "Create issues"},
		{name: "captcha", status: 403, header: http.Header{seraphHeader: {"AUTHENTICATION_DENIED"}}, kind: notify.ErrUnauthorized, hint: "CAPTCHA"},
		{name: "created without a key", status: 201, body: `{"id":"10100"}`, kind: notify.ErrRejected, message: "no issue key"},
		{name: "created with HTML", status: 201, body: `<html>proxy</html>`, kind: notify.ErrRejected, message: "not the expected JSON"},
		{name: "redirect", status: 302, header: http.Header{"Location": {"https://login.example/"}}, kind: notify.ErrRejected, message: "redirect to login.example not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, searchURL, 200, noIssues, nil)
			h.On(http.MethodPost, createURL, tt.status, tt.body, tt.header)
			_, err := h.n.Send(context.Background(), fullEvent())
			ne := requireKind(t, err, tt.kind, tt.retryable)
			require.Equal(t, opCreate, ne.Op)
			require.Contains(t, err.Error(), tt.message)
			require.Contains(t, ne.Hint, tt.hint)
		})
	}
}

// TestRetryClassification replays recorded answers to a create and checks
// what a retry wrapper would read from the error.
func TestRetryClassification(t *testing.T) {
	reset := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	tests := []struct {
		name       string
		status     int
		header     http.Header
		kind       error
		retryable  bool
		retryAfter func(time.Duration) bool
	}{
		{name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"30"}}, kind: notify.ErrRateLimited, retryable: true,
			retryAfter: func(d time.Duration) bool { return d == 30*time.Second }},
		{name: "429 with an ISO-8601 X-RateLimit-Reset", status: 429, header: http.Header{"X-Ratelimit-Reset": {reset}}, kind: notify.ErrRateLimited, retryable: true,
			retryAfter: func(d time.Duration) bool { return d > 25*time.Minute && d <= 30*time.Minute }},
		{name: "429 without a header", status: 429, kind: notify.ErrRateLimited, retryable: true, // the floor, never "retry now"
			retryAfter: func(d time.Duration) bool { return d == time.Second }},
		{name: "503 with Retry-After", status: 503, header: http.Header{"Retry-After": {"5"}}, kind: notify.ErrUnavailable, retryable: true,
			retryAfter: func(d time.Duration) bool { return d == 5*time.Second }},
		{name: "500", status: 500, kind: notify.ErrUnavailable, retryable: true},
		{name: "502", status: 502, kind: notify.ErrUnavailable, retryable: true},
		{name: "504", status: 504, kind: notify.ErrUnavailable, retryable: true},
		{name: "501", status: 501, kind: notify.ErrRejected},
		{name: "400", status: 400, kind: notify.ErrRejected},
		{name: "401", status: 401, kind: notify.ErrUnauthorized},
		{name: "404", status: 404, kind: notify.ErrNotFound},
		{name: "410", status: 410, kind: notify.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, searchURL, 200, noIssues, nil)
			h.On(http.MethodPost, createURL, tt.status, `{"errorMessages":["x"]}`, tt.header)
			_, err := h.n.Send(context.Background(), fullEvent())
			requireKind(t, err, tt.kind, tt.retryable)
			d := notify.RetryAfterOf(err)
			if tt.retryAfter == nil {
				require.Zero(t, d)
			} else {
				require.True(t, tt.retryAfter(d), "retry after %s", d)
			}
		})
	}
	t.Run("network failure", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.On(http.MethodPost, searchURL, 200, noIssues, nil)
		h.RegisterResponder(http.MethodPost, createURL, httpmock.NewErrorResponder(errors.New("connection reset by peer")))
		_, err := h.n.Send(context.Background(), fullEvent())
		requireKind(t, err, notify.ErrUnavailable, true)
	})
	t.Run("caller cancels mid-flight", func(t *testing.T) {
		h := newHarness(t, validConfig())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h.RegisterResponder(http.MethodPost, searchURL, func(r *http.Request) (*http.Response, error) {
			cancel()
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		_, err := h.n.Send(ctx, fullEvent())
		requireKind(t, err, notify.ErrUnavailable, false)
		require.Zero(t, h.Calls(http.MethodPost, createURL))
	})
}

func TestSendRefusesInvalidEvent(t *testing.T) {
	h := newHarness(t, validConfig())
	e := fullEvent()
	e.ID = "bad id"
	e.Title = ""
	_, err := h.n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("id"))
	require.True(t, ve.Has("title"))
	require.Zero(t, h.GetTotalCallCount(), "no network call")
}

// Test fixtures: the answers of a site where everything is in place.
const (
	myselfOK  = `{"accountId":"5b10ac8d82e05b22cc7d4ef5","emailAddress":"SecOps@acme.example","displayName":"Sec Ops","active":true}`
	projectOK = `{"id":"10000","key":"SEC","name":"Security"}`
	typesPage = `{"startAt":0,"maxResults":2,"total":3,"issueTypes":[{"id":"10001","name":"Bug"},{"id":"10003","name":"Story"}]}`
	typesLast = `{"startAt":2,"maxResults":50,"total":3,"issueTypes":[{"id":"10002","name":"task"}]}`
)

func fieldsJSON(fields ...string) string {
	return `{"startAt":0,"maxResults":50,"total":` + fmt.Sprint(len(fields)) + `,"fields":[` + strings.Join(fields, ",") + `]}`
}

const (
	summaryField  = `{"fieldId":"summary","key":"summary","name":"Summary","required":true,"hasDefaultValue":false}`
	typeField     = `{"fieldId":"issuetype","key":"issuetype","name":"Issue Type","required":true,"hasDefaultValue":false}`
	reporterField = `{"fieldId":"reporter","key":"reporter","name":"Reporter","required":true,"hasDefaultValue":false}`
	labelsField   = `{"fieldId":"labels","key":"labels","name":"Labels","required":false,"autoCompleteUrl":"https://acme.atlassian.net/rest/api/1.0/labels/suggest?query="}`
	priorityField = `{"fieldId":"priority","key":"priority","name":"Priority","required":false,"hasDefaultValue":true,` +
		`"allowedValues":[{"id":"1","name":"Highest"},{"id":"2","name":"High"},{"id":"3","name":"Medium"},{"id":"4","name":"Low"},{"id":"5","name":"Lowest"}]}`
)

// testSite answers Test's calls; edit changes one answer.
func testSite(h *harness, fields string) {
	h.On(http.MethodGet, myselfURL, 200, myselfOK, nil)
	h.On(http.MethodGet, projURL, 200, projectOK, nil)
	h.On(http.MethodGet, typesURL+"?startAt=0&maxResults=50", 200, typesPage, nil)
	h.On(http.MethodGet, typesURL+"?startAt=2&maxResults=50", 200, typesLast, nil)
	h.On(http.MethodGet, fieldsURL+"?startAt=0&maxResults=50", 200, fields, nil)
}

func TestTestPasses(t *testing.T) {
	c := validConfig()
	c.PriorityFromRisk = true
	h := newHarness(t, c)
	testSite(h, fieldsJSON(summaryField, typeField, reporterField, labelsField, priorityField))

	require.NoError(t, h.n.Test(context.Background()))

	reqs := h.Requests()
	urls := make([]string, len(reqs))
	for i, r := range reqs {
		require.Equal(t, http.MethodGet, r.Method)
		require.Empty(t, r.Body)
		requireHeaders(t, r, false)
		urls[i] = r.URL()
	}
	require.Equal(t, []string{
		myselfURL,
		projURL,
		typesURL + "?startAt=0&maxResults=50",
		typesURL + "?startAt=2&maxResults=50",
		fieldsURL + "?startAt=0&maxResults=50",
	}, urls)
	require.Zero(t, h.Calls(http.MethodPost, createURL), "Test files nothing")
}

func TestTestFailures(t *testing.T) {
	okFields := fieldsJSON(summaryField, typeField, labelsField, priorityField)
	tests := []struct {
		name     string
		priority bool
		setup    func(h *harness)
		kind     error
		op       string
		message  string
		hint     string
	}{
		{
			name: "token of another user",
			setup: func(h *harness) {
				h.On(http.MethodGet, myselfURL, 200, `{"accountId":"x","emailAddress":"intern@acme.example"}`, nil)
			},
			kind: notify.ErrUnauthorized, op: opMyself,
			message: "the token is not reporter_email's: Jira says it belongs to intern@acme.example, not secops@acme.example",
			hint:    "create the token while signed in as reporter_email",
		},
		{
			name: "bad token",
			setup: func(h *harness) {
				h.On(http.MethodGet, myselfURL, 401, `{"errorMessages":["Client must be authenticated"]}`, nil)
			},
			kind: notify.ErrUnauthorized, op: opMyself, message: "status 401", hint: "classic API token",
		},
		{
			name: "failed login answered anonymously",
			setup: func(h *harness) {
				h.On(http.MethodGet, myselfURL, 200, myselfOK, http.Header{seraphHeader: {"AUTHENTICATED_FAILED"}})
			},
			kind: notify.ErrUnauthorized, op: opMyself, message: "X-Seraph-LoginReason: AUTHENTICATED_FAILED",
		},
		{
			name:  "not Jira",
			setup: func(h *harness) { h.On(http.MethodGet, myselfURL, 200, `<html>login</html>`, nil) },
			kind:  notify.ErrRejected, op: opMyself, message: "not the expected JSON",
		},
		{
			name: "project missing",
			setup: func(h *harness) {
				h.On(http.MethodGet, myselfURL, 200, myselfOK, nil)
				h.On(http.MethodGet, projURL, 404, `{"errorMessages":["No project could be found with id '10000'."]}`, nil)
			},
			kind: notify.ErrNotFound, op: "test: GET /rest/api/2/project/10000",
			message: "No project could be found", hint: "check project_id",
		},
		{
			name: "issue type missing",
			setup: func(h *harness) {
				testSite(h, okFields)
				h.On(http.MethodGet, typesURL+"?startAt=2&maxResults=50", 200, `{"startAt":2,"total":3,"issueTypes":[{"id":"10004","name":"Epic"}]}`, nil)
			},
			kind: notify.ErrNotFound, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes",
			message: `issue type "Task" is not in project SEC (it has: Bug, Story, Epic)`, hint: "set issue_type",
		},
		{
			name: "no create permission",
			setup: func(h *harness) {
				testSite(h, okFields)
				h.On(http.MethodGet, typesURL+"?startAt=0&maxResults=50", 200, `{"startAt":0,"maxResults":50,"total":0,"issueTypes":[]}`, nil)
			},
			kind: notify.ErrForbidden, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes",
			message: "no issue type reporter_email may create in project SEC", hint: "Create issues permission",
		},
		{
			name:  "labels not on screen",
			setup: func(h *harness) { testSite(h, fieldsJSON(summaryField, typeField)) },
			kind:  notify.ErrRejected, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes/10002",
			message: `the Labels field is not on the create screen of issue type "task" in project SEC: add it`,
		},
		{
			name:     "priority not on screen",
			priority: true,
			setup:    func(h *harness) { testSite(h, fieldsJSON(summaryField, labelsField)) },
			kind:     notify.ErrRejected, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes/10002",
			message: `the Priority field is not on the create screen of issue type "task" in project SEC: add it, or turn priority_from_risk off`,
		},
		{
			name:     "renamed priorities",
			priority: true,
			setup: func(h *harness) {
				testSite(h, fieldsJSON(labelsField, `{"fieldId":"priority","name":"Priority","allowedValues":[{"name":"P1"},{"name":"high"},{"name":"Medium"},{"name":"Low"}]}`))
			},
			kind: notify.ErrRejected, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes/10002",
			message: "the project has no priority named Highest, Lowest (it has: P1, high, Medium, Low)",
		},
		{
			name: "a required field the integration does not fill",
			setup: func(h *harness) {
				testSite(h, fieldsJSON(summaryField, labelsField,
					`{"fieldId":"customfield_10001","name":"Team","required":true,"hasDefaultValue":false}`,
					`{"fieldId":"components","name":"Components","required":true,"hasDefaultValue":true}`))
			},
			kind: notify.ErrRejected, op: "test: GET /rest/api/2/issue/createmeta/10000/issuetypes/10002",
			message: `issue type "task" requires fields the integration does not fill: Team (customfield_10001)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.PriorityFromRisk = tt.priority
			h := newHarness(t, c)
			tt.setup(h)
			err := h.n.Test(context.Background())
			ne := requireKind(t, err, tt.kind, false)
			require.Equal(t, tt.op, ne.Op)
			require.Contains(t, err.Error(), tt.message)
			require.Contains(t, ne.Hint, tt.hint)
			require.Zero(t, h.Calls(http.MethodPost, createURL), "Test files nothing")
		})
	}
}

func TestTestEveryScreenProblemListed(t *testing.T) {
	c := validConfig()
	c.PriorityFromRisk = true
	h := newHarness(t, c)
	testSite(h, fieldsJSON(`{"fieldId":"customfield_1","name":"Team","required":true}`))
	r := h.n.TestReport(context.Background())
	require.Error(t, r.Err())
	for i, want := range []struct {
		name, status, detail string
	}{
		{checkMyself, "passed", "reporter_email's"},
		{checkProject, "passed", "can see the project"},
		{checkType, "passed", `Issue type "task" is in project SEC`},
		{checkLabels, "failed", "Labels field"},
		{checkPriority, "failed", "Priority field"},
		{checkRequired, "failed", "Team (customfield_1)"},
	} {
		require.Equal(t, want.name, r.Checks[i].Name)
		require.EqualValues(t, want.status, r.Checks[i].Status, want.name)
		require.Contains(t, r.Checks[i].Detail, want.detail)
		if want.status == "failed" {
			notifytest.AssertNoSecret(t, r.Checks[i].Err, secrets...)
		}
	}
	require.Len(t, r.Checks, 6)
	require.Equal(t, r.Checks[3].Err, r.Err(), "Test returns the first failure")
}

func TestTestReportSkipsAfterAFailure(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodGet, myselfURL, 401, `{"errorMessages":["Client must be authenticated"]}`, nil)
	r := h.n.TestReport(context.Background())
	requireKind(t, r.Err(), notify.ErrUnauthorized, false)
	require.Len(t, r.Checks, 6)
	require.Equal(t, notify.CheckFailed, r.Checks[0].Status)
	for _, c := range r.Checks[1:] {
		require.Equal(t, notify.CheckSkipped, c.Status, c.Name)
	}
	require.Equal(t, 1, h.GetTotalCallCount())
}

func TestTestReportPasses(t *testing.T) {
	h := newHarness(t, validConfig())
	testSite(h, fieldsJSON(summaryField, labelsField))
	r := h.n.TestReport(context.Background())
	require.NoError(t, r.Err())
	statuses := make([]notify.CheckStatus, len(r.Checks))
	for i, c := range r.Checks {
		statuses[i] = c.Status
	}
	require.Equal(t, []notify.CheckStatus{notify.CheckPassed, notify.CheckPassed, notify.CheckPassed, notify.CheckPassed,
		notify.CheckSkipped, notify.CheckPassed}, statuses, "priority_from_risk is off")
}

func TestTestHiddenEmail(t *testing.T) {
	h := newHarness(t, validConfig())
	testSite(h, fieldsJSON(labelsField))
	h.On(http.MethodGet, myselfURL, 200, `{"accountId":"5b10ac8d82e05b22cc7d4ef5","displayName":"Sec Ops"}`, nil)
	r := h.n.TestReport(context.Background())
	require.NoError(t, r.Err())
	require.Equal(t, notify.CheckWarning, r.Checks[0].Status)
	require.Contains(t, r.Checks[0].Detail, "Jira hides the account's e-mail address, so Test cannot compare it with reporter_email")
}

func TestTestReadsOversizedCreateScreen(t *testing.T) {
	h := newHarness(t, validConfig())
	testSite(h, "")
	// A select list with thousands of options makes the page larger than the
	// library reads: Test reads the window again one field at a time.
	var opts []string
	for i := range 3000 {
		opts = append(opts, fmt.Sprintf(`{"id":"%d","value":"option number %d"}`, i, i))
	}
	huge := `{"fieldId":"customfield_9","name":"Huge","required":false,"allowedValues":[` + strings.Join(opts, ",") + `]}`
	h.On(http.MethodGet, fieldsURL+"?startAt=0&maxResults=50", 200, fieldsJSON(summaryField, huge, labelsField), nil)
	h.On(http.MethodGet, fieldsURL+"?startAt=0&maxResults=1", 200, `{"startAt":0,"maxResults":1,"total":3,"fields":[`+summaryField+`]}`, nil)
	h.On(http.MethodGet, fieldsURL+"?startAt=1&maxResults=1", 200, `{"startAt":1,"maxResults":1,"total":3,"fields":[`+huge+`]}`, nil)
	h.On(http.MethodGet, fieldsURL+"?startAt=2&maxResults=1", 200, `{"startAt":2,"maxResults":1,"total":3,"fields":[`+labelsField+`]}`, nil)
	require.Greater(t, len(huge), sender.MaxResponseBytes)

	require.NoError(t, h.n.Test(context.Background()))
	for _, q := range []string{"?startAt=0&maxResults=50", "?startAt=0&maxResults=1", "?startAt=1&maxResults=1", "?startAt=2&maxResults=1"} {
		require.Equal(t, 1, h.Calls(http.MethodGet, fieldsURL+q), q)
	}
}

func TestEscapeWiki(t *testing.T) {
	tests := []struct {
		in, inline, multiline string
	}{
		{in: "*bold* _it_ -del- +ins+ ^sup^ ~sub~ ??cite??", inline: `\*bold\* \_it\_ \-del\- \+ins\+ \^sup\^ \~sub\~ \?\?cite\?\?`},
		{in: "[click|https://evil.example]", inline: `\[click\|https://evil.example\]`},
		{in: "!https://evil.example/pixel.png!", inline: `\!https://evil.example/pixel.png\!`},
		{in: "{color:red}x{color} {code}y{code}", inline: `\{color:red\}x\{color\} \{code\}y\{code\}`},
		{in: "[~accountid:123] @here (y) 100%", inline: `\[\~accountid:123\] \@here \(y\) 100\%`},
		{in: `a\\b \[`, inline: `a&#92;&#92;b &#92;\[`},
		{in: "# one\n* two\n----", inline: `\# one \* two \-\-\-\-`, multiline: "\\# one\n\\* two\n\\-\\-\\-\\-"},
		{in: "h1. title\n  bq. quote\nh7. no\n\th2. tab", inline: "h1. title   bq. quote h7. no  h2. tab",
			multiline: "&#104;1. title\n  &#98;q. quote\nh7. no\n &#104;2. tab"},
		{in: "a\r\nb\rc\td", inline: "a  b c d", multiline: "a\nb\nc d"},
		{in: "plain text, é and 🚨", inline: "plain text, é and 🚨"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.inline, escapeWiki(tt.in, 1000, false), "inline %q", tt.in)
		want := tt.multiline
		if want == "" {
			want = tt.inline
		}
		require.Equal(t, want, escapeWiki(tt.in, 1000, true), "multiline %q", tt.in)
	}
	require.Equal(t, `ab\*…`, escapeWiki("ab**cd", 5, false), "cut between escapes")
	require.Equal(t, `ab…`, escapeWiki("ab**cd", 4, false), "never half an escape")
	require.Equal(t, `ab\*`, escapeWiki("ab*", 4, false), "fits exactly: no marker")
}

func TestLinkTarget(t *testing.T) {
	require.Equal(t, "https://x.example/a%20b%7Cc%5D%5Bd%7B%7D%21", linkTarget("https://x.example/a b|c][d{}!"))
	require.Equal(t, "https://x.example/ab", linkTarget("https://x.example/a\nb"))
}

func TestJQLString(t *testing.T) {
	require.Equal(t, `"cd-evt-1"`, jqlString("cd-evt-1"))
	require.Equal(t, `"a\"b\\c\nd"`, jqlString("a\"b\\c\nd"))
	require.Equal(t, `project = 10000 AND labels = "cd-x:y_z" AND statusCategory != "Done"`, duplicateJQL("10000", "x:y_z"))
}

func TestTruncateUnits(t *testing.T) {
	require.Equal(t, "abc", truncateUnits("abc", 3))
	require.Equal(t, "a…", truncateUnits("abc", 2))
	require.Equal(t, "…", truncateUnits("🚨🚨", 2))
	require.Equal(t, "🚨…", truncateUnits("🚨🚨", 3))
	require.Equal(t, "", truncateUnits("abc", 0))
}

var entity = regexp.MustCompile(`&#[0-9]+;`)

// FuzzEscapeWiki checks, on any input, that escaping never panics, stays
// within its limit, keeps valid UTF-8, and leaves no markup character
// unescaped.
func FuzzEscapeWiki(f *testing.F) {
	for _, s := range []string{"", "*a*", "[x|y]", `\\*`, "h1. x\nbq. y", "🚨{code}", "\xff\xfe*", "a\r\n\r\nb", "\x15h1.", "\th1."} {
		f.Add(s, 40, true)
		f.Add(s, 3, false)
	}
	f.Fuzz(func(t *testing.T, s string, max int, multiline bool) {
		if max < 0 || max > 10000 {
			return
		}
		out := escapeWiki(s, max, multiline)
		require.LessOrEqual(t, utf16Len(out), max)
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(out))
		}
		body := strings.TrimSuffix(entity.ReplaceAllString(out, "E"), text.TruncationMarker)
		for i, r := range body {
			if strings.ContainsRune(wikiEscapable, r) {
				require.True(t, i > 0 && body[i-1] == '\\', "unescaped %q in %q", r, out)
			}
		}
		if !multiline {
			require.NotContains(t, out, "\n")
		}
		if multiline { // inline values never open a line: a label or a cell border comes first
			for line := range strings.SplitSeq(out, "\n") {
				require.False(t, startsBlock(strings.TrimLeft(line, " ")), "block marker in %q", out)
			}
		}
	})
}

func TestSeraphKeyIsCanonical(t *testing.T) {
	require.Equal(t, http.CanonicalHeaderKey(seraphHeader), seraphKey)
}
