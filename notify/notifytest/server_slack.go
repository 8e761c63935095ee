package notifytest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
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

// serveSlack is the Slack fake (see Destination).
func (s *Server) serveSlack(w http.ResponseWriter, req *fakeRequest) {
	r := req.r
	if !slackHookPath.MatchString(r.URL.Path) {
		writeText(w, http.StatusNotFound, "no_service")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeText(w, http.StatusMethodNotAllowed, "invalid_method")
		return
	}
	switch s.checkCredential(Slack, slackHookURLBase+r.URL.Path) {
	case credRevoked:
		writeText(w, http.StatusForbidden, "invalid_token")
		return
	case credUnknown:
		writeText(w, http.StatusNotFound, "no_service")
		return
	}
	body := req.body
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeText(w, http.StatusBadRequest, slackInvalidPayload)
			return
		}
		body = []byte(form.Get("payload"))
	}
	msg, err := decodeObject(body)
	if err != nil {
		writeText(w, http.StatusBadRequest, slackInvalidPayload)
		return
	}
	if text, ok := msg["text"]; ok {
		if _, isString := text.(string); !isString {
			writeText(w, http.StatusBadRequest, slackInvalidPayload)
			return
		}
	}
	if text, _ := str(msg, "text"); strings.TrimSpace(text) == "" {
		writeText(w, http.StatusBadRequest, slackNoText)
		return
	}
	if code := checkSlackBlocks(msg); code != "" {
		writeText(w, http.StatusBadRequest, code)
		return
	}
	writeText(w, http.StatusOK, "ok")
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
		typ, _ := str(block, "type")
		if typ == "" {
			return slackInvalidBlocks
		}
		if id, ok := str(block, "block_id"); ok && utf8.RuneCountInString(id) > slackMaxBlockIDRunes {
			return slackInvalidBlocks
		}
		switch typ {
		case "header":
			t, ok := obj(block, "text")
			if !ok || !slackTextFits(t, slackMaxHeaderText) {
				return slackInvalidBlocks
			}
			if kind, _ := str(t, "type"); kind != "plain_text" {
				return slackInvalidBlocks
			}
		case "section":
			t, hasText := obj(block, "text")
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
	kind, _ := str(t, "type")
	text, _ := str(t, "text")
	return (kind == "plain_text" || kind == "mrkdwn") && text != "" && utf8.RuneCountInString(text) <= max
}
