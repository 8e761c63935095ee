package integrations

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/webhook"
)

// doc is an integration as generic JSON, for editing it the way a console
// does.
type doc = map[string]any

func parse(t *testing.T, b []byte) doc {
	t.Helper()
	var d doc
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

func encode(t *testing.T, d doc) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	require.NoError(t, err)
	return b
}

// concrete expands a path with [] ("headers[].value") into the paths with
// indexes that exist in v ("headers[0].value", "headers[1].value").
func concrete(v any, path string) []string {
	if path == "" {
		return []string{""}
	}
	head, rest, _ := strings.Cut(path, ".")
	name, list := strings.CutSuffix(head, "[]")
	m, _ := v.(doc)
	child, ok := m[name]
	if !ok {
		return nil
	}
	join := func(p, tail string) string {
		if tail == "" {
			return p
		}
		return p + "." + tail
	}
	var out []string
	if !list {
		for _, tail := range concrete(child, rest) {
			out = append(out, join(name, tail))
		}
		return out
	}
	items, _ := child.([]any)
	for i, item := range items {
		for _, tail := range concrete(item, rest) {
			out = append(out, join(fmt.Sprintf("%s[%d]", name, i), tail))
		}
	}
	return out
}

// get and put read and write the value at a concrete path.
func get(d doc, path string) any { v, _ := lookup(d, path); return v }

func put(d doc, path string, v any) {
	parentPath, last := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parentPath, last = path[:i], path[i+1:]
	}
	var parent any = d
	if parentPath != "" {
		parent, _ = lookup(d, parentPath)
	}
	name, idx, hasIdx := strings.Cut(strings.TrimSuffix(last, "]"), "[")
	m := parent.(doc)
	if !hasIdx {
		m[name] = v
		return
	}
	i, _ := strconv.Atoi(idx)
	m[name].([]any)[i] = v
}

func lookup(d doc, path string) (any, bool) {
	var cur any = d
	for part := range strings.SplitSeq(path, ".") {
		name, idx, hasIdx := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		m, ok := cur.(doc)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
		if hasIdx {
			i, _ := strconv.Atoi(idx)
			list, ok := cur.([]any)
			if !ok || i >= len(list) {
				return nil, false
			}
			cur = list[i]
		}
	}
	return cur, true
}

// storedSecrets returns the concrete path and value of every secret set in
// a stored integration, found by reflection over its Config type.
func storedSecrets(t *testing.T, e notify.Integration) map[string]string {
	t.Helper()
	cfg := parse(t, e.Config)
	out := map[string]string{}
	for _, p := range secretPaths(configTypes[e.Type]) {
		for _, c := range concrete(cfg, p) {
			if s, _ := get(cfg, c).(string); s != "" {
				out[c] = s
			}
		}
	}
	return out
}

func secretsOf(m map[string]string) []notify.Secret {
	var out []notify.Secret
	for _, v := range m {
		out = append(out, notify.Secret(v))
	}
	return out
}

func entryJSON(t *testing.T, e notify.Integration) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return b
}

func TestMaskIsJSONMarshalOfTheConfig(t *testing.T) {
	for _, e := range exampleEntries(t) {
		stored := entryJSON(t, e)
		masked, err := Mask(stored)
		require.NoError(t, err)

		var got notify.Integration
		require.NoError(t, json.Unmarshal(masked, &got))
		require.Equal(t, e.Type, got.Type)
		cfg := decoded(t, e)
		want, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got.Config), "the config is json.Marshal's bytes")

		secrets := storedSecrets(t, e)
		if e.Type != email.Type { // email's only secret is the operator's relay, not in the config
			require.NotEmpty(t, secrets, e.Type)
		}
		m := parse(t, got.Config)
		for path := range secrets {
			require.Equal(t, notify.Redacted, get(m, path), "%s %s", e.Type, path)
		}
		// Every other field is shown as stored.
		for path := range secrets {
			put(m, path, secrets[path])
		}
		require.JSONEq(t, string(e.Config), string(encode(t, m)))
	}
}

// decoded decodes an entry's config into its Config type.
func decoded(t *testing.T, e notify.Integration) any {
	t.Helper()
	v, err := decodeConfig(e)
	require.NoError(t, err)
	return v.Interface()
}

func TestMergeRestoresEveryMaskedSecret(t *testing.T) {
	total := 0
	for _, e := range exampleEntries(t) {
		stored := entryJSON(t, e)
		secrets := storedSecrets(t, e)
		masked, err := Mask(stored)
		require.NoError(t, err)

		t.Run(e.Type+"/unchanged", func(t *testing.T) {
			merged, err := Merge(stored, masked)
			require.NoError(t, err)
			require.JSONEq(t, string(stored), string(merged))
		})

		t.Run(e.Type+"/renamed", func(t *testing.T) {
			edited := parse(t, masked)
			edited["config"].(doc)["name"] = "Renamed"
			merged, err := Merge(stored, encode(t, edited))
			require.NoError(t, err)
			want := parse(t, stored)
			want["config"].(doc)["name"] = "Renamed"
			require.JSONEq(t, string(encode(t, want)), string(merged))
			_, err = Build(merged, notify.WithAllowPrivateNetworks())
			if err != nil {
				require.NotContains(t, err.Error(), "mask", "Build takes every restored secret")
			}
		})

		for path := range secrets {
			total++
			t.Run(e.Type+"/"+path+"/replaced", func(t *testing.T) {
				edited := parse(t, masked)
				put(edited["config"].(doc), path, "a-new-value")
				merged, err := Merge(stored, encode(t, edited))
				require.NoError(t, err)
				got := parse(t, merged)["config"].(doc)
				require.Equal(t, "a-new-value", get(got, path))
				for other, v := range secrets {
					if other != path {
						require.Equal(t, v, get(got, other), "%s keeps its stored value", other)
					}
				}
			})
			t.Run(e.Type+"/"+path+"/nothing stored", func(t *testing.T) {
				without := parse(t, stored)
				put(without["config"].(doc), path, "")
				_, err := Merge(encode(t, without), masked)
				var ve *notify.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, []string{"config." + path}, notifytest.FieldsOf(err))
				notifytest.AssertNoSecret(t, err, secretsOf(secrets)...)
			})
		}
	}
	require.GreaterOrEqual(t, total, 12, "every type's secrets, nested ones included")
}

// TestExampleFileSetsEverySecret keeps the table above complete: every
// secret field of every Config (found by reflection) is set in some entry
// of the example file, so a new secret field is merged and masked in the
// tests as soon as it exists.
func TestExampleFileSetsEverySecret(t *testing.T) {
	set := map[string]bool{}
	for _, e := range exampleEntries(t) {
		cfg := parse(t, e.Config)
		for _, p := range secretPaths(configTypes[e.Type]) {
			for _, c := range concrete(cfg, p) {
				if s, _ := get(cfg, c).(string); s != "" {
					set[e.Type+" "+p] = true
				}
			}
		}
	}
	for typ, rt := range configTypes {
		for _, p := range secretPaths(rt) {
			require.True(t, set[typ+" "+p], "integrations.example.json sets no %s %s", typ, p)
		}
	}
}

// webhookStored is a webhook with two headers, a repeated name among them.
const webhookStored = `{"type":"webhook","config":{"name":"W","url":"https://siem.example.com/hook","headers":[
	{"name":"Authorization","value":"Bearer old-token-1"},
	{"name":"X-Tenant","value":"tenant-42"},
	{"name":"authorization","value":"Bearer winning-token"}],
	"signing_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}`

var webhookSecrets = []notify.Secret{"Bearer old-token-1", "tenant-42", "Bearer winning-token", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}

func TestMergeMatchesHeadersByName(t *testing.T) {
	for _, tc := range []struct {
		name, headers string
		want          []webhook.Header
		fields        []string
	}{
		{
			name:    "reordered",
			headers: `[{"name":"X-Tenant","value":"[REDACTED]"},{"name":"Authorization","value":"[REDACTED]"}]`,
			want:    []webhook.Header{{Name: "X-Tenant", Value: "tenant-42"}, {Name: "Authorization", Value: "Bearer winning-token"}},
		},
		{
			name:    "another case",
			headers: `[{"name":"x-tenant","value":"[REDACTED]"},{"name":"AUTHORIZATION","value":"[REDACTED]"}]`,
			want:    []webhook.Header{{Name: "x-tenant", Value: "tenant-42"}, {Name: "AUTHORIZATION", Value: "Bearer winning-token"}},
		},
		{
			name:    "one edited, one removed, one added",
			headers: `[{"name":"X-Tenant","value":"tenant-43"},{"name":"X-Env","value":"prod"}]`,
			want:    []webhook.Header{{Name: "X-Tenant", Value: "tenant-43"}, {Name: "X-Env", Value: "prod"}},
		},
		{
			name:    "renamed header keeps no secret",
			headers: `[{"name":"X-Tenant","value":"[REDACTED]"},{"name":"X-Token","value":"[REDACTED]"}]`,
			fields:  []string{"config.headers[1].value"},
		},
		{
			name:    "cleared",
			headers: `[{"name":"Authorization","value":""}]`,
			want:    []webhook.Header{{Name: "Authorization", Value: ""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edited := `{"type":"webhook","config":{"name":"W","url":"https://siem.example.com/hook","headers":` +
				tc.headers + `,"signing_secret":"[REDACTED]"}}`
			merged, err := Merge([]byte(webhookStored), []byte(edited))
			if tc.fields != nil {
				require.Equal(t, tc.fields, notifytest.FieldsOf(err))
				notifytest.AssertNoSecret(t, err, webhookSecrets...)
				return
			}
			require.NoError(t, err)
			var got notify.Integration
			require.NoError(t, json.Unmarshal(merged, &got))
			var c webhook.Config
			require.NoError(t, validate.DecodeConfig(got.Config, &c))
			require.Equal(t, tc.want, c.Headers)
			require.Equal(t, notify.Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), c.SigningSecret)
		})
	}
}

// A moved URL with the secret typed in again is a plain edit.
func TestMergeTakesAMovedURLWithItsSecretEnteredAgain(t *testing.T) {
	stored := `{"type":"jira","config":{"name":"J","url":"https://acme.atlassian.net/rest/api/2/issue/","project_id":"10000","api_token":"jira-token-0123456789","reporter_email":"a@acme.com"}}`
	edited := `{"type":"jira","config":{"name":"J","url":"https://other.atlassian.net/rest/api/2/issue/","project_id":"10000","api_token":"new-token-0123456789","reporter_email":"a@acme.com"}}`
	merged, err := Merge([]byte(stored), []byte(edited))
	require.NoError(t, err)
	require.Contains(t, string(merged), `"api_token":"new-token-0123456789"`)
	require.Contains(t, string(merged), `"url":"https://other.atlassian.net/rest/api/2/issue/"`)
}

func TestMergeRefuses(t *testing.T) {
	slackStored := `{"type":"slack","config":{"name":"S","webhook_url":"https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx"}}`
	jiraStored := `{"type":"jira","config":{"name":"J","url":"https://acme.atlassian.net/rest/api/2/issue/","project_id":"10000","api_token":"jira-token-0123456789","reporter_email":"a@acme.com"}}`
	hookStored := `{"type":"webhook","config":{"name":"W","url":"https://siem.example.com/hook","headers":[{"name":"Authorization","value":"Bearer hook-token-0123456789"}]}}`
	secrets := []notify.Secret{"https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx",
		"jira-token-0123456789", "Bearer hook-token-0123456789"}
	for _, tc := range []struct {
		name, stored, edited string
		fields               []string
		contains             string
	}{
		{
			name:   "a changed type",
			stored: slackStored,
			edited: `{"type":"webhook","config":{"name":"S","url":"https://example.com","headers":[{"name":"A","value":"[REDACTED]"}]}}`,
			fields: []string{"type"}, contains: `cannot change from "slack" to "webhook"`,
		},
		{
			name:   "an unknown type",
			stored: slackStored, edited: `{"type":"fax","config":{}}`,
			fields: []string{"type"}, contains: `unknown integration type "fax"`,
		},
		{
			name:   "an unknown field",
			stored: slackStored, edited: `{"type":"slack","config":{"name":"S","webhook_url":"[REDACTED]","colour":"red"}}`,
			fields: []string{"config.colour"},
		},
		{
			name:   "a field of the wrong type",
			stored: slackStored, edited: `{"type":"slack","config":{"name":1,"webhook_url":"[REDACTED]"}}`,
			fields: []string{"config.name"},
		},
		{
			name:   "no config",
			stored: slackStored, edited: `{"type":"slack"}`,
			fields: []string{"config"},
		},
		{
			name:   "not JSON",
			stored: slackStored, edited: `{"type":"slack",`,
			fields: []string{"config"},
		},
		{
			name:   "a stored secret that is the mask itself",
			stored: `{"type":"slack","config":{"name":"S","webhook_url":"[REDACTED]"}}`,
			edited: `{"type":"slack","config":{"name":"S","webhook_url":"[REDACTED]"}}`,
			fields: []string{"config.webhook_url"}, contains: "no value is stored",
		},
		{
			// Whoever may edit must not send the stored token elsewhere.
			name:   "a masked token when the URL moves to another site",
			stored: jiraStored,
			edited: `{"type":"jira","config":{"name":"J","url":"https://evil.atlassian.net/rest/api/2/issue/","project_id":"10000","api_token":"[REDACTED]","reporter_email":"a@acme.com"}}`,
			fields: []string{"config.api_token"}, contains: "config.url changed: enter the secret again",
		},
		{
			name:   "a masked header when the webhook URL moves",
			stored: hookStored,
			edited: `{"type":"webhook","config":{"name":"W","url":"https://collector.attacker.example/hook","headers":[{"name":"Authorization","value":"[REDACTED]"}]}}`,
			fields: []string{"config.headers[0].value"}, contains: "config.url changed",
		},
		{
			name:   "a broken stored integration",
			stored: `{"type":"slack","config":{"name":"S","colour":"red"}}`,
			edited: `{"type":"slack","config":{"name":"S","webhook_url":"[REDACTED]"}}`,
			fields: []string{"config.colour"}, contains: "the stored integration",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			merged, err := Merge([]byte(tc.stored), []byte(tc.edited))
			require.Nil(t, merged)
			var ve *notify.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.fields, notifytest.FieldsOf(err))
			require.ErrorContains(t, err, tc.contains)
			notifytest.AssertNoSecret(t, err, secrets...)
		})
	}
}

func TestMaskRefuses(t *testing.T) {
	for _, tc := range []struct {
		stored string
		fields []string
	}{
		{`{"type":"fax","config":{}}`, []string{"type"}},
		{`{"type":"slack","config":{"name":"S","webhook_url":"https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx","colour":"red"}}`, []string{"config.colour"}},
		{`{"type":"slack","config":{"name":"S"},"extra":1}`, []string{"extra"}},
		{`[]`, []string{"config"}},
	} {
		masked, err := Mask([]byte(tc.stored))
		require.Nil(t, masked)
		require.Equal(t, tc.fields, notifytest.FieldsOf(err), tc.stored)
		notifytest.AssertNoSecret(t, err, "https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx")
	}
}
