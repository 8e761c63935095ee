package jira

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// TestLoopbackFake runs the notifier against notifytest's loopback Jira,
// which checks requests the way Jira Cloud does: the production URL is
// kept, and the fake's client routes it to 127.0.0.1.
func TestLoopbackFake(t *testing.T) {
	ctx := context.Background()
	srv := fakes.NewServer(t)
	logger, logs := notifytest.NewLogger()
	t.Cleanup(func() { notifytest.AssertNoSecret(t, logs.String(), secrets...) })
	newNotifier := func(c Config) *Notifier {
		n, err := New(c, notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
		require.NoError(t, err)
		return n
	}
	c := validConfig()
	c.PriorityFromRisk = true
	n := newNotifier(c)

	require.NoError(t, n.Test(ctx))
	require.Empty(t, srv.JiraIssues(), "Test files nothing")

	first, err := n.Send(ctx, fullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "SEC-1", URL: site + "/browse/SEC-1"}, first)
	again, err := n.Send(ctx, fullEvent()) // a retry of the same event
	require.NoError(t, err)
	require.Equal(t, first, again)

	issues := srv.JiraIssues()
	require.Len(t, issues, 1, "the retry filed nothing")
	require.Equal(t, "[HIGH] New script on checkout", issues[0].Summary)
	require.Equal(t, []string{"cd-evt-1", "pci", "new-script"}, issues[0].Labels)
	require.Equal(t, "High", issues[0].Priority)
	require.Equal(t, "Task", issues[0].IssueTypeName)

	t.Run("an issue type without Labels on its screen", func(t *testing.T) {
		c := validConfig()
		c.IssueType = "incident"
		err := newNotifier(c).Test(ctx)
		requireKind(t, err, notify.ErrRejected, false)
		require.Contains(t, err.Error(), `the Labels field is not on the create screen of issue type "Incident" in project SEC`)
	})
	t.Run("a revoked token, on a site that answers anonymously", func(t *testing.T) {
		srv.SetJiraAnonymousAccess(true)
		srv.RevokeCredentials(token)
		requireKind(t, n.Test(ctx), notify.ErrUnauthorized, false)
		e := fullEvent()
		e.ID = "evt-9"
		_, err := n.Send(ctx, e)
		requireKind(t, err, notify.ErrUnauthorized, false)
		require.Len(t, srv.JiraIssues(), 1, "nothing filed")
	})
}

// TestLoopbackLifecycle opens an event's issue on the fake and resolves it:
// the issue is commented and moved to Done, and resolving again, or
// resolving an event never opened, touches nothing.
func TestLoopbackLifecycle(t *testing.T) {
	ctx := context.Background()
	srv := fakes.NewServer(t)
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)

	open, err := n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	closed, err := n.Send(ctx, testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, open, closed)
	is := srv.JiraIssues()
	require.Len(t, is, 1)
	require.Equal(t, "done", is[0].StatusCategory)
	require.Equal(t, []string{"Code Defender resolved this alert at 2026-01-02T03:04:05Z."}, is[0].Comments)

	again, err := n.Send(ctx, testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{}, again, "resolved already")
	never, err := n.Send(ctx, testkit.Resolved(testkit.MinimalEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{}, never, "never opened")
	is = srv.JiraIssues()
	require.Len(t, is, 1, "resolving files nothing")
	require.Len(t, is[0].Comments, 1)

	t.Run("a workflow without a Done status", func(t *testing.T) {
		srv.SetJiraWorkflow(jiratest.Transition{ID: "21", Name: "Start", To: "In Progress", Category: "indeterminate"})
		e := testkit.MinimalEvent()
		_, err := n.Send(ctx, e)
		require.NoError(t, err)
		_, err = n.Send(ctx, testkit.Resolved(e))
		require.NoError(t, err)
		is := srv.JiraIssues()[1]
		require.Equal(t, "To Do", is.Status, "no transition is guessed")
		require.Len(t, is.Comments, 1)
	})
}
