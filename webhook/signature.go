package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/text"
)

// The Standard Webhooks headers (spec v1.0.0). Header names are
// case-insensitive; these are the spelling the spec uses.
const (
	// HeaderID carries Event.ID: the same on every retry, so the receiver
	// can drop duplicates.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix time in seconds of this attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries "v1," and the base64 HMAC-SHA256 of
	// id.timestamp.body; several space-separated signatures may appear.
	HeaderSignature = "webhook-signature"
)

// VerifyTolerance is how far webhook-timestamp may be from the receiver's
// clock, either way, before Verify refuses the request as a possible replay
// (the Standard Webhooks recommendation).
const VerifyTolerance = 5 * time.Minute

// ErrVerification is wrapped by every error Verify returns because of the
// request (missing header, stale timestamp, no matching signature); a
// receiver answers those with 401. A bad secret is the receiver's own
// configuration error and does not wrap it.
var ErrVerification = errors.New("webhook: verification failed")

// sign returns the webhook-signature value for one attempt: "v1," and the
// standard base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body).
func sign(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, timestamp, body))
}

// mac returns HMAC-SHA256(key, id + "." + timestamp + "." + body).
func mac(key []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a Standard Webhooks signature as a receiver: secret is the
// webhook's signing secret ("whsec_…"; the prefix may be left off), headers
// the request's, and body its exact bytes as received (not parsed and
// re-encoded). It returns nil when webhook-timestamp is within
// VerifyTolerance of now and one of the v1 signatures in webhook-signature
// matches, compared in constant time; other signature versions are skipped.
// Verify does not remember ids: drop repeated webhook-id values yourself.
func Verify(secret string, headers http.Header, body []byte) error {
	return verifyAt(secret, headers, body, time.Now())
}

// verifyAt is Verify with the receiver's clock as a parameter.
func verifyAt(secret string, headers http.Header, body []byte, now time.Time) error {
	key, err := decodeSecret(secret, false)
	if err != nil {
		return fmt.Errorf("webhook: the signing secret %s", err)
	}
	id := headerValue(headers, HeaderID)
	rawTS := headerValue(headers, HeaderTimestamp)
	sigs := headerValue(headers, HeaderSignature)
	for _, h := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, rawTS}, {HeaderSignature, sigs}} {
		if h.value == "" {
			return fmt.Errorf("%w: the %s header is missing", ErrVerification, h.name)
		}
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(rawTS), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not a Unix time in seconds", ErrVerification, HeaderTimestamp, text.Truncate(rawTS, 24))
	}
	sent := time.Unix(ts, 0)
	if age := now.Sub(sent); age > VerifyTolerance {
		return fmt.Errorf("%w: %s is %s old, more than the %s tolerance (a replay, or a clock that is off)",
			ErrVerification, HeaderTimestamp, age.Truncate(time.Second), VerifyTolerance)
	}
	if ahead := sent.Sub(now); ahead > VerifyTolerance {
		return fmt.Errorf("%w: %s is %s in the future, more than the %s tolerance (a clock that is off)",
			ErrVerification, HeaderTimestamp, ahead.Truncate(time.Second), VerifyTolerance)
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature in %s matches (wrong secret, or the body was changed: verify the raw bytes)",
		ErrVerification, HeaderSignature)
}

// headerValue returns every value of the named header joined by spaces,
// finding it whatever the case of the map's keys (an http.Header built by
// hand may hold "webhook-id" rather than "Webhook-Id").
func headerValue(h http.Header, name string) string {
	if vs := h.Values(name); len(vs) > 0 {
		return strings.Join(vs, " ")
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return strings.Join(vs, " ")
		}
	}
	return ""
}
