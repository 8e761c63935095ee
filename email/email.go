// Package email delivers Code Defender alerts as email, submitted with
// github.com/wneessen/go-mail to the operator's SMTP relay.
//
// A Config is what the console stores: a name and the recipients ("to", up
// to MaxRecipients). The relay (host, port, username, password, TLS mode)
// and the From address belong to whoever runs the library, and are given
// once for every email integration with WithRelay (ParseRelayURL reads one
// from smtp://, smtps:// or smtp+plain:// URLs); New without one is
// ErrNoRelay. The TLS mode follows the port: 587 is STARTTLS (RFC 6409),
// 465 is implicit TLS (RFC 8314), an empty mode is implicit on 465 and
// STARTTLS elsewhere, and STARTTLS fails closed when the server does not
// offer it. Plain text (TLSNone) is accepted only for a loopback host. AUTH
// PLAIN or LOGIN, the ones the server offers, are sent only inside TLS (or
// to that loopback host).
//
// Send writes one multipart/alternative message per event: a plain-text part
// and then an HTML part with a header coloured by risk, the title,
// description, source, time, a table of the details and a button to the
// console; every event string is HTML-escaped. The subject is
// "[<RISK>] <title>" (Risk.Label: CRITICAL, HIGH, MEDIUM, LOW, INFO) on one
// line, RFC 2047-encoded when it is not ASCII. The Message-ID is derived
// from Event.ID ("<cd-<id>@<from's domain>>"), so a resent alert carries the
// same one and mail clients thread or fold it with the first; the Receipt's
// ID is that Message-ID, returned once the server has accepted the message.
//
// A resolved event (notify.StatusResolved) is a reply to the open event's
// mail, threaded without any state kept: its Message-ID is
// "<cd-<id>.resolved@<from's domain>>", In-Reply-To and References name the
// open mail's (derived from the same event ID), the subject is the open
// one's after "Re: ", and the body says the alert was resolved, with a green
// header. Every mail carries X-CodeDefender-Status: open or resolved.
//
// Test connects, negotiates TLS as configured, authenticates, and asks the
// server to accept the sender (MAIL FROM) and each recipient (RCPT TO), then
// resets and quits: no mail is sent. Many servers accept any recipient at
// that stage, so a passing Test proves the connection and the credentials
// more than the addresses; a refused recipient is an error that names it.
// TestReport says what each step proved, and offers an address that does
// not exist to learn whether the relay checks recipients at all: one that
// accepts it is a warning (notify.CheckWarning), not a failure.
//
// Errors are *notify.Error values. A 4xx reply is retryable and a 5xx is
// not; 530, 534 and 535 wrap notify.ErrUnauthorized, other refusals
// notify.ErrRejected, and network and TLS failures are classified as for
// every destination (notify.NetworkError). The server's reply text is kept,
// with the password scrubbed from it.
//
// The caller's context bounds the whole exchange (connect, TLS, AUTH, the
// message, QUIT), and so does the timeout (Relay.Timeout, else
// notify.WithTimeout). Every connection goes through the library's network
// guard (guard.GuardControl, checked on the resolved address): a loopback
// or private SMTP host is refused unless New is given
// notify.WithAllowPrivateNetworks. notify.WithHTTPClient does not apply;
// notify.WithUserAgent sets the message's User-Agent and X-Mailer headers;
// WithTLSConfig adds a private CA or a client certificate.
//
// SMTP: RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321); the library:
// https://pkg.go.dev/github.com/wneessen/go-mail.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Notifier sends events as email through one SMTP server. It is safe for
// concurrent use: every Test and Send opens its own connection.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as email("name"), never the config

	cfg          Config
	relay        Relay
	from         *mail.Address
	to           []*mail.Address
	host         string
	port         int
	mode         TLSMode
	timeout      time.Duration
	tlsConfig    *tls.Config
	allowPrivate bool
	userAgent    string
	logger       *slog.Logger
	errs         *sender.Errors
	closing      sender.Closing
}

// errNotBuilt is returned by a Notifier that New did not make.
var errNotBuilt = errors.New("email: a Notifier must be built with New")

type tlsConfigKey struct{}

// WithTLSConfig makes the notifier verify the server with c (for example a
// private CA in RootCAs) and present c's client certificate, for both
// STARTTLS and implicit TLS. ServerName defaults to the relay's host and the minimum
// version is raised to TLS 1.2. The notifier keeps a copy of c.
func WithTLSConfig(c *tls.Config) notify.Option {
	return func(s *settings.Settings) {
		if c != nil {
			s.SetExtra(tlsConfigKey{}, c.Clone())
		}
	}
}

// New validates c and the relay that opts must name (WithRelay), and
// returns a Notifier. Without a relay it returns ErrNoRelay; a bad relay is
// a *notify.ValidationError naming relay.* fields. A relay host that is a
// loopback or private IP address, or "localhost", is refused unless opts
// include notify.WithAllowPrivateNetworks; a DNS name is checked on the
// address it resolves to, at dial time.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		r, ok := settings.Lookup[Relay](s, relayKey{})
		if !ok {
			return nil, ErrNoRelay
		}
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if msg := hostPolicy(r.Host, s.AllowPrivateNetworks); msg != "" {
			return nil, &notify.ValidationError{Fields: []notify.FieldError{{Field: fieldHost, Message: msg}}}
		}

		from, _ := parseAddress(r.From)
		to := make([]*mail.Address, len(c.To))
		for i, raw := range c.To {
			to[i], _ = parseAddress(raw)
		}
		port, mode := r.effective()
		timeout := s.Timeout
		if r.Timeout > 0 {
			timeout = r.Timeout
		}

		tlsConfig := &tls.Config{}
		if tc, ok := settings.Lookup[*tls.Config](s, tlsConfigKey{}); ok {
			tlsConfig = tc.Clone()
		}
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = strings.TrimSuffix(r.Host, ".")
		}
		if tlsConfig.MinVersion < tls.VersionTLS12 {
			tlsConfig.MinVersion = tls.VersionTLS12
		}

		n := &Notifier{
			cfg:          c,
			relay:        r,
			from:         from,
			to:           to,
			host:         r.Host,
			port:         port,
			mode:         mode,
			timeout:      timeout,
			tlsConfig:    tlsConfig,
			allowPrivate: s.AllowPrivateNetworks,
			userAgent:    s.UserAgent,
			logger:       s.Logger,
			errs:         sender.NewErrors(Type, secretsOf(r.Username, r.Password)...),
		}
		// Every Test and Send opens and closes its own connection: Close has
		// nothing to release, and only makes later calls fail.
		n.Shell = shell.New(Type, c.Name, c, n.TestReport, func() error { return n.closing.Close(nil) })
		return n, nil
	})
}

// hostPolicy applies the network guard to a host New can judge without a
// DNS lookup, and says why it is refused ("" when it is not).
func hostPolicy(host string, allowPrivate bool) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := guard.CheckIP(ip, allowPrivate); err != nil {
			return err.Error()
		}
		return ""
	}
	if isLoopbackHost(host) && !allowPrivate {
		return "is a loopback host, refused by the network guard (use notify.WithAllowPrivateNetworks for a relay on this machine)"
	}
	return ""
}

// secretsOf lists the password in every form it travels in, to be
// scrubbed from every error and log line: as is, base64 on its own (AUTH
// LOGIN) and inside the AUTH PLAIN response, which a confused server may
// echo back.
func secretsOf(user string, password notify.Secret) []notify.Secret {
	if password.IsZero() {
		return nil
	}
	pw := password.Reveal()
	return []notify.Secret{password,
		notify.Secret(base64.StdEncoding.EncodeToString([]byte(pw))),
		notify.Secret(base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw)))}
}

// Send delivers e as one email to every recipient and returns its
// Message-ID as the Receipt's ID once the server has accepted it. An invalid
// event is refused before any connection is made.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if n == nil || n.from == nil {
		return notify.Receipt{}, errNotBuilt
	}
	if err := n.closing.Closed(n.errs, "send"); err != nil {
		return notify.Receipt{}, err
	}
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err
	}
	msg, messageID, err := n.message(e, time.Now())
	if err != nil {
		return notify.Receipt{}, &notify.Error{Integration: Type, Op: "send", Kind: notify.ErrRejected,
			Message: n.errs.Clean("cannot build the message: " + err.Error())}
	}

	x, done := n.begin(ctx, "send")
	defer done()

	c, err := x.client()
	if err != nil {
		return notify.Receipt{}, x.fail(err)
	}
	// This is DialAndSendWithContext taken apart: that joins a failed QUIT
	// to the result, which would report an alert the server had already
	// accepted as failed, and a retry would mail it twice.
	sc, err := c.DialToSMTPClientWithContext(x.ctx)
	if err != nil {
		return notify.Receipt{}, x.fail(err)
	}
	x.stage = stageMailFrom
	if err := c.SendWithSMTPClient(sc, msg); err != nil && !msg.IsDelivered() {
		return notify.Receipt{}, x.fail(err)
	} else if err != nil {
		x.debug("email: RSET after the message failed", err)
	}
	x.stage = stageQuit
	if err := c.CloseWithSMTPClient(sc); err != nil {
		x.debug("email: QUIT after the message failed", err)
	}
	x.logger().DebugContext(ctx, "email: sent", append(x.logAttrs(), "message_id", messageID,
		"server_response", n.errs.Clean(msg.ServerResponse()))...)
	return notify.Receipt{ID: messageID}, nil
}

// The stages of an exchange, named as the SMTP commands they send, for
// errors and logs.
const (
	stageConnect   = "connect"
	stageHandshake = "greeting, EHLO and TLS"
	stageTLS       = "TLS"
	stageAuth      = "AUTH"
	stageMailFrom  = "MAIL FROM"
	stageRcptTo    = "RCPT TO"
	stageData      = "DATA"
	stageReset     = "RSET"
	stageQuit      = "QUIT"
	stageNoop      = "NOOP"
)

// exchange is one connection's worth of SMTP: the context that bounds it,
// the stage it reached, and the connection to close when it is over.
type exchange struct {
	n     *Notifier
	ctx   context.Context
	op    string
	stage string
	start time.Time
	raw   net.Conn
	conn  *ctxConn
	stop  func() bool
	mech  string // the AUTH mechanism chosen, "" before AUTH
}

// begin starts an exchange bounded by ctx and the notifier's timeout. The
// returned func releases everything it holds.
func (n *Notifier) begin(ctx context.Context, op string) (*exchange, func()) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	x := &exchange{n: n, ctx: ctx, op: op, stage: stageConnect, start: time.Now()}
	return x, func() {
		if x.stop != nil {
			x.stop()
		}
		if x.raw != nil {
			// go-mail leaves the connection open when the greeting, TLS or
			// AUTH fails, and after a failed QUIT.
			_ = x.raw.Close()
		}
		cancel()
	}
}

// client returns a go-mail Client for one exchange: it dials through x.dial
// (the guard, the context, implicit TLS) and never falls back to another
// port or to plain text.
func (x *exchange) client() (*gomail.Client, error) {
	n := x.n
	opts := []gomail.Option{
		// An explicit port turns off go-mail's port fallback (to 25 in
		// plain text for TLSOpportunistic), which is why the
		// WithTLSPortPolicy and WithSSLPort variants are not used.
		gomail.WithPort(n.port),
		gomail.WithTimeout(n.timeout),
		gomail.WithDialContextFunc(x.dial),
		gomail.WithTLSConfig(n.tlsConfig),
	}
	switch n.mode {
	case TLSImplicit:
		// With a dial function of its own go-mail leaves implicit TLS to
		// it: x.dial does the handshake.
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if n.relay.Username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&plainOrLogin{x: x}))
	}
	return gomail.NewClient(n.host, opts...)
}

// dial connects through the network guard, ties the connection to the
// exchange's context, and does the handshake for implicit TLS. go-mail's
// address is ignored: it formats host:port without the brackets an IPv6
// address needs.
func (x *exchange) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	x.stage = stageConnect
	d := net.Dialer{Control: guard.GuardControl(x.n.allowPrivate)}
	raw, err := d.DialContext(ctx, network, net.JoinHostPort(x.n.host, strconv.Itoa(x.n.port)))
	if err != nil {
		return nil, err
	}
	x.raw = raw
	// go-mail bounds each step with its own deadlines and uses the context
	// only to dial; closing the connection when the context ends is what
	// makes cancellation reach TLS, AUTH and DATA too.
	x.stop = context.AfterFunc(x.ctx, func() { _ = raw.Close() })
	x.conn = newCtxConn(x.ctx, raw)
	x.conn.plain = x.n.mode != TLSImplicit
	x.stage = stageHandshake
	if x.n.mode != TLSImplicit {
		return x.conn, nil
	}
	x.stage = stageTLS
	tc := tls.Client(x.conn, x.n.tlsConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	x.stage = stageHandshake
	// A *tls.Conn, not a wrapper: go-smtp's client tells TLS by its type.
	return tc, nil
}

// ctxConn keeps every deadline go-mail sets within the exchange's context,
// so that no step outlives it, and notes whether the server said anything.
type ctxConn struct {
	net.Conn
	ctx      context.Context
	deadline time.Time
	heard    atomic.Bool
	// startTLS is set once the client has sent STARTTLS: what fails after
	// it is the TLS handshake (or the server's answer to it).
	startTLS atomic.Bool

	// Read alone uses these: the bytes read so far, the length of the
	// line being read, and whether the connection carries plain text
	// (not implicit TLS).
	read  int
	line  int
	plain bool
}

func newCtxConn(ctx context.Context, c net.Conn) *ctxConn {
	cc := &ctxConn{Conn: c, ctx: ctx}
	cc.deadline, _ = ctx.Deadline() // always set: begin adds the timeout
	_ = c.SetDeadline(cc.deadline)
	return cc
}

// longAgo is a deadline that has passed: it fails the next read or write.
var longAgo = time.Unix(1, 0)

func (c *ctxConn) clamp(t time.Time) time.Time {
	switch {
	case c.ctx.Err() != nil:
		return longAgo
	case t.IsZero() || (!c.deadline.IsZero() && t.After(c.deadline)):
		return c.deadline
	}
	return t
}

// SetDeadline sets t, or the context's deadline when that comes first.
func (c *ctxConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

// SetReadDeadline sets t, or the context's deadline when that comes first.
func (c *ctxConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

// SetWriteDeadline sets t, or the context's deadline when that comes first.
func (c *ctxConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

// Bounds on what one exchange reads from the server. SMTP replies are
// short (RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its
// CRLF), so a server that goes on and on is broken or is not an SMTP
// server, and must not grow the heap without limit: textproto buffers a
// line until its end.
const (
	// maxReplyLine is eight times the RFC's line, for servers that exceed
	// it a little (long EHLO keywords, chatty greetings).
	maxReplyLine = 4096
	// maxSessionBytes bounds everything one exchange reads, TLS records
	// included (a certificate chain is a few KiB to tens of KiB).
	maxSessionBytes = 1 << 20
)

// readLimitError is a server that sent more than the bounds allow.
type readLimitError struct{ what string }

func (e *readLimitError) Error() string {
	return "the server sent " + e.what + ": it is not an SMTP server, or it is broken"
}

// Read reads from the connection, notes that the server spoke, and holds
// the server to the read bounds: maxSessionBytes in all, and maxReplyLine
// per line while the session is in plain text (the line is not visible
// under TLS, where the total bounds it).
func (c *ctxConn) Read(p []byte) (int, error) {
	left := maxSessionBytes - c.read
	if left <= 0 {
		return 0, &readLimitError{what: fmt.Sprintf("more than %d bytes in one session", maxSessionBytes)}
	}
	if len(p) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.heard.Store(true)
	}
	c.read += n
	if c.plain && !c.startTLS.Load() {
		for _, b := range p[:n] {
			c.line++
			if b == '\n' {
				c.line = 0
			}
		}
		if c.line > maxReplyLine {
			return 0, &readLimitError{what: fmt.Sprintf("a reply line longer than %d bytes "+
				"(RFC 5321 allows 512)", maxReplyLine)}
		}
	}
	return n, err
}

// Write writes to the connection and notes when the client asks for
// STARTTLS. go-mail sends every command in one write, and after STARTTLS
// what passes here is encrypted, so the prefix is never seen by mistake.
func (c *ctxConn) Write(p []byte) (int, error) {
	if !c.startTLS.Load() && bytes.HasPrefix(p, []byte("STARTTLS")) {
		c.startTLS.Store(true)
	}
	return c.Conn.Write(p)
}

// plainOrLogin authenticates with PLAIN, or LOGIN when the server offers
// only that (some Exchange servers), and refuses to send the password
// outside TLS unless the configuration asked for plain text to a loopback
// host. It chooses from the mechanisms the server offers on the connection
// as it is by then (after STARTTLS).
type plainOrLogin struct {
	x    *exchange
	auth smtp.Auth
}

// mechanism is the AUTH mechanism an exchange chose, for its report.
func (x *exchange) mechanism() string { return x.mech }

// errAuthNeedsTLS and errNoAuthMechanism are refusals of ours, before any
// credential is sent.
var (
	errAuthNeedsTLS    = errors.New("the connection is not encrypted, so the password is not sent")
	errNoAuthMechanism = errors.New("the server offers neither AUTH PLAIN nor AUTH LOGIN")
)

// Start picks the mechanism and starts it; see the type's doc.
func (a *plainOrLogin) Start(si *smtp.ServerInfo) (string, []byte, error) {
	a.x.stage = stageAuth
	if !si.TLS && a.x.n.mode != TLSNone {
		return "", nil, errAuthNeedsTLS
	}
	user, pass := a.x.n.relay.Username, a.x.n.relay.Password.Reveal()
	// The TLS (or loopback) check is ours, above; allowUnencrypted only
	// stops go-mail from repeating it with a narrower idea of "localhost".
	switch {
	case hasMechanism(si.Auth, "PLAIN"):
		a.auth, a.x.mech = smtp.PlainAuth("", user, pass, si.Name, true), "PLAIN"
	case hasMechanism(si.Auth, "LOGIN"):
		a.auth, a.x.mech = smtp.LoginAuth(user, pass, si.Name, true), "LOGIN"
	case len(si.Auth) == 0:
		return "", nil, fmt.Errorf("%w (it offers no AUTH at all)", errNoAuthMechanism)
	default:
		return "", nil, fmt.Errorf("%w (it offers %s)", errNoAuthMechanism,
			text.Truncate(strings.Join(si.Auth, " "), 100))
	}
	return a.auth.Start(si)
}

// Next continues the chosen mechanism.
func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.auth.Next(fromServer, more)
}

func hasMechanism(offered []string, mech string) bool {
	for _, m := range offered {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// envelope formats an address for MAIL FROM and RCPT TO as go-mail does:
// the bare address in angle brackets.
func envelope(a *mail.Address) string {
	return (&mail.Address{Address: a.Address}).String()
}

// refusal is one recipient the server would not take.
type refusal struct {
	addr string
	code int
	text string
}

// refusedError names every refused recipient. It is retryable only when
// every refusal was temporary (4xx): a retry cannot fix a 5xx.
func (x *exchange) refusedError(refused []refusal) *notify.Error {
	temporary := true
	parts := make([]string, len(refused))
	for i, r := range refused {
		temporary = temporary && r.code >= 400 && r.code < 500
		parts[i] = fmt.Sprintf("%s (%d %s)", r.addr, r.code, r.text)
	}
	e := &notify.Error{
		Integration: Type,
		Op:          x.op + ": " + stageRcptTo,
		StatusCode:  refused[0].code,
		Retryable:   temporary,
		Kind:        notify.ErrRejected,
		Message: x.n.errs.Clean(fmt.Sprintf("the server refused %d of %d recipients: %s",
			len(refused), len(x.n.to), strings.Join(parts, "; "))),
		Hint: "check the addresses in to",
	}
	if temporary {
		e.Kind, e.Hint = notify.ErrUnavailable, "the refusal is temporary: retry later"
	}
	return e
}

// fail classifies err, logs it and returns it.
func (x *exchange) fail(err error) error {
	return x.report(x.classify(err))
}

func (x *exchange) report(e *notify.Error) error {
	x.logger().DebugContext(x.ctx, "email: failed", append(x.logAttrs(), "error", e.Error())...)
	return e
}

// classify turns what go-mail returned into a *notify.Error: an SMTP reply
// by its code, a refusal of ours as permanent, anything else as a network
// failure.
func (x *exchange) classify(err error) *notify.Error {
	op := x.op + ": " + x.stage

	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		op = x.op + ": " + sendStage(sendErr.Reason)
		if sendErr.Reason == gomail.ErrSMTPRcptTo && sendErr.ErrorCode() != 0 {
			return x.rcptSendError(sendErr)
		}
		if code := sendErr.ErrorCode(); code != 0 {
			return x.replyError(op, sendStage(sendErr.Reason), code, sendErr.Error())
		}
		// No reply code: the connection broke mid-transaction. SendError
		// does not unwrap, so the context says whether it was a timeout.
		return x.networkError(op, errors.New(sendErr.Error()))
	}

	var reply *textproto.Error
	if errors.As(err, &reply) {
		return x.replyError(op, x.stage, reply.Code, reply.Msg)
	}

	var limit *readLimitError
	switch {
	case errors.As(err, &limit):
		return x.errorf(op, notify.ErrRejected, limit.Error(), "check the relay's host and port")
	case strings.Contains(err.Error(), "it is not an SMTP server, or it is broken"):
		// The same refusal, after go-mail kept only its text.
		return x.errorf(op, notify.ErrRejected, err.Error(), "check the relay's host and port")
	case errors.Is(err, errAuthNeedsTLS):
		return x.errorf(op, notify.ErrRejected, err.Error(), "use TLS starttls (smtp://) or implicit (smtps://) for the relay")
	case errors.Is(err, errNoAuthMechanism):
		return x.errorf(op, notify.ErrRejected, err.Error(),
			"leave the relay's username and password empty for a relay without AUTH, or check its port and TLS mode")
	case isNoSTARTTLS(err):
		// go-mail's TLSMandatory refusal, which has no error value of its own.
		return x.errorf(op, notify.ErrRejected, "the server does not offer STARTTLS",
			`use TLS "implicit" (smtps://) if the port expects TLS from the start (465), or check the relay's host and port`)
	}
	return x.networkError(op, err)
}

// sendStage names the SMTP command a go-mail SendError failed at.
func sendStage(r gomail.SendErrReason) string {
	switch r {
	case gomail.ErrSMTPMailFrom, gomail.ErrGetSender:
		return stageMailFrom
	case gomail.ErrSMTPRcptTo, gomail.ErrGetRcpts:
		return stageRcptTo
	case gomail.ErrSMTPReset:
		return stageReset
	case gomail.ErrConnCheck:
		return stageNoop
	default:
		return stageData
	}
}

// rcptSendError names the recipients go-mail reports refused. SendError
// keeps them unexported but lists them in its text after a fixed marker, so
// the configured addresses are looked for there.
func (x *exchange) rcptSendError(se *gomail.SendError) *notify.Error {
	text := se.Error()
	listed := text
	if _, after, ok := strings.Cut(text, "affected recipient(s): "); ok {
		listed, _, _ = strings.Cut(after, ", affected message ID")
	}
	var names []string
	for _, a := range x.n.to {
		if strings.Contains(listed, envelope(a)) {
			names = append(names, a.Address)
		}
	}
	msg := text
	if len(names) > 0 {
		msg = fmt.Sprintf("the server refused %d of %d recipients: %s: %s",
			len(names), len(x.n.to), strings.Join(names, ", "), text)
	}
	// go-mail's temporary flag is the last refusal's; trust the code we
	// report instead.
	return x.replyError(x.op+": "+stageRcptTo, stageRcptTo, se.ErrorCode(), msg)
}

// replyError classifies an SMTP reply: 4xx is temporary, 5xx permanent, and
// the authentication codes are ErrUnauthorized.
func (x *exchange) replyError(op, stage string, code int, text string) *notify.Error {
	e := &notify.Error{Integration: Type, Op: op, StatusCode: code, Message: x.n.errs.Clean(text)}
	switch {
	case code == 535 || code == 534 || code == 530:
		// 535 bad credentials, 534 mechanism too weak (an app password or
		// OAuth is wanted), 530 authentication required (RFC 4954 §6).
		e.Kind, e.Hint = notify.ErrUnauthorized, "check the relay's username and password"
		if code == 530 && x.n.relay.Username == "" {
			e.Hint = "the server wants authentication: give the relay a username and password"
		}
	case code >= 400 && code <= 499:
		e.Kind, e.Retryable, e.Hint = notify.ErrUnavailable, true, "the server refused for now: retry later"
		if stage == stageAuth {
			e.Hint = "temporary authentication failure: retry later, and check the relay's username and password if it persists"
		}
	default:
		e.Kind = notify.ErrRejected
		switch stage {
		case stageMailFrom:
			e.Hint = "the server refused the sender: the relay's From must be an address this account may send as"
		case stageRcptTo:
			e.Hint = "check the addresses in to"
		case stageData:
			e.Hint = "the server refused the message"
		case stageAuth:
			e.Hint = "the server refused to authenticate this way: check the TLS mode and the account"
		}
	}
	return e
}

// networkError classifies a failure to get a reply. go-mail does not always
// keep the cause's type, and the connection's deadline can fire a moment
// before the context's timer, so the context's error is added to the cause
// when the exchange is over: a deadline then reads as a retryable timeout
// and a cancellation as final.
func (x *exchange) networkError(op string, err error) *notify.Error {
	var ne net.Error
	switch ctxErr := x.ctx.Err(); {
	case ctxErr != nil:
		if !errors.Is(err, ctxErr) {
			err = errors.Join(err, ctxErr)
		}
	case errors.As(err, &ne) && ne.Timeout(), x.deadlinePassed():
		// Every deadline on the connection is the exchange's (ctxConn).
		if !errors.Is(err, context.DeadlineExceeded) {
			err = errors.Join(err, context.DeadlineExceeded)
		}
	}
	neverGreeted := x.stage == stageHandshake && x.conn != nil && !x.conn.heard.Load() && x.n.mode != TLSImplicit
	// The hint is part of the error as it is built (never patched after):
	// these two failures only the SMTP exchange can explain.
	e := x.n.errs.NetworkHint(x.ctx, op, err, func(err error) string {
		switch {
		case neverGreeted:
			return `the server never greeted: if this port expects TLS from the start (465), use TLS "implicit" (smtps://)`
		case errors.Is(err, syscall.ECONNREFUSED):
			return "nothing accepts connections there: check the relay's host and port"
		}
		return ""
	})
	return e
}

func (x *exchange) deadlinePassed() bool {
	d, ok := x.ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (x *exchange) errorf(op string, kind error, msg, hint string) *notify.Error {
	return &notify.Error{Integration: Type, Op: op, Kind: kind, Message: x.n.errs.Clean(msg), Hint: hint}
}

func (x *exchange) logger() *slog.Logger { return x.n.logger }

func (x *exchange) logAttrs() []any {
	return []any{"integration", Type, "name", x.n.Name(), "op", x.op, "host", x.n.host, "port", x.n.port,
		"tls", string(x.n.mode), "recipients", len(x.n.to), "duration", time.Since(x.start)}
}

// debug logs a failure that does not change the result, scrubbed.
func (x *exchange) debug(msg string, err error) {
	x.logger().DebugContext(x.ctx, msg, append(x.logAttrs(), "stage", x.stage,
		"error", x.n.errs.Clean(err.Error()))...)
}
