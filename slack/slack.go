// Package slack delivers Code Defender alerts to a Slack channel through an
// incoming webhook (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
//
// The console's fields are a name, the webhook URL and an optional channel.
// The URL is the only credential, so Config holds it as a notify.Secret:
// Validate checks its form (https://hooks.slack.com/services/T…/B…/…) without
// ever echoing it, and every error and log line is scrubbed of it. Channel
// is optional because only legacy webhooks honour it; a webhook made by a
// Slack app posts to the channel chosen at install time and ignores it.
//
// Send posts one Block Kit message inside an attachment whose colour bar
// follows the Risk (Risk.Color): a header with the risk and the title, the
// description, a section of fields (risk, type, source, time, tags, event
// id), the event's details as further fields, and a button to the console.
// A one-line text ("[CRITICAL] title (source)") is the fallback that
// notifications show. Every string from the event has &, < and > escaped,
// and nothing else, so alert text cannot ping @channel or forge a link.
// Slack's limits are respected with a "…" marker where text is cut: header
// 150, section 3,000, fields 10 per section and 2,000 each, 50 blocks, text
// 40,000, and a 12,000-character budget for all block text; details that do
// not fit are counted in a closing note.
//
// A resolved event (Event.Status = notify.StatusResolved) posts a short
// message marked "[RESOLVED]" with a green bar: the title, the facts that
// identify the alert and the console button, without the description and
// details of the open message. An incoming webhook cannot edit or find an
// earlier message, so there is nothing to close: every resolution is posted.
//
// Test posts one message clearly marked "[TEST]": Slack has no documented
// way to check a webhook without posting (the empty-text probe some tools
// use is undocumented, so it is not relied on). TestReport says what it
// proved: "webhook posted the message", and, when a channel is set, the
// warning "channel honoured", since only legacy webhooks honour it and
// Slack's answer does not say.
//
// Slack answers 200 "ok" and gives no message id; the Receipt's ID is
// Slack's own answer (normally "ok") and its URL is empty. An error answer is
// classified by its status (sender.ClassifyStatus: 429 with Retry-After is
// retryable, 4xx are not) and Slack's error string (channel_not_found,
// no_service, action_prohibited, …) becomes a hint that says what to fix.
//
// Slack allows about one message per second per webhook. A Notifier never
// throttles itself: the caller applies RateLimit and Burst with
// notify.RateLimit, as the example shows.
package slack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// RateLimit is Slack's documented rate for an incoming webhook: about one
// message per second (docs.slack.dev, rate limits). Apply it with
// notify.RateLimit(n, rate.NewLimiter(slack.RateLimit, slack.Burst)).
const RateLimit rate.Limit = 1

// Burst is the burst to use with RateLimit. Slack allows "short bursts" but
// publishes no number, and a webhook that keeps exceeding the limit can be
// disabled, so no burst beyond one message is assumed.
const Burst = 1

// Slack's Block Kit and message limits
// (https://docs.slack.dev/reference/block-kit/blocks,
// https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
const (
	maxTextRunes        = 40000 // message text: truncated by Slack beyond this
	maxBlocks           = 50    // blocks per message
	maxHeaderRunes      = 150   // header block plain_text
	maxSectionRunes     = 3000  // section text ("must be less than 3001 characters")
	maxFieldsPerSection = 10    // section fields
	maxFieldRunes       = 2000  // each section field
	maxButtonTextRunes  = 75    // button plain_text
	maxButtonURLRunes   = 3000  // button url
	// maxBlockTextRunes bounds the text of all blocks together. Slack
	// documents no total, but messages of about 12,000-13,000 characters of
	// block text have been refused (msg_blocks_too_long); a refused alert is
	// lost, so details stop short of it.
	maxBlockTextRunes = 12000
	// maxDetailKeyRunes keeps a long detail name from crowding out its value.
	maxDetailKeyRunes = 200
	// maxAnswerRunes bounds Slack's answer when it becomes Receipt.ID.
	maxAnswerRunes = 64
)

// Notifier sends events to one Slack incoming webhook. It is safe for
// concurrent use.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as slack("name"), never the config
	cfg                 Config
	http                *sender.Sender
	now                 func() time.Time
}

// New validates c and returns a Notifier that posts to its webhook.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		n := &Notifier{cfg: c, http: sender.New(Type, s, c.WebhookURL), now: time.Now}
		n.Shell = shell.HTTP(Type, c.Name, c, n.http, n.TestReport)
		return n, nil
	})
}

// The checks of TestReport.
const (
	checkPosted          = "webhook posted the message"
	checkChannelHonoured = "channel honoured"
)

// TestReport posts one message marked "[TEST]" to the webhook. Slack has no
// documented check that posts nothing, so a working webhook shows the
// message in its channel. Whether Slack honoured Config.Channel cannot be
// told from its answer, so a set channel is a warning.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	_, err := n.post(ctx, "test", n.testEvent())
	if !r.Check(checkPosted, err, "Slack accepted the [TEST] message: the webhook is live and posts to its channel.") {
		if n.cfg.Channel != "" {
			r.Skip(checkChannelHonoured, "The webhook did not accept the message.")
		}
		return r
	}
	if n.cfg.Channel != "" {
		r.Warn(checkChannelHonoured, "Only legacy webhooks honour channel; a webhook made by a Slack app posts to the channel "+
			"chosen when it was installed, and Slack's answer does not say which: look for the [TEST] message in "+
			n.cfg.Channel+".")
	}
	return r
}

// Send posts e as one Block Kit message; a resolved event posts a message
// saying that the alert was resolved. It refuses an invalid event before
// any network call.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	return n.post(ctx, "send", e)
}

func (n *Notifier) post(ctx context.Context, op string, e notify.Event) (notify.Receipt, error) {
	msg := buildMessage(e, n.cfg.Channel)
	resp, err := n.http.Do(ctx, sender.Request{
		Op:      op,
		Method:  http.MethodPost,
		URL:     n.cfg.WebhookURL.Reveal(),
		JSON:    msg,
		Explain: explain,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	if resp.StatusCode != http.StatusOK {
		// Slack answers 200; another 2xx means the URL is not Slack's own.
		return notify.Receipt{}, n.http.Status(op, resp.StatusCode, resp.Header,
			sender.Explanation{Message: "Slack answers 200 ok; is the URL Slack's own?", Kind: notify.ErrRejected})
	}
	return n.http.Receipt(text.Truncate(string(resp.Body), maxAnswerRunes), ""), nil
}

// testEvent is what Test posts: a real message, clearly marked as a test.
func (n *Notifier) testEvent() notify.Event {
	return notify.Event{
		ID:    "connection-test",
		Type:  notify.EventTest,
		Title: "Code Defender connection test",
		Description: fmt.Sprintf("This is a test message from the Code Defender integration %q. "+
			"It shows that alerts reach this channel; no action is needed.", n.Name()),
		Risk: notify.RiskInfo,
		Time: n.now().UTC().Truncate(time.Second),
	}
}

// slackHints says what to do about each error string Slack documents for
// incoming webhooks
// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks). The status
// decides the class; the string only chooses the advice.
var slackHints = map[string]string{
	"invalid_payload":       "Slack could not read the message; please report this with the event",
	"invalid_blocks":        "Slack refused the message's blocks; please report this with the event",
	"invalid_blocks_format": "Slack refused the message's blocks; please report this with the event",
	"msg_blocks_too_long":   "the message is longer than Slack accepts; please report this with the event",
	"no_text":               "Slack saw no text in the message; please report this with the event",
	"missing_text":          "Slack saw no text in the message; please report this with the event",
	"missing_text_or_fallback_or_attachments": "Slack saw no text in the message; please report this with the event",
	"too_many_attachments":                    "Slack refused the number of attachments; please report this with the event",
	"user_not_found":                          "the channel names a user that does not exist: set channel to an existing #channel",
	"channel_not_found":                       "the channel does not exist or the webhook may not post to it: check channel, or create a new webhook URL",
	"channel_is_archived":                     "the channel is archived: unarchive it, or create a webhook URL for another channel",
	"action_prohibited":                       "a Slack admin has restricted posting to this channel: ask them, or use another channel",
	"posting_to_general_channel_denied":       "only admins may post to this workspace's general channel: use another channel",
	"invalid_token":                           "the webhook URL has been revoked: create a new one on the Slack app's Incoming Webhooks page",
	"no_service":                              "the webhook no longer exists (removed, or its app uninstalled): create a new webhook URL",
	"no_service_id":                           "the webhook no longer exists (removed, or its app uninstalled): create a new webhook URL",
	"no_team":                                 "the Slack workspace no longer exists: create a webhook URL in an active workspace",
	"team_disabled":                           "the Slack workspace is disabled: create a webhook URL in an active workspace",
	"rollup_error":                            "Slack had an internal error; a retry may succeed",
}

// explain reads Slack's error answer once: its message is the body (the
// default reading), and Slack's own error string chooses the hint; the
// status decides the class.
func explain(r *sender.Response) sender.Explanation {
	return sender.Explanation{Hint: slackHints[strings.TrimSpace(string(r.Body))]}
}

// Wire types: only the parts of Slack's message format this package uses.
type message struct {
	Text        string       `json:"text"`
	Channel     string       `json:"channel,omitempty"`
	Attachments []attachment `json:"attachments"`
}

// attachment wraps the blocks so that the message gets a colour bar, which
// top-level blocks cannot have.
type attachment struct {
	Color  string  `json:"color"`
	Blocks []block `json:"blocks"`
}

type block struct {
	Type   string       `json:"type"`
	Text   *textObject  `json:"text,omitempty"`
	Fields []textObject `json:"fields,omitempty"`
	// Elements holds buttons in an actions block and text objects in a
	// context block.
	Elements []any `json:"elements,omitempty"`
}

type textObject struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

type button struct {
	Type string     `json:"type"` // button
	Text textObject `json:"text"`
	URL  string     `json:"url"`
}

func plain(s string) *textObject  { return &textObject{Type: "plain_text", Text: s} }
func mrkdwn(s string) *textObject { return &textObject{Type: "mrkdwn", Text: s} }

// buildMessage maps an event onto a Slack message within Slack's limits.
func buildMessage(e notify.Event, channel string) message {
	// Room for every block the message can have, so the list never grows:
	// header, description, summary, the details' sections, note, button.
	detailSections := (len(e.Details) + maxFieldsPerSection - 1) / maxFieldsPerSection
	b := &blocks{list: make([]block, 0, min(5+detailSections, maxBlocks))}

	headline := prefix(e) + " " + e.Title
	color := e.Risk.Color()
	b.add(block{Type: "header", Text: plain(fit(text.StripCRLF(headline), maxHeaderRunes))})
	switch {
	case e.Status.IsResolved():
		// The resolution says so and repeats the facts that identify the
		// alert; the description and details were in the open message.
		color = resolvedColor
		b.add(block{Type: "section", Text: mrkdwn(resolvedText)})
	case strings.TrimSpace(e.Description) != "":
		b.add(block{Type: "section", Text: mrkdwn(fit(e.Description, maxSectionRunes))})
	}
	b.add(block{Type: "section", Fields: summaryFields(e)})

	// The button is our own and always fits; reserve its block and one
	// for the note on details that do not fit.
	href, hasButton := buttonURL(e.URL)
	var actions block
	if hasButton {
		actions = block{Type: "actions", Elements: []any{button{
			Type: "button",
			Text: textObject{Type: "plain_text", Text: fit("Open in Code Defender", maxButtonTextRunes)},
			URL:  href,
		}}}
		b.reserve(actions)
	}
	if !e.Status.IsResolved() {
		addDetails(b, e.Details)
	}
	if hasButton {
		b.addReserved(actions)
	}

	summary := headline
	if e.Source != "" {
		summary = headline + " (" + e.Source + ")"
	}
	return message{
		Text:        fit(text.StripCRLF(summary), maxTextRunes),
		Channel:     channel,
		Attachments: []attachment{{Color: color, Blocks: b.list}},
	}
}

// prefix marks a test message as one, a resolution as one, and any other
// message with its risk.
func prefix(e notify.Event) string {
	switch {
	case e.Type == notify.EventTest:
		return "[TEST]"
	case e.Status.IsResolved():
		return "[RESOLVED]"
	}
	return "[" + e.Risk.Label() + "]"
}

// The colour bar and the sentence of a resolved event's message: Slack's
// own green, so that a resolution stands apart from every risk's colour.
const (
	resolvedColor = "#2EB67D"
	resolvedText  = "This alert was resolved in Code Defender."
)

var typeLabels = map[notify.EventType]string{
	notify.EventIncident:       "Incident",
	notify.EventPCIScopeChange: "PCI scope change",
	notify.EventClientSideRisk: "Client-side risk",
	notify.EventTest:           "Test",
}

// summaryFields is the section of fixed facts: at most 6 fields, well within
// the section's 10.
func summaryFields(e notify.Event) []textObject {
	fs := make([]textObject, 0, 6)
	fs = append(fs, field("Risk", e.Risk.Label()), field("Type", typeLabels[e.Type]))
	if e.Source != "" {
		fs = append(fs, field("Source", e.Source))
	}
	// Slack shows the time in each reader's own time zone; the text after
	// '|' is what clients that cannot do so show.
	var buf [128]byte
	t := append(buf[:0], "*Time*\n<!date^"...)
	t = strconv.AppendInt(t, e.Time.Unix(), 10)
	t = append(t, "^{date_short_pretty} {time_secs}|"...)
	t = e.Time.UTC().AppendFormat(t, time.RFC3339)
	t = append(t, '>')
	fs = append(fs, textObject{Type: "mrkdwn", Text: string(t)})
	if len(e.Tags) > 0 {
		fs = append(fs, field("Tags", strings.Join(e.Tags, ", ")))
	}
	return append(fs, field("Event ID", e.ID))
}

// field is a mrkdwn field "*label*\nvalue" of at most maxFieldRunes, the
// label and value escaped.
func field(label, value string) textObject {
	label = fit(text.StripCRLF(label), maxDetailKeyRunes)
	// The label's runes, and three for "*", "*" and "\n".
	value = fit(value, maxFieldRunes-utf8.RuneCountInString(label)-3)
	return textObject{Type: "mrkdwn", Text: "*" + label + "*\n" + value}
}

// addDetails adds the event's details, sorted by name, as sections of at
// most 10 fields, while the block count and the text budget allow, and ends
// with a note counting the details left out.
func addDetails(b *blocks, details map[string]string) {
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	const noteReserve = 100 // runes kept for the closing note
	// No message holds more fields than maxBlocks sections of them.
	fields := make([]textObject, 0, min(len(keys), maxBlocks*maxFieldsPerSection))
	chars, sections := b.chars, 0
	for i, k := range keys {
		f := field(k, details[k])
		cost := utf8.RuneCountInString(f.Text)
		opens := len(fields)%maxFieldsPerSection == 0
		blocksAfter := b.count() + sections + 1 // + the note's block
		if opens {
			blocksAfter++
		}
		if chars+cost > maxBlockTextRunes-noteReserve || blocksAfter > maxBlocks {
			b.addSections(fields)
			left := len(keys) - i
			note := fmt.Sprintf("%d more detail%s not shown: Slack's message size limits", left, plural(left))
			b.add(block{Type: "context", Elements: []any{*mrkdwn(note)}})
			return
		}
		if opens {
			sections++
		}
		fields = append(fields, f)
		chars += cost
	}
	b.addSections(fields)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// buttonURL returns the console link for a button, or false when it cannot
// be one. A URL is not text Slack parses, so it is not entity-escaped;
// characters that are never legal in a URL are percent-encoded instead.
func buttonURL(raw string) (string, bool) {
	if raw == "" {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	href := urlEscaper.Replace(raw)
	if utf8.RuneCountInString(href) > maxButtonURLRunes {
		return "", false
	}
	return href, true
}

// urlEscaper percent-encodes what may never stand in a URL Slack reads.
var urlEscaper = strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20", `"`, "%22")

// blocks collects a message's blocks, counting them and their text, with
// room kept for a block that must come last.
type blocks struct {
	list     []block
	reserved int // blocks promised by reserve, not yet added
	chars    int // runes of text in the blocks, reserved ones included
}

func (b *blocks) add(bl block) {
	b.list = append(b.list, bl)
	b.chars += blockChars(bl)
}

// reserve counts a block that addReserved will add later.
func (b *blocks) reserve(bl block) {
	b.reserved++
	b.chars += blockChars(bl)
}

// addReserved adds a block counted earlier by reserve.
func (b *blocks) addReserved(bl block) {
	b.reserved--
	b.list = append(b.list, bl)
}

// addSections adds fields as sections of at most maxFieldsPerSection.
func (b *blocks) addSections(fields []textObject) {
	for len(fields) > 0 {
		n := min(len(fields), maxFieldsPerSection)
		b.add(block{Type: "section", Fields: fields[:n:n]})
		fields = fields[n:]
	}
}

func (b *blocks) count() int { return len(b.list) + b.reserved }

func blockChars(bl block) int {
	n := 0
	if bl.Text != nil {
		n += utf8.RuneCountInString(bl.Text.Text)
	}
	for _, f := range bl.Fields {
		n += utf8.RuneCountInString(f.Text)
	}
	for _, el := range bl.Elements {
		switch el := el.(type) {
		case textObject:
			n += utf8.RuneCountInString(el.Text)
		case button:
			n += utf8.RuneCountInString(el.Text.Text)
		}
	}
	return n
}

// escaper turns Slack's three control characters into the entities Slack
// decodes; Slack asks that nothing else be escaped.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// fit escapes s for Slack and cuts the result to at most max runes, the
// marker included, on a rune boundary and never inside an entity.
func fit(s string, max int) string {
	out := escaper.Replace(s)
	if utf8.RuneCountInString(out) <= max {
		return out
	}
	if max <= 0 {
		return ""
	}
	var sb strings.Builder
	room := max - utf8.RuneCountInString(text.TruncationMarker)
	for _, r := range s {
		piece := escaper.Replace(string(r))
		w := utf8.RuneCountInString(piece)
		if w > room {
			break
		}
		sb.WriteString(piece)
		room -= w
	}
	sb.WriteString(text.TruncationMarker)
	return sb.String()
}
