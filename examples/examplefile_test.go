// Package examples_test keeps integrations.example.json, at the module's
// root, from rotting: the library must accept it as is, and it must show
// every field of every destination.
package examples_test

import (
	"encoding/json"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const exampleFile = "../integrations.example.json"

// configs are the Config types whose fields the file must show.
var configs = map[string]reflect.Type{
	datadog.Type:   reflect.TypeFor[datadog.Config](),
	email.Type:     reflect.TypeFor[email.Config](),
	gcs.Type:       reflect.TypeFor[gcs.Config](),
	jira.Type:      reflect.TypeFor[jira.Config](),
	opsgenie.Type:  reflect.TypeFor[opsgenie.Config](),
	pagerduty.Type: reflect.TypeFor[pagerduty.Config](),
	s3.Type:        reflect.TypeFor[s3.Config](),
	slack.Type:     reflect.TypeFor[slack.Config](),
	splunk.Type:    reflect.TypeFor[splunk.Config](),
	webhook.Type:   reflect.TypeFor[webhook.Config](),
}

func readExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(exampleFile)
	require.NoError(t, err)
	return data
}

// exampleRelay is the operator's SMTP relay, which email integrations need
// and the file, being the console's, does not hold.
var exampleRelay = email.Relay{Host: "smtp.example.com", Port: 587, Username: "alerts@example.com",
	Password: "app-password-change-me", TLS: email.TLSStartTLS, From: "Code Defender <alerts@example.com>"}

// BuildAll accepts the file with no option but the relay: the values are
// made up, but every one has the right shape.
func TestExampleFileBuilds(t *testing.T) {
	named, err := integrations.BuildAll(readExample(t), notify.ForType(email.Type, email.WithRelay(exampleRelay)))
	require.NoError(t, err)
	defer func() {
		for _, n := range named {
			if c, ok := n.Notifier.(io.Closer); ok {
				require.NoError(t, c.Close())
			}
		}
	}()
	types := map[string]bool{}
	for _, n := range named {
		types[n.Type] = true
		require.NoError(t, n.Notifier.Validate(), n.Name)
	}
	var got []string
	for typ := range types {
		got = append(got, typ)
	}
	sort.Strings(got)
	require.Equal(t, integrations.Types(), got, "the file must hold every destination")
	require.Len(t, configs, len(integrations.Types()), "a new destination needs its Config listed here")
}

// Every field of every Config appears in at least one entry of its type, so
// a field added to a destination fails here until the file shows it.
func TestExampleFileShowsEveryField(t *testing.T) {
	var entries []struct {
		Type   string         `json:"type"`
		Config map[string]any `json:"config"`
	}
	require.NoError(t, json.Unmarshal(readExample(t), &entries))
	shown := map[string]map[string]bool{}
	for _, e := range entries {
		if shown[e.Type] == nil {
			shown[e.Type] = map[string]bool{}
		}
		jsonFields(e.Config, "", shown[e.Type])
	}
	for typ, cfg := range configs {
		want := map[string]bool{}
		structFields(cfg, "", want)
		var missing []string
		for f := range want {
			if !shown[typ][f] {
				missing = append(missing, f)
			}
		}
		sort.Strings(missing)
		require.Empty(t, missing, "%s fields not shown in %s", typ, exampleFile)
	}
}

// structFields collects the JSON paths of a Config's fields: smtp.host,
// headers[].name.
func structFields(t reflect.Type, prefix string, into map[string]bool) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		path := prefix + name
		into[path] = true
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct:
			structFields(ft, path+".", into)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			structFields(ft.Elem(), path+"[].", into)
		}
	}
}

// jsonFields collects the same paths from a decoded config.
func jsonFields(v map[string]any, prefix string, into map[string]bool) {
	for k, val := range v {
		path := prefix + k
		into[path] = true
		switch x := val.(type) {
		case map[string]any:
			jsonFields(x, path+".", into)
		case []any:
			for _, item := range x {
				if m, ok := item.(map[string]any); ok {
					jsonFields(m, path+"[].", into)
				}
			}
		}
	}
}
