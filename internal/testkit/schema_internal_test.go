package testkit

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/slack"
)

// TestRejects proves the check RunValidate makes of a Schema case can fail:
// a config the schema accepts is reported as accepted.
func TestRejects(t *testing.T) {
	rt := reflect.TypeFor[slack.Config]()
	require.Equal(t, slack.Type, TypeOf(rt))
	s := CompileSchema(t, TypeOf(rt), rt)
	valid := slack.Config{Name: "SOC", WebhookURL: "https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx", Channel: "#soc"}

	rejected, b, err := rejects(s, valid)
	require.NoError(t, err)
	require.False(t, rejected, "%s", b)
	require.NotContains(t, string(b), "abcdefghijklmnopqrstuvwx", "secrets are masked")

	for _, c := range []slack.Config{
		{Name: "", WebhookURL: valid.WebhookURL},
		{Name: "SOC", WebhookURL: ""},
		{Name: "SOC", WebhookURL: valid.WebhookURL, Channel: "#Upper"},
		{Name: "SOC", WebhookURL: valid.WebhookURL, Channel: "soc"},
	} {
		rejected, b, err := rejects(s, c)
		require.NoError(t, err)
		require.True(t, rejected, "%s", b)
	}
}
