package notifytest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"
	"unicode/utf8"
)

// PagerDuty Events API v2 limits (CONTRACTS §5).
const (
	pdRoutingKeyLen   = 32        // routing_key: 32 alphanumerics
	pdMaxDedupKey     = 255       // dedup_key
	pdMaxSummaryRunes = 1024      // payload.summary
	pdMaxEventBytes   = 512 << 10 // whole request: 512 KB
)

var pdSeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// PagerDutyAlert is an alert the PagerDuty fake holds open, acknowledged
// or resolved, following the Events API's dedup rules: a trigger with the
// dedup key of an open alert updates it, an acknowledge or resolve with no
// open alert is dropped, and a trigger after a resolve opens a new alert.
type PagerDutyAlert struct {
	DedupKey string
	Summary  string
	Source   string
	Severity string
	Status   string // "triggered", "acknowledged" or "resolved"
	// Triggers counts the trigger events the alert took (1 + updates).
	Triggers int
}

type pagerdutyState struct {
	// alerts are keyed by routing key and dedup key, as PagerDuty scopes
	// dedup keys to one integration.
	alerts map[[2]string]*PagerDutyAlert
	order  [][2]string
}

func newPagerDutyState() pagerdutyState {
	return pagerdutyState{alerts: map[[2]string]*PagerDutyAlert{}}
}

// PagerDutyAlerts returns a copy of the alerts the PagerDuty fake holds, in
// the order they were opened.
func (s *Server) PagerDutyAlerts() []PagerDutyAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PagerDutyAlert
	for _, k := range s.pagerduty.order {
		out = append(out, *s.pagerduty.alerts[k])
	}
	return out
}

// servePagerDuty is the PagerDuty fake (see Destination).
func (s *Server) servePagerDuty(w http.ResponseWriter, req *fakeRequest) {
	r := req.r
	if r.URL.Path != "/v2/enqueue" {
		writeJSON(w, http.StatusNotFound, map[string]any{"status": "Not Found", "message": "Not Found", "errors": []string{"unknown path " + r.URL.Path}})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"status": "Method Not Allowed", "message": "Method Not Allowed", "errors": []string{"use POST"}})
		return
	}
	if len(req.body) > pdMaxEventBytes {
		pdInvalid(w, "Event object is too large (the limit is 512 KB)")
		return
	}
	ev, err := decodeObject(req.body)
	if err != nil {
		pdInvalid(w, "Could not parse the request body as a JSON object")
		return
	}
	var errs []string
	key, _ := str(ev, "routing_key")
	switch {
	case key == "":
		errs = append(errs, "'routing_key' is missing or blank")
	case len(key) != pdRoutingKeyLen:
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	case !isAlnum(key):
		errs = append(errs, "'routing_key' is invalid (must be alphanumeric)")
	}
	action, _ := str(ev, "event_action")
	switch action {
	case "trigger", "acknowledge", "resolve":
	case "":
		errs = append(errs, "'event_action' is missing or blank")
	default:
		errs = append(errs, "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	dedup, hasDedup := str(ev, "dedup_key")
	if _, present := ev["dedup_key"]; present && !hasDedup && ev["dedup_key"] != nil {
		errs = append(errs, "'dedup_key' must be a string")
	}
	switch {
	case utf8.RuneCountInString(dedup) > pdMaxDedupKey:
		errs = append(errs, "'dedup_key' is too long (the maximum is 255 characters)")
	case dedup == "" && (action == "acknowledge" || action == "resolve"):
		errs = append(errs, "'dedup_key' is missing or blank")
	}
	var summary, source, severity string
	if action == "trigger" {
		payload, ok := obj(ev, "payload")
		if !ok {
			errs = append(errs, "'payload' is missing or blank")
		} else {
			summary, _ = str(payload, "summary")
			source, _ = str(payload, "source")
			severity, _ = str(payload, "severity")
			switch {
			case summary == "":
				errs = append(errs, "'payload.summary' is missing or blank")
			case utf8.RuneCountInString(summary) > pdMaxSummaryRunes:
				errs = append(errs, "'payload.summary' is too long (the maximum is 1024 characters)")
			}
			if source == "" {
				errs = append(errs, "'payload.source' is missing or blank")
			}
			switch {
			case severity == "":
				errs = append(errs, "'payload.severity' is missing or blank")
			case !pdSeverities[severity]:
				errs = append(errs, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
			}
			if ts, ok := payload["timestamp"]; ok {
				t, isString := ts.(string)
				if _, err := time.Parse(time.RFC3339Nano, t); !isString || err != nil {
					errs = append(errs, "'payload.timestamp' is invalid (must be ISO 8601)")
				}
			}
		}
	}
	if len(errs) > 0 {
		pdInvalid(w, errs...)
		return
	}
	if s.checkCredential(PagerDuty, key) != credOK {
		pdInvalid(w, "Invalid routing key")
		return
	}
	if dedup == "" {
		dedup = randomHex(16) // PagerDuty generates a key for a trigger without one
	}
	s.pagerdutyApply(key, action, dedup, summary, source, severity)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": dedup})
}

// pagerdutyApply moves the alert state the way the Events API's dedup
// rules do.
func (s *Server) pagerdutyApply(key, action, dedup, summary, source, severity string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := [2]string{key, dedup}
	a, ok := s.pagerduty.alerts[id]
	open := ok && a.Status != "resolved"
	switch action {
	case "trigger":
		if open {
			a.Summary, a.Source, a.Severity = summary, source, severity
			a.Triggers++
			return
		}
		if ok { // a trigger after a resolve opens a new alert
			s.pagerduty.order = removeKey(s.pagerduty.order, id)
		}
		s.pagerduty.alerts[id] = &PagerDutyAlert{DedupKey: dedup, Summary: summary, Source: source,
			Severity: severity, Status: "triggered", Triggers: 1}
		s.pagerduty.order = append(s.pagerduty.order, id)
	case "acknowledge":
		if open {
			a.Status = "acknowledged"
		}
	case "resolve":
		if open {
			a.Status = "resolved"
		}
	}
}

// PagerDutyOpen returns the alerts the PagerDuty fake holds triggered or
// acknowledged, so that a test can assert that a resolution left nothing
// open.
func (s *Server) PagerDutyOpen() []PagerDutyAlert {
	var out []PagerDutyAlert
	for _, a := range s.PagerDutyAlerts() {
		if a.Status != "resolved" {
			out = append(out, a)
		}
	}
	return out
}

func removeKey(keys [][2]string, k [2]string) [][2]string {
	out := keys[:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

func pdInvalid(w http.ResponseWriter, errs ...string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"status": "invalid event", "message": "Event object is invalid", "errors": errs,
	})
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
