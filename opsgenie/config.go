package opsgenie

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for Opsgenie.
const Type = "opsgenie"

// The alert URLs that Config.URL may name (docs.opsgenie.com/docs/alert-api;
// developer.atlassian.com, Jira Service Management Operations REST API).
const (
	// AlertsURL is Opsgenie's Alert API.
	AlertsURL = "https://api.opsgenie.com/v2/alerts"
	// AlertsURLEU is the Alert API of Opsgenie accounts in the EU region.
	AlertsURLEU = "https://api.eu.opsgenie.com/v2/alerts"
	// AlertsURLJSM is the alerts endpoint of Jira Service Management
	// Operations, which replaces Opsgenie when its support ends (2027-04-05).
	AlertsURLJSM = "https://api.atlassian.com/jsm/ops/integration/v2/alerts"
)

// Config is an Opsgenie integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// URL is the alerts endpoint: AlertsURL, AlertsURLEU or AlertsURLJSM.
	URL string `json:"url"`
	// TeamID, when set, is the id (a UUID) of the team each alert is routed
	// to as its responder. Without it the alert goes where the integration
	// routes it.
	TeamID string `json:"team_id,omitempty"`
	// APIKey is the key of an Opsgenie (or JSM Operations) API integration,
	// sent as "Authorization: GenieKey <key>".
	APIKey notify.Secret `json:"api_key"`
}

var alertURLs = []string{AlertsURL, AlertsURLEU, AlertsURLJSM}

// uuidPattern is the form of an Opsgenie team id.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Validate checks every field offline and reports all bad ones at once.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	checkAlertsURL(&errs, c.URL)
	if c.TeamID != "" && !uuidPattern.MatchString(c.TeamID) {
		errs.Add("team_id", "must be the team's id, a UUID such as 4513b7ea-3b91-438f-b7e4-e3e54af9147c (not its name)")
	}
	if errs.CheckSecret("api_key", c.APIKey, true) {
		key := c.APIKey.Reveal()
		switch {
		case strings.HasPrefix(strings.ToLower(key), "geniekey"):
			errs.Add("api_key", "must be the key alone, without the \"GenieKey\" prefix")
		case strings.ContainsAny(key, " \t"):
			errs.Add("api_key", "must not contain spaces: paste the API integration's key alone")
		}
	}
	return errs.Err()
}

func checkAlertsURL(errs *validate.Errors, raw string) {
	const field = "url"
	for _, u := range alertURLs {
		if raw == u {
			return
		}
	}
	want := AlertsURL + ", " + AlertsURLEU + " (EU accounts) or " + AlertsURLJSM + " (Jira Service Management)"
	if strings.TrimSpace(raw) == "" {
		errs.Add(field, "is required: "+want)
		return
	}
	if s := suggestAlertsURL(raw); s != "" {
		errs.Addf(field, "did you mean %s?", s)
		return
	}
	errs.Add(field, "must be "+want)
}

// suggestAlertsURL returns the alerts URL that raw was meant to be, or ""
// when it is not close to one: another scheme or letter case, a trailing
// slash, a bare API host, or the web app's host.
func suggestAlertsURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Host)
	path := strings.ToLower(strings.TrimRight(u.Path, "/"))
	switch {
	case host == "api.opsgenie.com" && (path == "" || path == "/v2" || path == "/v2/alerts"):
		return AlertsURL
	case host == "api.eu.opsgenie.com" && (path == "" || path == "/v2" || path == "/v2/alerts"):
		return AlertsURLEU
	case host == "api.atlassian.com" && strings.HasPrefix(path, "/jsm/ops/integration"):
		return AlertsURLJSM
	case strings.HasSuffix(host, ".app.eu.opsgenie.com"):
		return AlertsURLEU
	case strings.HasSuffix(host, ".app.opsgenie.com"), host == "opsgenie.com", host == "app.opsgenie.com":
		return AlertsURL
	}
	return ""
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
