package playground

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/notify"
)

// Limits of the playground's SMTP server: far above one alert, low enough
// that a runaway client cannot fill the memory of the program it runs in.
const (
	maxMessageBytes = 10 << 20
	maxRecipients   = 100
	// smtpIdle drops a client that stops talking, so Close never waits on
	// one.
	smtpIdle = 30 * time.Second
	// certLifetime is how long the server's certificate is valid; a
	// playground lives as long as the program that started it.
	certLifetime = 24 * time.Hour
)

// Mail is one message the SMTP server accepted.
type Mail struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Subject string   // the decoded Subject header
	User    string   // who authenticated
	TLS     bool     // whether the session ran inside TLS
}

// mailServer is an SMTP server on 127.0.0.1 that offers STARTTLS and,
// inside it only, AUTH PLAIN for one user.
type mailServer struct {
	srv    *smtp.Server
	served chan struct{}
	host   string
	port   int
	addr   string
	pool   *x509.CertPool // trusts the server's certificate

	user, password string

	mu   sync.Mutex
	msgs []Mail
}

// mailFrom is the sender the playground's relay submits as.
const mailFrom = "Code Defender <alerts@example.com>"

// relay is the server as the operator's relay of every email integration:
// STARTTLS, AUTH PLAIN as the one user.
func (m *mailServer) relay() email.Relay {
	return email.Relay{Host: m.host, Port: m.port, Username: m.user, Password: notify.Secret(m.password),
		TLS: email.TLSStartTLS, From: mailFrom}
}

// SMTPURL returns the SMTP server as a relay URL, password included, in the
// form email.ParseRelayURL reads (and cdnotify's --smtp-url takes). It is a
// credential: never print it.
func (p *Playground) SMTPURL() notify.Secret {
	u := url.URL{Scheme: "smtp", User: url.UserPassword(p.mail.user, p.mail.password),
		Host: net.JoinHostPort(p.mail.host, strconv.Itoa(p.mail.port)), RawQuery: url.Values{"from": {mailFrom}}.Encode()}
	return notify.Secret(u.String())
}

func startMail(user, password string) (*mailServer, error) {
	cert, pool, err := selfSigned(time.Now())
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mailServer{served: make(chan struct{}), pool: pool, user: user, password: password}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{m: m, c: c}, nil
	}))
	m.srv.Domain = "localhost"
	m.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	m.srv.AllowInsecureAuth = false // AUTH is offered only after STARTTLS
	m.srv.MaxMessageBytes = maxMessageBytes
	m.srv.MaxRecipients = maxRecipients
	m.srv.ReadTimeout, m.srv.WriteTimeout = smtpIdle, smtpIdle
	m.srv.ErrorLog = log.New(io.Discard, "", 0) // a client that hangs up is no news here

	tcp := l.Addr().(*net.TCPAddr)
	m.host, m.port, m.addr = tcp.IP.String(), tcp.Port, tcp.String()
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(l)
	}()
	return m, nil
}

// close stops the server and waits for its accept loop; it also closes
// every open session.
func (m *mailServer) close() {
	_ = m.srv.Close()
	<-m.served
}

func (m *mailServer) messages() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Mail, len(m.msgs))
	for i, msg := range m.msgs {
		msg.To = append([]string(nil), msg.To...)
		out[i] = msg
	}
	return out
}

// mailSession is one SMTP session: MAIL and RCPT are refused until the
// client has authenticated.
type mailSession struct {
	m    *mailServer
	c    *smtp.Conn
	user string
	from string
	to   []string
}

// AuthMechanisms offers PLAIN; go-smtp advertises it only inside TLS.
func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

// Auth checks the one user's password. smtp.ErrAuthFailed is the 535 a
// real server answers; a plain error would be a 454 (temporary).
func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.m.user || password != s.m.password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.to = append(s.to, to)
	return nil
}

// Data reads the message and keeps its envelope and subject.
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message does not parse: " + err.Error()}
	}
	if _, err := io.Copy(io.Discard, msg.Body); err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	_, isTLS := s.c.TLSConnectionState()
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.msgs = append(s.m.msgs, Mail{From: s.from, To: append([]string(nil), s.to...), Subject: subject,
		User: s.user, TLS: isTLS})
	return nil
}

func (s *mailSession) Reset() { s.from, s.to = "", nil }

func (s *mailSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1, ::1 and localhost, valid
// from an hour before now (clock skew) for certLifetime, and a pool that
// trusts it.
func selfSigned(now time.Time) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "playground SMTP server " + strconv.FormatInt(now.Unix(), 10)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: it is its own root in the pool
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
