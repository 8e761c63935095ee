package integrations

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/schema"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/webhook"
)

func TestConfigTypesCoverEveryType(t *testing.T) {
	typs := slices.Sorted(func(yield func(string) bool) {
		for k := range configTypes {
			if !yield(k) {
				return
			}
		}
	})
	require.Equal(t, Types(), typs)
	require.Equal(t, Types(), schema.Types())
	for typ, rt := range configTypes {
		require.Equal(t, typ, testkit.TypeOf(rt), "testkit finds a Config's type by its package name")
	}
}

// TestEveryFieldHasALabel: a field added to a Config reaches the console's
// form with a label and help text, and no label outlives its field.
func TestEveryFieldHasALabel(t *testing.T) {
	for typ, rt := range configTypes {
		require.NoError(t, schema.Check(typ, rt))
	}
}

func TestSchemasCompile(t *testing.T) {
	all := Schemas()
	require.Len(t, all, len(configTypes))
	for typ, rt := range configTypes {
		b, err := Schema(typ)
		require.NoError(t, err)
		require.Equal(t, all[typ], b)
		testkit.CompileSchema(t, typ, rt)

		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
		require.Equal(t, false, doc["additionalProperties"], typ)
	}
	all["slack"][0] = 'X'
	b, _ := Schema("slack")
	require.Equal(t, byte('{'), b[0], "Schemas hands out copies")

	_, err := Schema("fax")
	require.ErrorContains(t, err, `unknown integration type "fax"`)
}

// exampleEntries reads integrations.example.json.
func exampleEntries(t *testing.T) []notify.Integration {
	t.Helper()
	b, err := os.ReadFile("integrations.example.json")
	require.NoError(t, err)
	var entries []notify.Integration
	require.NoError(t, json.Unmarshal(b, &entries))
	require.NotEmpty(t, entries)
	return entries
}

func TestExampleFileValidatesAgainstTheSchemas(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range exampleEntries(t) {
		s := testkit.CompileSchema(t, e.Type, configTypes[e.Type])
		require.NoError(t, testkit.SchemaErr(t, s, e.Config), "%s: %s", e.Type, e.Config)
		seen[e.Type] = true
	}
	require.Len(t, seen, len(configTypes), "the file shows every type")
}

func TestSchemaRefusesUnknownFields(t *testing.T) {
	for _, e := range exampleEntries(t) {
		s := testkit.CompileSchema(t, e.Type, configTypes[e.Type])
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(e.Config, &cfg))
		cfg["colour"] = "red"
		b, _ := json.Marshal(cfg)
		require.Error(t, testkit.SchemaErr(t, s, b), e.Type)
	}
	s := testkit.CompileSchema(t, "webhook", configTypes["webhook"])
	require.Error(t, testkit.SchemaErr(t, s, []byte(`{"name":"w","url":"https://example.com","headers":[{"name":"A","value":"b","x":1}]}`)))
	require.NoError(t, testkit.SchemaErr(t, s, []byte(`{"name":"w","url":"https://example.com","headers":[{"name":"A","value":"b"}]}`)))
}

// secretPaths returns the JSON path of every notify.Secret in t, found by
// reflection so that a new secret field cannot be missed: "api_key",
// "smtp.password", "headers[].value".
func secretPaths(t reflect.Type) []string {
	var out []string
	secret := reflect.TypeFor[notify.Secret]()
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := schema.JSONName(f)
			if !ok {
				continue
			}
			ft := f.Type
			switch {
			case ft == secret:
				out = append(out, prefix+name)
			case ft.Kind() == reflect.Struct:
				walk(ft, prefix+name+".")
			case ft.Kind() == reflect.Slice && ft.Elem() == secret:
				out = append(out, prefix+name+"[]")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), prefix+name+"[].")
			case ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Map || ft.Kind() == reflect.Array:
				panic("secretPaths: teach me " + ft.String())
			}
		}
	}
	walk(t, "")
	return out
}

// property returns the schema of the property at a JSON path ("a.b",
// "headers[].value") of a parsed schema document.
func property(doc map[string]any, path string) map[string]any {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		name, items := strings.CutSuffix(part, "[]")
		props, _ := cur["properties"].(map[string]any)
		cur, _ = props[name].(map[string]any)
		if items && cur != nil {
			cur, _ = cur["items"].(map[string]any)
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

func TestSecretsAreWriteOnlyPasswords(t *testing.T) {
	total := 0
	for typ, rt := range configTypes {
		b, err := Schema(typ)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		for _, p := range secretPaths(rt) {
			total++
			prop := property(doc, p)
			require.NotNil(t, prop, "%s %s", typ, p)
			require.Equal(t, true, prop["writeOnly"], "%s %s", typ, p)
			require.Equal(t, "password", prop["format"], "%s %s", typ, p)
			require.Empty(t, prop["pattern"], "%s %s: the mask must pass", typ, p)
		}
	}
	require.GreaterOrEqual(t, total, 12, "every type has a credential, webhook three")
}

// TestEnumValuesAreValid: every value a form's list offers passes Validate
// (in the example file's config of its type), so the enums in
// internal/schema cannot drift from the constants of the packages.
func TestEnumValuesAreValid(t *testing.T) {
	checked := 0
	for _, e := range exampleEntries(t) {
		if e.Type == email.Type {
			continue // its one enum, smtp.tls, depends on port and host, and moves to the relay option
		}
		b, err := Schema(e.Type)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		for _, p := range schema.Paths(configTypes[e.Type]) {
			for _, path := range []string{p, p + "[]"} {
				prop := property(doc, path)
				if prop == nil {
					continue
				}
				enum, _ := prop["enum"].([]any)
				for _, v := range enum {
					var cfg map[string]any
					require.NoError(t, json.Unmarshal(e.Config, &cfg))
					field := path
					if top, ok := strings.CutSuffix(path, "[]"); ok {
						cfg[top], field = []any{v}, top+"[0]"
					} else {
						cfg[path] = v
					}
					raw, _ := json.Marshal(cfg)
					c := reflect.New(configTypes[e.Type])
					require.NoError(t, validate.DecodeConfig(raw, c.Interface()))
					err := c.Elem().Interface().(interface{ Validate() error }).Validate()
					var ve *notify.ValidationError
					if err != nil {
						require.ErrorAs(t, err, &ve)
						require.False(t, ve.Has(field), "%s %s=%v: %v", e.Type, field, v, err)
					}
					checked++
				}
			}
		}
	}
	require.Greater(t, checked, 20)
}

func TestSchemaRejectsWhatItCanSay(t *testing.T) {
	for _, tc := range []struct{ typ, config string }{
		{"slack", `{"name":"","webhook_url":"x"}`},
		{"slack", `{"name":"   ","webhook_url":"x"}`},
		{"slack", `{"name":"a\u0007b","webhook_url":"x"}`},
		{"slack", `{"name":"` + strings.Repeat("n", 101) + `","webhook_url":"x"}`},
		{"slack", `{"name":"SOC"}`},
		{"slack", `{"name":"SOC","webhook_url":""}`},
		{"slack", `{"name":"SOC","webhook_url":"x","channel":"soc"}`},
		{"jira", `{"name":"J","url":"https://x.atlassian.net/rest/api/3/issue/","project_id":"1","api_token":"t","reporter_email":"a@b.co"}`},
		{"jira", `{"name":"J","url":"https://x.atlassian.net/rest/api/2/issue/","project_id":"ABC","api_token":"t","reporter_email":"a@b.co"}`},
		{"jira", `{"name":"J","url":"https://x.atlassian.net/rest/api/2/issue/","project_id":"1","api_token":"t","reporter_email":"not-an-address"}`},
		{"jira", `{"name":"J","url":"https://x.atlassian.net/rest/api/2/issue/","project_id":"1","api_token":"t","reporter_email":"a@b.co","priority_from_risk":"yes"}`},
		{"datadog", `{"name":"D","url":"https://app.datadoghq.com/api/v2/incidents","application_key":"a","api_key":"b"}`},
		{"pagerduty", `{"name":"P","webhook_url":"https://events.pagerduty.com/v1/enqueue","api_key":"k"}`},
		{"splunk", `{"name":"S","url":"https://splunk.example.com:8088/services/collector/raw","api_token":"t"}`},
		{"splunk", `{"name":"S","url":"https://splunk.example.com:8088/services/collector","api_token":"t","index":"_internal"}`},
		{"gcs", `{"name":"G","bucket":"ab","service_account_json":"{}"}`},
		{"gcs", `{"name":"G","bucket":"abc","service_account_json":"{}","compression":"zstd"}`},
		{"gcs", `{"name":"G","bucket":"abc","service_account_json":"{}","prefix":"/alerts"}`},
		{"s3", `{"name":"S","access_key_id":"AKIA","secret_access_key":"s","region":"eu west 1","bucket":"b-1"}`},
		{"s3", `{"name":"S","access_key_id":"AKIA","secret_access_key":"s","region":"eu-west-1","bucket":"Upper"}`},
		{"s3", `{"name":"S","access_key_id":"AKIA","secret_access_key":"s","region":"eu-west-1","bucket":"b-1","path_style":1}`},
		{"opsgenie", `{"name":"O","url":"https://api.opsgenie.com/v2/alerts","api_key":"k","team_id":"soc"}`},
		{"webhook", `{"name":"W","url":"ftp://example.com"}`},
		{"webhook", `{"name":"W","url":"https://example.com","method":"TRACE"}`},
		{"webhook", `{"name":"W","url":"https://example.com","protocol":"udp"}`},
		{"webhook", `{"name":"W","url":"https://example.com","headers":[{"name":"Bad Name","value":"v"}]}`},
		{"webhook", `{"name":"W","url":"https://example.com","events":["everything"]}`},
	} {
		s := testkit.CompileSchema(t, tc.typ, configTypes[tc.typ])
		require.Error(t, testkit.SchemaErr(t, s, []byte(tc.config)), "%s %s", tc.typ, tc.config)
	}
}

// TestSchemaDefaults: a form shows what an empty field means.
func TestSchemaDefaults(t *testing.T) {
	for _, tc := range []struct {
		typ, path string
		want      any
	}{
		{"webhook", "method", "POST"},
		{"webhook", "protocol", string(webhook.ProtocolTCP)},
		{"gcs", "compression", string(gcs.CompressionNone)},
		{"s3", "compression", string(s3.CompressionNone)},
		{"s3", "path_style", false},
		{"jira", "issue_type", jira.DefaultIssueType},
		{"jira", "priority_from_risk", false},
	} {
		b, err := Schema(tc.typ)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		require.Equal(t, tc.want, property(doc, tc.path)["default"], "%s %s", tc.typ, tc.path)
	}
	b, _ := Schema("slack")
	require.NotContains(t, string(b), `"default"`)
}
