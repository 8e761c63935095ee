package notifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/codedefender/integrations/notify"
)

// Standard Webhooks v1.0.0, https://www.standardwebhooks.com/ and
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md.
const (
	whSecretPrefix = "whsec_"
	whTolerance    = 5 * time.Minute // receiver-side timestamp tolerance
	whMinKeyBytes  = 24              // secrets are 24-64 random bytes
	whMaxKeyBytes  = 64
)

// SetWebhookSecret makes the webhook sink verify every request's Standard
// Webhooks signature with secret (whsec_ and the base64 of 24-64 bytes), as
// a receiver using a Standard Webhooks library does: webhook-id,
// webhook-timestamp (within five minutes of now) and webhook-signature (a
// space-separated list; any v1,<base64 HMAC-SHA256 of id.timestamp.body>
// may match) are required, else 401 with the reason. The body verified is
// the one recorded, after gzip. An empty secret stops the checks. It
// returns an error, and changes nothing, for a malformed secret.
func (s *Server) SetWebhookSecret(secret notify.Secret) error {
	var key []byte
	if !secret.IsZero() {
		b64, ok := strings.CutPrefix(secret.Reveal(), whSecretPrefix)
		k, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(k) < whMinKeyBytes || len(k) > whMaxKeyBytes {
			return errors.New("notifytest: a webhook secret is whsec_ and the base64 of 24 to 64 bytes")
		}
		key = k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookKey = key
	return nil
}

// serveWebhook is the generic webhook sink (see Destination).
func (s *Server) serveWebhook(w http.ResponseWriter, req *fakeRequest) {
	r := req.r
	if auth := r.Header.Get("Authorization"); s.checkCredential(Webhook, auth) != credOK {
		writeText(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	s.mu.Lock()
	key := s.webhookKey
	s.mu.Unlock()
	if key != nil {
		if reason := verifyStandardWebhook(key, r.Header, req.body, time.Now()); reason != "" {
			writeText(w, http.StatusUnauthorized, "signature verification failed: "+reason)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// verifyStandardWebhook returns why a request's signature does not verify,
// or "".
func verifyStandardWebhook(key []byte, h http.Header, body []byte, now time.Time) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "webhook-id, webhook-timestamp and webhook-signature are required"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "webhook-timestamp is not Unix seconds"
	}
	if d := now.Sub(time.Unix(sec, 0)); d > whTolerance || d < -whTolerance {
		return "webhook-timestamp is more than five minutes from now"
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no v1 signature matches"
}

// webhookResolvedSuffix ends the webhook-id of a resolved event (the
// library's webhook.ResolvedSuffix; notifytest cannot import the package
// whose tests use it).
const webhookResolvedSuffix = ":resolved"

// WebhookOpen returns, sorted, the ids of the events the webhook sink
// accepted (2xx) as open and has not accepted a resolution of since, read
// from the recorded requests in order the way a Standard Webhooks receiver
// reads webhook-id: a repeated id is the same delivery again (a retry), and
// "<id>:resolved" resolves <id>. Requests without a webhook-id are not
// events and are left out.
func (s *Server) WebhookOpen() []string {
	open := map[string]bool{}
	for _, r := range s.RequestsTo(Webhook) {
		id := r.Header.Get("webhook-id")
		if id == "" || r.Status < 200 || r.Status > 299 {
			continue
		}
		if base, ok := strings.CutSuffix(id, webhookResolvedSuffix); ok {
			delete(open, base)
			continue
		}
		open[id] = true
	}
	out := make([]string, 0, len(open))
	for id := range open {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
