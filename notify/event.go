package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/text"
)

// Notifier is a configured destination. Every destination package returns
// one from New.
type Notifier interface {
	// Validate checks the configuration without touching the network and
	// reports every bad field at once (a *ValidationError).
	Validate() error
	// Test checks against the live destination that the configuration works:
	// credentials accepted, target exists, required fields present.
	Test(ctx context.Context) error
	// Send delivers one event.
	Send(ctx context.Context, e Event) (Receipt, error)
}

// BatchSender is implemented by the destinations that take many events in
// one request (splunk, s3, gcs). SendBatch returns one Receipt per event, in
// order. On an error the receipts are those of the events delivered, which
// are always a prefix of events: events[len(receipts):] were not delivered
// and are what a retry resends.
type BatchSender interface {
	SendBatch(ctx context.Context, events []Event) ([]Receipt, error)
}

// Event is one security alert raised by Code Defender.
type Event struct {
	ID          string            `json:"id"`   // stable and unique per alert: the dedup key
	Type        EventType         `json:"type"` // incident, pci_scope_change, client_side_risk, test
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Risk        Risk              `json:"risk"` // critical, high, medium, low, info
	Time        time.Time         `json:"time"`
	URL         string            `json:"url,omitempty"`    // link back to the console
	Source      string            `json:"source,omitempty"` // the monitored site or app
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	// Status is StatusOpen (the zero value, omitted from JSON) for an alert
	// that is raised, and StatusResolved for the end of the alert with the
	// same ID: Send then closes what the open event opened.
	Status Status `json:"status,omitempty"`
}

// Receipt is what a destination answered for a delivered event.
type Receipt struct {
	ID  string // what the destination calls it: Jira key, incident id, dedup key, object key...
	URL string // where a person can see it, when the destination says
}

// MaxEventIDLength is the longest Event.ID accepted. It fits every
// destination's dedup field (PagerDuty's dedup_key takes 255).
const MaxEventIDLength = 200

// MaxEventBytes bounds the text an Event carries: the bytes of its ID,
// title, description, URL, source, tags and details (keys and values)
// together. An event over it is refused by Validate before any work, so a
// runaway description cannot turn into gigabytes of payloads; everything up
// to it is delivered, truncated to each destination's own limits.
const MaxEventBytes = 1 << 20

// Validate reports why a destination could not take the event: a missing or
// malformed ID, a missing title, an unknown type, risk or status, a zero
// time, a URL that is not http(s), or more than MaxEventBytes of text. It
// returns a *ValidationError naming every field.
//
// The ID is the idempotency key everywhere (PagerDuty dedup_key, Opsgenie
// alias, webhook-id, object names, a Jira label), so it is limited to ASCII
// letters, digits, '-', '_' and ':', which every one of them takes as is.
func (e Event) Validate() error {
	var errs fieldErrors
	switch {
	case e.ID == "":
		errs.Add("id", "is required")
	case len(e.ID) > MaxEventIDLength:
		errs.Addf("id", "must be at most %d characters", MaxEventIDLength)
	case strings.IndexFunc(e.ID, func(r rune) bool { return !isIDRune(r) }) >= 0:
		errs.Add("id", "may hold only ASCII letters, digits, '-', '_' and ':'")
	}
	if err := e.Type.Validate(); err != nil {
		errs.Add("type", err.Error())
	}
	if strings.TrimSpace(e.Title) == "" {
		errs.Add("title", "is required")
	}
	if err := e.Risk.Validate(); err != nil {
		errs.Add("risk", err.Error())
	}
	switch y := e.Time.UTC().Year(); {
	case e.Time.IsZero():
		errs.Add("time", "is required")
	case y < 1 || y > 9999 || e.Time.Year() < 1 || e.Time.Year() > 9999:
		// json.Marshal (RFC 3339) cannot write a time outside these years.
		errs.Add("time", "must be between the years 1 and 9999")
	}
	if e.URL != "" && !strings.HasPrefix(e.URL, "https://") && !strings.HasPrefix(e.URL, "http://") {
		errs.Add("url", "must be an http(s) link")
	}
	if err := e.Status.Validate(); err != nil {
		errs.Add("status", err.Error())
	}
	if n := e.textBytes(); n > MaxEventBytes {
		errs.Addf("event", "carries %d bytes of text, more than the %d an event may hold: shorten the description or details", n, MaxEventBytes)
	}
	return errs.Err()
}

// textBytes counts the bytes of every text field, stopping once past
// MaxEventBytes so a huge event costs no more than the limit to measure.
func (e Event) textBytes() int {
	n := len(e.ID) + len(e.Title) + len(e.Description) + len(e.URL) + len(e.Source)
	for _, t := range e.Tags {
		if n > MaxEventBytes {
			return n
		}
		n += len(t)
	}
	for k, v := range e.Details {
		if n > MaxEventBytes {
			return n
		}
		n += len(k) + len(v)
	}
	return n
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == ':'
}

// EventType says what kind of alert an Event is.
type EventType string

// The event types Code Defender raises.
const (
	EventIncident       EventType = "incident"
	EventPCIScopeChange EventType = "pci_scope_change"
	EventClientSideRisk EventType = "client_side_risk"
	EventTest           EventType = "test"
)

// EventTypes lists every known EventType.
var EventTypes = []EventType{EventIncident, EventPCIScopeChange, EventClientSideRisk, EventTest}

// ParseEventType returns the EventType named by s (case-insensitive), or an
// error naming the known types.
func ParseEventType(s string) (EventType, error) {
	t := EventType(strings.ToLower(strings.TrimSpace(s)))
	if err := t.Validate(); err != nil {
		return "", err
	}
	return t, nil
}

// Validate returns an error unless t is one of the known event types.
func (t EventType) Validate() error {
	for _, k := range EventTypes {
		if t == k {
			return nil
		}
	}
	return fmt.Errorf("unknown event type %q (want one of %s)", truncateForError(string(t)), joinQuoted(EventTypes))
}

// UnmarshalJSON accepts a known type name in any case and rejects others.
func (t *EventType) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("event type must be a string")
	}
	v, err := ParseEventType(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Status says whether an Event raises an alert or resolves it.
type Status string

// The statuses of an alert. StatusOpen is the zero value.
const (
	StatusOpen     Status = ""
	StatusResolved Status = "resolved"
)

// String returns "open" or "resolved".
func (s Status) String() string {
	if s == StatusOpen {
		return "open"
	}
	return string(s)
}

// IsResolved reports whether s is StatusResolved.
func (s Status) IsResolved() bool { return s == StatusResolved }

// ParseStatus returns the Status named by s (case-insensitive): "" or
// "open" is StatusOpen, "resolved" StatusResolved; anything else is an error.
func ParseStatus(s string) (Status, error) {
	v := Status(strings.ToLower(strings.TrimSpace(s)))
	if v == "open" {
		v = StatusOpen
	}
	if err := v.Validate(); err != nil {
		return "", err
	}
	return v, nil
}

// Validate returns an error unless s is StatusOpen or StatusResolved.
func (s Status) Validate() error {
	if s == StatusOpen || s == StatusResolved {
		return nil
	}
	return fmt.Errorf("unknown status %q (want \"open\" or \"resolved\")", truncateForError(string(s)))
}

// MarshalJSON writes "open" or "resolved". Inside an Event an open status
// is omitted altogether.
func (s Status) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts "open", "resolved" (any case) or "", and rejects
// other values.
func (s *Status) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("status must be a string")
	}
	st, err := ParseStatus(v)
	if err != nil {
		return err
	}
	*s = st
	return nil
}

// Risk is how serious an alert is.
type Risk string

// The risk levels, from most to least serious.
const (
	RiskCritical Risk = "critical"
	RiskHigh     Risk = "high"
	RiskMedium   Risk = "medium"
	RiskLow      Risk = "low"
	RiskInfo     Risk = "info"
)

// Risks lists every known Risk, most serious first.
var Risks = []Risk{RiskCritical, RiskHigh, RiskMedium, RiskLow, RiskInfo}

// ParseRisk returns the Risk named by s (case-insensitive), or an error
// naming the known levels.
func ParseRisk(s string) (Risk, error) {
	r := Risk(strings.ToLower(strings.TrimSpace(s)))
	if err := r.Validate(); err != nil {
		return "", err
	}
	return r, nil
}

// Validate returns an error unless r is one of the known risk levels.
func (r Risk) Validate() error {
	if _, ok := riskScales[r]; ok {
		return nil
	}
	return fmt.Errorf("unknown risk %q (want one of %s)", truncateForError(string(r)), joinQuoted(Risks))
}

// UnmarshalJSON accepts a known risk name in any case and rejects others.
func (r *Risk) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("risk must be a string")
	}
	v, err := ParseRisk(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func joinQuoted[T ~string](vs []T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = `"` + string(v) + `"`
	}
	return strings.Join(q, ", ")
}

// truncateForError keeps a caller's bad value short when it is echoed in an
// error message.
func truncateForError(s string) string { return text.Truncate(s, 40) }

// fieldErrors collects the field errors of an Event while Validate walks it.
type fieldErrors []FieldError

func (fe *fieldErrors) Add(field, message string) {
	*fe = append(*fe, FieldError{Field: field, Message: message})
}

func (fe *fieldErrors) Addf(field, format string, args ...any) {
	fe.Add(field, fmt.Sprintf(format, args...))
}

func (fe fieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}
