// Package playground runs a fake of each of the ten destinations inside the
// calling process, listening on 127.0.0.1 only, so that the examples work on
// a machine with no credentials and no network:
//
//   - Slack, PagerDuty, Opsgenie, Jira, Datadog, Splunk and the webhook:
//     notifytest.Server. The configurations keep their production URLs
//     (hooks.slack.com, events.pagerduty.com, …); the server's client routes
//     them to the fake, which accepts only the credentials written in
//     Integrations and verifies the webhook's signature.
//   - S3: gofakes3 with an in-memory backend, reached through the config's
//     endpoint (http://127.0.0.1:port) with path-style addressing. It checks
//     the access key ID and region of each request, not the signature.
//   - GCS: fake-gcs-server, handed to the gcs package with
//     gcs.WithStorageClient. The emulator has no IAM, so the playground
//     answers the testPermissions call that gcs's Test makes: the service
//     account may do anything in the buckets that exist.
//   - Email: an SMTP server (emersion/go-smtp) offering STARTTLS with a
//     certificate made at start, and AUTH PLAIN only inside TLS.
//
// Start returns a Playground whose Integrations field is the JSON the console
// stores for all ten, pointing at the fakes; Options are what
// integrations.BuildAll needs to reach them. Close stops everything and
// leaves no goroutine behind.
package playground

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"

	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// The playground's made-up credentials, each in the shape its destination
// issues. The fakes accept these and refuse any other.
const (
	slackWebhookURL = "https://hooks.slack.com/services/T0PLAYGRND/B0PLAYGRND/PlaygroundWebhookToken1"
	pagerDutyKey    = "PlaygroundRoutingKey000000000001" // 32 characters, as an Events API v2 integration key
	opsgenieKey     = "3b5f8c1e-7d2a-4f6b-9c0e-1a2b3c4d5e6f"
	opsgenieTeam    = "8c2d4e6f-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
	jiraEmail       = "secops@example.com"
	jiraToken       = "ATATT3xFfGF0-playground-api-token"
	datadogAPIKey   = "0123456789abcdef0123456789abcdef"         // 32 hex digits
	datadogAppKey   = "fedcba9876543210fedcba9876543210fedcba98" // 40 hex digits
	splunkToken     = "5c3f2a1b-0d9e-4f8a-b7c6-d5e4f3a2b1c0"
	splunkIndex     = "security"
	webhookAuth     = "Bearer playground-webhook-token"
	// webhookSecret is a Standard Webhooks secret: whsec_ and the base64 of
	// 32 bytes ("playground-webhook-signing-key!!").
	webhookSecret = "whsec_cGxheWdyb3VuZC13ZWJob29rLXNpZ25pbmcta2V5ISE="
	s3KeyID       = "PLAYGROUNDKEY0001"
	s3Secret      = "playground/secret/access/key/0000000000"
	s3Region      = "us-east-1"
	smtpUser      = "alerts@example.com"
	smtpPassword  = "playground-smtp-password"

	// Bucket is the bucket the S3 and GCS fakes hold.
	Bucket = "cd-alerts"
	// Prefix is the object key prefix of the storage integrations.
	Prefix = "alerts"
	// gcsAccount is the client_email of the generated service account key.
	gcsAccount = "alerts@playground-project.iam.gserviceaccount.com"
)

// Playground is a running set of fakes for the ten destinations.
type Playground struct {
	// Integrations is the console's stored form of one integration per
	// destination, a JSON list of {"type", "config"}, with the fakes'
	// addresses and credentials filled in.
	Integrations []byte
	// HTTP is the fake of the seven HTTP destinations: Inject a fault, or
	// read what it was sent (RequestsTo, JiraIssues, SplunkEvents, …).
	HTTP *fakes.Server

	s3   *s3Store
	gcs  *gcsStore
	mail *mailServer

	all       []notify.Option
	byType    map[string][]notify.Option
	secrets   []notify.Secret
	closeOnce sync.Once
}

// Start starts every fake. On error, whatever had started is stopped again.
func Start() (_ *Playground, err error) {
	p := &Playground{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.HTTP, err = fakes.StartServer(); err != nil {
		return nil, fmt.Errorf("playground: HTTP fakes: %w", err)
	}
	if p.s3, err = startS3(s3KeyID, s3Region, Bucket); err != nil {
		return nil, fmt.Errorf("playground: S3 store: %w", err)
	}
	if p.gcs, err = startGCS(Bucket); err != nil {
		return nil, fmt.Errorf("playground: GCS emulator: %w", err)
	}
	if p.mail, err = startMail(smtpUser, smtpPassword); err != nil {
		return nil, fmt.Errorf("playground: SMTP server: %w", err)
	}
	saJSON, saKeyPEM, err := serviceAccountKey()
	if err != nil {
		return nil, fmt.Errorf("playground: service account key: %w", err)
	}

	p.expectCredentials()
	if err := p.HTTP.SetWebhookSecret(webhookSecret); err != nil {
		return nil, fmt.Errorf("playground: webhook secret: %w", err)
	}
	p.HTTP.SetSplunkIndexes(splunkIndex)

	p.Integrations, err = p.integrations(saJSON)
	if err != nil {
		return nil, fmt.Errorf("playground: %w", err)
	}
	p.secrets = []notify.Secret{slackWebhookURL, pagerDutyKey, opsgenieKey, jiraToken, datadogAPIKey, datadogAppKey,
		splunkToken, webhookAuth, webhookSecret, s3Secret, smtpPassword, notify.Secret(saJSON), notify.Secret(saKeyPEM)}
	p.options()
	return p, nil
}

// expectCredentials makes each HTTP fake accept only the playground's
// credentials, so that a config edited by mistake fails as it would at the
// vendor.
func (p *Playground) expectCredentials() {
	p.HTTP.ExpectCredentials(notifytest.Slack, slackWebhookURL)
	p.HTTP.ExpectCredentials(notifytest.PagerDuty, pagerDutyKey)
	p.HTTP.ExpectCredentials(notifytest.Opsgenie, opsgenieKey)
	p.HTTP.ExpectCredentials(notifytest.Jira, notify.Secret(jiraEmail+":"+jiraToken))
	p.HTTP.ExpectCredentials(notifytest.Datadog, datadogAPIKey, datadogAppKey)
	p.HTTP.ExpectCredentials(notifytest.Splunk, splunkToken)
	p.HTTP.ExpectCredentials(notifytest.Webhook, webhookAuth)
}

// options works out what each type needs, and the union that serves all.
func (p *Playground) options() {
	viaFake := notify.WithHTTPClient(p.HTTP.Client())
	trustMail := email.WithTLSConfig(&tls.Config{RootCAs: p.mail.pool, MinVersion: tls.VersionTLS12})
	storage := gcs.WithStorageClient(p.gcs.client)
	p.byType = map[string][]notify.Option{
		slack.Type:     {viaFake},
		pagerduty.Type: {viaFake},
		opsgenie.Type:  {viaFake},
		jira.Type:      {viaFake},
		datadog.Type:   {viaFake},
		splunk.Type:    {viaFake},
		webhook.Type:   {viaFake},
		// The library's own guarded client dials the loopback endpoint once
		// private networks are allowed.
		s3.Type:    {notify.WithAllowPrivateNetworks()},
		gcs.Type:   {storage},
		email.Type: {notify.WithAllowPrivateNetworks(), trustMail, email.WithRelay(p.mail.relay())},
	}
	// One list for BuildAll: each type gets its own options, and nothing
	// meant for one destination reaches another.
	p.all = nil
	for typ, opts := range p.byType {
		p.all = append(p.all, notify.ForType(typ, opts...))
	}
}

// Options returns the options that let every integration in Integrations
// reach its fake, all at once: pass them to integrations.BuildAll. Each is
// a notify.ForType, so every type gets what OptionsFor gives it.
func (p *Playground) Options() []notify.Option { return append([]notify.Option(nil), p.all...) }

// OptionsFor returns only what an integration of type typ needs, for
// building one destination package at a time (slack.New, s3.FromJSON…):
// the fake's HTTP client for the seven HTTP destinations, private networks
// for S3 and for email (on loopback), the storage client for GCS, and for
// email the SMTP server as its relay and the trust of its certificate.
func (p *Playground) OptionsFor(typ string) []notify.Option {
	return append([]notify.Option(nil), p.byType[typ]...)
}

// Secrets returns every credential in Integrations, for checking that none
// reaches an output, an error or a log line.
func (p *Playground) Secrets() []notify.Secret { return append([]notify.Secret(nil), p.secrets...) }

// Addresses returns where each fake listens, for a program to say so.
func (p *Playground) Addresses() map[string]string {
	return map[string]string{
		"http": strings.TrimPrefix(p.HTTP.URL(), "https://"),
		"s3":   p.s3.host(),
		"gcs":  strings.TrimPrefix(p.gcs.srv.URL, "http://"),
		"smtp": p.mail.addr,
	}
}

// Mail returns the messages the SMTP server accepted, in order.
func (p *Playground) Mail() []Mail { return p.mail.messages() }

// S3Objects returns the keys in the S3 store's bucket.
func (p *Playground) S3Objects() ([]string, error) { return p.s3.keys(Bucket) }

// GCSObjects returns the object names in the GCS emulator's bucket.
func (p *Playground) GCSObjects() ([]string, error) { return p.gcs.names(Bucket) }

// Close stops every fake, and waits for them to stop. It may be called more
// than once, and on a Playground that Start gave up on.
func (p *Playground) Close() {
	p.closeOnce.Do(func() {
		if p.gcs != nil {
			p.gcs.close()
		}
		if p.s3 != nil {
			p.s3.close()
		}
		if p.mail != nil {
			p.mail.close()
		}
		if p.HTTP != nil {
			p.HTTP.Close()
		}
	})
}

// integrations writes the stored list. Config structs cannot be marshalled
// for this, since json.Marshal masks their secrets: maps hold the values as
// the console stores them.
func (p *Playground) integrations(saJSON string) ([]byte, error) {
	type obj = map[string]any
	list := []obj{
		{"type": slack.Type, "config": obj{
			"name":        "SOC Slack",
			"webhook_url": slackWebhookURL,
			"channel":     "#security-alerts",
		}},
		{"type": email.Type, "config": obj{
			"name": "SOC mailbox",
			"to":   []string{"SOC <soc@example.com>", "oncall@example.com"},
		}},
		{"type": jira.Type, "config": obj{
			"name":               "Security board",
			"url":                "https://playground.atlassian.net/rest/api/2/issue/",
			"project_id":         jiratest.DefaultProject().ID,
			"api_token":          jiraToken,
			"reporter_email":     jiraEmail,
			"issue_type":         jira.DefaultIssueType,
			"priority_from_risk": true,
		}},
		{"type": datadog.Type, "config": obj{
			"name":            "Datadog incidents",
			"url":             "https://api.datadoghq.com/api/v2/incidents",
			"application_key": datadogAppKey,
			"api_key":         datadogAPIKey,
		}},
		{"type": pagerduty.Type, "config": obj{
			"name": "On-call",
			// The console's seed form, as stored: ".../v2/enque".
			"webhook_url": "https://events.pagerduty.com/v2/enque",
			"api_key":     pagerDutyKey,
		}},
		{"type": splunk.Type, "config": obj{
			"name": "Splunk HEC",
			// The console's seed form, as stored: the stack's web address.
			"url":       "https://playground.splunkcloud.com/services/collector/event",
			"api_token": splunkToken,
			"index":     splunkIndex,
		}},
		{"type": gcs.Type, "config": obj{
			"name":                 "GCS archive",
			"bucket":               Bucket,
			"service_account_json": saJSON,
			"prefix":               Prefix,
			"compression":          string(gcs.CompressionGzip),
		}},
		{"type": s3.Type, "config": obj{
			"name":              "S3 archive",
			"access_key_id":     s3KeyID,
			"secret_access_key": s3Secret,
			"region":            s3Region,
			"bucket":            Bucket,
			"prefix":            Prefix,
			"endpoint":          "http://" + p.s3.host(),
			"path_style":        true,
		}},
		{"type": opsgenie.Type, "config": obj{
			"name":    "Opsgenie SOC team",
			"url":     opsgenie.AlertsURL,
			"team_id": opsgenieTeam,
			"api_key": opsgenieKey,
		}},
		{"type": webhook.Type, "config": obj{
			"name":           "SIEM webhook",
			"url":            "https://siem.example.com/hooks/codedefender",
			"method":         "POST",
			"headers":        []obj{{"name": "Authorization", "value": webhookAuth}},
			"signing_secret": webhookSecret,
			// As in integrations.example.json: an incident is skipped.
			"events": []string{"pci_scope_change", "client_side_risk"},
		}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// serviceAccountKey makes a throwaway service account key file in the shape
// Google issues, and returns it with its private key's PEM. Only its shape
// matters: the emulator takes no credentials. It is made once per process,
// since an RSA key takes a while.
func serviceAccountKey() (file, keyPEM string, err error) {
	k, err := makeServiceAccountKey()
	return k.file, k.pem, err
}

type keyFile struct{ file, pem string }

var makeServiceAccountKey = sync.OnceValues(func() (keyFile, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return keyFile{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return keyFile{}, err
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	file, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "playground-project",
		"private_key_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
		"private_key":    keyPEM,
		"client_email":   gcsAccount,
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		return keyFile{}, err
	}
	return keyFile{file: string(file), pem: keyPEM}, nil
})
