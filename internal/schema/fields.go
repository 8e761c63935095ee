package schema

import "github.com/codedefender/integrations/notify"

// The console's labels and help text for every field of every type, and the
// rules of each that JSON Schema can say. The wording follows the console's
// documentation of each form; the rules are
// never stricter than the Config's Validate, which has the last word, and
// they say less where a rule needs more than a pattern (a PEM key that
// parses, a bucket that is not an IP address).
//
// Patterns are written in the subset ECMA-262 (u flag) and Go's RE2 agree
// on. \p{Cc} is what internal/text.HasControl refuses: U+0000-U+001F and
// U+007F-U+009F.
const (
	// noControl: no control character anywhere.
	noControl = `^[^\p{Cc}]*$`
	// trimmed: no control character, and no space at either end.
	trimmed = `^([^\p{Cc}\s]([^\p{Cc}]*[^\p{Cc}\s])?)?$`
	// objectPrefix is internal/objects.PrefixProblem's rule: its characters,
	// no '/' at either end, no empty, "." or ".." segment.
	objectPrefix = `^(?:[A-Za-z0-9!_*'()-]|\.[A-Za-z0-9!_*'()-]|\.\.[A-Za-z0-9!_*'().-])[A-Za-z0-9!_.*'()-]*(/(?:[A-Za-z0-9!_*'()-]|\.[A-Za-z0-9!_*'()-]|\.\.[A-Za-z0-9!_*'().-])[A-Za-z0-9!_.*'()-]*)*$`
	// uuid is the 8-4-4-4-12 hexadecimal form.
	uuid = `^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`
	// maxPEM bounds a PEM field (webhook's maxPEMBytes, counted in bytes
	// there: a character bound of the same number is never stricter).
	maxPEM = 64 << 10
)

// nameField is every type's "name".
var nameField = Field{
	Title:       "Name",
	Description: "How the integration appears in the console: 1 to 100 characters, without control characters.",
	MinLength:   1,
	MaxLength:   notify.MaxNameLength,
	// At least one character that is neither a control character nor a space.
	Pattern: `^[^\p{Cc}]*[^\p{Cc}\s][^\p{Cc}]*$`,
}

// secret is a required credential.
func secret(title, description string) Field {
	return Field{Title: title, Description: description, MinLength: 1}
}

func intp(n int) *int { return &n }

var types = map[string]Type{
	"slack": {
		Title:       "Slack",
		Description: "Posts each alert to a Slack channel through an incoming webhook.",
		Fields: map[string]Field{
			"name": nameField,
			"webhook_url": secret("Webhook URL",
				"The incoming webhook's URL, https://hooks.slack.com/services/T…/B…/…, from the Slack app's Incoming Webhooks page. "+
					"The URL is the credential: it is stored as a secret and never shown again."),
			"channel": {
				Title: "Channel",
				Description: "Optional: a #channel that overrides the webhook's own (only legacy webhooks honour it): " +
					"'#', then lower-case letters, digits, '-' and '_', at most 80 characters after the '#'.",
				Pattern: `^#[\p{Ll}\p{Lm}\p{Lo}\p{Nd}_-]{1,80}$`,
			},
		},
	},
	"email": {
		Title:       "Email",
		Description: "Mails each alert to a list of recipients.",
		Fields: map[string]Field{
			"name": nameField,
			"to": {
				Title:       "Recipients",
				Description: `The addresses that receive the alerts, each "soc@example.com" or "SOC <soc@example.com>": at least one, at most 50, each once.`,
				MinItems:    1,
				MaxItems:    50,
				UniqueItems: true,
			},
			"to[]": {
				Title:       "Recipient",
				Description: `An address, "soc@example.com" or "SOC <soc@example.com>".`,
				MinLength:   3,
				Pattern:     `^[^\p{Cc}]*@[^\p{Cc}]*$`,
			},
		},
	},
	"jira": {
		Title:       "Jira",
		Description: "Files each alert as an issue in a Jira Cloud project.",
		Fields: map[string]Field{
			"name": nameField,
			"url": {
				Title: "Jira URL",
				Description: "Your site's v2 create-issue address, https://<site>.atlassian.net/rest/api/2/issue/. " +
					"v3 is not accepted: it wants the Atlassian Document Format, and alerts are written in wiki markup.",
				Format:    "uri",
				MinLength: 1,
				Pattern:   `^https://[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.atlassian\.net/rest/api/2/issue/?$`,
			},
			"project_id": {
				Title:       "Project ID",
				Description: "The project's numeric id (Project settings → Details), not its key or name.",
				MinLength:   1,
				MaxLength:   18,
				Pattern:     `^0*[1-9][0-9]*$`,
			},
			"api_token": secret("API token",
				"A classic Atlassian API token of the reporter's account (id.atlassian.com → Security → API tokens)."),
			"reporter_email": {
				Title:       "Reporter email",
				Description: "The e-mail address of the account the API token belongs to; issues are filed as this account.",
				Format:      "email",
				MinLength:   3,
			},
			"issue_type": {
				Title:       "Issue type",
				Description: "The name of the issue type to file, such as Task; empty for Task. It must exist in the project.",
				Default:     "Task",
				MaxLength:   255,
				Pattern:     trimmed,
			},
			"priority_from_risk": {
				Title:       "Priority from risk",
				Description: "Set each issue's priority from the alert's risk (critical → Highest … info → Lowest). Needs Priority on the issue type's create screen.",
				Default:     false,
			},
		},
	},
	"datadog": {
		Title:       "Datadog Incidents",
		Description: "Opens a Datadog incident for each alert.",
		Fields: map[string]Field{
			"name": nameField,
			"url": {
				Title:       "Datadog URL",
				Description: "The incidents endpoint of your Datadog site, https://api.<site>/api/v2/incidents.",
				Format:      "uri",
				// datadog's sites table.
				Enum: []string{
					"https://api.datadoghq.com/api/v2/incidents",
					"https://api.us3.datadoghq.com/api/v2/incidents",
					"https://api.us5.datadoghq.com/api/v2/incidents",
					"https://api.datadoghq.eu/api/v2/incidents",
					"https://api.ap1.datadoghq.com/api/v2/incidents",
					"https://api.ap2.datadoghq.com/api/v2/incidents",
					"https://api.uk1.datadoghq.com/api/v2/incidents",
					"https://api.ddog-gov.com/api/v2/incidents",
					"https://api.us2.ddog-gov.com/api/v2/incidents",
				},
			},
			"application_key": secret("Application key",
				"An application key whose owner (or scopes) may write incidents (incident_write)."),
			"api_key": secret("API key", "An API key of the same organisation."),
		},
	},
	"pagerduty": {
		Title:       "PagerDuty",
		Description: "Triggers a PagerDuty incident for each alert through the Events API v2.",
		Fields: map[string]Field{
			"name": nameField,
			"webhook_url": {
				Title:       "Webhook URL",
				Description: "PagerDuty's Events API v2 URL, https://events.pagerduty.com/v2/enqueue (https://events.eu.pagerduty.com/v2/enqueue for the EU service region).",
				Format:      "uri",
				// The console's documented misspelling /v2/enque is accepted
				// as stored and sent to /v2/enqueue.
				Pattern: `^https://events(\.eu)?\.pagerduty\.com/v2/enque(ue)?$`,
			},
			"api_key": secret("Integration key",
				"The 32-character Integration Key (routing key) of an Events API v2 integration on the service (the service's Integrations tab)."),
		},
	},
	"splunk": {
		Title:       "Splunk",
		Description: "Sends each alert to a Splunk HTTP Event Collector.",
		Fields: map[string]Field{
			"name": nameField,
			"url": {
				Title: "HEC URL",
				Description: "The HTTP Event Collector endpoint, ending in /services/collector: " +
					"https://http-inputs-<stack>.splunkcloud.com/services/collector on Splunk Cloud, " +
					"https://splunk.example.com:8088/services/collector on Splunk Enterprise.",
				Format:    "uri",
				MinLength: 1,
				Pattern:   `^https?://[^/?#\s]+(/[^?#\s]*)?/services/collector(/event)?/?$`,
			},
			"api_token": secret("HEC token",
				"The HTTP Event Collector token, a GUID (Settings → Data inputs → HTTP Event Collector)."),
			"index": {
				Title:       "Index",
				Description: "Optional: the index to write to, which the token must be allowed to write; empty for the token's default index.",
				Pattern:     `^[a-z0-9][a-z0-9_-]*$`,
			},
		},
	},
	"gcs": {
		Title:       "GCS bucket",
		Description: "Stores each alert as a JSON object in a Google Cloud Storage bucket.",
		Fields: map[string]Field{
			"name": nameField,
			"bucket": {
				Title:       "Bucket",
				Description: "The bucket's name: 3 to 63 lower-case letters, digits, '-', '_' and '.' (222 with dots), beginning and ending with a letter or digit.",
				MinLength:   3,
				MaxLength:   222,
				Pattern:     `^[a-z0-9][a-z0-9._-]*[a-z0-9]$`,
			},
			"service_account_json": {
				Title: "Service account JSON",
				Description: "The service account's JSON key file, as downloaded (IAM → Service accounts → Keys). " +
					"The account needs storage.objects.create on the bucket.",
				MinLength:        1,
				MaxLength:        64 << 10,
				ContentMediaType: "application/json",
			},
			"prefix": {
				Title:       "Prefix",
				Description: "Optional: prepended to every object name, without '/' at either end: alerts gives alerts/2026/01/02/<event-id>.json.",
				MaxLength:   512,
				Pattern:     objectPrefix,
			},
			"compression": {
				Title:       "Compression",
				Description: "none, or gzip to store .json.gz objects.",
				Enum:        []string{"none", "gzip"},
				Default:     "none",
			},
		},
	},
	"s3": {
		Title:       "S3 bucket",
		Description: "Stores each alert as a JSON object in an Amazon S3 (or S3-compatible) bucket.",
		Fields: map[string]Field{
			"name": nameField,
			"access_key_id": {
				Title:       "Access key ID",
				Description: "The access key ID of an IAM user's long-term key pair (AKIA…), or an S3-compatible store's.",
				MinLength:   3,
				MaxLength:   128,
				Pattern:     `^[^\p{Cc}\s]+$`,
			},
			"secret_access_key": secret("Secret access key", "The key pair's secret access key."),
			"region": {
				Title:       "Region",
				Description: "The bucket's region, such as eu-west-1 (auto for R2).",
				MinLength:   1,
				Pattern:     `^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`,
			},
			"bucket": {
				Title:       "Bucket",
				Description: "The bucket's name: 3 to 63 lower-case letters, digits, '.' and '-', beginning and ending with a letter or digit.",
				MinLength:   3,
				MaxLength:   63,
				Pattern:     `^[a-z0-9][a-z0-9.-]*[a-z0-9]$`,
			},
			"prefix": {
				Title:       "Prefix",
				Description: "Optional: prepended to every object key, without '/' at either end: alerts gives alerts/2026/01/02/<event-id>.json.",
				MaxLength:   512,
				Pattern:     objectPrefix,
			},
			"compression": {
				Title:       "Compression",
				Description: "none, or gzip to store .json.gz objects.",
				Enum:        []string{"none", "gzip"},
				Default:     "none",
			},
			"endpoint": {
				Title:       "Endpoint",
				Description: "Only for an S3-compatible store (MinIO, Ceph, R2, …): its base URL, such as https://minio.example.com:9000. Empty for AWS.",
				Format:      "uri",
				Pattern:     `^https?://[^/?#\s]+/?$`,
			},
			"path_style": {
				Title:       "Path-style addressing",
				Description: "Address the bucket as https://host/bucket/key instead of https://bucket.host/key; most S3-compatible stores need it.",
				Default:     false,
			},
		},
	},
	"opsgenie": {
		Title:       "Opsgenie",
		Description: "Opens an Opsgenie (or Jira Service Management Operations) alert for each alert.",
		Fields: map[string]Field{
			"name": nameField,
			"url": {
				Title:       "API URL",
				Description: "The alerts endpoint: Opsgenie's, its EU one, or Jira Service Management Operations' that replaces Opsgenie.",
				Format:      "uri",
				Enum: []string{
					"https://api.opsgenie.com/v2/alerts",
					"https://api.eu.opsgenie.com/v2/alerts",
					"https://api.atlassian.com/jsm/ops/integration/v2/alerts",
				},
			},
			"team_id": {
				Title:       "Team ID",
				Description: "Optional: the id (a UUID) of the team each alert is routed to, not its name.",
				Format:      "uuid",
				Pattern:     uuid,
			},
			"api_key": secret("API key", "The key of an Opsgenie API integration, without the GenieKey prefix."),
		},
	},
	"webhook": {
		Title:       "Webhook",
		Description: "Sends each alert to an HTTP endpoint of your own, optionally signed the Standard Webhooks way.",
		Fields: map[string]Field{
			"name": nameField,
			"url": {
				Title:       "URL",
				Description: "The receiver, https:// (http:// only to a private address the operator allows).",
				Format:      "uri",
				MinLength:   1,
				MaxLength:   4096,
				Pattern:     `^https?://[^\s]+$`,
			},
			"method": {
				Title:       "Method",
				Description: "The HTTP method; POST by default. GET and DELETE send no body.",
				Enum:        []string{"POST", "PUT", "PATCH", "GET", "DELETE"},
				Default:     "POST",
			},
			"protocol": {
				Title:       "Protocol",
				Description: "tcp (the default) presents no client certificate; tls is mutual TLS with the client certificate, over https only.",
				Enum:        []string{"tcp", "tls"},
				Default:     "tcp",
			},
			"client_cert": {
				Title:       "Client certificate",
				Description: "With protocol tls: the PEM certificate (leaf first, then any intermediates) the webhook presents.",
				MaxLength:   maxPEM,
				Pattern:     `-----BEGIN `,
			},
			"client_key": {
				Title:       "Client key",
				Description: "With protocol tls: the client certificate's unencrypted PEM private key.",
				MaxLength:   maxPEM,
			},
			"ca_cert": {
				Title:       "CA certificate",
				Description: "Optional: the PEM bundle the receiver's certificate must chain to, replacing the system roots.",
				MaxLength:   maxPEM,
				Pattern:     `-----BEGIN `,
			},
			"body_pattern": {
				Title: "Body pattern",
				Description: "Optional: a Go text/template over the event that renders the body, with a json function " +
					`that escapes any value, as in {"title": {{json .Title}}}. Empty sends the event as JSON.`,
				MaxLength: 16 << 10,
			},
			"headers": {
				Title:       "Headers",
				Description: "Sent with every request, at most 32. Hop-by-hop, transport-managed and signing headers are refused; when a name repeats, the last one wins.",
				MaxItems:    32,
			},
			"headers[].name": {
				Title:       "Header name",
				Description: "A header name, such as Authorization.",
				MinLength:   1,
				Pattern:     "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
			},
			"headers[].value": {
				Title:       "Header value",
				Description: "The header's value, stored as a secret since it often carries a token.",
			},
			"signing_secret": {
				Title:       "Signing secret",
				Description: "Optional: a Standard Webhooks secret, whsec_ followed by the base64 of 24 to 64 random bytes, to sign every request.",
			},
			"events": {
				Title:       "Events",
				Description: "Optional: the event types that fire the webhook; empty for every type. Test events always go.",
			},
			"events[]": {
				Title:       "Event type",
				Description: "An event type.",
				Enum:        eventTypes(),
			},
		},
	},
}

func eventTypes() []string {
	out := make([]string, len(notify.EventTypes))
	for i, t := range notify.EventTypes {
		out[i] = string(t)
	}
	return out
}
