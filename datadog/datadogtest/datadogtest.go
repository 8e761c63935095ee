// Package datadogtest is the loopback fake of the Datadog Incidents API that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, datadogtest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// Datadog, api.<site> for the nine sites (another host under a Datadog
// domain, such as app.datadoghq.com, is 404): GET /api/v1/validate needs
// DD-API-KEY (32 hex): 200 {"valid":true}, else 403 {"errors":["Forbidden"]}.
// Everything else needs DD-API-KEY and DD-APPLICATION-KEY (40 hex): a missing
// one 401 {"errors":["Unauthorized"]}, a malformed, revoked or unexpected one
// 403 {"errors":["Forbidden"]}. GET /api/v2/validate_keys: 200
// {"status":"ok"}. POST /api/v2/incidents (JSON, else 415): data.type
// "incidents", attributes.title, attributes.customer_impacted (a boolean,
// even when false), customer_impact_scope when impacted,
// fields.severity.value among UNKNOWN and SEV-0…SEV-5, notification_handles
// [{handle}]: 201 {"data":{"type":"incidents","id":…,"attributes":
// {"public_id":1,…}}}, else 400 {"errors":[…]}; fields of every documented
// type are kept (Fake.HoldAnswers answers creates late). GET
// /api/v2/incidents/{id}. GET /api/v2/incidents/search?query=: facets joined
// by AND (name:value, name:"value", name:(a OR b)) on state, severity and
// any property field, else 400; 200 {"data":{"attributes":{"incidents":
// [{"data":…}],"total"}}}. PATCH /api/v2/incidents/{id} (data.id the same):
// title and fields, state among them: 200, 404, or 400 {"errors":[…]}.
//
// A gzip body is refused (415): only HEC documents compressed requests.
// Reached over plain http://, the host answers 301 to https://.
package datadogtest

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Datadog key shapes: an API key is 32 hexadecimal characters, an
// application key 40.
var (
	ddAPIKeyPattern = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	ddAppKeyPattern = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
)

// ddSeverities are the severities of Datadog's default incident settings
// (CONTRACTS §4; an org's settings may differ).
var ddSeverities = []string{"UNKNOWN", "SEV-0", "SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5"}

var ddStates = []string{"active", "stable", "resolved"}

// Incident is an incident the Datadog fake created.
type Incident struct {
	ID                  string // the incident's UUID
	PublicID            int64  // 1, 2, … (the IR-<n> a person sees)
	Site                string // the Datadog site, from the API host
	Title               string
	CustomerImpacted    bool
	CustomerImpactScope string
	Severity            string // UNKNOWN when the request set none
	IsTest              bool
	Handles             []string // notification_handles[].handle
	Created             time.Time
	// State is active when opened, and what an update set since.
	State string
	// Fields are the values of the property fields the incident was
	// opened or updated with, besides severity and state: a single-value
	// field holds one value, a multiple-value one (textarray…) its list.
	Fields map[string][]string

	fieldTypes map[string]string // each of Fields' type, as sent
}

type datadogState struct {
	incidents []*Incident
	hold      int           // creates still to answer late
	holdFor   time.Duration // how late
}

// HoldAnswers makes the Datadog fake open the next n incidents as
// usual but hold each create's answer back for d, or until the client
// gives up (the answer is then lost, the incident kept): what a client
// whose deadline passes while Datadog is answering sees. Unlike a Fault's
// Delay, which holds a request before the fake sees it, the work is done.
func (s *Fake) HoldAnswers(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.datadog.hold, s.datadog.holdFor = n, d
}

// datadogHoldAnswer waits out a held answer; it returns false when the
// answer must not be written (the client is gone, or the server closing).
func (s *Fake) datadogHoldAnswer(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	d := time.Duration(0)
	if s.datadog.hold > 0 {
		s.datadog.hold--
		d = s.datadog.holdFor
	}
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		notifytest.Abort(w)
	case <-s.Server().Closing():
		http.Error(w, "notifytest: server closing", http.StatusServiceUnavailable)
	}
	return false
}

// Incidents returns a copy of the incidents the Datadog fake
// created, in order.
func (s *Fake) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, 0, len(s.datadog.incidents))
	for _, in := range s.datadog.incidents {
		c := *in
		c.Handles = slices.Clone(in.Handles)
		c.Fields = make(map[string][]string, len(in.Fields))
		for k, v := range in.Fields {
			c.Fields[k] = slices.Clone(v)
		}
		out = append(out, c)
	}
	return out
}

func ddErrors(msgs ...string) map[string]any { return map[string]any{"errors": msgs} }

// datadogSites are the nine sites Datadog's Go client accepts (CONTRACTS §4).
var datadogSites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com",
	"ddog-gov.com", "us2.ddog-gov.com",
}

// Fake is the Datadog fake (see the package documentation).
type Fake struct {
	notifytest.Base
	mu      sync.Mutex
	datadog datadogState
}

// New returns a Datadog fake to pass to notifytest.NewServer.
func New() *Fake { return &Fake{Base: notifytest.NewBase(notifytest.Datadog)} }

// Handles takes every host under a Datadog domain; those that are not
// api.<site> answer 404.
func (s *Fake) Handles(host, _ string) bool {
	for _, site := range []string{"datadoghq.com", "datadoghq.eu", "ddog-gov.com"} {
		if host == site || strings.HasSuffix(host, "."+site) {
			return true
		}
	}
	return false
}

// CertNames returns api.<site> for the nine sites.
func (s *Fake) CertNames() []string {
	names := make([]string, 0, len(datadogSites))
	for _, site := range datadogSites {
		names = append(names, "api."+site)
	}
	return names
}

// WriteError answers Datadog's {"errors":[…]}.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = notifytest.StatusText(status)
	}
	fakekit.WriteJSON(w, status, ddErrors(msg))
}

// ServeFake answers a Datadog API request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	site, isAPI := strings.CutPrefix(req.Host, "api.")
	if !isAPI || !slices.Contains(datadogSites, site) {
		fakekit.WriteJSON(w, http.StatusNotFound, ddErrors("Not found: the Datadog API is served at api.<site>"))
		return
	}
	apiKey, appKey := r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY")
	if r.URL.Path == "/api/v1/validate" && r.Method == http.MethodGet {
		if !ddAPIKeyPattern.MatchString(apiKey) || s.Server().Credential(notifytest.Datadog, apiKey) != notifytest.CredentialOK {
			fakekit.WriteJSON(w, http.StatusForbidden, ddErrors("Forbidden"))
			return
		}
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"valid": true})
		return
	}
	switch {
	case apiKey == "" || appKey == "":
		fakekit.WriteJSON(w, http.StatusUnauthorized, ddErrors("Unauthorized"))
		return
	case !ddAPIKeyPattern.MatchString(apiKey), !ddAppKeyPattern.MatchString(appKey),
		s.Server().Credential(notifytest.Datadog, apiKey) != notifytest.CredentialOK, s.Server().Credential(notifytest.Datadog, appKey) != notifytest.CredentialOK:
		fakekit.WriteJSON(w, http.StatusForbidden, ddErrors("Forbidden"))
		return
	}
	switch {
	case r.URL.Path == "/api/v2/validate_keys" && r.Method == http.MethodGet:
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	case r.URL.Path == "/api/v2/incidents" && r.Method == http.MethodPost:
		s.datadogCreate(w, req, site)
	case r.URL.Path == "/api/v2/incidents/search" && r.Method == http.MethodGet:
		s.datadogSearch(w, req)
	case strings.HasPrefix(r.URL.Path, "/api/v2/incidents/") && r.Method == http.MethodGet:
		s.datadogGet(w, strings.TrimPrefix(r.URL.Path, "/api/v2/incidents/"))
	case strings.HasPrefix(r.URL.Path, "/api/v2/incidents/") && r.Method == http.MethodPatch:
		s.datadogUpdate(w, req, strings.TrimPrefix(r.URL.Path, "/api/v2/incidents/"))
	default:
		fakekit.WriteJSON(w, http.StatusNotFound, ddErrors("Not found"))
	}
}

// datadogIncidentData reads the JSON:API body of a create or an update:
// its data object, and the errors found in it so far (a data.type other
// than "incidents"). It answers Datadog's error itself, and returns false,
// when the body is not JSON or has no data.
func datadogIncidentData(w http.ResponseWriter, req *notifytest.Request) (map[string]any, []string, bool) {
	if !fakekit.IsJSONContent(req.HTTP) {
		fakekit.WriteJSON(w, http.StatusUnsupportedMediaType, ddErrors("Unsupported Media Type: Content-Type must be application/json"))
		return nil, nil, false
	}
	body, err := fakekit.DecodeObject(req.Body)
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors("Bad Request: "+err.Error()))
		return nil, nil, false
	}
	data, ok := fakekit.Obj(body, "data")
	if !ok {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors("Bad Request: data is required"))
		return nil, nil, false
	}
	var errs []string
	if typ, _ := fakekit.Str(data, "type"); typ != "incidents" {
		errs = append(errs, `data.type must be "incidents"`)
	}
	return data, errs, true
}

func (s *Fake) datadogCreate(w http.ResponseWriter, req *notifytest.Request, site string) {
	data, errs, ok := datadogIncidentData(w, req)
	if !ok {
		return
	}
	attrs, ok := fakekit.Obj(data, "attributes")
	if !ok {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors(append(errs, "data.attributes is required")...))
		return
	}
	in := &Incident{Site: site, Severity: "UNKNOWN", State: "active", Fields: map[string][]string{}, fieldTypes: map[string]string{}}
	in.Title, _ = fakekit.Str(attrs, "title")
	if strings.TrimSpace(in.Title) == "" {
		errs = append(errs, "attributes.title is required")
	}
	impacted, ok := attrs["customer_impacted"].(bool)
	if !ok {
		errs = append(errs, "attributes.customer_impacted is required and must be a boolean")
	}
	in.CustomerImpacted = impacted
	in.CustomerImpactScope, _ = fakekit.Str(attrs, "customer_impact_scope")
	if impacted && strings.TrimSpace(in.CustomerImpactScope) == "" {
		errs = append(errs, "attributes.customer_impact_scope is required when customer_impacted is true")
	}
	if v, ok := attrs["is_test"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			errs = append(errs, "attributes.is_test must be a boolean")
		}
		in.IsTest = b
	}
	if f, ok := attrs["fields"]; ok {
		fields, isObj := f.(map[string]any)
		if !isObj {
			errs = append(errs, "attributes.fields must be an object")
		}
		errs = append(errs, ddSetFields(in, fields)...)
	}
	if h, ok := attrs["notification_handles"]; ok {
		list, isList := h.([]any)
		if !isList {
			errs = append(errs, "attributes.notification_handles must be a list")
		}
		for _, item := range list {
			handle, _ := fakekit.Str(asObject(item), "handle")
			if handle == "" {
				errs = append(errs, "attributes.notification_handles[].handle is required")
				break
			}
			in.Handles = append(in.Handles, handle)
		}
	}
	if len(errs) > 0 {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors(errs...))
		return
	}
	in.ID = fakekit.NewUUID()
	in.Created = time.Now().UTC()
	s.mu.Lock()
	in.PublicID = int64(len(s.datadog.incidents) + 1)
	s.datadog.incidents = append(s.datadog.incidents, in)
	answer := ddIncidentJSON(in) // under the lock: an update may follow at once
	s.mu.Unlock()
	if !s.datadogHoldAnswer(w, req.HTTP) {
		return
	}
	fakekit.WriteJSON(w, http.StatusCreated, answer)
}

func (s *Fake) datadogGet(w http.ResponseWriter, id string) {
	s.mu.Lock()
	var found *Incident
	for _, in := range s.datadog.incidents {
		if in.ID == id {
			cp := *in
			found = &cp
		}
	}
	s.mu.Unlock()
	if found == nil {
		fakekit.WriteJSON(w, http.StatusNotFound, ddErrors("Not found"))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, ddIncidentJSON(found))
}

func ddIncidentJSON(in *Incident) map[string]any {
	created := in.Created.Format(time.RFC3339Nano)
	handles := []map[string]any{}
	for _, h := range in.Handles {
		handles = append(handles, map[string]any{"handle": h})
	}
	var scope any
	if in.CustomerImpactScope != "" {
		scope = in.CustomerImpactScope
	}
	return map[string]any{"data": map[string]any{
		"type": "incidents",
		"id":   in.ID,
		"attributes": map[string]any{
			"public_id":             in.PublicID,
			"title":                 in.Title,
			"customer_impacted":     in.CustomerImpacted,
			"customer_impact_scope": scope,
			"severity":              in.Severity,
			"state":                 in.State,
			"is_test":               in.IsTest,
			"created":               created,
			"modified":              created,
			"notification_handles":  handles,
			"fields":                ddFieldsJSON(in),
		},
	}}
}

func ddFieldsJSON(in *Incident) map[string]any {
	out := map[string]any{
		"severity": map[string]any{"type": "dropdown", "value": in.Severity},
		"state":    map[string]any{"type": "dropdown", "value": in.State},
	}
	for k, v := range in.Fields {
		if slices.Contains(ddSingleTypes, in.fieldTypes[k]) && len(v) == 1 {
			out[k] = map[string]any{"type": in.fieldTypes[k], "value": v[0]}
			continue
		}
		out[k] = map[string]any{"type": in.fieldTypes[k], "value": v}
	}
	return out
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ddSingleTypes and ddMultiTypes are the incident field types: a single
// value (dropdown, textbox) or a list (multiselect, textarray, metrictag,
// autocomplete), as Datadog's IncidentFieldAttributes documents them.
var (
	ddSingleTypes = []string{"dropdown", "textbox"}
	ddMultiTypes  = []string{"multiselect", "textarray", "metrictag", "autocomplete"}
)

// ddSetFields reads attributes.fields of a create or an update into the
// incident, and returns Datadog's messages for the bad ones.
func ddSetFields(in *Incident, fields map[string]any) []string {
	var errs []string
	for name, v := range fields {
		field, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, "attributes.fields."+name+" must be an object with type and value")
			continue
		}
		typ, _ := fakekit.Str(field, "type")
		var values []string
		switch {
		case slices.Contains(ddSingleTypes, typ):
			value, ok := field["value"].(string)
			if !ok {
				errs = append(errs, "attributes.fields."+name+".value must be a string for type "+typ)
				continue
			}
			values = []string{value}
		case slices.Contains(ddMultiTypes, typ):
			list, ok := field["value"].([]any)
			if !ok {
				errs = append(errs, "attributes.fields."+name+".value must be a list of strings for type "+typ)
				continue
			}
			for _, item := range list {
				s, ok := item.(string)
				if !ok {
					errs = append(errs, "attributes.fields."+name+".value must be a list of strings for type "+typ)
					break
				}
				values = append(values, s)
			}
		default:
			errs = append(errs, "attributes.fields."+name+".type must be one of "+strings.Join(append(slices.Clone(ddSingleTypes), ddMultiTypes...), ", "))
			continue
		}
		switch name {
		case "severity":
			if len(values) != 1 || !slices.Contains(ddSeverities, values[0]) {
				errs = append(errs, "attributes.fields.severity.value must be one of "+strings.Join(ddSeverities, ", "))
				continue
			}
			in.Severity = values[0]
		case "state":
			if len(values) != 1 || !slices.Contains(ddStates, values[0]) {
				errs = append(errs, "attributes.fields.state.value must be one of "+strings.Join(ddStates, ", "))
				continue
			}
			in.State = values[0]
		default:
			in.Fields[name] = values
			in.fieldTypes[name] = typ
		}
	}
	return errs
}

// datadogUpdate is PATCH /api/v2/incidents/{id}: a partial update of the
// title and fields (state among them), data.id naming the same incident.
// 200 with the incident, 404 for an unknown one, 400 {"errors"} otherwise.
func (s *Fake) datadogUpdate(w http.ResponseWriter, req *notifytest.Request, id string) {
	data, errs, ok := datadogIncidentData(w, req)
	if !ok {
		return
	}
	if did, _ := fakekit.Str(data, "id"); did != id {
		errs = append(errs, "data.id must be the incident's id in the path")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.datadog.incidents, func(in *Incident) bool { return in.ID == id })
	if i < 0 {
		fakekit.WriteJSON(w, http.StatusNotFound, ddErrors("Not found"))
		return
	}
	next := *s.datadog.incidents[i]
	next.Fields = make(map[string][]string, len(next.Fields))
	for k, v := range s.datadog.incidents[i].Fields {
		next.Fields[k] = slices.Clone(v)
	}
	next.fieldTypes = maps.Clone(next.fieldTypes)
	attrs, _ := fakekit.Obj(data, "attributes")
	if t, ok := attrs["title"]; ok {
		title, _ := t.(string)
		if strings.TrimSpace(title) == "" {
			errs = append(errs, "attributes.title must be a non-empty string")
		}
		next.Title = title
	}
	if f, ok := attrs["fields"]; ok {
		fields, isObj := f.(map[string]any)
		if !isObj {
			errs = append(errs, "attributes.fields must be an object")
		}
		errs = append(errs, ddSetFields(&next, fields)...)
	}
	if len(errs) > 0 {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors(errs...))
		return
	}
	*s.datadog.incidents[i] = next
	fakekit.WriteJSON(w, http.StatusOK, ddIncidentJSON(&next))
}

// datadogSearch is GET /api/v2/incidents/search?query=…: facets joined by
// AND, each name:value, name:"value" or name:(a OR b), on state, severity
// and any property field. Anything else, or no query, is a 400, so a query
// the fake cannot honour never silently matches nothing. 200
// {"data":{"type":"incidents_search_results","attributes":{"incidents":
// [{"data":…}],"total"}}}, page[size] (at most 100) results, oldest first.
func (s *Fake) datadogSearch(w http.ResponseWriter, req *notifytest.Request) {
	q := req.HTTP.URL.Query()
	clauses, err := parseDDQuery(q.Get("query"))
	if err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors(err.Error()))
		return
	}
	size := 10
	if v := q.Get("page[size]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			fakekit.WriteJSON(w, http.StatusBadRequest, ddErrors("page[size] must be a number from 1 to 100"))
			return
		}
		size = n
	}
	s.mu.Lock()
	hits := []map[string]any{}
	total := 0
	for _, in := range s.datadog.incidents {
		if !ddMatches(in, clauses) {
			continue
		}
		total++
		if len(hits) < size {
			hits = append(hits, ddIncidentJSON(in))
		}
	}
	s.mu.Unlock()
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"data": map[string]any{"type": "incidents_search_results",
			"attributes": map[string]any{"incidents": hits, "total": total, "facets": map[string]any{}}},
		"meta": map[string]any{"pagination": map[string]any{"offset": 0, "size": len(hits)}},
	})
}

type ddClause struct {
	name   string
	values []string
}

// parseDDQuery parses the facet subset datadogSearch takes.
func parseDDQuery(query string) ([]ddClause, error) {
	const help = " (the fake takes facets joined by AND: name:value, name:\"value\" or name:(a OR b))"
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("query is required" + help)
	}
	var out []ddClause
	for _, part := range splitDDAnd(query) {
		name, value, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || name == "" || value == "" || strings.ContainsAny(name, " ()\"") {
			return nil, fmt.Errorf("cannot parse %q%s", part, help)
		}
		c := ddClause{name: name}
		if inner, ok := strings.CutPrefix(value, "("); ok {
			inner, ok = strings.CutSuffix(inner, ")")
			if !ok {
				return nil, fmt.Errorf("unbalanced parentheses in %q%s", part, help)
			}
			for _, v := range strings.Split(inner, " OR ") {
				c.values = append(c.values, ddUnquote(strings.TrimSpace(v)))
			}
		} else {
			c.values = []string{ddUnquote(value)}
		}
		out = append(out, c)
	}
	return out, nil
}

// splitDDAnd splits a query at the ANDs outside quotes.
func splitDDAnd(q string) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '"':
			quoted = !quoted
		case !quoted && strings.HasPrefix(q[i:], " AND "):
			parts = append(parts, q[start:i])
			start = i + len(" AND ")
			i = start - 1
		}
	}
	return append(parts, q[start:])
}

func ddUnquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

func ddMatches(in *Incident, clauses []ddClause) bool {
	for _, c := range clauses {
		var have []string
		switch c.name {
		case "state":
			have = []string{in.State}
		case "severity":
			have = []string{in.Severity}
		default:
			have = in.Fields[c.name]
		}
		if !slices.ContainsFunc(c.values, func(v string) bool { return slices.Contains(have, v) }) {
			return false
		}
	}
	return true
}
