package integrations

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"

	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/schema"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// configTypes maps each integration type to its Config struct. Merge, Mask
// and Schema work from these types alone, by reflection, so that a field
// added to a Config is masked, merged and described without a change here.
var configTypes = map[string]reflect.Type{
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

var schemas = sync.OnceValues(func() (map[string][]byte, error) {
	out := make(map[string][]byte, len(configTypes))
	for typ, t := range configTypes {
		b, err := schema.Generate(typ, t)
		if err != nil {
			return nil, err
		}
		out[typ] = b
	}
	return out, nil
})

// Schema returns the JSON Schema (draft 2020-12) of the config object of
// integration type typ, for a console to draw its form and pre-check it
// before Save. It is generated from typ's Config struct: each property's
// title is the console's label and its description the help text; fields
// without a default are required; unknown properties are refused; methods,
// protocols, TLS modes, compressions and fixed vendor URLs are enums; and
// formats and patterns say what they can. Secrets are
// {"type": "string", "format": "password", "writeOnly": true}.
//
// The schema is a pre-check: a config it accepts can still fail Validate,
// which checks what no schema can (a PEM key that parses, a template that
// renders). It accepts the [REDACTED] mask in a secret, since the console
// sends back what Mask gave it and Merge restores the secret.
func Schema(typ string) ([]byte, error) {
	all, err := schemas()
	if err != nil {
		return nil, err
	}
	b, ok := all[typ]
	if !ok {
		return nil, fmt.Errorf("integrations: unknown integration type %q (known: %s)", typ, strings.Join(Types(), ", "))
	}
	return append([]byte(nil), b...), nil
}

// Schemas returns the schema of every integration type, keyed by type (see
// Schema). The map and its slices are the caller's to keep or change.
func Schemas() map[string][]byte {
	all, err := schemas()
	if err != nil {
		// Generate fails only for a type missing from internal/schema's
		// table, which the tests rule out.
		panic(err)
	}
	out := maps.Clone(all)
	for k, v := range out {
		out[k] = append([]byte(nil), v...)
	}
	return out
}
