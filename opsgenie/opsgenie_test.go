package opsgenie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	apiKey = "eb243592-faa2-4ba2-a551-1afdf565c889"
	teamID = "4513b7ea-3b91-438f-b7e4-e3e54af9147c"

	listURL = AlertsURL + "?limit=1"
	teamURL = "https://api.opsgenie.com/v2/teams/" + teamID + "?identifierType=id"

	accepted = `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`
	listed   = `{"data":[],"took":0.01,"requestId":"r-1"}`
	teamOK   = `{"data":{"id":"` + teamID + `","name":"SOC"},"took":0.01,"requestId":"r-2"}`
)

var secret = notify.Secret(apiKey)

func validConfig() Config {
	return Config{Name: "SOC pager", URL: AlertsURL, TeamID: teamID, APIKey: secret}
}

type route struct {
	status int
	body   string
	header http.Header
}

// mockOpsgenie answers "METHOD URL" (the URL with its query) from routes;
// a request with no route fails, as an unknown endpoint would.
func mockOpsgenie(routes map[string]route) *testkit.MockAPI {
	m := testkit.NewMockAPI()
	for k, rt := range routes {
		method, u, _ := strings.Cut(k, " ")
		h := http.Header{"Content-Type": {"application/json"}}
		for name, v := range rt.header {
			h[name] = v
		}
		m.On(method, u, rt.status, rt.body, h)
	}
	return m
}

func newNotifier(t *testing.T, c Config, m *testkit.MockAPI) (*Notifier, *notifytest.LogBuffer) {
	t.Helper()
	logger, logs := notifytest.NewLogger()
	n, err := New(c, notify.WithHTTPClient(m.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	return n, logs
}

func requireHeaders(t *testing.T, r notifytest.RecordedRequest, withBody bool) {
	t.Helper()
	require.Equal(t, "GenieKey "+apiKey, r.Header.Get("Authorization"))
	require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
	if withBody {
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	} else {
		require.Empty(t, r.Body)
	}
}

// quoted is s as a JSON string, for expected bodies.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestConfigValidate(t *testing.T) {
	with := func(change func(*Config)) Config {
		c := validConfig()
		change(&c)
		return c
	}
	url := func(u string) Config { return with(func(c *Config) { c.URL = u }) }
	key := func(k notify.Secret) Config { return with(func(c *Config) { c.APIKey = k }) }
	team := func(id string) Config { return with(func(c *Config) { c.TeamID = id }) }
	urlField, keyField, teamField := []string{"url"}, []string{"api_key"}, []string{"team_id"}
	testkit.RunValidate(t, []testkit.ValidateCase[Config]{
		{Name: "valid", Config: validConfig()},
		{Name: "valid EU", Config: url(AlertsURLEU)},
		{Name: "valid JSM", Config: url(AlertsURLJSM)},
		{Name: "valid without team", Config: team("")},
		{Name: "valid team id in upper case", Config: team(strings.ToUpper(teamID))},

		{Name: "name missing", Config: with(func(c *Config) { c.Name = "" }), Fields: []string{"name"}, Schema: true},
		{Name: "name too long", Config: with(func(c *Config) { c.Name = strings.Repeat("n", 101) }), Fields: []string{"name"}, Schema: true},

		{Name: "url missing", Config: url(""), Fields: urlField, Schema: true},
		{Name: "url is the bare API host", Config: url("https://api.opsgenie.com"), Fields: urlField, Schema: true},
		{Name: "url with a trailing slash", Config: url(AlertsURL + "/"), Fields: urlField, Schema: true},
		{Name: "url over http", Config: url("http://api.eu.opsgenie.com/v2/alerts"), Fields: urlField, Schema: true},
		{Name: "url in upper case", Config: url("https://API.OPSGENIE.COM/v2/Alerts"), Fields: urlField, Schema: true},
		{Name: "url is the web app", Config: url("https://acme.app.opsgenie.com/alert/list"), Fields: urlField, Schema: true},
		{Name: "url is the EU web app", Config: url("https://acme.app.eu.opsgenie.com"), Fields: urlField, Schema: true},
		{Name: "url is part of the JSM path", Config: url("https://api.atlassian.com/jsm/ops/integration/"), Fields: urlField, Schema: true},
		{Name: "url elsewhere", Config: url("https://example.com/v2/alerts"), Fields: urlField, Schema: true},

		{Name: "team is a name", Config: team("SOC"), Fields: teamField, Schema: true},
		{Name: "team id cut short", Config: team(teamID[:35]), Fields: teamField, Schema: true},

		{Name: "key missing", Config: key(""), Fields: keyField, Schema: true},
		{Name: "key is the mask", Config: key(notify.Redacted), Fields: keyField},
		{Name: "key with the GenieKey prefix", Config: key("GenieKey " + secret), Fields: keyField},
		{Name: "key with a space", Config: key(secret + " x"), Fields: keyField},
		{Name: "key with a line break", Config: key(secret + "\n"), Fields: keyField},

		{Name: "every field bad at once", Config: Config{URL: "https://api.opsgenie.com/v1/alerts", TeamID: "ops"},
			Fields: []string{"name", "url", "team_id", "api_key"}, Schema: true},
	}, func(c Config) []notify.Secret { return testkit.Unmasked(secret, c.APIKey) })
}

// TestConfigValidateSays checks what the field errors say: the URL that
// was meant, and what is wrong with a pasted key, never repeating it.
func TestConfigValidateSays(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                     "is required: " + AlertsURL,
		"https://api.opsgenie.com":             "did you mean " + AlertsURL + "?",
		"http://api.eu.opsgenie.com/v2/alerts": "did you mean " + AlertsURLEU + "?",
		"https://acme.app.eu.opsgenie.com":     "did you mean " + AlertsURLEU + "?",
		"https://api.atlassian.com/jsm/ops/integration/": "did you mean " + AlertsURLJSM + "?",
		"https://example.com/v2/alerts":                  "must be " + AlertsURL,
	} {
		require.ErrorContains(t, Config{Name: "SOC", URL: raw, APIKey: secret}.Validate(), want, raw)
	}
	require.ErrorContains(t, Config{Name: "SOC", URL: AlertsURL, TeamID: "SOC", APIKey: secret}.Validate(), "not its name")
	for k, want := range map[notify.Secret]string{
		"GenieKey " + secret: `without the "GenieKey" prefix`,
		secret + " x":        "spaces",
		notify.Redacted:      "mask",
	} {
		err := Config{Name: "SOC", URL: AlertsURL, APIKey: k}.Validate()
		require.ErrorContains(t, err, want)
		notifytest.AssertNoSecret(t, err, secret)
	}
}

func TestSendFullEvent(t *testing.T) {
	m := mockOpsgenie(map[string]route{"POST " + AlertsURL: {status: 202, body: accepted}})
	n, logs := newNotifier(t, validConfig(), m)

	rc, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}, rc)

	require.Len(t, m.Requests(), 1)
	r := m.Requests()[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, AlertsURL, r.URL())
	requireHeaders(t, r, true)
	require.JSONEq(t, `{
		"message": "New script on checkout",
		"alias": "evt-123",
		"description": `+quoted(testkit.FullEvent().Description+"\n\nOpen in Code Defender: "+testkit.FullEvent().URL)+`,
		"responders": [{"id": "`+teamID+`", "type": "team"}],
		"tags": ["pci", "checkout"],
		"details": {"script": "https://cdn.example.net/a.js", "page": "/checkout"},
		"entity": "shop.example.com",
		"source": "Code Defender",
		"priority": "P1"
	}`, string(r.Body))
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

func TestSendMinimalEventEUWithoutTeam(t *testing.T) {
	m := mockOpsgenie(map[string]route{"POST " + AlertsURLEU: {status: 202, body: accepted}})
	c := validConfig()
	c.URL, c.TeamID = AlertsURLEU, ""
	n, _ := newNotifier(t, c, m)

	_, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	require.Len(t, m.Requests(), 1)
	require.Equal(t, AlertsURLEU, m.Requests()[0].URL())
	requireHeaders(t, m.Requests()[0], true)
	require.JSONEq(t, `{"message":"Minimal","alias":"evt-1","source":"Code Defender","priority":"P4"}`,
		string(m.Requests()[0].Body))
}

func TestSendToJSM(t *testing.T) {
	m := mockOpsgenie(map[string]route{"POST " + AlertsURLJSM: {status: 202, body: accepted}})
	c := validConfig()
	c.URL = AlertsURLJSM
	n, _ := newNotifier(t, c, m)

	rc, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	require.Equal(t, "43a29c5c-3dbf-4fa4-9c26-f4f71023e120", rc.ID)
	require.Equal(t, http.MethodPost, m.Requests()[0].Method)
	require.Equal(t, AlertsURLJSM, m.Requests()[0].URL())
	requireHeaders(t, m.Requests()[0], true)
	require.JSONEq(t, `{"message":"Minimal","alias":"evt-1","responders":[{"id":"`+teamID+`","type":"team"}],
		"source":"Code Defender","priority":"P4"}`, string(m.Requests()[0].Body))
}

func TestPriorityFromRisk(t *testing.T) {
	want := map[notify.Risk]string{
		notify.RiskCritical: "P1", notify.RiskHigh: "P2", notify.RiskMedium: "P3", notify.RiskLow: "P4", notify.RiskInfo: "P5",
	}
	for risk, p := range want {
		m := mockOpsgenie(map[string]route{"POST " + AlertsURL: {status: 202, body: accepted}})
		n, _ := newNotifier(t, validConfig(), m)
		e := testkit.MinimalEvent()
		e.Risk = risk
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		var got alert
		require.NoError(t, json.Unmarshal(m.Requests()[0].Body, &got))
		require.Equal(t, p, got.Priority, risk)
	}
}

func TestSendLimits(t *testing.T) {
	send := func(t *testing.T, e notify.Event) alert {
		t.Helper()
		m := mockOpsgenie(map[string]route{"POST " + AlertsURL: {status: 202, body: accepted}})
		n, _ := newNotifier(t, validConfig(), m)
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		require.Len(t, m.Requests(), 1)
		var got alert
		require.NoError(t, json.Unmarshal(m.Requests()[0].Body, &got))
		return got
	}
	runes := utf8.RuneCountInString

	t.Run("message 130", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = strings.Repeat("ü", 200)
		require.Equal(t, strings.Repeat("ü", 129)+"…", send(t, e).Message)
	})
	t.Run("message is one line", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = "a\nb"
		require.Equal(t, "a b", send(t, e).Message)
	})
	t.Run("description 15,000 keeps the link", func(t *testing.T) {
		e := testkit.FullEvent()
		e.Description = strings.Repeat("d", 20000)
		got := send(t, e).Description
		require.Equal(t, 15000, runes(got))
		link := "\n\nOpen in Code Defender: " + e.URL
		require.True(t, strings.HasSuffix(got, "d…"+link))
	})
	t.Run("description 15,000 without a link", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Description = strings.Repeat("d", 20000)
		require.Equal(t, strings.Repeat("d", 14999)+"…", send(t, e).Description)
	})
	t.Run("a huge link does not displace the description", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Description = "text"
		e.URL = "https://console.example/" + strings.Repeat("p", 8000)
		require.Equal(t, "text", send(t, e).Description)
	})
	t.Run("tags 20 × 50", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Tags = []string{strings.Repeat("x", 60), "dup", "dup", " ", "a\nb"}
		for i := range 30 {
			e.Tags = append(e.Tags, fmt.Sprintf("t%02d", i))
		}
		got := send(t, e).Tags
		require.Len(t, got, 20)
		require.Equal(t, strings.Repeat("x", 49)+"…", got[0])
		require.Equal(t, []string{"dup", "a b", "t00"}, got[1:4])
		require.Equal(t, "t16", got[19])
	})
	t.Run("details 8,000 in all", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{
			"a": strings.Repeat("1", 5000), // kept whole
			"b": strings.Repeat("2", 5000), // cut to what is left
			"c": strings.Repeat("3", 5000), // dropped: no room left
			"d": "4",                       // kept: it still fits
		}
		got := send(t, e).Details
		total := 0
		for k, v := range got {
			total += runes(k) + runes(v)
		}
		require.LessOrEqual(t, total, maxDetailsRunes)
		require.Equal(t, strings.Repeat("1", 5000), got["a"])
		require.Equal(t, "4", got["d"])
		require.NotContains(t, got, "c")
		// a: 5001, d: 2, so b has 8000-120-5001-2-1 = 2876 runes.
		require.Equal(t, strings.Repeat("2", 2875)+"…", got["b"])
		require.Equal(t, "1 cut, 1 dropped: Opsgenie takes 8000 characters of details; see the alert in Code Defender",
			got[noteKey])
	})
	t.Run("details that fit are sent as they are", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{"a": strings.Repeat("1", 7998)}
		got := send(t, e).Details
		require.Equal(t, map[string]string{"a": strings.Repeat("1", 7998)}, got)
	})
	t.Run("entity 512", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Source = strings.Repeat("s", 600)
		require.Equal(t, strings.Repeat("s", 511)+"…", send(t, e).Entity)
	})
}

func TestSendRefusesInvalidEvent(t *testing.T) {
	m := mockOpsgenie(nil)
	n, _ := newNotifier(t, validConfig(), m)
	e := testkit.FullEvent()
	e.ID = "has space"
	e.URL = "javascript:alert(1)"
	_, err := n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("id"))
	require.True(t, ve.Has("url"))
	require.Empty(t, m.Requests())
}

// TestSendErrors classifies recorded Opsgenie answers to a create, and
// checks that no error or log line holds the GenieKey.
func TestSendErrors(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		status     int
		body       string
		header     http.Header
		kind       error
		retryable  bool
		retryAfter time.Duration
		contains   []string
	}{
		{name: "429 with Retry-After", status: 429, body: `{"message":"You are making too many requests!","took":0.0}`,
			header: http.Header{"Retry-After": {"12"}, "X-Ratelimit-State": {"THROTTLED"}},
			kind:   notify.ErrRateLimited, retryable: true, retryAfter: 12 * time.Second,
			contains: []string{"status 429", "too many requests", "slow down"}},
		{name: "400", status: 400, body: `{"message":"Request body is not processable.","took":0.0}`,
			kind: notify.ErrRejected, contains: []string{"status 400", "Request body is not processable."}},
		{name: "401 US", status: 401, body: `{"message":"Key format is not valid!","took":0.0}`,
			kind: notify.ErrUnauthorized, contains: []string{"Key format is not valid!", "Opsgenie refused the API key",
				"EU accounts use " + AlertsURLEU}},
		{name: "401 JSM", url: AlertsURLJSM, status: 401, body: `{"message":"Unauthorized"}`,
			kind: notify.ErrUnauthorized, contains: []string{"JSM Operations refused the API key"}},
		{name: "403 read-only integration", status: 403, body: `{"message":"Integration is read only"}`,
			kind: notify.ErrForbidden, contains: []string{"Integration is read only", "Create and Update access"}},
		{name: "422 with errors by field", status: 422,
			body: `{"message":"Request body is not valid","errors":{"priority":"should be one of [P1, P2, P3, P4, P5]","message":"Message can not be empty."},"took":0.0,"requestId":"x"}`,
			kind: notify.ErrRejected, contains: []string{
				"Request body is not valid (message: Message can not be empty.; priority: should be one of [P1, P2, P3, P4, P5])",
				"a retry will not help"}},
		{name: "answer that echoes the key", status: 401, body: `{"message":"GenieKey ` + apiKey + ` is not valid"}`,
			kind: notify.ErrUnauthorized, contains: []string{"GenieKey [REDACTED] is not valid"}},
		{name: "500", status: 500, body: `{"message":"Internal Server Error"}`,
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"status 500"}},
		{name: "501 is not retried", status: 501, body: ``,
			kind: notify.ErrRejected, contains: []string{"status 501"}},
		{name: "503 HTML", status: 503, body: `<html><title>503 Service Temporarily Unavailable</title></html>`,
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"HTML page: 503 Service Temporarily Unavailable"}},
		{name: "202 without a requestId", status: 202, body: `{"result":"Request will be processed"}`,
			kind: notify.ErrRejected, contains: []string{"status 202", "no requestId"}},
		{name: "202 that is not JSON", status: 202, body: `accepted`,
			kind: notify.ErrRejected, contains: []string{"status 202", "not the expected JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			if tc.url != "" {
				c.URL = tc.url
			}
			m := mockOpsgenie(map[string]route{"POST " + c.URL: {status: tc.status, body: tc.body, header: tc.header}})
			n, logs := newNotifier(t, c, m)
			_, err := n.Send(context.Background(), testkit.FullEvent())
			require.Error(t, err)
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "send", e.Op)
			require.ErrorIs(t, err, tc.kind)
			require.Equal(t, tc.retryable, notify.IsRetryable(err))
			require.Equal(t, tc.retryAfter, notify.RetryAfterOf(err))
			for _, s := range tc.contains {
				require.Contains(t, err.Error(), s)
			}
			notifytest.AssertNoSecret(t, err, secret)
			notifytest.AssertNoSecret(t, logs.String(), secret)
		})
	}
}

// checks renders a report as "name: status" lines, in order.
func checks(r notify.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name+": "+string(c.Status))
	}
	return out
}

func TestTestReport(t *testing.T) {
	const (
		keyOK      = "API key accepted: passed"
		keyWarn    = "API key accepted: warning"
		keyFailed  = "API key accepted: failed"
		teamOK     = "team visible: passed"
		teamWarn   = "team visible: warning"
		teamFailed = "team visible: failed"
		teamSkip   = "team visible: skipped"
		createWarn = "key may create alerts: warning"
		createSkip = "key may create alerts: skipped"
	)
	teamFound := `{"data":{"id":"` + teamID + `","name":"SOC"},"took":0.01,"requestId":"r-2"}`
	tests := []struct {
		name     string
		config   func(*Config)
		routes   map[string]route
		requests []string // "METHOD URL" in order
		checks   []string
		kind     error // of the failed check; nil: Test passes
		contains []string
	}{
		{name: "key accepted, no team", config: func(c *Config) { c.TeamID = "" },
			routes:   map[string]route{"GET " + listURL: {status: 200, body: listed}},
			requests: []string{"GET " + listURL}, checks: []string{keyOK, teamSkip, createWarn}},
		{name: "key accepted, team found",
			routes:   map[string]route{"GET " + listURL: {status: 200, body: listed}, "GET " + teamURL: {status: 200, body: teamFound}},
			requests: []string{"GET " + listURL, "GET " + teamURL}, checks: []string{keyOK, teamOK, createWarn}},
		{name: "EU key accepted, team found", config: func(c *Config) { c.URL = AlertsURLEU },
			routes: map[string]route{
				"GET " + AlertsURLEU + "?limit=1":                                           {status: 200, body: listed},
				"GET https://api.eu.opsgenie.com/v2/teams/" + teamID + "?identifierType=id": {status: 200, body: teamFound},
			},
			requests: []string{"GET " + AlertsURLEU + "?limit=1", "GET https://api.eu.opsgenie.com/v2/teams/" + teamID + "?identifierType=id"},
			checks:   []string{keyOK, teamOK, createWarn}},
		{name: "key refused: region hint, no team lookup",
			routes:   map[string]route{"GET " + listURL: {status: 401, body: `{"message":"Could not authenticate","took":0.0}`}},
			requests: []string{"GET " + listURL}, checks: []string{keyFailed, teamSkip, createSkip}, kind: notify.ErrUnauthorized,
			contains: []string{"test: GET /v2/alerts", "status 401", "Could not authenticate", "Opsgenie refused the API key",
				"the URL's region matches the account", AlertsURLEU}},
		{name: "key without read access is a warning",
			routes: map[string]route{
				"GET " + listURL: {status: 403, body: `{"message":"Forbidden"}`},
				"GET " + teamURL: {status: 200, body: teamFound},
			},
			requests: []string{"GET " + listURL, "GET " + teamURL}, checks: []string{keyWarn, teamOK, createWarn}},
		{name: "429 with Retry-After",
			routes:   map[string]route{"GET " + listURL: {status: 429, header: http.Header{"Retry-After": {"3"}}}},
			requests: []string{"GET " + listURL}, checks: []string{keyFailed, teamSkip, createSkip}, kind: notify.ErrRateLimited,
			contains: []string{"status 429"}},
		{name: "500",
			routes:   map[string]route{"GET " + listURL: {status: 500, body: `{"message":"boom"}`}},
			requests: []string{"GET " + listURL}, checks: []string{keyFailed, teamSkip, createSkip}, kind: notify.ErrUnavailable,
			contains: []string{"status 500", "boom"}},
		{name: "200 that is not Opsgenie's",
			routes:   map[string]route{"GET " + listURL: {status: 200, body: `<html>login</html>`}},
			requests: []string{"GET " + listURL}, checks: []string{keyFailed, teamSkip, createSkip}, kind: notify.ErrRejected,
			contains: []string{"not the expected JSON"}},
		{name: "200 without data",
			routes:   map[string]route{"GET " + listURL: {status: 200, body: `{"ok":true}`}},
			requests: []string{"GET " + listURL}, checks: []string{keyFailed, teamSkip, createSkip}, kind: notify.ErrRejected,
			contains: []string{`no "data"`}},
		{name: "unknown team",
			routes: map[string]route{
				"GET " + listURL: {status: 200, body: listed},
				"GET " + teamURL: {status: 404, body: `{"message":"No team exists with id [` + teamID + `]","took":0.0}`},
			},
			requests: []string{"GET " + listURL, "GET " + teamURL}, checks: []string{keyOK, teamFailed, createWarn},
			kind: notify.ErrNotFound, contains: []string{"test: GET /v2/teams/{id}", "No team exists with id", "check team_id"}},
		{name: "team an alert-only key may not read is a warning",
			routes: map[string]route{
				"GET " + listURL: {status: 200, body: listed},
				"GET " + teamURL: {status: 403, body: `{"message":"You are not authorized for this operation"}`},
			},
			requests: []string{"GET " + listURL, "GET " + teamURL}, checks: []string{keyOK, teamWarn, createWarn}},
		{name: "team answer names another team",
			routes: map[string]route{
				"GET " + listURL: {status: 200, body: listed},
				"GET " + teamURL: {status: 200, body: `{"data":{"id":"00000000-0000-0000-0000-000000000000"}}`},
			},
			requests: []string{"GET " + listURL, "GET " + teamURL}, checks: []string{keyOK, teamFailed, createWarn},
			kind: notify.ErrRejected, contains: []string{"another team"}},
		{name: "JSM key accepted, no team", config: func(c *Config) { c.URL, c.TeamID = AlertsURLJSM, "" },
			routes:   map[string]route{"GET " + AlertsURLJSM + "?limit=1": {status: 200, body: listed}},
			requests: []string{"GET " + AlertsURLJSM + "?limit=1"}, checks: []string{keyOK, teamSkip, createWarn}},
		{name: "JSM team cannot be checked", config: func(c *Config) { c.URL = AlertsURLJSM },
			routes:   map[string]route{"GET " + AlertsURLJSM + "?limit=1": {status: 200, body: listed}},
			requests: []string{"GET " + AlertsURLJSM + "?limit=1"}, checks: []string{keyOK, teamWarn, createWarn}},
		{name: "JSM without a read endpoint", config: func(c *Config) { c.URL, c.TeamID = AlertsURLJSM, "" },
			routes:   map[string]route{"GET " + AlertsURLJSM + "?limit=1": {status: 405, body: `{"message":"Method Not Allowed"}`}},
			requests: []string{"GET " + AlertsURLJSM + "?limit=1"}, checks: []string{keyWarn, teamSkip, createWarn}},
		{name: "JSM key refused", config: func(c *Config) { c.URL = AlertsURLJSM },
			routes:   map[string]route{"GET " + AlertsURLJSM + "?limit=1": {status: 401, body: `{"message":"Unauthorized"}`}},
			requests: []string{"GET " + AlertsURLJSM + "?limit=1"}, checks: []string{keyFailed, teamSkip, createSkip},
			kind: notify.ErrUnauthorized, contains: []string{"JSM Operations refused the API key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			if tc.config != nil {
				tc.config(&c)
			}
			m := mockOpsgenie(tc.routes)
			n, logs := newNotifier(t, c, m)
			rep := n.TestReport(context.Background())
			require.Equal(t, tc.checks, checks(rep))
			for _, ch := range rep.Checks {
				require.NotEmpty(t, ch.Detail, "every check says what it proved: %s", ch.Name)
			}

			var got []string
			for _, r := range m.Requests() {
				got = append(got, r.Method+" "+r.URL())
				requireHeaders(t, r, false)
			}
			require.Equal(t, tc.requests, got)
			require.NotContains(t, logs.String(), "not checked", "what Test could not check is in the report, not in a log line")
			notifytest.AssertNoSecret(t, logs.String(), secret)

			err := rep.Err()
			if tc.kind == nil {
				require.NoError(t, err)
				require.NoError(t, n.Test(context.Background()))
				return
			}
			require.ErrorIs(t, err, tc.kind)
			require.ErrorIs(t, n.Test(context.Background()), tc.kind)
			for _, s := range tc.contains {
				require.Contains(t, err.Error(), s)
			}
			notifytest.AssertNoSecret(t, err, secret)
		})
	}
}

func TestNetworkError(t *testing.T) {
	m := testkit.NewMockAPI()
	m.RegisterResponder(http.MethodPost, AlertsURL, httpmock.NewErrorResponder(
		fmt.Errorf("connection reset; Authorization: GenieKey %s", apiKey)))
	n, logs := newNotifier(t, validConfig(), m)
	_, err := n.Send(context.Background(), testkit.FullEvent())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	notifytest.AssertNoSecret(t, err, secret)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

func TestFromJSONAndPrinting(t *testing.T) {
	raw := fmt.Sprintf(`{"name":"SOC pager","url":%q,"team_id":%q,"api_key":%q}`, AlertsURL, teamID, apiKey)
	n, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `opsgenie("SOC pager")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), secret)
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, validConfig()), secret)
	}
	out, err := json.Marshal(validConfig())
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"SOC pager","url":"`+AlertsURL+`","team_id":"`+teamID+`","api_key":"[REDACTED]"}`, string(out))

	_, err = FromJSON(json.RawMessage(`{"name":"x","url":"` + AlertsURL + `","api_key":"k","region":"eu"}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("region"))

	_, err = FromJSON(out)
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("api_key"))
}

// TestAgainstFake runs the notifier against notifytest's loopback Opsgenie,
// which creates alerts by alias as Opsgenie does.
func TestAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	logger, logs := notifytest.NewLogger()
	for _, u := range []string{AlertsURL, AlertsURLEU, AlertsURLJSM} {
		c := validConfig()
		c.URL, c.TeamID = u, "" // the fake has no Team API
		n, err := New(c, notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
		require.NoError(t, err)
		require.NoError(t, n.Test(context.Background()), u)
	}
	require.Empty(t, srv.OpsgenieAlerts(), "Test raises no alert")

	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	e := testkit.FullEvent()
	e.Title = strings.Repeat("m", 200)
	rc, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	alerts := srv.OpsgenieAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, rc.ID, alerts[0].RequestID)
	require.Equal(t, "evt-123", alerts[0].Alias)
	require.Equal(t, "P1", alerts[0].Priority)
	require.Equal(t, strings.Repeat("m", 129)+"…", alerts[0].Message)
	require.Equal(t, []map[string]string{{"id": teamID, "type": "team"}}, alerts[0].Responders)

	srv.RevokeCredentials(secret)
	_, err = n.Send(context.Background(), e)
	require.ErrorIs(t, err, notify.ErrUnauthorized)
	require.Contains(t, err.Error(), "region")
	notifytest.AssertNoSecret(t, err, secret)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

// TestSendResolved: a resolved event closes the alert by its alias, on the
// US and EU hosts and on JSM Operations' path alike.
func TestSendResolved(t *testing.T) {
	for _, base := range []string{AlertsURL, AlertsURLEU, AlertsURLJSM} {
		t.Run(base, func(t *testing.T) {
			closeURL := base + "/evt-123/close?identifierType=alias"
			m := testkit.NewMockAPI()
			m.On(http.MethodPost, closeURL, http.StatusAccepted, accepted, nil)
			c := validConfig()
			c.URL = base
			n, err := New(c, notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)

			rc, err := n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{ID: "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}, rc)
			reqs := m.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, closeURL, r.URL())
			require.Equal(t, "GenieKey "+apiKey, r.Header.Get("Authorization"))
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
			testkit.JSONEq(t, `{"source":"Code Defender",
				"note":"Resolved in Code Defender: https://console.codedefender.example/alerts/evt-123?tab=1&x=2"}`, r.Body)
		})
	}
}

// TestSendResolvedAnswers: a 404 in Opsgenie's own words means there was
// nothing to close, a success with an empty Receipt; anything else is an
// error built from the answer.
func TestSendResolvedAnswers(t *testing.T) {
	closeURL := AlertsURL + "/evt-1/close?identifierType=alias"
	cases := []struct {
		name   string
		status int
		body   string
		kind   error // nil: success with an empty Receipt
		hint   string
	}{
		{name: "404 alert does not exist", status: 404,
			body: `{"message":"Alert with alias [evt-1] does not exist","took":0.001,"requestId":"r-9"}`},
		{name: "404 that is not Opsgenie's", status: 404, body: `<html><title>Not Found</title></html>`, kind: notify.ErrNotFound},
		{name: "401", status: 401, body: `{"message":"Could not authenticate","took":0.0,"requestId":"r"}`,
			kind: notify.ErrUnauthorized, hint: "Opsgenie refused the API key"},
		{name: "403 read-only key", status: 403, body: `{"message":"Integration is read only","took":0.0,"requestId":"r"}`,
			kind: notify.ErrForbidden, hint: "Create and Update access"},
		{name: "202 without a requestId", status: 202, body: `{"result":"Request will be processed"}`,
			kind: notify.ErrRejected, hint: "no requestId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testkit.NewMockAPI()
			m.On(http.MethodPost, closeURL, tc.status, tc.body, nil)
			n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)
			rc, err := n.Send(context.Background(), testkit.Resolved(testkit.MinimalEvent()))
			require.Len(t, m.Requests(), 1)
			testkit.JSONEq(t, `{"source":"Code Defender","note":"Resolved in Code Defender."}`, m.Requests()[0].Body)
			if tc.kind == nil {
				require.NoError(t, err)
				require.Equal(t, notify.Receipt{}, rc)
				return
			}
			require.ErrorIs(t, err, tc.kind)
			require.Contains(t, err.Error(), tc.hint)
			notifytest.AssertNoSecret(t, err, secret)
		})
	}
}

// TestLifecycleAgainstFake opens an alert and closes it, then closes it
// again and closes an alert never opened: all succeed, nothing is left
// open and only the first event creates an alert.
func TestLifecycleAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	for _, base := range []string{AlertsURL, AlertsURLJSM} {
		c := validConfig()
		c.URL = base
		n, err := New(c, notify.WithHTTPClient(srv.Client()))
		require.NoError(t, err)
		ctx := context.Background()
		_, err = n.Send(ctx, testkit.FullEvent())
		require.NoError(t, err)
		require.Len(t, srv.OpsgenieOpen(), 1)
		for _, e := range []notify.Event{testkit.Resolved(testkit.FullEvent()), testkit.Resolved(testkit.FullEvent()),
			testkit.Resolved(testkit.MinimalEvent())} {
			_, err := n.Send(ctx, e)
			require.NoError(t, err, base)
		}
		require.Empty(t, srv.OpsgenieOpen(), base)
	}
	require.Len(t, srv.OpsgenieAlerts(), 2, "one alert per URL, none from a close")
	creates := 0
	for _, r := range srv.RequestsTo(notifytest.Opsgenie) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/v2/alerts") {
			creates++
		}
	}
	require.Equal(t, 2, creates)
}

// TestClose: Close may be called twice, and afterwards nothing is sent.
func TestClose(t *testing.T) {
	m := mockOpsgenie(map[string]route{"POST " + AlertsURL: {status: 202, body: accepted}})
	n, _ := newNotifier(t, validConfig(), m)
	_, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.Resolved(testkit.FullEvent()), func() int { return len(m.Requests()) }, secret)
	require.Equal(t, notify.CheckFailed, n.TestReport(context.Background()).Checks[0].Status)
}
