package notifytest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
)

func TestDatadogSearchAndUpdate(t *testing.T) {
	srv := fakes.NewServer(t)
	const api = "https://api.datadoghq.eu/api/v2/incidents"
	keys := map[string]string{"DD-API-KEY": ddAPIKey, "DD-APPLICATION-KEY": ddAppKey, "Content-Type": "application/json"}
	search := func(query string) answer {
		return send(t, srv.Client(), http.MethodGet, api+"/search?query="+url.QueryEscape(query), keys, "")
	}
	a := send(t, srv.Client(), http.MethodPost, api, keys, `{"data":{"type":"incidents","attributes":{"title":"t","customer_impacted":false,`+
		`"fields":{"severity":{"type":"dropdown","value":"SEV-2"},"cd_event_id":{"type":"textarray","value":["evt:1"]}}}}}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	id := decode(t, a.body)["data"].(map[string]any)["id"].(string)

	hits := func(a answer) []any {
		t.Helper()
		require.Equal(t, http.StatusOK, a.status, a.body)
		return decode(t, a.body)["data"].(map[string]any)["attributes"].(map[string]any)["incidents"].([]any)
	}
	require.Len(t, hits(search(`cd_event_id:"evt:1"`)), 1)
	require.Len(t, hits(search(`cd_event_id:"evt:2"`)), 0)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:active AND severity:(SEV-1 OR SEV-2)`)), 1)
	hit := hits(search(`cd_event_id:"evt:1"`))[0].(map[string]any)["data"].(map[string]any)
	require.Equal(t, id, hit["id"])

	for _, q := range []string{"", "free text", `state:(active`} {
		a := search(q)
		require.Equal(t, http.StatusBadRequest, a.status, q)
		require.Contains(t, a.body, `"errors"`)
	}
	require.Equal(t, http.StatusUnauthorized, send(t, srv.Client(), http.MethodGet, api+"/search?query=state:active", nil, "").status)

	// Update: data.id must name the incident of the path.
	patch := func(path, body string) answer {
		return send(t, srv.Client(), http.MethodPatch, api+"/"+path, keys, body)
	}
	a = patch(id, `{"data":{"id":"other","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.JSONEq(t, `{"errors":["data.id must be the incident's id in the path"]}`, a.body)
	a = patch(id, `{"data":{"id":"`+id+`","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"closed"}}}}}`)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.JSONEq(t, `{"errors":["attributes.fields.state.value must be one of active, stable, resolved"]}`, a.body)
	a = patch("00000000-0000-0000-0000-000000000000", `{"data":{"id":"00000000-0000-0000-0000-000000000000","type":"incidents","attributes":{}}}`)
	require.Equal(t, http.StatusNotFound, a.status)
	a = patch(id, `{"data":{"id":"`+id+`","type":"incidents","attributes":{"fields":{"state":{"type":"dropdown","value":"resolved"}}}}}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "resolved", decode(t, a.body)["data"].(map[string]any)["attributes"].(map[string]any)["state"])

	require.Equal(t, "resolved", srv.DatadogIncidents()[0].State)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:resolved`)), 1)
	require.Len(t, hits(search(`cd_event_id:"evt:1" AND state:active`)), 0)
}
