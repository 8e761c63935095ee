// Package testkit is the scaffolding every destination's tests share: the
// event fixtures, MockAPI (an httpmock transport that records the exact
// requests a destination sends), and the one shape of a Validate table.
package testkit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// FixtureTime is the time of every fixture event.
var FixtureTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FullEvent returns an event with every field set, holding the characters
// each destination's markup must escape: HTML and Slack's <, > and &, Jira
// wiki markup's *, _, |, {, }, [ and ], markdown's backticks, a quote and a
// non-ASCII rune.
func FullEvent() notify.Event {
	return notify.Event{
		ID:          "evt-123",
		Type:        notify.EventClientSideRisk,
		Title:       "New script on checkout",
		Description: "A script from <cdn.example.net> & *friends* appeared on /checkout: [a|b] {x} `y` \"z\" é.",
		Risk:        notify.RiskCritical,
		Time:        FixtureTime,
		URL:         "https://console.codedefender.example/alerts/evt-123?tab=1&x=2",
		Source:      "shop.example.com",
		Tags:        []string{"pci", "checkout"},
		Details:     map[string]string{"script": "https://cdn.example.net/a.js", "page": "/checkout"},
	}
}

// MinimalEvent returns an event with only the required fields.
func MinimalEvent() notify.Event {
	return notify.Event{
		ID:    "evt-1",
		Type:  notify.EventIncident,
		Title: "Minimal",
		Risk:  notify.RiskLow,
		Time:  FixtureTime,
	}
}

// Resolved returns e as its resolution: the same event with StatusResolved.
func Resolved(e notify.Event) notify.Event {
	e.Status = notify.StatusResolved
	return e
}

// ValidateCase is one row of a Validate table: a config and the JSON paths
// of the fields Validate must name, in order (nil: valid).
type ValidateCase[C any] struct {
	Name   string
	Config C
	Fields []string
	// Schema marks a fault the console's JSON Schema can express (a
	// missing required field, a pattern, an enum, a length): the schema of
	// the type must reject json.Marshal of the config too. A fault in a
	// secret's value is never one: json.Marshal masks it, and the schema
	// takes the mask, which the console sends back for Merge.
	Schema bool
}

// validator is what a destination's Config is.
type validator interface{ Validate() error }

// RunValidate runs a Validate table: each case is a subtest that checks the
// fields Validate names, and that no secret of the config reaches the error.
// A case marked Schema must be invalid, and the JSON Schema of the config's
// type (the last element of C's package path) must reject json.Marshal of
// its config too.
func RunValidate[C validator](t *testing.T, cases []ValidateCase[C], secrets func(C) []notify.Secret) {
	t.Helper()
	var s *jsonschema.Schema
	for _, tc := range cases {
		if tc.Schema {
			rt := reflect.TypeFor[C]()
			s = CompileSchema(t, TypeOf(rt), rt)
			break
		}
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			err := tc.Config.Validate()
			require.Equal(t, tc.Fields, notifytest.FieldsOf(err), "fields named by %v", err)
			if err != nil && secrets != nil {
				notifytest.AssertNoSecret(t, err, secrets(tc.Config)...)
			}
			if tc.Schema {
				require.NotEmpty(t, tc.Fields, "a Schema case is a config Validate refuses")
				checkSchema(t, s, tc.Config)
			}
		})
	}
}

// JSONEq asserts that got, a request body, is the JSON want.
func JSONEq(t testing.TB, want string, got []byte) {
	t.Helper()
	require.True(t, json.Valid(got), "the body is not JSON: %q", got)
	require.JSONEq(t, want, string(got))
}

// EditCase is one row of a Validate table written as an edit of a valid
// config: the field Validate must name ("" when the edit stays valid), part
// of that field's message, and whether the console's JSON Schema can
// express the fault.
type EditCase[C any] struct {
	Name   string
	Edit   func(*C)
	Field  string
	Want   string
	Schema bool
}

// RunEdits runs an edit table through RunValidate, each case applied to a
// fresh valid(), then checks that each refused field's message says what
// it should.
func RunEdits[C validator](t *testing.T, valid func() C, edits []EditCase[C], secrets func(C) []notify.Secret) {
	t.Helper()
	cases := make([]ValidateCase[C], len(edits))
	for i, ed := range edits {
		c := valid()
		ed.Edit(&c)
		cases[i] = ValidateCase[C]{Name: ed.Name, Config: c, Schema: ed.Schema}
		if ed.Field != "" {
			cases[i].Fields = []string{ed.Field}
		}
	}
	RunValidate(t, cases, secrets)
	for i, ed := range edits {
		if ed.Field == "" {
			continue
		}
		var ve *notify.ValidationError
		require.ErrorAs(t, cases[i].Config.Validate(), &ve, ed.Name)
		require.Contains(t, ve.Fields[0].Message, ed.Want, ed.Name)
	}
}
