// Package opsgenie delivers Code Defender alerts to Opsgenie through its
// Alert API (https://docs.opsgenie.com/docs/alert-api), or to Jira Service
// Management Operations, which replaces Opsgenie when Opsgenie's support
// ends on 2027-04-05 (sales ended 2025-06-04; a migrated account is switched
// off 120 days after migration).
//
// The console's fields are a name, the alerts URL (AlertsURL, AlertsURLEU
// for EU accounts, or AlertsURLJSM), an optional team_id (a team's UUID) and
// the api_key of an API integration, sent as "Authorization: GenieKey <key>"
// and scrubbed from every error and log line.
//
// Send creates an alert: message = the title (at most 130 characters),
// alias = Event.ID (so an open alert with the same alias is updated, not
// duplicated), description = the description and a link to the console (at
// most 15,000), responders = the team, tags (at most 20, each at most 50),
// details = the event's details (at most 8,000 characters in all, keys and
// values; the details that fit are kept whole, one too long is cut into the
// room left, the rest are dropped, and a "details_truncated" note says how
// many), entity = the event's Source (at most 512), source =
// "Code Defender" and priority from Risk.OpsgeniePriority (critical → P1 …
// info → P5). Text is cut on rune boundaries with a "…" marker. Opsgenie
// answers 202 and creates the alert later; the Receipt's ID is the requestId
// of that answer (its status is at GET /v2/alerts/requests/{requestId}),
// and a 202 without one is an error. A 422 is permanent and its message
// carries Opsgenie's message and its errors by field; 429, 5xx (but 501) and
// network errors are retryable (sender.ClassifyStatus).
//
// A resolved event (Event.Status = notify.StatusResolved) closes the alert
// whose alias is Event.ID: POST {url}/{alias}/close?identifierType=alias,
// the same on JSM Operations. Opsgenie answers 202 and closes the alert
// later, even when no open alert has the alias (already closed, or never
// opened), so resolving twice or resolving what was never opened is a
// success that creates nothing; the Receipt's ID is the request's
// requestId (empty when Opsgenie answers 404: nothing to close).
//
// Test raises no alert; TestReport says what each step proved. It lists at
// most one alert (GET <url>?limit=1, check "API key accepted"): a 200
// proves the key and the region. A refused key (401) fails, naming the
// region to check (EU accounts must use AlertsURLEU). When team_id is set,
// it then looks the team up (GET /v2/teams/{id}?identifierType=id, check
// "team visible"): an unknown team fails. What the key cannot prove
// read-only is a warning with a sentence a console can show, not an error:
// the permission to create alerts (check "key may create alerts", always a
// warning), a key without Read access (403 on the list), a team that a key
// without configuration access may not read, and, for JSM Operations
// (whose integration keys have no read endpoint and whose team API needs a
// site cloud id and an Atlassian token), the key and the team. The first
// Send is then the proof.
package opsgenie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Opsgenie alert field limits (https://docs.opsgenie.com/docs/alert-api and
// https://support.atlassian.com/opsgenie/docs/alerts-and-alert-fields/).
const (
	maxMessageRunes     = 130
	maxAliasRunes       = 512
	maxDescriptionRunes = 15000
	maxTags             = 20
	maxTagRunes         = 50
	maxDetailsRunes     = 8000 // keys and values together
	maxEntityRunes      = 512
	maxSourceRunes      = 100
)

const (
	sourceName = "Code Defender"
	linkLabel  = "Open in Code Defender: "
	// noteKey names the detail that says what did not fit in maxDetailsRunes.
	noteKey = "details_truncated"
	// noteReserve keeps room in the details for that note.
	noteReserve = 120
	// minValueRunes is the shortest cut value worth sending.
	minValueRunes = 16
)

// Notifier sends events to one Opsgenie (or JSM Operations) API
// integration. It is safe for concurrent use.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as opsgenie("name"), never the config
	cfg                 Config
	http                *sender.Sender
	header              http.Header // the GenieKey Authorization: never modified after New
}

// New validates c and returns a Notifier.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		auth := http.Header{"Authorization": {"GenieKey " + c.APIKey.Reveal()}}
		n := &Notifier{cfg: c, http: sender.New(Type, s, c.APIKey), header: auth}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

func (n *Notifier) isJSM() bool { return n.cfg.URL == AlertsURLJSM }

// The checks of TestReport.
const (
	checkKey    = "API key accepted"
	checkTeam   = "team visible"
	checkCreate = "key may create alerts"
)

// TestReport checks without raising an alert that the key is accepted in
// the URL's region and, when team_id is set, that the team exists. What the
// key cannot prove read-only (see the package documentation) is a warning
// that says so.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	if !n.checkKey(ctx, &r) {
		r.SkipAll("The key was not accepted.", checkTeam, checkCreate)
		return r
	}
	n.checkTeam(ctx, &r)
	r.Warn(checkCreate, "Reading alerts proves the key and its region, not that it may create and close them "+
		"(an API integration with Create and Update access); the first alert proves it.")
	return r
}

// checkKey lists at most one alert, which proves the key and its region.
// It returns false when the key was refused.
func (n *Notifier) checkKey(ctx context.Context, r *notify.Report) bool {
	const op = "test: GET /v2/alerts"
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodGet,
		URL:     n.cfg.URL + "?limit=1",
		Header:  n.header,
		Explain: n.explain(op),
	})
	switch {
	case err != nil && resp != nil && resp.StatusCode == http.StatusForbidden:
		// An API integration may create alerts without Read access.
		r.Warn(checkKey, "The key was accepted, but it may not read alerts (the API integration has no Read access), "+
			"so Test could not check it further; the first alert proves it may create them.")
		return true
	case err != nil && resp != nil && n.isJSM() &&
		(resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed):
		r.Warn(checkKey, "JSM Operations offers integration keys no read-only check here, so the key was not checked; "+
			"the first alert proves it.")
		return true
	case err != nil:
		return r.Fail(checkKey, err)
	}
	var list struct {
		Data json.RawMessage `json:"data"`
	}
	if err := resp.DecodeJSON(&list); err != nil {
		return r.Fail(checkKey, n.http.BadAnswer(op, resp, err))
	}
	if list.Data == nil {
		return r.Fail(checkKey, n.http.BadAnswer(op, resp, errors.New(`no "data" in it`)))
	}
	r.Pass(checkKey, "Opsgenie listed alerts with the key: it is valid in the URL's region.")
	return true
}

// checkTeam looks team_id up with the Team API, which needs configuration
// access that many alert-only keys lack: then the team is a warning.
func (n *Notifier) checkTeam(ctx context.Context, r *notify.Report) {
	const op = "test: GET /v2/teams/{id}"
	switch {
	case n.cfg.TeamID == "":
		r.Skip(checkTeam, "No team_id is set: alerts go where the integration routes them.")
		return
	case n.isJSM():
		r.Warn(checkTeam, "JSM Operations looks teams up only through its REST API (a site cloud id and an Atlassian "+
			"API token), which an integration key cannot use, so team_id was not checked; the first alert proves it.")
		return
	}
	teamURL := strings.TrimSuffix(n.cfg.URL, "/alerts") + "/teams/" + url.PathEscape(n.cfg.TeamID) + "?identifierType=id"
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodGet,
		URL:     teamURL,
		Header:  n.header,
		Explain: n.explain(op),
	})
	switch {
	case err != nil && resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		r.Warn(checkTeam, "The key may not read teams (the API integration has no configuration access), "+
			"so team_id was not checked; the first alert proves it.")
		return
	case err != nil:
		r.Fail(checkTeam, err)
		return
	}
	var team struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := resp.DecodeJSON(&team); err != nil {
		r.Fail(checkTeam, n.http.BadAnswer(op, resp, err))
		return
	}
	if !strings.EqualFold(team.Data.ID, n.cfg.TeamID) {
		r.Fail(checkTeam, n.http.BadAnswer(op, resp, errors.New("it names another team")))
		return
	}
	r.Pass(checkTeam, "The team exists in the account the key belongs to.")
}

func (n *Notifier) keyRefusedHint() string {
	if n.isJSM() {
		return "JSM Operations refused the API key: check that it is the key of an API integration in Jira Service Management Operations"
	}
	return "Opsgenie refused the API key: check the key, and that the URL's region matches the account " +
		"(EU accounts use " + AlertsURLEU + ", others " + AlertsURL + ")"
}

// Send creates an Opsgenie alert for e, with Event.ID as its alias, or
// closes that alert when e is resolved. It refuses an invalid event before
// any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if e.Status.IsResolved() {
		return n.close(ctx, e)
	}
	const op = "send"
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodPost,
		URL:     n.cfg.URL,
		Header:  n.header,
		JSON:    buildAlert(e, n.cfg.TeamID),
		Explain: n.explain(op),
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	return n.requestReceipt(op, resp)
}

// closeRequest is the body of Close Alert: who closed it and why, shown in
// the alert's activity log.
type closeRequest struct {
	Source string `json:"source"`
	Note   string `json:"note"`
}

// maxNoteRunes is Opsgenie's limit on an action's note (Alert API, Close
// Alert: note, 25,000 characters).
const maxNoteRunes = 25000

// close closes the alert whose alias is e.ID: POST
// {url}/{alias}/close?identifierType=alias, on Opsgenie's US and EU hosts
// (https://docs.opsgenie.com/docs/alert-api#close-alert) and on JSM
// Operations' integration URL alike, which takes the same identifierType
// (https://jira.atlassian.com/browse/JSDCLOUD-14179; the Integration events
// "Close alert" request of
// https://developer.atlassian.com/cloud/jira/service-desk-ops/jira-service-desk-ops.1.postman.json).
//
// Opsgenie processes actions asynchronously and answers 202 even for an
// alias with no open alert (its request status then says "Alert does not
// exist"), so an alert already closed, or never opened, is closed
// successfully too, and the Receipt is the requestId. A 404 with Opsgenie's
// own error body says the same synchronously: a success with an empty
// Receipt.
func (n *Notifier) close(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	const op = "resolve"
	note := "Resolved in Code Defender."
	if e.URL != "" {
		note = text.Truncate("Resolved in Code Defender: "+e.URL, maxNoteRunes)
	}
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodPost,
		URL:     n.cfg.URL + "/" + url.PathEscape(e.ID) + "/close?identifierType=alias",
		Header:  n.header,
		JSON:    closeRequest{Source: sourceName, Note: note},
		Explain: n.explain(op),
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound && isOpsgenieError(resp) {
			return notify.Receipt{}, nil
		}
		return notify.Receipt{}, err
	}
	return n.requestReceipt(op, resp)
}

// isOpsgenieError reports whether an error answer is Opsgenie's own JSON
// ({"message", "took", "requestId"}), not a proxy's page.
func isOpsgenieError(r *sender.Response) bool {
	var a struct {
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	}
	return json.Unmarshal(r.Body, &a) == nil && a.Message != "" && a.RequestID != ""
}

// requestReceipt reads the 202 of an asynchronous request: its requestId
// is the Receipt, and an answer without one is not Opsgenie's.
func (n *Notifier) requestReceipt(op string, resp *sender.Response) (notify.Receipt, error) {
	var a struct {
		RequestID string `json:"requestId"`
	}
	if err := resp.DecodeJSON(&a); err != nil {
		return notify.Receipt{}, n.http.BadAnswer(op, resp, err)
	}
	if a.RequestID == "" {
		return notify.Receipt{}, n.http.BadAnswer(op, resp, errors.New("no requestId in it"))
	}
	return n.http.Receipt(a.RequestID, ""), nil
}

// explain reads Opsgenie's error answer for op once: its message, and a
// hint that says what to fix.
func (n *Notifier) explain(op string) func(*sender.Response) sender.Explanation {
	return func(r *sender.Response) sender.Explanation {
		x := sender.Explanation{Message: describe(r)}
		switch r.StatusCode {
		case http.StatusUnauthorized:
			x.Hint = n.keyRefusedHint()
		case http.StatusForbidden:
			x.Hint = "the key may not create or close alerts: use an API integration with Create and Update access (not read-only)"
		case http.StatusNotFound:
			if strings.HasPrefix(op, "test: GET /v2/teams") {
				x.Hint = "check team_id: no team has this id in the account the key belongs to"
			}
		case http.StatusUnprocessableEntity:
			x.Hint = "Opsgenie refused the request as invalid; a retry will not help"
		case http.StatusTooManyRequests:
			x.Hint = "over Opsgenie's rate limit: slow down (Opsgenie does not say for how long)"
		}
		return x
	}
}

// describe reads Opsgenie's error answer: its message, then its errors by
// field, sorted.
func describe(r *sender.Response) string {
	var a struct {
		Message string                     `json:"message"`
		Errors  map[string]json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(r.Body, &a) != nil || (a.Message == "" && len(a.Errors) == 0) {
		return sender.DescribeBody(r)
	}
	fields := make([]string, 0, len(a.Errors))
	for f, v := range a.Errors {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		fields = append(fields, f+": "+s)
	}
	sort.Strings(fields)
	msg := a.Message
	if len(fields) > 0 {
		msg += " (" + strings.Join(fields, "; ") + ")"
	}
	return strings.TrimSpace(msg)
}

// alert is the Create Alert request body.
type alert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Responders  []responder       `json:"responders,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

type responder struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func buildAlert(e notify.Event, teamID string) alert {
	a := alert{
		Message:     text.Truncate(text.StripCRLF(e.Title), maxMessageRunes),
		Alias:       text.Truncate(e.ID, maxAliasRunes), // Event.ID is at most 200: never cut
		Description: description(e),
		Tags:        tags(e.Tags),
		Details:     details(e.Details),
		Entity:      text.Truncate(text.StripCRLF(e.Source), maxEntityRunes),
		Source:      text.Truncate(sourceName, maxSourceRunes),
		Priority:    e.Risk.OpsgeniePriority(),
	}
	if teamID != "" {
		a.Responders = []responder{{ID: teamID, Type: "team"}}
	}
	return a
}

// description is the event's description and then the console link, cut
// so that the link survives a long description.
func description(e notify.Event) string {
	link := ""
	if e.URL != "" {
		link = linkLabel + e.URL
		if utf8.RuneCountInString(link) > maxDescriptionRunes/2 {
			link = "" // a link that long is not worth the description it would displace
		}
	}
	switch {
	case link == "":
		return text.Truncate(e.Description, maxDescriptionRunes)
	case e.Description == "":
		return link
	default:
		const sep = "\n\n"
		room := maxDescriptionRunes - utf8.RuneCountInString(link) - len(sep)
		return text.Truncate(e.Description, room) + sep + link
	}
}

// tags keeps the first 20 distinct tags, each cut to 50 runes.
func tags(in []string) []string {
	var out []string
	seen := make(map[string]bool, len(in))
	for _, t := range in {
		t = text.Truncate(strings.TrimSpace(text.StripCRLF(t)), maxTagRunes)
		if t == "" || seen[t] {
			continue
		}
		if len(out) == maxTags {
			break
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// details keeps every detail when they fit in maxDetailsRunes. Otherwise it
// keeps, in key order, each detail that fits whole; then, in key order,
// cuts the value of each remaining detail into the room left, when enough
// is left; drops the rest; and adds a note that counts what was cut and
// dropped.
func details(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	total := 0
	for k, v := range in {
		total += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if total <= maxDetailsRunes {
		return in
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	out := make(map[string]string, len(in))
	room := maxDetailsRunes - noteReserve
	var rest []string
	for _, k := range keys {
		if cost := utf8.RuneCountInString(k) + utf8.RuneCountInString(in[k]); cost <= room {
			out[k] = in[k]
			room -= cost
		} else {
			rest = append(rest, k)
		}
	}
	cut := 0
	for _, k := range rest {
		if fit := room - utf8.RuneCountInString(k); fit >= minValueRunes {
			out[k] = text.Truncate(in[k], fit)
			room -= utf8.RuneCountInString(k) + fit
			cut++
		}
	}
	out[noteKey] = fmt.Sprintf("%d cut, %d dropped: Opsgenie takes %d characters of details; see the alert in Code Defender",
		cut, len(rest)-cut, maxDetailsRunes)
	return out
}
