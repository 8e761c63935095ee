// Package integrations builds any of the ten Code Defender destinations from
// the JSON the console stores, in one call:
//
//	n, err := integrations.Build([]byte(`{"type":"slack","config":{...}}`))
//
// It imports every destination package. A service that uses one or two
// destinations can import those packages alone and call their New or
// FromJSON, or fill its own notify.Registry with them: nothing registers
// itself behind the caller's back.
//
// For a console's forms it also offers Schema and Schemas (the JSON Schema
// of each type's config, with the console's labels and help text), Mask
// (the display form of a stored integration, every secret masked) and Merge
// (what to store when the user saves a form that was shown masked: the
// secrets left masked keep their stored values).
package integrations

import (
	"encoding/json"
	"fmt"

	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/s3"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// Factories maps each integration type to its destination's FromJSON.
var factories = map[string]notify.Factory{
	datadog.Type:   datadog.FromJSON,
	email.Type:     email.FromJSON,
	gcs.Type:       gcs.FromJSON,
	jira.Type:      jira.FromJSON,
	opsgenie.Type:  opsgenie.FromJSON,
	pagerduty.Type: pagerduty.FromJSON,
	s3.Type:        s3.FromJSON,
	slack.Type:     slack.FromJSON,
	splunk.Type:    splunk.FromJSON,
	webhook.Type:   webhook.FromJSON,
}

// NewRegistry returns a notify.Registry with all ten destinations
// registered. Callers may register more types of their own on it.
func NewRegistry() *notify.Registry {
	r := &notify.Registry{}
	for typ, f := range factories {
		if err := r.Register(typ, f); err != nil {
			panic(err) // the table above holds each type once
		}
	}
	return r
}

var all = NewRegistry()

// Build turns one stored integration, {"type": "...", "config": {...}}, into
// a Notifier. An unknown type, an unknown JSON field or a bad field is an
// error that names it.
func Build(data []byte, opts ...notify.Option) (notify.Notifier, error) {
	return all.Build(data, opts...)
}

// Types returns the ten integration type names, sorted.
func Types() []string { return all.Types() }

// Named is one built integration of a file: its name in the console and its
// Notifier.
type Named struct {
	Type     string
	Name     string
	Notifier notify.Notifier
}

// BuildAll builds every integration of a JSON list such as the console
// stores ([{"type": "...", "config": {...}}, ...]). It returns every error at
// once, each prefixed with the entry's index, and no Notifier unless all are
// valid. Names must be unique, since they key fan-out results.
func BuildAll(data []byte, opts ...notify.Option) ([]Named, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("integrations: the file must be a JSON list of {\"type\", \"config\"} objects: %w", err)
	}
	var (
		out  []Named
		errs validate.Errors
		seen = map[string]int{}
	)
	for i, raw := range entries {
		n, err := all.Build(raw, opts...)
		if err != nil {
			errs.Merge(fmt.Sprintf("[%d]", i), err)
			continue
		}
		named, _ := n.(notify.Named)
		item := Named{Notifier: n}
		if named != nil {
			item.Type, item.Name = named.Type(), named.Name()
		}
		if j, dup := seen[item.Name]; dup {
			errs.Addf(fmt.Sprintf("[%d].config.name", i), "%q is already the name of entry %d", item.Name, j)
			continue
		}
		seen[item.Name] = i
		out = append(out, item)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
