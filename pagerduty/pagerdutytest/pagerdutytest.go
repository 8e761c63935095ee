// Package pagerdutytest is the loopback fake of the PagerDuty Events API v2 that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, pagerdutytest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// PagerDuty, events.pagerduty.com and events.eu.pagerduty.com: POST
// /v2/enqueue, authenticated by routing_key (32 alphanumerics) in the body;
// event_action trigger, acknowledge or resolve; dedup_key at most 255 and
// required for acknowledge and resolve; on trigger payload.summary (at most
// 1,024), payload.source and payload.severity (critical, error, warning,
// info); the request at most 512 KB. 202 {"status":"success","message":
// "Event processed","dedup_key":…}, a key generated for a trigger without
// one; else 400 {"status":"invalid event","message":"Event object is
// invalid","errors":[…]} listing every problem. A revoked or unexpected key:
// 400 with "Invalid routing key" (undocumented; what has been reported).
// Alerts follow the dedup rules (Fake.Alerts, Fake.Open).
//
// A gzip body is refused (415): only HEC documents compressed requests.
// Reached over plain http://, the host answers 301 to https://.
package pagerdutytest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// PagerDuty Events API v2 limits (CONTRACTS §5).
const (
	pdRoutingKeyLen   = 32        // routing_key: 32 alphanumerics
	pdMaxDedupKey     = 255       // dedup_key
	pdMaxSummaryRunes = 1024      // payload.summary
	pdMaxEventBytes   = 512 << 10 // whole request: 512 KB
)

var pdSeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// Alert is an alert the PagerDuty fake holds open, acknowledged
// or resolved, following the Events API's dedup rules: a trigger with the
// dedup key of an open alert updates it, an acknowledge or resolve with no
// open alert is dropped, and a trigger after a resolve opens a new alert.
type Alert struct {
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
	alerts map[[2]string]*Alert
	order  [][2]string
}

func newPagerDutyState() pagerdutyState {
	return pagerdutyState{alerts: map[[2]string]*Alert{}}
}

// Alerts returns a copy of the alerts the PagerDuty fake holds, in
// the order they were opened.
func (s *Fake) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Alert
	for _, k := range s.pagerduty.order {
		out = append(out, *s.pagerduty.alerts[k])
	}
	return out
}

// Fake is the PagerDuty fake (see the package documentation).
type Fake struct {
	notifytest.Base
	mu        sync.Mutex
	pagerduty pagerdutyState
}

// New returns a PagerDuty fake to pass to notifytest.NewServer.
func New() *Fake {
	return &Fake{Base: notifytest.NewBase(notifytest.PagerDuty), pagerduty: newPagerDutyState()}
}

// Handles takes the US and EU Events API hosts.
func (s *Fake) Handles(host, _ string) bool {
	return host == "events.pagerduty.com" || host == "events.eu.pagerduty.com"
}

// CertNames returns the Events API hosts.
func (s *Fake) CertNames() []string {
	return []string{"events.pagerduty.com", "events.eu.pagerduty.com"}
}

// WriteError answers in the Events API's error shape.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = notifytest.StatusText(status)
	}
	fakekit.WriteJSON(w, status, map[string]any{"status": http.StatusText(status), "message": msg, "errors": []string{msg}})
}

// ServeFake answers an Events API request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	if r.URL.Path != "/v2/enqueue" {
		fakekit.WriteJSON(w, http.StatusNotFound, map[string]any{"status": "Not Found", "message": "Not Found", "errors": []string{"unknown path " + r.URL.Path}})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fakekit.WriteJSON(w, http.StatusMethodNotAllowed, map[string]any{"status": "Method Not Allowed", "message": "Method Not Allowed", "errors": []string{"use POST"}})
		return
	}
	if len(req.Body) > pdMaxEventBytes {
		pdInvalid(w, "Event object is too large (the limit is 512 KB)")
		return
	}
	ev, err := fakekit.DecodeObject(req.Body)
	if err != nil {
		pdInvalid(w, "Could not parse the request body as a JSON object")
		return
	}
	var errs []string
	key, _ := fakekit.Str(ev, "routing_key")
	switch {
	case key == "":
		errs = append(errs, "'routing_key' is missing or blank")
	case len(key) != pdRoutingKeyLen:
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	case !isAlnum(key):
		errs = append(errs, "'routing_key' is invalid (must be alphanumeric)")
	}
	action, _ := fakekit.Str(ev, "event_action")
	switch action {
	case "trigger", "acknowledge", "resolve":
	case "":
		errs = append(errs, "'event_action' is missing or blank")
	default:
		errs = append(errs, "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	dedup, hasDedup := fakekit.Str(ev, "dedup_key")
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
		payload, ok := fakekit.Obj(ev, "payload")
		if !ok {
			errs = append(errs, "'payload' is missing or blank")
		} else {
			summary, _ = fakekit.Str(payload, "summary")
			source, _ = fakekit.Str(payload, "source")
			severity, _ = fakekit.Str(payload, "severity")
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
	if s.Server().Credential(notifytest.PagerDuty, key) != notifytest.CredentialOK {
		pdInvalid(w, "Invalid routing key")
		return
	}
	if dedup == "" {
		dedup = randomHex(16) // PagerDuty generates a key for a trigger without one
	}
	s.pagerdutyApply(key, action, dedup, summary, source, severity)
	fakekit.WriteJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": dedup})
}

// pagerdutyApply moves the alert state the way the Events API's dedup
// rules do.
func (s *Fake) pagerdutyApply(key, action, dedup, summary, source, severity string) {
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
		s.pagerduty.alerts[id] = &Alert{DedupKey: dedup, Summary: summary, Source: source,
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

// Open returns the alerts the PagerDuty fake holds triggered or
// acknowledged, so that a test can assert that a resolution left nothing
// open.
func (s *Fake) Open() []Alert {
	var out []Alert
	for _, a := range s.Alerts() {
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
	fakekit.WriteJSON(w, http.StatusBadRequest, map[string]any{
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
