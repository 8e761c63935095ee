// Package fakes runs a notifytest.Server with every vendor fake (Slack,
// PagerDuty, Opsgenie, Jira, Datadog, Splunk HEC and the webhook sink), the
// loopback stand-in the integration tests, the playground, the examples and
// cdnotify's tests talk to. Each fake lives beside its destination
// (slack/slacktest, …); Server keeps the accessor names they had when they
// all lived in notifytest, forwarding to the fake; what no caller uses is
// reached through the fake's field (srv.Jira.SetProjects).
package fakes

import (
	"testing"
	"time"

	"github.com/codedefender/integrations/datadog/datadogtest"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/opsgenie/opsgenietest"
	"github.com/codedefender/integrations/pagerduty/pagerdutytest"
	"github.com/codedefender/integrations/slack/slacktest"
	"github.com/codedefender/integrations/splunk/splunktest"
	"github.com/codedefender/integrations/webhook/webhooktest"
)

// Server is a notifytest.Server running every vendor fake, each reachable
// by its field.
type Server struct {
	*notifytest.Server

	Slack     *slacktest.Fake
	PagerDuty *pagerdutytest.Fake
	Opsgenie  *opsgenietest.Fake
	Jira      *jiratest.Fake
	Datadog   *datadogtest.Fake
	Splunk    *splunktest.Fake
	Webhook   *webhooktest.Fake
}

// newFakes returns a Server's fakes, its notifytest.Server not yet set.
func newFakes() *Server {
	return &Server{
		Slack: slacktest.New(), PagerDuty: pagerdutytest.New(), Opsgenie: opsgenietest.New(),
		Jira: jiratest.New(), Datadog: datadogtest.New(), Splunk: splunktest.New(), Webhook: webhooktest.New(),
	}
}

// list is the fakes in routing order: Opsgenie before Jira (both serve
// api.atlassian.com), Splunk (/services/collector on any host) after the
// other vendors, and the webhook sink, which takes everything, last.
func (s *Server) list() []notifytest.Fake {
	return []notifytest.Fake{s.Slack, s.PagerDuty, s.Opsgenie, s.Jira, s.Datadog, s.Splunk, s.Webhook}
}

// NewServer starts a Server for a test and closes it in t.Cleanup, as
// notifytest.NewServer does; a nil t is allowed for programs, which then
// close it themselves.
func NewServer(t testing.TB) *Server {
	if t != nil {
		t.Helper()
	}
	s := newFakes()
	s.Server = notifytest.NewServer(t, s.list()...)
	return s
}

// StartServer starts a Server for a program; the caller must Close it.
func StartServer() (*Server, error) {
	s := newFakes()
	srv, err := notifytest.StartServer(s.list()...)
	if err != nil {
		return nil, err
	}
	s.Server = srv
	return s, nil
}

// PagerDutyAlerts is PagerDuty.Alerts.
func (s *Server) PagerDutyAlerts() []pagerdutytest.Alert { return s.PagerDuty.Alerts() }

// PagerDutyOpen is PagerDuty.Open.
func (s *Server) PagerDutyOpen() []pagerdutytest.Alert { return s.PagerDuty.Open() }

// OpsgenieAlerts is Opsgenie.Alerts.
func (s *Server) OpsgenieAlerts() []opsgenietest.Alert { return s.Opsgenie.Alerts() }

// OpsgenieOpen is Opsgenie.Open.
func (s *Server) OpsgenieOpen() []opsgenietest.Alert { return s.Opsgenie.Open() }

// JiraIssues is Jira.Issues.
func (s *Server) JiraIssues() []jiratest.Issue { return s.Jira.Issues() }

// SetJiraWorkflow is Jira.SetWorkflow.
func (s *Server) SetJiraWorkflow(ts ...jiratest.Transition) { s.Jira.SetWorkflow(ts...) }

// SetJiraAnonymousAccess is Jira.SetAnonymousAccess.
func (s *Server) SetJiraAnonymousAccess(on bool) { s.Jira.SetAnonymousAccess(on) }

// DatadogIncidents is Datadog.Incidents.
func (s *Server) DatadogIncidents() []datadogtest.Incident { return s.Datadog.Incidents() }

// HoldDatadogAnswers is Datadog.HoldAnswers.
func (s *Server) HoldDatadogAnswers(n int, d time.Duration) { s.Datadog.HoldAnswers(n, d) }

// SplunkEvents is Splunk.Events.
func (s *Server) SplunkEvents() []splunktest.Event { return s.Splunk.Events() }

// SetSplunkIndexes is Splunk.SetIndexes.
func (s *Server) SetSplunkIndexes(indexes ...string) { s.Splunk.SetIndexes(indexes...) }

// SetWebhookSecret is Webhook.SetSecret.
func (s *Server) SetWebhookSecret(secret notify.Secret) error { return s.Webhook.SetSecret(secret) }

// WebhookOpen is Webhook.Open.
func (s *Server) WebhookOpen() []string { return s.Webhook.Open() }
