package playground_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/sample"
	"github.com/codedefender/integrations/notify"
)

// TestFanoutOpenThenResolvedLeavesNothingOpen is the alert lifecycle
// across all ten: a Fanout of an alert, then of its resolution, against the
// fakes. Every destination that keeps state ends with nothing open; the
// others hold the resolution as its own message or record.
func TestFanoutOpenThenResolvedLeavesNothingOpen(t *testing.T) {
	p := start(t)
	ns, err := integrations.BuildAll(p.Integrations, p.Options()...)
	require.NoError(t, err)
	defer closeAll(ns)
	targets := map[string]notify.Notifier{}
	for _, n := range ns {
		targets[n.Type] = n.Notifier
	}

	alert := sample.Alert(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	resolution := alert
	resolution.Status = notify.StatusResolved
	for _, e := range []notify.Event{alert, resolution} {
		results := notify.Fanout(ctx(t), e, targets)
		require.Len(t, results, 10)
		for _, r := range results {
			require.NoError(t, r.Err, "%s of a %s event", r.Name, e.Status)
		}
	}
	// A second resolution finds nothing left to close and opens nothing.
	for _, r := range notify.Fanout(ctx(t), resolution, targets) {
		require.NoError(t, r.Err, "%s resolving twice", r.Name)
	}

	require.Empty(t, p.HTTP.PagerDutyOpen(), "pagerduty")
	require.Len(t, p.HTTP.PagerDutyAlerts(), 1)
	require.Empty(t, p.HTTP.OpsgenieOpen(), "opsgenie")
	require.Len(t, p.HTTP.OpsgenieAlerts(), 1)
	require.Empty(t, p.HTTP.WebhookOpen(), "webhook")

	issues := p.HTTP.JiraIssues()
	require.Len(t, issues, 1, "jira files one issue and resolves it")
	require.Equal(t, "done", issues[0].StatusCategory, "jira")
	require.NotEmpty(t, issues[0].Comments)

	incidents := p.HTTP.DatadogIncidents()
	require.Len(t, incidents, 1, "datadog opens one incident and resolves it")
	require.Equal(t, "resolved", incidents[0].State, "datadog")

	mail := p.Mail()
	require.GreaterOrEqual(t, len(mail), 2, "the alert's mail and its resolution's")
	require.True(t, strings.HasPrefix(mail[1].Subject, "Re: "), "the resolution replies to the alert: %q", mail[1].Subject)

	for name, list := range map[string]func() ([]string, error){"s3": p.S3Objects, "gcs": p.GCSObjects} {
		objects, err := list()
		require.NoError(t, err)
		var resolved int
		for _, o := range objects {
			if strings.Contains(o, alert.ID+"-resolved.json") {
				resolved++
			}
		}
		require.Equal(t, 1, resolved, "%s holds the resolution as its own record: %v", name, objects)
	}

	var statuses []string
	for _, ev := range p.HTTP.SplunkEvents() {
		var e notify.Event
		require.NoError(t, json.Unmarshal(ev.Event, &e))
		statuses = append(statuses, string(e.Status))
	}
	require.Contains(t, statuses, "resolved", "splunk indexes the resolution as its own event")
}
