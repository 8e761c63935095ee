package email_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func secret(s string) notify.Secret { return notify.Secret(s) }

// validConfig is the full valid fixture of the Validate table: the
// console's form.
func validConfig() email.Config {
	return email.Config{Name: "SOC mail", To: []string{"SOC Team <soc@example.com>", "oncall@example.com"}}
}

// validRelay is the full valid fixture of the relay's table.
func validRelay() email.Relay {
	return email.Relay{Host: "smtp.example.com", Port: 587, Username: "alerts", Password: secret("s3cret-Passw0rd!"),
		TLS: email.TLSStartTLS, From: "Code Defender <alerts@example.com>"}
}

func testEvent() notify.Event {
	return notify.Event{
		ID:          "evt-123",
		Type:        notify.EventIncident,
		Title:       "New script on checkout",
		Description: "A script from cdn.example.net started reading the card form.",
		Risk:        notify.RiskHigh,
		Time:        time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		URL:         "https://console.codedefender.example/incidents/evt-123",
		Source:      "shop.example.com",
		Tags:        []string{"pci", "checkout"},
		Details:     map[string]string{"script": "https://cdn.example.net/x.js", "page": "/checkout"},
	}
}

// target is what a notifier is built from: the console's config and the
// operator's relay.
type target struct {
	Config email.Config
	Relay  email.Relay
}

// new builds the target's notifier with the relay and opts.
func (tg target) new(opts ...notify.Option) (*email.Notifier, error) {
	return email.New(tg.Config, append([]notify.Option{email.WithRelay(tg.Relay)}, opts...)...)
}

// newNotifier builds a notifier for a loopback test server that trusts the
// test certificate, logging into the returned buffer.
func newNotifier(t *testing.T, tg target, opts ...notify.Option) (*email.Notifier, *notifytest.LogBuffer) {
	t.Helper()
	logger, logs := notifytest.NewLogger()
	opts = append([]notify.Option{notify.WithAllowPrivateNetworks(), email.WithTLSConfig(clientTLS()),
		notify.WithLogger(logger)}, opts...)
	n, err := tg.new(opts...)
	require.NoError(t, err)
	return n, logs
}

func TestConfigValidate(t *testing.T) {
	fiftyOne := make([]string, email.MaxRecipients+1)
	for i := range fiftyOne {
		fiftyOne[i] = fmt.Sprintf("soc%d@example.com", i)
	}
	with := func(edit func(*email.Config)) email.Config {
		c := validConfig()
		edit(&c)
		return c
	}
	testkit.RunValidate(t, []testkit.ValidateCase[email.Config]{
		{Name: "valid", Config: validConfig()},
		{Name: "fifty recipients", Config: with(func(c *email.Config) { c.To = nil; addN(&c.To, 50) })},
		{Name: "no name", Config: with(func(c *email.Config) { c.Name = "" }), Fields: []string{"name"}, Schema: true},
		{Name: "no recipients", Config: with(func(c *email.Config) { c.To = nil }), Fields: []string{"to"}, Schema: true},
		{Name: "too many recipients", Config: with(func(c *email.Config) { c.To = fiftyOne }), Fields: []string{"to"}, Schema: true},
		{Name: "bad recipient", Config: with(func(c *email.Config) { c.To[1] = "not an address" }), Fields: []string{"to[1]"}},
		{Name: "two addresses in one entry", Config: with(func(c *email.Config) { c.To[0] = "a@example.com, b@example.com" }),
			Fields: []string{"to[0]"}},
		{Name: "empty recipient", Config: with(func(c *email.Config) { c.To[0] = " " }), Fields: []string{"to[0]"}},
		{Name: "header injection in to", Config: with(func(c *email.Config) { c.To[0] = "soc@example.com\r\nBcc: evil@example.net" }),
			Fields: []string{"to[0]"}},
		{Name: "duplicate recipient, other case", Config: with(func(c *email.Config) {
			c.To = []string{"soc@example.com", "x@example.com", "Someone <SOC@Example.COM>"}
		}), Fields: []string{"to[2]"}},
		{Name: "everything at once", Config: email.Config{To: []string{"x", "y@example.com", "Y@example.com"}},
			Fields: []string{"name", "to[0]", "to[2]"}},
	}, nil)

	// The messages say what to do.
	for _, tc := range []struct {
		edit func(*email.Config)
		says string
	}{
		{func(c *email.Config) { c.To = nil }, "at least one"},
		{func(c *email.Config) { c.To = fiftyOne }, "at most 50"},
		{func(c *email.Config) { c.To[0] = "a@example.com, b@example.com" }, "its own entry"},
		{func(c *email.Config) { c.To[0] = "soc@example.com\nBcc: x@example.net" }, "line breaks"},
		{func(c *email.Config) { c.To[1] = "SOC@example.com" }, "repeats to[0]"},
		{func(c *email.Config) { c.To[1] = "nope" }, "not an email address"},
	} {
		require.ErrorContains(t, with(tc.edit).Validate(), tc.says)
	}
}

func TestRelayValidate(t *testing.T) {
	with := func(edit func(*email.Relay)) email.Relay {
		r := validRelay()
		edit(&r)
		return r
	}
	secrets := func(r email.Relay) []notify.Secret {
		if r.Password.IsMasked() {
			return []notify.Secret{validRelay().Password}
		}
		return []notify.Secret{r.Password, validRelay().Password}
	}
	testkit.RunValidate(t, []testkit.ValidateCase[email.Relay]{
		{Name: "valid", Config: validRelay()},
		{Name: "implicit on 465", Config: with(func(r *email.Relay) { r.Port, r.TLS = 465, email.TLSImplicit })},
		{Name: "empty tls on 465", Config: with(func(r *email.Relay) { r.Port, r.TLS = 465, "" })},
		{Name: "empty tls and port", Config: with(func(r *email.Relay) { r.Port, r.TLS = 0, "" })},
		{Name: "starttls on 25", Config: with(func(r *email.Relay) { r.Port = 25 })},
		{Name: "implicit on a custom port", Config: with(func(r *email.Relay) { r.Port, r.TLS = 2465, email.TLSImplicit })},
		{Name: "none to localhost", Config: with(func(r *email.Relay) { r.Host, r.Port, r.TLS = "localhost", 1025, email.TLSNone })},
		{Name: "none to ::1", Config: with(func(r *email.Relay) { r.Host, r.Port, r.TLS = "::1", 25, email.TLSNone })},
		{Name: "no authentication", Config: with(func(r *email.Relay) { r.Username, r.Password = "", "" })},
		{Name: "IP address host", Config: with(func(r *email.Relay) { r.Host = "192.0.2.10" })},
		{Name: "timeout set", Config: with(func(r *email.Relay) { r.Timeout = 30 * time.Second })},
		{Name: "host name with trailing dot", Config: with(func(r *email.Relay) { r.Host = "smtp.example.com." })},
		{Name: "bare from", Config: with(func(r *email.Relay) { r.From = "alerts@example.com" })},

		{Name: "no host", Config: with(func(r *email.Relay) { r.Host = "" }), Fields: []string{"relay.host"}},
		{Name: "host is a URL", Config: with(func(r *email.Relay) { r.Host = "smtps://smtp.example.com" }), Fields: []string{"relay.host"}},
		{Name: "host with port", Config: with(func(r *email.Relay) { r.Host = "smtp.example.com:587" }), Fields: []string{"relay.host"}},
		{Name: "host with bad characters", Config: with(func(r *email.Relay) { r.Host = "smtp_example!.com" }), Fields: []string{"relay.host"}},
		{Name: "port out of range", Config: with(func(r *email.Relay) { r.Port = 70000 }), Fields: []string{"relay.port"}},
		{Name: "unknown tls", Config: with(func(r *email.Relay) { r.TLS = "ssl" }), Fields: []string{"relay.tls"}},
		{Name: "465 with starttls", Config: with(func(r *email.Relay) { r.Port, r.TLS = 465, email.TLSStartTLS }), Fields: []string{"relay.tls"}},
		{Name: "587 with implicit", Config: with(func(r *email.Relay) { r.Port, r.TLS = 587, email.TLSImplicit }), Fields: []string{"relay.tls"}},
		{Name: "25 with implicit", Config: with(func(r *email.Relay) { r.Port, r.TLS = 25, email.TLSImplicit }), Fields: []string{"relay.tls"}},
		{Name: "none to a remote host", Config: with(func(r *email.Relay) { r.TLS = email.TLSNone }), Fields: []string{"relay.tls"}},
		{Name: "none without a port", Config: with(func(r *email.Relay) { r.Host, r.Port, r.TLS = "127.0.0.1", 0, email.TLSNone }),
			Fields: []string{"relay.port"}},
		{Name: "username without password", Config: with(func(r *email.Relay) { r.Password = "" }), Fields: []string{"relay.password"}},
		{Name: "password without username", Config: with(func(r *email.Relay) { r.Username = "" }), Fields: []string{"relay.username"}},
		{Name: "masked password", Config: with(func(r *email.Relay) { r.Password = notify.Redacted }), Fields: []string{"relay.password"}},
		{Name: "password with a line break", Config: with(func(r *email.Relay) { r.Password = "pass\r\nword-123" }),
			Fields: []string{"relay.password"}},
		{Name: "no from", Config: with(func(r *email.Relay) { r.From = "" }), Fields: []string{"relay.from"}},
		{Name: "bad from", Config: with(func(r *email.Relay) { r.From = "alerts" }), Fields: []string{"relay.from"}},
		{Name: "header injection in from", Config: with(func(r *email.Relay) { r.From = "a@example.com\nSubject: x" }),
			Fields: []string{"relay.from"}},
		{Name: "negative timeout", Config: with(func(r *email.Relay) { r.Timeout = -time.Second }), Fields: []string{"relay.timeout"}},
		{Name: "timeout too long", Config: with(func(r *email.Relay) { r.Timeout = email.MaxRelayTimeout + time.Second }),
			Fields: []string{"relay.timeout"}},
		{Name: "everything at once", Config: email.Relay{Port: 465, TLS: email.TLSStartTLS, Password: "x-password-123", From: "y"},
			Fields: []string{"relay.host", "relay.tls", "relay.username", "relay.from"}},
	}, secrets)

	for _, tc := range []struct {
		edit func(*email.Relay)
		says string
	}{
		{func(r *email.Relay) { r.Port, r.TLS = 465, email.TLSStartTLS }, `use TLS "implicit" (smtps://)`},
		{func(r *email.Relay) { r.TLS = email.TLSNone }, "loopback"},
		{func(r *email.Relay) { r.Password = notify.Redacted }, "mask"},
		{func(r *email.Relay) { r.Host = "smtps://smtp.example.com" }, "not a URL"},
	} {
		err := with(tc.edit).Validate()
		require.ErrorContains(t, err, tc.says)
		notifytest.AssertNoSecret(t, err, validRelay().Password)
	}
}

func TestNewNeedsARelay(t *testing.T) {
	_, err := email.New(validConfig())
	require.ErrorIs(t, err, email.ErrNoRelay)
	require.ErrorContains(t, err, "email.WithRelay")

	// A bad relay is a field error, the password never in it.
	r := validRelay()
	r.Port, r.TLS = 465, email.TLSStartTLS
	r.From = "not an address"
	_, err = email.New(validConfig(), email.WithRelay(r))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []string{"relay.tls", "relay.from"}, notifytest.FieldsOf(err))
	notifytest.AssertNoSecret(t, err, r.Password)

	// The config is checked first, and on its own terms.
	_, err = email.New(email.Config{Name: "x"}, email.WithRelay(validRelay()))
	require.Equal(t, []string{"to"}, notifytest.FieldsOf(err))

	// The last relay given wins, as with every option.
	other := validRelay()
	other.Host = "smtp.other.example"
	n, err := email.New(validConfig(), email.WithRelay(r), email.WithRelay(other))
	require.NoError(t, err)
	require.NoError(t, n.Validate())
}

// A registry passes the relay to email alone, through notify.ForType.
func TestFromJSONThroughARegistry(t *testing.T) {
	reg := &notify.Registry{}
	require.NoError(t, reg.Register(email.Type, email.FromJSON))
	relay := notify.ForType(email.Type, email.WithRelay(validRelay()))

	n, err := reg.Build([]byte(`{"type":"email","config":{"name":"SOC mail","to":["soc@example.com"]}}`), relay)
	require.NoError(t, err)
	require.Equal(t, `email("SOC mail")`, fmt.Sprint(n))

	_, err = reg.Build([]byte(`{"type":"email","config":{"name":"SOC mail","to":["soc@example.com"]}}`))
	require.ErrorIs(t, err, email.ErrNoRelay)
}

func TestFromJSON(t *testing.T) {
	relay := email.WithRelay(validRelay())
	raw := `{"name":"SOC mail","to":["soc@example.com","SOC <soc2@example.com>"]}`
	n, err := email.FromJSON(json.RawMessage(raw), relay)
	require.NoError(t, err)
	require.Equal(t, `email("SOC mail")`, fmt.Sprint(n))

	_, err = email.FromJSON(json.RawMessage(`{"name":"SOC mail","to":"soc@example.com"}`), relay)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("to"), err.Error())

	// A config stored before the relay moved to the operator still names
	// its sender and server: an unknown field, as any other.
	for field, old := range map[string]string{
		"from": `{"name":"SOC mail","to":["soc@example.com"],"from":"alerts@example.com"}`,
		"smtp": `{"name":"SOC mail","to":["soc@example.com"],"smtp":{"host":"smtp.example.com","password":"s3cret-Passw0rd!"}}`,
	} {
		_, err := email.FromJSON(json.RawMessage(old), relay)
		require.ErrorAs(t, err, &ve, field)
		require.True(t, ve.Has(field), err.Error())
		require.ErrorContains(t, err, "is not a known field")
		notifytest.AssertNoSecret(t, err, secret("s3cret-Passw0rd!"))
	}
}

func TestNewAppliesTheNetworkGuard(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost", "10.1.2.3", "::1"} {
		r := validRelay()
		r.Host = host
		_, err := email.New(validConfig(), email.WithRelay(r))
		var ve *notify.ValidationError
		require.ErrorAs(t, err, &ve, host)
		require.True(t, ve.Has("relay.host"), err.Error())
		require.Contains(t, err.Error(), "WithAllowPrivateNetworks")

		_, err = email.New(validConfig(), email.WithRelay(r), notify.WithAllowPrivateNetworks())
		require.NoError(t, err, host)
	}
	// Metadata and link-local addresses stay refused with the option.
	r := validRelay()
	r.Host = "169.254.169.254"
	_, err := email.New(validConfig(), email.WithRelay(r), notify.WithAllowPrivateNetworks())
	require.ErrorContains(t, err, "relay.host")
}

func TestParseRelayURL(t *testing.T) {
	pw := secret("p@ss:w/rd-123")
	good := map[string]email.Relay{
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:587?from=alerts@example.com": {Host: "smtp.example.com",
			Port: 587, Username: "alerts", Password: pw, TLS: email.TLSStartTLS, From: "alerts@example.com"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com?from=Code%20Defender%20%3Calerts@example.com%3E&timeout=30s": {
			Host: "smtp.example.com", Username: "alerts", Password: pw, TLS: email.TLSStartTLS,
			From: "Code Defender <alerts@example.com>", Timeout: 30 * time.Second},
		"smtps://alerts%40example.com:p%40ss%3Aw%2Frd-123@smtp.example.com:465/?from=alerts@example.com": {
			Host: "smtp.example.com", Port: 465, Username: "alerts@example.com", Password: pw, TLS: email.TLSImplicit,
			From: "alerts@example.com"},
		"SMTPS://smtp.example.com?from=alerts@example.com": {Host: "smtp.example.com", TLS: email.TLSImplicit,
			From: "alerts@example.com"},
		"smtp+plain://127.0.0.1:1025?from=alerts@example.com": {Host: "127.0.0.1", Port: 1025, TLS: email.TLSNone,
			From: "alerts@example.com"},
		"smtp+plain://[::1]:25?from=alerts@example.com": {Host: "::1", Port: 25, TLS: email.TLSNone, From: "alerts@example.com"},
	}
	for u, want := range good {
		got, err := email.ParseRelayURL(u)
		require.NoError(t, err, u)
		require.Equal(t, want, got, u)
	}

	bad := map[string][]string{
		"": {"relay"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:587":                             {"relay.from"},
		"http://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com?from=a@example.com":              {"relay.tls"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:465?from=a@example.com":          {"relay.tls"},
		"smtps://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:587?from=a@example.com":         {"relay.tls"},
		"smtp+plain://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:25?from=a@example.com":     {"relay.tls"},
		"smtp+plain://127.0.0.1?from=a@example.com":                                          {"relay.port"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:99999?from=a@example.com":        {"relay.port"},
		"smtp://alerts@smtp.example.com?from=a@example.com":                                  {"relay.password"},
		"smtp://alerts:%5BREDACTED%5D@smtp.example.com?from=a@example.com":                   {"relay.password"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com?from=a@example.com&timeout=soon": {"relay.timeout"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com?from=a@example.com&tls=none":     {"relay"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com/inbox?from=a@example.com":        {"relay"},
		"smtp://alerts:p@ss:w/rd-123@smtp.example.com?from=a@example.com":                    {"relay"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@smtp.example.com:587x?from=a@example.com":         {"relay"},
		"smtp://alerts:p%40ss%3Aw%2Frd-123@?from=a@example.com":                              {"relay.host"},
	}
	for u, fields := range bad {
		_, err := email.ParseRelayURL(u)
		require.Error(t, err, u)
		require.Equal(t, fields, notifytest.FieldsOf(err), "%s: %v", u, err)
		notifytest.AssertNoSecret(t, err, pw, secret("p%40ss%3Aw%2Frd-123"), secret("p@ss:w/rd-123@smtp"))
		if u != "" {
			require.NotContains(t, err.Error(), u, "the URL is never repeated")
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	r := validRelay()
	pw := r.Password
	c := validConfig()
	n, err := email.New(c, email.WithRelay(r))
	require.NoError(t, err)
	for _, v := range []any{c, &c, r, &r, n} {
		notifytest.AssertNoSecret(t, fmt.Sprintf("%v %+v %#v %s %q", v, v, v, v, v), pw)
	}
	require.Equal(t, `email("SOC mail")`, fmt.Sprintf("%+v", n))
	require.Equal(t, "smtp://alerts@smtp.example.com:587 (starttls, from Code Defender <alerts@example.com>)", r.String())
	require.Equal(t, r.String(), fmt.Sprintf("%+v", r))
	require.Equal(t, `email.Relay{Host:"smtp.example.com", Port:587, Username:"alerts", Password:"[REDACTED]", `+
		`TLS:"starttls", From:"Code Defender <alerts@example.com>", Timeout:0}`, fmt.Sprintf("%#v", r))

	logger, logs := notifytest.NewLogger()
	logger.Info("relay", "relay", r)
	notifytest.AssertNoSecret(t, logs.String(), pw)
	require.Contains(t, logs.String(), "smtp.example.com")

	b, err := json.Marshal(r)
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, pw)
}

// parsed is a received message read back with net/mail and mime/multipart.
type parsed struct {
	Header mail.Header
	Raw    []byte
	Text   string
	HTML   string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(m.Body, params["boundary"])

	out := parsed{Header: m.Header, Raw: data}
	for i, want := range []string{"text/plain", "text/html"} {
		p, err := mr.NextPart()
		require.NoError(t, err, "part %d", i)
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		require.Equal(t, want, ct, "part %d: plain text first, then HTML", i)
		require.Equal(t, "UTF-8", strings.ToUpper(ctParams["charset"]))
		body, err := io.ReadAll(p) // NextPart decodes quoted-printable
		require.NoError(t, err)
		if i == 0 {
			out.Text = string(body)
		} else {
			out.HTML = string(body)
		}
	}
	_, err = mr.NextPart()
	require.ErrorIs(t, err, io.EOF, "exactly two parts")
	return out
}

func TestSendOverSTARTTLS(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, logs := newNotifier(t, s.Config(email.TLSStartTLS))

	before := time.Now().Truncate(time.Second)
	r, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	after := time.Now()
	require.Equal(t, "<cd-evt-123@example.com>", r.ID)
	require.Empty(t, r.URL)

	msgs := s.Messages()
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.True(t, got.TLS, "the message travelled inside TLS")
	require.Equal(t, "alerts", got.User)
	require.Equal(t, "alerts@example.com", got.From)
	require.Equal(t, []string{"soc@example.com", "oncall@example.com"}, got.To)

	p := parse(t, got.Data)
	h := p.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "[HIGH] New script on checkout", subject)
	require.Equal(t, r.ID, h.Get("Message-Id"))
	require.Equal(t, "1.0", h.Get("Mime-Version"))
	date, err := h.Date()
	require.NoError(t, err)
	require.False(t, date.Before(before) || date.After(after), "Date %s is the time of sending", date)

	from, err := h.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Code Defender", Address: "alerts@example.com"}}, from)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "SOC Team", Address: "soc@example.com"}, {Address: "oncall@example.com"}}, to)
	require.Equal(t, "evt-123", h.Get("X-Codedefender-Event-Id"))
	require.Equal(t, "high", h.Get("X-Codedefender-Risk"))
	require.Equal(t, "incident", h.Get("X-Codedefender-Event-Type"))
	require.Equal(t, "bulk", h.Get("Precedence"))
	require.Equal(t, notify.DefaultUserAgent, h.Get("User-Agent"))
	for _, name := range []string{"Subject", "Date", "Message-Id", "From", "To"} {
		require.Equal(t, 1, countHeader(got.Data, name), name)
	}

	require.Equal(t, `[HIGH] New script on checkout

A script from cdn.example.net started reading the card form.

Risk:    HIGH
Type:    Incident
Source:  shop.example.com
Time:    2026-01-01 00:00:00 UTC
Event:   evt-123
Tags:    pci, checkout

Details
  page: /checkout
  script: https://cdn.example.net/x.js

Open in Code Defender: https://console.codedefender.example/incidents/evt-123
`, strings.ReplaceAll(p.Text, "\r\n", "\n"))

	for _, want := range []string{
		"background-color:#D93F0B", // Risk.Color for high
		"<h1 style=\"margin:0 0 12px 0;font-size:20px\">New script on checkout</h1>",
		"A script from cdn.example.net started reading the card form.",
		"shop.example.com", "2026-01-01 00:00:00 UTC",
		">page</th>", ">/checkout</td>", ">script</th>", ">https://cdn.example.net/x.js</td>",
		`<a href="https://console.codedefender.example/incidents/evt-123"`, "Open in Code Defender</a>",
	} {
		require.Contains(t, p.HTML, want)
	}
	notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
	require.Contains(t, logs.String(), "email: sent")
}

func TestSendOverImplicitTLS(t *testing.T) {
	s := startSMTP(t, modeImplicit, nil)
	n, _ := newNotifier(t, s.Config(email.TLSImplicit))
	r, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)

	msgs := s.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Equal(t, "alerts", msgs[0].User)
	require.Equal(t, r.ID, parse(t, msgs[0].Data).Header.Get("Message-Id"))
}

func TestSendWithoutTLSToLoopback(t *testing.T) {
	s := startSMTP(t, modePlain, nil)
	n, _ := newNotifier(t, s.Config(email.TLSNone))
	_, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	msgs := s.Messages()
	require.Len(t, msgs, 1)
	require.False(t, msgs[0].TLS)
	require.Equal(t, "alerts", msgs[0].User, "AUTH in plain text only because the host is loopback and tls is none")
}

func TestSendToAnIPv6Host(t *testing.T) {
	// go-mail formats host:port without the brackets IPv6 needs; the
	// notifier dials the address itself.
	s := startSMTP(t, modeImplicit, func(s *smtpServer) { s.ListenHost = "::1" })
	n, _ := newNotifier(t, s.Config(email.TLSImplicit))
	_, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Len(t, s.Messages(), 1)
}

func TestSendWithoutAuthentication(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	c := s.Config(email.TLSStartTLS)
	c.Relay.Username, c.Relay.Password = "", ""
	n, _ := newNotifier(t, c)
	_, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	msgs := s.Messages()
	require.Len(t, msgs, 1)
	require.Empty(t, msgs[0].User)
	require.True(t, msgs[0].TLS, "STARTTLS even without AUTH")
}

func TestAuthLoginWhenPlainIsNotOffered(t *testing.T) {
	s := startSMTP(t, modeStartTLS, func(s *smtpServer) { s.Mechs = []string{sasl.Login} })
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	_, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Contains(t, s.Events(), "AUTH LOGIN alerts")
	require.Len(t, s.Messages(), 1)
}

func TestResendKeepsTheMessageID(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	e := testEvent()
	r1, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	r2, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	e.ID = "evt:124"
	r3, err := n.Send(context.Background(), e)
	require.NoError(t, err)

	require.Equal(t, r1.ID, r2.ID)
	require.Equal(t, "<cd-evt+124@example.com>", r3.ID, "':' is not allowed in a Message-ID")
	msgs := s.Messages()
	require.Len(t, msgs, 3)
	for i, r := range []notify.Receipt{r1, r2, r3} {
		require.Equal(t, r.ID, parse(t, msgs[i].Data).Header.Get("Message-Id"))
	}
}

func TestConcurrentSends(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	const sends = 4
	var wg sync.WaitGroup
	errs := make([]error, sends)
	for i := range sends {
		wg.Go(func() {
			e := testEvent()
			e.ID = fmt.Sprintf("evt-%d", i)
			_, errs[i] = n.Send(context.Background(), e)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, s.Messages(), sends)
}

func TestSubjectWithLineBreaksAndNonASCII(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	e := testEvent()
	e.Risk = notify.RiskCritical
	e.Title = "Skript geändert\r\nBcc: evil@example.net\n\tüber ☕ 🚨"
	_, err := n.Send(context.Background(), e)
	require.NoError(t, err)

	data := s.Messages()[0].Data
	require.Equal(t, 1, countHeader(data, "Subject"))
	require.Equal(t, 0, countHeader(data, "Bcc"), "no header was injected")
	head := headerBlock(data)
	for i := range len(head) {
		require.Less(t, head[i], byte(0x80), "headers are 7-bit ASCII")
	}
	h := parse(t, data).Header
	require.Contains(t, h.Get("Subject"), "=?UTF-8?q?", "RFC 2047 encoded words")
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "[CRITICAL] Skript geändert Bcc: evil@example.net über ☕ 🚨", subject)
}

func TestHTMLPartEscapesEveryEventString(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	e := testEvent()
	e.Title = `<script>alert("t")</script> & co`
	e.Description = `<img src=x onerror=alert(1)>`
	e.Source = `shop<br>.example.com`
	e.Tags = []string{`<u>tag</u>`}
	e.Details = map[string]string{`<b>key</b>`: `<i>value</i>`}
	e.URL = `https://console.example/x?a=1&b="><script>`
	_, err := n.Send(context.Background(), e)
	require.NoError(t, err)

	p := parse(t, s.Messages()[0].Data)
	for _, bad := range []string{"<script", "<img", "<br>", "<u>", "<b>", "<i>"} {
		require.NotContains(t, p.HTML, bad)
	}
	for _, escaped := range []string{"&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &amp; co", "&lt;img src=x onerror=alert(1)&gt;",
		"shop&lt;br&gt;.example.com", "&lt;u&gt;tag&lt;/u&gt;", "&lt;b&gt;key&lt;/b&gt;", "&lt;i&gt;value&lt;/i&gt;"} {
		require.Contains(t, p.HTML, escaped)
	}
	require.Contains(t, p.HTML, `<a href="https://console.example/x?a=1&amp;b=%22%3e%3cscript%3e"`)
	require.Contains(t, p.Text, `<script>alert("t")</script> & co`, "plain text stays as written")
}

func TestZeroNotifierDoesNotPanic(t *testing.T) {
	var n email.Notifier
	require.Error(t, n.Test(context.Background()))
	_, err := n.Send(context.Background(), testEvent())
	require.Error(t, err)
}

func TestSendRefusesAnInvalidEventBeforeConnecting(t *testing.T) {
	l := startStalling(t)
	n, _ := newNotifier(t, target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
		Relay: email.Relay{Host: l.Host, Port: l.Port, TLS: email.TLSNone, From: "alerts@example.com"}})
	_, err := n.Send(context.Background(), notify.Event{Title: "no id"})
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("id"))
	require.Zero(t, l.Accepted())
}

func TestTestChecksEveryRecipientAndSendsNothing(t *testing.T) {
	t.Run("starttls", func(t *testing.T) {
		s := startSMTP(t, modeStartTLS, nil)
		n, logs := newNotifier(t, s.Config(email.TLSStartTLS))
		require.NoError(t, n.Test(context.Background()))
		require.Empty(t, s.Messages())

		ev := s.Events()
		require.Contains(t, ev, "AUTH PLAIN alerts")
		require.NotContains(t, ev, "DATA")
		i := indexOf(ev, "MAIL alerts@example.com")
		require.GreaterOrEqual(t, i, 0, ev)
		require.Equal(t, []string{"MAIL alerts@example.com", "RCPT soc@example.com", "RCPT oncall@example.com"},
			ev[i:i+3], "MAIL FROM, RCPT TO each")
		require.Regexp(t, `^RCPT cd-no-such-recipient-[0-9a-f]{16}@example\.com$`, ev[i+3], "the probe")
		require.Equal(t, "RESET", ev[i+4])
		require.Contains(t, logs.String(), "email: test passed")
		notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
	})
	t.Run("the exchange on the wire", func(t *testing.T) {
		s := startSMTP(t, modePlain, nil)
		c := s.Config(email.TLSNone)
		c.Relay.Username, c.Relay.Password = "", ""
		n, _ := newNotifier(t, c)
		require.NoError(t, n.Test(context.Background()))
		lines := s.ClientLines()
		require.NotEmpty(t, lines)
		require.True(t, strings.HasPrefix(lines[0], "EHLO "), lines)
		require.Len(t, lines, 7, lines)
		require.Regexp(t, `^RCPT TO:<cd-no-such-recipient-[0-9a-f]{16}@example\.com>$`, lines[4])
		lines[4] = "RCPT TO:<probe>"
		require.Equal(t, []string{"MAIL FROM:<alerts@example.com> BODY=8BITMIME", "RCPT TO:<soc@example.com>",
			"RCPT TO:<oncall@example.com>", "RCPT TO:<probe>", "RSET", "QUIT"}, lines[1:], "no DATA: nothing is sent")
	})
}

// anyPrefix reports whether any event starts with one of the prefixes.
func anyPrefix(events []string, prefixes ...string) bool {
	for _, e := range events {
		for _, p := range prefixes {
			if strings.HasPrefix(e, p) {
				return true
			}
		}
	}
	return false
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestWrongPassword(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	c := s.Config(email.TLSStartTLS)
	wrong := secret("wrong-Passw0rd-42")
	c.Relay.Password = wrong
	n, logs := newNotifier(t, c)

	for _, call := range []func() error{
		func() error { return n.Test(context.Background()) },
		func() error { _, err := n.Send(context.Background(), testEvent()); return err },
	} {
		err := call()
		require.ErrorIs(t, err, notify.ErrUnauthorized)
		var e *notify.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 535, e.StatusCode)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "Authentication failed")
		require.Contains(t, err.Error(), "the relay's username and password")
		notifytest.AssertNoSecret(t, err, wrong, secret(s.Pass))
	}
	require.Empty(t, s.Messages())
	notifytest.AssertNoSecret(t, logs.String(), wrong)
}

func TestServerEchoesCredentials(t *testing.T) {
	// A server that repeats the credentials in its refusal.
	s := startSMTP(t, modeStartTLS, func(s *smtpServer) {
		s.AuthCheck = func(user, pass string) error {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "rejected " + user + ":" + pass}
		}
	})
	pw := secret(s.Pass)
	n, logs := newNotifier(t, s.Config(email.TLSStartTLS))
	err := n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrUnauthorized)
	require.Contains(t, err.Error(), "rejected alerts:"+notify.Redacted, "the reply text is kept, the password scrubbed")
	notifytest.AssertNoSecret(t, err, pw)
	notifytest.AssertNoSecret(t, logs.String(), pw)
}

func TestRefusedRecipient(t *testing.T) {
	noUser := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	busy := &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"}
	s := startSMTP(t, modeStartTLS, func(s *smtpServer) {
		s.RefuseRcpt = map[string]*smtp.SMTPError{"nobody@example.com": noUser, "busy@example.com": busy}
	})

	t.Run("send", func(t *testing.T) {
		n, logs := newNotifier(t, s.Config(email.TLSStartTLS, "soc@example.com", "nobody@example.com"))
		_, err := n.Send(context.Background(), testEvent())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err))
		var e *notify.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 550, e.StatusCode)
		require.Equal(t, "send: RCPT TO", e.Op)
		require.Contains(t, e.Message, "the server refused 1 of 2 recipients: nobody@example.com")
		require.Contains(t, e.Message, "no such user")
		require.Empty(t, s.Messages())
		notifytest.AssertNoSecret(t, err, secret(s.Pass))
		notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
	})
	t.Run("test names every refused recipient", func(t *testing.T) {
		n, _ := newNotifier(t, s.Config(email.TLSStartTLS, "nobody@example.com", "soc@example.com", "busy@example.com"))
		err := n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err), "a 5xx among them: a retry cannot help")
		var e *notify.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, "test: RCPT TO", e.Op)
		require.Equal(t, 550, e.StatusCode)
		require.Contains(t, e.Message, "the server refused 2 of 3 recipients: nobody@example.com (550 5.1.1 no such user); "+
			"busy@example.com (450 4.2.1 mailbox busy)")
		require.Contains(t, err.Error(), "check the addresses in to")
		notifytest.AssertNoSecret(t, err, secret(s.Pass))
	})
	t.Run("test: a temporary refusal is retryable", func(t *testing.T) {
		n, _ := newNotifier(t, s.Config(email.TLSStartTLS, "busy@example.com"))
		err := n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err))
	})
}

func TestReplyCodes(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*smtpServer)
		code      int
		op        string
		kind      error
		retryable bool
	}{
		{"4xx to MAIL FROM", func(s *smtpServer) {
			s.MailErr = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}, 451, "send: MAIL FROM", notify.ErrUnavailable, true},
		{"5xx to MAIL FROM", func(s *smtpServer) {
			s.MailErr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender not owned by user"}
		}, 553, "send: MAIL FROM", notify.ErrRejected, false},
		{"4xx after DATA", func(s *smtpServer) {
			s.DataErr = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}
		}, 452, "send: DATA", notify.ErrUnavailable, true},
		{"5xx after DATA", func(s *smtpServer) {
			s.DataErr = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "looks like spam"}
		}, 554, "send: DATA", notify.ErrRejected, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSMTP(t, modeStartTLS, tt.setup)
			n, logs := newNotifier(t, s.Config(email.TLSStartTLS))
			_, err := n.Send(context.Background(), testEvent())
			require.ErrorIs(t, err, tt.kind)
			require.Equal(t, tt.retryable, notify.IsRetryable(err))
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.code, e.StatusCode)
			require.Equal(t, tt.op, e.Op)
			require.Empty(t, s.Messages())
			notifytest.AssertNoSecret(t, err, secret(s.Pass))
			notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
		})
	}
}

func TestTLSFailuresSendNoPassword(t *testing.T) {
	t.Run("untrusted certificate", func(t *testing.T) {
		s := startSMTP(t, modeStartTLS, nil)
		n, err := s.Config(email.TLSStartTLS).new(notify.WithAllowPrivateNetworks()) // system roots only
		require.NoError(t, err)
		err = n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "not trusted")
		require.False(t, anyPrefix(s.Events(), "AUTH", "MAIL"), s.Events())
		notifytest.AssertNoSecret(t, err, secret(s.Pass))
	})
	t.Run("STARTTLS not offered", func(t *testing.T) {
		s := startSMTP(t, modePlain, nil) // would even take AUTH in plain text
		c := s.Config(email.TLSStartTLS)
		n, _ := newNotifier(t, c)
		_, err := n.Send(context.Background(), testEvent())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "does not offer STARTTLS")
		require.False(t, anyPrefix(s.Events(), "AUTH", "MAIL"), "no AUTH, no MAIL: nothing after EHLO: %v", s.Events())
		notifytest.AssertNoSecret(t, err, secret(s.Pass))
	})
	t.Run("implicit TLS to a plain-text port", func(t *testing.T) {
		s := startSMTP(t, modePlain, nil)
		n, _ := newNotifier(t, s.Config(email.TLSImplicit))
		err := n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrRejected)
		require.Contains(t, err.Error(), "does not speak TLS")
		require.False(t, anyPrefix(s.Events(), "AUTH", "MAIL"), s.Events())
		notifytest.AssertNoSecret(t, err, secret(s.Pass))
	})
}

func TestAuthMechanismsNotOffered(t *testing.T) {
	for name, mechs := range map[string][]string{"none": nil, "only CRAM-MD5": {"CRAM-MD5"}} {
		t.Run(name, func(t *testing.T) {
			s := startSMTP(t, modeStartTLS, func(s *smtpServer) { s.Mechs = mechs })
			n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
			err := n.Test(context.Background())
			require.ErrorIs(t, err, notify.ErrRejected)
			require.Contains(t, err.Error(), "neither AUTH PLAIN nor AUTH LOGIN")
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "test: AUTH", e.Op)
			notifytest.AssertNoSecret(t, err, secret(s.Pass))
		})
	}
}

func TestStallingServerMeetsTheDeadline(t *testing.T) {
	for _, mode := range []email.TLSMode{email.TLSStartTLS, email.TLSImplicit} {
		t.Run(string(mode), func(t *testing.T) {
			l := startStalling(t)
			c := target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
				Relay: email.Relay{Host: l.Host, Port: l.Port, Username: "alerts", Password: "s3cret-Passw0rd!", TLS: mode, From: "alerts@example.com"}}
			// Only the context can end the exchange: the notifier's own
			// timeout is an hour.
			n, logs := newNotifier(t, c, notify.WithTimeout(time.Hour))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := n.Send(ctx, testEvent())
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorIs(t, err, notify.ErrUnavailable)
			require.True(t, notify.IsRetryable(err))
			if mode == email.TLSStartTLS {
				require.Contains(t, err.Error(), `use TLS "implicit" (smtps://)`, "the classic port/mode mix-up gets a hint")
			}
			require.Equal(t, 1, l.Accepted())
			notifytest.AssertNoSecret(t, err, c.Relay.Password)
			notifytest.AssertNoSecret(t, logs.String(), c.Relay.Password)
		})
	}
}

func TestNotifierTimeoutBoundsTheExchange(t *testing.T) {
	l := startStalling(t)
	c := target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
		Relay: email.Relay{Host: l.Host, Port: l.Port, TLS: email.TLSNone, From: "alerts@example.com"}}
	n, _ := newNotifier(t, c, notify.WithTimeout(50*time.Millisecond))
	err := n.Test(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, notify.IsRetryable(err))
}

func TestCancelDuringDATA(t *testing.T) {
	s := startSMTP(t, modeStartTLS, func(s *smtpServer) { s.StallData = true })
	n, logs := newNotifier(t, s.Config(email.TLSStartTLS), notify.WithTimeout(time.Hour))
	// Cancelled once the server has read the whole message and sits on its
	// reply: the exchange is bounded past dialling, into DATA.
	ctx, stop := ctxWithCancelOn(s.DataIn)
	defer stop()
	_, err := n.Send(ctx, testEvent())
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, notify.IsRetryable(err), "the caller gave up")
	var e *notify.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "send: DATA", e.Op)
	notifytest.AssertNoSecret(t, err, secret(s.Pass))
	notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
}

func TestConnectionRefused(t *testing.T) {
	// A port that was just free: nothing listens there now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	c := target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
		Relay: email.Relay{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, From: "alerts@example.com"}}
	n, _ := newNotifier(t, c)
	err = n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	require.Contains(t, err.Error(), "check the relay's host and port")
}

// BenchmarkSend measures one Send over loopback, connection included (every
// Send opens its own): "none" is the baseline for the cost of STARTTLS and
// implicit TLS with AUTH PLAIN.
func BenchmarkSend(b *testing.B) {
	for _, tc := range []struct {
		name   string
		server serverMode
		mode   email.TLSMode
	}{{"none", modePlain, email.TLSNone}, {"starttls", modeStartTLS, email.TLSStartTLS}, {"implicit", modeImplicit, email.TLSImplicit}} {
		b.Run(tc.name, func(b *testing.B) {
			s := startSMTP(b, tc.server, nil)
			n, err := s.Config(tc.mode).new(notify.WithAllowPrivateNetworks(), email.WithTLSConfig(clientTLS()))
			require.NoError(b, err)
			e := testEvent()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Send(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func addN(to *[]string, n int) {
	for i := range n {
		*to = append(*to, fmt.Sprintf("soc%d@example.com", i))
	}
}

// A resolved event is a reply to the open event's mail: the server receives
// two messages, the second naming the first in In-Reply-To and References,
// its subject the first's with "Re: " so that clients keep one thread.
func TestResolvedEventRepliesToTheOpenMail(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	open := testkit.FullEvent()
	r1, err := n.Send(context.Background(), open)
	require.NoError(t, err)
	r2, err := n.Send(context.Background(), testkit.Resolved(open))
	require.NoError(t, err)
	require.Equal(t, "<cd-evt-123@example.com>", r1.ID)
	require.Equal(t, "<cd-evt-123.resolved@example.com>", r2.ID)

	msgs := s.Messages()
	require.Len(t, msgs, 2)
	first, second := parse(t, msgs[0].Data), parse(t, msgs[1].Data)
	dec := new(mime.WordDecoder)

	require.Equal(t, r1.ID, first.Header.Get("Message-Id"))
	require.Empty(t, first.Header.Get("In-Reply-To"))
	require.Empty(t, first.Header.Get("References"))
	require.Equal(t, "open", first.Header.Get("X-Codedefender-Status"))
	subject1, err := dec.DecodeHeader(first.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "[CRITICAL] New script on checkout", subject1)

	require.Equal(t, r2.ID, second.Header.Get("Message-Id"))
	require.Equal(t, r1.ID, second.Header.Get("In-Reply-To"))
	require.Equal(t, r1.ID, second.Header.Get("References"))
	require.Equal(t, "resolved", second.Header.Get("X-Codedefender-Status"))
	require.Equal(t, "evt-123", second.Header.Get("X-Codedefender-Event-Id"))
	for _, name := range []string{"Message-Id", "In-Reply-To", "References", "Subject"} {
		require.Equal(t, 1, countHeader(msgs[1].Data, name), name)
	}
	subject2, err := dec.DecodeHeader(second.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Re: "+subject1, subject2)
	require.Equal(t, msgs[0].To, msgs[1].To, "the same recipients")

	text := strings.ReplaceAll(second.Text, "\r\n", "\n")
	require.True(t, strings.HasPrefix(text, "Re: [CRITICAL] New script on checkout\n\n"+
		"This alert has been resolved in Code Defender.\n\n"), text)
	require.Contains(t, text, "Status:  Resolved\nRisk:    CRITICAL\n")
	require.NotContains(t, first.Text, "resolved")
	require.Contains(t, second.HTML, "RESOLVED · Client-side risk")
	require.Contains(t, second.HTML, "background-color:#1A7F37")
	require.Contains(t, second.HTML, "This alert has been resolved in Code Defender.</p>")
	require.Contains(t, first.HTML, "CRITICAL · Client-side risk")

	// Resolving again is the same message: a client folds the duplicate.
	r3, err := n.Send(context.Background(), testkit.Resolved(open))
	require.NoError(t, err)
	require.Equal(t, r2, r3)
}

func TestCloseRefusesLaterCallsWithoutConnecting(t *testing.T) {
	l := startStalling(t)
	pw := notify.Secret("relay-password-after-close")
	n, _ := newNotifier(t, target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
		Relay: email.Relay{Host: l.Host, Port: l.Port, TLS: email.TLSNone, From: "alerts@example.com",
			Username: "alerts", Password: pw}})
	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "Close may be called again")

	_, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.ErrorContains(t, err, "closed")
	notifytest.AssertNoSecret(t, err, pw)
	err = n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrRejected)
	notifytest.AssertNoSecret(t, err, pw)
	require.Zero(t, l.Accepted(), "a closed Notifier dials nothing")
}
