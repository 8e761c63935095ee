package datadog

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for Datadog Incidents.
const Type = "datadog"

// Config is a Datadog Incidents integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// URL is the incidents endpoint of the organisation's Datadog site,
	// https://api.<site>/api/v2/incidents, for example
	// https://api.datadoghq.eu/api/v2/incidents.
	URL string `json:"url"`
	// ApplicationKey is an application key whose owner (or scopes) may
	// write incidents (incident_write).
	ApplicationKey notify.Secret `json:"application_key"`
	// APIKey is an API key of the same organisation.
	APIKey notify.Secret `json:"api_key"`
}

// site is one Datadog site: the host of its API and the host of its web
// app, where people open an incident.
type site struct {
	name string // the site parameter, e.g. "datadoghq.eu"
	api  string // e.g. "api.datadoghq.eu"
	web  string // e.g. "app.datadoghq.eu"
}

// sites lists the nine Datadog sites (https://docs.datadoghq.com/getting_started/site/; the web hosts are
// from "Getting Started with Datadog Sites"): only US1, EU1 and US1-FED
// serve the web app on app.<site>; the others serve it on the site itself.
var sites = []site{
	{name: "datadoghq.com", api: "api.datadoghq.com", web: "app.datadoghq.com"},         // US1
	{name: "us3.datadoghq.com", api: "api.us3.datadoghq.com", web: "us3.datadoghq.com"}, // US3
	{name: "us5.datadoghq.com", api: "api.us5.datadoghq.com", web: "us5.datadoghq.com"}, // US5
	{name: "datadoghq.eu", api: "api.datadoghq.eu", web: "app.datadoghq.eu"},            // EU1
	{name: "ap1.datadoghq.com", api: "api.ap1.datadoghq.com", web: "ap1.datadoghq.com"}, // AP1
	{name: "ap2.datadoghq.com", api: "api.ap2.datadoghq.com", web: "ap2.datadoghq.com"}, // AP2
	{name: "uk1.datadoghq.com", api: "api.uk1.datadoghq.com", web: "uk1.datadoghq.com"}, // UK1
	{name: "ddog-gov.com", api: "api.ddog-gov.com", web: "app.ddog-gov.com"},            // US1-FED
	{name: "us2.ddog-gov.com", api: "api.us2.ddog-gov.com", web: "us2.ddog-gov.com"},    // US2-FED
}

// incidentsPath is the create-incident endpoint on a site's API host.
const incidentsPath = "/api/v2/incidents"

// Datadog's key formats: API keys are 32 hexadecimal characters,
// application keys 40 (docs.datadoghq.com/account_management/api-app-keys).
// Validate uses them only to spot two keys pasted into each other's field.
const (
	apiKeyLength = 32
	appKeyLength = 40
)

// Validate checks every field offline and reports all bad ones at once.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compile is the one parse of a Config that Validate and New share: every
// bad field at once, or the site New builds on.
func (c Config) compile() (site, error) {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	st, msg := parseURL(c.URL)
	if msg != "" {
		errs.Add("url", msg)
	}
	appOK := errs.CheckSecret("application_key", c.ApplicationKey, true) && checkSpaces(&errs, "application_key", c.ApplicationKey)
	apiOK := errs.CheckSecret("api_key", c.APIKey, true) && checkSpaces(&errs, "api_key", c.APIKey)
	if appOK && apiOK {
		app, api := c.ApplicationKey.Reveal(), c.APIKey.Reveal()
		switch {
		case app == api:
			errs.Add("api_key", "is the same as application_key: Datadog gives each organisation API keys and application keys, which differ")
		case isHex(api, appKeyLength) && isHex(app, apiKeyLength):
			errs.Add("api_key", "looks like an application key (40 characters) and application_key like an API key (32): are they swapped?")
		}
	}
	return st, errs.Err()
}

func checkSpaces(errs *validate.Errors, field string, s notify.Secret) bool {
	if strings.TrimSpace(s.Reveal()) != s.Reveal() {
		errs.Add(field, "has spaces before or after it: paste the key alone")
		return false
	}
	return true
}

func isHex(s string, n int) bool {
	return len(s) == n && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// urlForm is the URL shape Validate accepts, as field errors show it.
const urlForm = "https://api.<site>/api/v2/incidents"

// parseURL checks an incidents URL and returns its site, or a field
// message saying what is wrong, with a "did you mean" where it can tell.
func parseURL(raw string) (site, string) {
	if strings.TrimSpace(raw) == "" {
		return site{}, "is required: " + urlForm + " for your Datadog site"
	}
	if strings.TrimSpace(raw) != raw {
		return site{}, "has spaces before or after it: paste the URL alone"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return site{}, "is not a URL: it must look like " + urlForm
	}
	host := strings.ToLower(u.Hostname())
	st, known := siteByHost(host)
	suggest := ""
	if known {
		suggest = "; did you mean https://" + st.api + incidentsPath + "?"
	}
	switch {
	case !known:
		return site{}, "must be on a Datadog site's API host (" + siteList() + "), as " + urlForm
	case u.Scheme != "https":
		return site{}, "must start with https://" + suggest
	case u.User != nil:
		return site{}, "must not carry a user name or password: the keys go in api_key and application_key"
	case u.Port() != "":
		return site{}, "must not name a port" + suggest
	case host != st.api:
		return site{}, "is the web address of " + st.name + ", not its API host" + suggest
	case strings.TrimSuffix(u.Path, "/") != incidentsPath || u.RawQuery != "" || u.Fragment != "":
		return site{}, "must be the incidents endpoint" + suggest
	}
	return st, ""
}

// siteByHost finds the site a host belongs to: its API host, its web host,
// the site name itself, or app.<site>.
func siteByHost(host string) (site, bool) {
	for _, s := range sites {
		if host == s.api || host == s.web || host == s.name || host == "app."+s.name {
			return s, true
		}
	}
	return site{}, false
}

func siteList() string {
	names := make([]string, len(sites))
	for i, s := range sites {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
