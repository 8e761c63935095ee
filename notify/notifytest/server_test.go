package notifytest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Credentials in each vendor's shape; all fake.
const (
	slackHook   = "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"
	pdKey       = "0123456789abcdef0123456789abcdef"
	ogKey       = "5f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"
	jiraEmail   = "soc@example.com"
	jiraToken   = "ATATT3xFfGF0exampletoken"
	ddAPIKey    = "0123456789abcdef0123456789abcdef"
	ddAppKey    = "0123456789abcdef0123456789abcdef01234567"
	splunkToken = "12345678-1234-4234-9234-123456789012"
)

// noRedirects returns the server's client with redirects refused, as the
// library's own client is.
func noRedirects(srv *fakes.Server) *http.Client {
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var jsonCT = fakekit.JSONContent()

func TestClientTrustsTheFakeForEveryVendorHost(t *testing.T) {
	srv := fakes.NewServer(t)
	hosts := []string{
		"hooks.slack.com", "events.pagerduty.com", "events.eu.pagerduty.com",
		"api.opsgenie.com", "api.eu.opsgenie.com", "api.atlassian.com", "acme.atlassian.net",
		"api.datadoghq.com", "api.us3.datadoghq.com", "api.us5.datadoghq.com", "api.datadoghq.eu",
		"api.ap1.datadoghq.com", "api.ap2.datadoghq.com", "api.uk1.datadoghq.com",
		"api.ddog-gov.com", "api.us2.ddog-gov.com",
		"http-inputs-acme.splunkcloud.com", "http-inputs.acme.splunkcloud.com", "acme.splunkcloud.com",
		"http-inputs.acme.splunkcloudgc.com", "hooks.example.org", "127.0.0.1", "localhost",
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			resp, err := srv.Client().Get("https://" + host + "/")
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.NotNil(t, resp.TLS)
			require.NoError(t, resp.TLS.PeerCertificates[0].VerifyHostname(host))
		})
	}
}

func TestPlainClientDoesNotTrustTheFake(t *testing.T) {
	srv := fakes.NewServer(t)
	addr := strings.TrimPrefix(srv.URL(), "https://")
	// A client with the system roots that still reaches the fake (dialling
	// its loopback address whatever the host) must refuse its certificate.
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	defer tr.CloseIdleConnections()
	for _, u := range []string{"https://hooks.slack.com/services/T1/B1/x", srv.URL() + "/"} {
		_, err := (&http.Client{Transport: tr}).Get(u)
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, err, &unknown, u)
	}
	require.Empty(t, srv.Requests(), "no request may get through an untrusted handshake")

	// With the fake's CA, a client of its own reaches the loopback URL.
	trusted := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}
	defer trusted.CloseIdleConnections()
	resp, err := (&http.Client{Transport: trusted}).Get(srv.URL() + "/hook")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(srv.CACertPEM()))
	require.True(t, pool.Equal(srv.CertPool()))
}

func TestRouting(t *testing.T) {
	srv := fakes.NewServer(t)
	cases := []struct {
		url  string
		want notifytest.Destination
	}{
		{slackHook, notifytest.Slack},
		{"https://events.pagerduty.com/v2/enqueue", notifytest.PagerDuty},
		{"https://events.eu.pagerduty.com/v2/enqueue", notifytest.PagerDuty},
		{"https://api.opsgenie.com/v2/alerts", notifytest.Opsgenie},
		{"https://api.eu.opsgenie.com/v2/alerts", notifytest.Opsgenie},
		{"https://api.atlassian.com/jsm/ops/integration/v2/alerts", notifytest.Opsgenie},
		{"https://api.atlassian.com/ex/jira/abc/rest/api/2/myself", notifytest.Jira},
		{"https://acme.atlassian.net/rest/api/2/myself", notifytest.Jira},
		{"https://api.datadoghq.eu/api/v2/validate_keys", notifytest.Datadog},
		{"https://api.us2.ddog-gov.com/api/v2/validate_keys", notifytest.Datadog},
		{"https://http-inputs-acme.splunkcloud.com/services/collector/health", notifytest.Splunk},
		{"https://splunk.corp.example:8088/services/collector/health", notifytest.Splunk},
		{"http://splunk.corp.example:8088/services/collector/health", notifytest.Splunk},
		{"https://hooks.example.org/any/path", notifytest.Webhook},
		{"http://receiver.example.test:9000/hook", notifytest.Webhook},
	}
	for _, c := range cases {
		srv.ClearRequests()
		fakekit.Send(t, srv.Client(), http.MethodGet, c.url, nil, "")
		rs := srv.Requests()
		require.Len(t, rs, 1, c.url)
		require.Equal(t, c.want, rs[0].Destination, c.url)
		require.Equal(t, c.url, rs[0].URL(), "the recorded URL is the one the client addressed")
	}
}

func TestVendorHostOverPlainHTTPIsRedirected(t *testing.T) {
	srv := fakes.NewServer(t)
	a := fakekit.Send(t, noRedirects(srv), http.MethodPost, "http://events.pagerduty.com/v2/enqueue", jsonCT, `{}`)
	require.Equal(t, http.StatusMovedPermanently, a.Status)
	require.Equal(t, "https://events.pagerduty.com/v2/enqueue", a.Header.Get("Location"))
}

func TestRecording(t *testing.T) {
	srv := fakes.NewServer(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(`{"hello":"world"}`))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "https://hooks.example.org/in?x=1&y=2", &gz)
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-Custom", "v")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	fakekit.Send(t, srv.Client(), http.MethodPost, slackHook, jsonCT, `{"text":"hi"}`)

	all := srv.Requests()
	require.Len(t, all, 2)
	hook, ok := srv.LastRequest(notifytest.Webhook)
	require.True(t, ok)
	require.Equal(t, http.MethodPut, hook.Method)
	require.Equal(t, "https", hook.Scheme)
	require.Equal(t, "hooks.example.org", hook.Host)
	require.Equal(t, "/in", hook.Path)
	require.Equal(t, "1", hook.Query.Get("x"))
	require.Equal(t, "v", hook.Header.Get("X-Custom"))
	require.JSONEq(t, `{"hello":"world"}`, string(hook.Body), "the body is recorded decompressed")
	require.Equal(t, http.StatusOK, hook.Status)
	var v map[string]string
	require.NoError(t, hook.DecodeJSON(&v))
	require.Equal(t, "world", v["hello"])

	slack := srv.RequestsTo(notifytest.Slack)
	require.Len(t, slack, 1)
	require.Equal(t, "ok", string(slack[0].Response))
	_, ok = srv.LastRequest(notifytest.Jira)
	require.False(t, ok)

	// Copies: changing one does not change the record.
	slack[0].Body[0] = 'X'
	require.Equal(t, `{"text":"hi"}`, string(srv.RequestsTo(notifytest.Slack)[0].Body))

	srv.ClearRequests()
	require.Empty(t, srv.Requests())
}

func TestGzipOnlyWhereTheVendorTakesIt(t *testing.T) {
	srv := fakes.NewServer(t)
	a := fakekit.Send(t, srv.Client(), http.MethodPost, slackHook,
		map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, "not gzip")
	require.Equal(t, http.StatusUnsupportedMediaType, a.Status)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://hooks.example.org/",
		map[string]string{"Content-Encoding": "gzip"}, "not gzip")
	require.Equal(t, http.StatusBadRequest, a.Status)
}

func TestFaultStatusAndRetryAfter(t *testing.T) {
	srv := fakes.NewServer(t)
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.Slack, Status: 429, RetryAfter: "30", Times: 1}))
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.Webhook, Status: 503, RetryAfter: date}))

	a := fakekit.Send(t, srv.Client(), http.MethodPost, slackHook, jsonCT, `{"text":"hi"}`)
	require.Equal(t, http.StatusTooManyRequests, a.Status)
	require.Equal(t, "30", a.Header.Get("Retry-After"))
	require.Equal(t, "rate_limited", a.Body, "Slack's own body for a 429")

	a = fakekit.Send(t, srv.Client(), http.MethodPost, slackHook, jsonCT, `{"text":"hi"}`)
	require.Equal(t, http.StatusOK, a.Status, "a Times: 1 fault answers once")

	for range 2 {
		a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://hooks.example.org/x", nil, "{}")
		require.Equal(t, http.StatusServiceUnavailable, a.Status, "a fault without Times stays")
		require.Equal(t, date, a.Header.Get("Retry-After"))
	}
	rs := srv.RequestsTo(notifytest.Webhook)
	require.True(t, rs[0].Fault)
	require.Equal(t, http.StatusServiceUnavailable, rs[0].Status)

	srv.ClearFaults()
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://hooks.example.org/x", nil, "{}")
	require.Equal(t, http.StatusOK, a.Status)
}

func TestFaultBodiesAndMatching(t *testing.T) {
	srv := fakes.NewServer(t)
	hec := "https://http-inputs-acme.splunkcloud.com/services/collector/event"
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.Splunk, Path: "/services/collector/event", Status: 503, Times: 1}))
	require.NoError(t, srv.Inject(notifytest.Fault{Path: "/rest/api/2/", Method: http.MethodPost, Status: 500,
		Body: `{"custom":true}`, Header: http.Header{"X-Ratelimit-Reset": {"2026-01-01T00:00Z"}}, Times: 1}))

	a := fakekit.Send(t, srv.Client(), http.MethodPost, hec, map[string]string{"Authorization": "Splunk " + splunkToken}, `{"event":"x"}`)
	require.Equal(t, http.StatusServiceUnavailable, a.Status)
	require.JSONEq(t, `{"text":"Server is busy","code":9}`, a.Body)

	// Method and path prefix must both match.
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://acme.atlassian.net/rest/api/2/myself", nil, "")
	require.Equal(t, http.StatusUnauthorized, a.Status, "a GET is not the POST fault")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://acme.atlassian.net/rest/api/2/issue", jsonCT, "{}")
	require.Equal(t, http.StatusInternalServerError, a.Status)
	require.JSONEq(t, `{"custom":true}`, a.Body)
	require.Equal(t, "application/json", a.Header.Get("Content-Type"))
	require.Equal(t, "2026-01-01T00:00Z", a.Header.Get("X-RateLimit-Reset"))

	for _, bad := range []notifytest.Fault{{Status: 99}, {Status: 600}, {Delay: -1}, {Times: -1}} {
		require.Error(t, srv.Inject(bad))
	}
}

func TestFaultDelayThenAnswer(t *testing.T) {
	srv := fakes.NewServer(t)
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.Slack, Delay: time.Millisecond, Times: 1}))
	a := fakekit.Send(t, srv.Client(), http.MethodPost, slackHook, jsonCT, `{"text":"hi"}`)
	require.Equal(t, http.StatusOK, a.Status, "a delay-only fault lets the fake fakekit.Answer")
	require.Equal(t, "ok", a.Body)
	r, _ := srv.LastRequest(notifytest.Slack)
	require.True(t, r.Fault)
}

func TestFaultDelayHonoursTheClientTimeout(t *testing.T) {
	srv := fakes.NewServer(t)
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.PagerDuty, Status: 202, Delay: time.Hour}))
	c := srv.Client()
	c.Timeout = 50 * time.Millisecond
	_, err := c.Post("https://events.pagerduty.com/v2/enqueue", "application/json", strings.NewReader(`{}`))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())

	// Close returns although the fault would hold the request an hour, and
	// nothing is left running (goleak checks at the end). Whether the
	// request got to the fake before the timeout depends on the machine;
	// server_internal_test.go checks how a held request ends.
	srv.Close()
	require.LessOrEqual(t, len(srv.RequestsTo(notifytest.PagerDuty)), 1)
}

func TestCredentialModel(t *testing.T) {
	srv := fakes.NewServer(t)
	other := "https://hooks.slack.com/services/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"
	post := func(u string) fakekit.Answer {
		return fakekit.Send(t, srv.Client(), http.MethodPost, u, jsonCT, `{"text":"hi"}`)
	}

	require.Equal(t, http.StatusOK, post(other).Status, "any well-formed hook by default")
	srv.ExpectCredentials(notifytest.Slack, slackHook)
	require.Equal(t, http.StatusOK, post(slackHook).Status)
	a := post(other)
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "no_service", a.Body)
	srv.RevokeCredentials(slackHook)
	a = post(slackHook)
	require.Equal(t, http.StatusForbidden, a.Status)
	require.Equal(t, "invalid_token", a.Body)
	srv.ExpectCredentials(notifytest.Slack)
	require.Equal(t, http.StatusOK, post(other).Status, "no list restores the default")
}

func TestNewServerWithoutTestAndCloseLeavesNoGoroutine(t *testing.T) {
	srv := fakes.NewServer(nil)
	c := srv.Client()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := c.Get("https://hooks.example.org/")
			if err == nil {
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	require.Len(t, srv.Requests(), 8)
	srv.Close()
	srv.Close() // twice is fine
	goleak.VerifyNone(t)

	_, err := c.Get("https://hooks.example.org/")
	require.Error(t, err, "a closed server answers nothing")
}

func TestConcurrentUse(t *testing.T) {
	srv := fakes.NewServer(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				errs <- srv.Inject(notifytest.Fault{Path: "/never", Status: 500, Times: 1})
			}
			req, _ := http.NewRequest(http.MethodPost, "https://api.opsgenie.com/v2/alerts",
				strings.NewReader(`{"message":"m","alias":"same"}`))
			req.Header.Set("Authorization", "GenieKey "+ogKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				errs <- err
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				errs <- errors.New(resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	alerts := srv.OpsgenieAlerts()
	require.Len(t, alerts, 1, "one alias, one alert")
	require.Equal(t, n, alerts[0].Count)
	require.Len(t, srv.RequestsTo(notifytest.Opsgenie), n)
}

// The fake's answers carry no credential, so a library that quotes them
// in errors cannot leak one through them.
func TestAnswersEchoNoCredential(t *testing.T) {
	srv := fakes.NewServer(t)
	srv.ExpectCredentials(notifytest.PagerDuty, "abcdefabcdefabcdefabcdefabcdefab")
	fakekit.Send(t, srv.Client(), http.MethodPost, "https://events.pagerduty.com/v2/enqueue", jsonCT,
		`{"routing_key":"`+pdKey+`","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"}}`)
	fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.opsgenie.com/v2/alerts?limit=1",
		map[string]string{"Authorization": "GenieKey " + ogKey + "x"}, "")
	fakekit.Send(t, srv.Client(), http.MethodPost, "https://http-inputs-acme.splunkcloud.com/services/collector",
		map[string]string{"Authorization": "Splunk " + splunkToken}, `{"nope":1}`)
	for _, r := range srv.Requests() {
		require.GreaterOrEqual(t, r.Status, 400)
		notifytest.AssertNoSecret(t, string(r.Response), pdKey, ogKey, splunkToken)
	}
}

func TestAnswerShapesAreJSONWhereTheVendorSaysSo(t *testing.T) {
	srv := fakes.NewServer(t)
	urls := []string{
		"https://events.pagerduty.com/v2/enqueue",
		"https://api.opsgenie.com/v2/alerts",
		"https://acme.atlassian.net/rest/api/2/issue",
		"https://api.datadoghq.com/api/v2/incidents",
		"https://http-inputs-acme.splunkcloud.com/services/collector/event",
	}
	for _, u := range urls {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, u, jsonCT, `{}`)
		require.GreaterOrEqual(t, a.Status, 400, u)
		require.Equal(t, "application/json", a.Header.Get("Content-Type"), u)
		require.True(t, json.Valid([]byte(a.Body)), u)
	}
}

// The core's Sender, given the server's client, reads each fake's refusals
// as the destination's: the sentinel, the retry decision, the wait, the
// vendor's own words, and no secret in the error or the log.
func TestCoreSenderReadsTheFakes(t *testing.T) {
	srv := fakes.NewServer(t)
	logger, logs := notifytest.NewLogger()
	basicJira := "Basic " + base64.StdEncoding.EncodeToString([]byte(jiraEmail+":"+jiraToken))
	secrets := []notify.Secret{slackHook, pdKey, jiraToken, ddAPIKey, ddAppKey, splunkToken}
	retryAt := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name      string
		fault     *notifytest.Fault
		revoke    notify.Secret
		req       sender.Request
		kind      error
		retryable bool
		wait      func(time.Duration) bool
		message   string
	}{
		{name: "slack no_text", req: sender.Request{Method: http.MethodPost, URL: slackHook, JSON: map[string]string{"text": ""}},
			kind: notify.ErrRejected, message: "no_text"},
		{name: "jira revoked token", revoke: jiraToken,
			req:  sender.Request{Method: http.MethodGet, URL: "https://acme.atlassian.net/rest/api/2/myself", Header: http.Header{"Authorization": {basicJira}}},
			kind: notify.ErrUnauthorized, message: "Client must be authenticated to access this resource."},
		{name: "datadog bad key", revoke: ddAppKey,
			req: sender.Request{Method: http.MethodGet, URL: "https://api.datadoghq.com/api/v2/validate_keys",
				Header: http.Header{"Dd-Api-Key": {ddAPIKey}, "Dd-Application-Key": {ddAppKey}}},
			kind: notify.ErrForbidden, message: "Forbidden"},
		{name: "datadog 429 with reset seconds",
			fault: &notifytest.Fault{Destination: notifytest.Datadog, Status: 429, Header: http.Header{"X-Ratelimit-Reset": {"7"}}, Times: 1},
			req:   sender.Request{Method: http.MethodGet, URL: "https://api.datadoghq.com/api/v1/validate", Header: http.Header{"Dd-Api-Key": {ddAPIKey}}},
			kind:  notify.ErrRateLimited, retryable: true, wait: func(d time.Duration) bool { return d == 7*time.Second },
			message: "Too Many Requests"},
		{name: "splunk busy with an HTTP-date Retry-After",
			fault: &notifytest.Fault{Destination: notifytest.Splunk, Status: 503, RetryAfter: retryAt, Times: 1},
			req: sender.Request{Method: http.MethodPost, URL: "https://http-inputs-acme.splunkcloud.com/services/collector/event",
				Header: http.Header{"Authorization": {"Splunk " + splunkToken}}, Body: []byte(`{"event":"x"}`)},
			kind: notify.ErrUnavailable, retryable: true,
			wait:    func(d time.Duration) bool { return d > 59*time.Minute && d <= time.Hour },
			message: "Server is busy"},
		{name: "pagerduty over plain http", req: sender.Request{Method: http.MethodPost, URL: "http://events.pagerduty.com/v2/enqueue", JSON: map[string]string{"routing_key": pdKey}},
			kind: notify.ErrRejected, message: "redirect to events.pagerduty.com not followed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fault != nil {
				require.NoError(t, srv.Inject(*c.fault))
			}
			if c.revoke != "" {
				srv.RevokeCredentials(c.revoke)
			}
			s := sender.New("fake", settings.Apply(notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger)), secrets...)
			c.req.Op = "test"
			_, err := s.Do(t.Context(), c.req)
			require.ErrorIs(t, err, c.kind)
			require.Equal(t, c.retryable, notify.IsRetryable(err))
			if c.wait != nil {
				require.True(t, c.wait(notify.RetryAfterOf(err)), notify.RetryAfterOf(err).String())
			} else {
				require.Zero(t, notify.RetryAfterOf(err))
			}
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			// Contains, not Equal: sender.DescribeBody renders Jira's empty
			// "errors":{} as "{}; …" (reported to the core's owner).
			require.Contains(t, e.Message, c.message)
			notifytest.AssertNoSecret(t, err, secrets...)
		})
	}

	// A delay longer than the notifier's timeout is a retryable timeout.
	require.NoError(t, srv.Inject(notifytest.Fault{Destination: notifytest.Opsgenie, Status: 202, Delay: time.Hour}))
	s := sender.New("opsgenie", settings.Apply(notify.WithHTTPClient(srv.Client()), notify.WithTimeout(50*time.Millisecond),
		notify.WithLogger(logger)), ogKey)
	_, err := s.Do(t.Context(), sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.opsgenie.com/v2/alerts",
		Header: http.Header{"Authorization": {"GenieKey " + ogKey}}, JSON: map[string]string{"message": "m"}})
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, notify.IsRetryable(err))
	notifytest.AssertNoSecret(t, err, ogKey)
	notifytest.AssertNoSecret(t, logs.String(), append(secrets, ogKey)...)
}
