package datadog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// TestLoopbackFake runs the notifier against notifytest's loopback Datadog,
// which checks requests the way the Incidents API does: the production URL
// is kept, and the fake's client routes it to 127.0.0.1.
func TestLoopbackFake(t *testing.T) {
	ctx := context.Background()
	srv := fakes.NewServer(t)
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

// TestLoopbackLifecycle opens an event's incident on the fake, retries the
// open, and resolves it: one incident, resolved; resolving again, or an
// event never opened, changes nothing.
func TestLoopbackLifecycle(t *testing.T) {
	ctx := context.Background()
	srv := fakes.NewServer(t)
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)

	open, err := n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	again, err := n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, open, again, "a retried open finds the incident")
	closed, err := n.Send(ctx, testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, open, closed)

	incidents := srv.DatadogIncidents()
	require.Len(t, incidents, 1)
	require.Equal(t, "resolved", incidents[0].State)
	require.Equal(t, []string{"evt-123"}, incidents[0].Fields["cd_event_id"])

	for _, e := range []notify.Event{testkit.Resolved(testkit.FullEvent()), testkit.Resolved(testkit.MinimalEvent())} {
		r, err := n.Send(ctx, e)
		require.NoError(t, err)
		require.Equal(t, notify.Receipt{}, r)
	}
	require.Len(t, srv.DatadogIncidents(), 1, "resolving opens nothing")
}

// TestLoopbackRetryAfterTimeout: the fake holds the first create's answer
// past the client's deadline (the incident is opened all the same, as a
// create that reached Datadog is); the retry opens no second incident.
func TestLoopbackRetryAfterTimeout(t *testing.T) {
	ctx := context.Background()
	srv := fakes.NewServer(t)
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()), notify.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	srv.HoldDatadogAnswers(1, 2*time.Second)

	_, err = n.Send(ctx, testkit.FullEvent())
	requireKind(t, err, notify.ErrUnavailable, true)
	require.Len(t, srv.DatadogIncidents(), 1, "the create reached Datadog")

	r, err := n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, "1", r.ID)
	require.Len(t, srv.DatadogIncidents(), 1, "exactly one incident")
}
