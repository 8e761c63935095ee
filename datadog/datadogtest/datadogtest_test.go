package datadogtest_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/datadog/datadogtest"
	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	ddAPIKey = "0123456789abcdef0123456789abcdef"
	ddAppKey = "0123456789abcdef0123456789abcdef01234567"
)

func TestDatadog(t *testing.T) {
	fake := datadogtest.New()
	srv := notifytest.NewServer(t, fake)
	keys := map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": ddAppKey, "Content-Type": "application/json"}
	for _, site := range []string{"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
		"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com", "ddog-gov.com", "us2.ddog-gov.com"} {
		a := fakekit.Send(t, srv.Client(), http.MethodGet, "https://api."+site+"/api/v2/validate_keys", keys, "")
		require.Equal(t, http.StatusOK, a.Status, site)
		require.JSONEq(t, `{"status":"ok"}`, a.Body)
		a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api."+site+"/api/v1/validate", map[string]string{"DD-API-KEY": ddAPIKey}, "")
		require.JSONEq(t, `{"valid":true}`, a.Body)
	}
	a := fakekit.Send(t, srv.Client(), http.MethodGet, "https://app.datadoghq.com/api/v2/validate_keys", keys, "")
	require.Equal(t, http.StatusNotFound, a.Status, "the API host is api.<site>")

	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.eu/api/v2/incidents", keys,
		`{"data":{"type":"incidents","attributes":{"title":"New script","customer_impacted":false,
		  "fields":{"severity":{"type":"dropdown","value":"SEV-2"}},"notification_handles":[{"handle":"@slack-sec"}]}}}`)
	require.Equal(t, http.StatusCreated, a.Status)
	data := fakekit.Decode(t, a.Body)["data"].(map[string]any)
	require.Equal(t, "incidents", data["type"])
	attrs := data["attributes"].(map[string]any)
	require.EqualValues(t, 1, attrs["public_id"])
	require.Equal(t, "New script", attrs["title"])
	require.Equal(t, "SEV-2", attrs["severity"])
	incidents := fake.Incidents()
	require.Len(t, incidents, 1)
	require.Equal(t, data["id"], incidents[0].ID)
	require.Equal(t, "datadoghq.eu", incidents[0].Site)
	require.Equal(t, []string{"@slack-sec"}, incidents[0].Handles)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.eu/api/v2/incidents", keys,
		`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false}}}`)
	require.EqualValues(t, 2, fakekit.Decode(t, a.Body)["data"].(map[string]any)["attributes"].(map[string]any)["public_id"])
	require.EqualValues(t, "UNKNOWN", fakekit.Decode(t, a.Body)["data"].(map[string]any)["attributes"].(map[string]any)["severity"])

	refused := []struct{ body, err string }{
		{`{"data":{"type":"incidents","attributes":{"title":"t"}}}`, "attributes.customer_impacted is required and must be a boolean"},
		{`{"data":{"type":"incident","attributes":{"title":"t","customer_impacted":false}}}`, `data.type must be "incidents"`},
		{`{"data":{"type":"incidents","attributes":{"customer_impacted":false}}}`, "attributes.title is required"},
		{`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":true}}}`, "attributes.customer_impact_scope is required when customer_impacted is true"},
		{`{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false,"fields":{"severity":{"type":"dropdown","value":"SEV-9"}}}}}`,
			"attributes.fields.severity.value must be one of UNKNOWN, SEV-0, SEV-1, SEV-2, SEV-3, SEV-4, SEV-5"},
	}
	for _, c := range refused {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.com/api/v2/incidents", keys, c.body)
		require.Equal(t, http.StatusBadRequest, a.Status, c.body)
		require.JSONEq(t, `{"errors":[`+strconv.Quote(c.err)+`]}`, a.Body)
	}

	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys", map[string]string{"DD-API-KEY": ddAPIKey}, "")
	require.Equal(t, http.StatusUnauthorized, a.Status)
	require.JSONEq(t, `{"errors":["Unauthorized"]}`, a.Body)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys",
		map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": "short"}, "")
	require.Equal(t, http.StatusForbidden, a.Status)
	require.JSONEq(t, `{"errors":["Forbidden"]}`, a.Body)
	srv.RevokeCredentials(ddAppKey)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v2/validate_keys", keys, "")
	require.Equal(t, http.StatusForbidden, a.Status)
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v1/validate", map[string]string{"DD-API-KEY": ddAPIKey}, "")
	require.Equal(t, http.StatusOK, a.Status, "v1 checks the API key only")
	a = fakekit.Send(t, srv.Client(), http.MethodGet, "https://api.datadoghq.com/api/v1/validate", nil, "")
	require.Equal(t, http.StatusForbidden, a.Status)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "https://api.datadoghq.com/api/v2/incidents",
		map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": strings.Repeat("a", 40)}, `{}`)
	require.Equal(t, http.StatusUnsupportedMediaType, a.Status)
}

func TestDatadogSearchAndUpdate(t *testing.T) {
	fake := datadogtest.New()
	srv := notifytest.NewServer(t, fake)
	const api = "https://api.datadoghq.eu/api/v2/incidents"
	keys := map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": ddAppKey, "Content-Type": "application/json"}
	search := func(query string) fakekit.Answer {
		return fakekit.Send(t, srv.Client(), http.MethodGet, api+"/search?query="+url.QueryEscape(query), keys, "")
	}
	a := fakekit.Send(t, srv.Client(), http.MethodPost, api, keys, `{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false,`+
		`"fields":{"severity":{"type":"dropdown","value":"SEV-2"},"cd_event_id":{"type":"textarray","value":["evt:1"]}}}}}`)
	require.Equal(t, http.StatusCreated, a.Status, a.Body)
	id := fakekit.Decode(t, a.Body)["data"].(map[string]any)["id"].(string)

	hits := func(a fakekit.Answer) []any {
		t.Helper()
		require.Equal(t, http.StatusOK, a.Status, a.Body)
		return fakekit.Decode(t, a.Body)["data"].(map[string]any)["attributes"].(map[string]any)["incidents"].([]any)
	}
	require.Len(t, hits(search(`cd_event_id:"evt:1"`)), 1)
	require.Len(t, hits(search(`cd_event_id:"evt:2"`)), 0)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:active AND severity:(SEV-1 OR SEV-2)`)), 1)
	hit := hits(search(`cd_event_id:"evt:1"`))[0].(map[string]any)["data"].(map[string]any)
	require.Equal(t, id, hit["id"])

	for _, q := range []string{"", "free text", `state:(active`} {
		a := search(q)
		require.Equal(t, http.StatusBadRequest, a.Status, q)
		require.Contains(t, a.Body, `"errors"`)
	}
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodGet, api+"/search?query=state:active", nil, "").Status)

	// Update: data.id must name the incident of the path.
	patch := func(path, body string) fakekit.Answer {
		return fakekit.Send(t, srv.Client(), http.MethodPatch, api+"/"+path, keys, body)
	}
	a = patch(id, `{"data":{"id":"other","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.JSONEq(t, `{"errors":["data.id must be the incident's id in the path"]}`, a.Body)
	a = patch(id, `{"data":{"id":"`+id+`","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"closed"}}}}}`)
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.JSONEq(t, `{"errors":["attributes.fields.state.value must be one of active, stable, resolved"]}`, a.Body)
	a = patch("00000000-0000-0000-0000-000000000000", `{"data":{"id":"00000000-0000-0000-0000-000000000000","type":"incidents","attributes":{}}}`)
	require.Equal(t, http.StatusNotFound, a.Status)
	a = patch(id, `{"data":{"id":"`+id+`","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`)
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	require.Equal(t, "resolved", fakekit.Decode(t, a.Body)["data"].(map[string]any)["attributes"].(map[string]any)["state"])

	require.Equal(t, "resolved", fake.Incidents()[0].State)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:resolved`)), 1)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:active`)), 0)
}
