package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testURL = "https://hooks.example.com/cd/alerts?key=q-token-0123456789"
	// testSecret is whsec_ + base64 of the 32 bytes 0x00..0x1f.
	testSecret notify.Secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	bearer     notify.Secret = "Bearer tok-abcdef0123456789"
	teamHeader notify.Secret = "soc-team-secret-42"
)

// fixedNow is the clock of the Notifiers under test: 2026-01-01T00:00:00Z.
var fixedNow = time.Unix(1767225600, 0)

func validConfig() Config {
	return Config{
		Name:          "SOC webhook",
		URL:           testURL,
		Headers:       []Header{{Name: "Authorization", Value: bearer}, {Name: "X-Team", Value: teamHeader}},
		SigningSecret: testSecret,
	}
}

// allSecrets are the secrets of validConfig, for AssertNoSecret.
var allSecrets = []notify.Secret{testSecret, bearer, "tok-abcdef0123456789", teamHeader, "q-token-0123456789"}

func sampleEvt() notify.Event {
	return notify.Event{
		ID:          "evt-123",
		Type:        notify.EventClientSideRisk,
		Title:       "New script on checkout",
		Description: "cdn.example.net/x.js started loading on /checkout",
		Risk:        notify.RiskHigh,
		Time:        time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		URL:         "https://console.example.com/alerts/evt-123",
		Source:      "shop.example.com",
		Tags:        []string{"pci", "script"},
		Details:     map[string]string{"script": "https://cdn.example.net/x.js"},
	}
}

// captured is one request as the mock transport saw it.
type captured struct {
	method, url string
	header      http.Header
	body        []byte
	hadBody     bool
}

// newMocked returns a Notifier on a mock transport answering status (and
// body) to any request, and the requests it receives.
func newMocked(t *testing.T, cfg Config, status int, respBody string, opts ...notify.Option) (*Notifier, *[]captured, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	var got []captured
	mt.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		c := captured{method: req.Method, url: req.URL.String(), header: req.Header.Clone()}
		if req.Body != nil {
			b, err := io.ReadAll(req.Body)
			require.NoError(t, err)
			c.body, c.hadBody = b, true
		}
		got = append(got, c)
		return httpmock.NewStringResponse(status, respBody), nil
	})
	n, err := New(cfg, append([]notify.Option{notify.WithHTTPClient(&http.Client{Transport: mt})}, opts...)...)
	require.NoError(t, err)
	n.now = func() time.Time { return fixedNow }
	return n, &got, mt
}

// hmacSig computes a Standard Webhooks v1 signature independently of sign.
func hmacSig(t *testing.T, secret notify.Secret, signed string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret.Reveal(), "whsec_"))
	require.NoError(t, err)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// requireField checks that err is a *notify.ValidationError naming field
// with a message containing msg.
func requireField(t *testing.T, err error, field, msg string) {
	t.Helper()
	var ve *notify.ValidationError
	require.True(t, errors.As(err, &ve), "want a *notify.ValidationError, got %v", err)
	for _, f := range ve.Fields {
		if f.Field == field && strings.Contains(f.Message, msg) {
			return
		}
	}
	t.Fatalf("no %s error containing %q in: %v", field, msg, err)
}

func TestSend_DefaultBodyIsTheEventAsJSON(t *testing.T) {
	n, got, _ := newMocked(t, validConfig(), http.StatusOK, "ok")
	r, err := n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-123"}, r)
	require.Len(t, *got, 1)
	req := (*got)[0]

	require.Equal(t, http.MethodPost, req.method)
	require.Equal(t, testURL, req.url)
	require.JSONEq(t, `{
		"id": "evt-123", "type": "client_side_risk", "title": "New script on checkout",
		"description": "cdn.example.net/x.js started loading on /checkout", "risk": "high",
		"time": "2026-01-01T00:00:00Z", "url": "https://console.example.com/alerts/evt-123",
		"source": "shop.example.com", "tags": ["pci", "script"],
		"details": {"script": "https://cdn.example.net/x.js"}}`, string(req.body))
	require.Equal(t, http.Header{
		"Authorization":     {bearer.Reveal()},
		"X-Team":            {teamHeader.Reveal()},
		"Content-Type":      {"application/json"},
		"User-Agent":        {notify.DefaultUserAgent},
		"Webhook-Id":        {"evt-123"},
		"Webhook-Timestamp": {"1767225600"},
		"Webhook-Signature": {hmacSig(t, testSecret, "evt-123.1767225600."+string(req.body))},
	}, req.header)
}

func TestSend_SignatureVerifiesAndRetriesKeepTheID(t *testing.T) {
	n, got, _ := newMocked(t, validConfig(), http.StatusOK, "")
	_, err := n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	// A retry a minute later: same id, fresh timestamp and signature.
	n.now = func() time.Time { return fixedNow.Add(time.Minute) }
	_, err = n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)

	require.Len(t, *got, 2)
	first, retry := (*got)[0], (*got)[1]
	require.Equal(t, first.header.Get(HeaderID), retry.header.Get(HeaderID))
	require.Equal(t, "1767225660", retry.header.Get(HeaderTimestamp))
	require.NotEqual(t, first.header.Get(HeaderSignature), retry.header.Get(HeaderSignature))
	require.Equal(t, hmacSig(t, testSecret, "evt-123.1767225660."+string(retry.body)), retry.header.Get(HeaderSignature))
	for _, req := range *got {
		require.NoError(t, verifyAt(testSecret.Reveal(), req.header, req.body, fixedNow.Add(90*time.Second)))
	}
	// Any change to the body breaks the signature.
	require.ErrorIs(t, verifyAt(testSecret.Reveal(), first.header, append(first.body, ' '), fixedNow), ErrVerification)
}

func TestSend_WithoutSecretSendsIDAndTimestampOnly(t *testing.T) {
	cfg := validConfig()
	cfg.SigningSecret = ""
	n, got, _ := newMocked(t, cfg, http.StatusAccepted, "")
	_, err := n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	h := (*got)[0].header
	require.Equal(t, "evt-123", h.Get(HeaderID))
	require.Equal(t, "1767225600", h.Get(HeaderTimestamp))
	require.Empty(t, h.Values(HeaderSignature))
}

func TestSend_PatternWithHostileTitleIsValidJSON(t *testing.T) {
	cfg := validConfig()
	cfg.BodyPattern = `{"title": {{json .Title}}, "risk": {{json .Risk}}, "page": {{json .Details.page}},` +
		` "tags": [{{range $i, $t := .Tags}}{{if $i}}, {{end}}{{json $t}}{{end}}]}`
	n, got, _ := newMocked(t, cfg, http.StatusOK, "")
	e := sampleEvt()
	e.Title = "He said \"hi\" \\ then\nleft </script><script>alert(1)</script>\t\u2028"
	_, err := n.Send(context.Background(), e)
	require.NoError(t, err)

	body := (*got)[0].body
	require.True(t, json.Valid(body), "body is not JSON: %s", body)
	var decoded struct {
		Title string   `json:"title"`
		Risk  string   `json:"risk"`
		Page  string   `json:"page"`
		Tags  []string `json:"tags"`
	}
	require.NoError(t, json.Unmarshal(body, &decoded))
	require.Equal(t, e.Title, decoded.Title)
	require.Equal(t, "high", decoded.Risk)
	require.Equal(t, "", decoded.Page, "a missing Details key renders as an empty string")
	require.Equal(t, []string{"pci", "script"}, decoded.Tags)
	require.NotContains(t, string(body), "</script>", "json escapes < and > so the body is safe in HTML too")
	require.Equal(t, "application/json", (*got)[0].header.Get("Content-Type"))
	require.Equal(t, hmacSig(t, testSecret, "evt-123.1767225600."+string(body)), (*got)[0].header.Get(HeaderSignature))
}

func TestSend_Methods(t *testing.T) {
	for _, tc := range []struct {
		config, want string
		body         bool
	}{
		{"", "POST", true}, {"post", "POST", true}, {"PUT", "PUT", true}, {"Patch", "PATCH", true},
		{"GET", "GET", false}, {"delete", "DELETE", false},
	} {
		t.Run(tc.want+"/"+tc.config, func(t *testing.T) {
			cfg := validConfig()
			cfg.Method = tc.config
			n, got, _ := newMocked(t, cfg, http.StatusNoContent, "")
			_, err := n.Send(context.Background(), sampleEvt())
			require.NoError(t, err)
			req := (*got)[0]
			require.Equal(t, tc.want, req.method)
			if tc.body {
				require.JSONEq(t, mustJSON(t, sampleEvt()), string(req.body))
				require.Equal(t, "application/json", req.header.Get("Content-Type"))
			} else {
				require.Empty(t, req.body)
				require.Empty(t, req.header.Values("Content-Type"))
			}
			require.Equal(t, hmacSig(t, testSecret, "evt-123.1767225600."+string(req.body)), req.header.Get(HeaderSignature))
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestSend_HeadersLastDuplicateWinsAndContentTypeOverrides(t *testing.T) {
	cfg := validConfig()
	cfg.Headers = []Header{
		{Name: "x-api-key", Value: "first-key-value"},
		{Name: "Authorization", Value: bearer},
		{Name: "X-API-KEY", Value: "second-key-value"},
		{Name: "content-type", Value: "application/vnd.example+json"},
	}
	n, got, _ := newMocked(t, cfg, http.StatusOK, "")
	_, err := n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	h := (*got)[0].header
	require.Equal(t, []string{"second-key-value"}, h.Values("X-Api-Key"))
	require.Equal(t, []string{"application/vnd.example+json"}, h.Values("Content-Type"))
	require.Equal(t, []string{bearer.Reveal()}, h.Values("Authorization"))
}

func TestSend_ResolvedEventHasItsOwnWebhookID(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, testURL, http.StatusOK, "", nil)
	n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)
	n.now = func() time.Time { return fixedNow }

	open, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-123"}, open)
	resolved, err := n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "evt-123:resolved"}, resolved)

	reqs := m.Requests()
	require.Len(t, reqs, 2)
	req := reqs[1]
	require.Equal(t, http.MethodPost, req.Method)
	require.Equal(t, "https://hooks.example.com/cd/alerts", req.Scheme+"://"+req.Host+req.Path)
	require.Equal(t, "key=q-token-0123456789", req.RawQuery)
	testkit.JSONEq(t, `{
		"id": "evt-123", "type": "client_side_risk", "status": "resolved", "title": "New script on checkout",
		"description": "A script from <cdn.example.net> & *friends* appeared on /checkout: [a|b] {x} `+"`y`"+` \"z\" é.",
		"risk": "critical", "time": "2026-01-02T03:04:05Z",
		"url": "https://console.codedefender.example/alerts/evt-123?tab=1&x=2", "source": "shop.example.com",
		"tags": ["pci", "checkout"], "details": {"script": "https://cdn.example.net/a.js", "page": "/checkout"}}`, req.Body)
	require.Equal(t, http.Header{
		"Authorization":     {bearer.Reveal()},
		"X-Team":            {teamHeader.Reveal()},
		"Content-Type":      {"application/json"},
		"User-Agent":        {notify.DefaultUserAgent},
		"Webhook-Id":        {"evt-123:resolved"},
		"Webhook-Timestamp": {"1767225600"},
		"Webhook-Signature": {hmacSig(t, testSecret, "evt-123:resolved.1767225600."+string(req.Body))},
	}, req.Header)
	require.NoError(t, verifyAt(testSecret.Reveal(), req.Header, req.Body, fixedNow))
	// The open event went first under the event's own id, without a status.
	require.Equal(t, "evt-123", reqs[0].Header.Get(HeaderID))
	require.NotContains(t, string(reqs[0].Body), `"status"`)
}

func TestSend_PatternSeesTheStatus(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, testURL, http.StatusOK, "", nil)
	cfg := validConfig()
	cfg.BodyPattern = `{"id": {{json .ID}}, "state": {{if .Status.IsResolved}}"resolved"{{else}}"open"{{end}}}`
	n, err := New(cfg, notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)
	for _, e := range []notify.Event{testkit.MinimalEvent(), testkit.Resolved(testkit.MinimalEvent())} {
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
	}
	reqs := m.Requests()
	require.Len(t, reqs, 2)
	testkit.JSONEq(t, `{"id": "evt-1", "state": "open"}`, reqs[0].Body)
	testkit.JSONEq(t, `{"id": "evt-1", "state": "resolved"}`, reqs[1].Body)
	require.Equal(t, "evt-1:resolved", reqs[1].Header.Get(HeaderID))
}

func TestSend_EveryEventTypeFiresByDefault(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, testURL, http.StatusOK, "", nil)
	n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)
	for _, typ := range notify.EventTypes {
		e := testkit.MinimalEvent()
		e.ID, e.Type = "evt-"+string(typ), typ
		r, err := n.Send(context.Background(), e)
		require.NoError(t, err, "%s must not be skipped by default", typ)
		require.Equal(t, notify.Receipt{ID: e.ID}, r)
	}
	reqs := m.Requests()
	require.Len(t, reqs, len(notify.EventTypes))
	for i, typ := range notify.EventTypes {
		var got notify.Event
		require.NoError(t, reqs[i].DecodeJSON(&got))
		require.Equal(t, typ, got.Type)
		require.Equal(t, "evt-"+string(typ), reqs[i].Header.Get(HeaderID))
	}
}

func TestSend_EventsLimitTheTypes(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, testURL, http.StatusOK, "", nil)
	cfg := validConfig()
	cfg.Events = []notify.EventType{notify.EventIncident}
	n, err := New(cfg, notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)
	ctx := context.Background()

	e := testkit.FullEvent()
	for _, typ := range []notify.EventType{notify.EventPCIScopeChange, notify.EventClientSideRisk} {
		e.Type = typ
		r, err := n.Send(ctx, e)
		require.Equal(t, notify.ErrSkipped, err, "ErrSkipped is returned unwrapped")
		require.Equal(t, notify.Receipt{}, r)
	}
	require.Empty(t, m.Requests(), "a skipped event sends nothing")
	// A webhook for incidents only still takes test events.
	for _, typ := range []notify.EventType{notify.EventIncident, notify.EventTest} {
		e.Type = typ
		_, err = n.Send(ctx, e)
		require.NoError(t, err, typ)
	}
	require.Len(t, m.Requests(), 2)
}

func TestSend_InvalidEventIsRefusedBeforeTheNetwork(t *testing.T) {
	n, got, mt := newMocked(t, validConfig(), http.StatusOK, "")
	e := sampleEvt()
	e.ID, e.Title = "has.a.dot", ""
	_, err := n.Send(context.Background(), e)
	requireField(t, err, "id", "may hold only")
	requireField(t, err, "title", "is required")
	require.Empty(t, *got)
	require.Zero(t, mt.GetTotalCallCount())
}

func TestSend_RenderFailureSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name, pattern string
		mod           func(*notify.Event)
		want          string
	}{
		// Both patterns pass Validate (the sample event has three tags and
		// a description) and fail on this event.
		{"exec error", `{"third_tag": {{json (index .Tags 2)}}}`,
			func(e *notify.Event) { e.Tags = []string{"one"} }, "index out of range"},
		{"invalid JSON", `{"d": {{if .Description}}{{json .Description}}{{else}}none{{end}}}`,
			func(e *notify.Event) { e.Description = "" }, "rendered invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.BodyPattern = tc.pattern
			n, got, _ := newMocked(t, cfg, http.StatusOK, "")
			e := sampleEvt()
			tc.mod(&e)
			_, err := n.Send(context.Background(), e)
			require.ErrorIs(t, err, notify.ErrRejected)
			require.False(t, notify.IsRetryable(err))
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "evt-123")
			require.Empty(t, *got, "no request may be sent")
			notifytest.AssertNoSecret(t, err, allSecrets...)
		})
	}
}

func TestSend_StatusErrors(t *testing.T) {
	// The receiver echoes every secret back; none may reach the error.
	echo := fmt.Sprintf(`{"message": "denied for %s, %s, %s at %s (key %s)"}`, bearer.Reveal(), teamHeader.Reveal(),
		testSecret.Reveal(), testURL, "q-token-0123456789")
	for _, tc := range []struct {
		status    int
		kind      error
		retryable bool
		hint      string
	}{
		{400, notify.ErrRejected, false, ""},
		{401, notify.ErrUnauthorized, false, "check the credentials"},
		{403, notify.ErrForbidden, false, ""},
		{404, notify.ErrNotFound, false, ""},
		{410, notify.ErrNotFound, false, "disable the webhook or configure its new URL"},
		{429, notify.ErrRateLimited, true, "slow down"},
		{500, notify.ErrUnavailable, true, ""},
		{501, notify.ErrRejected, false, ""},
		{502, notify.ErrUnavailable, true, ""},
		{302, notify.ErrRejected, false, "redirect"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			log, logs := notifytest.NewLogger()
			n, got, _ := newMocked(t, validConfig(), tc.status, echo, notify.WithLogger(log))
			r, err := n.Send(context.Background(), sampleEvt())
			require.Equal(t, notify.Receipt{}, r)
			require.ErrorIs(t, err, tc.kind)
			require.Equal(t, tc.retryable, notify.IsRetryable(err))
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.status, e.StatusCode)
			require.Equal(t, "webhook", e.Integration)
			require.Equal(t, "send", e.Op)
			if tc.hint != "" {
				require.Contains(t, err.Error(), tc.hint)
			}
			require.Len(t, *got, 1)
			notifytest.AssertNoSecret(t, err, allSecrets...)
			notifytest.AssertNoSecret(t, logs.String(), allSecrets...)
			require.Contains(t, logs.String(), "hooks.example.com")
		})
	}
}

func TestSend_RetryAfterIsRead(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(http.StatusTooManyRequests, "slow down")
		r.Header.Set("Retry-After", "7")
		return r, nil
	})
	n, err := New(validConfig(), notify.WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)
	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrRateLimited)
	require.Equal(t, 7*time.Second, notify.RetryAfterOf(err))
}

func TestSend_NetworkErrorHoldsNoSecret(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(httpmock.NewErrorResponder(fmt.Errorf("dial tcp: connection refused to %s with %s", testURL, bearer.Reveal())))
	log, logs := notifytest.NewLogger()
	n, err := New(validConfig(), notify.WithHTTPClient(&http.Client{Transport: mt}), notify.WithLogger(log))
	require.NoError(t, err)
	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	notifytest.AssertNoSecret(t, err, allSecrets...)
	notifytest.AssertNoSecret(t, logs.String(), allSecrets...)
}

func TestTest_SendsATestEvent(t *testing.T) {
	cfg := validConfig()
	cfg.Events = []notify.EventType{notify.EventIncident}
	n, got, _ := newMocked(t, cfg, http.StatusOK, "")
	require.NoError(t, n.Test(context.Background()))
	require.NoError(t, n.Test(context.Background()))
	require.Len(t, *got, 2)

	var e notify.Event
	require.NoError(t, json.Unmarshal((*got)[0].body, &e))
	require.Equal(t, notify.EventTest, e.Type)
	require.True(t, strings.HasPrefix(e.Title, "[TEST]"))
	require.Equal(t, notify.RiskInfo, e.Risk)
	require.Equal(t, fixedNow.UTC(), e.Time)
	require.NoError(t, e.Validate())
	require.Equal(t, e.ID, (*got)[0].header.Get(HeaderID))
	require.True(t, strings.HasPrefix(e.ID, "test-"))
	require.NotEqual(t, (*got)[0].header.Get(HeaderID), (*got)[1].header.Get(HeaderID), "each test has its own id")
	require.NoError(t, verifyAt(testSecret.Reveal(), (*got)[0].header, (*got)[0].body, fixedNow))

	n, _, _ = newMocked(t, cfg, http.StatusUnauthorized, "nope")
	err := n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrUnauthorized)
	var ne *notify.Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, "test", ne.Op)
}

func TestValidate_Fields(t *testing.T) {
	cases := []struct {
		name    string
		mod     func(*Config)
		field   string
		message string
	}{
		{"name missing", func(c *Config) { c.Name = " " }, "name", "is required"},
		{"url missing", func(c *Config) { c.URL = "" }, "url", "is required"},
		{"url relative", func(c *Config) { c.URL = "/hook" }, "url", "absolute"},
		{"url with password", func(c *Config) { c.URL = "https://u:p@hooks.example.com/" }, "url", "password"},
		{"url ftp", func(c *Config) { c.URL = "ftp://hooks.example.com/" }, "url", "must use https"},
		// A public host name over http:// is refused at dial time; a public
		// IP address can be refused at once.
		{"url http public IP", func(c *Config) { c.URL = "http://203.0.113.10/" }, "url", "loopback or private"},
		{"url too long", func(c *Config) { c.URL = "https://h.example.com/" + strings.Repeat("a", maxURLBytes) }, "url", "at most"},
		{"method", func(c *Config) { c.Method = "TRACE" }, "method", "must be one of POST, PUT, PATCH, GET, DELETE"},
		{"protocol", func(c *Config) { c.Protocol = "udp" }, "protocol", `must be "tcp" or "tls"`},
		{"header name empty", func(c *Config) { c.Headers[1].Name = "" }, "headers[1].name", "is required"},
		{"header name not a token", func(c *Config) { c.Headers[1].Name = "X Team" }, "headers[1].name", "not a valid header name"},
		{"header name colon", func(c *Config) { c.Headers[0].Name = "X-A:" }, "headers[0].name", "not a valid header name"},
		{"header value CRLF", func(c *Config) { c.Headers[1].Value = "a\r\nX-Evil: 1" }, "headers[1].value", "line breaks"},
		{"header value NUL", func(c *Config) { c.Headers[1].Value = "a\x00b" }, "headers[1].value", "control"},
		{"header value masked", func(c *Config) { c.Headers[0].Value = notify.Redacted }, "headers[0].value", "mask"},
		{"host", func(c *Config) { c.Headers[1].Name = "host" }, "headers[1].name", "Host is set from the URL"},
		{"content-length", func(c *Config) { c.Headers[1].Name = "Content-Length" }, "headers[1].name", "Content-Length is computed"},
		{"transfer-encoding", func(c *Config) { c.Headers[1].Name = "transfer-encoding" }, "headers[1].name", "Transfer-Encoding is managed"},
		{"connection", func(c *Config) { c.Headers[1].Name = "Connection" }, "headers[1].name", "Connection is a hop-by-hop header"},
		{"keep-alive", func(c *Config) { c.Headers[1].Name = "Keep-Alive" }, "headers[1].name", "Keep-Alive is a hop-by-hop"},
		{"te", func(c *Config) { c.Headers[1].Name = "TE" }, "headers[1].name", "Te is a hop-by-hop"},
		{"trailer", func(c *Config) { c.Headers[1].Name = "Trailer" }, "headers[1].name", "Trailer is a hop-by-hop"},
		{"upgrade", func(c *Config) { c.Headers[1].Name = "Upgrade" }, "headers[1].name", "Upgrade is a hop-by-hop"},
		{"proxy-anything", func(c *Config) { c.Headers[1].Name = "Proxy-Foo" }, "headers[1].name", "Proxy-Foo is for proxies"},
		{"expect", func(c *Config) { c.Headers[1].Name = "Expect" }, "headers[1].name", "Expect is managed"},
		{"accept-encoding", func(c *Config) { c.Headers[1].Name = "Accept-Encoding" }, "headers[1].name", "Accept-Encoding"},
		{"webhook-id", func(c *Config) { c.Headers[1].Name = "webhook-id" }, "headers[1].name", "Webhook-Id is reserved"},
		{"webhook-timestamp", func(c *Config) { c.Headers[1].Name = "Webhook-Timestamp" }, "headers[1].name", "reserved"},
		{"webhook-signature", func(c *Config) { c.Headers[1].Name = "WEBHOOK-SIGNATURE" }, "headers[1].name", "reserved"},
		{"too many headers", func(c *Config) {
			c.Headers = make([]Header, MaxHeaders+1)
			for i := range c.Headers {
				c.Headers[i] = Header{Name: fmt.Sprintf("X-H%d", i), Value: "v"}
			}
		}, "headers", "at most 32 headers"},
		{"headers too large", func(c *Config) { c.Headers[1].Value = notify.Secret(strings.Repeat("v", MaxHeaderBytes)) }, "headers", "bytes"},
		{"secret without prefix", func(c *Config) { c.SigningSecret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, "signing_secret", `must start with "whsec_"`},
		{"secret not base64", func(c *Config) { c.SigningSecret = "whsec_not*base64" }, "signing_secret", "base64"},
		{"secret too short", func(c *Config) { c.SigningSecret = "whsec_AAECAwQFBgcICQoLDA0ODw==" }, "signing_secret", "24 to 64 random bytes (it encodes 16)"},
		{"secret too long", func(c *Config) {
			c.SigningSecret = notify.Secret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)))
		}, "signing_secret", "(it encodes 65)"},
		{"secret masked", func(c *Config) { c.SigningSecret = notify.Redacted }, "signing_secret", "mask"},
		{"unknown event type", func(c *Config) { c.Events = []notify.EventType{notify.EventIncident, "deploy"} }, "events[1]", "unknown event type"},
		{"pattern does not parse", func(c *Config) { c.BodyPattern = `{"t": {{json .Title}` }, "body_pattern", "does not parse"},
		{"pattern unknown field", func(c *Config) { c.BodyPattern = `{"t": {{json .Titel}}}` }, "body_pattern", "can't evaluate field Titel"},
		{"pattern unknown function", func(c *Config) { c.BodyPattern = `{{toJSON .Title}}` }, "body_pattern", `function "toJSON" not defined`},
		{"pattern hand-quoted", func(c *Config) { c.BodyPattern = `{"t": "{{.Title}}"}` }, "body_pattern", "renders invalid JSON"},
		{"pattern with GET", func(c *Config) { c.Method, c.BodyPattern = "GET", `{}` }, "body_pattern", "not used with GET"},
		{"pattern too long", func(c *Config) { c.BodyPattern = strings.Repeat(" ", MaxPatternBytes+1) }, "body_pattern", "at most"},
	}
	// Faults the console's JSON Schema can express: a length, an enum, a
	// list's size.
	schema := map[string]bool{"url missing": true, "url too long": true, "method": true, "protocol": true,
		"too many headers": true, "unknown event type": true, "pattern too long": true}
	var rows []testkit.ValidateCase[Config]
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			requireField(t, err, tc.field, tc.message)
			notifytest.AssertNoSecret(t, err, allSecrets...)
			_, err = New(cfg)
			requireField(t, err, tc.field, tc.message)
		})
		cfg := validConfig()
		tc.mod(&cfg)
		rows = append(rows, testkit.ValidateCase[Config]{Name: tc.name, Config: cfg, Fields: []string{tc.field}, Schema: schema[tc.name]})
	}
	// Each fault names its field and no other.
	t.Run("table", func(t *testing.T) { testkit.RunValidate(t, rows, unmaskedSecrets) })
}

// unmaskedSecrets are the secrets of c that must not reach an error; the
// mask itself may (it is what a masked field is refused for).
func unmaskedSecrets(c Config) []notify.Secret {
	var out []notify.Secret
	for _, s := range c.secrets() {
		if !s.IsMasked() {
			out = append(out, s)
		}
	}
	return out
}

func TestValidate_Accepts(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"the fixture":      func(*Config) {},
		"minimal":          func(c *Config) { *c = Config{Name: "w", URL: "https://hooks.example.com"} },
		"explicit tcp":     func(c *Config) { c.Protocol = ProtocolTCP },
		"protocol in caps": func(c *Config) { c.Protocol = "TCP" },
		"http to private":  func(c *Config) { c.URL = "http://10.0.0.8:8080/hook" },
		"GET, no body":     func(c *Config) { c.Method = "get" },
		"duplicate names":  func(c *Config) { c.Headers = append(c.Headers, Header{Name: "x-team", Value: "other"}) },
		"text pattern": func(c *Config) {
			c.Headers = append(c.Headers, Header{Name: "Content-Type", Value: "text/plain"})
			c.BodyPattern = `Alert: {{.Title}} ({{.Risk.Label}})`
		},
		"empty header value": func(c *Config) { c.Headers[1].Value = "" },
		"events":             func(c *Config) { c.Events = []notify.EventType{notify.EventIncident, notify.EventTest} },
		"64-byte secret": func(c *Config) {
			c.SigningSecret = notify.Secret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			mod(&cfg)
			require.NoError(t, cfg.Validate())
		})
	}
}

func TestValidate_ReportsEveryFieldAtOnce(t *testing.T) {
	err := Config{Method: "TRACE", Protocol: "x", Headers: []Header{{Name: "Host"}}, SigningSecret: "nope"}.Validate()
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	for _, f := range []string{"name", "url", "method", "protocol", "headers[0].name", "signing_secret"} {
		require.True(t, ve.Has(f), "missing %s in %v", f, err)
	}
}

func TestNew_PlainHTTPNeedsAllowPrivateNetworks(t *testing.T) {
	cfg := validConfig()
	cfg.URL = "http://127.0.0.1:8080/hook"
	_, err := New(cfg)
	requireField(t, err, "url", "must use https")
	_, err = New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)

	cfg.URL = "http://10.1.2.3/hook" // never dialled: New refuses it
	_, err = New(cfg)
	requireField(t, err, "url", "WithAllowPrivateNetworks")
}

func TestGuard_LoopbackIsRefusedByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	cfg := validConfig()
	cfg.URL = srv.URL + "/hook"
	cfg.CACert = string(pemCert(srv.Certificate().Raw))

	n, err := New(cfg) // https:// passes New; the dial is refused
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrBlockedAddress)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.False(t, notify.IsRetryable(err))
	require.Contains(t, err.Error(), "127.0.0.1 is a loopback address")
	require.Zero(t, hits.Load(), "the server must never see the request")
	notifytest.AssertNoSecret(t, err, allSecrets...)

	// The same URL with private networks allowed goes through.
	n, err = New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	require.EqualValues(t, 1, hits.Load())
}

func TestGuard_PrivateAndMetadataAddresses(t *testing.T) {
	// Checked through the guard itself: these addresses are never dialled.
	for _, ip := range []string{"10.0.0.1", "192.168.1.10", "172.16.0.5", "::1", "fd00::1"} {
		require.ErrorIs(t, guard.CheckIP(netip.MustParseAddr(ip), false), notify.ErrBlockedAddress, ip)
		require.NoError(t, guard.CheckIP(netip.MustParseAddr(ip), true), ip)
	}
	for _, ip := range []string{"169.254.169.254", "fd00:ec2::254", "0.0.0.0"} {
		require.ErrorIs(t, guard.CheckIP(netip.MustParseAddr(ip), true), notify.ErrBlockedAddress, ip)
	}
}

func TestSend_PlainHTTPToLoopbackWithAllowPrivate(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if Verify(testSecret.Reveal(), r.Header, b) == nil {
			body.Store(string(b))
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	cfg := validConfig()
	cfg.URL = srv.URL + "/hook"
	n, err := New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	require.JSONEq(t, mustJSON(t, sampleEvt()), body.Load().(string), "the receiver verified the signature")
}

func TestPrintingShowsNoSecret(t *testing.T) {
	cfg := validConfig()
	p := newPKI(t)
	cfg.Protocol, cfg.ClientCert, cfg.ClientKey = ProtocolTLS, p.client.certPEM(), p.client.keyPEM(t)
	n, err := New(cfg)
	require.NoError(t, err)
	secrets := append([]notify.Secret{cfg.ClientKey}, allSecrets[:4]...)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, cfg), secrets...)
		require.Equal(t, `webhook("SOC webhook")`, fmt.Sprintf(verb, n))
		require.Equal(t, `webhook("SOC webhook")`, fmt.Sprintf(verb, *n))
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, secrets...)

	// A masked config sent back fails Validate: it can never replace the
	// real credentials.
	var back Config
	require.NoError(t, json.Unmarshal(b, &back))
	err = back.Validate()
	for _, f := range []string{"client_key", "signing_secret", "headers[0].value", "headers[1].value"} {
		requireField(t, err, f, "mask")
	}
}

func TestFromJSON(t *testing.T) {
	raw := `{"name": "SOC", "url": "https://hooks.example.com/x", "method": "PUT", "protocol": "tcp",
		"body_pattern": "{\"t\": {{json .Title}}}", "headers": [{"name": "X-Key", "value": "k-0123456789"}],
		"signing_secret": "` + testSecret.Reveal() + `", "events": ["incident", "PCI_SCOPE_CHANGE"]}`
	nn, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	n := nn.(*Notifier)
	require.Equal(t, "PUT", n.method)
	require.Equal(t, []notify.EventType{notify.EventIncident, notify.EventPCIScopeChange}, n.events)
	require.NotNil(t, n.pattern)
	require.NoError(t, n.Validate())

	_, err = FromJSON(json.RawMessage(`{"name": "x", "url": "https://h.example.com", "hedaers": []}`))
	requireField(t, err, "hedaers", "is not a known field")
	_, err = FromJSON(json.RawMessage(`{"name": "x", "url": "https://h.example.com", "events": ["deploy"]}`))
	require.ErrorContains(t, err, "unknown event type")
	_, err = FromJSON(json.RawMessage(`{"name": "x", "url": "https://h.example.com", "headers": {"a": "b"}}`))
	requireField(t, err, "headers", "must be a JSON list")
}

func TestSecretsIncludeTheCredentialOfAnAuthorizationValue(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(httpmock.NewStringResponder(http.StatusUnauthorized, `{"error": "token tok-abcdef0123456789 revoked"}`))
	n, err := New(validConfig(), notify.WithHTTPClient(&http.Client{Transport: mt}))
	require.NoError(t, err)
	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrUnauthorized)
	require.Contains(t, err.Error(), "token [REDACTED] revoked")
}

func BenchmarkBody(b *testing.B) {
	e := sampleEvt()
	plain, err := New(Config{Name: "b", URL: "https://hooks.example.com"})
	require.NoError(b, err)
	cfg := Config{Name: "b", URL: "https://hooks.example.com", BodyPattern: `{"title": {{json .Title}}, "risk": {{json .Risk}},` +
		` "time": {{json .Time}}, "tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}]}`}
	patterned, err := New(cfg)
	require.NoError(b, err)
	b.Run("event-as-json(baseline)", func(b *testing.B) {
		for b.Loop() {
			if _, err := plain.body(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pattern", func(b *testing.B) {
		for b.Loop() {
			if _, err := patterned.body(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
