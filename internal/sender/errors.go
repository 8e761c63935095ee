package sender

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/codedefender/integrations/internal/scrub"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Receipt bounds: a receipt is raw server data, so it is scrubbed, kept to
// one line and bounded like any other text that reaches the caller.
const (
	maxReceiptIDRunes  = 1024
	maxReceiptURLRunes = 2048
)

// Explanation is what a destination reads out of its error answer, once:
// the destination's own words, what to do about them, and, when its body
// says more than its status (Splunk's HEC codes, Slack's dead hooks), the
// sentinel and retry decision that replace the status table's.
type Explanation struct {
	// Message is the destination's own message; "" means DescribeBody's
	// reading of the body.
	Message string
	// Hint says what to do; "" means the usual hint for the kind.
	Hint string
	// Kind, when set, replaces the status table's sentinel, and Retryable
	// its retry decision.
	Kind      error
	Retryable bool
	// RetryAfter, when positive, replaces the wait read from the answer's
	// headers.
	RetryAfter time.Duration
	// Err, when set, is the cause the error wraps, for errors.As (Splunk's
	// code 7 wraps a *notify.ValidationError naming the index field). Its
	// message is not scrubbed: it must be the library's own words.
	Err error
}

// Errors builds everything the library reports back from one destination:
// its *notify.Error values and its Receipts, every server-supplied string
// scrubbed of the notifier's secrets and folded onto one line. Each error is
// built once, complete; nothing edits it afterwards. The HTTP Sender embeds
// one, and the SDK-based destinations (s3, gcs) and the SMTP one use it
// directly.
type Errors struct {
	integration string
	scrub       *scrub.Scrubber
	now         func() time.Time
}

// NewErrors returns the error builder of the integration type (for example
// "s3") that scrubs the given secrets from everything it reports.
func NewErrors(integration string, secrets ...notify.Secret) *Errors {
	return &Errors{integration: integration, scrub: scrub.New(secrets...), now: time.Now}
}

// Integration returns the integration type the errors name.
func (b *Errors) Integration() string { return b.integration }

// Scrubber returns the scrubber of the notifier's secrets.
func (b *Errors) Scrubber() *scrub.Scrubber { return b.scrub }

// Clean makes a destination's text fit for an error: secrets scrubbed,
// control characters folded, truncated.
func (b *Errors) Clean(s string) string { return b.scrub.Clean(s) }

// Errorf returns an *Error of the given kind, its message formatted and
// scrubbed.
func (b *Errors) Errorf(op string, kind error, retryable bool, format string, args ...any) *notify.Error {
	return &notify.Error{
		Integration: b.integration,
		Op:          op,
		Kind:        kind,
		Retryable:   retryable,
		Message:     b.Clean(fmt.Sprintf(format, args...)),
	}
}

// Status is the one constructor of the error for a destination's answer
// with the given status code: the sentinel and retry decision from
// ClassifyStatus (or the explanation's), the wait its headers ask for, the
// destination's message and a hint. A 2xx with no Kind in x (a body that
// says failure under a success status) is ErrRejected.
func (b *Errors) Status(op string, code int, header http.Header, x Explanation) *notify.Error {
	kind, retryable := ClassifyStatus(code)
	if x.Kind != nil {
		kind, retryable = x.Kind, x.Retryable
	} else if kind == nil {
		kind = notify.ErrRejected
	}
	e := &notify.Error{
		Integration: b.integration,
		Op:          op,
		StatusCode:  code,
		Retryable:   retryable,
		RetryAfter:  ParseRetryAfter(header, b.now()),
		Kind:        kind,
		Message:     b.Clean(x.Message),
		Hint:        b.Clean(x.Hint),
		Err:         x.Err,
	}
	if x.RetryAfter > 0 {
		e.RetryAfter = min(x.RetryAfter, MaxRetryAfter)
	}
	if e.Hint == "" {
		e.Hint = defaultHint(kind)
	}
	return e
}

func defaultHint(kind error) string {
	switch kind {
	case notify.ErrUnauthorized:
		return "check the credentials"
	case notify.ErrForbidden:
		return "the credentials lack a permission"
	case notify.ErrRateLimited:
		return "slow down and retry later"
	}
	return ""
}

// redirect is the error for a 3xx: redirects are never followed, so no
// credential travels to another host. The host it pointed to is named,
// scrubbed like any other server-supplied text.
func (b *Errors) redirect(op string, r *Response) *notify.Error {
	msg := "redirect not followed"
	if loc, err := url.Parse(r.Header.Get("Location")); err == nil && loc.Host != "" {
		msg = "redirect to " + loc.Host + " not followed"
	}
	e := b.Status(op, r.StatusCode, r.Header, Explanation{Message: msg, Hint: "the address has moved: configure the final URL"})
	e.RetryAfter = 0
	return e
}

// BadAnswer is the error for a 2xx whose body is not what the destination
// documents: usually a proxy, or a URL that points somewhere else.
func (b *Errors) BadAnswer(op string, r *Response, err error) *notify.Error {
	e := b.Errorf(op, notify.ErrRejected, false,
		"the answer is not the expected JSON (%v); is the URL the destination's own?", err)
	e.StatusCode = r.StatusCode
	return e
}

// Receipt returns the receipt of a delivery from what the destination
// answered: scrubbed, on one line and bounded, since it is raw server data.
func (b *Errors) Receipt(id, link string) notify.Receipt {
	return notify.Receipt{ID: b.receiptText(id, maxReceiptIDRunes), URL: b.receiptText(link, maxReceiptURLRunes)}
}

func (b *Errors) receiptText(s string, max int) string {
	if s == "" {
		return ""
	}
	s = b.scrub.Scrub(s)
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	return text.Truncate(s, max)
}

// Network turns a failure to reach a destination into an *Error: a guard
// refusal or an untrusted certificate is ErrRejected and permanent, a
// timeout or network failure is ErrUnavailable and retryable, a cancelled
// context is ErrUnavailable and not retryable. The message is scrubbed and
// never repeats the URL.
func (b *Errors) Network(ctx context.Context, op string, err error) *notify.Error {
	return b.NetworkHint(ctx, op, err, nil)
}

// NetworkHint is Network whose hint, when hint returns one for the
// transport's error, is the destination's: for a failure only it can
// explain (Splunk: a Cloud host the library derived does not resolve).
func (b *Errors) NetworkHint(ctx context.Context, op string, err error, hint func(error) string) *notify.Error {
	e := b.network(ctx, op, err)
	if hint != nil {
		if h := hint(err); h != "" {
			e.Hint = b.Clean(h)
		}
	}
	return e
}

func (b *Errors) network(ctx context.Context, op string, err error) *notify.Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the URL, which may be a credential
	}
	e := &notify.Error{Integration: b.integration, Op: op, Err: scrubbed{msg: b.Clean(err.Error()), err: err}}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertError tls.AlertError
	)
	switch {
	case errors.Is(err, notify.ErrBlockedAddress):
		e.Kind = notify.ErrRejected
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verifyErr):
		e.Kind, e.Hint = notify.ErrRejected, "the server's TLS certificate is not trusted"
	case errors.As(err, &recordErr), errors.Is(err, http.ErrSchemeMismatch):
		e.Kind, e.Hint = notify.ErrRejected, "the server does not speak TLS on this port"
	case errors.As(err, &alertError), IsRemoteTLSAlert(err):
		e.Kind, e.Hint = notify.ErrRejected, TLSAlertHint(err)
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up: whatever the transport made of it, that is final.
		e.Kind = notify.ErrUnavailable
		if !errors.Is(err, context.Canceled) {
			e.Err = scrubbed{msg: e.Err.Error(), err: errors.Join(err, context.Canceled)}
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || deadlinePassed(ctx):
		// A connection deadline set to the context's can fire a moment
		// before the context's own timer: that is the same timeout.
		e.Kind, e.Retryable, e.Hint = notify.ErrUnavailable, true, "timed out"
		if !errors.Is(err, context.DeadlineExceeded) {
			e.Err = scrubbed{msg: e.Err.Error(), err: errors.Join(err, context.DeadlineExceeded)}
		}
	default:
		var ne net.Error
		e.Kind, e.Retryable = notify.ErrUnavailable, true
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			e.Hint = "timed out"
		case errors.Is(err, syscall.ECONNREFUSED):
			e.Hint = "nothing accepts connections there: check the host and port"
		case errors.As(err, new(*net.DNSError)):
			e.Hint = dnsHint(err)
		}
	}
	return e
}

// dnsHint tells "the name does not exist" from "no resolver answered", which
// call for different fixes.
func dnsHint(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) && !de.IsNotFound && (de.IsTimeout || de.IsTemporary) {
		return "no DNS resolver answered: check this machine's network and resolver"
	}
	return "the host name does not resolve: check it"
}

// TLSAlertHint says what a TLS alert from the server most likely means: it
// wants a client certificate it trusts, or it refused the handshake.
func TLSAlertHint(err error) string {
	for _, clientCert := range []string{"certificate required", "bad certificate", "unknown certificate authority",
		"certificate unknown", "certificate expired", "certificate revoked"} {
		if strings.Contains(err.Error(), clientCert) {
			return "the server wants a client certificate it trusts"
		}
	}
	return "the server refused the TLS handshake"
}

// IsRemoteTLSAlert reports whether the server ended the TLS handshake with
// an alert. Over TCP crypto/tls reports that as a *net.OpError whose Op is
// "remote error" around an unexported type (tls.AlertError is QUIC's).
func IsRemoteTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// scrubbed carries a cause whose message has been scrubbed of secrets while
// keeping it reachable for errors.Is and errors.As.
type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.err }
