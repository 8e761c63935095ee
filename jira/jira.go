// Package jira files Code Defender alerts as issues in a Jira Cloud project,
// through the REST API v2 (https://developer.atlassian.com/cloud/jira/platform/rest/v2/).
//
// The integration is a site URL (https://<site>.atlassian.net/rest/api/2/issue/),
// a numeric project id, an issue type (Task by default), and a classic API
// token with the e-mail address of its account, sent as Basic auth. The
// base64 of that pair is scrubbed from errors and logs like the token.
//
// Send files one issue per event:
//
//   - summary: "[RISK] title" on one line, cut to 254 UTF-16 units (Jira
//     counts Java characters; 255 is the limit, and its error texts disagree
//     on whether 255 itself passes);
//   - description, in wiki markup: the event's description, its risk, type,
//     source, time, console link and id, then its details as a table, all
//     within 32,767 units. Untrusted text is escaped, so an alert cannot
//     inject markup, links, images, macros or mentions;
//   - labels: "cd-<event id>", then the event's tags with spaces replaced by
//     '-' (Jira refuses a label with a space); a tag that starts with "cd-"
//     is kept as "tag-cd-…", so that tags can never forge another event's
//     dedup label;
//   - priority, only with priority_from_risk: critical → Highest, high →
//     High, medium → Medium, low → Low, info → Lowest (notify.Risk.JiraPriority).
//
// The Receipt is the key Jira answered (SEC-24) and its browse URL.
//
// Creating an issue is not idempotent, so before filing, Send looks for an
// open issue of the project that carries the event's label and returns it
// instead: a retried Send does not file a second issue. The search uses
// POST /rest/api/3/search/jql, because Atlassian removed the v2 search
// (/rest/api/2/search answers 410); the v3 search takes JQL and returns
// issue keys exactly as v2 would, so only the create call needs v2. Jira's
// search index lags a few seconds behind a create, so two sends of one event
// within that window can still file twice. A search the site refuses for
// good (a 400 or 404 other than an auth failure) is logged and the issue is
// filed anyway, so that a search problem never blocks alerts.
//
// A resolved event (notify.StatusResolved) closes the event's open issue,
// found by the same search: Send comments that Code Defender resolved the
// alert (POST /rest/api/2/issue/{key}/comment), then reads the issue's
// transitions (GET /rest/api/3/issue/{key}/transitions) and performs the
// first one whose target status is in the Done category, so the workflow's
// own transition id is used, never an assumed one. A workflow without such
// a transition leaves the issue commented and open. With no open issue
// (never opened, or resolved already) Send files nothing and returns an
// empty Receipt.
//
// Test files nothing; TestReport says what each step proved. In order, it
// checks that
//
//   - the token works and belongs to reporter_email (GET /rest/api/2/myself;
//     a 200 carrying X-Seraph-LoginReason: AUTHENTICATED_FAILED is a failed
//     login, as on every call). When Jira hides the account's e-mail
//     address, Test cannot compare it, which is a warning: Jira accepted the
//     address and the token as a pair, which it does only for the token's
//     owner;
//   - the project exists and the account can see it (GET /rest/api/2/project/{id});
//   - the issue type is in the project's create metadata
//     (GET /rest/api/2/issue/createmeta/{project}/issuetypes, names compared
//     case-insensitively);
//   - the Labels field, and with priority_from_risk the Priority field and
//     the five priority names, are on that issue type's create screen, and
//     no field the integration does not fill is required
//     (GET …/createmeta/{project}/issuetypes/{id}).
//
// Each failure says which prerequisite is missing and how to fix it.
package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/codedefender/integrations/internal/render"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// The Jira endpoints, relative to the site.
const (
	createPath     = "/rest/api/2/issue"
	searchPath     = "/rest/api/3/search/jql"
	myselfPath     = "/rest/api/2/myself"
	projectPath    = "/rest/api/2/project/"
	createMetaPath = "/rest/api/2/issue/createmeta/"
)

// Create metadata is paged. metaPageSize is Jira's default page;
// maxMetaRequests bounds how many pages Test reads (3,000 fields at most).
const (
	metaPageSize    = 50
	maxMetaRequests = 60
)

// seraphHeader carries the outcome of Basic auth: Jira answers some calls
// anonymously (200) after a failed login, and says so only here.
const seraphHeader = "X-Seraph-LoginReason"

// seraphKey is seraphHeader in the canonical form http.Header stores it
// in: looked up in that form, it is read without an allocation.
const seraphKey = "X-Seraph-Loginreason"

// Notifier files events as issues in one Jira project.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as jira("name"), never the config
	cfg                 Config
	http                *sender.Sender
	logger              *slog.Logger
	base                string      // https://<site>.atlassian.net
	createURL           string      // base + createPath
	searchURL           string      // base + searchPath
	header              http.Header // Basic auth and Accept, sent on every call
}

// New validates c and returns a Notifier.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Compile(c.compile, opts, func(cc compiled, s settings.Settings) (*Notifier, error) {
		base := cc.base
		basic := notify.Secret(base64.StdEncoding.EncodeToString([]byte(c.ReporterEmail + ":" + c.APIToken.Reveal())))
		n := &Notifier{
			cfg:       c,
			http:      sender.New(Type, s, c.APIToken, basic),
			logger:    s.Logger,
			base:      base,
			createURL: base + createPath,
			searchURL: base + searchPath,
			header: http.Header{
				"Authorization": {"Basic " + basic.Reveal()},
				"Accept":        {"application/json"},
			},
		}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

// Send files e as an issue, or returns the event's open issue when one
// exists, and returns its key and browse URL. An invalid event is refused
// before any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	key, err := n.findOpenIssue(ctx, e.ID)
	switch {
	case err != nil:
		return notify.Receipt{}, err
	case e.Status.IsResolved():
		if key == "" {
			return notify.Receipt{}, nil // nothing open: nothing to close
		}
		return n.resolve(ctx, e, key)
	case key != "":
		return n.receipt(key), nil
	}
	return n.create(ctx, e)
}

// The checks TestReport runs, in order.
const (
	checkMyself   = "token belongs to reporter_email"
	checkProject  = "project visible"
	checkType     = "issue type exists"
	checkLabels   = "Labels on the create screen"
	checkPriority = "Priority on the create screen"
	checkRequired = "no unfilled required fields"
)

// TestReport checks, filing nothing, that the token is reporter_email's,
// that the project and issue type exist, and that the create screen has the
// fields Send sets, and says what each step proved (Test returns the first
// failure). A step that cannot run because an earlier one failed is skipped.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	steps := []string{checkMyself, checkProject, checkType, checkLabels, checkPriority, checkRequired}
	skipRest := func(from int) notify.Report {
		r.SkipAll("skipped: an earlier check failed", steps[from:]...)
		return r
	}
	hidden, err := n.checkMyself(ctx)
	switch {
	case err != nil:
		r.Fail(checkMyself, err)
		return skipRest(1)
	case hidden:
		r.Warn(checkMyself, "Jira hides the account's e-mail address, so Test cannot compare it with reporter_email; "+
			"Jira accepted reporter_email and api_token as a pair, which it does only for the token's owner.")
	default:
		r.Pass(checkMyself, "The API token is reporter_email's.")
	}
	project, err := n.checkProject(ctx)
	if !r.Check(checkProject, err, "reporter_email's account can see the project.") {
		return skipRest(2)
	}
	typ, err := n.findIssueType(ctx, project)
	if !r.Check(checkType, err, fmt.Sprintf("Issue type %q is in project %s.", typ.Name, project.label())) {
		return skipRest(3)
	}
	screen, err := n.readCreateScreen(ctx, project, typ)
	if err != nil {
		r.Fail(checkLabels, err)
		return skipRest(4)
	}
	r.Check(checkLabels, screen.labels(), "Each issue can carry its event's label, so a retried alert finds it.")
	if n.cfg.PriorityFromRisk {
		r.Check(checkPriority, screen.priority(), "Each issue's priority can follow the event's risk.")
	} else {
		r.Skip(checkPriority, "priority_from_risk is off.")
	}
	r.Check(checkRequired, screen.required(), "The issue type requires no field the integration leaves empty.")
	return r
}

// issueRequest is the body of POST /rest/api/2/issue.
type issueRequest struct {
	Fields issueFields `json:"fields"`
}

type issueFields struct {
	Project     idRef    `json:"project"`
	IssueType   nameRef  `json:"issuetype"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	Labels      []string `json:"labels"`
	Priority    *nameRef `json:"priority,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

type nameRef struct {
	Name string `json:"name"`
}

// payload maps an event onto a create-issue request.
func (n *Notifier) payload(e notify.Event) issueRequest {
	f := issueFields{
		Project:     idRef{ID: n.cfg.ProjectID},
		IssueType:   nameRef{Name: n.cfg.issueType()},
		Summary:     summary(e),
		Description: description(e),
		Labels:      labels(e),
	}
	if n.cfg.PriorityFromRisk {
		f.Priority = &nameRef{Name: e.Risk.JiraPriority()}
	}
	return issueRequest{Fields: f}
}

// issueKey is the part of Jira's answer that names an issue: its key
// (its numeric id is not needed, so it is not decoded).
type issueKey struct {
	Key string `json:"key"`
}

// receipt is the Receipt of an issue: its key and browse URL, scrubbed and
// bounded like any server data.
func (n *Notifier) receipt(key string) notify.Receipt {
	return n.http.Receipt(key, n.base+"/browse/"+url.PathEscape(key))
}

const opCreate = "send: POST " + createPath

func (n *Notifier) create(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	resp, err := n.do(ctx, sender.Request{Op: opCreate, Method: http.MethodPost, URL: n.createURL, JSON: n.payload(e),
		Explain: n.explain(n.createHint)})
	if err != nil {
		return notify.Receipt{}, err
	}
	var created issueKey
	if err := resp.DecodeJSON(&created); err != nil {
		return notify.Receipt{}, n.http.BadAnswer(opCreate, resp, err)
	}
	if created.Key == "" {
		return notify.Receipt{}, n.http.BadAnswer(opCreate, resp, errors.New("no issue key"))
	}
	return n.receipt(created.Key), nil
}

// searchRequest is the body of POST /rest/api/3/search/jql.
type searchRequest struct {
	JQL        string   `json:"jql"`
	MaxResults int      `json:"maxResults"`
	Fields     []string `json:"fields"`
}

type searchResponse struct {
	Issues []issueKey `json:"issues"`
}

const opSearch = "send: POST " + searchPath

// findOpenIssue returns the key of the open issue of the project labelled
// with the event's id. The key is "", with no error, when there is none or
// when the site refuses the search for good (logged), so that filing goes
// ahead.
func (n *Notifier) findOpenIssue(ctx context.Context, eventID string) (key string, err error) {
	req := searchRequest{JQL: duplicateJQL(n.cfg.ProjectID, eventID), MaxResults: 1, Fields: []string{"summary"}}
	resp, err := n.do(ctx, sender.Request{Op: opSearch, Method: http.MethodPost, URL: n.searchURL, JSON: req})
	if err != nil {
		var ne *notify.Error
		if !errors.As(err, &ne) || resp == nil || !(errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrNotFound)) {
			return "", err
		}
		// A label no issue has used yet can make JQL answer 400 ("does not
		// exist for the field 'labels'"): that only means no issue exists.
		if !strings.Contains(ne.Message, "does not exist for the field 'labels'") {
			n.logger.WarnContext(ctx, "jira: the search for the event's open issue failed; going on as if there were none",
				"integration", n.Identity.String(), "error", err.Error())
		}
		return "", nil
	}
	var page searchResponse
	if err := resp.DecodeJSON(&page); err != nil {
		return "", n.http.BadAnswer(opSearch, resp, err)
	}
	for _, is := range page.Issues {
		if is.Key != "" {
			return is.Key, nil
		}
	}
	return "", nil
}

// do sends a request with the notifier's credentials and treats a failed
// login reported in X-Seraph-LoginReason as one, whatever the status. A
// request without its own Explain reads Jira's error body with the hints
// every call shares.
func (n *Notifier) do(ctx context.Context, r sender.Request) (*sender.Response, error) {
	r.Header = n.header
	if r.Explain == nil {
		r.Explain = n.explain(nil)
	}
	resp, err := n.http.Do(ctx, r)
	if resp != nil {
		reason := resp.Header.Get(seraphKey)
		if strings.Contains(reason, "AUTHENTICATED_FAILED") || strings.Contains(reason, "AUTHENTICATION_DENIED") {
			return resp, n.loginFailed(r.Op, resp, reason)
		}
	}
	return resp, err
}

// explain returns the Request.Explain of a Jira call: Jira's
// {errorMessages, errors} as the message, and a hint. hint, when not nil,
// gives the call's own advice from the status and the error body; without
// one (or when it has none) an auth failure gets the advice every call
// shares. The sender scrubs, folds and bounds the hint like the message, so
// whatever it copies from Jira's body reaches no error raw.
func (n *Notifier) explain(hint func(status int, b errorBody) string) func(*sender.Response) sender.Explanation {
	return func(r *sender.Response) sender.Explanation {
		x := sender.Explanation{Message: describeError(r)}
		if hint != nil {
			var b errorBody
			_ = json.Unmarshal(r.Body, &b) // a body that is not Jira's has no fields to advise on
			x.Hint = hint(r.StatusCode, b)
		}
		if x.Hint == "" {
			switch r.StatusCode {
			case http.StatusUnauthorized:
				x.Hint = hintUnauthorized
			case http.StatusForbidden:
				x.Hint = hintForbidden
			}
		}
		return x
	}
}

const hintForbidden = "reporter_email's account lacks a permission in the project (Browse projects, Create issues)"

const hintUnauthorized = "check reporter_email and api_token: the token must be a classic API token of that account " +
	"(scoped tokens are not supported, and tokens expire after at most a year)"

// loginFailed is the error for a response whose X-Seraph-LoginReason says
// the Basic auth was refused.
func (n *Notifier) loginFailed(op string, r *sender.Response, reason string) error {
	hint := hintUnauthorized
	if strings.Contains(reason, "AUTHENTICATION_DENIED") {
		hint = "Jira wants a CAPTCHA after repeated failed logins: sign in to the site in a browser as reporter_email, then check api_token"
	}
	return n.http.Status(op, r.StatusCode, r.Header, sender.Explanation{
		Message: "Jira did not accept reporter_email and api_token (" + seraphHeader + ": " + reason + ")",
		Hint:    hint,
		Kind:    notify.ErrUnauthorized,
	})
}

// errorBody is Jira's error answer.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// describeError turns Jira's {errorMessages, errors} into one message that
// names each field ("priority: …; labels: …"), sorted by field.
func describeError(r *sender.Response) string {
	var b errorBody
	if json.Unmarshal(r.Body, &b) != nil || (len(b.ErrorMessages) == 0 && len(b.Errors) == 0) {
		return sender.DescribeBody(r)
	}
	parts := append([]string(nil), b.ErrorMessages...)
	fields := make([]string, 0, len(b.Errors))
	for f := range b.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		parts = append(parts, f+": "+b.Errors[f])
	}
	return strings.Join(parts, "; ")
}

// filledFields are the create-screen fields Send always sets, plus
// reporter, which Jira fills with the caller. Priority, set only with
// priority_from_risk, is checked apart.
var filledFields = map[string]bool{
	"project": true, "issuetype": true, "summary": true, "description": true, "labels": true, "reporter": true,
}

// Bounds on what createHint copies from Jira's 400: the field names of a
// project's required fields are server data, so only a few short ones are
// named (the sender then scrubs and bounds the whole hint).
const (
	maxHintFields     = 5
	maxHintFieldRunes = 64
)

// createHint says how to fix the console prerequisites a create's 400 names.
func (n *Notifier) createHint(status int, b errorBody) string {
	if status != http.StatusBadRequest {
		return ""
	}
	typ := n.cfg.issueType()
	var hints []string
	if msg, ok := b.Errors["labels"]; ok && notOnScreen(msg) {
		hints = append(hints, fmt.Sprintf("add the Labels field to the create screen of issue type %q: each issue is labelled with its event id so that a retry finds it instead of filing another", typ))
	}
	if msg, ok := b.Errors["priority"]; ok {
		if notOnScreen(msg) {
			hints = append(hints, fmt.Sprintf("add the Priority field to the create screen of issue type %q, or turn priority_from_risk off", typ))
		} else {
			hints = append(hints, "the project's priority scheme lacks a priority named Highest, High, Medium, Low or Lowest: add it, or turn priority_from_risk off")
		}
	}
	if _, ok := b.Errors["issuetype"]; ok {
		hints = append(hints, fmt.Sprintf("issue type %q is not in project %s: set issue_type to one of the project's issue types (Test lists them)", typ, n.cfg.ProjectID))
	}
	if _, ok := b.Errors["project"]; ok {
		hints = append(hints, "check project_id: the project does not exist, or reporter_email's account cannot create issues in it")
	}
	if others := requiredOthers(b.Errors); len(others) > 0 {
		hints = append(hints, "the project requires fields the integration does not fill ("+strings.Join(others, ", ")+"): make them optional or give them a default value")
	}
	return strings.Join(hints, "; ")
}

// requiredOthers returns the fields a 400 says are required that Send does
// not fill (see fieldNames).
func requiredOthers(errs map[string]string) []string {
	return fieldNames(errs, func(f, msg string) bool {
		return !filledFields[f] && f != "priority" && strings.Contains(strings.ToLower(msg), "required")
	})
}

// fieldNames returns the names of the fields of a Jira 400 that keep
// selects, sorted, each on one line and short, at most maxHintFields of
// them: they are server data headed for a hint.
func fieldNames(errs map[string]string, keep func(field, msg string) bool) []string {
	var names []string
	for f, msg := range errs {
		if keep(f, msg) {
			names = append(names, text.Truncate(render.OneLine(f), maxHintFieldRunes))
		}
	}
	sort.Strings(names)
	if len(names) > maxHintFields {
		names = append(names[:maxHintFields], fmt.Sprintf("and %d more", len(names)-maxHintFields))
	}
	return names
}

// notOnScreen reports whether a field error is Jira's "Field 'x' cannot be
// set. It is not on the appropriate screen, or unknown."
func notOnScreen(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "cannot be set") || strings.Contains(m, "not on the appropriate screen")
}

// getJSON sends a GET and decodes the answer into v.
func (n *Notifier) getJSON(ctx context.Context, op, u string, v any) (*sender.Response, error) {
	return n.getJSONExplained(ctx, op, u, v, nil)
}

// getJSONExplained is getJSON with the call's own reading of an error
// answer (nil: the shared one).
func (n *Notifier) getJSONExplained(ctx context.Context, op, u string, v any, explain func(*sender.Response) sender.Explanation) (*sender.Response, error) {
	resp, err := n.do(ctx, sender.Request{Op: op, Method: http.MethodGet, URL: u, Explain: explain})
	if err != nil {
		return resp, err
	}
	if err := resp.DecodeJSON(v); err != nil {
		return resp, n.http.BadAnswer(op, resp, err)
	}
	return resp, nil
}

const opMyself = "test: GET " + myselfPath

// checkMyself checks that the token works and is reporter_email's; hidden
// is set when Jira hides the account's address, so that it cannot tell.
func (n *Notifier) checkMyself(ctx context.Context) (hidden bool, err error) {
	var me struct {
		AccountID    string `json:"accountId"`
		EmailAddress string `json:"emailAddress"`
	}
	resp, err := n.getJSON(ctx, opMyself, n.base+myselfPath, &me)
	if err != nil {
		return false, err
	}
	switch {
	case me.AccountID == "":
		return false, n.refuse(opMyself, resp, notify.ErrRejected, "", "the answer names no account; is the URL the Jira site's own?")
	case me.EmailAddress == "":
		return true, nil
	case !strings.EqualFold(strings.TrimSpace(me.EmailAddress), n.cfg.ReporterEmail):
		return false, n.refuse(opMyself, resp, notify.ErrUnauthorized,
			"create the token while signed in as reporter_email, or set reporter_email to the token owner's address",
			"the token is not reporter_email's: Jira says it belongs to %s, not %s", me.EmailAddress, n.cfg.ReporterEmail)
	}
	return false, nil
}

// project is what Test needs of GET /rest/api/2/project/{id}.
type project struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

// label names the project in messages by key, falling back to the id.
func (p project) label() string {
	if p.Key != "" {
		return p.Key
	}
	return p.ID
}

func (n *Notifier) checkProject(ctx context.Context) (project, error) {
	op := "test: GET " + projectPath + n.cfg.ProjectID
	var p project
	_, err := n.getJSONExplained(ctx, op, n.base+projectPath+n.cfg.ProjectID, &p, n.explain(func(status int, _ errorBody) string {
		if status == http.StatusNotFound {
			return "check project_id: no project has that id, or reporter_email's account cannot browse it"
		}
		return ""
	}))
	if err == nil && p.ID == "" {
		p.ID = n.cfg.ProjectID
	}
	return p, err
}

// issueTypeMeta is one entry of a project's create metadata.
type issueTypeMeta struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// metaPage holds the paging fields of Jira's create-metadata pages.
type metaPage struct {
	StartAt    int `json:"startAt"`
	MaxResults int `json:"maxResults"`
	Total      int `json:"total"`
}

// lastPage reports whether a page that held got items of the size asked
// for ends the list, next being where the following page would start and
// total the list's length (-1 while Jira has not said).
func lastPage(got, size, next, total int) bool {
	switch {
	case got == 0:
		return true
	case total >= 0:
		return next >= total
	default:
		return got < size
	}
}

// knownTotal returns the list length a page reports, or -1 when it does not.
func (p metaPage) knownTotal(prev int) int {
	if p.Total > 0 {
		return p.Total
	}
	return prev
}

func (n *Notifier) findIssueType(ctx context.Context, p project) (issueTypeMeta, error) {
	path := createMetaPath + n.cfg.ProjectID + "/issuetypes"
	op := "test: GET " + path
	want := n.cfg.issueType()
	var (
		all  []issueTypeMeta
		last *sender.Response
	)
	for start, req := 0, 0; req < maxMetaRequests; req++ {
		var page struct {
			metaPage
			IssueTypes []issueTypeMeta `json:"issueTypes"`
			// createMetaIssueType is an alias Jira's schema also lists.
			CreateMetaIssueType []issueTypeMeta `json:"createMetaIssueType"`
		}
		resp, err := n.getJSON(ctx, op, pageURL(n.base+path, start, metaPageSize), &page)
		if err != nil {
			return issueTypeMeta{}, err
		}
		last = resp
		items := page.IssueTypes
		if len(items) == 0 {
			items = page.CreateMetaIssueType
		}
		for _, t := range items {
			if strings.EqualFold(t.Name, want) {
				return t, nil
			}
		}
		all = append(all, items...)
		start += len(items)
		if lastPage(len(items), metaPageSize, start, page.knownTotal(-1)) {
			break
		}
	}
	if len(all) == 0 {
		return issueTypeMeta{}, n.refuse(op, last, notify.ErrForbidden,
			"grant reporter_email's account the Create issues permission in the project",
			"Jira lists no issue type reporter_email may create in project %s", p.label())
	}
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.Name
	}
	return issueTypeMeta{}, n.refuse(op, last, notify.ErrNotFound, "set issue_type to one of the project's issue types",
		"issue type %q is not in project %s (it has: %s)", want, p.label(), strings.Join(names, ", "))
}

// refuse is the error for an answer Jira gave with a success status that
// shows the configuration cannot work: built once, hint included.
func (n *Notifier) refuse(op string, r *sender.Response, kind error, hint, format string, args ...any) error {
	return n.http.Status(op, r.StatusCode, nil, sender.Explanation{Message: fmt.Sprintf(format, args...), Hint: hint, Kind: kind})
}

func pageURL(u string, start, size int) string {
	return fmt.Sprintf("%s?startAt=%d&maxResults=%d", u, start, size)
}

// fieldMeta is one field of an issue type's create screen.
type fieldMeta struct {
	FieldID         string          `json:"fieldId"`
	Key             string          `json:"key"`
	Name            string          `json:"name"`
	Required        bool            `json:"required"`
	HasDefaultValue bool            `json:"hasDefaultValue"`
	AllowedValues   json.RawMessage `json:"allowedValues"`
}

func (f fieldMeta) id() string {
	if f.FieldID != "" {
		return f.FieldID
	}
	return f.Key
}

// createScreen reads every field of an issue type's create screen. complete
// is false when maxMetaRequests ran out first. A page larger than the
// library reads (sender.MaxResponseBytes) is read again one field at a
// time; a single field that large (a select list with thousands of options)
// is skipped: neither Labels nor Priority is ever that large.
func (n *Notifier) createScreen(ctx context.Context, op, u string) (fields []fieldMeta, complete bool, err error) {
	start, size, windowEnd, total := 0, metaPageSize, 0, -1
	for req := 0; req < maxMetaRequests; req++ {
		resp, err := n.do(ctx, sender.Request{Op: op, Method: http.MethodGet, URL: pageURL(u, start, size)})
		if err != nil {
			return nil, false, err
		}
		if resp.Truncated {
			if size > 1 {
				size, windowEnd = 1, start+size
				continue
			}
			n.logger.DebugContext(ctx, "jira: test: skipped a create-screen field too large to read",
				"integration", n.Identity.String(), "index", start)
			start++
			if total >= 0 && start >= total {
				return fields, true, nil
			}
			continue
		}
		var page struct {
			metaPage
			Fields  []fieldMeta `json:"fields"`
			Results []fieldMeta `json:"results"` // an alias Jira's schema also lists
		}
		if err := resp.DecodeJSON(&page); err != nil {
			return nil, false, n.http.BadAnswer(op, resp, err)
		}
		items := page.Fields
		if len(items) == 0 {
			items = page.Results
		}
		fields = append(fields, items...)
		start += len(items)
		total = page.knownTotal(total)
		if lastPage(len(items), size, start, total) {
			return fields, true, nil
		}
		if size == 1 && start >= windowEnd {
			size = metaPageSize
		}
	}
	return fields, false, nil
}

// screen is what Test read of an issue type's create screen.
type screen struct {
	n       *Notifier
	op      string
	p       project
	typ     issueTypeMeta
	fields  []fieldMeta
	byID    map[string]fieldMeta
	partial string // says that only the first fields were read, or ""
}

// readCreateScreen reads the issue type's create screen.
func (n *Notifier) readCreateScreen(ctx context.Context, p project, typ issueTypeMeta) (screen, error) {
	path := createMetaPath + n.cfg.ProjectID + "/issuetypes/" + url.PathEscape(typ.ID)
	sc := screen{n: n, op: "test: GET " + path, p: p, typ: typ}
	fields, complete, err := n.createScreen(ctx, sc.op, n.base+path)
	if err != nil {
		return sc, err
	}
	sc.fields = fields
	sc.byID = make(map[string]fieldMeta, len(fields))
	for _, f := range fields {
		sc.byID[f.id()] = f
	}
	if !complete {
		sc.partial = fmt.Sprintf(" (only its first %d fields were read)", len(fields))
	}
	return sc, nil
}

// problem is the error for a create-screen check that failed: Jira
// answered, but the screen cannot take what Send files.
func (sc screen) problem(msg string) error {
	return sc.n.http.Status(sc.op, http.StatusOK, nil, sender.Explanation{Message: msg, Kind: notify.ErrRejected})
}

// labels checks that the Labels field is on the screen.
func (sc screen) labels() error {
	if _, ok := sc.byID["labels"]; ok {
		return nil
	}
	return sc.problem(fmt.Sprintf("the Labels field is not on the create screen of issue type %q in project %s%s: "+
		"add it (each issue is labelled with its event id, so that a retried send finds it instead of filing another)",
		sc.typ.Name, sc.p.label(), sc.partial))
}

// priority checks that the Priority field is on the screen with the five
// priorities priority_from_risk sends.
func (sc screen) priority() error {
	pf, ok := sc.byID["priority"]
	if !ok {
		return sc.problem(fmt.Sprintf("the Priority field is not on the create screen of issue type %q in project %s%s: "+
			"add it, or turn priority_from_risk off", sc.typ.Name, sc.p.label(), sc.partial))
	}
	if missing, have := missingPriorities(pf.AllowedValues); len(missing) > 0 {
		return sc.problem(fmt.Sprintf("priority_from_risk maps risks to Highest, High, Medium, Low and Lowest, "+
			"but the project has no priority named %s (it has: %s): rename its priorities, or turn priority_from_risk off",
			strings.Join(missing, ", "), strings.Join(have, ", ")))
	}
	return nil
}

// required checks that the issue type requires no field Send leaves empty.
func (sc screen) required() error {
	var required []string
	for _, f := range sc.fields {
		id := f.id()
		if f.Required && !f.HasDefaultValue && !filledFields[id] && !(id == "priority" && sc.n.cfg.PriorityFromRisk) {
			required = append(required, fmt.Sprintf("%s (%s)", f.Name, id))
		}
	}
	if len(required) == 0 {
		return nil
	}
	return sc.problem(fmt.Sprintf("issue type %q requires fields the integration does not fill: %s; "+
		"make them optional or give them a default value", sc.typ.Name, strings.Join(required, ", ")))
}

// missingPriorities compares the priorities a Priority field allows with
// the ones priority_from_risk sends, case-insensitively. It reports none
// missing when the metadata lists no allowed values.
func missingPriorities(allowed json.RawMessage) (missing, have []string) {
	var values []struct {
		Name string `json:"name"`
	}
	if len(allowed) == 0 || json.Unmarshal(allowed, &values) != nil || len(values) == 0 {
		return nil, nil
	}
	names := make(map[string]bool, len(values))
	for _, v := range values {
		names[strings.ToLower(v.Name)] = true
		have = append(have, v.Name)
	}
	for _, r := range notify.Risks {
		if p := r.JiraPriority(); !names[strings.ToLower(p)] {
			missing = append(missing, p)
		}
	}
	return missing, have
}
