package notify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

const secretValue = "xoxb-very-secret-token-value"

type holder struct {
	Name   string        `json:"name"`
	Token  notify.Secret `json:"token"`
	Nested struct {
		Key notify.Secret `json:"key"`
	} `json:"nested"`
	Ptr  *notify.Secret           `json:"ptr"`
	List []notify.Secret          `json:"list"`
	Map  map[string]notify.Secret `json:"map"`
}

func newHolder() holder {
	s := notify.Secret(secretValue)
	h := holder{Name: "x", Token: s, Ptr: &s, List: []notify.Secret{s}, Map: map[string]notify.Secret{"k": s}}
	h.Nested.Key = s
	return h
}

func TestSecretNeverPrints(t *testing.T) {
	s := notify.Secret(secretValue)
	h := newHolder()
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-20v", "%T %v"}
	for _, v := range verbs {
		for _, arg := range []any{s, &s, h, &h} {
			out := fmt.Sprintf(v, arg)
			require.NotContains(t, out, secretValue, "verb %s on %T", v, arg)
			require.NotContains(t, out, fmt.Sprintf("%x", secretValue), "verb %s on %T", v, arg)
		}
	}
	require.Equal(t, notify.Redacted, s.String())
	require.Equal(t, secretValue, s.Reveal())
	require.Equal(t, "", notify.Secret("").String(), "an unset secret prints empty")
	require.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%#v", s))
}

func TestSecretJSON(t *testing.T) {
	b, err := json.Marshal(newHolder())
	require.NoError(t, err)
	require.NotContains(t, string(b), secretValue)
	require.JSONEq(t, `{"name":"x","token":"[REDACTED]","nested":{"key":"[REDACTED]"},"ptr":"[REDACTED]","list":["[REDACTED]"],"map":{"k":"[REDACTED]"}}`, string(b))

	b, err = json.Marshal(holder{})
	require.NoError(t, err)
	require.Contains(t, string(b), `"token":""`, "an unset secret marshals empty, so a console shows it unset")

	var h holder
	require.NoError(t, json.Unmarshal([]byte(`{"token":"plain-value"}`), &h))
	require.Equal(t, "plain-value", h.Token.Reveal())
	require.Error(t, json.Unmarshal([]byte(`{"token":42}`), &h))
}

func TestSecretInSlog(t *testing.T) {
	s := notify.Secret(secretValue)
	h := newHolder()
	var buf bytes.Buffer
	for _, l := range []*slog.Logger{
		slog.New(slog.NewTextHandler(&buf, nil)),
		slog.New(slog.NewJSONHandler(&buf, nil)),
	} {
		l.Info("msg", "secret", s, "holder", h, "ptr", &h, slog.Any("any", s), slog.Group("g", "s", s))
	}
	require.Contains(t, buf.String(), notify.Redacted)
	notifytest.AssertNoSecret(t, buf.String(), s)
}
