// Package notify is the core of the Code Defender integrations library: the
// types every destination shares and the plumbing they are built on.
//
// A destination package (slack, email, jira, datadog, pagerduty, splunk, gcs,
// s3, opsgenie, webhook) exports a Config, whose Validate checks the fields
// offline, and a New that returns a Notifier with three verbs:
//
//   - Validate reports every bad field at once as a *ValidationError.
//   - Test checks against the live destination that the configuration works,
//     raising nothing where the destination offers a silent check.
//   - Send delivers one Event and returns the destination's Receipt.
//
// Errors from Test and Send are *Error values that wrap one of the sentinels
// (ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrRejected,
// ErrUnavailable), so callers branch with errors.Is and read IsRetryable and
// RetryAfterOf without knowing the destination.
//
// Credentials are Secret values: they print and marshal as [REDACTED] and are
// scrubbed from every error and log line. By default the HTTP client refuses
// to connect to loopback, private, link-local and cloud-metadata addresses,
// checked on the resolved IP at dial time, and never follows a redirect;
// WithAllowPrivateNetworks lifts the address check for on-premises targets
// and tests.
//
// Every destination's Notifier also has Close, which releases the idle
// connections of a client the library made (never a caller's), and
// Type and Name (notify.Named); printing one with any fmt verb shows only
// its type and name.
//
// Retry, RateLimit and Fanout wrap any Notifier. A Registry builds a Notifier
// from the JSON the console stores ({"type": "slack", "config": {...}});
// register only the destinations you import, or use the root package
// github.com/codedefender/integrations, which registers all ten.
package notify
