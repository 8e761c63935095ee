// Package pagerduty delivers Code Defender alerts to PagerDuty through the
// Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview).
//
// The console's fields are a name, the Events API v2 URL (EventsURL, or
// EventsURLEU for the EU service region; the console's documented form
// ".../v2/enque" is accepted as stored and sends to ".../v2/enqueue", and
// other near misses get a "did you mean" error) and the api_key: the 32-character Integration Key
// of an Events API v2 integration on a service, which PagerDuty calls the
// routing key. It travels only in the request body and is scrubbed from
// every error and log line.
//
// Send triggers an alert whose dedup_key is Event.ID, so a retried Send
// updates the same alert instead of paging twice. The payload's summary is
// the title (at most 1,024 characters), its source the event's Source (else
// "Code Defender"), its severity Risk.PagerDutySeverity (critical → critical,
// high → error, medium → warning, low and info → info), its class the event
// type, its component "code-defender" and its group the Source. Custom
// details carry the risk, the description, the tags and the details, and the
// console URL is a link. PagerDuty takes at most 512 KB per event: a larger
// event is still delivered, its longest texts (description, tags, detail
// values) cut first to a common length, each with a "…" marker, and a
// "truncated" custom detail saying so; only when thousands of small
// details cannot fit even when cut are the tags and details left out, the
// description then cut alone (every other field is bounded, so that always
// suffices). The Receipt's ID is the dedup_key
// PagerDuty answered; a 202 without one is an error (ErrRejected: the URL is
// not PagerDuty's). A 202 means accepted, not that an incident was opened.
//
// A resolved event (Event.Status = notify.StatusResolved) is sent as
// event_action "resolve" with Event.ID as its dedup_key, which resolves the
// alert the open event triggered. PagerDuty accepts a resolve that matches
// no open alert (already resolved, or never triggered) and drops it, so
// resolving twice, or resolving what was never opened, is a success and
// opens nothing. Resolve(ctx, id) is a shorthand for it.
//
// Test (and TestReport, which says what each step proved) sends a resolve
// for a random dedup key, which opens nothing and pages no one. A 202
// proves that the URL reaches PagerDuty and that the key is well formed
// (check "events API accepted the key"); PagerDuty may accept a resolve for
// a well-formed key that no integration owns, so "key belongs to a service"
// is a warning: the first Send is the proof that the key is live.
//
// A 400 "invalid event" is permanent and its message lists PagerDuty's own
// errors; 429, 5xx and network errors are retryable (sender.ClassifyStatus).
// PagerDuty accepts about 120 events a minute per integration key. A
// Notifier never throttles itself: the caller applies RateLimit and Burst
// with notify.RateLimit.
package pagerduty

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// eventsPerMinute is PagerDuty's rate per integration key over a 60-second
// window (Events API v2 rate limits).
const eventsPerMinute = 120

// Burst is how many events may go at once. With RateLimit it never puts
// more than 120 events in any 60-second window (Burst + RateLimit × 60 s =
// 120), so a storm of alerts starts at once and then keeps to PagerDuty's
// rate.
const Burst = 20

// RateLimit is the steady rate to use with Burst in notify.RateLimit(n,
// rate.NewLimiter(pagerduty.RateLimit, pagerduty.Burst)): 100 events a
// minute, so that with the burst PagerDuty's 120 a minute is never exceeded.
const RateLimit rate.Limit = (eventsPerMinute - Burst) / 60.0

// PagerDuty Events API v2 limits
// (https://developer.pagerduty.com/docs/events-api-v2-overview,
// https://github.com/PagerDuty/api-schema/blob/main/reference/events-v2/openapiv3.json).
const (
	maxSummaryRunes  = 1024 // payload.summary
	maxDedupKeyRunes = 255  // dedup_key
	// maxEventBytes is the 512 KB limit on a whole event, read as 1,000-byte
	// kilobytes so it holds under either reading.
	maxEventBytes = 512_000
	// maxSourceRunes is our own bound: PagerDuty documents none for
	// payload.source, and this keeps an event without custom details far
	// under maxEventBytes.
	maxSourceRunes = 1024
	// maxLinkRunes is our own bound on the console link, for the same reason.
	maxLinkRunes = 8192
)

const (
	defaultSource = "Code Defender"
	component     = "code-defender"
	linkText      = "Open in Code Defender"
	testKeyPrefix = "cd-connection-test-"
)

// Notifier sends events to one PagerDuty Events API v2 integration. It is
// safe for concurrent use.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as pagerduty("name"), never the config
	cfg                 Config
	http                *sender.Sender
}

// New validates c and returns a Notifier.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		n := &Notifier{cfg: c, http: sender.New(Type, s, c.APIKey)}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

// The checks of TestReport.
const (
	checkKeyAccepted = "events API accepted the key"
	checkKeyRoutes   = "key belongs to a service"
)

// TestReport sends a resolve for a random dedup key: PagerDuty drops a
// resolve that matches no open alert, so nothing is opened and no one is
// paged. Its 202 proves the URL and the key's form; that the key belongs to
// a service cannot be proven without opening an alert, so that check is a
// warning.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	_, err := n.enqueue(ctx, "test: resolve", n.resolveEvent(testKeyPrefix+rand.Text()))
	if !r.Check(checkKeyAccepted, err, "PagerDuty's Events API accepted a resolve for a random dedup key: "+
		"the URL is PagerDuty's and the routing key is well formed. Nothing was opened.") {
		r.Skip(checkKeyRoutes, "The Events API did not accept the key.")
		return r
	}
	r.Warn(checkKeyRoutes, "PagerDuty accepts a resolve for any well-formed key, so only the first alert proves "+
		"that the key is the Integration Key of an Events API v2 integration on a service.")
	return r
}

// Send triggers a PagerDuty alert for e, with Event.ID as its dedup key,
// or resolves that alert when e is resolved. It refuses an invalid event
// before any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if e.Status.IsResolved() {
		return n.enqueue(ctx, "resolve", n.resolveEvent(e.ID))
	}
	body, err := n.triggerBody(e)
	if err != nil {
		return notify.Receipt{}, err
	}
	return n.enqueue(ctx, "send", body)
}

// Resolve resolves the alert that Send opened for the event with ID eventID,
// as Send of the resolved event does. PagerDuty accepts a resolve that matches no open alert and drops it, so a
// nil error does not prove an alert was open. The Receipt's ID is the dedup
// key PagerDuty answered.
func (n *Notifier) Resolve(ctx context.Context, eventID string) (notify.Receipt, error) {
	var errs validate.Errors
	switch {
	case strings.TrimSpace(eventID) == "":
		errs.Add("id", "is required")
	case utf8.RuneCountInString(eventID) > maxDedupKeyRunes:
		errs.Addf("id", "must be at most %d characters (PagerDuty's dedup_key limit)", maxDedupKeyRunes)
	case text.HasControl(eventID):
		errs.Add("id", "must not contain control characters")
	}
	if err := errs.Err(); err != nil {
		return notify.Receipt{}, err
	}
	return n.enqueue(ctx, "resolve", n.resolveEvent(eventID))
}

// Wire types: the parts of the Events API v2 this package uses.
type event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger or resolve
	DedupKey    string   `json:"dedup_key"`
	Client      string   `json:"client,omitempty"`
	Payload     *payload `json:"payload,omitempty"`
	Links       []link   `json:"links,omitempty"`
}

type payload struct {
	Summary       string `json:"summary"`
	Source        string `json:"source"`
	Severity      string `json:"severity"`
	Timestamp     string `json:"timestamp"`
	Component     string `json:"component,omitempty"`
	Group         string `json:"group,omitempty"`
	Class         string `json:"class,omitempty"`
	CustomDetails any    `json:"custom_details,omitempty"`
}

type link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

type customDetails struct {
	Risk        notify.Risk       `json:"risk"` // low and info share a severity
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	// Truncated says what was cut to keep the event within PagerDuty's
	// 512 KB; it is set only then.
	Truncated string `json:"truncated,omitempty"`
}

// The notes of an event cut to fit PagerDuty's limit.
const (
	noteTextsCut = "the event was over PagerDuty's 512 KB limit: its longest texts were cut (marked …); " +
		"see the alert in Code Defender"
	noteTagsDetailsDropped = "the event was over PagerDuty's 512 KB limit: its tags and details were left out " +
		"(and its description cut, where marked …); see the alert in Code Defender"
)

// minFieldBytes is the shortest a text is cut to before the tags and
// details are left out instead: an event whose many small fields do not
// fit even then is better sent with its description alone.
const minFieldBytes = 64

func (n *Notifier) resolveEvent(dedupKey string) []byte {
	b, _ := json.Marshal(event{RoutingKey: n.cfg.APIKey.Reveal(), EventAction: "resolve", DedupKey: dedupKey})
	return b
}

// triggerBody maps e onto a trigger event of at most maxEventBytes. An
// event over it keeps every field, with its longest texts cut first: each
// of the description, the tags and the details' values is cut to the
// largest common length at which the event fits, with a marker and a
// "truncated" note in the custom details. When even minFieldBytes per text
// is too much (thousands of small details), the tags and details are left
// out and the description alone is cut. The other fields are bounded
// (summary, source, link), so that always fits.
func (n *Notifier) triggerBody(e notify.Event) ([]byte, error) {
	source := defaultSource
	if strings.TrimSpace(e.Source) != "" {
		source = text.Truncate(text.StripCRLF(e.Source), maxSourceRunes)
	}
	ev := event{
		RoutingKey:  n.cfg.APIKey.Reveal(),
		EventAction: "trigger",
		DedupKey:    e.ID,
		Client:      defaultSource,
		Payload: &payload{
			Summary:   text.Truncate(text.StripCRLF(e.Title), maxSummaryRunes),
			Source:    source,
			Severity:  e.Risk.PagerDutySeverity(),
			Timestamp: e.Time.UTC().Format(time.RFC3339Nano),
			Component: component,
			Class:     string(e.Type),
		},
	}
	if e.Source != "" {
		ev.Payload.Group = source
	}
	if e.URL != "" && utf8.RuneCountInString(e.URL) <= maxLinkRunes {
		ev.Links = []link{{Href: e.URL, Text: linkText}}
	}

	// encode marshals ev with the custom details cut to at most limit bytes
	// per text (limit < 0: whole).
	encode := func(limit int, withTagsAndDetails bool) ([]byte, error) {
		cd := customDetails{Risk: e.Risk, Description: e.Description, Tags: e.Tags, Details: e.Details}
		if !withTagsAndDetails {
			cd.Tags, cd.Details, cd.Truncated = nil, nil, noteTagsDetailsDropped
		}
		if limit >= 0 {
			cd = cutDetails(cd, limit)
			if cd.Truncated == "" {
				cd.Truncated = noteTextsCut
			}
		}
		ev.Payload.CustomDetails = cd
		return json.Marshal(ev)
	}
	b, err := encode(-1, true)
	if err != nil {
		return nil, n.http.Errorf("send", notify.ErrRejected, false, "cannot encode the event: %v", err)
	}
	if len(b) <= maxEventBytes {
		return b, nil
	}
	longest := len(e.Description)
	for _, t := range e.Tags {
		longest = max(longest, len(t))
	}
	for _, v := range e.Details {
		longest = max(longest, len(v))
	}
	for _, withTagsAndDetails := range []bool{true, false} {
		floor := minFieldBytes
		if !withTagsAndDetails {
			floor = 0
		}
		if b, ok := largestFit(floor, longest, func(limit int) []byte {
			b, _ := encode(limit, withTagsAndDetails) // it encoded whole, so it encodes cut
			return b
		}); ok {
			return b, nil
		}
	}
	// Unreachable with the bounds above; kept so that a new field can
	// never send an event PagerDuty will refuse.
	return nil, n.http.Errorf("send", notify.ErrRejected, false,
		"the event is over PagerDuty's 512 KB limit even without its custom details")
}

// largestFit returns the encoding at the largest limit in [lo, hi] whose
// encoding is within maxEventBytes, by binary search (a larger limit never
// encodes smaller), and false when even lo is too large.
func largestFit(lo, hi int, encode func(limit int) []byte) ([]byte, bool) {
	best := encode(lo)
	if len(best) > maxEventBytes {
		return nil, false
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if b := encode(mid); len(b) <= maxEventBytes {
			lo, best = mid, b
		} else {
			hi = mid - 1
		}
	}
	return best, true
}

// cutDetails cuts the description, each tag and each detail's value to at
// most limit bytes, marker included; what is shorter stays whole.
func cutDetails(cd customDetails, limit int) customDetails {
	cd.Description = text.TruncateBytes(cd.Description, limit)
	if cd.Tags != nil {
		tags := make([]string, len(cd.Tags))
		for i, t := range cd.Tags {
			tags[i] = text.TruncateBytes(t, limit)
		}
		cd.Tags = tags
	}
	if cd.Details != nil {
		details := make(map[string]string, len(cd.Details))
		for k, v := range cd.Details {
			details[k] = text.TruncateBytes(v, limit)
		}
		cd.Details = details
	}
	return cd
}

// answer is PagerDuty's reply, on success and on error.
type answer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

func (n *Notifier) enqueue(ctx context.Context, op string, body []byte) (notify.Receipt, error) {
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodPost,
		URL:     eventsEndpoint(n.cfg.WebhookURL),
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    body,
		Explain: explain,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	var a answer
	if err := resp.DecodeJSON(&a); err != nil {
		return notify.Receipt{}, n.http.BadAnswer(op, resp, err)
	}
	if a.DedupKey == "" {
		return notify.Receipt{}, n.http.BadAnswer(op, resp, errors.New("no dedup_key in it"))
	}
	return n.http.Receipt(a.DedupKey, ""), nil
}

// describe reads PagerDuty's error answer: its message and status, then
// its own list of errors.
func describe(r *sender.Response) string {
	var a answer
	if json.Unmarshal(r.Body, &a) != nil || (a.Message == "" && len(a.Errors) == 0) {
		return sender.DescribeBody(r)
	}
	msg := a.Message
	if a.Status != "" && a.Status != a.Message {
		msg = fmt.Sprintf("%s (%s)", a.Message, a.Status)
	}
	if len(a.Errors) > 0 {
		msg += ": " + strings.Join(a.Errors, "; ")
	}
	return strings.TrimSpace(msg)
}

// explain reads PagerDuty's error answer once: its message (describe) and
// a hint that says what to fix.
func explain(r *sender.Response) sender.Explanation {
	x := sender.Explanation{Message: describe(r)}
	switch r.StatusCode {
	case http.StatusBadRequest:
		if strings.Contains(strings.ToLower(string(r.Body)), "routing") {
			x.Hint = "check api_key: it must be the Integration Key of an Events API v2 integration on the service"
		} else {
			x.Hint = "PagerDuty refused the event as invalid; a retry will not help"
		}
	case http.StatusNotFound:
		x.Hint = "check webhook_url: it must be PagerDuty's Events API v2 URL"
	case http.StatusTooManyRequests:
		x.Hint = "over PagerDuty's rate for this key (about 120 events a minute): apply pagerduty.RateLimit with notify.RateLimit"
	}
	return x
}
