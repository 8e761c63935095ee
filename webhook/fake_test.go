package webhook_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/webhook"
	"github.com/codedefender/integrations/webhook/webhooktest"
)

// This test lives in package webhook_test because webhooktest imports
// webhook (for Verify), which webhook's own tests cannot import back.
func TestSend_OpenThenResolvedAgainstTheFake(t *testing.T) {
	const (
		signing notify.Secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		bearer  notify.Secret = "Bearer tok-abcdef0123456789"
	)
	sink := webhooktest.New()
	srv := notifytest.NewServer(t, sink)
	require.NoError(t, sink.SetSecret(signing))
	srv.ExpectCredentials(notifytest.Webhook, bearer)
	n, err := webhook.New(webhook.Config{
		Name:          "SOC webhook",
		URL:           "https://hooks.example.com/cd/alerts",
		Headers:       []webhook.Header{{Name: "Authorization", Value: bearer}},
		SigningSecret: signing,
	}, notify.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	defer n.Close()
	ctx := context.Background()
	_, err = n.Send(ctx, testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, []string{"evt-123"}, sink.Open())
	for range 2 { // resolving twice is harmless
		r, err := n.Send(ctx, testkit.Resolved(testkit.FullEvent()))
		require.NoError(t, err)
		require.Equal(t, "evt-123:resolved", r.ID)
	}
	require.Empty(t, sink.Open(), "the resolution closed what the open event opened")
}
