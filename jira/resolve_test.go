package jira

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
)

const (
	transitionsURL = site + "/rest/api/3/issue/SEC-7/transitions"
	commentURL     = site + "/rest/api/2/issue/SEC-7/comment"
	openIssue      = `{"issues":[{"id":"10042","key":"SEC-7","fields":{"summary":"[CRITICAL] New script on checkout"}}],"isLast":true}`
	// workflow is Jira's answer for an issue in To Do: the Done transition's
	// id (41) is the workflow's own, not Jira's usual 31.
	workflow = `{"expand":"transitions","transitions":[` +
		`{"id":"21","name":"Start","to":{"id":"3","name":"In Progress","statusCategory":{"id":4,"key":"indeterminate","name":"In Progress"}}},` +
		`{"id":"41","name":"Close","to":{"id":"10001","name":"Closed","statusCategory":{"id":3,"key":"done","name":"Done"}}}]}`
	resolvedComment = `{"body":"Code Defender resolved this alert at 2026-01-02T03:04:05Z."}`
	fixtureJQL      = `project = 10000 AND labels = \"cd-evt-123\" AND statusCategory != \"Done\"`
)

func TestResolveCommentsThenTransitionsToDone(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, searchURL, 200, openIssue, nil)
	h.On(http.MethodGet, transitionsURL, 200, workflow, nil)
	h.On(http.MethodPost, commentURL, 201, `{"id":"10500","body":"x"}`, nil)
	h.On(http.MethodPost, transitionsURL, 204, ``, nil)
	h.On(http.MethodPost, createURL, 201, created, nil)

	r, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "SEC-7", URL: site + "/browse/SEC-7"}, r)

	reqs := h.Requests()
	require.Len(t, reqs, 4)
	for i, want := range []struct{ method, url, body string }{
		{http.MethodPost, searchURL, `{"jql":"` + fixtureJQL + `","maxResults":1,"fields":["summary"]}`},
		{http.MethodGet, transitionsURL, ``},
		{http.MethodPost, commentURL, resolvedComment},
		{http.MethodPost, transitionsURL, `{"transition":{"id":"41"}}`},
	} {
		require.Equal(t, want.method, reqs[i].Method, "request %d", i)
		require.Equal(t, want.url, reqs[i].URL(), "request %d", i)
		requireHeaders(t, reqs[i], want.body != "")
		if want.body == "" {
			require.Empty(t, reqs[i].Body)
		} else {
			testkit.JSONEq(t, want.body, reqs[i].Body)
		}
	}
	require.Zero(t, h.Calls(http.MethodPost, createURL), "resolving files nothing")
}

func TestResolveWithoutADoneTransitionOnlyComments(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, searchURL, 200, openIssue, nil)
	h.On(http.MethodGet, transitionsURL, 200, `{"transitions":[{"id":"21","name":"Start","to":{"name":"In Progress","statusCategory":{"key":"indeterminate"}}}]}`, nil)
	h.On(http.MethodPost, commentURL, 201, `{"id":"10500"}`, nil)

	r, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, "SEC-7", r.ID)
	require.Equal(t, 1, h.Calls(http.MethodPost, commentURL))
	require.Zero(t, h.Calls(http.MethodPost, transitionsURL), "no transition id is guessed")
	require.Contains(t, h.logs.String(), "no transition to a Done status")
}

func TestResolveNothingOpen(t *testing.T) {
	// Never opened, or already resolved: the dedup search finds no open
	// issue, and resolving is a success that touches nothing.
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, searchURL, 200, noIssues, nil)
	h.On(http.MethodPost, createURL, 201, created, nil)
	for range 2 {
		r, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
		require.NoError(t, err)
		require.Equal(t, notify.Receipt{}, r)
	}
	require.Equal(t, 2, h.GetTotalCallCount(), "only the searches")
	require.Zero(t, h.Calls(http.MethodPost, createURL))
}

func TestResolveFailures(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(h *harness)
		kind     error
		op       string
		hint     string
		comments int
	}{
		{
			name: "transition asks for a field",
			setup: func(h *harness) {
				h.On(http.MethodGet, transitionsURL, 200, workflow, nil)
				h.On(http.MethodPost, commentURL, 201, `{"id":"1"}`, nil)
				h.On(http.MethodPost, transitionsURL, 400, `{"errorMessages":[],"errors":{"resolution":"Resolution is required."}}`, nil)
			},
			kind: notify.ErrRejected, op: opDoTransition, hint: "asks for fields the integration does not fill (resolution)", comments: 1,
		},
		{
			name: "comment refused",
			setup: func(h *harness) {
				h.On(http.MethodGet, transitionsURL, 200, workflow, nil)
				h.On(http.MethodPost, commentURL, 403, `{"errorMessages":["You do not have the permission to comment on this issue."]}`, nil)
			},
			kind: notify.ErrForbidden, op: opComment, hint: "lacks a permission", comments: 1,
		},
		{
			name: "issue gone",
			setup: func(h *harness) {
				h.On(http.MethodGet, transitionsURL, 404, `{"errorMessages":["Issue does not exist"]}`, nil)
			},
			kind: notify.ErrNotFound, op: opTransitions,
		},
		{
			name:  "unavailable",
			setup: func(h *harness) { h.On(http.MethodGet, transitionsURL, 503, ``, nil) },
			kind:  notify.ErrUnavailable, op: opTransitions,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, validConfig())
			h.On(http.MethodPost, searchURL, 200, openIssue, nil)
			tt.setup(h)
			_, err := h.n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
			ne := requireKind(t, err, tt.kind, tt.kind == notify.ErrUnavailable)
			require.Equal(t, tt.op, ne.Op)
			require.Contains(t, ne.Hint, tt.hint)
			require.Equal(t, tt.comments, h.Calls(http.MethodPost, commentURL))
		})
	}
}

// TestCreateHintIsScrubbed sends a 400 whose field names carry the token
// and a line break: the hint copies field names, so it must scrub and fold
// them like the message.
func TestCreateHintIsScrubbed(t *testing.T) {
	h := newHarness(t, validConfig())
	h.On(http.MethodPost, searchURL, 200, noIssues, nil)
	h.On(http.MethodPost, createURL, 400, `{"errorMessages":[],"errors":{"customfield_`+token.Reveal()+`":"Team is required.",`+
		`"customfield_2\nlevel=ERROR forged":"Site is required.","`+strings.Repeat("f", 500)+`":"is required"}}`, nil)
	_, err := h.n.Send(context.Background(), testkit.FullEvent())
	ne := requireKind(t, err, notify.ErrRejected, false)
	require.Contains(t, ne.Hint, "requires fields the integration does not fill (")
	require.Contains(t, ne.Hint, "customfield_[REDACTED]")
	require.NotContains(t, ne.Hint, "\n")
	require.NotContains(t, ne.Hint, strings.Repeat("f", 100), "each field name is bounded")
}

// TestTagsCannotForgeADedupLabel: a tag shaped like another event's dedup
// label must not become that label, or that event's alert would find this
// issue and never be filed.
func TestTagsCannotForgeADedupLabel(t *testing.T) {
	e := testkit.FullEvent()
	e.Tags = []string{"cd-evt-999", "CD-evt-998", "cd-", "pci"}
	got := labels(e)
	require.Equal(t, "cd-evt-123", got[0])
	for _, l := range got[1:] {
		require.False(t, strings.HasPrefix(strings.ToLower(l), labelPrefix), "tag label %q is in the dedup namespace", l)
	}
	require.Equal(t, []string{"cd-evt-123", "tag-cd-evt-999", "tag-CD-evt-998", "tag-cd-", "pci"}, got)
}
