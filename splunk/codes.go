package splunk

import (
	"errors"
	"fmt"
	"net/http"
	"time"

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

// checkAnswer returns nil when HEC accepted the request (a 2xx with code
// 0), and otherwise the error for it. doErr is what Sender.Do returned with
// resp; events are the request's events, in order, to name the one HEC's
// invalid-event-number points at.
func (n *Notifier) checkAnswer(op string, resp *sender.Response, doErr error, events []notify.Event) error {
	a, ok := parseAnswer(resp)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		switch {
		case ok && *a.Code == codeSuccess:
			return nil
		case !ok:
			// A receipt must come from HEC's own answer; a proxy's page is not one.
			e := n.http.Errorf(op, notify.ErrRejected, false, "the answer is not HEC's JSON (it has no code); is the URL the HEC endpoint?")
			e.StatusCode = resp.StatusCode
			return e
		}
	}
	if !ok {
		// Not HEC's JSON (a proxy, a redirect, a page): the shared status
		// table has already read it.
		var e *notify.Error
		if errors.As(doErr, &e) && e.StatusCode == http.StatusNotFound {
			e.Hint = "no HEC endpoint at this URL: check it (Splunk Cloud: https://http-inputs-<stack>.splunkcloud.com/services/collector) and that HEC is enabled"
		}
		return doErr
	}
	return n.codeError(op, resp, a, events)
}

// codeError turns a HEC answer with a code other than success into an
// *notify.Error: the code decides the sentinel when it is one HEC
// documents, else the HTTP status does. What HEC said is scrubbed of the
// token.
func (n *Notifier) codeError(op string, resp *sender.Response, a hecAnswer, events []notify.Event) *notify.Error {
	kind, retryable := sender.ClassifyStatus(resp.StatusCode)
	if kind == nil { // a 2xx with a code other than 0
		kind = notify.ErrRejected
	}
	e := &notify.Error{
		Integration: Type,
		Op:          op,
		StatusCode:  resp.StatusCode,
		Retryable:   retryable,
		RetryAfter:  sender.ParseRetryAfter(resp.Header, time.Now()),
		Kind:        kind,
		Message:     n.http.Clean(fmt.Sprintf("HEC code %d: %s", *a.Code, a.Text)),
	}
	if a.InvalidEventNumber != nil {
		i := *a.InvalidEventNumber
		if i >= 0 && i < len(events) {
			e.Message += fmt.Sprintf(" (event %d of the request, id %q)", i, events[i].ID)
		} else {
			e.Message += fmt.Sprintf(" (event %d of the request)", i)
		}
	}
	if *a.Code == codeIncorrectIdx {
		e.Kind, e.Retryable = notify.ErrRejected, false
		e.Err = n.indexError()
		return e
	}
	if c, known := hecCodes[*a.Code]; known {
		e.Kind, e.Retryable, e.Hint = c.kind, c.retryable, c.hint
	}
	return e
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
