package notifytest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
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

// DatadogIncident is an incident the Datadog fake created.
type DatadogIncident struct {
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
}

type datadogState struct {
	incidents []*DatadogIncident
}

// DatadogIncidents returns a copy of the incidents the Datadog fake
// created, in order.
func (s *Server) DatadogIncidents() []DatadogIncident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DatadogIncident, 0, len(s.datadog.incidents))
	for _, in := range s.datadog.incidents {
		c := *in
		c.Handles = slices.Clone(in.Handles)
		out = append(out, c)
	}
	return out
}

func ddErrors(msgs ...string) map[string]any { return map[string]any{"errors": msgs} }

// serveDatadog is the Datadog fake (see Destination).
func (s *Server) serveDatadog(w http.ResponseWriter, req *fakeRequest) {
	r := req.r
	site, isAPI := strings.CutPrefix(req.host, "api.")
	if !isAPI || !slices.Contains(datadogSites, site) {
		writeJSON(w, http.StatusNotFound, ddErrors("Not found: the Datadog API is served at api.<site>"))
		return
	}
	apiKey, appKey := r.Header.Get("DD-API-KEY"), r.Header.Get("DD-APPLICATION-KEY")
	if r.URL.Path == "/api/v1/validate" && r.Method == http.MethodGet {
		if !ddAPIKeyPattern.MatchString(apiKey) || s.checkCredential(Datadog, apiKey) != credOK {
			writeJSON(w, http.StatusForbidden, ddErrors("Forbidden"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"valid": true})
		return
	}
	switch {
	case apiKey == "" || appKey == "":
		writeJSON(w, http.StatusUnauthorized, ddErrors("Unauthorized"))
		return
	case !ddAPIKeyPattern.MatchString(apiKey), !ddAppKeyPattern.MatchString(appKey),
		s.checkCredential(Datadog, apiKey) != credOK, s.checkCredential(Datadog, appKey) != credOK:
		writeJSON(w, http.StatusForbidden, ddErrors("Forbidden"))
		return
	}
	switch {
	case r.URL.Path == "/api/v2/validate_keys" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	case r.URL.Path == "/api/v2/incidents" && r.Method == http.MethodPost:
		s.datadogCreate(w, req, site)
	case strings.HasPrefix(r.URL.Path, "/api/v2/incidents/") && r.Method == http.MethodGet:
		s.datadogGet(w, strings.TrimPrefix(r.URL.Path, "/api/v2/incidents/"))
	default:
		writeJSON(w, http.StatusNotFound, ddErrors("Not found"))
	}
}

func (s *Server) datadogCreate(w http.ResponseWriter, req *fakeRequest, site string) {
	if !isJSONContent(req.r) {
		writeJSON(w, http.StatusUnsupportedMediaType, ddErrors("Unsupported Media Type: Content-Type must be application/json"))
		return
	}
	body, err := decodeObject(req.body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ddErrors("Bad Request: "+err.Error()))
		return
	}
	data, ok := obj(body, "data")
	if !ok {
		writeJSON(w, http.StatusBadRequest, ddErrors("Bad Request: data is required"))
		return
	}
	var errs []string
	if typ, _ := str(data, "type"); typ != "incidents" {
		errs = append(errs, `data.type must be "incidents"`)
	}
	attrs, ok := obj(data, "attributes")
	if !ok {
		writeJSON(w, http.StatusBadRequest, ddErrors(append(errs, "data.attributes is required")...))
		return
	}
	in := &DatadogIncident{Site: site, Severity: "UNKNOWN"}
	in.Title, _ = str(attrs, "title")
	if strings.TrimSpace(in.Title) == "" {
		errs = append(errs, "attributes.title is required")
	}
	impacted, ok := attrs["customer_impacted"].(bool)
	if !ok {
		errs = append(errs, "attributes.customer_impacted is required and must be a boolean")
	}
	in.CustomerImpacted = impacted
	in.CustomerImpactScope, _ = str(attrs, "customer_impact_scope")
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
		for name, v := range fields {
			field, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, "attributes.fields."+name+" must be an object with type and value")
				continue
			}
			value, _ := str(field, "value")
			switch name {
			case "severity":
				if !slices.Contains(ddSeverities, value) {
					errs = append(errs, "attributes.fields.severity.value must be one of "+strings.Join(ddSeverities, ", "))
				}
				in.Severity = value
			case "state":
				if !slices.Contains(ddStates, value) {
					errs = append(errs, "attributes.fields.state.value must be one of "+strings.Join(ddStates, ", "))
				}
			}
		}
	}
	if h, ok := attrs["notification_handles"]; ok {
		list, isList := h.([]any)
		if !isList {
			errs = append(errs, "attributes.notification_handles must be a list")
		}
		for _, item := range list {
			handle, _ := str(asObject(item), "handle")
			if handle == "" {
				errs = append(errs, "attributes.notification_handles[].handle is required")
				break
			}
			in.Handles = append(in.Handles, handle)
		}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, ddErrors(errs...))
		return
	}
	in.ID = newUUID()
	in.Created = time.Now().UTC()
	s.mu.Lock()
	in.PublicID = int64(len(s.datadog.incidents) + 1)
	s.datadog.incidents = append(s.datadog.incidents, in)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, ddIncidentJSON(in))
}

func (s *Server) datadogGet(w http.ResponseWriter, id string) {
	s.mu.Lock()
	var found *DatadogIncident
	for _, in := range s.datadog.incidents {
		if in.ID == id {
			cp := *in
			found = &cp
		}
	}
	s.mu.Unlock()
	if found == nil {
		writeJSON(w, http.StatusNotFound, ddErrors("Not found"))
		return
	}
	writeJSON(w, http.StatusOK, ddIncidentJSON(found))
}

func ddIncidentJSON(in *DatadogIncident) map[string]any {
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
			"state":                 "active",
			"is_test":               in.IsTest,
			"created":               created,
			"modified":              created,
			"notification_handles":  handles,
			"fields": map[string]any{
				"severity": map[string]any{"type": "dropdown", "value": in.Severity},
				"state":    map[string]any{"type": "dropdown", "value": "active"},
			},
		},
	}}
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
