package jira

import (
	"encoding/json"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for Jira.
const Type = "jira"

// DefaultIssueType is the issue type used when Config.IssueType is empty.
const DefaultIssueType = "Task"

// Config is a Jira integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// URL is the site's v2 create-issue address,
	// https://<site>.atlassian.net/rest/api/2/issue/ (the trailing slash is
	// optional). Only v2 is accepted: v3 wants descriptions in the Atlassian
	// Document Format, and this package writes wiki markup.
	URL string `json:"url"`
	// ProjectID is the numeric id of the project (a JSON string of digits),
	// not its key: ids survive a project being renamed or re-keyed.
	ProjectID string `json:"project_id"`
	// APIToken is a classic Atlassian API token of the reporter's account.
	APIToken notify.Secret `json:"api_token"`
	// ReporterEmail is the e-mail address of the account the token belongs
	// to; with the token it forms the Basic auth pair, and issues are filed
	// as this account.
	ReporterEmail string `json:"reporter_email"`
	// IssueType is the name of the issue type to file (case-insensitive in
	// Test); empty means DefaultIssueType.
	IssueType string `json:"issue_type,omitempty"`
	// PriorityFromRisk sets each issue's priority from the event's risk
	// (critical → Highest … info → Lowest). It needs the Priority field on
	// the issue type's create screen.
	PriorityFromRisk bool `json:"priority_from_risk,omitempty"`
}

// maxIssueTypeRunes bounds an issue type name: it goes into a JSON body and
// into error messages, and Jira's own names are far shorter (255 is the
// single-line field limit).
const maxIssueTypeRunes = 255

// maxProjectIDDigits keeps a project id within Jira's 64-bit ids.
const maxProjectIDDigits = 18

// siteLabel is one DNS label: the <site> in <site>.atlassian.net.
var siteLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// urlForm is the one URL shape Validate accepts, as field errors show it.
const urlForm = "https://<site>.atlassian.net/rest/api/2/issue/"

// Validate checks every field offline and reports all bad ones at once.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compiled is what New needs of a valid Config beyond its fields.
type compiled struct {
	base string // https://<site>.atlassian.net
}

// compile is the one parse of a Config that Validate and New share: every
// bad field at once, or what New builds on.
func (c Config) compile() (compiled, error) {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	base, msg := parseSiteURL(c.URL)
	if msg != "" {
		errs.Add("url", msg)
	}
	checkProjectID(&errs, c.ProjectID)
	if errs.CheckSecret("api_token", c.APIToken, true) {
		if strings.TrimSpace(c.APIToken.Reveal()) != c.APIToken.Reveal() {
			errs.Add("api_token", "has spaces before or after it: paste the token alone")
		}
	}
	checkEmail(&errs, c.ReporterEmail)
	checkIssueType(&errs, c.IssueType)
	return compiled{base: base}, errs.Err()
}

// issueType returns the configured issue type or the default.
func (c Config) issueType() string {
	if c.IssueType == "" {
		return DefaultIssueType
	}
	return c.IssueType
}

// parseSiteURL checks a create-issue URL and returns the site's base
// (https://<site>.atlassian.net), or a field message saying what is wrong.
func parseSiteURL(raw string) (base string, msg string) {
	if strings.TrimSpace(raw) == "" {
		return "", "is required: " + urlForm
	}
	if strings.TrimSpace(raw) != raw {
		return "", "has spaces before or after it: paste the URL alone"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", "is not a URL: it must look like " + urlForm
	}
	host := strings.ToLower(u.Host)
	site, onAtlassian := strings.CutSuffix(host, ".atlassian.net")
	switch {
	case u.Scheme != "https":
		return "", "must start with https:// and look like " + urlForm
	case u.User != nil:
		return "", "must not carry a user name or password: the credentials go in reporter_email and api_token"
	case host == "api.atlassian.com":
		return "", "is an api.atlassian.com address, which scoped and service-account tokens need; " +
			"this integration takes a classic API token and the site's own address, " + urlForm
	case !onAtlassian || !siteLabel.MatchString(site) || u.Port() != "":
		return "", "must be on your Jira Cloud site, " + urlForm
	case u.RawQuery != "" || u.Fragment != "":
		return "", "must have nothing after /issue/ (no ?query or #fragment): " + urlForm
	}
	base = "https://" + host
	path := strings.TrimSuffix(u.Path, "/")
	switch {
	case path == "/rest/api/2/issue":
		return base, ""
	case path == "/rest/api/3/issue" || path == "/rest/api/latest/issue":
		return "", "must be the v2 address " + base + "/rest/api/2/issue/: v3 wants descriptions in the " +
			"Atlassian Document Format, and this integration writes wiki markup, which only v2 accepts"
	default:
		return "", "must be the create-issue address; did you mean " + base + "/rest/api/2/issue/?"
	}
}

func checkProjectID(errs *validate.Errors, id string) {
	const field = "project_id"
	switch {
	case id == "":
		errs.Add(field, "is required: the project's numeric id (Project settings → Details, or /rest/api/2/project/<KEY>)")
	case strings.Trim(id, "0123456789") != "":
		errs.Add(field, "must be the project's numeric id (digits only), not its key or name")
	case len(id) > maxProjectIDDigits:
		errs.Addf(field, "must be at most %d digits", maxProjectIDDigits)
	case strings.Trim(id, "0") == "":
		errs.Add(field, "must be a positive number")
	}
}

func checkEmail(errs *validate.Errors, email string) {
	const field = "reporter_email"
	if email == "" {
		errs.Add(field, "is required: the e-mail address of the account the API token belongs to")
		return
	}
	if text.HasControl(email) {
		errs.Add(field, "must not contain line breaks or control characters")
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		errs.Add(field, "must be a plain e-mail address such as name@example.com")
	}
}

func checkIssueType(errs *validate.Errors, name string) {
	const field = "issue_type"
	switch {
	case name == "":
		// The default.
	case strings.TrimSpace(name) != name:
		errs.Add(field, "must not start or end with spaces")
	case !utf8.ValidString(name) || text.HasControl(name):
		errs.Add(field, "must be plain text without control characters")
	case utf8.RuneCountInString(name) > maxIssueTypeRunes:
		errs.Addf(field, "must be at most %d characters", maxIssueTypeRunes)
	}
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
