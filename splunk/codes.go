package splunk

import (
	"fmt"
	"net/http"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// HEC answers {"text": ..., "code": N} and, for a batch whose event N
// failed, "invalid-event-number" (CONTRACTS §6).
type hecAnswer struct {
	Text               string `json:"text"`
	Code               *int   `json:"code"`
	InvalidEventNumber *int   `json:"invalid-event-number"`
}

// The HEC codes the notifier itself branches on.
const (
	codeSuccess      = 0
	codeNoData       = 5
	codeIncorrectIdx = 7
)

// hecCode is what one HEC code means for the caller.
type hecCode struct {
	kind      error
	retryable bool
	hint      string
}

// hecCodes maps HEC's body codes onto sentinels (CONTRACTS §6, from
// SplunkAdmins' copy of Splunk's table). The code decides, not the HTTP
// status: a 403 with code 1 (token disabled) and a 403 with code 4 (invalid
// token) need different fixes. Code 7 (incorrect index) is handled apart,
// since it names a config field. Codes not listed fall back to the HTTP
// status table.
var hecCodes = map[int]hecCode{
	1:  {notify.ErrForbidden, false, disabledHint},
	2:  {notify.ErrUnauthorized, false, "the Authorization header did not reach HEC: a proxy in between may strip it"},
	3:  {notify.ErrUnauthorized, false, "HEC did not accept the Authorization header"},
	4:  {notify.ErrUnauthorized, false, invalidHint},
	5:  {notify.ErrRejected, false, "the request reached HEC without its body: a proxy in between may drop it"},
	6:  {notify.ErrRejected, false, "HEC could not parse an event"},
	8:  {notify.ErrUnavailable, true, "HEC had an internal error: retry later"},
	9:  {notify.ErrUnavailable, true, "HEC is busy: retry later"},
	10: {notify.ErrRejected, false, "the token has indexer acknowledgement on and wants a request channel"},
	11: {notify.ErrRejected, false, "HEC refused the request channel"},
	12: {notify.ErrRejected, false, "an event reached HEC without its event field"},
	13: {notify.ErrRejected, false, "an event reached HEC with a blank event field"},
	14: {notify.ErrRejected, false, "indexer acknowledgement is off for this token"},
	15: {notify.ErrRejected, false, "HEC could not handle the indexed fields"},
	16: {notify.ErrRejected, false, "this library sends the token in the Authorization header, never in the query string"},
	18: {notify.ErrUnavailable, true, "HEC's queues are full: retry later"},
	19: {notify.ErrUnavailable, true, "HEC's acknowledgement service is unavailable: retry later"},
	20: {notify.ErrUnavailable, true, "HEC's queues are full and its acknowledgement service is unavailable: retry later"},
	21: {notify.ErrUnauthorized, false, invalidHint},
	22: {notify.ErrForbidden, false, disabledHint},
}

const (
	disabledHint = "the token is disabled: enable it in Splunk under Settings > Data inputs > HTTP Event Collector"
	invalidHint  = "HEC does not know this token: copy it again from Settings > Data inputs > HTTP Event Collector"
)

// parseAnswer reads HEC's JSON answer; ok is false when the body is not one.
func parseAnswer(r *sender.Response) (hecAnswer, bool) {
	var a hecAnswer
	if err := r.DecodeJSON(&a); err != nil || a.Code == nil {
		return hecAnswer{}, false
	}
	return a, true
}

// noHECHint is the hint of a 404 that is not HEC's answer.
const noHECHint = "no HEC endpoint at this URL: check it (Splunk Cloud: https://http-inputs-<stack>.splunkcloud.com/services/collector) and that HEC is enabled"

// checkAnswer returns nil when HEC accepted the request (a 2xx with code
// 0), and otherwise the error for it. doErr is what Sender.Do returned with
// resp: for a status other than 2xx it is already the finished error, read
// by explainer; events are the request's events, in order, to name the one
// HEC's invalid-event-number points at.
func (n *Notifier) checkAnswer(op string, resp *sender.Response, doErr error, events []notify.Event) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return doErr
	}
	a, ok := parseAnswer(resp)
	switch {
	case ok && *a.Code == codeSuccess:
		return nil
	case !ok:
		// A receipt must come from HEC's own answer; a proxy's page is not one.
		return n.http.Status(op, resp.StatusCode, resp.Header, sender.Explanation{Kind: notify.ErrRejected,
			Message: "the answer is not HEC's JSON (it has no code); is the URL the HEC endpoint?"})
	}
	return n.http.Status(op, resp.StatusCode, resp.Header, n.explainAnswer(resp, events))
}

// explainer is the sender.Request.Explain of a request holding events.
func (n *Notifier) explainer(events []notify.Event) func(*sender.Response) sender.Explanation {
	return func(r *sender.Response) sender.Explanation { return n.explainAnswer(r, events) }
}

// explainAnswer reads HEC's answer once: its code decides the sentinel
// when it is one HEC documents, else the HTTP status does; an answer
// without a HEC code (a proxy's page, a load balancer's 429, 502 or 504)
// goes by the shared status table. What HEC said is scrubbed of the token
// by the Sender.
func (n *Notifier) explainAnswer(r *sender.Response, events []notify.Event) sender.Explanation {
	a, ok := parseAnswer(r)
	if !ok {
		if r.StatusCode == http.StatusNotFound {
			return sender.Explanation{Hint: noHECHint}
		}
		return sender.Explanation{}
	}
	x := sender.Explanation{Message: fmt.Sprintf("HEC code %d: %s", *a.Code, a.Text)}
	if a.InvalidEventNumber != nil {
		i := *a.InvalidEventNumber
		if i >= 0 && i < len(events) {
			x.Message += fmt.Sprintf(" (event %d of the request, id %q)", i, events[i].ID)
		} else {
			x.Message += fmt.Sprintf(" (event %d of the request)", i)
		}
	}
	switch c, known := hecCodes[*a.Code]; {
	case *a.Code == codeIncorrectIdx:
		x.Kind, x.Retryable, x.Err = notify.ErrRejected, false, n.indexError()
	case known:
		x.Kind, x.Retryable, x.Hint = c.kind, c.retryable, c.hint
	}
	return x
}

// indexError is the cause of a code 7: a field error naming "index", so
// that a console can point at the field (errors.As to *notify.ValidationError)
// while errors.Is(err, notify.ErrRejected) still holds.
func (n *Notifier) indexError() *notify.ValidationError {
	msg := "the token's default index does not exist or the token may not write to it: set index, or fix the token in Splunk"
	if n.cfg.Index != "" {
		msg = fmt.Sprintf("%q is not an index this token may write to: add it to the token's allowed indexes in Splunk, "+
			"or change index", n.cfg.Index)
	}
	return &notify.ValidationError{Fields: []notify.FieldError{{Field: "index", Message: msg}}}
}
