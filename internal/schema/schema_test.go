package schema_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/schema"
	"github.com/codedefender/integrations/notify"
)

// slackLike stands for slack.Config with one field renamed and one added.
type slackLike struct {
	Name       string        `json:"name"`
	WebhookURL notify.Secret `json:"webhook_url"`
	Room       string        `json:"room,omitempty"`
	Hidden     string        `json:"-"`
	unexported string
}

func TestCheckNamesMissingAndStaleLabels(t *testing.T) {
	err := schema.Check("slack", reflect.TypeFor[slackLike]())
	require.EqualError(t, err, "schema: slack: channel names no field of schema_test.slackLike; room has no entry")
	require.ErrorContains(t, schema.Check("fax", reflect.TypeFor[slackLike]()), `unknown integration type "fax"`)
}

func TestPaths(t *testing.T) {
	type header struct {
		Name  string        `json:"name"`
		Value notify.Secret `json:"value"`
	}
	type smtp struct {
		Host string `json:"host"`
	}
	type cfg struct {
		Name    string   `json:"name"`
		SMTP    smtp     `json:"smtp"`
		Headers []header `json:"headers,omitempty"`
		To      []string `json:"to"`
		Plain   string
	}
	require.Equal(t, []string{"name", "smtp", "smtp.host", "headers", "headers[].name", "headers[].value", "to", "Plain"},
		schema.Paths(reflect.TypeFor[cfg]()))
}

func TestGenerate(t *testing.T) {
	b, err := schema.Generate("slack", reflect.TypeFor[slackLike]())
	require.NoError(t, err)
	var doc struct {
		Required   []string                  `json:"required"`
		Properties map[string]map[string]any `json:"properties"`
		Additional bool                      `json:"additionalProperties"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, []string{"name", "webhook_url"}, doc.Required)
	require.False(t, doc.Additional)
	require.Equal(t, map[string]any{
		"type": "string", "format": "password", "writeOnly": true, "minLength": 1.0,
		"title": "Webhook URL", "description": doc.Properties["webhook_url"]["description"],
	}, doc.Properties["webhook_url"])
	require.Equal(t, map[string]any{"type": "string"}, doc.Properties["room"], "an unlabelled field is still described")

	_, err = schema.Generate("fax", reflect.TypeFor[slackLike]())
	require.Error(t, err)
	_, err = schema.Generate("slack", reflect.TypeFor[string]())
	require.Error(t, err)
}
