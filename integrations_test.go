package integrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/notify"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTypes(t *testing.T) {
	require.Equal(t, []string{"datadog", "email", "gcs", "jira", "opsgenie", "pagerduty", "s3", "slack", "splunk", "webhook"},
		integrations.Types())
}

func TestBuild(t *testing.T) {
	n, err := integrations.Build([]byte(`{"type":"pagerduty","config":{"name":"On-call",
		"webhook_url":"https://events.pagerduty.com/v2/enqueue","api_key":"0123456789abcdef0123456789abcdef"}}`))
	require.NoError(t, err)
	named := n.(notify.Named)
	require.Equal(t, "pagerduty", named.Type())
	require.Equal(t, "On-call", named.Name())

	_, err = integrations.Build([]byte(`{"type":"fax","config":{}}`))
	require.ErrorContains(t, err, `type: unknown integration type "fax"`)

	_, err = integrations.Build([]byte(`{"type":"slack","config":{"name":"x","webhook_url":"https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx","colour":"red"}}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("config.colour"), err)
}

const pagerdutyEntry = `{"type":"pagerduty","config":{"name":"On-call",
	"webhook_url":"https://events.pagerduty.com/v2/enqueue","api_key":"0123456789abcdef0123456789abcdef"}}`

func TestBuildAll(t *testing.T) {
	got, err := integrations.BuildAll([]byte(`[` + pagerdutyEntry + `]`))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "pagerduty", got[0].Type)
	require.Equal(t, "On-call", got[0].Name)

	_, err = integrations.BuildAll([]byte(`[` + pagerdutyEntry + `,` + pagerdutyEntry + `,
		{"type":"slack","config":{"name":"","webhook_url":"[REDACTED]"}}]`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("[1].config.name"), err)
	require.True(t, ve.Has("[2].config.name"), err)
	require.True(t, ve.Has("[2].config.webhook_url"), err)

	_, err = integrations.BuildAll([]byte(`{"type":"slack"}`))
	require.ErrorContains(t, err, "must be a JSON list")
}
