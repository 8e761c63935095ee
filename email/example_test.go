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

// Send an alert through a relay on the same machine. A relay elsewhere, or a
// provider, is reached with tls "starttls" (port 587) or "implicit" (465),
// and without notify.WithAllowPrivateNetworks unless it is on a private
// network.
func Example() {
	port, stop := startExampleRelay()
	defer stop()

	n, err := email.New(email.Config{
		Name: "SOC mail",
		To:   []string{"SOC <soc@example.com>"},
		From: "Code Defender <alerts@example.com>",
		SMTP: email.SMTP{Host: "127.0.0.1", Port: port, TLS: email.TLSNone},
	}, notify.WithAllowPrivateNetworks())
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

// Validate reports every bad field at once, by its JSON path, and says which
// setting to use when the port and the TLS mode disagree.
func ExampleConfig_Validate() {
	c := email.Config{
		Name: "SOC mail",
		To:   []string{"soc@example.com", "SOC@Example.com"},
		From: "alerts@example.com",
		SMTP: email.SMTP{Host: "smtp.example.com", Port: 465, TLS: email.TLSStartTLS,
			Username: "alerts", Password: "app-password-1234"},
	}
	var ve *notify.ValidationError
	if errors.As(c.Validate(), &ve) {
		for _, f := range ve.Fields {
			fmt.Printf("%s: %s\n", f.Field, f.Message)
		}
	}
	// Output:
	// to[1]: repeats to[0] (addresses are compared without regard to case)
	// smtp.tls: port 465 expects implicit TLS (RFC 8314): set tls to "implicit", or use port 587 for "starttls"
}

// A failed delivery is a *notify.Error: branch on the sentinel and ask
// whether a retry can help (a 4xx reply can, a 5xx cannot).
func ExampleNotifier_Send_errors() {
	port, stop := startExampleRelay()
	defer stop()
	n, err := email.New(email.Config{
		Name: "SOC mail",
		To:   []string{"soc@example.com"},
		From: "alerts@example.com",
		// The relay offers no AUTH, so the configured password is never sent.
		SMTP: email.SMTP{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, Username: "alerts", Password: "app-password-1234"},
	}, notify.WithAllowPrivateNetworks())
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
