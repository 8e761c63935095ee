package email

import (
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"time"

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

// maxUsernameLength bounds the relay's username; no provider documents a
// longer one, and it keeps a pasted key file out of the field.
const maxUsernameLength = 256

// MaxRelayTimeout bounds Relay.Timeout. RFC 5321 §4.5.3.2 lets a server take
// up to 10 minutes to accept the message; an alert that slow is better
// retried, so we stop at 5.
const MaxRelayTimeout = 5 * time.Minute

// Config is an email integration as the console stores it: a name and the
// recipients. The relay that takes the mail, and the From address, are the
// operator's, given once for every email integration with WithRelay.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// To lists the recipients, each "soc@example.com" or
	// "SOC <soc@example.com>"; every one is in the To header.
	To []string `json:"to"`
}

// Validate checks every field offline and reports all bad ones at once: the
// name; every address parses with net/mail, holds no line break and appears
// once (compared without regard to case); at most MaxRecipients recipients.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	checkRecipients(&errs, c.To)
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

func (r Relay) validate(errs *validate.Errors) {
	hostOK := checkHost(errs, r.Host)

	port := r.Port
	if port < 0 || port > 65535 {
		errs.Addf(fieldPort, "must be a TCP port between 1 and 65535 (it is %d)", port)
		port = -1
	}

	switch r.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
		if port >= 0 {
			if msg := portContradiction(port, r.TLS); msg != "" {
				errs.Add(fieldTLS, msg)
			}
		}
		if r.TLS == TLSNone {
			if r.Port == 0 {
				errs.Add(fieldPort, `is required with TLS "none"`)
			}
			if hostOK && !isLoopbackHost(r.Host) {
				errs.Add(fieldTLS, `"none" sends the password and the alert in plain text, so it is allowed only `+
					`to a loopback host (localhost, 127.0.0.1, ::1): use "starttls" or "implicit"`)
			}
		}
	default:
		errs.Addf(fieldTLS, `must be "starttls", "implicit" or "none" (it is %q)`, text.Truncate(string(r.TLS), 20))
	}

	switch {
	case text.HasControl(r.Username):
		errs.Add(fieldUsername, "must not contain control characters")
	case len(r.Username) > maxUsernameLength:
		errs.Addf(fieldUsername, "must be at most %d characters long", maxUsernameLength)
	case r.Username == "" && !r.Password.IsZero():
		errs.Add(fieldUsername, "is required when a password is set")
	}
	errs.CheckSecret(fieldPassword, r.Password, r.Username != "")

	if _, msg := parseAddress(r.From); msg != "" {
		errs.Add(fieldFrom, msg)
	}
	if r.Timeout < 0 || r.Timeout > MaxRelayTimeout {
		errs.Addf(fieldTimeout, "must be at most %s, or 0 for the notifier's timeout", MaxRelayTimeout)
	}
}

// portContradiction says which setting to use when the port and the TLS mode
// cannot both be right (Alertmanager #980: STARTTLS on 465 hangs), or returns
// "" when they agree.
func portContradiction(port int, mode TLSMode) string {
	switch {
	case port == PortSubmissions && mode == TLSStartTLS:
		return `port 465 expects implicit TLS (RFC 8314): use TLS "implicit" (smtps://), or port 587 for "starttls"`
	case port == PortSubmissions && mode == TLSNone:
		return `port 465 expects implicit TLS (RFC 8314): use TLS "implicit" (smtps://)`
	case port == PortSubmission && mode == TLSImplicit:
		return `port 587 expects STARTTLS (RFC 6409): use TLS "starttls" (smtp://), or port 465 for "implicit"`
	case port == PortSMTP && mode == TLSImplicit:
		return `port 25 speaks plain SMTP upgraded with STARTTLS: use TLS "starttls" (smtp://), or port 465 for "implicit"`
	}
	return ""
}

// checkHost records why host is not a bare DNS name or IP address, and
// reports whether it is one.
func checkHost(errs *validate.Errors, host string) bool {
	const field = fieldHost
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
		errs.Add(field, "must not carry a port: set the port on its own")
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

// effective returns the port and TLS mode a valid relay means once the
// defaults are applied.
func (r Relay) effective() (int, TLSMode) {
	mode := r.TLS
	if mode == "" {
		mode = TLSStartTLS
		if r.Port == PortSubmissions {
			mode = TLSImplicit
		}
	}
	port := r.Port
	if port == 0 {
		port = PortSubmission
		if mode == TLSImplicit {
			port = PortSubmissions
		}
	}
	return port, mode
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
