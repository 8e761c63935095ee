package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/identity"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// fakeConfig stands in for a destination package's Config.
type fakeConfig struct {
	Name  string        `json:"name"`
	Token notify.Secret `json:"token"`
	Port  int           `json:"port"`
	Inner struct {
		Mode string `json:"mode"`
	} `json:"inner"`
}

type fakeNotifier struct {
	identity.Identity
	cfg fakeConfig
}

func (f *fakeNotifier) Validate() error                { return nil }
func (f *fakeNotifier) Test(ctx context.Context) error { return nil }
func (f *fakeNotifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	return notify.Receipt{}, nil
}

func newFake(c fakeConfig, _ ...notify.Option) (*fakeNotifier, error) {
	var fe validate.Errors
	fe.CheckName("name", c.Name)
	fe.CheckSecret("token", c.Token, true)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &fakeNotifier{Identity: identity.New("fake", c.Name), cfg: c}, nil
}

func fakeFactory(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, newFake, opts...)
}

func TestRegistryBuild(t *testing.T) {
	var r notify.Registry
	require.NoError(t, r.Register("fake", fakeFactory))
	require.Error(t, r.Register("fake", fakeFactory), "a type registers once")
	require.Error(t, r.Register("", fakeFactory))
	require.Equal(t, []string{"fake"}, r.Types())

	n, err := r.Build([]byte(`{"type":"fake","config":{"name":"Prod","token":"s3cr3t-value","port":25,"inner":{"mode":"x"}}}`))
	require.NoError(t, err)
	f := n.(*fakeNotifier)
	require.Equal(t, "s3cr3t-value", f.cfg.Token.Reveal())
	require.Equal(t, "Prod", f.Name())
	require.Equal(t, "fake", f.Type())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		require.Equal(t, `fake("Prod")`, fmt.Sprintf(verb, n), "a Notifier prints its type and name only")
	}

	tests := []struct {
		name, json, field, msg string
	}{
		{"unknown type", `{"type":"fax","config":{}}`, "type", `unknown integration type "fax" (known: fake)`},
		{"unknown envelope field", `{"type":"fake","config":{},"extra":1}`, "extra", "is not a known field"},
		{"unknown config field", `{"type":"fake","config":{"name":"a","token":"tttt","colour":"red"}}`, "config.colour", "is not a known field"},
		{"nested unknown field", `{"type":"fake","config":{"name":"a","token":"tttt","inner":{"mood":"x"}}}`, "config.mood", "is not a known field"},
		{"wrong type", `{"type":"fake","config":{"name":"a","token":"tttt","port":"25"}}`, "config.port", "must be a JSON number, not string"},
		{"nested wrong type", `{"type":"fake","config":{"name":"a","token":"tttt","inner":{"mode":3}}}`, "config.inner.mode", "must be a JSON string, not number"},
		{"secret not a string", `{"type":"fake","config":{"name":"a","token":12345}}`, "config.token", "must be a JSON string, not number"},
		{"missing config", `{"type":"fake"}`, "config", "is required"},
		{"not json", `{"type":`, "config", "is empty or cut short"},
		{"trailing data", `{"type":"fake","config":{}} {}`, "config", "has data after the JSON object"},
		{"bad field from New", `{"type":"fake","config":{"name":"","token":"[REDACTED]"}}`, "config.name", "is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Build([]byte(tt.json))
			var ve *notify.ValidationError
			require.ErrorAs(t, err, &ve, err)
			require.Equal(t, tt.field, ve.Fields[0].Field)
			require.Equal(t, tt.msg, ve.Fields[0].Message)
		})
	}
	_, err = r.Build([]byte(`{"type":"fake","config":{"name":"a","token":"supersecretvalue","port":"x"}}`))
	require.NotContains(t, err.Error(), "supersecretvalue")
}

func TestForTypeReachesOnlyItsType(t *testing.T) {
	var r notify.Registry
	var got []settings.Settings
	record := func(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
		got = append(got, settings.Apply(opts...))
		return fakeFactory(raw, opts...)
	}
	require.NoError(t, r.Register("a", record))
	require.NoError(t, r.Register("b", record))
	opts := []notify.Option{
		notify.WithUserAgent("all/1"),
		notify.ForType("a", notify.WithTimeout(time.Minute)),
		notify.ForType("a", notify.WithUserAgent("a/1")),
		notify.ForType("b", notify.WithAllowPrivateNetworks()),
	}
	for _, typ := range []string{"a", "b"} {
		_, err := r.Build([]byte(`{"type":"`+typ+`","config":{"name":"x","token":"tttt"}}`), opts...)
		require.NoError(t, err)
	}
	require.Equal(t, time.Minute, got[0].Timeout)
	require.Equal(t, "a/1", got[0].UserAgent, "a type's own options come after the shared ones")
	require.False(t, got[0].AllowPrivateNetworks)
	require.Equal(t, notify.DefaultTimeout, got[1].Timeout)
	require.Equal(t, "all/1", got[1].UserAgent)
	require.True(t, got[1].AllowPrivateNetworks)
}
