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
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func secret(s string) notify.Secret { return notify.Secret(s) }

// validConfig is the full valid fixture for the Validate table.
func validConfig() email.Config {
	return email.Config{
		Name: "SOC mail",
		To:   []string{"SOC Team <soc@example.com>", "oncall@example.com"},
		From: "Code Defender <alerts@example.com>",
		SMTP: email.SMTP{Host: "smtp.example.com", Port: 587, Username: "alerts",
			Password: secret("s3cret-Passw0rd!"), TLS: email.TLSStartTLS},
	}
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

// newNotifier builds a notifier for a loopback test server that trusts the
// test certificate, logging into the returned buffer.
func newNotifier(t *testing.T, cfg email.Config, opts ...notify.Option) (*email.Notifier, *notifytest.LogBuffer) {
	t.Helper()
	logger, logs := notifytest.NewLogger()
	opts = append([]notify.Option{notify.WithAllowPrivateNetworks(), email.WithTLSConfig(clientTLS()),
		notify.WithLogger(logger)}, opts...)
	n, err := email.New(cfg, opts...)
	require.NoError(t, err)
	return n, logs
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate())

	fiftyOne := make([]string, email.MaxRecipients+1)
	for i := range fiftyOne {
		fiftyOne[i] = fmt.Sprintf("soc%d@example.com", i)
	}
	tests := []struct {
		name   string
		edit   func(*email.Config)
		fields []string
		says   string // part of the message, when it matters
	}{
		{"no name", func(c *email.Config) { c.Name = "" }, []string{"name"}, "required"},
		{"no recipients", func(c *email.Config) { c.To = nil }, []string{"to"}, "at least one"},
		{"too many recipients", func(c *email.Config) { c.To = fiftyOne }, []string{"to"}, "at most 50"},
		{"bad recipient", func(c *email.Config) { c.To[1] = "not an address" }, []string{"to[1]"}, "not an email address"},
		{"two addresses in one entry", func(c *email.Config) { c.To[0] = "a@example.com, b@example.com" },
			[]string{"to[0]"}, "its own entry"},
		{"empty recipient", func(c *email.Config) { c.To[0] = " " }, []string{"to[0]"}, "required"},
		{"header injection in to", func(c *email.Config) { c.To[0] = "soc@example.com\r\nBcc: evil@example.net" },
			[]string{"to[0]"}, "line breaks"},
		{"duplicate recipient, other case", func(c *email.Config) {
			c.To = []string{"soc@example.com", "x@example.com", "Someone <SOC@Example.COM>"}
		}, []string{"to[2]"}, "repeats to[0]"},
		{"no from", func(c *email.Config) { c.From = "" }, []string{"from"}, "required"},
		{"bad from", func(c *email.Config) { c.From = "alerts" }, []string{"from"}, "not an email address"},
		{"header injection in from", func(c *email.Config) { c.From = "a@example.com\nSubject: x" }, []string{"from"}, "line breaks"},
		{"no host", func(c *email.Config) { c.SMTP.Host = "" }, []string{"smtp.host"}, "required"},
		{"host is a URL", func(c *email.Config) { c.SMTP.Host = "smtps://smtp.example.com" }, []string{"smtp.host"}, "not a URL"},
		{"host with port", func(c *email.Config) { c.SMTP.Host = "smtp.example.com:587" }, []string{"smtp.host"}, "smtp.port"},
		{"host with bad characters", func(c *email.Config) { c.SMTP.Host = "smtp_example!.com" }, []string{"smtp.host"}, "DNS name"},
		{"port out of range", func(c *email.Config) { c.SMTP.Port = 70000 }, []string{"smtp.port"}, "65535"},
		{"unknown tls", func(c *email.Config) { c.SMTP.TLS = "ssl" }, []string{"smtp.tls"}, `"starttls", "implicit" or "none"`},
		{"465 with starttls", func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 465, email.TLSStartTLS },
			[]string{"smtp.tls"}, `set tls to "implicit"`},
		{"587 with implicit", func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 587, email.TLSImplicit },
			[]string{"smtp.tls"}, `set tls to "starttls"`},
		{"25 with implicit", func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 25, email.TLSImplicit },
			[]string{"smtp.tls"}, `set tls to "starttls"`},
		{"none to a remote host", func(c *email.Config) { c.SMTP.TLS = email.TLSNone }, []string{"smtp.tls"}, "loopback"},
		{"none without a port", func(c *email.Config) { c.SMTP.Host, c.SMTP.Port, c.SMTP.TLS = "127.0.0.1", 0, email.TLSNone },
			[]string{"smtp.port"}, "required"},
		{"username without password", func(c *email.Config) { c.SMTP.Password = "" }, []string{"smtp.password"}, "required"},
		{"password without username", func(c *email.Config) { c.SMTP.Username = "" }, []string{"smtp.username"}, "password"},
		{"masked password sent back", func(c *email.Config) { c.SMTP.Password = notify.Redacted }, []string{"smtp.password"}, "mask"},
		{"password with a line break", func(c *email.Config) { c.SMTP.Password = "pass\r\nword-123" }, []string{"smtp.password"}, "line breaks"},
		{"negative timeout", func(c *email.Config) { c.SMTP.TimeoutSeconds = -1 }, []string{"smtp.timeout"}, "seconds"},
		{"timeout too long", func(c *email.Config) { c.SMTP.TimeoutSeconds = email.MaxTimeoutSeconds + 1 }, []string{"smtp.timeout"}, "seconds"},
		{"everything at once", func(c *email.Config) {
			c.Name, c.To, c.From, c.SMTP = "", []string{"x"}, "y", email.SMTP{Port: 465, TLS: email.TLSStartTLS}
		}, []string{"name", "to[0]", "from", "smtp.host", "smtp.tls"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.To = append([]string(nil), c.To...)
			tt.edit(&c)
			err := c.Validate()
			require.ElementsMatch(t, tt.fields, notifytest.FieldsOf(err), "%v", err)
			require.Contains(t, err.Error(), tt.says)
			notifytest.AssertNoSecret(t, err, validConfig().SMTP.Password)
			if !c.SMTP.Password.IsMasked() {
				notifytest.AssertNoSecret(t, err, c.SMTP.Password)
			}
		})
	}
}

func TestConfigValidateAccepts(t *testing.T) {
	for name, edit := range map[string]func(*email.Config){
		"implicit on 465":             func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 465, email.TLSImplicit },
		"empty tls on 465":            func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 465, "" },
		"empty tls and port":          func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 0, "" },
		"starttls on 25":              func(c *email.Config) { c.SMTP.Port = 25 },
		"implicit on a custom port":   func(c *email.Config) { c.SMTP.Port, c.SMTP.TLS = 2465, email.TLSImplicit },
		"none to localhost":           func(c *email.Config) { c.SMTP.Host, c.SMTP.Port, c.SMTP.TLS = "localhost", 1025, email.TLSNone },
		"none to ::1":                 func(c *email.Config) { c.SMTP.Host, c.SMTP.Port, c.SMTP.TLS = "::1", 25, email.TLSNone },
		"no authentication":           func(c *email.Config) { c.SMTP.Username, c.SMTP.Password = "", "" },
		"IP address host":             func(c *email.Config) { c.SMTP.Host = "192.0.2.10" },
		"fifty recipients":            func(c *email.Config) { c.To = make([]string, 0, 50); addN(&c.To, 50) },
		"timeout set":                 func(c *email.Config) { c.SMTP.TimeoutSeconds = 30 },
		"host name with trailing dot": func(c *email.Config) { c.SMTP.Host = "smtp.example.com." },
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			edit(&c)
			require.NoError(t, c.Validate())
		})
	}
}

func addN(to *[]string, n int) {
	for i := range n {
		*to = append(*to, fmt.Sprintf("soc%d@example.com", i))
	}
}

func TestNewAppliesTheNetworkGuard(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost", "10.1.2.3", "::1"} {
		c := validConfig()
		c.SMTP.Host = host
		_, err := email.New(c)
		var ve *notify.ValidationError
		require.ErrorAs(t, err, &ve, host)
		require.True(t, ve.Has("smtp.host"), err.Error())
		require.Contains(t, err.Error(), "WithAllowPrivateNetworks")

		_, err = email.New(c, notify.WithAllowPrivateNetworks())
		require.NoError(t, err, host)
	}
	// Metadata and link-local addresses stay refused with the option.
	c := validConfig()
	c.SMTP.Host = "169.254.169.254"
	_, err := email.New(c, notify.WithAllowPrivateNetworks())
	require.ErrorContains(t, err, "smtp.host")
}

func TestFromJSON(t *testing.T) {
	raw := `{"name":"SOC mail","to":["soc@example.com"],"from":"alerts@example.com",
		"smtp":{"host":"smtp.example.com","port":465,"username":"alerts","password":"s3cret-Passw0rd!","tls":"implicit","timeout":20}}`
	n, err := email.FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `email("SOC mail")`, fmt.Sprint(n))

	_, err = email.FromJSON(json.RawMessage(strings.Replace(raw, `"port":465`, `"port":"465"`, 1)))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("smtp.port"), err.Error())

	_, err = email.FromJSON(json.RawMessage(strings.Replace(raw, `"tls"`, `"ssl"`, 1)))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("ssl"), err.Error())
	notifytest.AssertNoSecret(t, err, secret("s3cret-Passw0rd!"))
}

func TestSecretsNeverPrint(t *testing.T) {
	c := validConfig()
	pw := c.SMTP.Password
	n, err := email.New(c)
	require.NoError(t, err)
	for _, v := range []any{c, &c, n, *n} {
		notifytest.AssertNoSecret(t, fmt.Sprintf("%v %+v %#v %s", v, v, v, v), pw)
	}
	require.Equal(t, `email("SOC mail")`, fmt.Sprintf("%+v", n))

	b, err := json.Marshal(c)
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, pw)
	require.Contains(t, string(b), `"password":"[REDACTED]"`)
	// The console sends the masked config back: it must not replace the
	// real password.
	_, err = email.FromJSON(b)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("smtp.password"), err.Error())
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
	c.SMTP.Username, c.SMTP.Password = "", ""
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
	n, _ := newNotifier(t, email.Config{Name: "x", To: []string{"soc@example.com"}, From: "alerts@example.com",
		SMTP: email.SMTP{Host: l.Host, Port: l.Port, TLS: email.TLSNone}})
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
		require.Equal(t, []string{"MAIL alerts@example.com", "RCPT soc@example.com", "RCPT oncall@example.com", "RESET"},
			ev[i:i+4], "MAIL FROM, RCPT TO each, RSET")
		require.Contains(t, logs.String(), "email: test passed")
		notifytest.AssertNoSecret(t, logs.String(), secret(s.Pass))
	})
	t.Run("the exchange on the wire", func(t *testing.T) {
		s := startSMTP(t, modePlain, nil)
		c := s.Config(email.TLSNone)
		c.SMTP.Username, c.SMTP.Password = "", ""
		n, _ := newNotifier(t, c)
		require.NoError(t, n.Test(context.Background()))
		lines := s.ClientLines()
		require.NotEmpty(t, lines)
		require.True(t, strings.HasPrefix(lines[0], "EHLO "), lines)
		require.Equal(t, []string{"MAIL FROM:<alerts@example.com> BODY=8BITMIME", "RCPT TO:<soc@example.com>",
			"RCPT TO:<oncall@example.com>", "RSET", "QUIT"}, lines[1:], "no DATA: nothing is sent")
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
	c.SMTP.Password = wrong
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
		require.Contains(t, err.Error(), "smtp.password")
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
		n, err := email.New(s.Config(email.TLSStartTLS), notify.WithAllowPrivateNetworks()) // system roots only
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
			c := email.Config{Name: "x", To: []string{"soc@example.com"}, From: "alerts@example.com",
				SMTP: email.SMTP{Host: l.Host, Port: l.Port, Username: "alerts", Password: "s3cret-Passw0rd!", TLS: mode}}
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
				require.Contains(t, err.Error(), `set tls to "implicit"`, "the classic port/mode mix-up gets a hint")
			}
			require.Equal(t, 1, l.Accepted())
			notifytest.AssertNoSecret(t, err, c.SMTP.Password)
			notifytest.AssertNoSecret(t, logs.String(), c.SMTP.Password)
		})
	}
}

func TestNotifierTimeoutBoundsTheExchange(t *testing.T) {
	l := startStalling(t)
	c := email.Config{Name: "x", To: []string{"soc@example.com"}, From: "alerts@example.com",
		SMTP: email.SMTP{Host: l.Host, Port: l.Port, TLS: email.TLSNone}}
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

	c := email.Config{Name: "x", To: []string{"soc@example.com"}, From: "alerts@example.com",
		SMTP: email.SMTP{Host: "127.0.0.1", Port: port, TLS: email.TLSNone}}
	n, _ := newNotifier(t, c)
	err = n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	require.Contains(t, err.Error(), "check smtp.host and smtp.port")
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
			n, err := email.New(s.Config(tc.mode), notify.WithAllowPrivateNetworks(), email.WithTLSConfig(clientTLS()))
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
