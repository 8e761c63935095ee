package notifytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
)

// A Splunk Cloud stack's web address serves Splunk Web, not HEC: a client
// that posts there gets an HTML page and no event is kept. HEC answers on
// the stack's http-inputs hosts, and on port 8088 of the stack for trials.
func TestSplunkWebAddressIsNotHEC(t *testing.T) {
	srv := fakes.NewServer(t)
	auth := map[string]string{"Authorization": "Splunk " + splunkToken}
	for _, u := range []string{
		"https://acme.splunkcloud.com/services/collector/event",
		"https://acme.splunkcloud.com:443/services/collector",
		"https://ACME.splunkcloud.com/services/collector/health",
	} {
		a := send(t, srv.Client(), http.MethodPost, u, auth, `{"event":"x"}`)
		require.Equal(t, http.StatusNotFound, a.status, u)
		require.True(t, strings.HasPrefix(a.header.Get("Content-Type"), "text/html"), u)
		require.Contains(t, a.body, "Page not found!", u)
	}
	require.Empty(t, srv.SplunkEvents())

	for _, u := range []string{
		"https://http-inputs-acme.splunkcloud.com/services/collector/event",
		"https://http-inputs.acme.splunkcloud.com/services/collector/event",
		"https://acme.splunkcloud.com:8088/services/collector/event",
	} {
		a := send(t, srv.Client(), http.MethodPost, u, auth, `{"event":"x"}`)
		require.Equal(t, http.StatusOK, a.status, u)
		require.JSONEq(t, `{"text":"Success","code":0}`, a.body, u)
	}
	require.Len(t, srv.SplunkEvents(), 3)
}
