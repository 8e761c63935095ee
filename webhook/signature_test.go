package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// The published test vector of the Standard Webhooks reference libraries
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
// TestWebhookSign; the same values appear in the other languages' tests).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeaders() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vectorID)
	h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
	h.Set(HeaderSignature, vectorSignature)
	return h
}

func TestSign_SpecTestVector(t *testing.T) {
	key, err := decodeSecret(vectorSecret, false)
	require.NoError(t, err)
	require.Equal(t, vectorSignature, sign(key, vectorID, vectorTimestamp, []byte(vectorPayload)))

	at := time.Unix(vectorTimestamp, 0)
	require.NoError(t, verifyAt(vectorSecret, vectorHeaders(), []byte(vectorPayload), at))
	// The reference libraries accept the secret without its prefix too.
	require.NoError(t, verifyAt(strings.TrimPrefix(vectorSecret, SecretPrefix), vectorHeaders(), []byte(vectorPayload), at))
	// The vector's secret is 24 bytes, the smallest a Config accepts.
	cfg := validConfig()
	cfg.SigningSecret = vectorSecret
	require.NoError(t, cfg.Validate())
}

func TestVerify(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	body := []byte(vectorPayload)
	cases := []struct {
		name string
		mod  func(h http.Header)
		now  time.Time
		body []byte
		want string // "" for success
	}{
		{name: "valid", now: at},
		{name: "at the tolerance, old", now: at.Add(VerifyTolerance)},
		{name: "at the tolerance, future", now: at.Add(-VerifyTolerance)},
		{name: "too old", now: at.Add(VerifyTolerance + time.Second), want: "old, more than the 5m0s tolerance"},
		{name: "from the future", now: at.Add(-VerifyTolerance - time.Second), want: "in the future"},
		{name: "body changed", now: at, body: []byte(`{"test": 2432232315}`), want: "no v1 signature"},
		{name: "missing id", now: at, mod: func(h http.Header) { h.Del(HeaderID) }, want: "webhook-id header is missing"},
		{name: "missing timestamp", now: at, mod: func(h http.Header) { h.Del(HeaderTimestamp) }, want: "webhook-timestamp header is missing"},
		{name: "missing signature", now: at, mod: func(h http.Header) { h.Del(HeaderSignature) }, want: "webhook-signature header is missing"},
		{name: "bad timestamp", now: at, mod: func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, want: "not a Unix time"},
		{name: "other id", now: at, mod: func(h http.Header) { h.Set(HeaderID, "msg_other") }, want: "no v1 signature"},
		{name: "several signatures, one good", now: at, mod: func(h http.Header) {
			h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,AAAA junk v2,"+
				strings.TrimPrefix(vectorSignature, "v1,")+" "+vectorSignature)
		}},
		{name: "several header lines", now: at, mod: func(h http.Header) {
			h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			h.Add(HeaderSignature, vectorSignature)
		}},
		{name: "right MAC under another version", now: at, mod: func(h http.Header) {
			h.Set(HeaderSignature, "v1a,"+strings.TrimPrefix(vectorSignature, "v1,"))
		}, want: "no v1 signature"},
		{name: "not base64", now: at, mod: func(h http.Header) { h.Set(HeaderSignature, "v1,!!!") }, want: "no v1 signature"},
		{name: "lower-case keys built by hand", now: at, mod: func(h http.Header) {
			for _, k := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
				v := h.Get(k)
				h.Del(k)
				h[k] = []string{v}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := vectorHeaders()
			if tc.mod != nil {
				tc.mod(h)
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			err := verifyAt(vectorSecret, h, b, tc.now)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrVerification)
			require.Contains(t, err.Error(), tc.want)
			notifytest.AssertNoSecret(t, err, vectorSecret, notify.Secret(strings.TrimPrefix(vectorSecret, SecretPrefix)))
		})
	}
}

func TestVerify_WrongOrBadSecret(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	err := verifyAt(testSecret.Reveal(), vectorHeaders(), []byte(vectorPayload), at)
	require.ErrorIs(t, err, ErrVerification)
	notifytest.AssertNoSecret(t, err, testSecret)

	for _, bad := range []string{"", "whsec_", "whsec_***"} {
		err := verifyAt(bad, vectorHeaders(), []byte(vectorPayload), at)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrVerification, "a bad secret is the receiver's configuration error")
		require.Contains(t, err.Error(), "signing secret")
	}
}

func TestVerify_UsesTheRealClock(t *testing.T) {
	// The vector's timestamp is from 2021: Verify, on today's clock, must
	// refuse it as a replay.
	err := Verify(vectorSecret, vectorHeaders(), []byte(vectorPayload))
	require.ErrorIs(t, err, ErrVerification)
	require.Contains(t, err.Error(), "old")
}
