package email

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/wneessen/go-mail/smtp"

	"github.com/codedefender/integrations/notify"
)

// The checks of TestReport, in the order they run. Each recipient has its
// own check, named checkRecipient followed by the address.
const (
	checkReachable = "relay reachable"
	checkTLS       = "connection encrypted"
	checkAuth      = "relay accepts the credentials"
	checkSender    = "sender accepted"
	checkRecipient = "recipient accepted: "
	checkVerifies  = "relay checks recipients"
)

// TestReport connects, negotiates TLS, authenticates, and asks the server
// to accept the sender and every recipient, then resets the transaction
// and quits: no mail is sent. It says what each step proved: the relay
// answered, TLS was negotiated, the credentials were accepted (AUTH), the
// sender (MAIL FROM) and each recipient (RCPT TO) were accepted. It then
// offers an address that surely does not exist, at the first recipient's
// domain: a relay that accepts it takes any recipient at this stage, so
// the recipients' checks prove little, and that is a warning, not a
// failure. Nothing is sent: the transaction is reset before QUIT. A failed
// step skips the ones after it.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	if n == nil || n.from == nil {
		r.Fail(checkReachable, errNotBuilt)
		return r
	}
	if err := n.closing.Closed(n.errs, "test"); err != nil {
		r.Fail(checkReachable, err)
		return r
	}
	x, done := n.begin(ctx, "test")
	defer done()

	c, err := x.client()
	if err != nil {
		r.Fail(checkReachable, x.fail(err))
		x.skipFrom(&r, checkTLS)
		return r
	}
	sc, err := c.DialToSMTPClientWithContext(x.ctx)
	if err != nil {
		x.handshakeFailed(&r, err)
		return r
	}
	r.Pass(checkReachable, fmt.Sprintf("%s answered.", net.JoinHostPort(n.host, strconv.Itoa(n.port))))
	x.passTLS(&r, sc)
	switch {
	case n.relay.Username == "":
		r.Skip(checkAuth, "The relay has no username, so the mail is submitted without AUTH.")
	default:
		r.Pass(checkAuth, fmt.Sprintf("Authenticated as %s with AUTH %s.", n.relay.Username, x.mechanism()))
	}

	// go-mail sends only whole messages, so the envelope check drives the
	// smtp.Client it dialled and authenticated (its own copy of net/smtp).
	x.stage = stageMailFrom
	if err := sc.Mail(envelope(n.from)); err != nil {
		r.Fail(checkSender, x.fail(err))
		x.skipFrom(&r, checkRecipient)
		return r
	}
	r.Pass(checkSender, fmt.Sprintf("The relay accepts mail from %s.", n.from.Address))
	if !x.checkRecipients(&r, sc) {
		return r
	}
	x.probe(&r, sc)

	// Nothing was sent; a failing RSET or QUIT says nothing about the
	// configuration, so it is only logged.
	x.stage = stageReset
	if err := sc.Reset(); err != nil {
		x.debug("email: RSET failed", err)
	}
	x.stage = stageQuit
	if err := c.CloseWithSMTPClient(sc); err != nil {
		x.debug("email: QUIT failed", err)
	}
	if !r.Failed() {
		x.logger().DebugContext(ctx, "email: test passed", x.logAttrs()...)
	}
	return r
}

// handshakeFailed records which of the first steps failed (go-mail dials,
// greets, negotiates TLS and authenticates in one call) and skips the rest.
func (x *exchange) handshakeFailed(r *notify.Report, err error) {
	e := x.fail(err)
	tlsStep := x.stage == stageTLS ||
		x.stage == stageHandshake && x.conn != nil && (x.conn.startTLS.Load() || isNoSTARTTLS(err))
	switch {
	case x.stage == stageAuth:
		r.Pass(checkReachable, "The relay answered.")
		if x.n.mode == TLSNone {
			r.Skip(checkTLS, tlsOffSentence)
		} else {
			r.Pass(checkTLS, "TLS was negotiated.")
		}
		r.Fail(checkAuth, e)
		x.skipFrom(r, checkSender)
	case tlsStep:
		r.Pass(checkReachable, "The relay answered.")
		r.Fail(checkTLS, e)
		x.skipFrom(r, checkAuth)
	default:
		r.Fail(checkReachable, e)
		x.skipFrom(r, checkTLS)
	}
}

// tlsOffSentence is the TLS check's detail for TLSNone.
const tlsOffSentence = "TLS is off (none), which is allowed only for a relay on this machine."

func (x *exchange) passTLS(r *notify.Report, sc *smtp.Client) {
	if x.n.mode == TLSNone {
		r.Skip(checkTLS, tlsOffSentence)
		return
	}
	how := "STARTTLS"
	if x.n.mode == TLSImplicit {
		how = "Implicit TLS"
	}
	if state, ok := sc.TLSConnectionState(); ok {
		r.Pass(checkTLS, fmt.Sprintf("%s, %s, certificate verified for %s.", how, tls.VersionName(state.Version),
			x.n.tlsConfig.ServerName))
		return
	}
	r.Pass(checkTLS, how+" was negotiated.")
}

// skipFrom records every check from the named one on as skipped, because
// an earlier one failed.
func (x *exchange) skipFrom(r *notify.Report, from string) {
	const why = "Skipped: an earlier check failed."
	steps := []string{checkTLS, checkAuth, checkSender, checkRecipient, checkVerifies}
	for i, s := range steps {
		if s != from {
			continue
		}
		for _, name := range steps[i:] {
			if name != checkRecipient {
				r.Skip(name, why)
				continue
			}
			for _, a := range x.n.to {
				r.Skip(checkRecipient+a.Address, why)
			}
		}
		return
	}
}

// checkRecipients offers every recipient and records one check each. The
// refused ones share one error that names them all, which is what Test
// returns. It reports whether the exchange can go on (no network failure).
func (x *exchange) checkRecipients(r *notify.Report, sc *smtp.Client) bool {
	x.stage = stageRcptTo
	var refused []refusal
	checks := make([]notify.Check, len(x.n.to))
	for i, a := range x.n.to {
		name := checkRecipient + a.Address
		err := sc.Rcpt(envelope(a))
		var reply *textproto.Error
		switch {
		case err == nil:
			checks[i] = notify.Check{Name: name, Status: notify.CheckPassed, Detail: "The relay accepts mail to " + a.Address + "."}
		case errors.As(err, &reply):
			refused = append(refused, refusal{addr: a.Address, code: reply.Code, text: reply.Msg})
			checks[i] = notify.Check{Name: name, Status: notify.CheckFailed,
				Detail: x.n.errs.Clean(fmt.Sprintf("The relay refused it: %d %s", reply.Code, reply.Msg))}
		default:
			e := x.fail(err)
			r.Checks = append(r.Checks, checks[:i]...)
			r.Fail(name, e)
			for _, rest := range x.n.to[i+1:] {
				r.Skip(checkRecipient+rest.Address, "Skipped: an earlier check failed.")
			}
			r.Skip(checkVerifies, "Skipped: an earlier check failed.")
			return false
		}
	}
	if len(refused) > 0 {
		e := x.report(x.refusedError(refused))
		for i := range checks {
			if checks[i].Status == notify.CheckFailed {
				checks[i].Err = e
			}
		}
	}
	r.Checks = append(r.Checks, checks...)
	return true
}

// probeLocalPart starts the address TestReport offers to learn whether the
// relay checks recipients; random hex follows, so it exists nowhere.
const probeLocalPart = "cd-no-such-recipient-"

// probe offers an address that surely does not exist and records what the
// relay's answer says about the recipients' checks.
func (x *exchange) probe(r *notify.Report, sc *smtp.Client) {
	addr := probeAddress(x.n.to[0])
	err := sc.Rcpt(envelope(&mail.Address{Address: addr}))
	var reply *textproto.Error
	switch {
	case err == nil:
		r.Warn(checkVerifies, fmt.Sprintf("The relay also accepted %s, an address that does not exist, so it "+
			"accepts any recipient at this stage: the recipients above are not proven to exist, and a wrong "+
			"one will only show up as a bounce to %s.", addr, x.n.from.Address))
	case errors.As(err, &reply) && reply.Code >= 500:
		r.Pass(checkVerifies, x.n.errs.Clean(fmt.Sprintf("The relay refused an address that does not exist "+
			"(%d %s), so the recipients it accepted are known to it.", reply.Code, reply.Msg)))
	case errors.As(err, &reply):
		r.Warn(checkVerifies, x.n.errs.Clean(fmt.Sprintf("The relay deferred an address that does not exist "+
			"(%d %s): whether it checks recipients is unknown.", reply.Code, reply.Msg)))
	default:
		x.debug("email: the recipient probe failed", err)
		r.Warn(checkVerifies, "The connection failed while checking whether the relay refuses an address "+
			"that does not exist: whether it checks recipients is unknown.")
	}
}

// probeAddress is a random address at a's domain.
func probeAddress(a *mail.Address) string {
	domain := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	return probeLocalPart + hex.EncodeToString(randomBytes(8)) + "@" + domain
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// isNoSTARTTLS reports go-mail's refusal to go on without STARTTLS, which
// has no error value of its own.
func isNoSTARTTLS(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not support STARTTLS")
}
