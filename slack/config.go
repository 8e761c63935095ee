package slack

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for Slack.
const Type = "slack"

// Config is a Slack integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// WebhookURL is the incoming-webhook URL
	// (https://hooks.slack.com/services/T…/B…/…). The URL is the only
	// credential, so it is a Secret: it never appears in an error or a log.
	WebhookURL notify.Secret `json:"webhook_url"`
	// Channel is optional: a #channel that overrides the webhook's own, which
	// only legacy (custom-integration) webhooks honour. Webhooks created by a
	// Slack app always post to the channel chosen when the app was installed.
	Channel string `json:"channel,omitempty"`
}

// webhookPattern is the shape of a Slack incoming-webhook URL: a workspace
// id (T…), a webhook id (B…) and a 23-25 character token (the pattern
// trufflehog's Slack webhook detector uses,
// https://github.com/trufflesecurity/trufflehog/blob/main/pkg/detectors/slackwebhook/slackwebhook.go).
var webhookPattern = regexp.MustCompile(`^https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{23,25}$`)

// webhookForm is what a field error shows instead of the value, which is a
// credential and is never echoed.
const webhookForm = "https://hooks.slack.com/services/T…/B…/… (T and B followed by capital letters and digits, then a 23-25 character token)"

// maxChannelRunes is Slack's limit on a channel name, the '#' not counted
// (Slack help "Create a channel"; older docs said 21).
const maxChannelRunes = 80

// Validate checks every field offline and reports all bad ones at once.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	if errs.CheckSecret("webhook_url", c.WebhookURL, true) {
		checkWebhookURL(&errs, c.WebhookURL.Reveal())
	}
	checkChannel(&errs, c.Channel)
	return errs.Err()
}

// checkWebhookURL says what is wrong with a webhook URL without repeating
// any part of it.
func checkWebhookURL(errs *validate.Errors, raw string) {
	if webhookPattern.MatchString(raw) {
		return
	}
	const field = "webhook_url"
	if strings.TrimSpace(raw) != raw {
		errs.Add(field, "has spaces before or after it: paste the URL alone")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		errs.Add(field, "is not a URL: it must look like "+webhookForm)
	case u.Scheme != "https":
		errs.Add(field, "must start with https:// and look like "+webhookForm)
	case !strings.EqualFold(u.Host, "hooks.slack.com"):
		errs.Add(field, "must be on the host hooks.slack.com and look like "+webhookForm)
	case strings.HasPrefix(u.Path, "/workflows/") || strings.HasPrefix(u.Path, "/triggers/"):
		errs.Add(field, "is a Workflow Builder webhook; this integration takes an incoming-webhook URL, "+webhookForm)
	case u.RawQuery != "" || u.Fragment != "":
		errs.Add(field, "must have nothing after the token (no ?query or #fragment): "+webhookForm)
	default:
		errs.Add(field, "must look like "+webhookForm+"; copy it from the Slack app's Incoming Webhooks page")
	}
}

// checkChannel applies Slack's channel-name rules: '#', then lower-case
// letters, digits, '-' and '_', at most 80 characters. Letters without case
// (as in Japanese) are letters that are not upper case, so they pass.
func checkChannel(errs *validate.Errors, ch string) {
	const field = "channel"
	if ch == "" {
		return
	}
	if strings.HasPrefix(ch, "@") {
		errs.Add(field, "direct messages (@user) are not supported: use a #channel, e.g. #security-alerts")
		return
	}
	name, hasHash := strings.CutPrefix(ch, "#")
	if name == "" {
		errs.Add(field, "needs a name after the '#', e.g. #security-alerts")
		return
	}
	if n := utf8.RuneCountInString(name); n > maxChannelRunes {
		errs.Addf(field, "must be at most %d characters after the '#' (it has %d)", maxChannelRunes, n)
		return
	}
	if !validChannelName(name) {
		lower := strings.ToLower(name)
		if validChannelName(lower) {
			errs.Addf(field, "must be lower case: did you mean %q?", "#"+lower)
			return
		}
		errs.Add(field, "may hold only lower-case letters, digits, '-' and '_' after the '#' (no spaces or periods)")
		return
	}
	if !hasHash {
		errs.Addf(field, "must start with '#': did you mean %q?", "#"+name)
	}
}

func validChannelName(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		switch {
		case r == '-' || r == '_':
		case unicode.IsDigit(r):
		case unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r):
		default:
			return false
		}
	}
	return true
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
