package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// searchPath is the incident search
// (https://docs.datadoghq.com/api/latest/incidents/#search-for-incidents):
// GET with query=<facets joined by AND>, answering
// {"data":{"attributes":{"incidents":[…],"total"}}}.
const searchPath = "/api/v2/incidents/search"

// searchPageSize bounds the answer: an event has one incident, and a
// retried create or a hand-made copy at most a few more.
const searchPageSize = 10

const (
	stateResolved = "resolved"
	opSearch      = "send: GET " + searchPath
	opResolve     = "send: PATCH " + incidentsPath + "/{id}"
)

// searchURL is the search for the incidents recorded for an event. The
// event ID holds only letters, digits, '-', '_' and ':' (Event.Validate);
// it is quoted, so a ':' stays part of the value.
func (n *Notifier) searchURL(eventID string) string {
	q := url.Values{}
	q.Set("query", eventIDField+`:"`+eventID+`"`)
	q.Set("page[size]", strconv.Itoa(searchPageSize))
	return "https://" + n.site.api + searchPath + "?" + q.Encode()
}

// searchResponse is what the library reads of a search answer. Datadog's
// reference shows each result as {"data":{…incident…}}, and some answers
// carry the incident itself: both are read.
type searchResponse struct {
	Data struct {
		Attributes struct {
			Incidents []searchHit `json:"incidents"`
		} `json:"attributes"`
	} `json:"data"`
}

type searchHit struct {
	incident
	Data *incident `json:"data"`
}

func (h searchHit) get() incident {
	if h.Data != nil {
		return *h.Data
	}
	return h.incident
}

// findOpen returns the event's unresolved incident, or nil when there is
// none. With lenient set (an open Send, which must not lose its alert to a
// search problem), a search Datadog refuses for good is logged and read as
// none; an auth failure or a retryable one is returned either way.
func (n *Notifier) findOpen(ctx context.Context, eventID string, lenient bool) (*incident, error) {
	resp, err := n.do(ctx, sender.Request{Op: opSearch, Method: http.MethodGet, URL: n.searchURL(eventID)})
	if err != nil {
		if lenient && resp != nil && (errors.Is(err, notify.ErrForbidden) || errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrNotFound)) {
			n.logger.WarnContext(ctx, "datadog: the search for the event's incident failed; opening one without it",
				"integration", n.Identity.String(), "error", err.Error())
			return nil, nil
		}
		return nil, err
	}
	var page searchResponse
	if err := resp.DecodeJSON(&page); err != nil {
		return nil, n.http.BadAnswer(opSearch, resp, err)
	}
	for _, h := range page.Data.Attributes.Incidents {
		if in := h.get(); in.ID != "" && !in.resolved() {
			return &in, nil
		}
	}
	return nil, nil
}

// updateRequest is the JSON:API body of PATCH /api/v2/incidents/{id}: a
// partial update that sets only the state field.
type updateRequest struct {
	Data updateData `json:"data"`
}

type updateData struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Attributes updateAttributes `json:"attributes"`
}

type updateAttributes struct {
	Fields map[string]fieldValue `json:"fields"`
}

// resolve sets the event's unresolved incident to resolved. With none it
// changes nothing and returns an empty Receipt.
func (n *Notifier) resolve(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	in, err := n.findOpen(ctx, e.ID, false)
	if err != nil || in == nil {
		return notify.Receipt{}, err
	}
	body := updateRequest{Data: updateData{ID: in.ID, Type: "incidents", Attributes: updateAttributes{
		Fields: map[string]fieldValue{"state": {Type: "dropdown", Value: stateResolved}},
	}}}
	resp, err := n.do(ctx, sender.Request{Op: opResolve, Method: http.MethodPatch,
		URL: n.incidentsURL + "/" + url.PathEscape(in.ID), JSON: body})
	if err != nil {
		return notify.Receipt{}, err
	}
	var updated incidentResponse
	if json.Unmarshal(resp.Body, &updated) == nil && updated.Data.ID != "" && !strings.EqualFold(updated.Data.ID, in.ID) {
		return notify.Receipt{}, n.http.BadAnswer(opResolve, resp, errors.New("the answer names another incident"))
	}
	return n.receipt(ctx, *in), nil
}
