package email_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/notify"
)

// exampleRelay is a mail relay on this machine for the examples: it prints
// the envelope and subject of every message it takes.
type exampleRelay struct{ from, to string }

func (r *exampleRelay) Reset()        {}
func (r *exampleRelay) Logout() error { return nil }
func (r *exampleRelay) Mail(from string, _ *smtp.MailOptions) error {
	r.from = from
	return nil
}
func (r *exampleRelay) Rcpt(to string, _ *smtp.RcptOptions) error {
	r.to = to
	return nil
}
func (r *exampleRelay) Data(d io.Reader) error {
	m, err := mail.ReadMessage(d)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, m.Body)
	fmt.Printf("relay: mail from %s to %s: %s\n", r.from, r.to, m.Header.Get("Subject"))
	return nil
}

// startExampleRelay listens on 127.0.0.1 and returns the port and a func
// that stops the relay.
func startExampleRelay() (int, func()) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &exampleRelay{}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	return l.Addr().(*net.TCPAddr).Port, func() {
		_ = srv.Close()
		<-done
	}
}

// Send an alert through a relay on the same machine. The console stores
// only the name and the recipients; the relay is the operator's, named once
// for every email integration. A relay elsewhere, or a provider, is
// reached with smtp:// (STARTTLS, port 587) or smtps:// (implicit TLS,
// 465), and without notify.WithAllowPrivateNetworks unless it is on a
// private network.
func Example() {
	port, stop := startExampleRelay()
	defer stop()

	relay, err := email.ParseRelayURL(fmt.Sprintf("smtp+plain://127.0.0.1:%d?from=Code%%20Defender%%20<alerts@example.com>", port))
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := email.New(email.Config{
		Name: "SOC mail",
		To:   []string{"SOC <soc@example.com>"},
	}, email.WithRelay(relay), notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Test(ctx); err != nil { // MAIL FROM, RCPT TO, RSET: nothing is sent
		fmt.Println(err)
		return
	}
	r, err := n.Send(ctx, notify.Event{
		ID:     "evt-123",
		Type:   notify.EventIncident,
		Title:  "New script on checkout",
		Risk:   notify.RiskCritical,
		Time:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		URL:    "https://console.codedefender.example/incidents/evt-123",
		Source: "shop.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("receipt:", r.ID)
	// Output:
	// relay: mail from alerts@example.com to soc@example.com: [CRITICAL] New script on checkout
	// receipt: <cd-evt-123@example.com>
}

// Validate reports every bad field at once, by its JSON path.
func ExampleConfig_Validate() {
	c := email.Config{
		Name: "SOC mail",
		To:   []string{"soc@example.com", "SOC@Example.com", "oncall"},
	}
	var ve *notify.ValidationError
	if errors.As(c.Validate(), &ve) {
		for _, f := range ve.Fields {
			fmt.Printf("%s: %s\n", f.Field, f.Message)
		}
	}
	// Output:
	// to[1]: repeats to[0] (addresses are compared without regard to case)
	// to[2]: is not an email address (want "name@example.com" or "Name <name@example.com>")
}

// ParseRelayURL reads the operator's relay from one URL, as from an
// environment variable; a mistake names the field and says which setting to
// use, and never repeats the URL or its password.
func ExampleParseRelayURL() {
	r, err := email.ParseRelayURL("smtp://alerts:app-password-1234@smtp.example.com:587?from=alerts@example.com")
	fmt.Println(r, err)

	_, err = email.ParseRelayURL("smtp://alerts:app-password-1234@smtp.example.com:465?from=alerts@example.com")
	fmt.Println(err)
	// Output:
	// smtp://alerts@smtp.example.com:587 (starttls, from alerts@example.com) <nil>
	// invalid: relay.tls: port 465 expects implicit TLS (RFC 8314): use TLS "implicit" (smtps://), or port 587 for "starttls"
}

// A failed delivery is a *notify.Error: branch on the sentinel and ask
// whether a retry can help (a 4xx reply can, a 5xx cannot).
func ExampleNotifier_Send_errors() {
	port, stop := startExampleRelay()
	defer stop()
	n, err := email.New(email.Config{Name: "SOC mail", To: []string{"soc@example.com"}},
		// The relay offers no AUTH, so the configured password is never sent.
		email.WithRelay(email.Relay{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, Username: "alerts",
			Password: "app-password-1234", From: "alerts@example.com"}),
		notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = n.Send(context.Background(), notify.Event{ID: "evt-1", Type: notify.EventTest, Title: "[TEST] check",
		Risk: notify.RiskInfo, Time: time.Now()})
	fmt.Println(errors.Is(err, notify.ErrRejected), notify.IsRetryable(err))
	fmt.Println(strings.Contains(err.Error(), "neither AUTH PLAIN nor AUTH LOGIN"))
	// Output:
	// true false
	// true
}

// TestReport says what each step proved. This relay takes any recipient at
// RCPT time, so the recipients' checks prove little: a warning a console can
// show, not a failure.
func ExampleNotifier_TestReport() {
	port, stop := startExampleRelay()
	defer stop()
	n, err := email.New(email.Config{Name: "SOC mail", To: []string{"soc@example.com"}},
		email.WithRelay(email.Relay{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, From: "alerts@example.com"}),
		notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	r := n.TestReport(context.Background())
	for _, c := range r.Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	fmt.Println("Test:", r.Err())
	// Output:
	// relay reachable: passed
	// connection encrypted: skipped
	// relay accepts the credentials: skipped
	// sender accepted: passed
	// recipient accepted: soc@example.com: passed
	// relay checks recipients: warning
	// Test: <nil>
}
