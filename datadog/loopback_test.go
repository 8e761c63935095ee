package datadog

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// TestLoopbackFake runs the notifier against notifytest's loopback Datadog,
// which checks requests the way the Incidents API does: the production URL
// is kept, and the fake's client routes it to 127.0.0.1.
func TestLoopbackFake(t *testing.T) {
	ctx := context.Background()
	srv := notifytest.NewServer(t)
	logger, logs := notifytest.NewLogger()
	t.Cleanup(func() { notifytest.AssertNoSecret(t, logs.String(), secrets...) })
	c := validConfig()
	c.URL = "https://api.ddog-gov.com/api/v2/incidents"
	n, err := New(c, notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
	require.NoError(t, err)

	require.NoError(t, n.Test(ctx))
	require.Empty(t, srv.DatadogIncidents(), "Test opens nothing")

	r, err := n.Send(ctx, fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "1", URL: "https://app.ddog-gov.com/incidents/1"}, r)
	incidents := srv.DatadogIncidents()
	require.Len(t, incidents, 1)
	require.Equal(t, "New script on checkout", incidents[0].Title)
	require.Equal(t, "SEV-2", incidents[0].Severity)
	require.False(t, incidents[0].CustomerImpacted)
	require.False(t, incidents[0].IsTest)

	_, err = n.Send(ctx, minimalEvent())
	require.NoError(t, err)
	require.True(t, srv.DatadogIncidents()[1].IsTest)

	srv.RevokeCredentials(appKey)
	err = n.Test(ctx)
	requireKind(t, err, notify.ErrUnauthorized, false)
	require.Contains(t, err.Error(), "application_key is not valid on ddog-gov.com")
}
