package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// configType is one integration type as the fuzzers feed it.
type configType struct {
	typ     string
	factory notify.Factory
	// valid is a full valid config: every field the console offers, set.
	valid func() map[string]any
	// secretKeys are the JSON keys, at any depth, whose string values are
	// credentials that no error may repeat.
	secretKeys []string
}

// fuzzRelay is the operator's relay every email integration is built with.
var fuzzRelay = email.Relay{Host: "smtp.example.com", Port: 587, Username: "alerts",
	Password: "smtp-quality-password-0123456789", TLS: email.TLSStartTLS, From: "Code Defender <alerts@example.com>"}

// buildOpts are what integrations.Build is given here: the relay, for email
// alone.
var buildOpts = []notify.Option{notify.ForType(email.Type, email.WithRelay(fuzzRelay))}

// emailWithRelay is email's factory with the relay.
func emailWithRelay(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return email.FromJSON(raw, append([]notify.Option{email.WithRelay(fuzzRelay)}, opts...)...)
}

var configTypes = []configType{
	{
		typ: slack.Type, factory: slack.FromJSON, secretKeys: []string{"webhook_url"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC Slack", "webhook_url": slackURL, "channel": "#security-alerts"}
		},
	},
	{
		// The console's email form holds no credential: the relay's
		// password is the operator's, given with WithRelay.
		typ: email.Type, factory: emailWithRelay,
		valid: func() map[string]any {
			return map[string]any{"name": "SOC mail", "to": []any{"SOC Team <soc@example.com>", "oncall@example.com"}}
		},
	},
	{
		typ: jira.Type, factory: jira.FromJSON, secretKeys: []string{"api_token"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC Jira", "url": "https://acme.atlassian.net/rest/api/2/issue/",
				"project_id": "10000", "api_token": jiraToken, "reporter_email": jiraEmail,
				"issue_type": "Bug", "priority_from_risk": true}
		},
	},
	{
		typ: datadog.Type, factory: datadog.FromJSON, secretKeys: []string{"application_key", "api_key"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC Datadog", "url": "https://api.datadoghq.eu/api/v2/incidents",
				"application_key": datadogAppKey, "api_key": datadogAPIKey}
		},
	},
	{
		typ: pagerduty.Type, factory: pagerduty.FromJSON, secretKeys: []string{"api_key"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC PagerDuty", "webhook_url": pagerduty.EventsURL, "api_key": pagerdutyKey}
		},
	},
	{
		typ: splunk.Type, factory: splunk.FromJSON, secretKeys: []string{"api_token"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC Splunk", "url": "https://http-inputs-acme.splunkcloud.com/services/collector",
				"api_token": splunkToken, "index": "security"}
		},
	},
	{
		typ: gcs.Type, factory: gcs.FromJSON, secretKeys: []string{"service_account_json", "private_key"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC archive", "bucket": "cd-alerts", "service_account_json": serviceAccountJSON(),
				"prefix": "alerts", "compression": "gzip"}
		},
	},
	{
		typ: s3.Type, factory: s3.FromJSON, secretKeys: []string{"secret_access_key"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC archive", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
				"secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "region": "eu-west-1",
				"bucket": "cd-alerts", "prefix": "alerts", "compression": "gzip",
				"endpoint": "https://s3.example.com", "path_style": true}
		},
	},
	{
		typ: opsgenie.Type, factory: opsgenie.FromJSON, secretKeys: []string{"api_key"},
		valid: func() map[string]any {
			return map[string]any{"name": "SOC Opsgenie", "url": opsgenie.AlertsURLEU,
				"team_id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "api_key": opsgenieKey}
		},
	},
	{
		typ: webhook.Type, factory: webhook.FromJSON,
		secretKeys: []string{"url", "client_key", "signing_secret", "value"},
		valid: func() map[string]any {
			cert, key := clientCertificate()
			return map[string]any{
				"name": "SOC webhook", "url": "https://hooks.example.com" + webhookURLPath, "method": "PUT",
				"protocol": "tls", "client_cert": cert, "client_key": key, "ca_cert": string(testPKI().caPEM),
				"body_pattern":   `{"text": {{json .Title}}, "risk": {{json .Risk}}, "tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}]}`,
				"headers":        []any{map[string]any{"name": "Authorization", "value": "Bearer " + webhookBearer}},
				"signing_secret": webhookSigningSecret,
				"events":         []any{"pci_scope_change", "client_side_risk", "incident"},
			}
		},
	},
}

// serviceAccountJSON is a service-account key file as Google issues it,
// with a freshly made RSA key.
var serviceAccountJSON = sync.OnceValue(func() string {
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	der := must(x509.MarshalPKCS8PrivateKey(key))
	b := must(json.MarshalIndent(map[string]string{
		"type":            "service_account",
		"project_id":      "cd-project",
		"private_key_id":  "0123456789abcdef0123456789abcdef01234567",
		"private_key":     string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":    "alerts@cd-project.iam.gserviceaccount.com",
		"client_id":       "112233445566778899",
		"token_uri":       "https://oauth2.googleapis.com/token",
		"universe_domain": "googleapis.com",
	}, "", "  "))
	return string(b)
})

// clientCertificate is a client certificate and its PKCS#8 key, as PEM.
var clientCertificate = sync.OnceValues(func() (string, string) {
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "codedefender-webhook-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	keyDER := must(x509.MarshalPKCS8PrivateKey(key))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
})

// brokenSeeds derives broken configs from a valid one: the generic
// failures, and for each top-level field its absence, a value of the wrong
// JSON type, the [REDACTED] mask, a line break and an overlong value.
func brokenSeeds(valid map[string]any) [][]byte {
	full := must(json.Marshal(valid))
	seeds := [][]byte{
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`""`), []byte(``), []byte(`{"name":"x"}`),
		full[:len(full)/2],                        // cut short
		append(append([]byte(nil), full...), '{'), // trailing data
		[]byte(`{"name":` + strings.Repeat("[", 20000) + `}`),
		[]byte("{\"name\":\"\xff\xfe\"}"),
		[]byte(`{"name":"SOC","name":"SOC2"}`),
	}
	with := func(k string, v any) []byte {
		m := make(map[string]any, len(valid)+1)
		for kk, vv := range valid {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return must(json.Marshal(m))
	}
	seeds = append(seeds, with("unknown_field", true))
	for k := range valid {
		seeds = append(seeds,
			with(k, nil),
			with(k, 12345),
			with(k, []any{"a"}),
			with(k, notify.Redacted),
			with(k, "line\r\nbreak"),
			with(k, strings.Repeat("x", 5000)),
			with(k, json.Number("1e400")), // a number no Go type holds
		)
	}
	return seeds
}

// stringsIn collects every string of a decoded JSON value, with the key it
// sits under ("" in a list), recursing into a string that is itself a JSON
// object (a service account key file).
func stringsIn(v any, key string, visit func(key, s string)) {
	switch x := v.(type) {
	case string:
		visit(key, x)
		var inner map[string]any
		if strings.HasPrefix(strings.TrimSpace(x), "{") && json.Unmarshal([]byte(x), &inner) == nil {
			stringsIn(inner, "", visit)
		}
	case map[string]any:
		for k, vv := range x {
			visit("", k)
			stringsIn(vv, k, visit)
		}
	case []any:
		for _, vv := range x {
			stringsIn(vv, key, visit)
		}
	}
}

// secretsOf returns the credentials of a config that appear nowhere else in
// it and are long enough to stand out: those an error must not repeat.
func secretsOf(data []byte, keys []string) []notify.Secret {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	isSecret := map[string]bool{}
	for _, k := range keys {
		isSecret[k] = true
	}
	var secrets, others []string
	stringsIn(v, "", func(key, s string) {
		if isSecret[key] {
			secrets = append(secrets, s)
		} else {
			others = append(others, s)
		}
	})
	var out []notify.Secret
	for _, s := range secrets {
		if len(s) < 16 || s == notify.Redacted {
			continue
		}
		elsewhere := false
		for _, o := range others {
			if strings.Contains(o, s) {
				elsewhere = true
			}
		}
		if !elsewhere {
			out = append(out, notify.Secret(s))
		}
	}
	return out
}

// replaced returns data with every string equal to s (and every copy of s
// inside a string) replaced by a run of Z of the same length.
func replaced(data []byte, s string) []byte {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return data
	}
	marker := strings.Repeat("Z", len(s))
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return strings.ReplaceAll(x, s, marker)
		case map[string]any:
			for k, vv := range x {
				x[k] = walk(vv)
			}
		case []any:
			for i, vv := range x {
				x[i] = walk(vv)
			}
		}
		return v
	}
	return must(json.Marshal(walk(v)))
}

// leaked returns the credentials of data that err repeats. A credential the
// error still holds when it is replaced by another value is part of the
// message's own text (the fuzzer learns strings such as
// "rest/api/2/issue"), not a leak.
func leaked(ct configType, data []byte, err error) []notify.Secret {
	var out []notify.Secret
	for _, s := range secretsOf(data, ct.secretKeys) {
		text := fmt.Sprintf("%v %+v %#v", err, err, err)
		if !strings.Contains(text, s.Reveal()) {
			continue
		}
		n, err2 := ct.factory(replaced(data, s.Reveal()))
		if n != nil {
			closeNotifier(n)
		}
		if err2 == nil || !strings.Contains(fmt.Sprintf("%v %+v %#v", err2, err2, err2), s.Reveal()) {
			out = append(out, s)
		}
	}
	return out
}

// checkBuilt is the invariant of every config decoder: a Notifier or an
// error, never both nor neither; a built Notifier validates, has its type,
// and prints no secret; an error repeats no credential.
func checkBuilt(t *testing.T, ct configType, data []byte, n notify.Notifier, err error) {
	t.Helper()
	require.True(t, (n == nil) != (err == nil), "exactly one of a notifier and an error: %v, %v", n, err)
	if err != nil {
		for _, s := range leaked(ct, data, err) {
			notifytest.AssertNoSecret(t, err, s)
		}
		notifytest.AssertNoSecret(t, err, fuzzRelay.Password)
		return
	}
	defer closeNotifier(n)
	require.NoError(t, n.Validate(), "what New accepts, Validate accepts")
	named, ok := n.(notify.Named)
	require.True(t, ok, "a destination notifier is notify.Named")
	require.Equal(t, ct.typ, named.Type())
	notifytest.AssertNoSecret(t, fmt.Sprintf("%v %+v %#v %s", n, n, n, n), secretsOf(data, ct.secretKeys)...)
	notifytest.AssertNoSecret(t, fmt.Sprintf("%v %+v %#v %s", n, n, n, n), fuzzRelay.Password)
}

func fuzzConfig(f *testing.F, typ string) {
	var ct configType
	for _, c := range configTypes {
		if c.typ == typ {
			ct = c
		}
	}
	require.NotEmpty(f, ct.typ)
	f.Add(must(json.Marshal(ct.valid())))
	for _, s := range brokenSeeds(ct.valid()) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ct.factory(data)
		checkBuilt(t, ct, data, n, err)
		if !json.Valid(data) {
			return
		}
		// The same config through the root package's Build: the same
		// outcome.
		envelope := must(json.Marshal(notify.Integration{Type: typ, Config: data}))
		n2, err2 := integrations.Build(envelope, buildOpts...)
		checkBuilt(t, ct, data, n2, err2)
		require.Equal(t, err == nil, err2 == nil, "FromJSON and integrations.Build agree: %v / %v", err, err2)
	})
}

// One fuzz target per destination: go test runs their seed corpora;
// go test -fuzz FuzzConfigSlack (one at a time) explores further.

func FuzzConfigSlack(f *testing.F)     { fuzzConfig(f, slack.Type) }
func FuzzConfigEmail(f *testing.F)     { fuzzConfig(f, email.Type) }
func FuzzConfigJira(f *testing.F)      { fuzzConfig(f, jira.Type) }
func FuzzConfigDatadog(f *testing.F)   { fuzzConfig(f, datadog.Type) }
func FuzzConfigPagerDuty(f *testing.F) { fuzzConfig(f, pagerduty.Type) }
func FuzzConfigSplunk(f *testing.F)    { fuzzConfig(f, splunk.Type) }
func FuzzConfigGCS(f *testing.F)       { fuzzConfig(f, gcs.Type) }
func FuzzConfigS3(f *testing.F)        { fuzzConfig(f, s3.Type) }
func FuzzConfigOpsgenie(f *testing.F)  { fuzzConfig(f, opsgenie.Type) }
func FuzzConfigWebhook(f *testing.F)   { fuzzConfig(f, webhook.Type) }

// FuzzBuild feeds whole stored integrations ({"type", "config"}) of every
// type to integrations.Build.
func FuzzBuild(f *testing.F) {
	for _, ct := range configTypes {
		f.Add(must(json.Marshal(map[string]any{"type": ct.typ, "config": ct.valid()})))
		f.Add(must(json.Marshal(map[string]any{"type": ct.typ, "config": map[string]any{}})))
		f.Add(must(json.Marshal(map[string]any{"type": strings.ToUpper(ct.typ), "config": ct.valid()})))
	}
	f.Add([]byte(`{"type":"slack"}`))
	f.Add([]byte(`{"type":"slack","config":null,"extra":1}`))
	f.Add([]byte(`{"type":1,"config":"x"}`))
	f.Add([]byte(`[{"type":"slack","config":{}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := integrations.Build(data, buildOpts...)
		require.True(t, (n == nil) != (err == nil), "exactly one of a notifier and an error")
		if n != nil {
			closeNotifier(n)
		}
	})
}

// TestValidSeedsBuild keeps the fuzzers honest: each full valid seed builds,
// so the broken ones around it test what they mean to.
func TestValidSeedsBuild(t *testing.T) {
	require.Len(t, configTypes, len(integrations.Types()), "one config type per destination")
	for _, ct := range configTypes {
		t.Run(ct.typ, func(t *testing.T) {
			data := must(json.Marshal(ct.valid()))
			n, err := ct.factory(data)
			require.NoError(t, err)
			closeNotifier(n)
			if len(ct.secretKeys) > 0 {
				require.NotEmpty(t, secretsOf(data, ct.secretKeys), "the seed has credentials to look for")
			}
		})
	}
}
