package email

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Relay is the operator's SMTP server, through which every email
// integration submits its mail, and the sender address it submits as. It
// is given once, with WithRelay, rather than stored with each integration:
// a console user picks recipients, never a mail server or a password.
//
// The port and the TLS mode go together: 587 means STARTTLS and 465 means
// implicit TLS, and the opposite pairing is an error that says which to
// use. An empty TLS mode is implicit on 465 and STARTTLS on every other
// port, so plain text is never a default: it must be asked for with
// TLSNone, which is accepted only for a loopback host. A port of 0 is 465
// for implicit TLS and 587 otherwise; with TLSNone the port is required.
//
// A Relay prints (String, GoString, %v, slog) without its password.
type Relay struct {
	// Host is the server's DNS name or IP address, without a scheme or port.
	Host string
	// Port is the TCP port; see the type's doc for the default.
	Port int
	// Username and Password authenticate with AUTH PLAIN or LOGIN, sent only
	// inside TLS (or to a loopback host with TLSNone). Leave both empty for
	// a relay that accepts mail without authentication.
	Username string
	Password notify.Secret
	// TLS is TLSStartTLS, TLSImplicit or TLSNone; see the type's doc for
	// the default.
	TLS TLSMode
	// From is the sender, "alerts@example.com" or
	// "Code Defender <alerts@example.com>". Its domain also names the
	// Message-ID.
	From string
	// Timeout bounds one whole exchange (connect, TLS, AUTH, the message);
	// 0 keeps the notifier's timeout (notify.WithTimeout, 15 s by default).
	Timeout time.Duration
}

// The fields of a bad relay, as a *notify.ValidationError names them.
const (
	fieldHost     = "relay.host"
	fieldPort     = "relay.port"
	fieldTLS      = "relay.tls"
	fieldUsername = "relay.username"
	fieldPassword = "relay.password"
	fieldFrom     = "relay.from"
	fieldTimeout  = "relay.timeout"
)

// ErrNoRelay is what New returns when no WithRelay option was given.
var ErrNoRelay = errors.New("email: no SMTP relay: give New email.WithRelay(relay) " +
	"(a registry: notify.ForType(email.Type, email.WithRelay(relay)))")

type relayKey struct{}

// WithRelay names the SMTP relay and the sender address of every email
// integration built with this option. New checks the relay as it checks a
// Config, and refuses a bad one with a *notify.ValidationError whose fields
// are relay.host, relay.port, relay.tls, relay.username, relay.password,
// relay.from and relay.timeout. Pass it to a registry as
// notify.ForType(email.Type, email.WithRelay(r)) so that no other
// destination sees it.
func WithRelay(r Relay) notify.Option {
	return func(s *settings.Settings) { s.SetExtra(relayKey{}, r) }
}

// Validate checks the relay offline, as New does, and reports every bad
// field at once.
func (r Relay) Validate() error {
	var errs validate.Errors
	r.validate(&errs)
	return errs.Err()
}

// String describes the relay without its password, as
// "smtp://alerts@smtp.example.com:587 (starttls, from alerts@example.com)".
func (r Relay) String() string {
	port, mode := r.effective()
	scheme := schemeOf(mode)
	user := ""
	if r.Username != "" {
		user = url.User(r.Username).String() + "@"
	}
	return fmt.Sprintf("%s://%s%s (%s, from %s)", scheme, user, net.JoinHostPort(r.Host, strconv.Itoa(port)), mode, r.From)
}

// GoString prints the relay as Go syntax with the password masked.
func (r Relay) GoString() string {
	return fmt.Sprintf("email.Relay{Host:%q, Port:%d, Username:%q, Password:%#v, TLS:%q, From:%q, Timeout:%d}",
		r.Host, r.Port, r.Username, r.Password, string(r.TLS), r.From, int64(r.Timeout))
}

// Format prints String for every verb but %#v, which prints GoString, so
// that no verb reaches the password through the struct's fields.
func (r Relay) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, r.GoString())
		return
	}
	fmt.Fprint(f, r.String())
}

// LogValue logs the relay without its password.
func (r Relay) LogValue() slog.Value {
	port, mode := r.effective()
	return slog.GroupValue(slog.String("host", r.Host), slog.Int("port", port), slog.String("tls", string(mode)),
		slog.String("username", r.Username), slog.String("from", r.From))
}

func schemeOf(mode TLSMode) string {
	switch mode {
	case TLSImplicit:
		return schemeImplicit
	case TLSNone:
		return schemePlain
	}
	return schemeStartTLS
}

// The schemes ParseRelayURL reads.
const (
	schemeStartTLS = "smtp"
	schemeImplicit = "smtps"
	schemePlain    = "smtp+plain"
)

// ParseRelayURL reads a relay from a URL, the form an operator puts in an
// environment variable or a flag:
//
//	smtp://user:password@smtp.example.com:587?from=alerts@example.com
//	smtps://user:password@smtp.example.com:465?from=Code%20Defender%20%3Calerts@example.com%3E
//	smtp+plain://127.0.0.1:1025?from=alerts@example.com
//
// smtp:// requires STARTTLS (port 587 by default), smtps:// speaks implicit
// TLS (port 465 by default), and smtp+plain:// sends in plain text, to a
// loopback host only, with the port written out. The user name and password
// are percent-decoded. The query holds "from" (required) and optionally
// "timeout", a Go duration such as "30s". The result is checked as New
// checks it: a bad URL is a *notify.ValidationError naming relay.* fields,
// and no error ever repeats the URL or the password.
func ParseRelayURL(s string) (Relay, error) {
	bad := func(field, msg string) (Relay, error) {
		return Relay{}, &notify.ValidationError{Fields: []notify.FieldError{{Field: field, Message: msg}}}
	}
	// url.Parse's errors quote the input, password included: they are
	// replaced, never wrapped.
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case s == "":
		return bad("relay", "is required: an smtp://, smtps:// or smtp+plain:// URL")
	case err != nil:
		return bad("relay", "is not a URL (want smtp://user:password@host:587?from=alerts@example.com; "+
			"percent-encode special characters in the password)")
	case u.Opaque != "" || u.Host == "":
		return bad(fieldHost, "is missing: want smtp://user:password@host:587?from=alerts@example.com")
	case u.Path != "" && u.Path != "/", u.Fragment != "":
		return bad("relay", "must not have a path or fragment after the host and port")
	}

	r := Relay{Host: u.Hostname()}
	switch strings.ToLower(u.Scheme) {
	case schemeStartTLS:
		r.TLS = TLSStartTLS
	case schemeImplicit:
		r.TLS = TLSImplicit
	case schemePlain:
		r.TLS = TLSNone
	default:
		return bad(fieldTLS, "the scheme must be smtp:// (STARTTLS), smtps:// (implicit TLS) or smtp+plain:// (loopback only)")
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return bad(fieldPort, "must be a TCP port between 1 and 65535")
		}
		r.Port = port
	}
	if u.User != nil {
		r.Username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			r.Password = notify.Secret(pw)
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("relay", "has a query that does not parse: want ?from=alerts@example.com")
	}
	var errs validate.Errors
	for key, values := range q {
		switch {
		case key != "from" && key != "timeout":
			errs.Addf("relay", "has an unknown query parameter %q: only from and timeout are read", text.Truncate(key, 20))
		case len(values) != 1:
			errs.Addf("relay."+key, "is given %d times: give it once", len(values))
		}
	}
	r.From = q.Get("from")
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			errs.Add(fieldTimeout, `must be a positive duration such as "30s"`)
		} else {
			r.Timeout = d
		}
	}
	r.validate(&errs)
	if err := errs.Err(); err != nil {
		return Relay{}, err
	}
	return r, nil
}
