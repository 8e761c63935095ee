package splunktest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/splunk/splunktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const splunkToken = "12345678-1234-4234-9234-123456789012"

func TestSplunk(t *testing.T) {
	fake := splunktest.New()
	srv := notifytest.NewServer(t, fake)
	cloud := "https://http-inputs-acme.splunkcloud.com/services/collector/event"
	onPrem := "https://splunk.corp.example:8088/services/collector"
	auth := map[string]string{"Authorization": "Splunk " + splunkToken}
	batch := `{"time":1767225600.123,"host":"shop.example.com","sourcetype":"cd:alert","index":"security","event":{"risk":"high"}}
{"time":"1767225601.456","sourcetype":"cd:alert","event":"plain","fields":{"tenant":"t1","tags":["a","b"]}}`

	a := fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, batch)
	require.Equal(t, http.StatusOK, a.Status)
	require.JSONEq(t, `{"text":"Success","code":0}`, a.Body)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, onPrem,
		map[string]string{"Authorization": auth["Authorization"], "Content-Encoding": "gzip"}, fakekit.Gzip(t, `{"event":"zipped"}`))
	require.JSONEq(t, `{"text":"Success","code":0}`, a.Body)
	events := fake.Events()
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
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.JSONEq(t, `{"text":"No data","code":5}`, a.Body)

	basicAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+splunkToken))
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, map[string]string{"Authorization": basicAuth}, "")
	require.JSONEq(t, `{"text":"No data","code":5}`, a.Body, "Basic auth with the token as password")

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
			a := fakekit.Send(t, srv.Client(), http.MethodPost, c.url, map[string]string{"Authorization": c.auth}, c.body)
			require.Equal(t, c.status, a.Status)
			require.JSONEq(t, c.answer, a.Body)
		})
	}
	require.Len(t, fake.Events(), 5, "the two events before a failing one are kept")

	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://acme.splunkcloud.com:8088/services/collector/health", nil, "")
	require.JSONEq(t, `{"text":"HEC is healthy","code":17}`, a.Body)

	fake.SetIndexes("main")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, `{"event":"a","index":"security"}`)
	require.JSONEq(t, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`, a.Body)
	fake.SetIndexes()
	fake.SetMaxContentLength(10)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, `{"event":"longer than ten"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.Status)
	fake.SetMaxContentLength(0)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, map[string]string{"Authorization": auth["Authorization"],
		"X-Splunk-Request-Channel": "not-a-guid"}, `{"event":"a"}`)
	require.JSONEq(t, `{"text":"Invalid data channel","code":11}`, a.Body)

	srv.ExpectCredentials(notifytest.Splunk, "aaaaaaaa-1234-4234-9234-123456789012")
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.JSONEq(t, `{"text":"Invalid token","code":4}`, a.Body)
	srv.RevokeCredentials(splunkToken)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, cloud, auth, "")
	require.Equal(t, http.StatusForbidden, a.Status)
	require.JSONEq(t, `{"text":"Token disabled","code":1}`, a.Body)
}

// A Splunk Cloud stack's web address serves Splunk Web, not HEC: a client
// that posts there gets an HTML page and no event is kept. HEC answers on
// the stack's http-inputs hosts, and on port 8088 of the stack for trials.
func TestSplunkWebAddressIsNotHEC(t *testing.T) {
	fake := splunktest.New()
	srv := notifytest.NewServer(t, fake)
	auth := map[string]string{"Authorization": "Splunk " + splunkToken}
	for _, u := range []string{
		"https://acme.splunkcloud.com/services/collector/event",
		"https://acme.splunkcloud.com:443/services/collector",
		"https://ACME.splunkcloud.com/services/collector/health",
	} {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, u, auth, `{"event":"x"}`)
		require.Equal(t, http.StatusNotFound, a.Status, u)
		require.True(t, strings.HasPrefix(a.Header.Get("Content-Type"), "text/html"), u)
		require.Contains(t, a.Body, "Page not found!", u)
	}
	require.Empty(t, fake.Events())

	for _, u := range []string{
		"https://http-inputs-acme.splunkcloud.com/services/collector/event",
		"https://http-inputs.acme.splunkcloud.com/services/collector/event",
		"https://acme.splunkcloud.com:8088/services/collector/event",
	} {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, u, auth, `{"event":"x"}`)
		require.Equal(t, http.StatusOK, a.Status, u)
		require.JSONEq(t, `{"text":"Success","code":0}`, a.Body, u)
	}
	require.Len(t, fake.Events(), 3)
}
