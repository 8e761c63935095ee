// Package opsgenietest is the loopback fake of the Opsgenie Alert API that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, opsgenietest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// Opsgenie, api.opsgenie.com, api.eu.opsgenie.com and the JSM Ops URL
// api.atlassian.com/jsm/ops/integration/…: Authorization: GenieKey <uuid>.
// No key or another scheme: 401 "Could not authenticate"; a key that is not a
// UUID: 422 "Key format is not valid!"; a revoked or unexpected key: 401.
// POST /v2/alerts (JSON, else 415) needs a message (422 with
// errors.message); alias at most 512, priority P1-P5, responders {type:
// team|user|escalation|schedule, id|name|username}, at most 20 tags of 50,
// details a string map; message and description are truncated to 130 and
// 15,000. 202 {"result":"Request will be processed","took":…,"requestId":…};
// an open alert with the same alias counts up instead of opening another.
// GET /v2/alerts?limit=N (1-100): 200 {"data":[…]}, newest first. GET
// /v2/alerts/requests/{id}: the request's status, or 404 with
// X-Opsgenie-Errortype: RequestNotProcessed. POST
// /v2/alerts/{id}/close?identifierType=id|tiny|alias (an alias names the
// open alert; an optional JSON body of user, source and note): 202, even
// when no alert matches (Fake.Open lists what is open). GET
// /v2/teams/{identifier}?identifierType=id|name (not on the JSM URL): the
// team, or 404 (Fake.SetTeams; by default any UUID is a team).
//
// A gzip body is refused (415): only HEC documents compressed requests.
// Reached over plain http://, the host answers 301 to https://.
package opsgenietest

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Opsgenie Alert API v2 limits (CONTRACTS §9).
const (
	ogMaxMessage     = 130   // message, truncated by Opsgenie [unverified: truncated or rejected]
	ogMaxAlias       = 512   // alias, the dedup key
	ogMaxDescription = 15000 // description
	ogMaxTags        = 20    // tags: 20 items of 50
	ogMaxTagRunes    = 50
	ogDefaultLimit   = 20    // GET /v2/alerts default page size
	ogMaxLimit       = 100   // GET /v2/alerts largest page
	ogMaxActor       = 100   // an action's user and source
	ogMaxNote        = 25000 // an action's note
	ogTook           = 0.003
	jsmOpsPrefix     = "/jsm/ops/integration" // Jira Service Management Operations, Opsgenie's successor
)

var ogPriorities = []string{"P1", "P2", "P3", "P4", "P5"}

var ogResponderTypes = map[string]bool{"team": true, "user": true, "escalation": true, "schedule": true}

// Alert is an alert the Opsgenie fake created. As in Opsgenie, a
// create with the alias of an open alert adds to its Count instead of
// opening another.
type Alert struct {
	ID          string
	TinyID      string
	Alias       string
	Message     string
	Description string
	Priority    string // P1-P5; P3 when the request had none
	Status      string // "open" or "closed"
	Count       int
	Tags        []string
	Details     map[string]string
	Responders  []map[string]string
	RequestID   string // the requestId of the create that opened it
	CreatedAt   time.Time
}

type opsgenieRequest struct {
	action, status, alertID, alias string
	success                        bool
	processedAt                    time.Time
}

type opsgenieState struct {
	alerts   []*Alert
	requests map[string]opsgenieRequest
	teams    []Team // nil: any team id or name exists
}

// Team is a team the Opsgenie fake's Team API knows.
type Team struct {
	ID   string // a UUID
	Name string
}

// SetTeams makes GET /v2/teams/{identifier} know only these teams
// (404 for any other). With none, the default, any UUID-shaped id and any
// name is a team.
func (s *Fake) SetTeams(teams ...Team) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opsgenie.teams = slices.Clone(teams)
}

func newOpsgenieState() opsgenieState {
	return opsgenieState{requests: map[string]opsgenieRequest{}}
}

// Alerts returns a copy of the alerts the Opsgenie fake created, in
// the order they were opened.
func (s *Fake) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, 0, len(s.opsgenie.alerts))
	for _, a := range s.opsgenie.alerts {
		c := *a
		c.Tags = slices.Clone(a.Tags)
		c.Details = cloneStringMap(a.Details)
		c.Responders = nil
		for _, r := range a.Responders {
			c.Responders = append(c.Responders, cloneStringMap(r))
		}
		out = append(out, c)
	}
	return out
}

func cloneStringMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func opsgenieError(msg string, fields map[string]string) map[string]any {
	out := map[string]any{"message": msg, "took": ogTook, "requestId": fakekit.NewUUID()}
	if len(fields) > 0 {
		out["errors"] = fields
	}
	return out
}

// Fake is the Opsgenie fake (see the package documentation).
type Fake struct {
	notifytest.Base
	mu       sync.Mutex
	opsgenie opsgenieState
}

// New returns an Opsgenie fake to pass to notifytest.NewServer, before
// a Jira fake: both serve api.atlassian.com, Opsgenie under the JSM Ops
// prefix.
func New() *Fake {
	return &Fake{Base: notifytest.NewBase(notifytest.Opsgenie), opsgenie: newOpsgenieState()}
}

// Handles takes the US and EU API hosts and the JSM Ops URL.
func (s *Fake) Handles(host, path string) bool {
	return host == "api.opsgenie.com" || host == "api.eu.opsgenie.com" ||
		host == "api.atlassian.com" && strings.HasPrefix(path, jsmOpsPrefix+"/")
}

// CertNames returns the API hosts.
func (s *Fake) CertNames() []string {
	return []string{"api.opsgenie.com", "api.eu.opsgenie.com", "api.atlassian.com"}
}

// WriteError answers in Opsgenie's error shape.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = notifytest.StatusText(status)
	}
	fakekit.WriteJSON(w, status, opsgenieError(msg, nil))
}

// ServeFake answers an Alert or Team API request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	path := r.URL.Path
	if req.Host == "api.atlassian.com" {
		path = strings.TrimPrefix(path, jsmOpsPrefix)
	}
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	key = strings.TrimSpace(key)
	switch {
	case !strings.EqualFold(scheme, "GenieKey") || key == "":
		fakekit.WriteJSON(w, http.StatusUnauthorized, opsgenieError("Could not authenticate", nil))
		return
	case !fakekit.UUIDPattern.MatchString(key):
		fakekit.WriteJSON(w, http.StatusUnprocessableEntity, opsgenieError("Key format is not valid!", nil))
		return
	case s.Server().Credential(notifytest.Opsgenie, key) != notifytest.CredentialOK:
		fakekit.WriteJSON(w, http.StatusUnauthorized, opsgenieError("Could not authenticate", nil))
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/v2/alerts" && r.Method == http.MethodPost:
		s.opsgenieCreate(w, req)
	case path == "/v2/alerts" && r.Method == http.MethodGet:
		s.opsgenieList(w, r)
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "alerts" && parts[2] == "requests" && r.Method == http.MethodGet:
		s.opsgenieRequestStatus(w, parts[3])
	case len(parts) == 4 && parts[0] == "v2" && parts[1] == "alerts" && parts[3] == "close" && r.Method == http.MethodPost:
		s.opsgenieClose(w, req, parts[2])
	case len(parts) == 3 && parts[0] == "v2" && parts[1] == "teams" && r.Method == http.MethodGet && req.Host != "api.atlassian.com":
		s.opsgenieTeam(w, r, parts[2])
	default:
		fakekit.WriteJSON(w, http.StatusNotFound, opsgenieError("Could not find the requested resource", nil))
	}
}

func (s *Fake) opsgenieCreate(w http.ResponseWriter, req *notifytest.Request) {
	if !fakekit.IsJSONContent(req.HTTP) {
		fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, opsgenieError("Content-Type must be application/json", nil))
		return
	}
	body, err := fakekit.DecodeObject(req.Body)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, opsgenieError("Could not parse the request body: "+err.Error(), nil))
		return
	}
	errs := map[string]string{}
	a := &Alert{Priority: "P3", Status: "open", Count: 1}
	a.Message, _ = fakekit.Str(body, "message")
	if strings.TrimSpace(a.Message) == "" {
		errs["message"] = "Message can not be empty."
	}
	a.Message = truncateRunes(a.Message, ogMaxMessage)
	a.Alias, _ = fakekit.Str(body, "alias")
	if utf8.RuneCountInString(a.Alias) > ogMaxAlias {
		errs["alias"] = "Alias can not be longer than 512 characters."
	}
	a.Description, _ = fakekit.Str(body, "description")
	a.Description = truncateRunes(a.Description, ogMaxDescription)
	if p, ok := body["priority"]; ok {
		ps, _ := p.(string)
		if !slices.Contains(ogPriorities, ps) {
			errs["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
		} else {
			a.Priority = ps
		}
	}
	if rs, ok := body["responders"]; ok {
		list, isList := rs.([]any)
		if !isList {
			errs["responders"] = "Responders should be a list"
		}
		for _, item := range list {
			resp, ok := item.(map[string]any)
			typ, _ := fakekit.Str(resp, "type")
			if !ok || !ogResponderTypes[typ] {
				errs["responders"] = "Responder type should be one of [team, user, escalation, schedule]"
				break
			}
			out := map[string]string{"type": typ}
			for _, k := range []string{"id", "name", "username"} {
				if v, ok := fakekit.Str(resp, k); ok && v != "" {
					out[k] = v
				}
			}
			if len(out) == 1 {
				errs["responders"] = "Responder should have an id, a name or a username"
				break
			}
			a.Responders = append(a.Responders, out)
		}
	}
	if ts, ok := body["tags"]; ok {
		list, isList := ts.([]any)
		if !isList || len(list) > ogMaxTags {
			errs["tags"] = "Tags should be a list of at most 20 strings"
		}
		for _, t := range list {
			tag, ok := t.(string)
			if !ok || utf8.RuneCountInString(tag) > ogMaxTagRunes {
				errs["tags"] = "Each tag should be a string of at most 50 characters"
				break
			}
			a.Tags = append(a.Tags, tag)
		}
	}
	if ds, ok := body["details"]; ok {
		m, isMap := ds.(map[string]any)
		if !isMap {
			errs["details"] = "Details should be a map of strings"
		}
		for k, v := range m {
			vs, ok := v.(string)
			if !ok {
				errs["details"] = "Details should be a map of strings"
				break
			}
			if a.Details == nil {
				a.Details = map[string]string{}
			}
			a.Details[k] = vs
		}
	}
	if len(errs) > 0 {
		fakekit.WriteJSON(w, http.StatusUnprocessableEntity,
			opsgenieError("Request body is not processable. Please check the errors.", errs))
		return
	}
	requestID := fakekit.NewUUID()
	now := time.Now().UTC()
	s.mu.Lock()
	status := "Created alert"
	var open *Alert
	if a.Alias != "" {
		for _, x := range s.opsgenie.alerts {
			if x.Alias == a.Alias && x.Status == "open" {
				open = x
			}
		}
	}
	if open != nil {
		open.Count++
		a = open
		status = "Alert deduplicated"
	} else {
		a.ID = fakekit.NewUUID()
		a.TinyID = strconv.Itoa(len(s.opsgenie.alerts) + 1)
		a.RequestID = requestID
		a.CreatedAt = now
		s.opsgenie.alerts = append(s.opsgenie.alerts, a)
	}
	s.opsgenie.requests[requestID] = opsgenieRequest{action: "Create", status: status, alertID: a.ID,
		alias: a.Alias, success: true, processedAt: now}
	s.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusAccepted, map[string]any{"result": "Request will be processed", "took": ogTook, "requestId": requestID})
}

func (s *Fake) opsgenieList(w http.ResponseWriter, r *http.Request) {
	limit := ogDefaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ogMaxLimit {
			fakekit.WriteJSON(w, http.StatusUnprocessableEntity, opsgenieError("Limit should be between 1 and 100", nil))
			return
		}
		limit = n
	}
	s.mu.Lock()
	data := []map[string]any{}
	for i := len(s.opsgenie.alerts) - 1; i >= 0 && len(data) < limit; i-- {
		a := s.opsgenie.alerts[i]
		data = append(data, map[string]any{
			"id": a.ID, "tinyId": a.TinyID, "alias": a.Alias, "message": a.Message, "status": a.Status,
			"acknowledged": false, "isSeen": false, "tags": fakekit.NonNil(a.Tags), "count": a.Count,
			"priority": a.Priority, "createdAt": a.CreatedAt.Format(time.RFC3339Nano),
		})
	}
	s.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"data": data, "took": ogTook, "requestId": fakekit.NewUUID()})
}

func (s *Fake) opsgenieRequestStatus(w http.ResponseWriter, id string) {
	s.mu.Lock()
	st, ok := s.opsgenie.requests[id]
	s.mu.Unlock()
	if !ok {
		w.Header().Set("X-Opsgenie-Errortype", "RequestNotProcessed")
		fakekit.WriteJSON(w, http.StatusNotFound, opsgenieError("Request not found. It might not be processed, yet.", nil))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{
			"success": st.success, "isSuccess": st.success, "action": st.action, "status": st.status,
			"alertId": st.alertID, "alias": st.alias, "processedAt": st.processedAt.Format(time.RFC3339Nano),
		},
		"took": ogTook, "requestId": fakekit.NewUUID(),
	})
}

// opsgenieClose is POST /v2/alerts/{identifier}/close?identifierType=
// id|tiny|alias (https://docs.opsgenie.com/docs/alert-api#close-alert):
// an optional JSON body of user and source (at most 100 characters each)
// and note (at most 25,000). Like every Opsgenie action it is asynchronous:
// 202 for any well-formed request, even for an alert that does not exist or
// is already closed; the request status says which ("Alert does not
// exist"). An alias names the open alert that holds it.
func (s *Fake) opsgenieClose(w http.ResponseWriter, req *notifytest.Request, identifier string) {
	r := req.HTTP
	idType := r.URL.Query().Get("identifierType")
	if idType == "" {
		idType = "id"
	}
	if idType != "id" && idType != "tiny" && idType != "alias" {
		fakekit.WriteJSON(w, http.StatusUnprocessableEntity, opsgenieError("identifierType should be one of [id, tiny, alias]", nil))
		return
	}
	if len(bytes.TrimSpace(req.Body)) > 0 {
		if !fakekit.IsJSONContent(r) {
			fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, opsgenieError("Content-Type must be application/json", nil))
			return
		}
		body, err := fakekit.DecodeObject(req.Body)
		if err != nil {
			fakekit.WriteJSON(w, http.StatusBadRequest, opsgenieError("Could not parse the request body: "+err.Error(), nil))
			return
		}
		errs := map[string]string{}
		for field, max := range map[string]int{"user": ogMaxActor, "source": ogMaxActor, "note": ogMaxNote} {
			v, present := body[field]
			if !present {
				continue
			}
			if vs, ok := v.(string); !ok || utf8.RuneCountInString(vs) > max {
				errs[field] = field + " should be a string of at most " + strconv.Itoa(max) + " characters"
			}
		}
		if len(errs) > 0 {
			fakekit.WriteJSON(w, http.StatusUnprocessableEntity,
				opsgenieError("Request body is not processable. Please check the errors.", errs))
			return
		}
	}
	requestID := fakekit.NewUUID()
	s.mu.Lock()
	st := opsgenieRequest{action: "Close", status: "Alert does not exist", processedAt: time.Now().UTC()}
	for _, a := range s.opsgenie.alerts {
		match := (idType == "id" && a.ID == identifier) || (idType == "tiny" && a.TinyID == identifier) ||
			(idType == "alias" && a.Alias == identifier && a.Status == "open")
		if !match {
			continue
		}
		st.alertID, st.alias = a.ID, a.Alias
		if a.Status == "open" {
			a.Status = "closed"
			st.status, st.success = "Closed alert", true
		} else {
			st.status = "Alert is already closed"
		}
	}
	s.opsgenie.requests[requestID] = st
	s.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusAccepted, map[string]any{"result": "Request will be processed", "took": ogTook, "requestId": requestID})
}

// Open returns the alerts the Opsgenie fake holds open, so that a
// test can assert that a resolution left nothing open.
func (s *Fake) Open() []Alert {
	var out []Alert
	for _, a := range s.Alerts() {
		if a.Status == "open" {
			out = append(out, a)
		}
	}
	return out
}

// opsgenieTeam is GET /v2/teams/{identifier}?identifierType=id|name, the
// Team API (which JSM Operations' integration URL does not offer).
func (s *Fake) opsgenieTeam(w http.ResponseWriter, r *http.Request, identifier string) {
	idType := r.URL.Query().Get("identifierType")
	if idType == "" {
		idType = "id"
	}
	if idType != "id" && idType != "name" {
		fakekit.WriteJSON(w, http.StatusUnprocessableEntity, opsgenieError("identifierType should be one of [id, name]", nil))
		return
	}
	s.mu.Lock()
	known := s.opsgenie.teams
	s.mu.Unlock()
	team, found := Team{}, false
	switch {
	case known == nil && idType == "id" && fakekit.UUIDPattern.MatchString(identifier):
		team, found = Team{ID: identifier, Name: "team-" + identifier[:8]}, true
	case known == nil && idType == "name" && identifier != "":
		team, found = Team{ID: fakekit.NewUUID(), Name: identifier}, true
	}
	for _, t := range known {
		if (idType == "id" && strings.EqualFold(t.ID, identifier)) || (idType == "name" && t.Name == identifier) {
			team, found = t, true
		}
	}
	if !found {
		fakekit.WriteJSON(w, http.StatusNotFound, opsgenieError("No team exists with "+idType+" ["+identifier+"]", nil))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{"id": team.ID, "name": team.Name, "description": "", "members": []any{}},
		"took": ogTook, "requestId": fakekit.NewUUID(),
	})
}

func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max])
}
