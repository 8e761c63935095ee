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
// Datadog offers no idempotency key for incidents, so a Send retried after
// a timeout can open a second incident.
//
// Test opens nothing: GET /api/v2/validate_keys checks both keys on the
// same API host. On a 401 or 403 it asks GET /api/v1/validate, which checks
// the API key alone, so the error says which key is wrong; where
// validate_keys answers 404 it falls back to /api/v1/validate and logs that
// the application key was not checked. No read-only call proves
// incident_write, so the write permission is checked on first send.
package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/codedefender/integrations/internal/identity"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// The Datadog endpoints, on the site's API host.
const (
	validateKeysPath = "/api/v2/validate_keys"
	validatePath     = "/api/v1/validate"
)

// The key headers Datadog reads. Go forwards them on a cross-host redirect,
// which is one more reason the library never follows one (CONTRACTS.md §0).
const (
	apiKeyHeader = "DD-API-KEY"
	appKeyHeader = "DD-APPLICATION-KEY"
)

// Notifier opens Datadog incidents on one site.
type Notifier struct {
	identity.Identity // prints as datadog("name"): never the config
	cfg               Config
	http              *sender.Sender
	logger            *slog.Logger
	site              site
	incidentsURL      string      // https://<API host>/api/v2/incidents
	header            http.Header // both keys and Accept
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates c and returns a Notifier.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	st, _ := parseURL(c.URL)
	s := settings.Apply(opts...)
	h := http.Header{}
	h.Set(apiKeyHeader, c.APIKey.Reveal())
	h.Set(appKeyHeader, c.ApplicationKey.Reveal())
	h.Set("Accept", "application/json")
	return &Notifier{
		Identity:     identity.New(Type, c.Name),
		cfg:          c,
		http:         sender.New(Type, s, c.APIKey, c.ApplicationKey),
		logger:       s.Logger,
		site:         st,
		incidentsURL: "https://" + st.api + incidentsPath,
		header:       h,
	}, nil
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}

// Validate checks the configuration offline (Config.Validate).
func (n *Notifier) Validate() error { return n.cfg.Validate() }

// Close releases the notifier's idle connections (those of a client given
// with notify.WithHTTPClient stay the caller's). Every destination's
// Notifier has Close, so all are io.Closers; this one keeps working
// afterwards, opening new connections.
func (n *Notifier) Close() error {
	n.http.Close()
	return nil
}

const opSend = "send: POST " + incidentsPath

// Send opens an incident for e and returns its public id and web page. An
// invalid event is refused before any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
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
	if id := created.publicID(); id != "" {
		return notify.Receipt{ID: id, URL: "https://" + n.site.web + "/incidents/" + id}, nil
	}
	if created.Data.ID != "" {
		// Opened, but without the number people see: the UUID still names it.
		n.logger.WarnContext(ctx, "datadog: the answer carries no public_id; the receipt holds the incident's UUID",
			"integration", n.Identity.String())
		return notify.Receipt{ID: created.Data.ID}, nil
	}
	return notify.Receipt{}, n.http.BadAnswer(opSend, resp, errors.New("no incident id"))
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
	Title            string                `json:"title"`
	CustomerImpacted bool                  `json:"customer_impacted"` // required even when false
	Fields           map[string]fieldValue `json:"fields"`
	InitialCells     []timelineCell        `json:"initial_cells"`
	IsTest           bool                  `json:"is_test,omitempty"`
}

// fieldValue is a single-value incident field (type dropdown or textbox).
type fieldValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

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
			Title:            text.Truncate(oneLine(e.Title), maxTitleRunes),
			CustomerImpacted: false,
			Fields:           map[string]fieldValue{"severity": {Type: "dropdown", Value: e.Risk.DatadogSeverity()}},
			InitialCells:     []timelineCell{{CellType: "markdown", Content: cellContent{Content: markdown(e)}}},
			IsTest:           e.Type == notify.EventTest,
		},
	}}
}

// incidentResponse is what Send reads of Datadog's 201.
type incidentResponse struct {
	Data struct {
		ID         string `json:"id"`
		Attributes struct {
			PublicID json.RawMessage `json:"public_id"`
		} `json:"attributes"`
	} `json:"data"`
}

// publicID returns the incident's public id, an integer in Datadog's
// schema, as digits; "" when the answer has none.
func (r incidentResponse) publicID() string {
	id := strings.Trim(string(r.Data.Attributes.PublicID), `"`)
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return id
}

// do sends a request and adds Datadog-specific advice to its errors.
func (n *Notifier) do(ctx context.Context, r sender.Request) (*sender.Response, error) {
	resp, err := n.http.Do(ctx, r)
	if err == nil {
		return resp, nil // before ne, which errors.As would move to the heap
	}
	var ne *notify.Error
	if errors.As(err, &ne) {
		switch {
		case errors.Is(err, notify.ErrForbidden) && r.Op == opSend:
			ne.Hint = "the application key lacks the incident_write permission (grant it to the key's owner, or add it to the key's scopes), " +
				"or a key is no longer valid: run Test to tell"
		case errors.Is(err, notify.ErrUnauthorized) || errors.Is(err, notify.ErrForbidden):
			ne.Hint = "api_key or application_key is not valid for " + n.site.name + ": run Test to find out which"
		case errors.Is(err, notify.ErrNotFound):
			ne.Hint = "Datadog has no such endpoint on " + n.site.name + ": check the site in url"
		}
	}
	return resp, err
}

const (
	opValidateKeys = "test: GET " + validateKeysPath
	opValidate     = "test: GET " + validatePath
)

// Test checks both keys against the site, opening nothing.
func (n *Notifier) Test(ctx context.Context) error {
	resp, err := n.do(ctx, sender.Request{
		Op:     opValidateKeys,
		Method: http.MethodGet,
		URL:    "https://" + n.site.api + validateKeysPath,
		Header: n.header,
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
			return n.http.BadAnswer(opValidateKeys, resp, err)
		}
		return nil
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		valid, verr := n.apiKeyValid(ctx)
		if verr != nil {
			return verr
		}
		if !valid {
			return n.invalidKey(opValidate, http.StatusForbidden, "api_key")
		}
		n.logger.WarnContext(ctx, "datadog: test: "+validateKeysPath+" is not available on "+n.site.name+
			", so only the API key was checked; the application key and incident_write are checked on first send",
			"integration", n.Identity.String())
		return nil
	case resp != nil && (errors.Is(err, notify.ErrUnauthorized) || errors.Is(err, notify.ErrForbidden)):
		// validate_keys does not say which key it refused; v1 checks the API key alone.
		valid, verr := n.apiKeyValid(ctx)
		if verr != nil {
			return err
		}
		key := "api_key"
		if valid {
			key = "application_key"
		}
		return n.invalidKey(opValidateKeys, resp.StatusCode, key)
	default:
		return err
	}
}

// apiKeyValid asks GET /api/v1/validate whether the API key is valid.
func (n *Notifier) apiKeyValid(ctx context.Context) (bool, error) {
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
			return false, nil
		}
		return false, err
	}
	var v struct {
		Valid bool `json:"valid"`
	}
	if err := resp.DecodeJSON(&v); err != nil {
		return false, n.http.BadAnswer(opValidate, resp, err)
	}
	return v.Valid, nil
}

// invalidKey is the error for a key Datadog refused.
func (n *Notifier) invalidKey(op string, status int, field string) error {
	where := "Organization settings → API keys"
	if field == "application_key" {
		where = "Organization settings → Application keys"
	}
	return &notify.Error{
		Integration: Type,
		Op:          op,
		StatusCode:  status,
		Kind:        notify.ErrUnauthorized, // whatever the status: the key itself is refused
		Message:     field + " is not valid on " + n.site.name,
		Hint:        "it is revoked, mistyped, or from another site or organisation: copy it again from " + where,
	}
}
