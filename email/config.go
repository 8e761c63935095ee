package email

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"strings"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for email.
const Type = "email"

// TLSMode says how the connection to the SMTP server is encrypted.
type TLSMode string

// The TLS modes the console offers.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before
	// anything else is said (RFC 3207). It fails closed: a server that does
	// not offer STARTTLS is an error, never a plain-text fallback.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (RFC 8314), as on port 465.
	TLSImplicit TLSMode = "implicit"
	// TLSNone sends everything, the password included, in plain text. It is
	// accepted only for a loopback host (a relay on the same machine).
	TLSNone TLSMode = "none"
)

// The well-known SMTP ports, each with the TLS mode its RFC gives it.
const (
	PortSMTP        = 25  // RFC 5321 relay: plain text, optionally upgraded with STARTTLS
	PortSubmission  = 587 // RFC 6409 submission: STARTTLS
	PortSubmissions = 465 // RFC 8314 submissions: implicit TLS
)

// MaxRecipients is the most addresses "to" may hold. The console lets people
// add several; 50 keeps one alert from becoming a mailing list (RFC 5321
// §4.5.3.1.8 only obliges servers to take 100 per message).
const MaxRecipients = 50

// maxAddressLength bounds an address's addr-spec: RFC 5321 §4.5.3.1.3 allows
// a 256-octet path, which includes the two angle brackets.
const maxAddressLength = 254

// maxHostLength is the longest DNS name (RFC 1035 §2.3.4).
const maxHostLength = 253

// maxUsernameLength bounds smtp.username; no provider documents a longer
// one, and it keeps a pasted key file out of the field.
const maxUsernameLength = 256

// MaxTimeoutSeconds bounds smtp.timeout. RFC 5321 §4.5.3.2 lets a server take
// up to 10 minutes to accept the message; an alert that slow is better
// retried, so we stop at 5.
const MaxTimeoutSeconds = 300

// Config is an email integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// To lists the recipients, each "soc@example.com" or
	// "SOC <soc@example.com>"; every one is in the To header.
	To []string `json:"to"`
	// From is the sender, "alerts@example.com" or
	// "Code Defender <alerts@example.com>". Its domain also names the
	// Message-ID.
	From string `json:"from"`
	// SMTP is the server that takes the mail.
	SMTP SMTP `json:"smtp"`
}

// SMTP is the mail server an email integration submits through.
//
// The port and the TLS mode go together: 587 means STARTTLS and 465 means
// implicit TLS, and the opposite pairing is an error that says which to use.
// An empty TLS mode is implicit on 465 and STARTTLS on every other port, so
// plain text is never a default: it must be asked for with "none", which is
// accepted only for a loopback host. A port of 0 is 465 for implicit TLS and
// 587 otherwise; with "none" the port is required.
type SMTP struct {
	// Host is the server's DNS name or IP address, without a scheme or port.
	Host string `json:"host"`
	// Port is the TCP port (a JSON number).
	Port int `json:"port,omitempty"`
	// Username and Password authenticate with AUTH PLAIN or LOGIN, sent only
	// inside TLS (or to a loopback host with TLS "none"). Leave both empty
	// for a relay that accepts mail without authentication.
	Username string        `json:"username,omitempty"`
	Password notify.Secret `json:"password,omitempty"`
	// TLS is "starttls", "implicit" or "none"; see the type's doc for the
	// default.
	TLS TLSMode `json:"tls,omitempty"`
	// TimeoutSeconds bounds one whole exchange (connect, TLS, AUTH, the
	// message) in seconds; 0 keeps the notifier's timeout
	// (notify.WithTimeout, 15 s by default).
	TimeoutSeconds int `json:"timeout,omitempty"`
}

// Validate checks every field offline and reports all bad ones at once: the
// name; every address parses with net/mail, holds no line break and appears
// once (compared without regard to case); at most MaxRecipients recipients;
// the host is a bare DNS name or IP address; the TLS mode is known, agrees
// with the port, and is "none" only for a loopback host; a username goes
// with a password; the timeout is in range.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	checkRecipients(&errs, c.To)
	if _, msg := parseAddress(c.From); msg != "" {
		errs.Add("from", msg)
	}
	c.SMTP.validate(&errs)
	return errs.Err()
}

func checkRecipients(errs *validate.Errors, to []string) {
	switch {
	case len(to) == 0:
		errs.Add("to", "is required: add at least one address")
		return
	case len(to) > MaxRecipients:
		errs.Addf("to", "may hold at most %d addresses (it has %d): use a distribution list", MaxRecipients, len(to))
		return
	}
	seen := make(map[string]int, len(to))
	for i, raw := range to {
		field := fmt.Sprintf("to[%d]", i)
		a, msg := parseAddress(raw)
		if msg != "" {
			errs.Add(field, msg)
			continue
		}
		key := strings.ToLower(a.Address)
		if j, dup := seen[key]; dup {
			errs.Addf(field, "repeats to[%d] (addresses are compared without regard to case)", j)
			continue
		}
		seen[key] = i
	}
}

// parseAddress parses one address the way every header is built from it,
// and returns what is wrong with it otherwise. The message never repeats the
// input, which a console shows next to the field anyway.
func parseAddress(raw string) (*mail.Address, string) {
	switch {
	case strings.TrimSpace(raw) == "":
		return nil, "is required"
	case text.HasCRLF(raw):
		// Checked before parsing: a line break in a header value is how
		// "Bcc:" and other headers get injected.
		return nil, "must not contain line breaks"
	case text.HasControl(raw):
		return nil, "must not contain control characters"
	}
	a, err := mail.ParseAddress(raw)
	if err != nil {
		if list, err := mail.ParseAddressList(raw); err == nil && len(list) > 1 {
			return nil, "holds more than one address: give each its own entry"
		}
		return nil, `is not an email address (want "name@example.com" or "Name <name@example.com>")`
	}
	if len(a.Address) > maxAddressLength {
		return nil, fmt.Sprintf("must be at most %d characters long", maxAddressLength)
	}
	return a, ""
}

func (s SMTP) validate(errs *validate.Errors) {
	hostOK := checkHost(errs, s.Host)

	port := s.Port
	if port < 0 || port > 65535 {
		errs.Addf("smtp.port", "must be a TCP port between 1 and 65535 (it is %d)", port)
		port = -1
	}

	switch s.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
		if port >= 0 {
			if msg := portContradiction(port, s.TLS); msg != "" {
				errs.Add("smtp.tls", msg)
			}
		}
		if s.TLS == TLSNone {
			if s.Port == 0 {
				errs.Add("smtp.port", `is required with tls "none"`)
			}
			if hostOK && !isLoopbackHost(s.Host) {
				errs.Add("smtp.tls", `"none" sends the password and the alert in plain text, so it is allowed only `+
					`to a loopback host (localhost, 127.0.0.1, ::1): use "starttls" or "implicit"`)
			}
		}
	default:
		errs.Addf("smtp.tls", `must be "starttls", "implicit" or "none" (it is %q)`, text.Truncate(string(s.TLS), 20))
	}

	switch {
	case text.HasControl(s.Username):
		errs.Add("smtp.username", "must not contain control characters")
	case len(s.Username) > maxUsernameLength:
		errs.Addf("smtp.username", "must be at most %d characters long", maxUsernameLength)
	case s.Username == "" && !s.Password.IsZero():
		errs.Add("smtp.username", "is required when a password is set")
	}
	errs.CheckSecret("smtp.password", s.Password, s.Username != "")

	if s.TimeoutSeconds < 0 || s.TimeoutSeconds > MaxTimeoutSeconds {
		errs.Addf("smtp.timeout", "must be between 1 and %d seconds, or 0 for the default", MaxTimeoutSeconds)
	}
}

// portContradiction says which setting to use when the port and the TLS mode
// cannot both be right (Alertmanager #980: STARTTLS on 465 hangs), or returns
// "" when they agree.
func portContradiction(port int, mode TLSMode) string {
	switch {
	case port == PortSubmissions && mode == TLSStartTLS:
		return `port 465 expects implicit TLS (RFC 8314): set tls to "implicit", or use port 587 for "starttls"`
	case port == PortSubmissions && mode == TLSNone:
		return `port 465 expects implicit TLS (RFC 8314): set tls to "implicit"`
	case port == PortSubmission && mode == TLSImplicit:
		return `port 587 expects STARTTLS (RFC 6409): set tls to "starttls", or use port 465 for "implicit"`
	case port == PortSMTP && mode == TLSImplicit:
		return `port 25 speaks plain SMTP upgraded with STARTTLS: set tls to "starttls", or use port 465 for "implicit"`
	}
	return ""
}

// checkHost records why host is not a bare DNS name or IP address, and
// reports whether it is one.
func checkHost(errs *validate.Errors, host string) bool {
	const field = "smtp.host"
	switch {
	case host == "":
		errs.Add(field, "is required")
		return false
	case strings.Contains(host, "://"):
		errs.Add(field, "must be a host name such as smtp.example.com, not a URL")
		return false
	case text.HasControl(host) || strings.ContainsAny(host, " \t"):
		errs.Add(field, "must not contain spaces or control characters")
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if h, p, err := net.SplitHostPort(host); err == nil && h != "" && p != "" {
		errs.Add(field, "must not carry a port: put it in smtp.port")
		return false
	}
	if !isDNSName(host) {
		errs.Add(field, "must be a DNS name (letters, digits, '-' and '.') or an IP address without brackets")
		return false
	}
	return true
}

func isDNSName(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > maxHostLength {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// isLoopbackHost reports whether host names this machine without a DNS
// lookup: "localhost" or a loopback IP literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// effective returns the port and TLS mode a valid configuration means once
// the defaults are applied.
func (s SMTP) effective() (int, TLSMode) {
	mode := s.TLS
	if mode == "" {
		mode = TLSStartTLS
		if s.Port == PortSubmissions {
			mode = TLSImplicit
		}
	}
	port := s.Port
	if port == 0 {
		port = PortSubmission
		if mode == TLSImplicit {
			port = PortSubmissions
		}
	}
	return port, mode
}
