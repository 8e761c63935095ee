package jira

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// The calls that resolve an issue. A comment goes through v2, whose body is
// wiki markup like the description (v3 wants the Atlassian Document
// Format). The transitions are read and performed through v3, whose
// transition calls take the same JSON as v2's
// (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get).
const (
	issuePath       = "/rest/api/2/issue/"
	transitionsPath = "/rest/api/3/issue/"

	opComment       = "send: POST " + issuePath + "{key}/comment"
	opTransitions   = "send: GET " + transitionsPath + "{key}/transitions"
	opDoTransition  = "send: POST " + transitionsPath + "{key}/transitions"
	doneCategoryKey = "done" // statusCategory.key of every Done-category status
)

// transitionsResponse is what resolve reads of GET …/transitions: each
// transition's id and the category of the status it leads to.
type transitionsResponse struct {
	Transitions []transition `json:"transitions"`
}

type transition struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	To   struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"to"`
}

// doneTransition returns the first transition that leads to a status of the
// Done category: its id is the workflow's own, never assumed.
func (t transitionsResponse) doneTransition() (transition, bool) {
	for _, tr := range t.Transitions {
		if tr.ID != "" && strings.EqualFold(tr.To.StatusCategory.Key, doneCategoryKey) {
			return tr, true
		}
	}
	return transition{}, false
}

type commentRequest struct {
	Body string `json:"body"`
}

type transitionRequest struct {
	Transition idRef `json:"transition"`
}

// resolve closes the event's open issue: it comments that the alert was
// resolved, then moves the issue to a Done-category status when the
// workflow offers a transition to one from where the issue is. Without such
// a transition the issue keeps its status, commented, and the resolution is
// logged as partial. The transitions are read before the comment is
// posted, so that an issue Jira will not let the account transition still
// gets its comment only once per resolve.
func (n *Notifier) resolve(ctx context.Context, e notify.Event, key string) (notify.Receipt, error) {
	issue := url.PathEscape(key)
	var ts transitionsResponse
	if _, err := n.getJSON(ctx, opTransitions, n.base+transitionsPath+issue+"/transitions", &ts); err != nil {
		return notify.Receipt{}, err
	}
	comment := commentRequest{Body: "Code Defender resolved this alert at " + e.Time.UTC().Format(time.RFC3339) + "."}
	if _, err := n.do(ctx, sender.Request{Op: opComment, Method: http.MethodPost,
		URL: n.base + issuePath + issue + "/comment", JSON: comment}); err != nil {
		return notify.Receipt{}, err
	}
	done, ok := ts.doneTransition()
	if !ok {
		n.logger.InfoContext(ctx, "jira: the workflow offers no transition to a Done status from the issue's; it is commented as resolved but stays open",
			"integration", n.Identity.String(), "issue", n.http.Clean(key))
		return n.receipt(key), nil
	}
	_, err := n.do(ctx, sender.Request{Op: opDoTransition, Method: http.MethodPost,
		URL: n.base + transitionsPath + issue + "/transitions", JSON: transitionRequest{Transition: idRef{ID: done.ID}},
		Explain: n.explain(transitionHint)})
	if err != nil {
		return notify.Receipt{}, err
	}
	return n.receipt(key), nil
}

// transitionHint says what a refused Done transition most likely needs.
func transitionHint(status int, b errorBody) string {
	if status == http.StatusBadRequest && len(b.Errors) > 0 {
		return "the workflow's transition to Done asks for fields the integration does not fill (" +
			strings.Join(fieldNames(b.Errors, func(string, string) bool { return true }), ", ") + "): drop them from the transition's screen, or give them a default"
	}
	return ""
}
