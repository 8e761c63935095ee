package playground_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/internal/sample"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which only the
		// GCS emulator imports: it lives as long as the process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func start(t *testing.T) *playground.Playground {
	t.Helper()
	p, err := playground.Start()
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

type entry struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
}

func entries(t *testing.T, data []byte) []entry {
	t.Helper()
	var es []entry
	require.NoError(t, json.Unmarshal(data, &es))
	return es
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func closeAll(ns []integrations.Named) {
	for _, n := range ns {
		if c, ok := n.Notifier.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestIntegrationsHoldOneOfEachType(t *testing.T) {
	p := start(t)
	var types []string
	for _, e := range entries(t, p.Integrations) {
		types = append(types, e.Type)
	}
	require.ElementsMatch(t, integrations.Types(), types)
}

// Every integration passes Validate, Test and Send with the one option list
// BuildAll takes, and each fake holds what was sent.
func TestBuildAllReachesEveryFake(t *testing.T) {
	p := start(t)
	logger, logs := notifytest.NewLogger()
	ns, err := integrations.BuildAll(p.Integrations, append(p.Options(), notify.WithLogger(logger))...)
	require.NoError(t, err)
	defer closeAll(ns)
	require.Len(t, ns, 10)

	e := sample.Alert(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	receipts := map[string]notify.Receipt{}
	for _, n := range ns {
		require.NoError(t, n.Notifier.Validate(), n.Name)
		require.NoError(t, n.Notifier.Test(ctx(t)), n.Name)
		rc, err := n.Notifier.Send(ctx(t), e)
		require.NoError(t, err, n.Name)
		require.NotEmpty(t, rc.ID, n.Name)
		receipts[n.Type] = rc
	}
	notifytest.AssertNoSecret(t, logs.String(), p.Secrets()...)

	require.Equal(t, "alerts/2026/01/02/sample-alert-20260102T030405Z.json", receipts["s3"].ID)
	keys, err := p.S3Objects()
	require.NoError(t, err)
	require.Equal(t, []string{receipts["s3"].ID}, keys)

	require.Equal(t, "alerts/2026/01/02/sample-alert-20260102T030405Z.json.gz", receipts["gcs"].ID)
	names, err := p.GCSObjects()
	require.NoError(t, err)
	require.Equal(t, []string{receipts["gcs"].ID}, names)

	mail := p.Mail()
	require.Len(t, mail, 1, "Test sends no mail; Send sends one")
	require.Equal(t, playground.Mail{From: "alerts@example.com", To: []string{"soc@example.com", "oncall@example.com"},
		Subject: "[HIGH] New third-party script on /checkout", User: "alerts@example.com", TLS: true}, mail[0])

	issues := p.HTTP.JiraIssues()
	require.Len(t, issues, 1)
	require.Equal(t, issues[0].Key, receipts["jira"].ID)
	require.Equal(t, "High", issues[0].Priority)
	require.Equal(t, e.ID, receipts["pagerduty"].ID, "PagerDuty's dedup_key is the event ID")
	require.Len(t, p.HTTP.PagerDutyAlerts(), 1)
	require.Len(t, p.HTTP.OpsgenieAlerts(), 1)
	require.Len(t, p.HTTP.DatadogIncidents(), 1)
	require.Len(t, p.HTTP.SplunkEvents(), 1)
	hooks := p.HTTP.RequestsTo(notifytest.Webhook)
	require.Len(t, hooks, 2, "the webhook's Test and Send")
	require.Equal(t, "siem.example.com", hooks[1].Host)
	require.Equal(t, e.ID, hooks[1].Header.Get("webhook-id"))
}

// OptionsFor gives each type what it needs on its own.
func TestOptionsForEachType(t *testing.T) {
	p := start(t)
	for _, en := range entries(t, p.Integrations) {
		t.Run(en.Type, func(t *testing.T) {
			n, err := integrations.Build(marshal(t, en), p.OptionsFor(en.Type)...)
			require.NoError(t, err)
			if c, ok := n.(io.Closer); ok {
				defer c.Close()
			}
			require.NoError(t, n.Test(ctx(t)))
			_, err = n.Send(ctx(t), sample.Test(time.Now()))
			require.NoError(t, err)
		})
	}
}

// The fakes accept only the playground's credentials and targets, so a
// mistake in a config fails as it would at the vendor.
func TestFakesRefuseWhatTheVendorWould(t *testing.T) {
	p := start(t)
	tests := []struct {
		typ   string
		field string
		value any
		kind  error
	}{
		{"slack", "webhook_url", "https://hooks.slack.com/services/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", notify.ErrNotFound},
		{"pagerduty", "api_key", "AnotherRoutingKey000000000000001", notify.ErrRejected},
		{"opsgenie", "api_key", "00000000-0000-4000-8000-000000000000", notify.ErrUnauthorized},
		{"jira", "api_token", "ATATT3xFfGF0-revoked-token", notify.ErrUnauthorized},
		{"datadog", "api_key", "ffffffffffffffffffffffffffffffff", notify.ErrUnauthorized},
		{"splunk", "api_token", "00000000-0000-0000-0000-000000000000", notify.ErrUnauthorized},
		{"webhook", "headers", []map[string]string{{"name": "Authorization", "value": "Bearer wrong"}}, notify.ErrUnauthorized},
		{"s3", "access_key_id", "SOMEONEELSESKEY01", notify.ErrUnauthorized},
		{"gcs", "bucket", "no-such-bucket", notify.ErrNotFound},
		// The relay is the operator's, not the config's: its password is
		// given again, wrong, after the playground's own.
		{"email", "", nil, notify.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			var en entry
			for _, e := range entries(t, p.Integrations) {
				if e.Type == tt.typ {
					en = e
				}
			}
			cfg := en.Config
			field := tt.field
			if sub, leaf, ok := strings.Cut(field, "."); ok {
				cfg, field = cfg[sub].(map[string]any), leaf
			}
			logger, logs := notifytest.NewLogger()
			opts := append(p.Options(), notify.WithLogger(logger))
			if field != "" {
				cfg[field] = tt.value
			} else {
				relay, err := email.ParseRelayURL(p.SMTPURL().Reveal())
				require.NoError(t, err)
				relay.Password = "not-the-password"
				opts = append(opts, notify.ForType(email.Type, email.WithRelay(relay)))
			}
			n, err := integrations.Build(marshal(t, en), opts...)
			require.NoError(t, err)
			if c, ok := n.(io.Closer); ok {
				defer c.Close()
			}
			err = n.Test(ctx(t))
			require.ErrorIs(t, err, tt.kind, "%v", err)
			notifytest.AssertNoSecret(t, err, p.Secrets()...)
			notifytest.AssertNoSecret(t, logs.String(), p.Secrets()...)
		})
	}
}

// Close may be called twice; goleak (TestMain) checks that it stopped
// everything.
func TestCloseIsIdempotent(t *testing.T) {
	p, err := playground.Start()
	require.NoError(t, err)
	ns, err := integrations.BuildAll(p.Integrations, p.Options()...)
	require.NoError(t, err)
	for _, n := range ns {
		require.NoError(t, n.Notifier.Test(ctx(t)), n.Name)
	}
	closeAll(ns)
	p.Close()
	p.Close()
}
