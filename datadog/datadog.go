// Package datadog opens a Datadog incident for each Code Defender alert,
// through the Incidents API v2 (https://docs.datadoghq.com/api/latest/incidents/#create-an-incident,
// marked "public beta" by Datadog).
//
// The integration is the incidents URL of the organisation's site,
// https://api.<site>/api/v2/incidents, for one of the nine sites (US1, US3,
// US5, EU1, AP1, AP2, UK1, US1-FED, US2-FED), and two keys sent as the
// DD-API-KEY and DD-APPLICATION-KEY headers. The application key's owner
// needs the incident_write permission.
//
// Send posts one JSON:API incident per event, with only documented fields:
//
//   - title: the event's title on one line;
//   - customer_impacted: false (required, and the library cannot know);
//   - fields.severity: a dropdown from the risk: critical → SEV-1, high →
//     SEV-2, medium → SEV-3, low → SEV-4, info → SEV-5
//     (notify.Risk.DatadogSeverity);
//   - initial_cells: one markdown timeline cell with the description, risk,
//     type, source, time, console link, event id and tags, and the details
//     as a table. The create API has no documented field for tags, links or
//     free-form details, so they go in this cell rather than in
//     undocumented attributes that an organisation could reject.
//     Untrusted text is backslash-escaped, so an alert cannot inject links,
//     images or markup (whether Datadog also honours the escape before '@'
//     mentions is not documented);
//   - is_test: true for events of type test, which Datadog marks as test incidents.
//
// Datadog documents no length limits for incidents; the title is cut to
// 255 characters and the cell to 16,000 so that one alert cannot send a
// megabyte.
//
// The Receipt is the incident's public_id as Datadog answered it (a number,
// the n of the IR-<n> a person sees) and the incident's page on the site's
// web host, https://<web host>/incidents/<public_id>: app.<site> for US1,
// EU1 and US1-FED, the site itself for the others.
//
// Datadog offers no idempotency key for incidents, so the event's ID is
// recorded on the incident it opens, in the property field cd_event_id
// (a Text Array field, which the organisation defines once in Incident
// Settings → Property Fields): property fields are what Datadog documents
// for finding incidents again ("Assign values to an incident's properties
// to enable you to search for a subset of incidents",
// https://docs.datadoghq.com/service_management/incident_management/incident_details/),
// and the incident search takes them as facets, name:value
// (https://docs.datadoghq.com/api/latest/incidents/#search-for-incidents,
// which needs incident_read). Before opening, Send searches for an
// unresolved incident of the event and returns it instead, so a Send
// retried after a timeout (the first create having reached Datadog) opens
// no second incident. A search Datadog refuses for good (no incident_read,
// an organisation without the field) is logged and the incident is opened
// anyway, so that a search problem never blocks an alert.
//
// A resolved event (notify.StatusResolved) sets the event's unresolved
// incident to resolved (PATCH /api/v2/incidents/{id}, fields.state,
// https://docs.datadoghq.com/api/latest/incidents/#update-an-existing-incident).
// With none (never opened, or resolved already) Send changes nothing and
// returns an empty Receipt.
//
// Test opens nothing (TestReport says what each step proved): GET
// /api/v2/validate_keys checks both keys on the same API host. On a 401 or
// 403 it asks GET /api/v1/validate, which checks the API key alone, so the
// error says which key is wrong; where validate_keys answers 404 it falls
// back to /api/v1/validate and warns that the application key was not
// checked. An incident search proves incident_read, which finding an
// event's incident again needs. No read-only call proves incident_write:
// that is a warning, and the first alert checks it.
package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/codedefender/integrations/internal/render"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// The Datadog endpoints, on the site's API host.
const (
	validateKeysPath = "/api/v2/validate_keys"
	validatePath     = "/api/v1/validate"
)

// The key headers Datadog reads. Go forwards them on a cross-host redirect,
// which is one more reason the library never follows one (https://pkg.go.dev/net/http#Client: headers are forwarded on a redirect).
const (
	apiKeyHeader = "DD-API-KEY"
	appKeyHeader = "DD-APPLICATION-KEY"
)

// Notifier opens Datadog incidents on one site.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as datadog("name"), never the config
	cfg                 Config
	http                *sender.Sender
	logger              *slog.Logger
	site                site
	incidentsURL        string      // https://<API host>/api/v2/incidents
	header              http.Header // both keys and Accept
}

// New validates c and returns a Notifier.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Compile(c.compile, opts, func(st site, s settings.Settings) (*Notifier, error) {
		h := http.Header{}
		h.Set(apiKeyHeader, c.APIKey.Reveal())
		h.Set(appKeyHeader, c.ApplicationKey.Reveal())
		h.Set("Accept", "application/json")
		n := &Notifier{
			cfg:          c,
			http:         sender.New(Type, s, c.APIKey, c.ApplicationKey),
			logger:       s.Logger,
			site:         st,
			incidentsURL: "https://" + st.api + incidentsPath,
			header:       h,
		}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

const opSend = "send: POST " + incidentsPath

// Send opens an incident for e, or returns the event's unresolved incident
// when one exists, and returns its public id and web page; a resolved event
// resolves the event's incident. An invalid event is refused before any
// network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	if e.Status.IsResolved() {
		return n.resolve(ctx, e)
	}
	found, err := n.findOpen(ctx, e.ID, true)
	if err != nil {
		return notify.Receipt{}, err
	}
	if found != nil {
		return n.receipt(ctx, *found), nil
	}
	resp, err := n.do(ctx, sender.Request{
		Op:     opSend,
		Method: http.MethodPost,
		URL:    n.incidentsURL,
		Header: n.header,
		JSON:   payload(e),
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	var created incidentResponse
	if err := resp.DecodeJSON(&created); err != nil {
		return notify.Receipt{}, n.http.BadAnswer(opSend, resp, err)
	}
	if created.Data.ID == "" {
		return notify.Receipt{}, n.http.BadAnswer(opSend, resp, errors.New("no incident id"))
	}
	return n.receipt(ctx, created.Data), nil
}

// receipt is the Receipt of an incident: its public id and web page, or,
// without a public id, its UUID, which still names it.
func (n *Notifier) receipt(ctx context.Context, in incident) notify.Receipt {
	if id := in.publicID(); id != "" {
		return n.http.Receipt(id, "https://"+n.site.web+"/incidents/"+id)
	}
	n.logger.WarnContext(ctx, "datadog: the answer carries no public_id; the receipt holds the incident's UUID",
		"integration", n.Identity.String())
	return n.http.Receipt(in.ID, "")
}

// incidentRequest is the JSON:API body of POST /api/v2/incidents.
type incidentRequest struct {
	Data incidentData `json:"data"`
}

type incidentData struct {
	Type       string             `json:"type"`
	Attributes incidentAttributes `json:"attributes"`
}

type incidentAttributes struct {
	Title            string         `json:"title"`
	CustomerImpacted bool           `json:"customer_impacted"` // required even when false
	Fields           incidentFields `json:"fields"`
	InitialCells     []timelineCell `json:"initial_cells"`
	IsTest           bool           `json:"is_test,omitempty"`
}

// fieldValue is a single-value incident field (type dropdown or textbox).
type fieldValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// multiValue is a multiple-value incident field (type textarray, the
// property field type whose values are free text).
type multiValue struct {
	Type  string   `json:"type"`
	Value []string `json:"value"`
}

// incidentFields are the fields an incident is opened with: the severity,
// and the event's ID in eventIDField.
type incidentFields struct {
	Severity fieldValue `json:"severity"`
	EventID  multiValue `json:"cd_event_id"`
}

// eventIDField is the property field that records the event's ID on its
// incident (see the package documentation).
const eventIDField = "cd_event_id"

// timelineCell is a markdown cell of the incident's timeline.
type timelineCell struct {
	CellType string      `json:"cell_type"`
	Content  cellContent `json:"content"`
}

type cellContent struct {
	Content string `json:"content"`
}

// payload maps an event onto a create-incident request.
func payload(e notify.Event) incidentRequest {
	return incidentRequest{Data: incidentData{
		Type: "incidents",
		Attributes: incidentAttributes{
			Title:            text.Truncate(render.OneLine(e.Title), maxTitleRunes),
			CustomerImpacted: false,
			Fields: incidentFields{
				Severity: fieldValue{Type: "dropdown", Value: e.Risk.DatadogSeverity()},
				EventID:  multiValue{Type: "textarray", Value: []string{e.ID}},
			},
			InitialCells: []timelineCell{{CellType: "markdown", Content: cellContent{Content: markdown(e)}}},
			IsTest:       e.Type == notify.EventTest,
		},
	}}
}

// incidentResponse is what Send reads of Datadog's 201.
type incidentResponse struct {
	Data incident `json:"data"`
}

// incident is what the library reads of an incident: its UUID, its public
// id, and its state.
type incident struct {
	ID         string `json:"id"`
	Attributes struct {
		PublicID json.RawMessage `json:"public_id"`
		State    string          `json:"state"`
		Fields   struct {
			State struct {
				Value string `json:"value"`
			} `json:"state"`
		} `json:"fields"`
	} `json:"attributes"`
}

// publicID returns the incident's public id, an integer in Datadog's
// schema, as digits; "" when the answer has none.
func (in incident) publicID() string {
	id := strings.Trim(string(in.Attributes.PublicID), `"`)
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return id
}

// resolved reports whether the incident's state is resolved: the state
// field, or the older state attribute.
func (in incident) resolved() bool {
	state := in.Attributes.Fields.State.Value
	if state == "" {
		state = in.Attributes.State
	}
	return strings.EqualFold(state, stateResolved)
}

// do sends a request with the notifier's keys; a request without its own
// Explain reads Datadog's error answer with the advice every call shares.
func (n *Notifier) do(ctx context.Context, r sender.Request) (*sender.Response, error) {
	if r.Header == nil {
		r.Header = n.header
	}
	if r.Explain == nil {
		r.Explain = n.explain(r.Op)
	}
	return n.http.Do(ctx, r)
}

// explain returns the Request.Explain of the call op: Datadog's
// {"errors":[…]} is the message (DescribeBody reads it), and the hint says
// which setting to check.
func (n *Notifier) explain(op string) func(*sender.Response) sender.Explanation {
	return func(r *sender.Response) sender.Explanation {
		var x sender.Explanation
		switch {
		case r.StatusCode == http.StatusForbidden && (op == opSend || op == opResolve):
			x.Hint = "the application key lacks the incident_write permission (grant it to the key's owner, or add it to the key's scopes), " +
				"or a key is no longer valid: run Test to tell"
		case r.StatusCode == http.StatusForbidden && op == opSearch:
			x.Hint = "the application key lacks the incident_read permission, which finding the event's incident needs"
		case r.StatusCode == http.StatusUnauthorized || r.StatusCode == http.StatusForbidden:
			x.Hint = "api_key or application_key is not valid for " + n.site.name + ": run Test to find out which"
		case r.StatusCode == http.StatusNotFound && op == opResolve:
			x.Hint = "the incident is gone (deleted in Datadog)"
		case r.StatusCode == http.StatusNotFound:
			x.Hint = "Datadog has no such endpoint on " + n.site.name + ": check the site in url"
		}
		return x
	}
}

const (
	opValidateKeys = "test: GET " + validateKeysPath
	opValidate     = "test: GET " + validatePath
	opReadable     = "test: GET " + searchPath
)

// The checks TestReport runs, in order.
const (
	checkKeys  = "keys valid"
	checkRead  = "incidents readable"
	checkWrite = "incident_write permission"
)

// TestReport checks, opening nothing, that both keys are valid on the site
// and that the application key may read incidents (finding an event's
// incident again needs it); that it may write them cannot be proven without
// opening one, so that check is a warning.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	if !n.checkKeys(ctx, &r) {
		r.SkipAll("skipped: the keys were not accepted", checkRead, checkWrite)
		return r
	}
	n.checkReadable(ctx, &r)
	r.Warn(checkWrite, "No read-only call proves that the application key may open incidents (incident_write): "+
		"the first alert sent checks it.")
	return r
}

// checkKeys records whether Datadog accepts both keys, and returns whether
// the later checks can run.
func (n *Notifier) checkKeys(ctx context.Context, r *notify.Report) bool {
	resp, err := n.do(ctx, sender.Request{
		Op:     opValidateKeys,
		Method: http.MethodGet,
		URL:    "https://" + n.site.api + validateKeysPath,
	})
	switch {
	case err == nil:
		var v struct {
			Status string `json:"status"`
		}
		if err := resp.DecodeJSON(&v); err != nil || v.Status != "ok" {
			if err == nil {
				err = errors.New(`no "status":"ok"`)
			}
			return r.Fail(checkKeys, n.http.BadAnswer(opValidateKeys, resp, err))
		}
		r.Pass(checkKeys, "Datadog accepted api_key and application_key on "+n.site.name+".")
		return true
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		valid, vresp, verr := n.apiKeyValid(ctx)
		if verr != nil {
			return r.Fail(checkKeys, verr)
		}
		if !valid {
			return r.Fail(checkKeys, n.invalidKey(opValidate, vresp, "api_key"))
		}
		r.Warn(checkKeys, validateKeysPath+" is not available on "+n.site.name+
			", so only the API key was checked; the application key is checked on first send.")
		return true
	case resp != nil && (errors.Is(err, notify.ErrUnauthorized) || errors.Is(err, notify.ErrForbidden)):
		// validate_keys does not say which key it refused; v1 checks the API key alone.
		valid, _, verr := n.apiKeyValid(ctx)
		if verr != nil {
			return r.Fail(checkKeys, err)
		}
		key := "api_key"
		if valid {
			key = "application_key"
		}
		return r.Fail(checkKeys, n.invalidKey(opValidateKeys, resp, key))
	default:
		return r.Fail(checkKeys, err)
	}
}

// checkReadable records whether the application key may search incidents
// (incident_read), with a search for an event id no event has.
func (n *Notifier) checkReadable(ctx context.Context, r *notify.Report) {
	_, err := n.do(ctx, sender.Request{Op: opReadable, Method: http.MethodGet, URL: n.searchURL("cd-test-probe")})
	switch {
	case err == nil:
		r.Pass(checkRead, "The application key may search incidents, so a retried alert finds its incident and a resolved one closes it.")
	case errors.Is(err, notify.ErrForbidden), errors.Is(err, notify.ErrRejected), errors.Is(err, notify.ErrNotFound):
		r.Warn(checkRead, "The application key may not search incidents (incident_read), or the organisation has no "+
			eventIDField+" property field: alerts are opened, but a retried alert may open a second incident "+
			"and a resolved alert cannot close its incident.")
	default:
		r.Fail(checkRead, err)
	}
}

// apiKeyValid asks GET /api/v1/validate whether the API key is valid.
func (n *Notifier) apiKeyValid(ctx context.Context) (bool, *sender.Response, error) {
	resp, err := n.do(ctx, sender.Request{
		Op:     opValidate,
		Method: http.MethodGet,
		URL:    "https://" + n.site.api + validatePath,
		// The application key is not needed here, so it is not sent.
		Header: http.Header{
			http.CanonicalHeaderKey(apiKeyHeader): {n.header.Get(apiKeyHeader)},
			"Accept":                              {n.header.Get("Accept")},
		},
	})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) {
			return false, resp, nil
		}
		return false, resp, err
	}
	var v struct {
		Valid bool `json:"valid"`
	}
	if err := resp.DecodeJSON(&v); err != nil {
		return false, resp, n.http.BadAnswer(opValidate, resp, err)
	}
	return v.Valid, resp, nil
}

// invalidKey is the error for a key Datadog refused: ErrUnauthorized
// whatever the status, since the key itself is refused.
func (n *Notifier) invalidKey(op string, r *sender.Response, field string) error {
	where := "Organization settings → API keys"
	if field == "application_key" {
		where = "Organization settings → Application keys"
	}
	status := http.StatusForbidden
	if r != nil && r.StatusCode >= 400 {
		status = r.StatusCode
	}
	return n.http.Status(op, status, nil, sender.Explanation{
		Message: field + " is not valid on " + n.site.name,
		Hint:    "it is revoked, mistyped, or from another site or organisation: copy it again from " + where,
		Kind:    notify.ErrUnauthorized,
	})
}
