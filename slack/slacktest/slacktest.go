// Package slacktest is the loopback fake of Slack incoming webhooks that a
// notifytest.Server routes to:
//
//	srv := notifytest.NewServer(t, slacktest.New())
//
// The fake checks a request as the vendor documents it and answers with
// the vendor's status and body. Credentials below are "any well-formed
// one" until notifytest.Server.ExpectCredentials lists the accepted ones.
//
// Slack, hooks.slack.com: POST /services/T…/B…/<secret> with a JSON message
// (or payload=<json>). 200 "ok". No text or a blank one: 400 no_text (Slack
// takes blocks alone; the fake insists on the notification text, which the
// library always sets). Not a JSON object: 400 invalid_payload. Over Block
// Kit's limits (50 blocks, header 150, section 3,000, 10 fields of 2,000):
// 400 invalid_blocks; over 100 attachments: 400 too_many_attachments. A path
// that is not a hook, or a hook not expected: 404 no_service; a revoked hook:
// 403 invalid_token. A text over 40,000 is accepted, as Slack truncates it.
//
// A gzip body is refused (415): only HEC documents compressed requests.
// Reached over plain http://, the host answers 301 to https://.
package slacktest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Slack incoming-webhook limits (CONTRACTS §1, Block Kit reference).
const (
	slackMaxBlocks        = 50   // blocks per message
	slackMaxAttachments   = 100  // attachments per message
	slackMaxSectionText   = 3000 // section text: "must be less than 3001 characters"
	slackMaxHeaderText    = 150  // header plain_text
	slackMaxSectionFields = 10   // section fields
	slackMaxFieldText     = 2000 // each section field
	slackMaxBlockIDRunes  = 255  // block_id
)

// Slack's error bodies (CONTRACTS §1).
const (
	slackInvalidPayload    = "invalid_payload"
	slackNoText            = "no_text"
	slackInvalidBlocks     = "invalid_blocks"
	slackTooManyAttachment = "too_many_attachments"
)

// slackHookURLBase is what a hook's path is appended to to form the
// credential ExpectCredentials and RevokeCredentials take.
const slackHookURLBase = "https://hooks.slack.com"

// slackHookPath is the shape of an incoming-webhook path (trufflehog's
// validation pattern, CONTRACTS §1).
var slackHookPath = regexp.MustCompile(`^/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{23,25}$`)

// Fake is the Slack fake (see the package documentation).
type Fake struct {
	notifytest.Base
}

// New returns a Slack fake to pass to notifytest.NewServer.
func New() *Fake { return &Fake{Base: notifytest.NewBase(notifytest.Slack)} }

// Handles takes hooks.slack.com.
func (s *Fake) Handles(host, _ string) bool { return host == "hooks.slack.com" }

// CertNames returns hooks.slack.com.
func (s *Fake) CertNames() []string { return []string{"hooks.slack.com"} }

// WriteError answers Slack's plain-text error code; without msg, the code
// Slack answers for status.
func (s *Fake) WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = slackDefaultMessage(status)
	}
	fakekit.WriteText(w, status, msg)
}

// slackDefaultMessage is Slack's usual error code for a status.
func slackDefaultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusForbidden:
		return "invalid_token"
	case http.StatusNotFound:
		return "no_service"
	case http.StatusGone:
		return "channel_is_archived"
	case http.StatusInternalServerError:
		return "rollup_error"
	case http.StatusBadRequest:
		return slackInvalidPayload
	}
	return notifytest.StatusText(status)
}

// ServeFake answers an incoming-webhook request.
func (s *Fake) ServeFake(w http.ResponseWriter, req *notifytest.Request) {
	r := req.HTTP
	if !slackHookPath.MatchString(r.URL.Path) {
		fakekit.WriteText(w, http.StatusNotFound, "no_service")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fakekit.WriteText(w, http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	switch s.Server().Credential(notifytest.Slack, slackHookURLBase+r.URL.Path) {
	case notifytest.CredentialRevoked:
		fakekit.WriteText(w, http.StatusForbidden, "invalid_token")
		return
	case notifytest.CredentialUnknown:
		fakekit.WriteText(w, http.StatusNotFound, "no_service")
		return
	}
	body := req.Body
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fakekit.WriteText(w, http.StatusBadRequest, slackInvalidPayload)
			return
		}
		body = []byte(form.Get("payload"))
	}
	msg, err := fakekit.DecodeObject(body)
	if err != nil {
		fakekit.WriteText(w, http.StatusBadRequest, slackInvalidPayload)
		return
	}
	if text, ok := msg["text"]; ok {
		if _, isString := text.(string); !isString {
			fakekit.WriteText(w, http.StatusBadRequest, slackInvalidPayload)
			return
		}
	}
	if text, _ := fakekit.Str(msg, "text"); strings.TrimSpace(text) == "" {
		fakekit.WriteText(w, http.StatusBadRequest, slackNoText)
		return
	}
	if code := checkSlackBlocks(msg); code != "" {
		fakekit.WriteText(w, http.StatusBadRequest, code)
		return
	}
	fakekit.WriteText(w, http.StatusOK, "ok")
}

// checkSlackBlocks returns Slack's error code for blocks or attachments
// over Block Kit's limits, or "".
func checkSlackBlocks(msg map[string]any) string {
	if a, ok := msg["attachments"]; ok {
		list, isList := a.([]any)
		if !isList {
			return slackInvalidPayload
		}
		if len(list) > slackMaxAttachments {
			return slackTooManyAttachment
		}
	}
	raw, ok := msg["blocks"]
	if !ok {
		return ""
	}
	blocks, ok := raw.([]any)
	if !ok || len(blocks) > slackMaxBlocks {
		return slackInvalidBlocks
	}
	for _, b := range blocks {
		block, ok := b.(map[string]any)
		if !ok {
			return slackInvalidBlocks
		}
		typ, _ := fakekit.Str(block, "type")
		if typ == "" {
			return slackInvalidBlocks
		}
		if id, ok := fakekit.Str(block, "block_id"); ok && utf8.RuneCountInString(id) > slackMaxBlockIDRunes {
			return slackInvalidBlocks
		}
		switch typ {
		case "header":
			t, ok := fakekit.Obj(block, "text")
			if !ok || !slackTextFits(t, slackMaxHeaderText) {
				return slackInvalidBlocks
			}
			if kind, _ := fakekit.Str(t, "type"); kind != "plain_text" {
				return slackInvalidBlocks
			}
		case "section":
			t, hasText := fakekit.Obj(block, "text")
			if hasText && !slackTextFits(t, slackMaxSectionText) {
				return slackInvalidBlocks
			}
			fields, hasFields := block["fields"].([]any)
			if !hasText && !hasFields {
				return slackInvalidBlocks // a section needs text or fields
			}
			if len(fields) > slackMaxSectionFields {
				return slackInvalidBlocks
			}
			for _, f := range fields {
				fo, ok := f.(map[string]any)
				if !ok || !slackTextFits(fo, slackMaxFieldText) {
					return slackInvalidBlocks
				}
			}
		}
	}
	return ""
}

// slackTextFits checks a text object: a type and a non-empty text of at
// most max characters.
func slackTextFits(t map[string]any, max int) bool {
	kind, _ := fakekit.Str(t, "type")
	text, _ := fakekit.Str(t, "text")
	return (kind == "plain_text" || kind == "mrkdwn") && text != "" && utf8.RuneCountInString(text) <= max
}
