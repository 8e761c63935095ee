package splunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const cloudURL = "https://http-inputs-acme.splunkcloud.com/services/collector"

const cloudEventURL = cloudURL + "/event"

func validConfig() Config {
	return Config{Name: "SOC Splunk", URL: cloudURL, APIToken: testToken, Index: "security"}
}

func testEvent() notify.Event {
	return notify.Event{
		ID:          "evt-0001",
		Type:        notify.EventIncident,
		Title:       "Skimmer script on /checkout",
		Description: "A script from cdn.evil.example reads the card form <input>.",
		Risk:        notify.RiskCritical,
		Time:        time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC),
		URL:         "https://console.codedefender.example/incidents/1",
		Source:      "https://shop.example.com/checkout",
		Tags:        []string{"pci", "skimmer"},
		Details:     map[string]string{"script": "https://cdn.evil.example/x.js"},
	}
}

// makeEvents returns n valid events with varied sizes, in order.
func makeEvents(n int) []notify.Event {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	risks := notify.Risks
	events := make([]notify.Event, n)
	for i := range events {
		events[i] = notify.Event{
			ID:          fmt.Sprintf("evt-%07d", i),
			Type:        notify.EventClientSideRisk,
			Title:       fmt.Sprintf("New third-party script #%d on the payment page", i),
			Description: strings.Repeat("A script was added to the checkout page. ", 1+i%7),
			Risk:        risks[i%len(risks)],
			Time:        base.Add(time.Duration(i) * time.Millisecond),
			Source:      "https://shop.example.com",
			Tags:        []string{"pci", "script"},
			Details:     map[string]string{"script": fmt.Sprintf("https://cdn%d.example/a.js", i%13), "page": "/checkout"},
		}
	}
	return events
}

// mockNotifier returns a Notifier whose HTTP goes to an httpmock transport.
func mockNotifier(t *testing.T, c Config, opts ...notify.Option) (*Notifier, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	n, err := New(c, append([]notify.Option{notify.WithHTTPClient(&http.Client{Transport: mt})}, opts...)...)
	require.NoError(t, err)
	return n, mt
}

// fakeNotifier returns a Notifier pointed at f.
func fakeNotifier(t testing.TB, f *fakeHEC, opts ...notify.Option) *Notifier {
	t.Helper()
	c := validConfig()
	c.URL = f.url()
	n, err := New(c, append([]notify.Option{notify.WithAllowPrivateNetworks()}, opts...)...)
	require.NoError(t, err)
	return n
}

// captured is one request seen by an httpmock responder.
type captured struct {
	method, url string
	header      http.Header
	body        []byte // decompressed
}

// capture answers every POST to url with status and body and records the
// requests.
func capture(t *testing.T, mt *httpmock.MockTransport, url string, status int, body string) *[]captured {
	t.Helper()
	var got []captured
	mt.RegisterResponder(http.MethodPost, url, func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			require.NoError(t, err)
			b, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		got = append(got, captured{method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: b})
		resp := httpmock.NewStringResponse(status, body)
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	})
	return &got
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		testkit.ValidateCase[Config]
		want string // a phrase the url message holds
	}{
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid cloud AWS form", Config: with(func(c *Config) {})}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid cloud GCP/Azure form", Config: with(func(c *Config) { c.URL = "https://http-inputs.acme.splunkcloud.com/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid FedRAMP form", Config: with(func(c *Config) { c.URL = "https://http-inputs.acme.splunkcloudgc.com:443/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid trial form", Config: with(func(c *Config) { c.URL = "https://prd-p-ab12c.splunkcloud.com:8088/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid event endpoint", Config: with(func(c *Config) { c.URL = cloudEventURL })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid trailing slash", Config: with(func(c *Config) { c.URL = cloudURL + "/" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid on-prem", Config: with(func(c *Config) { c.URL = "https://splunk.corp.example:8088/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid behind a path prefix", Config: with(func(c *Config) { c.URL = "https://gw.example.com/splunk/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid loopback http (New decides)", Config: with(func(c *Config) { c.URL = "http://127.0.0.1:8088/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid no index", Config: with(func(c *Config) { c.Index = "" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid upper-case token", Config: with(func(c *Config) { c.APIToken = notify.Secret(strings.ToUpper(testToken.Reveal())) })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "all empty", Config: with(func(c *Config) { *c = Config{} }), Fields: []string{"name", "url", "api_token"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "name too long", Config: with(func(c *Config) { c.Name = strings.Repeat("n", 101) }), Fields: []string{"name"}, Schema: true}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "name control char", Config: with(func(c *Config) { c.Name = "a\nb" }), Fields: []string{"name"}}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "plain http to a public address", Config: with(func(c *Config) { c.URL = "http://93.184.216.34:8088/services/collector" }), Fields: []string{"url"}}, want: "https"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "cloud over http", Config: with(func(c *Config) { c.URL = "http://http-inputs-acme.splunkcloud.com/services/collector" }), Fields: []string{"url"}}, want: "https"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "token in query", Config: with(func(c *Config) { c.URL = cloudURL + "?token=" + testToken.Reveal() }), Fields: []string{"url"}}, want: "query string"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "fragment", Config: with(func(c *Config) { c.URL = cloudURL + "#x" }), Fields: []string{"url"}}, want: "fragment"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "raw endpoint", Config: with(func(c *Config) { c.URL = cloudURL + "/raw" }), Fields: []string{"url"}}, want: "raw endpoint"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "health endpoint", Config: with(func(c *Config) { c.URL = cloudURL + "/health" }), Fields: []string{"url"}}, want: "health endpoint"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "no HEC path", Config: with(func(c *Config) { c.URL = "https://http-inputs-acme.splunkcloud.com/" }), Fields: []string{"url"}}, want: "/services/collector"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid cloud web address (the console's form)", Config: with(func(c *Config) { c.URL = "https://acme.splunkcloud.com/services/collector" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "valid cloud web address, event endpoint", Config: with(func(c *Config) { c.URL = "https://acme.splunkcloud.com/services/collector/event" })}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "cloud web address over http", Config: with(func(c *Config) { c.URL = "http://acme.splunkcloud.com/services/collector" }), Fields: []string{"url"}}, want: "https"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "user info", Config: with(func(c *Config) { c.URL = "https://admin:pw@splunk.corp.example:8088/services/collector" }), Fields: []string{"url"}}, want: "user name"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "not a URL", Config: with(func(c *Config) { c.URL = "splunk" }), Fields: []string{"url"}}, want: "absolute"},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "token not a GUID", Config: with(func(c *Config) { c.APIToken = "not-a-guid-token" }), Fields: []string{"api_token"}}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "token masked", Config: with(func(c *Config) { c.APIToken = notify.Redacted }), Fields: []string{"api_token"}}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "token with newline", Config: with(func(c *Config) { c.APIToken = testToken + "\n" }), Fields: []string{"api_token"}}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "index upper case", Config: with(func(c *Config) { c.Index = "Security" }), Fields: []string{"index"}, Schema: true}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "index internal", Config: with(func(c *Config) { c.Index = "_internal" }), Fields: []string{"index"}, Schema: true}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "index leading hyphen", Config: with(func(c *Config) { c.Index = "-x" }), Fields: []string{"index"}, Schema: true}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "index bad char", Config: with(func(c *Config) { c.Index = "sec.alerts" }), Fields: []string{"index"}, Schema: true}, want: ""},
		{ValidateCase: testkit.ValidateCase[Config]{Name: "index spaces", Config: with(func(c *Config) { c.Index = " security" }), Fields: []string{"index"}}, want: ""},
	}
	cases := make([]testkit.ValidateCase[Config], len(tests))
	for i, tt := range tests {
		cases[i] = tt.ValidateCase
	}
	testkit.RunValidate(t, cases, func(c Config) []notify.Secret { return testkit.Unmasked(testToken, c.APIToken) })
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		t.Run(tt.Name+": message", func(t *testing.T) {
			require.ErrorContains(t, tt.Config.Validate(), tt.want)
		})
	}
}

func TestNewChecksURLWithOptions(t *testing.T) {
	c := validConfig()
	c.URL = "http://127.0.0.1:8088/services/collector"

	_, err := New(c)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("url"))
	require.Contains(t, err.Error(), "WithAllowPrivateNetworks")

	n, err := New(c, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8088/services/collector/event", n.eventURL)

	_, err = New(Config{})
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("name"))
}

func TestNewWarnsOnUnknownCloudForm(t *testing.T) {
	for _, tt := range []struct {
		url  string
		warn bool
	}{
		{cloudURL, false},
		{"https://prd-p-ab12c.splunkcloud.com:8088/services/collector", false},
		{"https://http-inputs-firehose-acme.splunkcloud.com/services/collector", false},
		{"https://hec.acme.splunkcloud.com/services/collector", true},
		{"https://http-inputs-acme.splunkcloud.com:8088/services/collector", true},
		{"https://splunk.corp.example:8088/services/collector", false},
	} {
		t.Run(tt.url, func(t *testing.T) {
			logger, logs := notifytest.NewLogger()
			c := validConfig()
			c.URL = tt.url
			_, err := New(c, notify.WithLogger(logger))
			require.NoError(t, err)
			require.Equal(t, tt.warn, strings.Contains(logs.String(), "not in a documented HEC form"), logs.String())
			notifytest.AssertNoSecret(t, logs.String(), testToken)
		})
	}
}

func TestConfigJSONAndPrinting(t *testing.T) {
	raw := json.RawMessage(`{"name":"SOC Splunk","url":"` + cloudURL + `","api_token":"` + testToken.Reveal() + `","index":"security"}`)
	n, err := FromJSON(raw)
	require.NoError(t, err)
	require.Equal(t, `splunk("SOC Splunk")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), testToken)
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, validConfig()), testToken)
	}
	masked, err := json.Marshal(validConfig())
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"SOC Splunk","url":"`+cloudURL+`","api_token":"[REDACTED]","index":"security"}`, string(masked))

	// A masked config sent back never replaces the credential.
	_, err = FromJSON(masked)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("api_token"))

	_, err = FromJSON(json.RawMessage(`{"name":"x","url":"` + cloudURL + `","api_token":"` + testToken.Reveal() + `","sourcetype":"x"}`))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("sourcetype"))
	notifytest.AssertNoSecret(t, err, testToken)

	var reg notify.Registry
	require.NoError(t, reg.Register(Type, FromJSON))
	built, err := reg.Build([]byte(`{"type":"splunk","config":` + string(raw) + `}`))
	require.NoError(t, err)
	_, isBatch := built.(notify.BatchSender)
	require.True(t, isBatch)
}

func TestSendExactRequest(t *testing.T) {
	n, mt := mockNotifier(t, validConfig(), notify.WithUserAgent("cd-test/1"))
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)

	rc, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-0001"}, rc)
	require.Len(t, *got, 1)
	req := (*got)[0]
	require.Equal(t, http.MethodPost, req.method)
	require.Equal(t, cloudEventURL, req.url)
	require.Equal(t, "Splunk "+testToken.Reveal(), req.header.Get("Authorization"))
	require.Equal(t, "application/json", req.header.Get("Content-Type"))
	require.Equal(t, "cd-test/1", req.header.Get("User-Agent"))
	require.Empty(t, req.header.Get("Content-Encoding"), "a small body is not gzipped")
	require.Regexp(t, guidRE, req.header.Get("X-Splunk-Request-Channel"))

	want := `{"time":1767225600.123,"host":"shop.example.com","source":"codedefender","sourcetype":"_json",` +
		`"index":"security","event":{"id":"evt-0001","type":"incident","title":"Skimmer script on /checkout",` +
		`"description":"A script from cdn.evil.example reads the card form <input>.","risk":"critical",` +
		`"time":"2026-01-01T00:00:00.123456789Z","url":"https://console.codedefender.example/incidents/1",` +
		`"source":"https://shop.example.com/checkout","tags":["pci","skimmer"],` +
		`"details":{"script":"https://cdn.evil.example/x.js"}}}`
	require.JSONEq(t, want, string(req.body))
	require.Equal(t, want, string(req.body), "one compact envelope, fields in HEC's documented order")
}

func TestSendResolvedIsItsOwnEvent(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)
	e := testEvent()
	_, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	resolved := e
	resolved.Status = notify.StatusResolved
	for range 2 { // resolving twice is two records of the same fact, both accepted
		rc, err := n.Send(context.Background(), resolved)
		require.NoError(t, err)
		require.Equal(t, notify.Receipt{ID: "evt-0001"}, rc)
	}
	require.Len(t, *got, 3)
	want := `{"time":1767225600.123,"host":"shop.example.com","source":"codedefender","sourcetype":"_json",` +
		`"index":"security","event":{"id":"evt-0001","type":"incident","title":"Skimmer script on /checkout",` +
		`"description":"A script from cdn.evil.example reads the card form <input>.","risk":"critical",` +
		`"time":"2026-01-01T00:00:00.123456789Z","url":"https://console.codedefender.example/incidents/1",` +
		`"source":"https://shop.example.com/checkout","tags":["pci","skimmer"],` +
		`"details":{"script":"https://cdn.evil.example/x.js"},"status":"resolved"}}`
	for _, req := range (*got)[1:] {
		require.Equal(t, cloudEventURL, req.url)
		require.Equal(t, want, string(req.body))
	}
	require.NotContains(t, string((*got)[0].body), `"status"`, "an open event carries no status")
}

func TestEnvelopeFields(t *testing.T) {
	c := validConfig()
	c.Index = ""
	n, mt := mockNotifier(t, c)
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)

	for _, tt := range []struct {
		source   string
		wantHost any
	}{
		{"", nil},
		{"shop.example.com", "shop.example.com"},
		{"https://shop.example.com:8443/a?b=c", "shop.example.com"},
		{"Mobile app", "Mobile app"},
		{"://not a url", "://not a url"},
	} {
		e := testEvent()
		e.Source = tt.source
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		var env map[string]any
		require.NoError(t, json.Unmarshal((*got)[len(*got)-1].body, &env))
		require.Equal(t, tt.wantHost, env["host"], tt.source)
		require.NotContains(t, env, "index", "no index unless configured")
		require.Equal(t, "_json", env["sourcetype"])
		require.Equal(t, "codedefender", env["source"])
	}
}

func TestAppendEpoch(t *testing.T) {
	for _, tt := range []struct {
		ms   int64
		want string
	}{
		{0, "0.000"},
		{1767225600123, "1767225600.123"},
		{1767225600005, "1767225600.005"},
		{1767225600050, "1767225600.050"},
		{-1500, "-1.500"},
		{math.MinInt64, "-9223372036854775.808"},
		{math.MaxInt64, "9223372036854775.807"},
	} {
		require.Equal(t, tt.want, string(appendEpoch(nil, tt.ms)))
	}
}

func TestSendRefusesInvalidEventOffline(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	e := testEvent()
	e.Title = ""
	_, err := n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("title"))

	require.Zero(t, mt.GetTotalCallCount())
}

func TestSendOversizedEventIsDeliveredShortened(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)
	big := testEvent()
	// Within notify.MaxEventBytes, but more than a 1 MB request as JSON:
	// every quote is escaped.
	big.Description = strings.Repeat(`"`, 600_000)
	big.Details = map[string]string{"dom": strings.Repeat("<a>", 50_000), "page": "/checkout"}
	require.NoError(t, big.Validate())
	rc, err := n.Send(context.Background(), big)
	require.NoError(t, err, "an oversized alert is delivered, not refused")
	require.Equal(t, notify.Receipt{ID: "evt-0001"}, rc)
	require.Len(t, *got, 1)
	body := (*got)[0].body
	require.LessOrEqual(t, len(body), DefaultMaxRequestBytes)

	var env struct{ Event notify.Event }
	require.NoError(t, json.Unmarshal(body, &env))
	e := env.Event
	require.Equal(t, big.ID, e.ID)
	require.Equal(t, big.Title, e.Title, "the title is kept")
	require.True(t, strings.HasSuffix(e.Description, "…"), "the largest field is cut, with a marker")
	require.Less(t, len(e.Description), len(big.Description))
	require.True(t, big.Details["dom"] == e.Details["dom"], "a field below the cut stays whole")
	require.Equal(t, "/checkout", e.Details["page"])
	require.Equal(t, big.Tags, e.Tags)
	require.True(t, strings.Repeat(`"`, 600_000) == big.Description, "the caller's event is not modified")
}

func TestSend413ShortensAndRetries(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithGzip(false))
	f.set(func(f *fakeHEC) { f.maxContentLength = 3000 })
	big := testEvent()
	big.Description = strings.Repeat("d", 5000)
	rc, err := n.Send(context.Background(), big)
	require.NoError(t, err)
	require.Equal(t, "evt-0001", rc.ID)
	reqs, envs := f.snapshot()
	require.Len(t, reqs, 2, "refused once as too large, then delivered shortened")
	require.Len(t, envs, 1)
	got := decodeEvent(t, envs[0].Event)
	require.True(t, strings.HasSuffix(got.Description, "…"))
	require.Equal(t, big.Title, got.Title)
}

func TestShrinkEvent(t *testing.T) {
	e := testEvent()
	e.Description = strings.Repeat("d", 100)
	e.Tags = []string{strings.Repeat("t", 60), "pci"}
	e.Details = map[string]string{"a": strings.Repeat("v", 80), "b": "short"}

	got := shrinkEvent(e, 90)
	// Largest first: every field longer than the cap is cut to it.
	require.Equal(t, strings.Repeat("d", 47)+"…", got.Description, "cut to the cap, 50 bytes, marker included")
	require.Equal(t, strings.Repeat("v", 47)+"…", got.Details["a"])
	require.Equal(t, []string{strings.Repeat("t", 47) + "…", "pci"}, got.Tags)
	require.Equal(t, "short", got.Details["b"])
	require.Equal(t, e.Title, got.Title)
	require.Equal(t, strings.Repeat("v", 80), e.Details["a"], "the input's map is not modified")
	require.Equal(t, strings.Repeat("t", 60), e.Tags[0], "nor its tags")

	// More than every other field holds: the title is cut too, never dropped.
	all := shrinkEvent(e, 10_000)
	require.Equal(t, "…", all.Title)
	require.Empty(t, all.Description)
	require.Nil(t, all.Tags)
	require.Equal(t, e.ID, all.ID)
}

func TestHECAnswers(t *testing.T) {
	type check struct {
		kind      error
		retryable bool
		after     time.Duration
		msg       string
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   check
	}{
		{"token disabled", 403, nil, `{"text":"Token disabled","code":1}`, check{notify.ErrForbidden, false, 0, "HEC code 1: Token disabled (the token is disabled"}},
		{"token required", 401, nil, `{"text":"Token is required","code":2}`, check{notify.ErrUnauthorized, false, 0, "a proxy in between"}},
		{"invalid authorization", 401, nil, `{"text":"Invalid authorization","code":3}`, check{notify.ErrUnauthorized, false, 0, "HEC code 3"}},
		{"invalid token", 403, nil, `{"text":"Invalid token","code":4}`, check{notify.ErrUnauthorized, false, 0, "HEC does not know this token"}},
		{"invalid token 21", 400, nil, `{"text":"Invalid token","code":21}`, check{notify.ErrUnauthorized, false, 0, "HEC code 21"}},
		{"token disabled 22", 400, nil, `{"text":"Token disabled","code":22}`, check{notify.ErrForbidden, false, 0, "HEC code 22"}},
		{"invalid data", 400, nil, `{"text":"Invalid data format","code":6,"invalid-event-number":0}`, check{notify.ErrRejected, false, 0, `(event 0 of the request, id "evt-0001")`}},
		{"internal error", 500, nil, `{"text":"Internal server error","code":8}`, check{notify.ErrUnavailable, true, 0, "HEC code 8"}},
		{"busy", 503, http.Header{"Retry-After": {"7"}}, `{"text":"Server is busy","code":9}`, check{notify.ErrUnavailable, true, 7 * time.Second, "HEC is busy"}},
		{"channel missing", 400, nil, `{"text":"Data channel is missing","code":10}`, check{notify.ErrRejected, false, 0, "indexer acknowledgement"}},
		{"queues full", 503, nil, `{"text":"HEC is unhealthy, queues are full","code":18}`, check{notify.ErrUnavailable, true, 0, "queues are full"}},
		{"ack unavailable", 503, nil, `{"text":"HEC is unhealthy, ack service unavailable","code":19}`, check{notify.ErrUnavailable, true, 0, "HEC code 19"}},
		{"both", 503, nil, `{"text":"HEC is unhealthy, queues are full, ack service unavailable","code":20}`, check{notify.ErrUnavailable, true, 0, "HEC code 20"}},
		{"unknown code falls back to status", 502, nil, `{"text":"odd","code":99}`, check{notify.ErrUnavailable, true, 0, "HEC code 99: odd"}},
		{"load balancer 429", 429, http.Header{"Retry-After": {"3"}}, `Too Many Requests`, check{notify.ErrRateLimited, true, 3 * time.Second, "Too Many Requests"}},
		{"html 404", 404, nil, `<html><title>Page not found</title></html>`, check{notify.ErrNotFound, false, 0, "no HEC endpoint at this URL"}},
		{"2xx not HEC", 200, nil, `<html>proxy</html>`, check{notify.ErrRejected, false, 0, "is the URL the HEC endpoint?"}},
		{"2xx with an error code", 200, nil, `{"text":"No data","code":5}`, check{notify.ErrRejected, false, 0, "HEC code 5"}},
		{"token echoed back", 403, nil, `{"text":"Invalid token ` + testToken.Reveal() + `","code":4}`, check{notify.ErrUnauthorized, false, 0, "Invalid token [REDACTED]"}},
		{"redirect", 302, http.Header{"Location": {"https://elsewhere.example/x"}}, ``, check{notify.ErrRejected, false, 0, "status 302"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := notifytest.NewLogger()
			n, mt := mockNotifier(t, validConfig(), notify.WithLogger(logger))
			mt.RegisterResponder(http.MethodPost, cloudEventURL, func(*http.Request) (*http.Response, error) {
				resp := httpmock.NewStringResponse(tt.status, tt.body)
				for k, v := range tt.header {
					resp.Header[k] = v
				}
				return resp, nil
			})
			_, err := n.Send(context.Background(), testEvent())
			require.Error(t, err)
			require.ErrorIs(t, err, tt.want.kind)
			require.Equal(t, tt.want.retryable, notify.IsRetryable(err))
			require.Equal(t, tt.want.after, notify.RetryAfterOf(err))
			require.Contains(t, err.Error(), tt.want.msg)
			require.True(t, strings.HasPrefix(err.Error(), "splunk: send"), err.Error())
			var ne *notify.Error
			require.ErrorAs(t, err, &ne)
			require.Equal(t, tt.status, ne.StatusCode)
			notifytest.AssertNoSecret(t, err, testToken)
			notifytest.AssertNoSecret(t, logs.String(), testToken)

			// SendBatch reads the same answers the same way.
			rcs, err := n.SendBatch(context.Background(), []notify.Event{testEvent()})
			require.Empty(t, rcs)
			require.ErrorIs(t, err, tt.want.kind)
			require.Equal(t, tt.want.retryable, notify.IsRetryable(err))
			require.Contains(t, err.Error(), "splunk: send batch: events[0:1]")
			notifytest.AssertNoSecret(t, err, testToken)
		})
	}
}

func TestIncorrectIndexNamesTheField(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f)
	f.set(func(f *fakeHEC) { f.indexes = map[string]bool{"main": true} })

	_, err := n.Send(context.Background(), testEvent())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.False(t, notify.IsRetryable(err))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("index"))
	require.Contains(t, err.Error(), `"security" is not an index this token may write to`)
	require.Contains(t, err.Error(), "HEC code 7: Incorrect index")

	rcs, err := n.SendBatch(context.Background(), makeEvents(3))
	require.Empty(t, rcs)
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("index"))
	require.Contains(t, err.Error(), `(event 0 of the request, id "evt-0000000")`)
	_, envs := f.snapshot()
	require.Empty(t, envs)
}

func TestTestProbe(t *testing.T) {
	t.Run("exact request", func(t *testing.T) {
		n, mt := mockNotifier(t, validConfig())
		got := capture(t, mt, cloudEventURL, http.StatusBadRequest, `{"text":"No data","code":5}`)
		require.NoError(t, n.Test(context.Background()))
		require.Len(t, *got, 1)
		req := (*got)[0]
		require.Equal(t, http.MethodPost, req.method)
		require.Equal(t, cloudEventURL, req.url)
		require.Equal(t, "Splunk "+testToken.Reveal(), req.header.Get("Authorization"))
		require.Regexp(t, guidRE, req.header.Get("X-Splunk-Request-Channel"))
		require.Empty(t, req.body, "nothing to index")
	})

	f := newFakeHEC(t)
	for _, tt := range []struct {
		name  string
		token notify.Secret
		kind  error
		msg   string
	}{
		{"good token", testToken, nil, ""},
		{"disabled token", disabledToken, notify.ErrForbidden, "HEC code 1: Token disabled"},
		{"unknown token", "99999999-9999-9999-9999-999999999999", notify.ErrUnauthorized, "HEC code 4: Invalid token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.URL, c.APIToken = f.url(), tt.token
			logger, logs := notifytest.NewLogger()
			n, err := New(c, notify.WithAllowPrivateNetworks(), notify.WithLogger(logger))
			require.NoError(t, err)
			err = n.Test(context.Background())
			notifytest.AssertNoSecret(t, err, tt.token)
			notifytest.AssertNoSecret(t, logs.String(), tt.token)
			if tt.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.kind)
			require.Contains(t, err.Error(), "splunk: "+testOp)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
	_, envs := f.snapshot()
	require.Empty(t, envs, "Test indexed nothing")

	t.Run("not HEC", func(t *testing.T) {
		n, mt := mockNotifier(t, validConfig())
		capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)
		err := n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.Contains(t, err.Error(), "is the URL the HEC endpoint?")

		n2, mt2 := mockNotifier(t, validConfig())
		capture(t, mt2, cloudEventURL, http.StatusNotFound, `<html><title>Not Found</title></html>`)
		err = n2.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrNotFound)
		require.Contains(t, err.Error(), "http-inputs-<stack>.splunkcloud.com")
	})
}

func TestWithCACert(t *testing.T) {
	f := newFakeHECUnstarted()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c := validConfig()
	c.URL = srv.URL + collectorPath

	n, err := New(c, notify.WithAllowPrivateNetworks(), WithCACert(caPEM))
	require.NoError(t, err)
	require.NoError(t, n.Test(context.Background()))
	rc, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, "evt-0001", rc.ID)

	// Without the CA the certificate is not trusted.
	n2, err := New(c, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	err = n2.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), "certificate")
	notifytest.AssertNoSecret(t, err, testToken)

	_, err = New(c, WithCACert([]byte("not pem")))
	require.ErrorContains(t, err, "no PEM certificate")
	_, err = New(c, WithCACert(caPEM), notify.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}))
	require.ErrorContains(t, err, "WithHTTPClient")
}

func TestNetworkGuardStillApplies(t *testing.T) {
	f := newFakeHEC(t)
	c := validConfig()
	c.URL = strings.Replace(f.url(), "http://", "https://", 1)
	n, err := New(c) // no WithAllowPrivateNetworks: loopback is refused before connecting
	require.NoError(t, err)
	_, err = n.Send(context.Background(), testEvent())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.ErrorIs(t, err, notify.ErrBlockedAddress)
	require.Empty(t, func() []fakeRequest { r, _ := f.snapshot(); return r }())
}

func TestCanceledContext(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := n.Send(ctx, testEvent())
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, notify.IsRetryable(err))
	rcs, err := n.SendBatch(ctx, makeEvents(5))
	require.Empty(t, rcs)
	require.ErrorIs(t, err, context.Canceled)
}

func TestChannelIsStablePerNotifier(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f)
	for range 3 {
		_, err := n.Send(context.Background(), testEvent())
		require.NoError(t, err)
	}
	other := fakeNotifier(t, f)
	_, err := other.Send(context.Background(), testEvent())
	require.NoError(t, err)
	reqs, _ := f.snapshot()
	require.Len(t, reqs, 4)
	require.Regexp(t, guidRE, reqs[0].channel)
	require.Equal(t, reqs[0].channel, reqs[2].channel)
	require.NotEqual(t, reqs[0].channel, reqs[3].channel)
}

func TestNoSecretInErrorsOrLogsAgainstPeer(t *testing.T) {
	f := newFakeHEC(t)
	logger, logs := notifytest.NewLogger()
	n := fakeNotifier(t, f, notify.WithLogger(logger))
	f.set(func(f *fakeHEC) {
		f.answers = map[int]fakeAnswer{0: {status: 403, body: `{"text":"Invalid token: ` + testToken.Reveal() + `","code":4}`}}
	})
	_, err := n.Send(context.Background(), testEvent())
	require.ErrorIs(t, err, notify.ErrUnauthorized)
	notifytest.AssertNoSecret(t, err, testToken)
	require.NotEmpty(t, logs.String())
	notifytest.AssertNoSecret(t, logs.String(), testToken)
	require.False(t, errors.Is(err, notify.ErrForbidden))
}

func TestTestReport(t *testing.T) {
	for _, tt := range []struct {
		name     string
		index    string
		status   int
		answer   string
		statuses []notify.CheckStatus
		kind     error
	}{
		{"token and index", "security", http.StatusBadRequest, `{"text":"No data","code":5}`,
			[]notify.CheckStatus{notify.CheckPassed, notify.CheckWarning}, nil},
		{"token, default index", "", http.StatusBadRequest, `{"text":"No data","code":5}`,
			[]notify.CheckStatus{notify.CheckPassed, notify.CheckSkipped}, nil},
		{"token refused", "security", http.StatusForbidden, `{"text":"Invalid token","code":4}`,
			[]notify.CheckStatus{notify.CheckFailed, notify.CheckSkipped}, notify.ErrUnauthorized},
		{"not HEC", "security", http.StatusOK, `{"text":"Success","code":0}`,
			[]notify.CheckStatus{notify.CheckFailed, notify.CheckSkipped}, notify.ErrRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Index = tt.index
			n, mt := mockNotifier(t, c)
			got := capture(t, mt, cloudEventURL, tt.status, tt.answer)
			rep := n.TestReport(context.Background())
			require.Len(t, *got, 1, "one request, which indexes nothing")
			require.Empty(t, (*got)[0].body)
			var names []string
			var statuses []notify.CheckStatus
			for _, ch := range rep.Checks {
				names, statuses = append(names, ch.Name), append(statuses, ch.Status)
				require.NotEmpty(t, ch.Detail)
				notifytest.AssertNoSecret(t, ch.Detail, testToken)
			}
			require.Equal(t, []string{"token accepted", "index writable"}, names)
			require.Equal(t, tt.statuses, statuses, "%+v", rep.Checks)
			if tt.index != "" && tt.kind == nil {
				require.Contains(t, rep.Checks[1].Detail, `index "security"`)
			}
			if tt.kind == nil {
				require.NoError(t, rep.Err())
				require.NoError(t, n.Test(context.Background()))
				return
			}
			require.ErrorIs(t, rep.Err(), tt.kind)
			require.ErrorIs(t, n.Test(context.Background()), tt.kind, "Test is TestReport(ctx).Err()")
			notifytest.AssertNoSecret(t, rep.Err(), testToken)
		})
	}
}

func TestCloudWebAddressIsSentToTheStacksHECHost(t *testing.T) {
	for _, stored := range []string{
		"https://acme.splunkcloud.com/services/collector",
		"https://acme.splunkcloud.com/services/collector/event",
		"https://ACME.splunkcloud.com:443/services/collector/",
	} {
		t.Run(stored, func(t *testing.T) {
			c := validConfig()
			c.URL = stored
			n, mt := mockNotifier(t, c)
			const hec = "https://http-inputs-acme.splunkcloud.com/services/collector/event"
			got := capture(t, mt, hec, http.StatusOK, `{"text":"Success","code":0}`)
			_, err := n.Send(context.Background(), testEvent())
			require.NoError(t, err)
			require.Len(t, *got, 1)
			require.Equal(t, hec, (*got)[0].url)
			require.Equal(t, http.MethodPost, (*got)[0].method)

			*got = nil
			mt.RegisterResponder(http.MethodPost, hec, httpmock.NewStringResponder(http.StatusBadRequest, `{"text":"No data","code":5}`))
			require.NoError(t, n.Test(context.Background()))
			require.Equal(t, 1, mt.GetCallCountInfo()["POST "+hec])
		})
	}
}

func TestUnresolvableDerivedHostSaysToEnterTheHECURL(t *testing.T) {
	dnsFailure := func(r *http.Request) (*http.Response, error) {
		return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
	}
	c := validConfig()
	c.URL = "https://acme.splunkcloud.com/services/collector"
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, "https://http-inputs-acme.splunkcloud.com/services/collector/event", dnsFailure)
	n, err := New(c, notify.WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)

	rep := n.TestReport(context.Background())
	err = rep.Err()
	var e *notify.Error
	require.ErrorAs(t, err, &e)
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.Equal(t, "the URL is the Splunk Cloud stack's own address, and its HEC host http-inputs-acme.splunkcloud.com "+
		"does not resolve: enter the stack's HEC URL instead (https://http-inputs.acme.splunkcloud.com/services/collector "+
		"on Google Cloud or Azure; Splunk Web shows it under Settings > Data inputs > HTTP Event Collector)", e.Hint)
	require.Equal(t, notify.CheckFailed, rep.Checks[0].Status)
	notifytest.AssertNoSecret(t, err, testToken)

	// A URL the user gave as the HEC URL keeps the usual DNS hint.
	mt.RegisterResponder(http.MethodPost, cloudEventURL, dnsFailure)
	n, err = New(validConfig(), notify.WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)
	err = n.Test(context.Background())
	require.ErrorAs(t, err, &e)
	require.Equal(t, "the host name does not resolve: check it", e.Hint)
}

func TestConsoleFormAgainstTheFake(t *testing.T) {
	srv := fakes.NewServer(t)
	c := validConfig()
	c.URL = "https://acme.splunkcloud.com/services/collector"
	n, err := New(c, notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	require.NoError(t, n.Test(context.Background()))
	_, err = n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	events := srv.SplunkEvents()
	require.Len(t, events, 1)
	require.Equal(t, "http-inputs-acme.splunkcloud.com", events[0].Host, "the stack's HEC host, not its web address")
	require.Equal(t, "/services/collector/event", events[0].Path)
}

func TestCloseContract(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)
	_, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.FullEvent(), func() int { return len(*got) }, testToken)
	rcs, err := n.SendBatch(context.Background(), makeEvents(2))
	require.Empty(t, rcs)
	require.ErrorContains(t, err, "closed")
}

// requireDelivered checks that the fake holds exactly events, in order, each
// in a well-formed envelope.
func requireDelivered(t *testing.T, envs []gotEnvelope, events []notify.Event) {
	t.Helper()
	require.Len(t, envs, len(events))
	for i, env := range envs {
		e := events[i]
		got := decodeEvent(t, env.Event)
		require.Equal(t, e.ID, got.ID, "event %d out of order", i)
		require.True(t, e.Time.Equal(got.Time))
		require.Equal(t, e.Description, got.Description)
		require.Equal(t, e.Details, got.Details)
		require.Equal(t, string(appendEpoch(nil, e.Time.UnixMilli())), env.Time.String())
		require.Equal(t, "_json", env.Sourcetype)
		require.Equal(t, "codedefender", env.Source)
		require.NotNil(t, env.Host)
		require.Equal(t, "shop.example.com", *env.Host)
		require.NotNil(t, env.Index)
		require.Equal(t, "security", *env.Index)
	}
}

func receiptIDs(rcs []notify.Receipt) []string {
	ids := make([]string, len(rcs))
	for i, rc := range rcs {
		ids[i] = rc.ID
	}
	return ids
}

func eventIDs(events []notify.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestSendBatchExactBody(t *testing.T) {
	c := validConfig()
	c.Index = ""
	n, mt := mockNotifier(t, c)
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)

	events := makeEvents(2)
	events[1].Source = ""
	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, []notify.Receipt{{ID: "evt-0000000"}, {ID: "evt-0000001"}}, rcs)
	require.Len(t, *got, 1)
	req := (*got)[0]
	require.Equal(t, "Splunk "+testToken.Reveal(), req.header.Get("Authorization"))
	require.Equal(t, "application/json", req.header.Get("Content-Type"))
	require.Empty(t, req.header.Get("Content-Encoding"))

	first := `{"time":1767225600.000,"host":"shop.example.com","source":"codedefender","sourcetype":"_json",` +
		`"event":{"id":"evt-0000000","type":"client_side_risk","title":"New third-party script #0 on the payment page",` +
		`"description":"A script was added to the checkout page. ","risk":"critical","time":"2026-01-01T00:00:00Z",` +
		`"source":"https://shop.example.com","tags":["pci","script"],` +
		`"details":{"page":"/checkout","script":"https://cdn0.example/a.js"}}}`
	second := `{"time":1767225600.001,"source":"codedefender","sourcetype":"_json",` +
		`"event":{"id":"evt-0000001","type":"client_side_risk","title":"New third-party script #1 on the payment page",` +
		`"description":"A script was added to the checkout page. A script was added to the checkout page. ",` +
		`"risk":"high","time":"2026-01-01T00:00:00.001Z","tags":["pci","script"],` +
		`"details":{"page":"/checkout","script":"https://cdn1.example/a.js"}}}`
	// Envelopes one after another: not an array, nothing between them.
	require.Equal(t, first+second, string(req.body))
	dec := json.NewDecoder(bytes.NewReader(req.body))
	for _, want := range []string{first, second} {
		var raw json.RawMessage
		require.NoError(t, dec.Decode(&raw))
		require.JSONEq(t, want, string(raw))
	}
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF)
}

func TestSendBatchAgainstPeer(t *testing.T) {
	const limit = 64 << 10
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(limit))
	events := makeEvents(3000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs))

	reqs, envs := f.snapshot()
	requireDelivered(t, envs, events)
	require.Greater(t, len(reqs), 10, "the batch was split into requests")
	total := 0
	for i, r := range reqs {
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, eventPath, r.path)
		require.LessOrEqual(t, r.bodyBytes, limit, "request %d is over the limit", i)
		if r.bodyBytes >= gzipMinBytes {
			require.Equal(t, "gzip", r.encoding, "a body of many KiB is gzipped")
			require.Less(t, r.wireBytes, r.bodyBytes/3, "gzip pays on JSON envelopes")
		} else {
			require.Empty(t, r.encoding)
		}
		require.Equal(t, reqs[0].channel, r.channel)
		total += r.events
		if i < len(reqs)-1 {
			// Packing is tight: the next envelope would not have fitted.
			next := envs[total]
			require.Greater(t, r.bodyBytes+envelopeSize(t, n, decodeEvent(t, next.Event)), limit)
		}
	}
	require.Equal(t, len(events), total)
}

// envelopeSize is the size of e's envelope as n encodes it.
func envelopeSize(t *testing.T, n *Notifier, e notify.Event) int {
	t.Helper()
	var w envelopeWriter
	env, err := w.encode(&e, n.fixedTail)
	require.NoError(t, err)
	return len(env)
}

func TestSendBatchGzipSwitch(t *testing.T) {
	f := newFakeHEC(t)
	plain := fakeNotifier(t, f, WithGzip(false))
	events := makeEvents(200)
	_, err := plain.SendBatch(context.Background(), events)
	require.NoError(t, err)
	small := fakeNotifier(t, f)
	_, err = small.SendBatch(context.Background(), events[:2])
	require.NoError(t, err)

	reqs, envs := f.snapshot()
	require.Len(t, reqs, 2)
	require.Empty(t, reqs[0].encoding, "WithGzip(false)")
	require.Greater(t, reqs[0].bodyBytes, gzipMinBytes)
	require.Equal(t, reqs[0].bodyBytes, reqs[0].wireBytes)
	require.Empty(t, reqs[1].encoding, "a small body is not worth gzipping")
	requireDelivered(t, envs, append(append([]notify.Event(nil), events...), events[:2]...))
}

func TestSendBatch413SplitsAndLearns(t *testing.T) {
	const serverMax = 20 << 10
	f := newFakeHEC(t)
	f.maxContentLength = serverMax
	logger, logs := notifytest.NewLogger()
	n := fakeNotifier(t, f, WithGzip(false), notify.WithLogger(logger)) // uncompressed, so the wire size is the body size
	events := makeEvents(2000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs))

	reqs, envs := f.snapshot()
	requireDelivered(t, envs, events)
	refused := 0
	for _, r := range reqs {
		if r.status == http.StatusRequestEntityTooLarge {
			refused++
			continue
		}
		require.LessOrEqual(t, r.wireBytes, serverMax)
	}
	// The first body (about 1 MB) is refused at 1 MB, 500, 250, 125, 62
	// and 31 KB, once per size: the other halves are split before sending,
	// and the rest of the batch is packed at the learned size.
	require.Equal(t, 6, refused, "each size is refused once")
	require.Contains(t, logs.String(), "splitting")
	notifytest.AssertNoSecret(t, logs.String(), testToken)
}

func TestSendBatch413OnOneEvent(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithGzip(false))
	events := makeEvents(5)
	events[3].Description = strings.Repeat("d", 3000)
	f.set(func(f *fakeHEC) { f.maxContentLength = 2500 })

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err, "the event HEC found too large goes shortened, and the ones after it follow")
	require.Equal(t, eventIDs(events), receiptIDs(rcs))
	_, envs := f.snapshot()
	require.Len(t, envs, 5)
	requireDelivered(t, append(envs[:3:3], envs[4]), append(events[:3:3], events[4]))
	got := decodeEvent(t, envs[3].Event)
	require.Equal(t, events[3].ID, got.ID)
	require.True(t, strings.HasSuffix(got.Description, "…"))
}

func TestSendBatchEventOverLimitDoesNotBlockTheRest(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(4000))
	events := makeEvents(6)
	events[4].Description = strings.Repeat("d", 4000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs), "every event delivered, the oversized one shortened")
	reqs, envs := f.snapshot()
	for _, r := range reqs {
		require.LessOrEqual(t, r.bodyBytes, 4000)
	}
	require.Len(t, envs, 6)
	requireDelivered(t, append(envs[:4:4], envs[5]), append(events[:4:4], events[5]))
	got := decodeEvent(t, envs[4].Event)
	require.Equal(t, events[4].ID, got.ID)
	require.Equal(t, events[4].Title, got.Title)
	require.True(t, strings.HasSuffix(got.Description, "…"))
}

func TestSendBatchPartialFailureAndResume(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(16<<10))
	events := makeEvents(500)
	f.set(func(f *fakeHEC) {
		f.answers = map[int]fakeAnswer{2: {status: 503, header: http.Header{"Retry-After": {"7"}},
			body: `{"text":"Server is busy","code":9}`}}
	})

	rcs, err := n.SendBatch(context.Background(), events)
	require.Error(t, err)
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	require.Equal(t, 7*time.Second, notify.RetryAfterOf(err))
	reqs, envs := f.snapshot()
	require.Len(t, reqs, 3, "nothing is sent after the failed request")
	delivered := reqs[0].events + reqs[1].events
	require.Equal(t, eventIDs(events[:delivered]), receiptIDs(rcs))
	require.Contains(t, err.Error(), fmt.Sprintf("send batch: events[%d:", delivered))
	requireDelivered(t, envs, events[:delivered])

	// Resending the rest delivers every event exactly once.
	rest, err := n.SendBatch(context.Background(), events[len(rcs):])
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(append(rcs, rest...)))
	_, envs = f.snapshot()
	requireDelivered(t, envs, events)
}

func TestSendBatchRefusesInvalidEventsOffline(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	events := makeEvents(3)
	events[1].Title = ""
	events[2].Risk = "severe"
	rcs, err := n.SendBatch(context.Background(), events)
	require.Nil(t, rcs)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("events[1].title"))
	require.True(t, ve.Has("events[2].risk"))

	many := makeEvents(50)
	for i := range many {
		many[i].ID = ""
	}
	_, err = n.SendBatch(context.Background(), many)
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Fields, maxReportedInvalid+1)
	require.True(t, ve.Has("events[9].id"))
	require.Contains(t, err.Error(), "events: 40 more events are invalid")

	rcs, err = n.SendBatch(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, rcs)
	require.Zero(t, mt.GetTotalCallCount())
}

// TestSendBatchStreamsMemory checks that SendBatch of 100,000 events holds a
// few request bodies at once, not the batch: at each request the fake
// forces a collection and reads the live heap.
func TestSendBatchStreamsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100,000 events")
	}
	const count = 100_000
	events := makeEvents(count)
	f := newFakeHEC(t)
	f.countOnly = true
	n := fakeNotifier(t, f)

	var peak uint64
	f.onRequest = func() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Len(t, rcs, count)

	f.mu.Lock()
	defer f.mu.Unlock()
	require.Equal(t, count, f.counted)
	encoded := count * envelopeSize(t, n, events[count/2])
	receipts := uint64(count) * uint64(unsafe.Sizeof(notify.Receipt{}))
	// Allowed: the receipts, a body being built, one in flight, the fake's
	// copy and the compressor's state. Holding the batch would need encoded.
	allowed := receipts + 4*DefaultMaxRequestBytes + 4<<20
	grew := peak - min(peak, base.HeapAlloc)
	t.Logf("batch encoded: %d MB; live heap grew by at most %.1f MB (allowed %.1f MB) over %d requests",
		encoded>>20, float64(grew)/(1<<20), float64(allowed)/(1<<20), len(f.requests))
	require.Less(t, allowed, uint64(encoded), "the bound must be able to tell streaming from holding the batch")
	require.LessOrEqual(t, grew, allowed)
}

func TestSendBatchReadsInvalidEventNumber(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f)
	f.set(func(f *fakeHEC) {
		f.answers = map[int]fakeAnswer{0: {status: 400, body: `{"text":"Invalid data format","code":6,"invalid-event-number":2}`}}
	})
	rcs, err := n.SendBatch(context.Background(), makeEvents(4))
	require.Empty(t, rcs, "the whole request counts as not delivered")
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), `HEC code 6: Invalid data format (event 2 of the request, id "evt-0000002")`)
	require.False(t, errors.Is(err, notify.ErrUnavailable))
}

// with returns the valid config changed by change.
func with(change func(*Config)) Config {
	c := validConfig()
	change(&c)
	return c
}
