// Package webhooktest is the loopback fake of a generic webhook receiver that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, webhooktest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// Webhook, every other host and path: 200 with an empty body to any method,
// unless notifytest.Server.ExpectCredentials(notifytest.Webhook, …) names the accepted
// Authorization values, the value is revoked, or Fake.SetSecret is
// set and the Standard Webhooks signature does not verify (webhook.Verify):
// then 401. Fake.Open reads the events a receiver holds open.
package webhooktest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/webhook"
)

// Standard Webhooks v1.0.0, https://www.standardwebhooks.com/ and
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md:
// secrets are whsec_ and the base64 of 24-64 random bytes.
const (
	whSecretPrefix = "whsec_"
	whMinKeyBytes  = 24
	whMaxKeyBytes  = 64
)

// Fake is the generic webhook sink (see the package documentation).
type Fake struct {
	notifytest.Base
	mu     sync.Mutex
	secret string // "" when signatures are not checked
}

// New returns a webhook sink to pass to notifytest.NewServer. It handles
// every request, so it goes last.
func New() *Fake { return &Fake{Base: notifytest.NewBase(notifytest.Webhook)} }

// Handles takes every request: the sink is the catch-all.
func (s *Fake) Handles(_, _ string) bool { return true }

// AcceptsGzip reports true: a receiver may take compressed bodies.
func (s *Fake) AcceptsGzip() bool { return true }

// HTTPSOnly reports false: webhook receivers may be plain http://.
func (s *Fake) HTTPSOnly(string) bool { return false }

// WriteError answers a plain-text error.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = notifytest.StatusText(status)
	}
	fakekit.WriteText(w, status, msg)
}

// SetSecret makes the webhook sink verify every request's Standard
// Webhooks signature with secret (whsec_ and the base64 of 24-64 bytes), as
// a receiver using a Standard Webhooks library does: webhook-id,
// webhook-timestamp (within five minutes of now) and webhook-signature (a
// space-separated list; any v1,<base64 HMAC-SHA256 of id.timestamp.body>
// may match) are required, else 401 with the reason. The body verified is
// the one recorded, after gzip. An empty secret stops the checks. It
// returns an error, and changes nothing, for a malformed secret.
func (s *Fake) SetSecret(secret notify.Secret) error {
	if !secret.IsZero() {
		b64, ok := strings.CutPrefix(secret.Reveal(), whSecretPrefix)
		k, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(k) < whMinKeyBytes || len(k) > whMaxKeyBytes {
			return errors.New("webhooktest: a webhook secret is whsec_ and the base64 of 24 to 64 bytes")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = secret.Reveal()
	return nil
}

// ServeFake answers a request to the sink.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	if auth := r.Header.Get("Authorization"); s.Server().Credential(notifytest.Webhook, auth) != notifytest.CredentialOK {
		fakekit.WriteText(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	if secret != "" {
		if err := webhook.Verify(secret, r.Header, req.Body); err != nil {
			// Verify's errors start "webhook: verification failed: ".
			reason := strings.TrimPrefix(err.Error(), webhook.ErrVerification.Error()+": ")
			fakekit.WriteText(w, http.StatusUnauthorized, "signature verification failed: "+reason)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Open returns, sorted, the ids of the events the webhook sink
// accepted (2xx) as open and has not accepted a resolution of since, read
// from the recorded requests in order the way a Standard Webhooks receiver
// reads webhook-id: a repeated id is the same delivery again (a retry), and
// "<id>:resolved" resolves <id>. Requests without a webhook-id are not
// events and are left out.
func (s *Fake) Open() []string {
	open := map[string]bool{}
	for _, r := range s.Server().RequestsTo(notifytest.Webhook) {
		id := r.Header.Get("webhook-id")
		if id == "" || r.Status < 200 || r.Status > 299 {
			continue
		}
		if base, ok := strings.CutSuffix(id, webhook.ResolvedSuffix); ok {
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
