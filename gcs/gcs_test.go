package gcs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which only the
		// emulator (fake-gcs-server) imports: it lives as long as the
		// process and is none of this package's doing.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

const (
	testBucket = "cd-alerts"
	testEmail  = "alerts@cd-project.iam.gserviceaccount.com"
	testKeyID  = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"
	tokenURL   = "https://oauth2.googleapis.com/token"
	testToken  = "ya29.test-access-token"
	apiBase    = "https://storage.googleapis.com"
)

// testKey is generated once per run: no key material lives in the repo.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs8PEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// keyFile is a service account key file as Google issues it (pretty-printed),
// with edits applied (a nil value removes the field).
func keyFile(t testing.TB, edits map[string]any) notify.Secret {
	t.Helper()
	f := map[string]any{
		"type":                        "service_account",
		"project_id":                  "cd-project",
		"private_key_id":              testKeyID,
		"private_key":                 pkcs8PEM(t),
		"client_email":                testEmail,
		"client_id":                   "112233445566778899",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	for k, v := range edits {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	require.NoError(t, err)
	return notify.Secret(b)
}

func validConfig(t testing.TB) gcs.Config {
	return gcs.Config{
		Name:               "SOC archive",
		Bucket:             testBucket,
		ServiceAccountJSON: keyFile(t, nil),
		Prefix:             "alerts",
	}
}

// secrets are what must never appear in an error or a log line.
func secrets(t testing.TB, c gcs.Config) []notify.Secret {
	return []notify.Secret{c.ServiceAccountJSON, notify.Secret(pkcs8PEM(t)), testToken}
}

func testEvent() notify.Event {
	return notify.Event{
		ID:          "evt-123",
		Type:        notify.EventIncident,
		Title:       "New script <injected> on checkout & cart",
		Description: "A script from cdn.example.net appeared.",
		Risk:        notify.RiskHigh,
		Time:        time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("CET", 3600)),
		URL:         "https://console.example.com/incidents/123",
		Source:      "shop.example.com",
		Tags:        []string{"pci"},
		Details:     map[string]string{"script": "https://cdn.example.net/x.js"},
	}
}

func batchEvents(n int) []notify.Event {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	out := make([]notify.Event, n)
	for i := range out {
		out[i] = notify.Event{
			ID:     fmt.Sprintf("evt-%06d", i),
			Type:   notify.EventClientSideRisk,
			Title:  fmt.Sprintf("Risk %d", i),
			Risk:   notify.Risks[i%len(notify.Risks)],
			Time:   base.Add(time.Duration(n-i) * time.Minute),
			Source: "shop.example.com",
		}
	}
	return out
}

func eventJSON(t *testing.T, e notify.Event) string {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return string(b)
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

func TestValidate(t *testing.T) {
	require.NoError(t, validConfig(t).Validate())

	der := x509.MarshalPKCS1PrivateKey(testKey())
	pkcs1 := validConfig(t)
	pkcs1.ServiceAccountJSON = keyFile(t, map[string]any{
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))})
	require.NoError(t, pkcs1.Validate(), "PKCS#1 keys are accepted")

	minimal := validConfig(t)
	minimal.ServiceAccountJSON = keyFile(t, map[string]any{"token_uri": nil, "universe_domain": nil, "project_id": nil})
	minimal.Compression = gcs.CompressionGzip
	minimal.Prefix = ""
	require.NoError(t, minimal.Validate())

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))

	sa := "service_account_json"
	tests := []struct {
		testkit.ValidateCase[gcs.Config]
		want string // a phrase the field's message holds
	}{
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no name", Config: with(t, func(c *gcs.Config) { c.Name = "" }), Fields: []string{"name"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = "" }), Fields: []string{"bucket"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "short bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = "ab" }), Fields: []string{"bucket"}, Schema: true}, want: "at least 3"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "upper-case bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = "CD-alerts" }), Fields: []string{"bucket"}, Schema: true}, want: "lower-case"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "long bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = strings.Repeat("a", 64) }), Fields: []string{"bucket"}}, want: "at most 63"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "long dotted part", Config: with(t, func(c *gcs.Config) { c.Bucket = strings.Repeat("a", 64) + ".example.com" }), Fields: []string{"bucket"}}, want: "each dot-separated part"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "long dotted bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = strings.Repeat(strings.Repeat("a", 60)+".", 4) + "com" }), Fields: []string{"bucket"}}, want: "222"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "adjacent dots", Config: with(t, func(c *gcs.Config) { c.Bucket = "a..b" }), Fields: []string{"bucket"}}, want: "adjacent"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "IP bucket", Config: with(t, func(c *gcs.Config) { c.Bucket = "192.168.5.4" }), Fields: []string{"bucket"}}, want: "IP address"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "goog prefix", Config: with(t, func(c *gcs.Config) { c.Bucket = "goog-alerts" }), Fields: []string{"bucket"}}, want: "goog"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "google inside", Config: with(t, func(c *gcs.Config) { c.Bucket = "my-g00gle-alerts" }), Fields: []string{"bucket"}}, want: "google"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no key", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = "" }), Fields: []string{sa}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "masked key", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = notify.Redacted }), Fields: []string{sa}}, want: "mask"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "not JSON", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = "-----BEGIN PRIVATE KEY-----" }), Fields: []string{sa}}, want: "not valid JSON"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "a list", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = `["service_account"]` }), Fields: []string{sa}}, want: "JSON object"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "cut short", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = `{"type":"service_account"` }), Fields: []string{sa}}, want: "complete"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "two objects", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, nil) + "{}" }), Fields: []string{sa}}, want: "after the JSON object"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "huge", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = notify.Secret(strings.Repeat(" ", 70<<10)) }), Fields: []string{sa}}, want: "larger than"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "type not a string", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"type": 1}) }), Fields: []string{sa}}, want: "field type must be a JSON string"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "user credentials", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"type": "authorized_user"}) }), Fields: []string{sa + ".type"}}, want: `not "authorized_user"`},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "external account", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"type": "external_account"}) }), Fields: []string{sa + ".type"}}, want: "fetch URLs"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no type", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"type": nil}) }), Fields: []string{sa + ".type"}}, want: "missing"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no email", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"client_email": nil}) }), Fields: []string{sa + ".client_email"}}, want: "missing"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "bad email", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"client_email": "Alerts <alerts@x.iam.gserviceaccount.com>"})
		}), Fields: []string{sa + ".client_email"}}, want: "not an email address"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no key id", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key_id": nil}) }), Fields: []string{sa + ".private_key_id"}}, want: "missing"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "key id not hex", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key_id": "key-1"}) }), Fields: []string{sa + ".private_key_id"}}, want: "hexadecimal"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "no private key", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": nil}) }), Fields: []string{sa + ".private_key"}}, want: "missing"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "private key not PEM", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": "MIIEvQIBADANBg"})
		}), Fields: []string{sa + ".private_key"}}, want: "not a PEM block"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "private key garbage", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}))})
		}), Fields: []string{sa + ".private_key"}}, want: "does not parse"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "EC key", Config: with(t, func(c *gcs.Config) { c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": ecPEM}) }), Fields: []string{sa + ".private_key"}}, want: "not an RSA key"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "certificate", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}))})
		}), Fields: []string{sa + ".private_key"}}, want: `"CERTIFICATE" block`},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "encrypted key", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("x")}))})
		}), Fields: []string{sa + ".private_key"}}, want: "encrypted"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "two PEM blocks", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": pkcs8PEM(t) + pkcs8PEM(t)})
		}), Fields: []string{sa + ".private_key"}}, want: "one PEM block"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "foreign token_uri", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"token_uri": "https://attacker.example/token"})
		}), Fields: []string{sa + ".token_uri"}}, want: "must be https://oauth2.googleapis.com/token"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "metadata token_uri", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"token_uri": "http://169.254.169.254/token"})
		}), Fields: []string{sa + ".token_uri"}}, want: "refused"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "other universe", Config: with(t, func(c *gcs.Config) {
			c.ServiceAccountJSON = keyFile(t, map[string]any{"universe_domain": "example-universe.com"})
		}), Fields: []string{sa + ".universe_domain"}}, want: "googleapis.com"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "prefix with leading slash", Config: with(t, func(c *gcs.Config) { c.Prefix = "/alerts" }), Fields: []string{"prefix"}}, want: "start or end"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "prefix with //", Config: with(t, func(c *gcs.Config) { c.Prefix = "a//b" }), Fields: []string{"prefix"}}, want: "//"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "prefix with ..", Config: with(t, func(c *gcs.Config) { c.Prefix = "a/../b" }), Fields: []string{"prefix"}}, want: ".."},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "prefix with newline", Config: with(t, func(c *gcs.Config) { c.Prefix = "a\nb" }), Fields: []string{"prefix"}}, want: "letters, digits"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "long prefix", Config: with(t, func(c *gcs.Config) { c.Prefix = strings.Repeat("a", 513) }), Fields: []string{"prefix"}, Schema: true}, want: "512"},
		{ValidateCase: testkit.ValidateCase[gcs.Config]{Name: "bad compression", Config: with(t, func(c *gcs.Config) { c.Compression = "br" }), Fields: []string{"compression"}, Schema: true}, want: "gzip"},
	}
	cases := make([]testkit.ValidateCase[gcs.Config], len(tests))
	for i, tt := range tests {
		cases[i] = tt.ValidateCase
	}
	// The key under test too, unless the case replaced it with the mask.
	testkit.RunValidate(t, cases, func(c gcs.Config) []notify.Secret {
		return append(secrets(t, validConfig(t)), testkit.Unmasked(notify.Secret(ecPEM), c.ServiceAccountJSON)...)
	})
	for _, tt := range tests {
		t.Run(tt.Name+": message", func(t *testing.T) {
			err := tt.Config.Validate()
			var ve *notify.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Contains(t, ve.Fields[0].Message, tt.want)
			require.NotContains(t, err.Error(), "attacker.example", "the bad token_uri is not echoed")
		})
	}

	t.Run("every bad field at once", func(t *testing.T) {
		c := gcs.Config{Bucket: "x", Compression: "zip", ServiceAccountJSON: keyFile(t, map[string]any{
			"type": "user", "client_email": nil, "private_key": "x", "token_uri": "https://evil.example"})}
		var ve *notify.ValidationError
		require.ErrorAs(t, c.Validate(), &ve)
		for _, f := range []string{"name", "bucket", "compression", sa + ".type", sa + ".client_email", sa + ".private_key", sa + ".token_uri"} {
			require.True(t, ve.Has(f), "missing %s in %v", f, ve)
		}
	})
}

func TestNothingPrintsTheSecret(t *testing.T) {
	c := validConfig(t)
	n, err := gcs.New(c)
	require.NoError(t, err)
	defer n.Close()
	for _, v := range []any{c, &c, n} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			notifytest.AssertNoSecret(t, fmt.Sprintf(verb, v), secrets(t, c)...)
		}
	}
	require.Equal(t, `gcs("SOC archive")`, fmt.Sprint(n))
	b, err := json.Marshal(c)
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, secrets(t, c)...)
	require.Contains(t, string(b), `"service_account_json":"[REDACTED]"`)

	var back gcs.Config
	require.NoError(t, json.Unmarshal(b, &back))
	var ve *notify.ValidationError
	require.ErrorAs(t, back.Validate(), &ve, "a masked config sent back cannot replace the key")
	require.True(t, ve.Has("service_account_json"))
}

func TestNewWarnsOnOddClientEmail(t *testing.T) {
	c := validConfig(t)
	c.ServiceAccountJSON = keyFile(t, map[string]any{"client_email": "alerts@example.com"})
	logger, logs := notifytest.NewLogger()
	n, err := gcs.New(c, notify.WithLogger(logger))
	require.NoError(t, err)
	defer n.Close()
	require.Contains(t, logs.String(), "not a service account address")
	notifytest.AssertNoSecret(t, logs.String(), secrets(t, c)...)
}

func TestFromJSON(t *testing.T) {
	c := validConfig(t)
	raw, err := json.Marshal(map[string]any{"name": c.Name, "bucket": c.Bucket,
		"service_account_json": c.ServiceAccountJSON.Reveal(), "prefix": "alerts", "compression": "gzip"})
	require.NoError(t, err)
	n, err := gcs.FromJSON(raw)
	require.NoError(t, err)
	require.Equal(t, `gcs("SOC archive")`, fmt.Sprint(n))
	_, isBatch := n.(notify.BatchSender)
	require.True(t, isBatch)
	require.NoError(t, n.(*gcs.Notifier).Close())

	_, err = gcs.FromJSON(json.RawMessage(`{"name":"x","project_id":"p"}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("project_id"), "%v", err)

	_, err = gcs.FromJSON(json.RawMessage(`{"name":"x","service_account_json":{"type":"service_account"}}`))
	require.ErrorAs(t, err, &ve, "the key file is a string holding JSON")
	require.Contains(t, err.Error(), "must be a JSON string")
}

// api is an httpmock of Google's token endpoint and the GCS JSON API: it
// checks the token exchange (a JWT signed with the key from the config),
// checks the bearer token on every API call, and records every request.
type api struct {
	t    *testing.T
	mt   *httpmock.MockTransport
	mu   sync.Mutex
	seen []recorded
}

type recorded struct {
	req  *http.Request
	body []byte
}

func newAPI(t *testing.T, token httpmock.Responder, storage func(r *http.Request, body []byte) *http.Response) *api {
	a := &api{t: t, mt: httpmock.NewMockTransport()}
	if token == nil {
		token = a.goodToken
	}
	a.mt.RegisterResponder(http.MethodPost, tokenURL, a.record(func(r *http.Request, body []byte) (*http.Response, error) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return token(r)
	}))
	a.mt.RegisterNoResponder(a.record(func(r *http.Request, body []byte) (*http.Response, error) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			return httpmock.NewStringResponse(401, `{"error":{"code":401,"message":"Invalid Credentials"}}`), nil
		}
		return storage(r, body), nil
	}))
	return a
}

func (a *api) record(next func(r *http.Request, body []byte) (*http.Response, error)) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			body = b
		}
		a.mu.Lock()
		a.seen = append(a.seen, recorded{req: r, body: body})
		a.mu.Unlock()
		return next(r, body)
	}
}

func (a *api) requests() []recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]recorded(nil), a.seen...)
}

func (a *api) client() notify.Option {
	return notify.WithHTTPClient(&http.Client{Transport: a.mt})
}

// goodToken checks the JWT-bearer grant the way Google does, with the
// public half of the test key, and answers with testToken.
func (a *api) goodToken(r *http.Request) (*http.Response, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return httpmock.NewStringResponse(400, `{"error":"unsupported_grant_type"}`), nil
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		return httpmock.NewStringResponse(400, `{"error":"invalid_grant","error_description":"malformed"}`), nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&testKey().PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return httpmock.NewStringResponse(400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`), nil
	}
	claimsJSON, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims struct {
		Iss, Scope, Aud string
	}
	if err := json.Unmarshal(claimsJSON, &claims); err != nil {
		return nil, err
	}
	if claims.Iss != testEmail || claims.Aud != tokenURL || claims.Scope != "https://www.googleapis.com/auth/devstorage.read_write" {
		return httpmock.NewStringResponse(400, `{"error":"invalid_grant","error_description":"bad claims"}`), nil
	}
	return httpmock.NewStringResponse(200, `{"access_token":"`+testToken+`","token_type":"Bearer","expires_in":3600}`), nil
}

func jsonResponse(status int, body string) *http.Response {
	resp := httpmock.NewStringResponse(status, body)
	resp.Header.Set("Content-Type", "application/json; charset=UTF-8")
	return resp
}

func googleError(status int, reason, message string) *http.Response {
	return jsonResponse(status, fmt.Sprintf(`{"error":{"code":%d,"message":%q,"errors":[{"message":%q,"domain":"global","reason":%q}]}}`,
		status, message, message, reason))
}

func TestTestPermissions(t *testing.T) {
	permsURL := apiBase + "/storage/v1/b/cd-alerts/iam/testPermissions"
	tests := []struct {
		name   string
		answer func(r *http.Request, body []byte) *http.Response
		kind   error
		want   []string
	}{
		{"may create", func(*http.Request, []byte) *http.Response {
			return jsonResponse(200, `{"kind":"storage#testIamPermissionsResponse","permissions":["storage.objects.create"]}`)
		}, nil, nil},
		{"may not create", func(*http.Request, []byte) *http.Response {
			return jsonResponse(200, `{"kind":"storage#testIamPermissionsResponse"}`)
		}, notify.ErrForbidden, []string{"service account " + testEmail + " does not have storage.objects.create on bucket cd-alerts", "roles/storage.objectCreator"}},
		{"no bucket", func(*http.Request, []byte) *http.Response {
			return googleError(404, "notFound", "The specified bucket does not exist.")
		}, notify.ErrNotFound, []string{"status 404", "notFound: The specified bucket does not exist.", `bucket "cd-alerts" does not exist`}},
		{"forbidden", func(*http.Request, []byte) *http.Response {
			return googleError(403, "forbidden", "Request violates VPC Service Controls.")
		}, notify.ErrForbidden, []string{"VPC Service Controls"}},
		{"unavailable", func(*http.Request, []byte) *http.Response {
			return googleError(503, "backendError", "Backend Error")
		}, notify.ErrUnavailable, []string{"backendError"}},
		{"rate limited", func(*http.Request, []byte) *http.Response {
			resp := googleError(429, "rateLimitExceeded", "The rate of change requests is too high.")
			resp.Header.Set("Retry-After", "7")
			return resp
		}, notify.ErrRateLimited, []string{"slow down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, nil, tt.answer)
			logger, logs := notifytest.NewLogger()
			c := validConfig(t)
			n, err := gcs.New(c, a.client(), notify.WithLogger(logger))
			require.NoError(t, err)
			defer n.Close()
			err = n.Test(context.Background())

			reqs := a.requests()
			require.Len(t, reqs, 2, "a token, then one call: no retries behind notify.Retry's back")
			require.Equal(t, tokenURL, reqs[0].req.URL.String())
			r := reqs[1].req
			require.Equal(t, http.MethodGet, r.Method)
			require.Equal(t, permsURL, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
			require.Equal(t, []string{"storage.objects.create"}, r.URL.Query()["permissions"])
			require.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
			notifytest.AssertNoSecret(t, logs.String(), secrets(t, c)...)
			if tt.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.kind, "%v", err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			notifytest.AssertNoSecret(t, err, secrets(t, c)...)
		})
	}
	t.Run("rate limit carries Retry-After", func(t *testing.T) {
		a := newAPI(t, nil, func(*http.Request, []byte) *http.Response {
			resp := googleError(429, "rateLimitExceeded", "slow down")
			resp.Header.Set("Retry-After", "7")
			return resp
		})
		n, err := gcs.New(validConfig(t), a.client())
		require.NoError(t, err)
		err = n.Test(context.Background())
		require.True(t, notify.IsRetryable(err))
		require.Equal(t, 7*time.Second, notify.RetryAfterOf(err))
	})
}

func TestTestReport(t *testing.T) {
	const (
		pass = notify.CheckPassed
		fail = notify.CheckFailed
		skip = notify.CheckSkipped
	)
	badToken := func(r *http.Request) (*http.Response, error) {
		return jsonResponse(400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`), nil
	}
	tests := []struct {
		name     string
		token    httpmock.Responder
		answer   func(r *http.Request, body []byte) *http.Response
		statuses []notify.CheckStatus
		kind     error
	}{
		{"all proven", nil, func(*http.Request, []byte) *http.Response {
			return jsonResponse(200, `{"kind":"storage#testIamPermissionsResponse","permissions":["storage.objects.create"]}`)
		}, []notify.CheckStatus{pass, pass, pass}, nil},
		{"permission missing", nil, func(*http.Request, []byte) *http.Response {
			return jsonResponse(200, `{"kind":"storage#testIamPermissionsResponse"}`)
		}, []notify.CheckStatus{pass, pass, fail}, notify.ErrForbidden},
		{"no bucket", nil, func(*http.Request, []byte) *http.Response {
			return googleError(404, "notFound", "The specified bucket does not exist.")
		}, []notify.CheckStatus{pass, fail, skip}, notify.ErrNotFound},
		{"forbidden", nil, func(*http.Request, []byte) *http.Response {
			return googleError(403, "forbidden", "Request violates VPC Service Controls.")
		}, []notify.CheckStatus{pass, pass, fail}, notify.ErrForbidden},
		{"key refused", badToken, nil, []notify.CheckStatus{fail, skip, skip}, notify.ErrUnauthorized},
		{"key rejected by the API", nil, func(*http.Request, []byte) *http.Response {
			return googleError(401, "authError", "Invalid Credentials")
		}, []notify.CheckStatus{fail, skip, skip}, notify.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, tt.token, tt.answer)
			c := validConfig(t)
			n, err := gcs.New(c, a.client())
			require.NoError(t, err)
			defer n.Close()
			rep := n.TestReport(context.Background())
			var names []string
			var statuses []notify.CheckStatus
			for _, ch := range rep.Checks {
				names, statuses = append(names, ch.Name), append(statuses, ch.Status)
				require.NotEmpty(t, ch.Detail)
				notifytest.AssertNoSecret(t, ch.Detail, secrets(t, c)...)
			}
			require.Equal(t, []string{"key accepted", "bucket found", "may create objects"}, names)
			require.Equal(t, tt.statuses, statuses, "%+v", rep.Checks)
			if tt.kind == nil {
				require.NoError(t, rep.Err())
				require.NoError(t, n.Test(context.Background()))
				return
			}
			require.ErrorIs(t, rep.Err(), tt.kind)
			require.ErrorIs(t, n.Test(context.Background()), tt.kind, "Test is TestReport(ctx).Err()")
			notifytest.AssertNoSecret(t, rep.Err(), secrets(t, c)...)
		})
	}
}

func TestTokenRefused(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(otherKey)
	require.NoError(t, err)
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))

	a := newAPI(t, nil, func(*http.Request, []byte) *http.Response {
		t.Error("no API call without a token")
		return jsonResponse(500, "{}")
	})
	c := validConfig(t)
	c.ServiceAccountJSON = keyFile(t, map[string]any{"private_key": otherPEM}) // not the key Google knows
	logger, logs := notifytest.NewLogger()
	n, err := gcs.New(c, a.client(), notify.WithLogger(logger))
	require.NoError(t, err)

	for _, run := range []func() error{
		func() error { return n.Test(context.Background()) },
		func() error { _, err := n.Send(context.Background(), testEvent()); return err },
	} {
		err := run()
		require.ErrorIs(t, err, notify.ErrUnauthorized, "%v", err)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "invalid_grant")
		require.Contains(t, err.Error(), "refused the key of "+testEmail)
		notifytest.AssertNoSecret(t, err, append(secrets(t, c), notify.Secret(otherPEM))...)
	}
	notifytest.AssertNoSecret(t, logs.String(), append(secrets(t, c), notify.Secret(otherPEM))...)
}

// upload is one multipart upload as GCS receives it.
type upload struct {
	query url.Values
	meta  map[string]any
	media []byte
}

func parseUpload(t *testing.T, r recorded) upload {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.req.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	metaPart, err := mr.NextPart()
	require.NoError(t, err)
	require.Equal(t, "application/json", metaPart.Header.Get("Content-Type"))
	var u upload
	require.NoError(t, json.NewDecoder(metaPart).Decode(&u.meta))
	mediaPart, err := mr.NextPart()
	require.NoError(t, err)
	u.media, err = io.ReadAll(mediaPart)
	require.NoError(t, err)
	u.query = r.req.URL.Query()
	return u
}

// stored answers an upload as GCS does: it refuses a body whose CRC32C is
// not the one declared, and describes the stored object, named name.
func stored(name string) func(*http.Request, []byte) *http.Response {
	return func(r *http.Request, body []byte) *http.Response {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/related" {
			return googleError(400, "invalid", "not a multipart upload")
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		var meta struct{ Crc32c string }
		part, err := mr.NextPart()
		if err == nil {
			err = json.NewDecoder(part).Decode(&meta)
		}
		var media []byte
		if err == nil {
			part, err = mr.NextPart()
		}
		if err == nil {
			media, err = io.ReadAll(part)
		}
		if err != nil {
			return googleError(400, "invalid", "bad multipart body")
		}
		if meta.Crc32c != crc32c(media) {
			return googleError(400, "invalid", "Provided CRC32C does not match calculated CRC32C.")
		}
		return jsonResponse(200, fmt.Sprintf(`{"kind":"storage#object","bucket":"cd-alerts","name":%q,"generation":"1767393000000000","crc32c":%q}`,
			name, meta.Crc32c))
	}
}

func crc32c(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestSendRequest(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			key := "alerts/2026/01/02/evt-123.json"
			c := validConfig(t)
			if gz {
				c.Compression = gcs.CompressionGzip
				key += ".gz"
			}
			a := newAPI(t, nil, stored(key))
			n, err := gcs.New(c, a.client(), notify.WithUserAgent("cd-test/2"))
			require.NoError(t, err)
			e := testEvent()
			rc, err := n.Send(context.Background(), e)
			require.NoError(t, err)
			require.Equal(t, notify.Receipt{ID: key, URL: "gs://cd-alerts/" + key}, rc)

			reqs := a.requests()
			require.Len(t, reqs, 2)
			r := reqs[1]
			require.Equal(t, http.MethodPost, r.req.Method)
			require.Equal(t, apiBase+"/upload/storage/v1/b/cd-alerts/o", r.req.URL.Scheme+"://"+r.req.URL.Host+r.req.URL.Path)
			require.Equal(t, "Bearer "+testToken, r.req.Header.Get("Authorization"))
			require.Contains(t, r.req.Header.Get("User-Agent"), "cd-test/2")
			u := parseUpload(t, r)
			require.Equal(t, "multipart", u.query.Get("uploadType"))
			require.Equal(t, "0", u.query.Get("ifGenerationMatch"), "written only if it does not exist")
			require.Equal(t, key, u.meta["name"])
			require.Equal(t, "cd-alerts", u.meta["bucket"])
			require.Equal(t, "application/json", u.meta["contentType"])
			require.Equal(t, crc32c(u.media), u.meta["crc32c"], "the checksum goes with the upload")
			body := u.media
			if gz {
				require.Equal(t, "gzip", u.meta["contentEncoding"])
				body = gunzip(t, body)
			} else {
				require.Nil(t, u.meta["contentEncoding"])
			}
			require.JSONEq(t, eventJSON(t, e), string(body))
			require.Contains(t, string(body), "<injected> on checkout & cart")
		})
	}
}

func TestSendResolvedIsItsOwnObject(t *testing.T) {
	const key = "alerts/2026/01/02/evt-123-resolved.json"
	a := newAPI(t, nil, stored(key))
	n, err := gcs.New(validConfig(t), a.client())
	require.NoError(t, err)
	rc, err := n.Send(context.Background(), testkit.Resolved(testEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: key, URL: "gs://cd-alerts/" + key}, rc)

	reqs := a.requests()
	require.Len(t, reqs, 2, "the token, then one upload")
	u := parseUpload(t, reqs[1])
	require.Equal(t, key, u.meta["name"], "beside the open record, which is never touched")
	require.Equal(t, "0", u.query.Get("ifGenerationMatch"))
	require.JSONEq(t, `{"id":"evt-123","type":"incident","title":"New script <injected> on checkout & cart",
		"description":"A script from cdn.example.net appeared.","risk":"high","time":"2026-01-02T23:30:00+01:00",
		"url":"https://console.example.com/incidents/123","source":"shop.example.com","tags":["pci"],
		"details":{"script":"https://cdn.example.net/x.js"},"status":"resolved"}`, string(u.media))
}

func TestSendReceiptIsWhatGCSStored(t *testing.T) {
	a := newAPI(t, nil, stored("alerts/2026/01/02/evt-123.json"))
	n, err := gcs.New(validConfig(t), a.client())
	require.NoError(t, err)
	rc, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, "alerts/2026/01/02/evt-123.json", rc.ID)

	b := newAPI(t, nil, stored("renamed-by-a-proxy.json"))
	n, err = gcs.New(validConfig(t), b.client())
	require.NoError(t, err)
	rc, err = n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, "renamed-by-a-proxy.json", rc.ID, "the receipt is GCS's answer, not the input")

	// GCS's answer is server data: scrubbed of the key, on one line, bounded.
	c := validConfig(t)
	hostile := "a\r\nb" + pkcs8PEM(t) + strings.Repeat("x", 5000)
	d := newAPI(t, nil, stored(hostile))
	n, err = gcs.New(c, d.client())
	require.NoError(t, err)
	rc, err = n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.NotContains(t, rc.ID, "\n")
	require.True(t, strings.HasPrefix(rc.ID, "ab"), rc.ID[:10])
	require.LessOrEqual(t, len([]rune(rc.ID)), 1024)
	require.LessOrEqual(t, len([]rune(rc.URL)), 2048)
	notifytest.AssertNoSecret(t, rc.ID, secrets(t, c)...)
	notifytest.AssertNoSecret(t, rc.URL, secrets(t, c)...)
}

func TestSendAlreadyWritten(t *testing.T) {
	a := newAPI(t, nil, func(*http.Request, []byte) *http.Response {
		return googleError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")
	})
	logger, logs := notifytest.NewLogger()
	n, err := gcs.New(validConfig(t), a.client(), notify.WithLogger(logger))
	require.NoError(t, err)
	rc, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err, "412 on a does-not-exist write means a retry found it written")
	require.Equal(t, "alerts/2026/01/02/evt-123.json", rc.ID)
	require.Contains(t, logs.String(), "already written")

	rcs, err := n.SendBatch(context.Background(), batchEvents(3))
	require.NoError(t, err)
	require.Len(t, rcs, 3)
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    *http.Response
		kind      error
		retryable bool
		want      string
	}{
		{"no permission", googleError(403, "forbidden", "alerts@cd-project.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object."),
			notify.ErrForbidden, false, "grant it roles/storage.objectCreator"},
		{"no bucket", googleError(404, "notFound", "The specified bucket does not exist."), notify.ErrNotFound, false, `bucket "cd-alerts" does not exist`},
		{"revoked", googleError(401, "authError", "Invalid Credentials"), notify.ErrUnauthorized, false, "Create a new key"},
		{"rate limited", googleError(429, "rateLimitExceeded", "Too many requests"), notify.ErrRateLimited, true, "slow down"},
		{"backend", googleError(503, "backendError", "Backend Error"), notify.ErrUnavailable, true, "backendError"},
		{"bad request", googleError(400, "invalid", "Invalid argument."), notify.ErrRejected, false, "invalid: Invalid argument."},
		{"echoes the key", googleError(400, "invalid", "bad key "+strings.ReplaceAll(pkcs8PEM(t), "\n", " ")), notify.ErrRejected, false, "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, nil, func(*http.Request, []byte) *http.Response { return tt.answer })
			logger, logs := notifytest.NewLogger()
			c := validConfig(t)
			n, err := gcs.New(c, a.client(), notify.WithLogger(logger))
			require.NoError(t, err)
			_, err = n.Send(context.Background(), testEvent())
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.ErrorIs(t, err, tt.kind, "%v", err)
			require.Equal(t, tt.retryable, notify.IsRetryable(err), "%v", err)
			require.Equal(t, tt.answer.StatusCode, e.StatusCode)
			require.Equal(t, "send: insert alerts/2026/01/02/evt-123.json", e.Op)
			require.Contains(t, err.Error(), tt.want)
			require.Len(t, a.requests(), 2, "one upload: the storage library's retries are off")
			notifytest.AssertNoSecret(t, err, secrets(t, c)...)
			notifytest.AssertNoSecret(t, logs.String(), secrets(t, c)...)
		})
	}
}

func TestSendRefusesInvalidEventsOffline(t *testing.T) {
	a := newAPI(t, nil, stored("x"))
	n, err := gcs.New(validConfig(t), a.client())
	require.NoError(t, err)

	bad := testEvent()
	bad.Risk = "severe"
	_, err = n.Send(context.Background(), bad)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("risk"))

	far := testEvent()
	far.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = n.Send(context.Background(), far)
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("time"))

	_, err = n.SendBatch(context.Background(), []notify.Event{bad, testEvent()})
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("events[0].risk"), "%v", err)

	rcs, err := n.SendBatch(context.Background(), []notify.Event{})
	require.NoError(t, err)
	require.Empty(t, rcs)
	require.Empty(t, a.requests(), "not even a token was fetched")
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		a := newAPI(t, nil, stored("x"))
		n, err := gcs.New(validConfig(t), a.client())
		require.NoError(t, err)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err = n.Send(ctx, testEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable, "%v", err)
		require.True(t, notify.IsRetryable(err), "%v", err)
	})
	t.Run("transport failure", func(t *testing.T) {
		a := newAPI(t, nil, nil)
		a.mt.RegisterNoResponder(httpmock.NewErrorResponder(fmt.Errorf("connection reset by peer")))
		c := validConfig(t)
		n, err := gcs.New(c, a.client())
		require.NoError(t, err)
		_, err = n.Send(context.Background(), testEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable, "%v", err)
		require.True(t, notify.IsRetryable(err))
		notifytest.AssertNoSecret(t, err, secrets(t, c)...)
	})
}

func TestEmulatorVariableIsIgnored(t *testing.T) {
	// STORAGE_EMULATOR_HOST is process-wide: it must not send one tenant's
	// alerts, unauthenticated, somewhere else.
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	key := "alerts/2026/01/02/evt-123.json"
	a := newAPI(t, nil, stored(key))
	n, err := gcs.New(validConfig(t), a.client())
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	reqs := a.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "storage.googleapis.com", reqs[1].req.URL.Host)
	require.Equal(t, "Bearer "+testToken, reqs[1].req.Header.Get("Authorization"))
}

// endlessPeer is a loopback TLS server that every host resolves to (the
// client dials it whatever the URL says): Google's token endpoint answers
// with a token unless endlessToken, and every other request, and the token
// endpoint when endlessToken, gets a body that never ends.
type endlessPeer struct {
	srv     *httptest.Server
	written atomic.Int64
}

func startEndlessPeer(t *testing.T, status int, endlessToken bool) *endlessPeer {
	p := &endlessPeer{}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Host == "oauth2.googleapis.com" && !endlessToken {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"`+testToken+`","token_type":"Bearer","expires_in":3600}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		chunk := []byte(`{"error":{"message":"` + strings.Repeat("x", 32<<10))
		for p.written.Load() < 1<<30 && r.Context().Err() == nil {
			n, err := w.Write(chunk)
			p.written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// client dials the peer for every host, trusting its certificate under the
// name example.com (the names httptest's certificate holds).
func (p *endlessPeer) client() *http.Client {
	tr := p.srv.Client().Transport.(*http.Transport).Clone()
	addr := p.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr}
}

func TestEveryReadFromGoogleIsBounded(t *testing.T) {
	for _, tt := range []struct {
		name         string
		status       int
		endlessToken bool
	}{
		{"endless error body", http.StatusInternalServerError, false},
		{"endless success body", http.StatusOK, false},
		{"endless token answer", http.StatusOK, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startEndlessPeer(t, tt.status, tt.endlessToken)
			c := validConfig(t)
			n, err := gcs.New(c, notify.WithHTTPClient(p.client()), notify.WithTimeout(20*time.Second))
			require.NoError(t, err)
			defer n.Close()
			for _, op := range []func() error{
				func() error { return n.Test(context.Background()) },
				func() error { _, err := n.Send(context.Background(), testEvent()); return err },
			} {
				start := time.Now()
				err := op()
				require.Error(t, err)
				require.NotErrorIs(t, err, context.DeadlineExceeded, "stopped by the bound, not by the timeout: %v", err)
				require.Less(t, time.Since(start), 10*time.Second)
				notifytest.AssertNoSecret(t, err, secrets(t, c)...)
			}
			// What the server managed to write before the client stopped
			// reading: the bound plus what socket buffers hold, never the GiB.
			require.Less(t, p.written.Load(), int64(64<<20))
		})
	}
}

func TestCloseContract(t *testing.T) {
	a := newAPI(t, nil, stored("alerts/2026/01/02/evt-123.json"))
	c := validConfig(t)
	n, err := gcs.New(c, a.client())
	require.NoError(t, err)
	_, err = n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.FullEvent(), func() int { return len(a.requests()) }, secrets(t, c)...)
	_, err = n.SendBatch(context.Background(), batchEvents(2))
	require.ErrorContains(t, err, "closed")
}

// with returns the valid config changed by change.
func with(t testing.TB, change func(*gcs.Config)) gcs.Config {
	c := validConfig(t)
	change(&c)
	return c
}
