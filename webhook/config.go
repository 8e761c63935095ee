package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for the HTTP webhook.
const Type = "webhook"

// Protocol is how the webhook reaches its receiver: plain TCP (the URL's
// scheme decides between http:// and TLS) or mutual TLS with a client
// certificate.
type Protocol string

// The protocols the console offers.
const (
	// ProtocolTCP presents no client certificate; an https:// URL is still
	// sent over TLS, an http:// one in the clear.
	ProtocolTCP Protocol = "tcp"
	// ProtocolTLS is mutual TLS: https:// only, and every request presents
	// ClientCert.
	ProtocolTLS Protocol = "tls"
)

// Limits. The header limits are this library's design choice (CONTRACTS §10:
// "32, 8 KiB in total"); the rest bound what one config can make the sender
// do or hold.
const (
	// MaxHeaders is how many custom headers one webhook may set.
	MaxHeaders = 32
	// MaxHeaderBytes bounds the custom headers' names and values together.
	MaxHeaderBytes = 8 << 10
	// MaxPatternBytes bounds body_pattern.
	MaxPatternBytes = 16 << 10
	// MaxBodyBytes bounds the body sent, rendered or not. An event whose
	// JSON is larger is cut to fit (its longest text fields first, each
	// ending in "…") and delivered; a pattern that renders more than this
	// fails. Standard Webhooks recommends payloads under 20 kB; this cap
	// only stops runaway events and patterns.
	MaxBodyBytes = 256 << 10
	// maxURLBytes bounds the URL; many servers refuse longer request lines.
	maxURLBytes = 4096
	// maxPEMBytes bounds each PEM field: a certificate chain or key is a few KiB.
	maxPEMBytes = 64 << 10
	// minSecretBytes and maxSecretBytes bound the decoded signing key
	// (Standard Webhooks v1.0.0: "At least 24 bytes (192 bits, 512 maximum)").
	minSecretBytes = 24
	maxSecretBytes = 64
)

// SecretPrefix starts every Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// Config is an HTTP webhook integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// URL is the receiver: https://, or http:// to a loopback or private
	// address with notify.WithAllowPrivateNetworks (a host name is checked
	// where it resolves, at dial time).
	URL string `json:"url"`
	// Method is POST (the default), PUT, PATCH, GET or DELETE, in any case.
	// GET and DELETE send no body.
	Method string `json:"method,omitempty"`
	// Protocol is "tcp" (the default when empty) or "tls" for mutual TLS,
	// in any case.
	Protocol Protocol `json:"protocol,omitempty"`
	// ClientCert is the PEM certificate (leaf first, then any
	// intermediates) presented with protocol tls.
	ClientCert string `json:"client_cert,omitempty"`
	// ClientKey is ClientCert's unencrypted PEM private key (PKCS#1, PKCS#8
	// or SEC 1).
	ClientKey notify.Secret `json:"client_key,omitempty"`
	// CACert, when set, is the PEM bundle that the receiver's certificate
	// must chain to. It replaces the system roots: a private CA is then the
	// only one trusted for this webhook.
	CACert string `json:"ca_cert,omitempty"`
	// BodyPattern is an optional text/template over the notify.Event that
	// renders the body; without it the body is the Event as JSON. See the
	// package documentation.
	BodyPattern string `json:"body_pattern,omitempty"`
	// Headers are sent with every request. When a name repeats, the last
	// one wins.
	Headers []Header `json:"headers,omitempty"`
	// SigningSecret, when set, signs every request the Standard Webhooks
	// way. It is "whsec_" followed by the base64 of 24 to 64 random bytes.
	SigningSecret notify.Secret `json:"signing_secret,omitempty"`
	// Events, when set, limits the webhook to these event types; empty
	// means every event type fires it (the console lists PCI scope changes
	// and newly detected client-side risks among them, and a default that
	// drops incidents would lose alerts). Test events always fire.
	Events []notify.EventType `json:"events,omitempty"`
}

// Header is one custom request header. Its value is a secret, since it
// often carries a token.
type Header struct {
	Name  string        `json:"name"`
	Value notify.Secret `json:"value"`
}

// Validate checks every field offline and reports all bad ones at once as a
// *notify.ValidationError. The rule that depends on options (plain http://
// only with notify.WithAllowPrivateNetworks) is left to New.
func (c Config) Validate() error {
	_, err := c.compile(time.Now())
	return err
}

// compiled is what a valid Config turns into: everything New needs, parsed
// once by the same step that validates, so that New cannot fail on what
// Validate accepted.
type compiled struct {
	method   string
	header   http.Header // the custom headers, the last of a repeated name winning
	pattern  *pattern    // nil: the body is the Event as JSON
	jsonBody bool        // the body goes out as JSON, so a rendered pattern must be JSON
	key      []byte      // the signing key; nil when not signing
	tls      *tls.Config // nil when protocol tcp without ca_cert needs none
}

// compile checks every field (client certificates against now) and
// returns the parsed configuration, or every bad field at once.
func (c Config) compile(now time.Time) (*compiled, error) {
	var errs validate.Errors
	out := &compiled{}
	errs.CheckName("name", c.Name)

	method, methodOK := c.method()
	if !methodOK {
		errs.Addf("method", "must be one of %s (got %q)", strings.Join(methods, ", "), text.Truncate(c.Method, 20))
	}
	out.method = method
	protocol := c.protocol()
	if protocol != ProtocolTCP && protocol != ProtocolTLS {
		errs.Addf("protocol", "must be %q or %q (got %q)", ProtocolTCP, ProtocolTLS, text.Truncate(string(c.Protocol), 20))
	}

	scheme := c.checkURL(&errs, protocol)

	var clientCert *tls.Certificate
	switch protocol {
	case ProtocolTLS:
		if pair, ok := parseClientCert(&errs, c.ClientCert, c.ClientKey, now); ok {
			clientCert = &pair
		}
	case ProtocolTCP:
		if c.ClientCert != "" {
			errs.Add("client_cert", `is used only with protocol "tls" (mutual TLS): remove it or switch the protocol`)
		}
		if !c.ClientKey.IsZero() {
			errs.Add("client_key", `is used only with protocol "tls" (mutual TLS): remove it or switch the protocol`)
		}
	}
	var roots *x509.CertPool
	if c.CACert != "" {
		pool, err := parseCAPool(c.CACert)
		switch {
		case err != nil:
			errs.Add("ca_cert", err.Error())
		case scheme == "http":
			errs.Add("ca_cert", "is used only with an https:// URL")
		default:
			roots = pool
		}
	}
	out.tls = tlsConfig(clientCert, roots)

	out.header = c.checkHeaders(&errs)
	ct := out.header.Get("Content-Type")
	out.jsonBody = hasBody(method) && (ct == "" || isJSONContentType(ct))
	out.pattern = c.checkPattern(&errs, method, methodOK, out.jsonBody)

	if !c.SigningSecret.IsZero() {
		if errs.CheckSecret("signing_secret", c.SigningSecret, false) {
			key, err := decodeSecret(c.SigningSecret.Reveal(), true)
			if err != nil {
				errs.Add("signing_secret", err.Error())
			}
			out.key = key
		}
	}
	for i, t := range c.Events {
		if err := t.Validate(); err != nil {
			errs.Add(fmt.Sprintf("events[%d]", i), err.Error())
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// methods are the HTTP methods the console offers.
var methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodGet, http.MethodDelete}

// method returns the upper-cased method, POST when empty.
func (c Config) method() (string, bool) {
	if c.Method == "" {
		return http.MethodPost, true
	}
	m := strings.ToUpper(c.Method)
	return m, slices.Contains(methods, m)
}

// hasBody reports whether requests with method m carry the event. GET and
// DELETE do not: RFC 9110 gives content in them no meaning and many servers
// and proxies drop or refuse it.
func hasBody(m string) bool { return m != http.MethodGet && m != http.MethodDelete }

// protocol returns the lower-cased protocol, tcp when empty.
func (c Config) protocol() Protocol {
	if c.Protocol == "" {
		return ProtocolTCP
	}
	return Protocol(strings.ToLower(string(c.Protocol)))
}

// checkURL records URL errors and returns the scheme of a URL that parsed.
func (c Config) checkURL(errs *validate.Errors, protocol Protocol) string {
	switch {
	case strings.TrimSpace(c.URL) == "":
		errs.Add("url", "is required")
		return ""
	case len(c.URL) > maxURLBytes:
		errs.Addf("url", "must be at most %d bytes", maxURLBytes)
		return ""
	}
	// allowPrivate=true: whether http:// to a private address is allowed
	// depends on New's options; http:// to a public host never is.
	u, err := guard.CheckURL(c.URL, true)
	if err != nil {
		errs.Add("url", err.Error())
		return ""
	}
	if protocol == ProtocolTLS && u.Scheme != "https" {
		errs.Add("url", `must use https with protocol "tls" (mutual TLS)`)
	}
	return u.Scheme
}

// restrictedHeaders are refused at config time, with the reason given in
// the error. Canonical names.
var restrictedHeaders = map[string]string{
	// Hop-by-hop (RFC 9110 §7.6.1): they describe one connection, and the
	// transport writes its own.
	"Connection":          "is a hop-by-hop header managed by the HTTP transport",
	"Keep-Alive":          "is a hop-by-hop header managed by the HTTP transport",
	"Proxy-Connection":    "is a hop-by-hop header managed by the HTTP transport",
	"Te":                  "is a hop-by-hop header managed by the HTTP transport",
	"Trailer":             "is a hop-by-hop header managed by the HTTP transport",
	"Transfer-Encoding":   "is managed by the HTTP transport",
	"Upgrade":             "is a hop-by-hop header managed by the HTTP transport",
	"Host":                "is set from the URL (put the host in the URL)",
	"Content-Length":      "is computed from the body by the HTTP transport",
	"Expect":              "is managed by the HTTP transport",
	"Accept-Encoding":     "is managed by the HTTP transport (it negotiates compression itself)",
	"Content-Encoding":    "would misdescribe the body, which is sent unencoded",
	"Webhook-Id":          "is reserved for Standard Webhooks signing (the library sets it)",
	"Webhook-Timestamp":   "is reserved for Standard Webhooks signing (the library sets it)",
	"Webhook-Signature":   "is reserved for Standard Webhooks signing (the library sets it)",
	"Proxy-Authorization": "is for proxies, and the webhook client uses none",
	"Proxy-Authenticate":  "is for proxies, and the webhook client uses none",
}

// checkHeaders records header errors and returns the headers that would be
// sent, the last of a repeated name winning.
func (c Config) checkHeaders(errs *validate.Errors) http.Header {
	h := make(http.Header, len(c.Headers))
	if len(c.Headers) > MaxHeaders {
		errs.Addf("headers", "must hold at most %d headers (it has %d)", MaxHeaders, len(c.Headers))
	}
	total := 0
	for i, hd := range c.Headers {
		nameField := fmt.Sprintf("headers[%d].name", i)
		valueField := fmt.Sprintf("headers[%d].value", i)
		total += len(hd.Name) + len(hd.Value.Reveal())
		nameOK := true
		switch {
		case hd.Name == "":
			errs.Add(nameField, "is required")
			nameOK = false
		case !isToken(hd.Name):
			errs.Addf(nameField, "%q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)",
				text.Truncate(strings.ToValidUTF8(hd.Name, "?"), 40))
			nameOK = false
		default:
			canon := http.CanonicalHeaderKey(hd.Name)
			if why, bad := restrictedHeaders[canon]; bad {
				errs.Addf(nameField, "%s %s", canon, why)
				nameOK = false
			} else if strings.HasPrefix(canon, "Proxy-") {
				errs.Addf(nameField, "%s is for proxies, and the webhook client uses none", canon)
				nameOK = false
			}
		}
		if errs.CheckSecret(valueField, hd.Value, false) && nameOK {
			h.Set(hd.Name, hd.Value.Reveal())
		}
	}
	if total > MaxHeaderBytes {
		errs.Addf("headers", "must total at most %d bytes of names and values (they have %d)", MaxHeaderBytes, total)
	}
	return h
}

// isToken reports whether s is an RFC 9110 token (a valid header name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// isJSONContentType reports whether ct names JSON (application/json or a
// +json type such as application/cloudevents+json).
func isJSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// checkPattern records body_pattern errors and returns the parsed pattern
// (nil when there is none or it is bad): too long, does not parse, uses
// what the renderer refuses, fails on a sample event, or (when the body is
// sent as JSON) renders invalid JSON for a sample event full of quotes,
// backslashes and line breaks.
func (c Config) checkPattern(errs *validate.Errors, method string, methodOK, jsonBody bool) *pattern {
	if c.BodyPattern == "" {
		return nil
	}
	if methodOK && !hasBody(method) {
		errs.Addf("body_pattern", "is not used with %s, which sends no body: remove it or use POST, PUT or PATCH", method)
		return nil
	}
	p, err := parsePattern(c.BodyPattern)
	if err != nil {
		errs.Add("body_pattern", err.Error())
		return nil
	}
	body, err := p.render(sampleEvent)
	if err != nil {
		errs.Add("body_pattern", "fails on a sample event: "+err.Error())
		return nil
	}
	if jsonBody {
		if err := checkJSON(body); err != nil {
			errs.Add("body_pattern", "renders invalid JSON for a sample event whose text holds quotes, backslashes and "+
				`line breaks (pass every value through json, as in {"title": {{json .Title}}}): `+err.Error())
			return nil
		}
	}
	return p
}

// decodeSecret returns the HMAC key of a Standard Webhooks secret. With
// strict, the whsec_ prefix is required and the key must be 24 to 64 bytes;
// otherwise (Verify, on a receiver's secret) the prefix is optional and any
// non-empty key is taken. Errors never repeat the secret.
func decodeSecret(s string, strict bool) ([]byte, error) {
	rest, hadPrefix := strings.CutPrefix(s, SecretPrefix)
	if strict && !hadPrefix {
		return nil, fmt.Errorf("must start with %q (a Standard Webhooks secret)", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("must be %q followed by standard base64", SecretPrefix)
	}
	switch {
	case len(key) == 0:
		return nil, fmt.Errorf("holds an empty key")
	case strict && (len(key) < minSecretBytes || len(key) > maxSecretBytes):
		return nil, fmt.Errorf("must encode %d to %d random bytes (it encodes %d)", minSecretBytes, maxSecretBytes, len(key))
	}
	return key, nil
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
