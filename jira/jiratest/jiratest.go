// Package jiratest is the loopback fake of the Jira Cloud REST API that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, jiratest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// Jira, <site>.atlassian.net and api.atlassian.com/ex/jira/{cloudId}/: Basic
// auth email:token. No or bad auth: 401 {"errorMessages":[…],"errors":{}}
// with X-Seraph-LoginReason: AUTHENTICATED_FAILED (or, with
// Fake.SetAnonymousAccess, 200 and that header on anonymous-readable
// endpoints); success carries X-Seraph-LoginReason: OK. GET
// /rest/api/2/myself: {accountId, emailAddress, displayName} of the Basic
// auth user. GET /rest/api/2/project/{idOrKey}, or 404. GET
// /rest/api/2/issue/createmeta/{project}/issuetypes and …/issuetypes/{id}:
// pages of issue types and of create-screen fields, priority with
// allowedValues Highest…Lowest. POST /rest/api/2/issue (JSON, else 415):
// project by id or key, issuetype by id or name, summary required and under
// 255, description a string (v3: an Atlassian document) of at most 32,767,
// labels without spaces, priority from the scheme, no field off the create
// screen, the issue type's required fields: 201 {"id","key":"SEC-1","self"},
// else 400 {"errorMessages":[],"errors":{field: message}}. GET
// /rest/api/2/issue/{idOrKey}. POST …/issue/{idOrKey}/comment {"body"} (v2
// a string, v3 an Atlassian document; empty: 400 errors.comment): 201. GET
// …/issue/{idOrKey}/transitions: the workflow's transitions but the one to
// the issue's own status, each with to.statusCategory.key (new,
// indeterminate, done); POST …/transitions {"transition":{"id"}}: 204, 400
// for an id not available or a field the transition's screen requires
// (Fake.SetWorkflow). POST or GET /rest/api/3/search/jql: a JQL
// subset (clauses joined by AND on project, labels, key, issuetype, status,
// statusCategory, resolution, and ORDER BY created|updated|key|id; anything
// else is a 400 that lists the subset); /rest/api/2/search: 410. GET
// /_edge/tenant_info: {"cloudId"}. Projects: DefaultProject, or
// Fake.SetProjects.
//
// A gzip body is refused (415): only HEC documents compressed requests.
// Reached over plain http://, the host answers 301 to https://.
package jiratest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Jira Cloud REST limits (CONTRACTS §3).
const (
	jiraMaxSummaryRunes     = 254   // summary "must be less than 255 characters"
	jiraMaxDescriptionRunes = 32767 // description on Cloud
	jiraMaxLabelRunes       = 255   // one label [unverified]
	jiraDefaultPage         = 50    // maxResults when the request gives none
	jiraFirstIssueID        = 10000
	jiraGatewayPrefix       = "/ex/jira/" // api.atlassian.com/ex/jira/{cloudId}/rest/…
	seraphHeader            = "X-Seraph-LoginReason"
)

// jiraDefaultFields are the optional fields on an issue type's create
// screen when IssueType.Fields is nil.
var jiraDefaultFields = []string{"description", "labels", "priority", "reporter", "assignee"}

// jiraPriorities is Jira's default priority scheme, Highest to Lowest.
var jiraPriorities = []struct{ id, name string }{
	{"1", "Highest"}, {"2", "High"}, {"3", "Medium"}, {"4", "Low"}, {"5", "Lowest"},
}

// Project is a project the Jira fake knows.
type Project struct {
	ID         string // digits, as in the console's project_id
	Key        string // the issue-key prefix: SEC gives SEC-1, SEC-2…
	Name       string
	IssueTypes []IssueType
}

// IssueType is an issue type of a Project and its create screen.
type IssueType struct {
	ID   string
	Name string
	// Fields are the fields on the create screen besides summary, project
	// and issuetype, which are always there. Nil means description,
	// labels, priority, reporter and assignee; an empty list means none.
	// A field that is not on the screen cannot be set (400), as in Jira.
	Fields []string
	// Required are fields (from Fields) a create must set.
	Required []string
}

func (it IssueType) screen() []string {
	if it.Fields == nil {
		return jiraDefaultFields
	}
	return it.Fields
}

// DefaultProject returns the project the Jira fake starts with: id
// 10000, key SEC, and the issue types Task (10001) and Bug (10002) with the
// default create screen, and Incident (10003) whose screen has only a
// description (no labels, no priority), for testing what Test reports then.
func DefaultProject() Project {
	return Project{ID: "10000", Key: "SEC", Name: "Security", IssueTypes: []IssueType{
		{ID: "10001", Name: "Task"},
		{ID: "10002", Name: "Bug"},
		{ID: "10003", Name: "Incident", Fields: []string{"description"}},
	}}
}

// Issue is an issue the Jira fake created.
type Issue struct {
	ID            string
	Key           string
	ProjectID     string
	ProjectKey    string
	IssueTypeID   string
	IssueTypeName string
	Summary       string
	// Description is the v2 plain-text description, or the Atlassian
	// Document Format JSON of a v3 create.
	Description string
	Labels      []string
	Priority    string // the priority's name, "" when none was set
	// Fields holds every field of the create request as sent.
	Fields     map[string]json.RawMessage
	APIVersion int // 2 or 3: the REST version the issue was created with
	Created    time.Time
	// Status and StatusCategory are where the issue is in the workflow:
	// "To Do" and "new" when created; transitions move it.
	Status         string
	StatusCategory string // new, indeterminate or done, as Jira's statusCategory.key
	// Comments are the bodies of the comments added to the issue, in order
	// (a v3 comment's Atlassian document as JSON).
	Comments []string
}

// Transition is a transition of the Jira fake's workflow. Every
// transition is available from every status but its own target, as in a
// simplified Jira workflow with global transitions.
type Transition struct {
	ID       string
	Name     string
	To       string // the target status's name
	Category string // the target status's category: new, indeterminate or done
	// Required are fields the transition's screen requires (resolution…):
	// performing it without them is a 400, as in Jira.
	Required []string
}

// DefaultWorkflow is the workflow the Jira fake starts with: Jira's
// simplified To Do (11), In Progress (21), Done (31).
func DefaultWorkflow() []Transition {
	return []Transition{
		{ID: "11", Name: "To Do", To: "To Do", Category: "new"},
		{ID: "21", Name: "In Progress", To: "In Progress", Category: "indeterminate"},
		{ID: "31", Name: "Done", To: "Done", Category: "done"},
	}
}

// jiraCategoryNames are the names Jira gives its status categories.
var jiraCategoryNames = map[string]string{"new": "To Do", "indeterminate": "In Progress", "done": "Done"}

var jiraCategoryIDs = map[string]int{"new": 2, "indeterminate": 4, "done": 3}

type jiraState struct {
	projects  []Project
	workflow  []Transition
	anonymous bool
	nextID    int
	counters  map[string]int // issues per project key
	issues    []*Issue
}

func newJiraState() jiraState {
	return jiraState{projects: []Project{DefaultProject()}, workflow: DefaultWorkflow(),
		nextID: jiraFirstIssueID, counters: map[string]int{}}
}

// SetWorkflow replaces the transitions of every issue's workflow
// (initially DefaultWorkflow); none at all makes a workflow whose
// issues cannot move.
func (s *Fake) SetWorkflow(ts ...Transition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jira.workflow = nil
	for _, t := range ts {
		t.Required = slices.Clone(t.Required)
		s.jira.workflow = append(s.jira.workflow, t)
	}
}

// SetProjects replaces the projects the Jira fake knows (initially
// DefaultProject alone).
func (s *Fake) SetProjects(ps ...Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jira.projects = nil
	for _, p := range ps {
		p.IssueTypes = slices.Clone(p.IssueTypes)
		s.jira.projects = append(s.jira.projects, p)
	}
}

// SetAnonymousAccess switches on the mode of a Jira site that allows
// anonymous browsing: the endpoints anonymous users may call (project,
// createmeta, issue and search reads) then answer a request whose Basic
// auth failed with 200 and X-Seraph-LoginReason: AUTHENTICATED_FAILED, as
// CONTRACTS §3 warns, instead of 401. /myself and creates still get 401.
func (s *Fake) SetAnonymousAccess(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jira.anonymous = on
}

// Issues returns a copy of the issues the Jira fake created, in order.
func (s *Fake) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.jira.issues))
	for _, is := range s.jira.issues {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		c.Comments = slices.Clone(is.Comments)
		c.Fields = make(map[string]json.RawMessage, len(is.Fields))
		for k, v := range is.Fields {
			c.Fields[k] = slices.Clone(v)
		}
		out = append(out, c)
	}
	return out
}

func jiraErrors(messages []string, fields map[string]string) map[string]any {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	return map[string]any{"errorMessages": messages, "errors": fields}
}

// jiraCall is one request to the Jira fake, its gateway prefix removed.
type jiraCall struct {
	*notifytest.Request
	path    string // /rest/api/2/…
	base    string // https://<site>.atlassian.net or the gateway's https://api.atlassian.com/ex/jira/{cloudId}
	version int    // REST version in the path, 2 or 3
	email   string // the authenticated account, "" when anonymous
}

// Fake is the Jira fake (see the package documentation).
type Fake struct {
	notifytest.Base
	mu   sync.Mutex
	jira jiraState
}

// New returns a Jira fake to pass to notifytest.NewServer, after an
// Opsgenie fake: both serve api.atlassian.com.
func New() *Fake { return &Fake{Base: notifytest.NewBase(notifytest.Jira), jira: newJiraState()} }

// Handles takes <site>.atlassian.net and api.atlassian.com.
func (s *Fake) Handles(host, _ string) bool {
	return host == "api.atlassian.com" || strings.HasSuffix(host, ".atlassian.net")
}

// CertNames returns the Jira Cloud hosts.
func (s *Fake) CertNames() []string { return []string{"api.atlassian.com", "*.atlassian.net"} }

// WriteError answers Jira's {"errorMessages":[…],"errors":{}}.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = notifytest.StatusText(status)
	}
	fakekit.WriteJSON(w, status, jiraErrors([]string{msg}, nil))
}

// ServeFake answers a Jira REST request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	c := &jiraCall{Request: req, path: r.URL.Path, base: "https://" + r.Host}
	if req.Host == "api.atlassian.com" {
		rest, ok := strings.CutPrefix(c.path, jiraGatewayPrefix)
		cloudID, tail, _ := strings.Cut(rest, "/")
		if !ok || cloudID == "" {
			fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{"Not Found"}, nil))
			return
		}
		c.path = "/" + tail
		c.base += jiraGatewayPrefix + cloudID
	}
	if c.path == "/_edge/tenant_info" && r.Method == http.MethodGet && req.Host != "api.atlassian.com" {
		sum := sha256.Sum256([]byte(req.Host))
		id := hex.EncodeToString(sum[:16])
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"cloudId": id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]})
		return
	}
	rest, ok := strings.CutPrefix(c.path, "/rest/api/")
	ver, rest, _ := strings.Cut(rest, "/")
	if !ok || (ver != "2" && ver != "3") {
		fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{"No resource at " + c.path}, nil))
		return
	}
	c.version, _ = strconv.Atoi(ver)
	parts := strings.Split(rest, "/")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost

	// The anonymous-readable endpoints; everything else needs a login.
	anonymousOK := get && (parts[0] == "project" || parts[0] == "issue" || parts[0] == "search") ||
		post && rest == "search/jql"
	if !s.jiraLogin(w, c, anonymousOK) {
		return
	}
	switch {
	case get && rest == "myself":
		s.jiraMyself(w, c)
	case get && len(parts) == 2 && parts[0] == "project":
		s.jiraProject(w, c, parts[1])
	case get && len(parts) == 4 && parts[0] == "issue" && parts[1] == "createmeta" && parts[3] == "issuetypes":
		s.jiraIssueTypes(w, c, parts[2])
	case get && len(parts) == 5 && parts[0] == "issue" && parts[1] == "createmeta" && parts[3] == "issuetypes":
		s.jiraFields(w, c, parts[2], parts[4])
	case post && rest == "issue":
		s.jiraCreate(w, c)
	case get && len(parts) == 2 && parts[0] == "issue":
		s.jiraGetIssue(w, c, parts[1])
	case get && len(parts) == 3 && parts[0] == "issue" && parts[2] == "transitions":
		s.jiraTransitions(w, c, parts[1])
	case post && len(parts) == 3 && parts[0] == "issue" && parts[2] == "transitions":
		s.jiraTransition(w, c, parts[1])
	case post && len(parts) == 3 && parts[0] == "issue" && parts[2] == "comment":
		s.jiraComment(w, c, parts[1])
	case rest == "search":
		fakekit.WriteJSON(w, http.StatusGone, jiraErrors([]string{
			"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."}, nil))
	case (get || post) && rest == "search/jql" && c.version == 3:
		s.jiraSearch(w, c)
	default:
		fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{"No resource at " + c.path}, nil))
	}
}

// jiraLogin checks Basic auth. It answers and returns false when the
// request may go no further.
func (s *Fake) jiraLogin(w http.ResponseWriter, c *jiraCall, anonymousOK bool) bool {
	s.mu.Lock()
	anonymous := s.jira.anonymous
	s.mu.Unlock()
	email, token, hasBasic := c.HTTP.BasicAuth()
	if c.HTTP.Header.Get("Authorization") == "" && anonymous && anonymousOK {
		return true // an anonymous request: no login was attempted
	}
	if hasBasic && strings.Contains(email, "@") && token != "" &&
		s.Server().Credential(notifytest.Jira, token, email+":"+token) == notifytest.CredentialOK {
		c.email = email
		w.Header().Set(seraphHeader, "OK")
		return true
	}
	if c.HTTP.Header.Get("Authorization") != "" {
		w.Header().Set(seraphHeader, "AUTHENTICATED_FAILED") // a login was tried and failed
	}
	if anonymous && anonymousOK {
		return true // the trap: 200 as an anonymous user after failed auth
	}
	fakekit.WriteJSON(w, http.StatusUnauthorized, jiraErrors([]string{"Client must be authenticated to access this resource."}, nil))
	return false
}

func jiraAccountID(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "5b10" + hex.EncodeToString(sum[:10]) // the shape of Atlassian account ids
}

func (s *Fake) jiraMyself(w http.ResponseWriter, c *jiraCall) {
	if c.email == "" {
		w.Header().Set(seraphHeader, "AUTHENTICATED_FAILED")
		fakekit.WriteJSON(w, http.StatusUnauthorized, jiraErrors([]string{"Client must be authenticated to access this resource."}, nil))
		return
	}
	id := jiraAccountID(c.email)
	name, _, _ := strings.Cut(c.email, "@")
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"self":         c.base + "/rest/api/" + strconv.Itoa(c.version) + "/user?accountId=" + id,
		"accountId":    id,
		"accountType":  "atlassian",
		"emailAddress": c.email,
		"displayName":  name,
		"active":       true,
		"timeZone":     "Etc/UTC",
	})
}

// jiraFindProject looks a project up by id or key; callers hold s.mu.
func (s *Fake) jiraFindProject(idOrKey string) (Project, bool) {
	for _, p := range s.jira.projects {
		if p.ID == idOrKey || strings.EqualFold(p.Key, idOrKey) {
			return p, true
		}
	}
	return Project{}, false
}

func (s *Fake) lookupProject(w http.ResponseWriter, idOrKey string) (Project, bool) {
	s.mu.Lock()
	p, ok := s.jiraFindProject(idOrKey)
	s.mu.Unlock()
	if !ok {
		fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{fmt.Sprintf("No project could be found with key or id '%s'.", idOrKey)}, nil))
	}
	return p, ok
}

func (c *jiraCall) api() string { return c.base + "/rest/api/" + strconv.Itoa(c.version) }

func (c *jiraCall) issueTypeJSON(it IssueType) map[string]any {
	return map[string]any{"self": c.api() + "/issuetype/" + it.ID, "id": it.ID, "name": it.Name,
		"description": "", "subtask": false}
}

func (c *jiraCall) projectJSON(p Project) map[string]any {
	return map[string]any{"self": c.api() + "/project/" + p.ID, "id": p.ID, "key": p.Key, "name": p.Name}
}

func (s *Fake) jiraProject(w http.ResponseWriter, c *jiraCall, idOrKey string) {
	p, ok := s.lookupProject(w, idOrKey)
	if !ok {
		return
	}
	out := c.projectJSON(p)
	types := []map[string]any{}
	for _, it := range p.IssueTypes {
		types = append(types, c.issueTypeJSON(it))
	}
	out["issueTypes"] = types
	out["projectTypeKey"] = "software"
	fakekit.WriteJSON(w, http.StatusOK, out)
}

// jiraPage reads startAt and maxResults and returns the slice bounds for n
// items, or false after answering 400.
func jiraPage(w http.ResponseWriter, c *jiraCall, n int) (start, end int, ok bool) {
	q := c.HTTP.URL.Query()
	start, maxResults := 0, jiraDefaultPage
	var err error
	if v := q.Get("startAt"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"startAt must be a non-negative number"}, nil))
			return 0, 0, false
		}
	}
	if v := q.Get("maxResults"); v != "" {
		if maxResults, err = strconv.Atoi(v); err != nil || maxResults < 0 {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"maxResults must be a non-negative number"}, nil))
			return 0, 0, false
		}
	}
	start = min(start, n)
	return start, start + min(maxResults, n-start), true // no overflow on a huge maxResults
}

func (s *Fake) jiraIssueTypes(w http.ResponseWriter, c *jiraCall, project string) {
	p, ok := s.lookupProject(w, project)
	if !ok {
		return
	}
	start, end, ok := jiraPage(w, c, len(p.IssueTypes))
	if !ok {
		return
	}
	types := []map[string]any{}
	for _, it := range p.IssueTypes[start:end] {
		types = append(types, c.issueTypeJSON(it))
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"issueTypes": types, "startAt": start,
		"maxResults": end - start, "total": len(p.IssueTypes)})
}

func findIssueType(p Project, id, name string) (IssueType, bool) {
	for _, it := range p.IssueTypes {
		if (id != "" && it.ID == id) || (id == "" && name != "" && strings.EqualFold(it.Name, name)) {
			return it, true
		}
	}
	return IssueType{}, false
}

func (s *Fake) jiraFields(w http.ResponseWriter, c *jiraCall, project, typeID string) {
	p, ok := s.lookupProject(w, project)
	if !ok {
		return
	}
	it, ok := findIssueType(p, typeID, "")
	if !ok {
		fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{fmt.Sprintf("Issue type with id '%s' does not exist in project %s.", typeID, p.Key)}, nil))
		return
	}
	fields := c.fieldMeta(p, it)
	start, end, ok := jiraPage(w, c, len(fields))
	if !ok {
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"fields": fields[start:end], "startAt": start,
		"maxResults": end - start, "total": len(fields)})
}

// fieldMeta lists the create-screen fields of an issue type as createmeta
// does.
func (c *jiraCall) fieldMeta(p Project, it IssueType) []map[string]any {
	field := func(id, name string, required bool, schema map[string]any, ops ...string) map[string]any {
		return map[string]any{"fieldId": id, "key": id, "name": name, "required": required,
			"schema": schema, "hasDefaultValue": false, "operations": ops}
	}
	out := []map[string]any{
		field("summary", "Summary", true, map[string]any{"type": "string", "system": "summary"}, "set"),
		field("issuetype", "Issue Type", true, map[string]any{"type": "issuetype", "system": "issuetype"}),
		field("project", "Project", true, map[string]any{"type": "project", "system": "project"}, "set"),
	}
	out[1]["allowedValues"] = []any{c.issueTypeJSON(it)}
	out[2]["allowedValues"] = []any{c.projectJSON(p)}
	for _, id := range it.screen() {
		required := slices.Contains(it.Required, id)
		switch id {
		case "description":
			out = append(out, field(id, "Description", required, map[string]any{"type": "string", "system": id}, "set"))
		case "labels":
			f := field(id, "Labels", required, map[string]any{"type": "array", "items": "string", "system": id}, "add", "set", "remove")
			f["autoCompleteUrl"] = c.base + "/rest/api/1.0/labels/suggest?query="
			out = append(out, f)
		case "priority":
			f := field(id, "Priority", required, map[string]any{"type": "priority", "system": id}, "set")
			var allowed []any
			for _, pr := range jiraPriorities {
				allowed = append(allowed, map[string]any{"self": c.api() + "/priority/" + pr.id, "id": pr.id, "name": pr.name})
			}
			f["allowedValues"] = allowed
			f["hasDefaultValue"] = true
			f["defaultValue"] = allowed[2]
			out = append(out, f)
		case "reporter", "assignee":
			out = append(out, field(id, strings.ToUpper(id[:1])+id[1:], required, map[string]any{"type": "user", "system": id}, "set"))
		default:
			out = append(out, field(id, id, required, map[string]any{"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield"}, "set"))
		}
	}
	return out
}

func (s *Fake) jiraCreate(w http.ResponseWriter, c *jiraCall) {
	if c.email == "" {
		fakekit.WriteJSON(w, http.StatusUnauthorized, jiraErrors([]string{"You are not authenticated. Authentication required to perform this operation."}, nil))
		return
	}
	if !fakekit.IsJSONContent(c.HTTP) {
		fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, jiraErrors([]string{"Content-Type must be application/json"}, nil))
		return
	}
	body, err := fakekit.DecodeObject(c.Body)
	var raw struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err == nil {
		err = json.Unmarshal(c.Body, &raw)
	}
	fields, ok := body["fields"].(map[string]any)
	if err != nil || !ok {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"The request body must be a JSON object with a \"fields\" object."}, nil))
		return
	}
	errs := map[string]string{}
	issue := &Issue{Fields: raw.Fields, APIVersion: c.version}

	s.mu.Lock()
	projectRef, _ := fields["project"].(map[string]any)
	pid, _ := fakekit.Str(projectRef, "id")
	pkey, _ := fakekit.Str(projectRef, "key")
	ref := pid
	if ref == "" {
		ref = pkey
	}
	p, found := s.jiraFindProject(ref)
	s.mu.Unlock()

	var it IssueType
	if ref == "" || !found {
		errs["project"] = "Specify a valid project ID or key"
	} else {
		typeRef, _ := fields["issuetype"].(map[string]any)
		tid, _ := fakekit.Str(typeRef, "id")
		tname, _ := fakekit.Str(typeRef, "name")
		var ok bool
		if it, ok = findIssueType(p, tid, tname); !ok {
			if tid == "" && tname == "" {
				errs["issuetype"] = "Specify an issue type"
			} else {
				errs["issuetype"] = "Specify a valid issue type"
			}
		}
	}
	summary, _ := fakekit.Str(fields, "summary")
	switch {
	case strings.TrimSpace(summary) == "":
		errs["summary"] = "You must specify a summary of the issue."
	case utf8.RuneCountInString(summary) > jiraMaxSummaryRunes:
		errs["summary"] = "Summary must be less than 255 characters."
	}
	issue.Summary = summary
	if errs["project"] == "" && errs["issuetype"] == "" {
		screen := it.screen()
		for k, v := range fields {
			if k == "project" || k == "issuetype" || k == "summary" {
				continue
			}
			if !slices.Contains(screen, k) {
				errs[k] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)
				continue
			}
			if msg := jiraCheckField(issue, c.version, k, v); msg != "" {
				errs[k] = msg
			}
		}
		for _, k := range it.Required {
			if _, ok := fields[k]; !ok {
				errs[k] = k + " is required."
			}
		}
	}
	if len(errs) > 0 {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, errs))
		return
	}
	s.mu.Lock()
	s.jira.counters[p.Key]++
	issue.ID = strconv.Itoa(s.jira.nextID)
	s.jira.nextID++
	issue.Key = p.Key + "-" + strconv.Itoa(s.jira.counters[p.Key])
	issue.ProjectID, issue.ProjectKey = p.ID, p.Key
	issue.IssueTypeID, issue.IssueTypeName = it.ID, it.Name
	issue.Created = time.Now().UTC()
	issue.Status, issue.StatusCategory = "To Do", "new"
	s.jira.issues = append(s.jira.issues, issue)
	s.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusCreated, map[string]any{"id": issue.ID, "key": issue.Key, "self": c.api() + "/issue/" + issue.ID})
}

// jiraCheckField checks one create-screen field, filling the issue, and
// returns Jira's message for a bad value.
func jiraCheckField(issue *Issue, version int, k string, v any) string {
	switch k {
	case "description":
		if version == 2 {
			d, ok := v.(string)
			if !ok {
				return "Operation value must be a string"
			}
			if utf8.RuneCountInString(d) > jiraMaxDescriptionRunes {
				return "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
			}
			issue.Description = d
			return ""
		}
		doc, ok := v.(map[string]any)
		if typ, _ := fakekit.Str(doc, "type"); !ok || typ != "doc" {
			return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		b, _ := json.Marshal(doc)
		issue.Description = string(b)
	case "labels":
		list, ok := v.([]any)
		if !ok {
			return "Labels must be a list of strings"
		}
		for _, l := range list {
			label, ok := l.(string)
			switch {
			case !ok || label == "":
				return "Labels must be non-empty strings"
			case strings.IndexFunc(label, unicode.IsSpace) >= 0:
				return fmt.Sprintf("The label '%s' contains spaces which is invalid.", label)
			case utf8.RuneCountInString(label) > jiraMaxLabelRunes:
				return fmt.Sprintf("The label '%s' exceeds the 255 character limit.", label)
			}
			issue.Labels = append(issue.Labels, label)
		}
	case "priority":
		ref, _ := v.(map[string]any)
		id, _ := fakekit.Str(ref, "id")
		name, _ := fakekit.Str(ref, "name")
		for _, p := range jiraPriorities {
			if (id != "" && id == p.id) || (id == "" && name == p.name) {
				issue.Priority = p.name
				return ""
			}
		}
		return "Specify a valid priority (id or name) from the project's priority scheme"
	case "reporter", "assignee":
		ref, _ := v.(map[string]any)
		id, _ := fakekit.Str(ref, "accountId")
		if id == "" {
			id, _ = fakekit.Str(ref, "id")
		}
		if id == "" {
			return "Specify a valid user (accountId)"
		}
	}
	return ""
}

func (s *Fake) jiraGetIssue(w http.ResponseWriter, c *jiraCall, idOrKey string) {
	s.mu.Lock()
	var found *Issue
	for _, is := range s.jira.issues {
		if is.ID == idOrKey || strings.EqualFold(is.Key, idOrKey) {
			cp := *is
			found = &cp
		}
	}
	s.mu.Unlock()
	if found == nil {
		fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{"Issue does not exist or you do not have permission to see it."}, nil))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, c.issueJSON(found, nil))
}

// issueJSON renders an issue with the requested fields (all when nil).
func (c *jiraCall) issueJSON(is *Issue, want []string) map[string]any {
	all := map[string]any{
		"summary":   is.Summary,
		"labels":    fakekit.NonNil(is.Labels),
		"issuetype": map[string]any{"id": is.IssueTypeID, "name": is.IssueTypeName},
		"project":   map[string]any{"id": is.ProjectID, "key": is.ProjectKey},
		"status": map[string]any{"name": is.Status,
			"statusCategory": map[string]any{"key": is.StatusCategory, "name": jiraCategoryNames[is.StatusCategory]}},
		"created":    is.Created.Format("2006-01-02T15:04:05.000-0700"),
		"resolution": nil,
	}
	if is.StatusCategory == "done" {
		all["resolution"] = map[string]any{"name": "Done"}
	}
	if is.Priority != "" {
		for _, p := range jiraPriorities {
			if p.name == is.Priority {
				all["priority"] = map[string]any{"id": p.id, "name": p.name}
			}
		}
	}
	if is.Description != "" {
		if is.APIVersion == 3 {
			all["description"] = json.RawMessage(is.Description)
		} else {
			all["description"] = is.Description
		}
	}
	fields := map[string]any{}
	for k, v := range all {
		if want == nil || slices.Contains(want, k) || slices.Contains(want, "*all") {
			fields[k] = v
		}
	}
	out := map[string]any{"id": is.ID, "key": is.Key, "self": c.api() + "/issue/" + is.ID}
	if want == nil || len(fields) > 0 {
		out["fields"] = fields
	}
	return out
}

// jiraSearch is the enhanced search, POST or GET /rest/api/3/search/jql:
// {"jql","fields","maxResults","nextPageToken"} → {"issues","isLast",
// "nextPageToken"}. Without fields it returns ids only, as Jira does.
func (s *Fake) jiraSearch(w http.ResponseWriter, c *jiraCall) {
	var in struct {
		JQL           string   `json:"jql"`
		Fields        []string `json:"fields"`
		MaxResults    *int     `json:"maxResults"`
		NextPageToken string   `json:"nextPageToken"`
	}
	if c.HTTP.Method == http.MethodPost {
		if !fakekit.IsJSONContent(c.HTTP) {
			fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, jiraErrors([]string{"Content-Type must be application/json"}, nil))
			return
		}
		if err := json.Unmarshal(c.Body, &in); err != nil {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"Invalid request payload: " + err.Error()}, nil))
			return
		}
	} else {
		q := c.HTTP.URL.Query()
		in.JQL, in.NextPageToken = q.Get("jql"), q.Get("nextPageToken")
		if f := q.Get("fields"); f != "" {
			in.Fields = strings.Split(f, ",")
		}
		if v := q.Get("maxResults"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"maxResults must be a number"}, nil))
				return
			}
			in.MaxResults = &n
		}
	}
	query, err := parseJQL(in.JQL)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{err.Error()}, nil))
		return
	}
	s.mu.Lock()
	if msg := query.checkProjects(s); msg != "" {
		s.mu.Unlock()
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{msg}, nil))
		return
	}
	var hits []*Issue
	for _, is := range s.jira.issues {
		if query.matches(is) {
			cp := *is
			hits = append(hits, &cp)
		}
	}
	s.mu.Unlock()
	if query.newestFirst {
		slices.Reverse(hits)
	}
	start := 0
	if in.NextPageToken != "" {
		n, err := strconv.Atoi(in.NextPageToken)
		if err != nil || n < 0 {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"Invalid nextPageToken"}, nil))
			return
		}
		start = min(n, len(hits))
	}
	size := jiraDefaultPage
	if in.MaxResults != nil && *in.MaxResults > 0 {
		size = *in.MaxResults
	}
	end := start + min(size, len(hits)-start)
	want := in.Fields
	if want == nil {
		want = []string{} // ids only
	}
	issues := []map[string]any{}
	for _, is := range hits[start:end] {
		issues = append(issues, c.issueJSON(is, want))
	}
	out := map[string]any{"issues": issues, "isLast": end == len(hits)}
	if end < len(hits) {
		out["nextPageToken"] = strconv.Itoa(end)
	}
	fakekit.WriteJSON(w, http.StatusOK, out)
}

// jiraIssueLocked finds an issue by id or key; the caller holds s.mu.
func (s *Fake) jiraIssueLocked(idOrKey string) *Issue {
	for _, is := range s.jira.issues {
		if is.ID == idOrKey || strings.EqualFold(is.Key, idOrKey) {
			return is
		}
	}
	return nil
}

func jiraNoIssue(w http.ResponseWriter) {
	fakekit.WriteJSON(w, http.StatusNotFound, jiraErrors([]string{"Issue does not exist or you do not have permission to see it."}, nil))
}

// jiraTransitions is GET /rest/api/{2,3}/issue/{idOrKey}/transitions: the
// transitions available from the issue's status, each with its target
// status and that status's category.
func (s *Fake) jiraTransitions(w http.ResponseWriter, c *jiraCall, idOrKey string) {
	s.mu.Lock()
	is := s.jiraIssueLocked(idOrKey)
	var status string
	if is != nil {
		status = is.Status
	}
	workflow := slices.Clone(s.jira.workflow)
	s.mu.Unlock()
	if is == nil {
		jiraNoIssue(w)
		return
	}
	out := []map[string]any{}
	if c.email != "" { // an anonymous user may transition nothing
		for _, t := range workflow {
			if t.To == status {
				continue
			}
			out = append(out, map[string]any{"id": t.ID, "name": t.Name, "hasScreen": len(t.Required) > 0,
				"isGlobal": true, "isInitial": false, "isAvailable": true, "isConditional": false, "isLooped": false,
				"to": map[string]any{"self": c.api() + "/status/" + t.ID, "name": t.To, "id": t.ID,
					"statusCategory": map[string]any{"self": c.api() + "/statuscategory/" + strconv.Itoa(jiraCategoryIDs[t.Category]),
						"id": jiraCategoryIDs[t.Category], "key": t.Category, "name": jiraCategoryNames[t.Category]}}})
		}
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": out})
}

// jiraTransition is POST /rest/api/{2,3}/issue/{idOrKey}/transitions
// {"transition":{"id"},"fields"?}: 204, or 400 for a transition that is not
// available from the issue's status or lacks a field its screen requires.
func (s *Fake) jiraTransition(w http.ResponseWriter, c *jiraCall, idOrKey string) {
	if !fakekit.IsJSONContent(c.HTTP) {
		fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, jiraErrors([]string{"Content-Type must be application/json"}, nil))
		return
	}
	body, err := fakekit.DecodeObject(c.Body)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil))
		return
	}
	ref, _ := fakekit.Obj(body, "transition")
	id, _ := fakekit.Str(ref, "id")
	fields, _ := fakekit.Obj(body, "fields")
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.jiraIssueLocked(idOrKey)
	if is == nil {
		jiraNoIssue(w)
		return
	}
	i := slices.IndexFunc(s.jira.workflow, func(t Transition) bool { return t.ID == id && t.To != is.Status })
	if id == "" || i < 0 {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", id)}, nil))
		return
	}
	t := s.jira.workflow[i]
	errs := map[string]string{}
	for _, f := range t.Required {
		if _, ok := fields[f]; !ok {
			errs[f] = strings.ToUpper(f[:1]) + f[1:] + " is required."
		}
	}
	if len(errs) > 0 {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, errs))
		return
	}
	is.Status, is.StatusCategory = t.To, t.Category
	w.WriteHeader(http.StatusNoContent)
}

// jiraComment is POST /rest/api/{2,3}/issue/{idOrKey}/comment {"body"}: a
// string on v2, an Atlassian document on v3. 201 with the comment, or 400
// for an empty body.
func (s *Fake) jiraComment(w http.ResponseWriter, c *jiraCall, idOrKey string) {
	if !fakekit.IsJSONContent(c.HTTP) {
		fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, jiraErrors([]string{"Content-Type must be application/json"}, nil))
		return
	}
	body, err := fakekit.DecodeObject(c.Body)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors([]string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil))
		return
	}
	var text string
	switch v := body["body"].(type) {
	case string:
		if c.version == 3 {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, map[string]string{"comment": "Comment body is not valid!"}))
			return
		}
		text = v
	case map[string]any:
		if typ, _ := fakekit.Str(v, "type"); c.version != 3 || typ != "doc" {
			fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, map[string]string{"comment": "Comment body is not valid!"}))
			return
		}
		b, _ := json.Marshal(v)
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, map[string]string{"comment": "Comment body can not be empty!"}))
		return
	}
	if utf8.RuneCountInString(text) > jiraMaxDescriptionRunes {
		fakekit.WriteJSON(w, http.StatusBadRequest, jiraErrors(nil, map[string]string{"comment": "The entered text is too long. It exceeds the allowed limit of 32,767 characters."}))
		return
	}
	s.mu.Lock()
	is := s.jiraIssueLocked(idOrKey)
	var id string
	if is != nil {
		is.Comments = append(is.Comments, text)
		id = strconv.Itoa(s.jira.nextID)
		s.jira.nextID++
	}
	s.mu.Unlock()
	if is == nil {
		jiraNoIssue(w)
		return
	}
	fakekit.WriteJSON(w, http.StatusCreated, map[string]any{"id": id, "self": c.api() + "/issue/" + is.ID + "/comment/" + id,
		"body": body["body"], "created": time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")})
}
