package webhooktest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/webhook/webhooktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var jsonCT = fakekit.JSONContent()

func sign(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhook(t *testing.T) {
	fake := webhooktest.New()
	srv := notifytest.NewServer(t, fake)
	u := "https://hooks.example.org/cd"
	a := fakekit.Send(t, srv.Client(), http.MethodPost, u, jsonCT, `{"id":"evt-1"}`)
	require.Equal(t, http.StatusOK, a.Status)
	require.Empty(t, a.Body)
	a = fakekit.Send(t, srv.Client(), http.MethodPost, "http://receiver.example.test:9000/hook", nil, "plain")
	require.Equal(t, http.StatusOK, a.Status, "plain http:// reaches the sink")

	srv.ExpectCredentials(notifytest.Webhook, "Bearer s3cr3t")
	require.Equal(t, http.StatusUnauthorized, fakekit.Send(t, srv.Client(), http.MethodPost, u, nil, "{}").Status)
	require.Equal(t, http.StatusOK, fakekit.Send(t, srv.Client(), http.MethodPost, u, map[string]string{"Authorization": "Bearer s3cr3t"}, "{}").Status)
	srv.ExpectCredentials(notifytest.Webhook)

	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	require.Error(t, fake.SetSecret("whsec_c2hvcnQ="))
	require.Error(t, fake.SetSecret("nope"))
	require.NoError(t, fake.SetSecret(notify.Secret(secret)))
	now := time.Now().Unix()
	body := `{"type":"test"}`
	headers := func(ts int64, sig string) map[string]string {
		return map[string]string{"webhook-id": "evt-1", "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
	}
	a = fakekit.Send(t, srv.Client(), http.MethodPost, u, headers(now, "v1,bm9wZQ== "+sign(secret, "evt-1", now, body)), body)
	require.Equal(t, http.StatusOK, a.Status, "any signature of the list may match (rotation)")
	for name, h := range map[string]map[string]string{
		"wrong body key":  headers(now, sign("whsec_"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32)), "evt-1", now, body)),
		"old timestamp":   headers(now-600, sign(secret, "evt-1", now-600, body)),
		"no signature":    {"webhook-id": "evt-1", "webhook-timestamp": strconv.FormatInt(now, 10)},
		"other id signed": headers(now, sign(secret, "evt-2", now, body)),
	} {
		a := fakekit.Send(t, srv.Client(), http.MethodPost, u, h, body)
		require.Equal(t, http.StatusUnauthorized, a.Status, name)
		require.True(t, strings.HasPrefix(a.Body, "signature verification failed: "), name)
	}
	require.NoError(t, fake.SetSecret(""))
	require.Equal(t, http.StatusOK, fakekit.Send(t, srv.Client(), http.MethodPost, u, nil, body).Status)
}

func TestWebhookOpenFollowsResolutions(t *testing.T) {
	fake := webhooktest.New()
	srv := notifytest.NewServer(t, fake)
	u := "https://hooks.example.org/cd"
	secret := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, fake.SetSecret(notify.Secret(secret)))
	deliver := func(id string) int {
		now := time.Now().Unix()
		body := `{"id":"x"}`
		return fakekit.Send(t, srv.Client(), http.MethodPost, u, map[string]string{
			"Content-Type": "application/json", "webhook-id": id,
			"webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": sign(secret, id, now, body),
		}, body).Status
	}
	require.Empty(t, fake.Open())
	require.Equal(t, http.StatusOK, deliver("evt-1"))
	require.Equal(t, http.StatusOK, deliver("evt-2"))
	require.Equal(t, http.StatusOK, deliver("evt-1"), "a retry is the same delivery")
	require.Equal(t, []string{"evt-1", "evt-2"}, fake.Open())
	require.Equal(t, http.StatusOK, deliver("evt-1:resolved"))
	require.Equal(t, []string{"evt-2"}, fake.Open())
	require.Equal(t, http.StatusOK, deliver("evt-3:resolved"), "resolving what was never opened is accepted")
	require.Equal(t, []string{"evt-2"}, fake.Open())

	// A refused delivery opens and resolves nothing.
	now := time.Now().Unix()
	a := fakekit.Send(t, srv.Client(), http.MethodPost, u, map[string]string{
		"webhook-id": "evt-2:resolved", "webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": "v1,bm9wZQ==",
	}, `{}`)
	require.Equal(t, http.StatusUnauthorized, a.Status)
	require.Equal(t, []string{"evt-2"}, fake.Open())
	// Nor does a request that carries no webhook-id.
	require.NoError(t, fake.SetSecret(""))
	require.Equal(t, http.StatusOK, fakekit.Send(t, srv.Client(), http.MethodPost, u, nil, `{}`).Status)
	require.Equal(t, []string{"evt-2"}, fake.Open())
}
