package testkit

import (
	"bytes"
	"encoding/json"
	"path"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/schema"
)

// CompileSchema generates the JSON Schema of integration type typ, whose
// Config is rt, and compiles it as draft 2020-12 with format assertions on
// (so "email", "uri" and "uuid" are checked, as a console's validator may).
func CompileSchema(t testing.TB, typ string, rt reflect.Type) *jsonschema.Schema {
	t.Helper()
	b, err := schema.Generate(typ, rt)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err, "the %s schema is not JSON", typ)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	url := "urn:codedefender:schema:" + typ
	require.NoError(t, c.AddResource(url, doc))
	s, err := c.Compile(url)
	require.NoError(t, err, "the %s schema does not compile", typ)
	return s
}

// SchemaErr validates the JSON document b against s and returns what it
// violates (nil when it conforms).
func SchemaErr(t testing.TB, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err, "not JSON")
	return s.Validate(inst)
}

// TypeOf returns the integration type name of a destination's Config: the
// last element of its package path ("slack" for slack.Config), which is
// each package's Type.
func TypeOf(rt reflect.Type) string { return path.Base(rt.PkgPath()) }

// checkSchema asserts that the schema s of the config's type rejects the
// config as json.Marshal writes it.
func checkSchema(t *testing.T, s *jsonschema.Schema, config any) {
	t.Helper()
	rejected, b, err := rejects(s, config)
	require.NoError(t, err)
	require.True(t, rejected, "the schema accepts a config that Validate refuses: %s "+
		"(json.Marshal masks secrets, so a fault in a secret's value is not a Schema case)", b)
}

// rejects reports whether s rejects config as json.Marshal writes it, and
// returns that JSON. Secrets are masked in it, which changes nothing: no
// schema rule is about a secret's value (the console sends the mask back).
func rejects(s *jsonschema.Schema, config any) (bool, []byte, error) {
	b, err := json.Marshal(config)
	if err != nil {
		return false, nil, err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return false, b, err
	}
	return s.Validate(inst) != nil, b, nil
}
