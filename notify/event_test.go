package notify_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

func validEvent() notify.Event {
	return notify.Event{
		ID:    "evt-123",
		Type:  notify.EventClientSideRisk,
		Title: "New script on checkout",
		Risk:  notify.RiskHigh,
		Time:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestEventValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*notify.Event)
		fields []string
	}{
		{"valid", func(*notify.Event) {}, nil},
		{"no id", func(e *notify.Event) { e.ID = "" }, []string{"id"}},
		{"id with a dot", func(e *notify.Event) { e.ID = "evt.1" }, []string{"id"}},
		{"id with a slash", func(e *notify.Event) { e.ID = "../x" }, []string{"id"}},
		{"id too long", func(e *notify.Event) { e.ID = strings.Repeat("a", notify.MaxEventIDLength+1) }, []string{"id"}},
		{"id at the limit", func(e *notify.Event) { e.ID = strings.Repeat("a", notify.MaxEventIDLength) }, nil},
		{"no title", func(e *notify.Event) { e.Title = "  " }, []string{"title"}},
		{"unknown risk", func(e *notify.Event) { e.Risk = "severe" }, []string{"risk"}},
		{"no risk", func(e *notify.Event) { e.Risk = "" }, []string{"risk"}},
		{"unknown type", func(e *notify.Event) { e.Type = "alarm" }, []string{"type"}},
		{"zero time", func(e *notify.Event) { e.Time = time.Time{} }, []string{"time"}},
		{"year 10000", func(e *notify.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"time"}},
		{"year 0", func(e *notify.Event) { e.Time = time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC) }, []string{"time"}},
		{"javascript url", func(e *notify.Event) { e.URL = "javascript:alert(1)" }, []string{"url"}},
		{"everything wrong", func(e *notify.Event) { *e = notify.Event{} }, []string{"id", "type", "title", "risk", "time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.mutate(&e)
			err := e.Validate()
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			var ve *notify.ValidationError
			require.ErrorAs(t, err, &ve)
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			require.Equal(t, tt.fields, got)
		})
	}
}

func TestRiskAndTypeJSON(t *testing.T) {
	var e notify.Event
	err := json.Unmarshal([]byte(`{"id":"a","type":"PCI_SCOPE_CHANGE","title":"t","risk":"Critical","time":"2026-01-01T00:00:00Z"}`), &e)
	require.NoError(t, err)
	require.Equal(t, notify.RiskCritical, e.Risk)
	require.Equal(t, notify.EventPCIScopeChange, e.Type)

	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"a","type":"pci_scope_change","title":"t","risk":"critical","time":"2026-01-01T00:00:00Z"}`, string(b))

	err = json.Unmarshal([]byte(`{"risk":"severe"}`), &e)
	require.ErrorContains(t, err, `unknown risk "severe"`)
	err = json.Unmarshal([]byte(`{"type":"alarm"}`), &e)
	require.ErrorContains(t, err, `unknown event type "alarm"`)
	err = json.Unmarshal([]byte(`{"risk":3}`), &e)
	require.Error(t, err)

	_, err = notify.ParseRisk("HIGH")
	require.NoError(t, err)
	_, err = notify.ParseEventType("nope")
	require.Error(t, err)
}

func TestRiskScales(t *testing.T) {
	// The risk table of the README, row by row.
	want := map[notify.Risk][4]string{
		notify.RiskCritical: {"Highest", "critical", "P1", "SEV-1"},
		notify.RiskHigh:     {"High", "error", "P2", "SEV-2"},
		notify.RiskMedium:   {"Medium", "warning", "P3", "SEV-3"},
		notify.RiskLow:      {"Low", "info", "P4", "SEV-4"},
		notify.RiskInfo:     {"Lowest", "info", "P5", "SEV-5"},
	}
	require.Len(t, notify.Risks, len(want))
	for r, w := range want {
		got := [4]string{r.JiraPriority(), r.PagerDutySeverity(), r.OpsgeniePriority(), r.DatadogSeverity()}
		require.Equal(t, w, got, r)
		require.Regexp(t, `^#[0-9A-F]{6}$`, r.Color())
		require.Equal(t, strings.ToUpper(string(r)), r.Label())
	}
	require.Equal(t, "P5", notify.Risk("bogus").OpsgeniePriority(), "an unknown risk reads as info")
}

func TestValidationErrorListsEveryField(t *testing.T) {
	var fe validate.Errors
	require.NoError(t, fe.Err())
	fe.Add("webhook_url", "must be https")
	fe.Addf("to[1]", "is not an address (%d)", 1)
	fe.Merge("smtp", (&validate.Errors{{Field: "tls", Message: "unknown"}}).Err())
	fe.Merge("headers[0]", errors.New("bad"))
	err := fe.Err()
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "invalid: webhook_url: must be https; to[1]: is not an address (1); smtp.tls: unknown; headers[0]: bad", err.Error())
	require.True(t, ve.Has("smtp.tls"))
	require.False(t, ve.Has("smtp"))
}

func TestEventStatus(t *testing.T) {
	e := validEvent()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"status"`, "an open event omits its status")

	e.Status = notify.StatusResolved
	b, err = json.Marshal(e)
	require.NoError(t, err)
	require.Contains(t, string(b), `"status":"resolved"`)

	var back notify.Event
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, notify.StatusResolved, back.Status)
	require.True(t, back.Status.IsResolved())

	for in, want := range map[string]notify.Status{`"open"`: notify.StatusOpen, `""`: notify.StatusOpen, `"RESOLVED"`: notify.StatusResolved} {
		var s notify.Status
		require.NoError(t, json.Unmarshal([]byte(in), &s), in)
		require.Equal(t, want, s, in)
	}
	var s notify.Status
	require.Error(t, json.Unmarshal([]byte(`"closed"`), &s))
	require.Error(t, json.Unmarshal([]byte(`1`), &s))

	e.Status = "closed"
	require.Equal(t, []string{"status"}, fieldsOf(e.Validate()))
	require.Equal(t, "open", notify.StatusOpen.String())
}

func TestEventSizeBound(t *testing.T) {
	e := validEvent()
	e.Description = strings.Repeat("d", notify.MaxEventBytes-len(e.ID)-len(e.Title))
	require.NoError(t, e.Validate(), "an event exactly at the bound is accepted")
	e.Description += "x"
	require.Equal(t, []string{"event"}, fieldsOf(e.Validate()))

	e = validEvent()
	e.Details = map[string]string{"k": strings.Repeat("v", notify.MaxEventBytes)}
	require.Equal(t, []string{"event"}, fieldsOf(e.Validate()), "details count too")
	e = validEvent()
	e.Tags = []string{strings.Repeat("t", notify.MaxEventBytes/2), strings.Repeat("t", notify.MaxEventBytes/2)}
	require.Equal(t, []string{"event"}, fieldsOf(e.Validate()), "tags count too")
}

func fieldsOf(err error) []string {
	var ve *notify.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}
