package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	apiKey          = notify.Secret("0123456789abcdef0123456789abcdef")         // 32 hex characters, like a real API key
	appKey          = notify.Secret("fedcba9876543210fedcba9876543210fedcba98") // 40, like an application key
	incidentsURL    = "https://api.datadoghq.eu/api/v2/incidents"
	validateKeysURL = "https://api.datadoghq.eu/api/v2/validate_keys"
	validateURL     = "https://api.datadoghq.eu/api/v1/validate"
	searchURL       = "https://api.datadoghq.eu/api/v2/incidents/search"
	noIncidents     = `{"data":{"type":"incidents_search_results","attributes":{"incidents":[],"total":0}}}`
	createdBody     = `{"data":{"type":"incidents","id":"00000000-0000-0000-1234-000000000000","attributes":{"public_id":42,"title":"New script on checkout","severity":"SEV-2"}}}`
)

var secrets = []notify.Secret{apiKey, appKey}

func validConfig() Config {
	return Config{Name: "Datadog EU", URL: incidentsURL, ApplicationKey: appKey, APIKey: apiKey}
}

// fullEvent is testkit's full event with the markdown edge cases this
// package's exact-request tests pin down.
func fullEvent() notify.Event {
	e := testkit.FullEvent()
	e.ID = "evt-1"
	e.Description = "Script *evil* loaded from [cdn](https://cdn.evil.example)\n# not a heading\r\nC:\\temp <b>x</b> @oncall"
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
	// By default the site has no incident for any event; a test that
	// needs one registers its own search answer.
	api.On(http.MethodGet, c.URL+"/search", 200, noIncidents, nil)
	return &harness{MockAPI: api, n: n, logs: logs}
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
		{Name: "trailing slash", Edit: func(c *Config) { c.URL = incidentsURL + "/" }},
		{Name: "host in capitals", Edit: func(c *Config) { c.URL = "https://API.datadoghq.eu/api/v2/incidents" }},
		{Name: "no name", Edit: func(c *Config) { c.Name = "" }, Field: "name", Want: "required", Schema: true},
		{Name: "no url", Edit: func(c *Config) { c.URL = "" }, Field: "url", Want: "is required: https://api.<site>/api/v2/incidents for your Datadog site", Schema: true},
		{Name: "web host app.", Edit: func(c *Config) { c.URL = "https://app.datadoghq.eu/api/v2/incidents" }, Field: "url",
			Want: "is the web address of datadoghq.eu, not its API host; did you mean https://api.datadoghq.eu/api/v2/incidents?"},
		{Name: "web host of US3", Edit: func(c *Config) { c.URL = "https://us3.datadoghq.com/incidents" }, Field: "url",
			Want: "is the web address of us3.datadoghq.com, not its API host; did you mean https://api.us3.datadoghq.com/api/v2/incidents?"},
		{Name: "app. before US5", Edit: func(c *Config) { c.URL = "https://app.us5.datadoghq.com/api/v2/incidents" }, Field: "url",
			Want: "did you mean https://api.us5.datadoghq.com/api/v2/incidents?"},
		{Name: "gov web host", Edit: func(c *Config) { c.URL = "https://app.ddog-gov.com/api/v2/incidents" }, Field: "url",
			Want: "did you mean https://api.ddog-gov.com/api/v2/incidents?"},
		{Name: "http", Edit: func(c *Config) { c.URL = "http://api.datadoghq.eu/api/v2/incidents" }, Field: "url",
			Want: "must start with https://; did you mean https://api.datadoghq.eu/api/v2/incidents?"},
		{Name: "other endpoint", Edit: func(c *Config) { c.URL = "https://api.datadoghq.eu/api/v1/events" }, Field: "url",
			Want: "must be the incidents endpoint; did you mean https://api.datadoghq.eu/api/v2/incidents?"},
		{Name: "query", Edit: func(c *Config) { c.URL = incidentsURL + "?x=1" }, Field: "url", Want: "must be the incidents endpoint"},
		{Name: "port", Edit: func(c *Config) { c.URL = "https://api.datadoghq.eu:8443/api/v2/incidents" }, Field: "url", Want: "must not name a port"},
		{Name: "userinfo", Edit: func(c *Config) { c.URL = "https://k:s@api.datadoghq.eu/api/v2/incidents" }, Field: "url", Want: "user name or password"},
		{Name: "unknown site", Edit: func(c *Config) { c.URL = "https://api.datadoghq.co/api/v2/incidents" }, Field: "url",
			Want: "must be on a Datadog site's API host (datadoghq.com, us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com)"},
		{Name: "look-alike", Edit: func(c *Config) { c.URL = "https://api.datadoghq.eu.evil.example/api/v2/incidents" }, Field: "url", Want: "Datadog site's API host"},
		{Name: "spaces", Edit: func(c *Config) { c.URL = incidentsURL + " " }, Field: "url", Want: "spaces"},
		{Name: "not a url", Edit: func(c *Config) { c.URL = "datadoghq.eu" }, Field: "url", Want: "not a URL"},
		{Name: "no application key", Edit: func(c *Config) { c.ApplicationKey = "" }, Field: "application_key", Want: "required", Schema: true},
		{Name: "masked application key", Edit: func(c *Config) { c.ApplicationKey = notify.Redacted }, Field: "application_key", Want: "mask"},
		{Name: "application key with spaces", Edit: func(c *Config) { c.ApplicationKey = " " + appKey }, Field: "application_key", Want: "spaces"},
		{Name: "no api key", Edit: func(c *Config) { c.APIKey = "" }, Field: "api_key", Want: "required", Schema: true},
		{Name: "api key with a line break", Edit: func(c *Config) { c.APIKey = apiKey + "\n" }, Field: "api_key", Want: "line breaks"},
		{Name: "same keys", Edit: func(c *Config) { c.APIKey = appKey }, Field: "api_key", Want: "is the same as application_key"},
		{Name: "swapped keys", Edit: func(c *Config) { c.APIKey, c.ApplicationKey = appKey, apiKey }, Field: "api_key", Want: "are they swapped?"},
	}
	testkit.RunEdits(t, validConfig, tests, func(Config) []notify.Secret { return secrets })
}

func TestConfigValidateEverySite(t *testing.T) {
	for _, s := range []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com",
		"ap2.datadoghq.com", "uk1.datadoghq.com", "ddog-gov.com", "us2.ddog-gov.com"} {
		c := validConfig()
		c.URL = "https://api." + s + "/api/v2/incidents"
		require.NoError(t, c.Validate(), s)
	}
}

func TestConfigValidateReportsEveryField(t *testing.T) {
	err := Config{URL: "https://app.datadoghq.com", APIKey: " x"}.Validate()
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, f := range []string{"name", "url", "application_key", "api_key"} {
		require.True(t, ve.Has(f), "missing %s in %v", f, err)
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	c := validConfig()
	c.URL = "https://app.datadoghq.eu/api/v2/incidents"
	n, err := New(c)
	require.Nil(t, n)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
}

func TestFromJSON(t *testing.T) {
	raw := `{"name":"Datadog EU","url":"` + incidentsURL + `","application_key":"` + appKey.Reveal() + `","api_key":"` + apiKey.Reveal() + `"}`
	n, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `datadog("Datadog EU")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), secrets...)
	}
	c := n.(*Notifier).cfg
	require.Equal(t, validConfig(), c)
	notifytest.AssertNoSecret(t, fmt.Sprintf("%+v %#v", c, c), secrets...)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"Datadog EU","url":"`+incidentsURL+`","application_key":"[REDACTED]","api_key":"[REDACTED]"}`, string(b))

	_, err = FromJSON(json.RawMessage(`{"name":"x","site":"datadoghq.eu"}`))
	notifytest.AssertNoSecret(t, err, secrets...)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("site"), "unknown field named: %v", err)
}

func TestSendFullEvent(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, incidentsURL, 201, createdBody, nil)

	r, err := h.n.Send(context.Background(), fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "42", URL: "https://app.datadoghq.eu/incidents/42"}, r)

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, http.MethodGet, reqs[0].Method)
	require.Equal(t, searchURL+"?page%5Bsize%5D=10&query=cd_event_id%3A%22evt-1%22", reqs[0].URL())
	require.Equal(t, `cd_event_id:"evt-1"`, reqs[0].Query.Get("query"))
	require.Equal(t, apiKey.Reveal(), reqs[0].Header.Get("DD-API-KEY"))
	require.Equal(t, appKey.Reveal(), reqs[0].Header.Get("DD-APPLICATION-KEY"))
	require.Empty(t, reqs[0].Body)
	req := reqs[1]
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, incidentsURL, req.URL())
	require.Equal(t, apiKey.Reveal(), req.Header.Get("DD-API-KEY"))
	require.Equal(t, appKey.Reveal(), req.Header.Get("DD-APPLICATION-KEY"))
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.Equal(t, "application/json", req.Header.Get("Accept"))
	require.Equal(t, notify.DefaultUserAgent, req.Header.Get("User-Agent"))

	cell := "Script \\*evil\\* loaded from \\[cdn\\]\\(https://cdn\\.evil\\.example\\)  \n" +
		"\\# not a heading  \n" +
		"C:\\\\temp \\<b\\>x\\</b\\> \\@oncall\n\n" +
		"- **Risk:** HIGH (SEV-2)\n" +
		"- **Type:** client\\_side\\_risk\n" +
		"- **Source:** shop\\.example\\.com\n" +
		"- **Time:** 2026-01-02T03:04:05Z\n" +
		"- **Console:** [Open in Code Defender](<https://console.codedefender.example/alerts/evt-1>)\n" +
		"- **Event ID:** evt\\-1\n" +
		"- **Tags:** pci, new script\n\n" +
		"| Detail | Value |\n" +
		"| --- | --- |\n" +
		"| page | /checkout\\|pay |\n" +
		"| script | https://cdn\\.evil\\.example/x\\.js |"
	want := map[string]any{"data": map[string]any{
		"type": "incidents",
		"attributes": map[string]any{
			"title":             "New script on checkout",
			"customer_impacted": false,
			"fields": map[string]any{
				"severity":    map[string]any{"type": "dropdown", "value": "SEV-2"},
				"cd_event_id": map[string]any{"type": "textarray", "value": []any{"evt-1"}},
			},
			"initial_cells": []any{map[string]any{"cell_type": "markdown", "content": map[string]any{"content": cell}}},
		},
	}}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(req.Body))
}

func TestSendMinimalEvent(t *testing.T) {
	c := validConfig()
	c.URL = "https://api.us3.datadoghq.com/api/v2/incidents"
	h := newHarness(t, c)
	h.On(http.MethodPost, c.URL, 201, `{"data":{"type":"incidents","id":"abc","attributes":{"public_id":7}}}`, nil)

	r, err := h.n.Send(context.Background(), minimalEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "7", URL: "https://us3.datadoghq.com/incidents/7"}, r)

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "https://api.us3.datadoghq.com/api/v2/incidents/search?page%5Bsize%5D=10&query=cd_event_id%3A%22evt-2%22", reqs[0].URL())
	testkit.JSONEq(t, `{"data":{"type":"incidents","attributes":{
		"title":"Test alert",
		"customer_impacted":false,
		"fields":{"severity":{"type":"dropdown","value":"SEV-5"},"cd_event_id":{"type":"textarray","value":["evt-2"]}},
		"initial_cells":[{"cell_type":"markdown","content":{"content":
			"- **Risk:** INFO (SEV-5)\n- **Type:** test\n- **Time:** 2026-01-02T03:04:05Z\n- **Event ID:** evt\\-2"}}],
		"is_test":true}}}`, reqs[1].Body)
}

func TestSendSeverityFromRisk(t *testing.T) {
	want := map[notify.Risk]string{notify.RiskCritical: "SEV-1", notify.RiskHigh: "SEV-2", notify.RiskMedium: "SEV-3",
		notify.RiskLow: "SEV-4", notify.RiskInfo: "SEV-5"}
	for risk, sev := range want {
		e := minimalEvent()
		e.Risk = risk
		require.Equal(t, sev, payload(e).Data.Attributes.Fields.Severity.Value, risk)
	}
}

// TestReceiptWebHosts checks the incident page on each site's web host:
// app.<site> only for US1, EU1 and US1-FED.
func TestReceiptWebHosts(t *testing.T) {
	want := map[string]string{
		"datadoghq.com":     "https://app.datadoghq.com/incidents/42",
		"us3.datadoghq.com": "https://us3.datadoghq.com/incidents/42",
		"us5.datadoghq.com": "https://us5.datadoghq.com/incidents/42",
		"datadoghq.eu":      "https://app.datadoghq.eu/incidents/42",
		"ap1.datadoghq.com": "https://ap1.datadoghq.com/incidents/42",
		"ap2.datadoghq.com": "https://ap2.datadoghq.com/incidents/42",
		"uk1.datadoghq.com": "https://uk1.datadoghq.com/incidents/42",
		"ddog-gov.com":      "https://app.ddog-gov.com/incidents/42",
		"us2.ddog-gov.com":  "https://us2.ddog-gov.com/incidents/42",
	}
	for s, page := range want {
		c := validConfig()
		c.URL = "https://api." + s + "/api/v2/incidents"
		h := newHarness(t, c)
		h.On(http.MethodPost, c.URL, 201, createdBody, nil)
		r, err := h.n.Send(context.Background(), minimalEvent())
		require.NoError(t, err, s)
		require.Equal(t, notify.Receipt{ID: "42", URL: page}, r, s)
	}
}

func TestSendTruncation(t *testing.T) {
	t.Run("title", func(t *testing.T) {
		e := minimalEvent()
		e.Title = strings.Repeat("é", 300) + "\nnext"
		title := payload(e).Data.Attributes.Title
		require.Equal(t, strings.Repeat("é", maxTitleRunes-1)+"…", title)
		require.True(t, utf8.ValidString(title))
	})
	t.Run("title on one line", func(t *testing.T) {
		e := minimalEvent()
		e.Title = "a\r\nb"
		require.Equal(t, "a  b", payload(e).Data.Attributes.Title)
	})
	t.Run("cell", func(t *testing.T) {
		e := minimalEvent()
		e.Description = strings.Repeat("🚨", 20000)
		cell := payload(e).Data.Attributes.InitialCells[0].Content.Content
		require.Equal(t, maxCellRunes, utf8.RuneCountInString(cell))
		require.Contains(t, cell, "🚨…\n\n- **Risk:** INFO")
		require.True(t, strings.HasSuffix(cell, "- **Event ID:** evt\\-2"), "the list survives the cut")
	})
	t.Run("cell cut between escapes", func(t *testing.T) {
		e := minimalEvent()
		e.Description = strings.Repeat("_", 10000) // 20,000 runes once escaped
		cell := payload(e).Data.Attributes.InitialCells[0].Content.Content
		body, _, ok := strings.Cut(cell, "…\n\n- **Risk:**")
		require.True(t, ok)
		require.Equal(t, strings.Repeat(`\_`, len(body)/2), body, "no escape is split")
		require.LessOrEqual(t, utf8.RuneCountInString(cell), maxCellRunes)
	})
	t.Run("details", func(t *testing.T) {
		e := minimalEvent()
		e.Details = map[string]string{}
		for i := range 20 {
			e.Details[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 3000)
		}
		cell := payload(e).Data.Attributes.InitialCells[0].Content.Content
		table := cell[strings.Index(cell, "| Detail | Value |"):]
		require.LessOrEqual(t, utf8.RuneCountInString(table), maxTableRunes)
		require.Contains(t, table, "| k00 | "+strings.Repeat("v", maxDetailValue-1)+"… |")
		require.True(t, strings.HasSuffix(table, "| … | 17 more details not shown |"), table[len(table)-60:])
	})
	t.Run("long console link left out", func(t *testing.T) {
		e := minimalEvent()
		e.URL = "https://console.example/" + strings.Repeat("p", 3000)
		require.NotContains(t, payload(e).Data.Attributes.InitialCells[0].Content.Content, "Console")
	})
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		kind       error
		retryable  bool
		retryAfter time.Duration
		message    string
		hint       string
	}{
		{name: "bad request", status: 400, body: `{"errors":["Invalid severity: SEV-5"]}`, kind: notify.ErrRejected, message: "status 400: Invalid severity: SEV-5"},
		{name: "no incident_write", status: 403, body: `{"errors":["Forbidden"]}`, kind: notify.ErrForbidden, message: "Forbidden",
			hint: "the application key lacks the incident_write permission"},
		{name: "bad key", status: 401, body: `{"errors":["Unauthorized"]}`, kind: notify.ErrUnauthorized, hint: "run Test to find out which"},
		{name: "no such endpoint", status: 404, body: `{"errors":["Not found"]}`, kind: notify.ErrNotFound, hint: "check the site in url"},
		{name: "rate limited", status: 429, body: `{"errors":["Too many requests"]}`, kind: notify.ErrRateLimited, retryable: true,
			header:     http.Header{"X-RateLimit-Limit": {"10"}, "X-RateLimit-Period": {"60"}, "X-RateLimit-Remaining": {"0"}, "X-RateLimit-Reset": {"12"}},
			retryAfter: 12 * time.Second},
		{name: "500", status: 500, body: `{"errors":["Internal Server Error"]}`, kind: notify.ErrUnavailable, retryable: true},
		{name: "502 HTML", status: 502, body: `<html><title>502 Bad Gateway</title></html>`, kind: notify.ErrUnavailable, retryable: true, message: "502 Bad Gateway"},
		{name: "503", status: 503, kind: notify.ErrUnavailable, retryable: true},
		{name: "504", status: 504, kind: notify.ErrUnavailable, retryable: true},
		{name: "501", status: 501, kind: notify.ErrRejected},
		{name: "error text echoing the keys", status: 400, body: `{"errors":["bad key ` + apiKey.Reveal() + ` / ` + appKey.Reveal() + `"]}`,
			kind: notify.ErrRejected, message: "bad key [REDACTED] / [REDACTED]"},
		{name: "created without an id", status: 201, body: `{"data":{"type":"incidents","attributes":{}}}`, kind: notify.ErrRejected, message: "no incident id"},
		{name: "created with HTML", status: 201, body: `<html></html>`, kind: notify.ErrRejected, message: "not the expected JSON"},
		{name: "redirect", status: 301, header: http.Header{"Location": {"https://evil.example/collect"}}, kind: notify.ErrRejected,
			message: "redirect to evil.example not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, incidentsURL, tt.status, tt.body, tt.header)
			_, err := h.n.Send(context.Background(), fullEvent())
			ne := requireKind(t, err, tt.kind, tt.retryable)
			require.Equal(t, opSend, ne.Op)
			require.Equal(t, tt.retryAfter, notify.RetryAfterOf(err))
			require.Contains(t, err.Error(), tt.message)
			require.Contains(t, ne.Hint, tt.hint)
			require.Equal(t, 1, h.Calls(http.MethodPost, incidentsURL), "no redirect followed, no retry behind the caller's back")
			require.Equal(t, 2, h.GetTotalCallCount(), "the search, then the create")
		})
	}
	t.Run("network failure", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.RegisterResponder(http.MethodPost, incidentsURL, httpmock.NewErrorResponder(errors.New("connection reset by peer")))
		_, err := h.n.Send(context.Background(), fullEvent())
		requireKind(t, err, notify.ErrUnavailable, true)
	})
}

func TestSendReceiptFromUUIDWhenNoPublicID(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, incidentsURL, 201, `{"data":{"type":"incidents","id":"00000000-0000-0000-1234-000000000000","attributes":{}}}`, nil)
	r, err := h.n.Send(context.Background(), fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "00000000-0000-0000-1234-000000000000"}, r)
	require.Contains(t, h.logs.String(), "no public_id")
}

func TestSendRefusesInvalidEvent(t *testing.T) {
	h := newHarness(t, validConfig())
	e := fullEvent()
	e.Risk = "urgent"
	e.Time = time.Time{}
	_, err := h.n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("risk"))
	require.True(t, ve.Has("time"))
	require.Zero(t, h.GetTotalCallCount(), "no network call")
}

func TestTestPasses(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodGet, validateKeysURL, 200, `{"status":"ok"}`, nil)
	require.NoError(t, h.n.Test(context.Background()))

	reqs := h.Requests()
	require.Len(t, reqs, 2)
	for i, u := range []string{validateKeysURL, searchURL + "?page%5Bsize%5D=10&query=cd_event_id%3A%22cd-test-probe%22"} {
		require.Equal(t, http.MethodGet, reqs[i].Method)
		require.Equal(t, u, reqs[i].URL())
		require.Equal(t, apiKey.Reveal(), reqs[i].Header.Get("DD-API-KEY"))
		require.Equal(t, appKey.Reveal(), reqs[i].Header.Get("DD-APPLICATION-KEY"))
		require.Empty(t, reqs[i].Body)
	}
	require.Zero(t, h.Calls(http.MethodPost, incidentsURL), "Test opens nothing")
}

func TestTestNamesTheRefusedKey(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		v1      int
		v1Body  string
		message string
	}{
		{name: "application key", status: 403, v1: 200, v1Body: `{"valid":true}`, message: "status 403: application_key is not valid on datadoghq.eu"},
		{name: "api key", status: 403, v1: 403, v1Body: `{"errors":["Forbidden"]}`, message: "status 403: api_key is not valid on datadoghq.eu"},
		{name: "api key, 401", status: 401, v1: 401, v1Body: `{"errors":["Unauthorized"]}`, message: "status 401: api_key is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodGet, validateKeysURL, tt.status, `{"errors":["Forbidden"]}`, nil)
			h.On(http.MethodGet, validateURL, tt.v1, tt.v1Body, nil)
			err := h.n.Test(context.Background())
			ne := requireKind(t, err, notify.ErrUnauthorized, false)
			require.Equal(t, opValidateKeys, ne.Op)
			require.Contains(t, err.Error(), tt.message)
			require.Contains(t, ne.Hint, "copy it again")

			reqs := h.Requests()
			require.Len(t, reqs, 2)
			require.Equal(t, validateURL, reqs[1].URL())
			require.Equal(t, apiKey.Reveal(), reqs[1].Header.Get("DD-API-KEY"))
			require.Empty(t, reqs[1].Header.Values("DD-APPLICATION-KEY"), "v1 needs only the API key")
		})
	}
}

func TestTestFallsBackToV1(t *testing.T) {
	t.Run("api key valid", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.On(http.MethodGet, validateKeysURL, 404, `{"errors":["Not found"]}`, nil)
		h.On(http.MethodGet, validateURL, 200, `{"valid":true}`, nil)
		r := h.n.TestReport(context.Background())
		require.NoError(t, r.Err())
		require.Equal(t, notify.CheckWarning, r.Checks[0].Status)
		require.Contains(t, r.Checks[0].Detail, "only the API key was checked; the application key is checked on first send")
	})
	t.Run("api key refused", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.On(http.MethodGet, validateKeysURL, 404, `{"errors":["Not found"]}`, nil)
		h.On(http.MethodGet, validateURL, 403, `{"errors":["Forbidden"]}`, nil)
		err := h.n.Test(context.Background())
		ne := requireKind(t, err, notify.ErrUnauthorized, false)
		require.Equal(t, opValidate, ne.Op)
		require.Contains(t, err.Error(), "api_key is not valid")
	})
	t.Run("v1 says invalid", func(t *testing.T) {
		h := newHarness(t, validConfig())
		h.On(http.MethodGet, validateKeysURL, 404, ``, nil)
		h.On(http.MethodGet, validateURL, 200, `{"valid":false}`, nil)
		requireKind(t, h.n.Test(context.Background()), notify.ErrUnauthorized, false)
	})
}

func TestTestOtherFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(h *harness)
		kind      error
		retryable bool
		message   string
	}{
		{
			name:  "not Datadog's answer",
			setup: func(h *harness) { h.On(http.MethodGet, validateKeysURL, 200, `{"status":"maybe"}`, nil) },
			kind:  notify.ErrRejected, message: `no "status":"ok"`,
		},
		{
			name: "rate limited",
			setup: func(h *harness) {
				h.On(http.MethodGet, validateKeysURL, 429, `{"errors":["Too many requests"]}`, http.Header{"X-RateLimit-Reset": {"3"}})
			},
			kind: notify.ErrRateLimited, retryable: true, message: "Too many requests",
		},
		{
			name: "refused, and the v1 check fails too",
			setup: func(h *harness) {
				h.On(http.MethodGet, validateKeysURL, 401, `{"errors":["Unauthorized"]}`, nil)
				h.On(http.MethodGet, validateURL, 500, `{"errors":["Internal"]}`, nil)
			},
			kind: notify.ErrUnauthorized, message: "status 401: Unauthorized",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			tt.setup(h)
			err := h.n.Test(context.Background())
			requireKind(t, err, tt.kind, tt.retryable)
			require.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestEscapeMarkdown(t *testing.T) {
	tests := []struct{ in, inline, multiline string }{
		{in: "*a* _b_ `c` ~~d~~", inline: "\\*a\\* \\_b\\_ \\`c\\` \\~\\~d\\~\\~"},
		{in: "[x](https://evil.example) ![i](https://evil.example/p.png)", inline: "\\[x\\]\\(https://evil\\.example\\) \\!\\[i\\]\\(https://evil\\.example/p\\.png\\)"},
		{in: "<script>&amp; @here", inline: "\\<script\\>\\&amp; \\@here"},
		{in: "# h\n1. x\n- y\n===", inline: "\\# h 1\\. x \\- y \\=\\=\\=", multiline: "\\# h  \n1\\. x  \n\\- y  \n\\=\\=\\="},
		{in: `a\b | c`, inline: `a\\b \| c`},
		{in: "a\r\nb\rc\td", inline: "a  b c d", multiline: "a  \nb  \nc d"},
		{in: "plain, é and 🚨: ok", inline: "plain, é and 🚨: ok"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.inline, escapeMarkdown(tt.in, 1000, false), "inline %q", tt.in)
		want := tt.multiline
		if want == "" {
			want = tt.inline
		}
		require.Equal(t, want, escapeMarkdown(tt.in, 1000, true), "multiline %q", tt.in)
	}
	require.Equal(t, `ab\*…`, escapeMarkdown("ab**cd", 5, false))
	require.Equal(t, `ab…`, escapeMarkdown("ab**cd", 4, false), "never half an escape")
	require.Equal(t, `ab\*`, escapeMarkdown("ab*", 4, false), "fits exactly: no marker")
}

func TestLinkDestination(t *testing.T) {
	require.Equal(t, "https://x.example/a%20b%3Cc%3E%5Cd(e)", linkDestination("https://x.example/a b<c>\\d(e)"))
	require.Equal(t, "https://x.example/ab", linkDestination("https://x.example/a\nb"))
}

// FuzzEscapeMarkdown checks, on any input, that escaping never panics,
// stays within its limit, keeps valid UTF-8, and leaves no markup character
// unescaped.
func FuzzEscapeMarkdown(f *testing.F) {
	for _, s := range []string{"", "*a*", "[x](y)", `\\*`, "# x\n1. y", "🚨<b>", "\xff\xfe*", "a\r\n\r\nb", "@here"} {
		f.Add(s, 40, true)
		f.Add(s, 3, false)
	}
	f.Fuzz(func(t *testing.T, s string, max int, multiline bool) {
		if max < 0 || max > 10000 {
			return
		}
		out := escapeMarkdown(s, max, multiline)
		require.LessOrEqual(t, utf8.RuneCountInString(out), max)
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(out))
		}
		body := []rune(strings.TrimSuffix(out, text.TruncationMarker))
		for i := 0; i < len(body); i++ {
			switch {
			case body[i] == '\\':
				require.Less(t, i+1, len(body), "dangling backslash in %q", out)
				require.True(t, strings.ContainsRune(markdownEscapable, body[i+1]), "stray backslash in %q", out)
				i++
			default:
				require.False(t, strings.ContainsRune(markdownEscapable, body[i]), "unescaped %q in %q", body[i], out)
			}
		}
		if !multiline {
			require.NotContains(t, out, "\n")
		}
	})
}

func TestTestReport(t *testing.T) {
	probe := searchURL + "?page%5Bsize%5D=10&query=cd_event_id%3A%22cd-test-probe%22"
	tests := []struct {
		name   string
		setup  func(h *harness)
		want   []notify.CheckStatus
		detail []string
	}{
		{
			name:   "everything provable passes; incident_write is a warning",
			setup:  func(h *harness) { h.On(http.MethodGet, validateKeysURL, 200, `{"status":"ok"}`, nil) },
			want:   []notify.CheckStatus{notify.CheckPassed, notify.CheckPassed, notify.CheckWarning},
			detail: []string{"accepted api_key and application_key on datadoghq.eu", "may search incidents", "incident_write"},
		},
		{
			name: "no incident_read is a warning",
			setup: func(h *harness) {
				h.On(http.MethodGet, validateKeysURL, 200, `{"status":"ok"}`, nil)
				h.On(http.MethodGet, probe, 403, `{"errors":["Forbidden"]}`, nil)
			},
			want:   []notify.CheckStatus{notify.CheckPassed, notify.CheckWarning, notify.CheckWarning},
			detail: []string{"", "a retried alert may open a second incident", ""},
		},
		{
			name: "search unavailable fails",
			setup: func(h *harness) {
				h.On(http.MethodGet, validateKeysURL, 200, `{"status":"ok"}`, nil)
				h.On(http.MethodGet, probe, 503, `{"errors":["Service Unavailable"]}`, nil)
			},
			want: []notify.CheckStatus{notify.CheckPassed, notify.CheckFailed, notify.CheckWarning},
		},
		{
			name: "a refused key skips the rest",
			setup: func(h *harness) {
				h.On(http.MethodGet, validateKeysURL, 403, `{"errors":["Forbidden"]}`, nil)
				h.On(http.MethodGet, validateURL, 403, `{"errors":["Forbidden"]}`, nil)
			},
			want:   []notify.CheckStatus{notify.CheckFailed, notify.CheckSkipped, notify.CheckSkipped},
			detail: []string{"api_key is not valid on datadoghq.eu"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			tt.setup(h)
			r := h.n.TestReport(context.Background())
			require.Len(t, r.Checks, len(tt.want))
			for i, c := range r.Checks {
				require.Equal(t, []string{checkKeys, checkRead, checkWrite}[i], c.Name)
				require.Equal(t, tt.want[i], c.Status, c.Name)
				if i < len(tt.detail) {
					require.Contains(t, c.Detail, tt.detail[i])
				}
				if c.Err != nil {
					notifytest.AssertNoSecret(t, c.Err, secrets...)
				}
			}
			require.Equal(t, r.Err(), h.n.Test(context.Background()))
			require.Zero(t, h.Calls(http.MethodPost, incidentsURL), "Test opens nothing")
		})
	}
}
