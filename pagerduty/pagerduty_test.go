package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const routingKey = "0123456789abcdefABCDEF0123456789"

var secret = notify.Secret(routingKey)

func validConfig() Config {
	return Config{Name: "On-call", WebhookURL: EventsURL, APIKey: secret}
}

const accepted = `{"status":"success","message":"Event processed","dedup_key":"evt-123"}`

// newNotifier returns a Notifier for c whose Events API answers every POST
// with status, body and header, and the buffer it logs into.
func newNotifier(t *testing.T, c Config, status int, body string, header http.Header) (*Notifier, *testkit.MockAPI, *notifytest.LogBuffer) {
	t.Helper()
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, eventsEndpoint(c.WebhookURL), status, body, header)
	logger, logs := notifytest.NewLogger()
	n, err := New(c, notify.WithHTTPClient(m.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	return n, m, logs
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
	url := func(u string) Config { return with(func(c *Config) { c.WebhookURL = u }) }
	key := func(k notify.Secret) Config { return with(func(c *Config) { c.APIKey = k }) }
	webhookURL, apiKey, name := []string{"webhook_url"}, []string{"api_key"}, []string{"name"}
	testkit.RunValidate(t, []testkit.ValidateCase[Config]{
		{Name: "valid", Config: validConfig()},
		{Name: "valid EU", Config: url(EventsURLEU)},
		{Name: "valid: the console's /v2/enque", Config: url("https://events.pagerduty.com/v2/enque")},
		{Name: "valid: the console's EU /v2/enque", Config: url("https://events.eu.pagerduty.com/v2/enque")},
		{Name: "valid key that is not hex", Config: key("R0zZ3456789abcdefABCDEF012345678")},

		{Name: "name missing", Config: with(func(c *Config) { c.Name = "" }), Fields: name, Schema: true},
		{Name: "name too long", Config: with(func(c *Config) { c.Name = strings.Repeat("n", 101) }), Fields: name, Schema: true},
		{Name: "name with a line break", Config: with(func(c *Config) { c.Name = "a\nb" }), Fields: name},

		{Name: "url missing", Config: url(""), Fields: webhookURL, Schema: true},
		{Name: "url with a trailing slash", Config: url(EventsURL + "/"), Fields: webhookURL, Schema: true},
		{Name: "url over http", Config: url("http://events.pagerduty.com/v2/enqueue"), Fields: webhookURL, Schema: true},
		{Name: "url in upper case", Config: url("https://EVENTS.PagerDuty.com/V2/Enqueue"), Fields: webhookURL, Schema: true},
		{Name: "url misspelt enqeue", Config: url("https://events.pagerduty.com/v2/enqeue"), Fields: webhookURL, Schema: true},
		{Name: "url is the change-events endpoint", Config: url("https://events.pagerduty.com/v2/change/enqueue"), Fields: webhookURL, Schema: true},
		{Name: "url is Events API v1", Config: url("https://events.pagerduty.com/generic/2010-04-15/create_event.json"), Fields: webhookURL, Schema: true},
		{Name: "url is the bare host", Config: url("https://events.pagerduty.com"), Fields: webhookURL, Schema: true},
		{Name: "url is the REST API", Config: url("https://api.pagerduty.com/incidents"), Fields: webhookURL, Schema: true},
		{Name: "url elsewhere", Config: url("https://example.com/v2/enqueue"), Fields: webhookURL, Schema: true},

		{Name: "key missing", Config: key(""), Fields: apiKey, Schema: true},
		{Name: "key is the mask", Config: key(notify.Redacted), Fields: apiKey},
		{Name: "key of 20 characters (REST key)", Config: key("u+abcdefghij12345678"), Fields: apiKey},
		{Name: "key of 31 characters", Config: key(secret[:31]), Fields: apiKey},
		{Name: "key of 33 characters", Config: key(secret + "x"), Fields: apiKey},
		{Name: "key with a dash", Config: key("0123456789abcdef-BCDEF0123456789"), Fields: apiKey},
		{Name: "key with a space around it", Config: key(" " + secret[1:]), Fields: apiKey},
		{Name: "key with a line break", Config: key(secret[:31] + "\n"), Fields: apiKey},

		{Name: "every field bad at once", Config: Config{Name: "", WebhookURL: "https://events.pagerduty.com/v2/enq", APIKey: "short"},
			Fields: []string{"name", "webhook_url", "api_key"}, Schema: true},
	}, func(c Config) []notify.Secret { return testkit.Unmasked(secret, c.APIKey) })
}

// TestConfigValidateSays checks what the field errors say: the URL that
// was meant, and what a wrong key most likely is.
func TestConfigValidateSays(t *testing.T) {
	for raw, want := range map[string]string{
		"":                                       "is required: " + EventsURL,
		"https://events.pagerduty.com/v2/enqeue": "did you mean " + EventsURL + "?",
		"https://events.eu.pagerduty.com/v2/enq": "did you mean " + EventsURLEU + "?",
		"http://events.pagerduty.com/v2/enqueue": "did you mean " + EventsURL + "?",
		"https://events.pagerduty.com/v2/change/enqueue": "did you mean " + EventsURL + "?",
		"https://api.pagerduty.com/incidents":            "must be PagerDuty's Events API v2 URL",
	} {
		err := Config{Name: "On-call", WebhookURL: raw, APIKey: secret}.Validate()
		require.ErrorContains(t, err, want, raw)
	}
	for k, want := range map[notify.Secret]string{
		"u+abcdefghij12345678":             "REST API key",
		secret[:31]:                        "it has 31 characters",
		"0123456789abcdef-BCDEF0123456789": "only letters and digits",
		" " + secret[1:]:                   "spaces",
		notify.Redacted:                    "mask",
	} {
		err := Config{Name: "On-call", WebhookURL: EventsURL, APIKey: k}.Validate()
		require.ErrorContains(t, err, want)
		notifytest.AssertNoSecret(t, err, secret)
	}
}

// TestConsoleURLSendsToEnqueue: a config stored with the console's
// ".../v2/enque" posts to ".../v2/enqueue" of the same region.
func TestConsoleURLSendsToEnqueue(t *testing.T) {
	for stored, want := range map[string]string{
		"https://events.pagerduty.com/v2/enque":    "https://events.pagerduty.com/v2/enqueue",
		"https://events.eu.pagerduty.com/v2/enque": "https://events.eu.pagerduty.com/v2/enqueue",
	} {
		t.Run(stored, func(t *testing.T) {
			m := testkit.NewMockAPI()
			m.On(http.MethodPost, want, http.StatusAccepted, accepted, nil)
			raw := `{"name":"On-call","webhook_url":"` + stored + `","api_key":"` + routingKey + `"}`
			n, err := FromJSON(json.RawMessage(raw), notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)
			_, err = n.Send(context.Background(), testkit.FullEvent())
			require.NoError(t, err)
			require.NoError(t, n.Test(context.Background()))
			reqs := m.Requests()
			require.Len(t, reqs, 2)
			for _, r := range reqs {
				require.Equal(t, http.MethodPost, r.Method)
				require.Equal(t, want, r.URL())
			}
		})
	}
}

func TestSendFullEvent(t *testing.T) {
	n, m, logs := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
	e := testkit.FullEvent()

	rc, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-123"}, rc)

	reqs := m.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, EventsURL, r.URL())
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
	require.Empty(t, r.Header.Get("Authorization"), "the routing key travels only in the body")
	testkit.JSONEq(t, `{
		"routing_key": "`+routingKey+`",
		"event_action": "trigger",
		"dedup_key": "evt-123",
		"client": "Code Defender",
		"payload": {
			"summary": "New script on checkout",
			"source": "shop.example.com",
			"severity": "critical",
			"timestamp": "2026-01-02T03:04:05Z",
			"component": "code-defender",
			"group": "shop.example.com",
			"class": "client_side_risk",
			"custom_details": {
				"risk": "critical",
				"description": `+quoted(e.Description)+`,
				"tags": ["pci", "checkout"],
				"details": {"script": "https://cdn.example.net/a.js", "page": "/checkout"}
			}
		},
		"links": [{"href": "https://console.codedefender.example/alerts/evt-123?tab=1&x=2", "text": "Open in Code Defender"}]
	}`, r.Body)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

func TestSendMinimalEventEU(t *testing.T) {
	c := validConfig()
	c.WebhookURL = EventsURLEU
	n, m, _ := newNotifier(t, c, http.StatusAccepted, accepted, nil)

	_, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	reqs := m.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, EventsURLEU, reqs[0].URL())
	testkit.JSONEq(t, `{
		"routing_key": "`+routingKey+`",
		"event_action": "trigger",
		"dedup_key": "evt-1",
		"client": "Code Defender",
		"payload": {
			"summary": "Minimal",
			"source": "Code Defender",
			"severity": "info",
			"timestamp": "2026-01-02T03:04:05Z",
			"component": "code-defender",
			"class": "incident",
			"custom_details": {"risk": "low"}
		}
	}`, reqs[0].Body)
}

func TestSeverityFromRisk(t *testing.T) {
	want := map[notify.Risk]string{
		notify.RiskCritical: "critical", notify.RiskHigh: "error", notify.RiskMedium: "warning",
		notify.RiskLow: "info", notify.RiskInfo: "info",
	}
	for risk, sev := range want {
		n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
		e := testkit.MinimalEvent()
		e.Risk = risk
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		var got event
		require.NoError(t, m.Requests()[0].DecodeJSON(&got))
		require.Equal(t, sev, got.Payload.Severity, risk)
	}
}

func TestReceiptIsPagerDutysDedupKey(t *testing.T) {
	n, _, _ := newNotifier(t, validConfig(), http.StatusAccepted,
		`{"status":"success","message":"Event processed","dedup_key":"pd-assigned-9\u0007"}`, nil)
	rc, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "pd-assigned-9"}, rc)
}

func TestSendLimits(t *testing.T) {
	send := func(t *testing.T, e notify.Event) (event, []byte) {
		t.Helper()
		n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		reqs := m.Requests()
		require.Len(t, reqs, 1)
		var got event
		require.NoError(t, reqs[0].DecodeJSON(&got))
		return got, reqs[0].Body
	}
	t.Run("summary 1,024", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = strings.Repeat("é", 2000)
		got, _ := send(t, e)
		require.Equal(t, strings.Repeat("é", 1023)+"…", got.Payload.Summary)
	})
	t.Run("summary is one line", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = "a\r\nb"
		got, _ := send(t, e)
		require.Equal(t, "a  b", got.Payload.Summary)
	})
	t.Run("source 1,024", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Source = strings.Repeat("s", 1500)
		got, _ := send(t, e)
		require.Equal(t, strings.Repeat("s", 1023)+"…", got.Payload.Source)
		require.Equal(t, got.Payload.Source, got.Payload.Group)
	})
	// details decodes the custom details of a sent event.
	details := func(t *testing.T, got event) customDetails {
		t.Helper()
		b, err := json.Marshal(got.Payload.CustomDetails)
		require.NoError(t, err)
		var cd customDetails
		require.NoError(t, json.Unmarshal(b, &cd))
		return cd
	}
	t.Run("over 512 KB: the longest texts cut first, nothing dropped", func(t *testing.T) {
		e := testkit.FullEvent()
		e.Description = strings.Repeat("d", 300_000)
		e.Details["script_body"] = strings.Repeat("<", 600_000) // escaped as \u003c: six bytes each
		got, raw := send(t, e)
		require.LessOrEqual(t, len(raw), maxEventBytes)
		require.Greater(t, len(raw), maxEventBytes-1000, "cut no more than it must")
		cd := details(t, got)
		require.Equal(t, noteTextsCut, cd.Truncated)
		require.True(t, strings.HasSuffix(cd.Description, "…"))
		require.True(t, strings.HasSuffix(cd.Details["script_body"], "…"))
		require.Equal(t, len(cd.Description), len(cd.Details["script_body"]),
			"the longest texts are cut to one common length, the longer one first")
		require.Less(t, len(cd.Description), 300_000)
		// Everything short is kept whole, and every other field as it was.
		require.Equal(t, []string{"pci", "checkout"}, cd.Tags)
		require.Equal(t, "/checkout", cd.Details["page"])
		require.Equal(t, "https://cdn.example.net/a.js", cd.Details["script"])
		require.Equal(t, notify.RiskCritical, cd.Risk)
		require.Equal(t, "New script on checkout", got.Payload.Summary)
		require.Equal(t, []link{{Href: e.URL, Text: "Open in Code Defender"}}, got.Links)
	})
	t.Run("over 512 KB in one detail: the description stays whole", func(t *testing.T) {
		e := testkit.FullEvent()
		e.Details = map[string]string{"script_body": strings.Repeat("x", 600_000), "page": "/checkout"}
		got, raw := send(t, e)
		require.LessOrEqual(t, len(raw), maxEventBytes)
		cd := details(t, got)
		require.Equal(t, e.Description, cd.Description)
		require.Equal(t, "/checkout", cd.Details["page"])
		require.Equal(t, strings.Repeat("x", len(cd.Details["script_body"])-len("…"))+"…", cd.Details["script_body"])
		require.Greater(t, len(cd.Details["script_body"]), 500_000)
	})
	t.Run("over 512 KB in thousands of details: the description alone", func(t *testing.T) {
		e := testkit.FullEvent()
		e.Description = strings.Repeat("d", 300_000)
		e.Details = map[string]string{}
		for i := range 15_000 { // 15,000 keys of 40 bytes: more than PagerDuty takes
			e.Details[fmt.Sprintf("detail-key-%029d", i)] = "v"
		}
		require.NoError(t, e.Validate())
		got, raw := send(t, e)
		require.LessOrEqual(t, len(raw), maxEventBytes)
		cd := details(t, got)
		require.Equal(t, noteTagsDetailsDropped, cd.Truncated)
		require.Empty(t, cd.Details)
		require.Empty(t, cd.Tags)
		require.Equal(t, e.Description, cd.Description, "the description fits alone, whole")
	})
	t.Run("just under 512 KB is sent whole", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{"d": strings.Repeat("x", 500_000)}
		got, raw := send(t, e)
		require.LessOrEqual(t, len(raw), maxEventBytes)
		require.Equal(t, strings.Repeat("x", 500_000), got.Payload.CustomDetails.(map[string]any)["details"].(map[string]any)["d"])
	})
	t.Run("console link over 8,192 is left out", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.URL = "https://console.example/" + strings.Repeat("p", 9000)
		got, _ := send(t, e)
		require.Empty(t, got.Links)
	})
}

func TestResolveRefusesABadID(t *testing.T) {
	n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
	for _, bad := range []string{"", " ", strings.Repeat("k", 256), "a\nb"} {
		_, err := n.Resolve(context.Background(), bad)
		var ve *notify.ValidationError
		require.ErrorAs(t, err, &ve, "%q", bad)
		require.True(t, ve.Has("id"))
	}
	require.Empty(t, m.Requests(), "a bad id never reaches PagerDuty")
}

func TestTestResolvesARandomKey(t *testing.T) {
	n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted,
		`{"status":"success","message":"Event processed","dedup_key":"whatever"}`, nil)

	require.NoError(t, n.Test(context.Background()))
	require.NoError(t, n.Test(context.Background()))
	reqs := m.Requests()
	require.Len(t, reqs, 2)

	keyPattern := regexp.MustCompile(`^cd-connection-test-[A-Z2-7]{26}$`)
	var keys []string
	for _, r := range reqs {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, EventsURL, r.URL())
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		var got map[string]string
		require.NoError(t, r.DecodeJSON(&got))
		require.Regexp(t, keyPattern, got["dedup_key"])
		keys = append(keys, got["dedup_key"])
		testkit.JSONEq(t, `{"routing_key":"`+routingKey+`","event_action":"resolve","dedup_key":"`+got["dedup_key"]+`"}`, r.Body)
	}
	require.NotEqual(t, keys[0], keys[1], "each Test uses a fresh key")
}

func TestSendRefusesInvalidEvent(t *testing.T) {
	n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
	e := testkit.FullEvent()
	e.Risk = "urgent"
	e.Time = time.Time{}
	_, err := n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("risk"))
	require.True(t, ve.Has("time"))
	require.Empty(t, m.Requests())
}

// TestErrors classifies recorded PagerDuty answers for Send, Resolve and
// Test, and checks that no error or log line holds the routing key.
func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		kind       error
		retryable  bool
		retryAfter time.Duration
		contains   []string
	}{
		{name: "429 with Retry-After", status: 429, body: `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`,
			header: http.Header{"Retry-After": {"30"}}, kind: notify.ErrRateLimited, retryable: true, retryAfter: 30 * time.Second,
			contains: []string{"status 429", "arriving too quickly", "pagerduty.RateLimit"}},
		{name: "429 without Retry-After", status: 429, body: ``, // the one-second floor, never "retry now"
			kind: notify.ErrRateLimited, retryable: true, retryAfter: time.Second, contains: []string{"status 429"}},
		{name: "400 invalid routing key", status: 400,
			body: `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`,
			kind: notify.ErrRejected,
			contains: []string{"status 400", "Event object is invalid (invalid event): Length of 'routing_key' is incorrect (should be 32 characters)",
				"check api_key"}},
		{name: "400 invalid event", status: 400,
			body:     `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing", "'payload.severity' is invalid"]}`,
			kind:     notify.ErrRejected,
			contains: []string{"'payload.summary' is missing; 'payload.severity' is invalid", "a retry will not help"}},
		{name: "400 that echoes the key", status: 400,
			body: `{"status":"invalid event","message":"Event object is invalid","errors":["unknown routing_key ` + routingKey + `"]}`,
			kind: notify.ErrRejected, contains: []string{"unknown routing_key [REDACTED]"}},
		{name: "401", status: 401, body: `{"message":"Unauthorized"}`,
			kind: notify.ErrUnauthorized, contains: []string{"status 401", "Unauthorized"}},
		{name: "404", status: 404, body: `not found`,
			kind: notify.ErrNotFound, contains: []string{"check webhook_url"}},
		{name: "500", status: 500, body: `{"message":"Internal Server Error"}`,
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"status 500", "Internal Server Error"}},
		{name: "502 HTML", status: 502, body: `<html><head><title>502 Bad Gateway</title></head></html>`,
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"HTML page: 502 Bad Gateway"}},
		{name: "202 without a dedup key", status: 202, body: `{"status":"success","message":"Event processed"}`,
			kind: notify.ErrRejected, contains: []string{"status 202", "not the expected JSON", "no dedup_key"}},
		{name: "202 that is not JSON", status: 202, body: `<html>portal</html>`,
			kind: notify.ErrRejected, contains: []string{"status 202", "not the expected JSON"}},
		{name: "301 redirect", status: 301, header: http.Header{"Location": {"https://events.example/v2/enqueue"}},
			kind: notify.ErrRejected, contains: []string{"redirect to events.example not followed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, _, logs := newNotifier(t, validConfig(), tc.status, tc.body, tc.header)
			calls := map[string]func() error{
				"send": func() error { _, err := n.Send(context.Background(), testkit.FullEvent()); return err },
				"resolve": func() error {
					_, err := n.Resolve(context.Background(), "evt-123")
					return err
				},
				"test: resolve": func() error { return n.Test(context.Background()) },
			}
			for op, call := range calls {
				err := call()
				require.Error(t, err, op)
				var e *notify.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, op, e.Op)
				require.ErrorIs(t, err, tc.kind)
				require.Equal(t, tc.retryable, notify.IsRetryable(err))
				require.Equal(t, tc.retryAfter, notify.RetryAfterOf(err))
				for _, c := range tc.contains {
					require.Contains(t, err.Error(), c)
				}
				notifytest.AssertNoSecret(t, err, secret)
			}
			notifytest.AssertNoSecret(t, logs.String(), secret)
		})
	}
}

func TestNetworkError(t *testing.T) {
	m := testkit.NewMockAPI()
	m.RegisterResponder(http.MethodPost, EventsURL, httpmock.NewErrorResponder(
		fmt.Errorf("connection reset while sending routing_key=%s", routingKey)))
	logger, logs := notifytest.NewLogger()
	n, err := New(validConfig(), notify.WithHTTPClient(m.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	_, err = n.Send(context.Background(), testkit.FullEvent())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	notifytest.AssertNoSecret(t, err, secret)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

func TestFromJSONAndPrinting(t *testing.T) {
	raw := fmt.Sprintf(`{"name":"On-call","webhook_url":%q,"api_key":%q}`, EventsURL, routingKey)
	n, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `pagerduty("On-call")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), secret)
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, validConfig()), secret)
	}
	out, err := json.Marshal(validConfig())
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"On-call","webhook_url":"`+EventsURL+`","api_key":"[REDACTED]"}`, string(out))

	_, err = FromJSON(json.RawMessage(`{"name":"x","webhook_url":"` + EventsURL + `","routing_key":"k"}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("routing_key"))

	_, err = FromJSON(out)
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("api_key"))
}

// TestAgainstFake runs the notifier against notifytest's loopback PagerDuty,
// which keeps alerts by the Events API's dedup rules.
func TestAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	logger, logs := notifytest.NewLogger()
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, n.Test(ctx))
	require.Empty(t, srv.PagerDutyAlerts(), "Test opens nothing")

	rc, err := n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, "evt-123", rc.ID)
	_, err = n.Send(ctx, testkit.FullEvent()) // a retry updates, never pages twice
	require.NoError(t, err)
	alerts := srv.PagerDutyAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, "triggered", alerts[0].Status)
	require.Equal(t, 2, alerts[0].Triggers)
	require.Equal(t, "critical", alerts[0].Severity)

	_, err = n.Resolve(ctx, "evt-123")
	require.NoError(t, err)
	require.Equal(t, "resolved", srv.PagerDutyAlerts()[0].Status)

	srv.RevokeCredentials(secret)
	err = n.Test(ctx)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), "Invalid routing key")
	require.Contains(t, err.Error(), "check api_key")
	notifytest.AssertNoSecret(t, err, secret)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

// TestSendResolved: a resolved event resolves the alert by its dedup key,
// the exact request Resolve sends too.
func TestSendResolved(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, EventsURL, http.StatusAccepted, accepted, nil)
	n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)

	rc, err := n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-123"}, rc)
	_, err = n.Resolve(context.Background(), "evt-123")
	require.NoError(t, err)

	reqs := m.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, EventsURL, r.URL())
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
		require.Empty(t, r.Header.Get("Authorization"))
		testkit.JSONEq(t, `{"routing_key":"`+routingKey+`","event_action":"resolve","dedup_key":"evt-123"}`, r.Body)
	}
}

// TestLifecycleAgainstFake opens an alert and resolves it, then resolves it
// again and resolves an event never opened: all succeed, nothing is left
// open and nothing but the first event triggers.
func TestLifecycleAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	ctx := context.Background()

	_, err = n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	require.Len(t, srv.PagerDutyOpen(), 1)
	for _, e := range []notify.Event{testkit.Resolved(testkit.FullEvent()), testkit.Resolved(testkit.FullEvent()),
		testkit.Resolved(testkit.MinimalEvent())} {
		_, err := n.Send(ctx, e)
		require.NoError(t, err, e.ID)
	}
	require.Empty(t, srv.PagerDutyOpen())
	require.Len(t, srv.PagerDutyAlerts(), 1, "no resolve opened an alert")
	triggers := 0
	for _, r := range srv.RequestsTo(notifytest.PagerDuty) {
		var ev map[string]any
		require.NoError(t, r.DecodeJSON(&ev))
		if ev["event_action"] == "trigger" {
			triggers++
		}
	}
	require.Equal(t, 1, triggers)
}

func TestTestReport(t *testing.T) {
	t.Run("accepted: the key's owner is a warning", func(t *testing.T) {
		m := testkit.NewMockAPI()
		m.On(http.MethodPost, EventsURL, http.StatusAccepted, accepted, nil)
		n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
		require.NoError(t, err)
		rep := n.TestReport(context.Background())
		require.Len(t, rep.Checks, 2)
		require.Equal(t, notify.Check{Name: "events API accepted the key", Status: notify.CheckPassed,
			Detail: rep.Checks[0].Detail}, rep.Checks[0])
		require.Contains(t, rep.Checks[0].Detail, "Nothing was opened.")
		require.Equal(t, "key belongs to a service", rep.Checks[1].Name)
		require.Equal(t, notify.CheckWarning, rep.Checks[1].Status)
		require.Contains(t, rep.Checks[1].Detail, "only the first alert proves")
		require.NoError(t, rep.Err())
		require.NoError(t, n.Test(context.Background()))
		for _, r := range m.Requests() {
			require.Contains(t, string(r.Body), `"event_action":"resolve"`, "Test opens nothing")
		}
	})
	t.Run("refused: failed, then skipped", func(t *testing.T) {
		m := testkit.NewMockAPI()
		m.On(http.MethodPost, EventsURL, http.StatusBadRequest,
			`{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`, nil)
		n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
		require.NoError(t, err)
		rep := n.TestReport(context.Background())
		require.Len(t, rep.Checks, 2)
		require.Equal(t, notify.CheckFailed, rep.Checks[0].Status)
		require.ErrorIs(t, rep.Checks[0].Err, notify.ErrRejected)
		require.Contains(t, rep.Checks[0].Detail, "Invalid routing key")
		require.Equal(t, notify.CheckSkipped, rep.Checks[1].Status)
		require.Equal(t, rep.Checks[0].Err, rep.Err())
		require.ErrorIs(t, n.Test(context.Background()), notify.ErrRejected)
		notifytest.AssertNoSecret(t, rep.Err(), secret)
	})
}

// TestClose: Close may be called twice, and afterwards nothing is sent.
func TestClose(t *testing.T) {
	n, m, _ := newNotifier(t, validConfig(), http.StatusAccepted, accepted, nil)
	_, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.FullEvent(), func() int { return len(m.Requests()) }, secret)
	_, err = n.Resolve(context.Background(), "evt-123")
	require.ErrorContains(t, err, "the notifier is closed")
	require.Len(t, m.Requests(), 1)
}

// TestOversizedEventAgainstFake: an event of nearly Event's own 1 MiB
// bound is delivered, cut to PagerDuty's 512 KB, and opens its alert.
func TestOversizedEventAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	e := testkit.FullEvent()
	e.Description = strings.Repeat("é", 400_000) // 800,000 bytes
	e.Details["dom"] = strings.Repeat("&", 200_000)
	require.NoError(t, e.Validate())

	_, err = n.Send(context.Background(), e)
	require.NoError(t, err)
	require.Len(t, srv.PagerDutyOpen(), 1)
	r, ok := srv.LastRequest(notifytest.PagerDuty)
	require.True(t, ok)
	require.LessOrEqual(t, len(r.Body), maxEventBytes)
	var got event
	require.NoError(t, r.DecodeJSON(&got))
	require.Contains(t, string(r.Body), `"truncated":"the event was over PagerDuty's 512 KB limit: its longest texts were cut`)
	require.Contains(t, string(r.Body), `"tags":["pci","checkout"]`)
}
