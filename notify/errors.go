package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Sentinels wrapped by every *Error, so that callers can branch with
// errors.Is whatever the destination.
var (
	// ErrUnauthorized: the destination did not accept the credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials are valid but lack a permission.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: the target (channel, project, bucket, endpoint) does not
	// exist or is gone.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: the destination asks us to slow down; retryable.
	ErrRateLimited = errors.New("rate limited")
	// ErrRejected: the destination refused the request and no retry will
	// change that (a 4xx other than the above, a redirect, a bad payload).
	ErrRejected = errors.New("rejected")
	// ErrUnavailable: the destination could not be reached or failed (a
	// network error, a timeout, a 5xx); usually retryable.
	ErrUnavailable = errors.New("unavailable")
)

// ErrSkipped is returned, unwrapped, by a Send that delivered nothing on
// purpose because the integration is not configured for the event's type
// (the webhook's events list). It is not a failure: callers that count
// failures check errors.Is(err, ErrSkipped) first.
var ErrSkipped = errors.New("skipped: the integration is not configured for this event type")

// Error is what Test and Send return when a destination refuses a request or
// cannot be reached. Its message names the integration, the operation and
// the status, carries the destination's own words (truncated, with every
// secret the notifier holds scrubbed), and says what to do where the library
// knows.
type Error struct {
	Integration string        // the destination type, e.g. "slack"
	Op          string        // what was being done, e.g. "send" or "test: GET /rest/api/2/myself"
	StatusCode  int           // the HTTP status (or SMTP reply code); 0 when there was no answer
	Retryable   bool          // whether the same request may succeed later
	RetryAfter  time.Duration // how long the destination asked us to wait; 0 when it did not say
	Message     string        // the destination's own message, truncated and redacted
	Hint        string        // what to do about it, when the library knows
	Kind        error         // the sentinel: ErrUnauthorized, ErrForbidden, ...
	Err         error         // the underlying cause, if any (a network error, context.DeadlineExceeded)
}

// Error formats the error as "integration: op: status: message (hint): cause".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Integration)
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	} else if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " [retry after %s]", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause, so errors.Is matches either.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// IsRetryable reports whether err, wrapped or not, is worth retrying: an
// *Error marked Retryable, a timeout, or a network error. A cancelled
// context is not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRateLimited)
}

// rateLimitFloor is the shortest wait before retrying a rate-limited error
// whose destination named none: a 429 retried at once (full jitter starts
// at zero) only earns another 429.
const rateLimitFloor = time.Second

// RetryAfterOf returns how long the destination asked the caller to wait
// before retrying err, or 0 when it did not say. A rate-limited error
// (ErrRateLimited) asks for at least one second even when the destination
// named no wait.
func RetryAfterOf(err error) time.Duration {
	var d time.Duration
	var e *Error
	if errors.As(err, &e) {
		d = e.RetryAfter
	}
	if d < rateLimitFloor && errors.Is(err, ErrRateLimited) {
		return rateLimitFloor
	}
	return d
}

// FieldError is one bad field of a configuration or an event.
type FieldError struct {
	Field   string // the JSON path: "webhook_url", "smtp.tls", "to[1]", "headers[2].name"
	Message string // what is wrong and what the right form looks like
}

// Error formats the field error as "field: message".
func (f FieldError) Error() string { return f.Field + ": " + f.Message }

// ValidationError lists every bad field found at once.
type ValidationError struct {
	Fields []FieldError
}

// Error lists every field error, separated by semicolons.
func (v *ValidationError) Error() string {
	msgs := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		msgs[i] = f.Error()
	}
	return "invalid: " + strings.Join(msgs, "; ")
}

// Has reports whether field is among the bad fields.
func (v *ValidationError) Has(field string) bool {
	for _, f := range v.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// MaxNameLength is the longest integration name the console accepts.
const MaxNameLength = 100

// ErrBlockedAddress is wrapped by every refusal of the network guard: a
// connection to a loopback, private, link-local or cloud-metadata address
// that the options do not allow.
var ErrBlockedAddress = errors.New("address refused by the network guard")
