package notifytest_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/notify"
)

func TestWebhookOpenFollowsResolutions(t *testing.T) {
	srv := fakes.NewServer(t)
	u := "https://hooks.example.org/cd"
	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, srv.SetWebhookSecret(notify.Secret(secret)))
	deliver := func(id string) int {
		now := time.Now().Unix()
		body := `{"id":"x"}`
		return send(t, srv.Client(), http.MethodPost, u, map[string]string{
			"Content-Type": "application/json", "webhook-id": id,
			"webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": sign(secret, id, now, body),
		}, body).status
	}
	require.Empty(t, srv.WebhookOpen())
	require.Equal(t, http.StatusOK, deliver("evt-1"))
	require.Equal(t, http.StatusOK, deliver("evt-2"))
	require.Equal(t, http.StatusOK, deliver("evt-1"), "a retry is the same delivery")
	require.Equal(t, []string{"evt-1", "evt-2"}, srv.WebhookOpen())
	require.Equal(t, http.StatusOK, deliver("evt-1:resolved"))
	require.Equal(t, []string{"evt-2"}, srv.WebhookOpen())
	require.Equal(t, http.StatusOK, deliver("evt-3:resolved"), "resolving what was never opened is accepted")
	require.Equal(t, []string{"evt-2"}, srv.WebhookOpen())

	// A refused delivery opens and resolves nothing.
	now := time.Now().Unix()
	a := send(t, srv.Client(), http.MethodPost, u, map[string]string{
		"webhook-id": "evt-2:resolved", "webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": "v1,bm9wZQ==",
	}, `{}`)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, []string{"evt-2"}, srv.WebhookOpen())
	// Nor does a request that carries no webhook-id.
	require.NoError(t, srv.SetWebhookSecret(""))
	require.Equal(t, http.StatusOK, send(t, srv.Client(), http.MethodPost, u, nil, `{}`).status)
	require.Equal(t, []string{"evt-2"}, srv.WebhookOpen())
}
