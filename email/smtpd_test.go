package email_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/email"
)

// testCert is a self-signed certificate for 127.0.0.1, ::1 and localhost,
// made once per test binary, with the pool that trusts it.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "email test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// clientTLS trusts the test certificate.
func clientTLS() *tls.Config {
	_, pool := testCert()
	return &tls.Config{RootCAs: pool}
}

// received is one message the test server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	User string // who authenticated, "" for nobody
	TLS  bool   // whether the session ran inside TLS
}

// smtpServer is an in-process go-smtp server on 127.0.0.1 that records what
// it is told and can be told to refuse or stall.
type smtpServer struct {
	Host string
	Port int

	// Set before the first connection.
	ListenHost string // 127.0.0.1 unless set
	User, Pass string
	Mechs      []string                      // AUTH mechanisms offered; PLAIN by default
	RefuseRcpt map[string]*smtp.SMTPError    // recipient address → the reply
	Mailboxes  []string                      // with UnknownErr: the recipients that exist
	UnknownErr *smtp.SMTPError               // the reply to any recipient not in Mailboxes
	MailErr    *smtp.SMTPError               // the reply to MAIL FROM
	DataErr    *smtp.SMTPError               // the reply after DATA
	StallData  bool                          // hold the reply after DATA until the test ends
	AuthCheck  func(user, pass string) error // replaces the user and password check
	DataIn     chan struct{}                 // closed once a message has been read, with StallData

	mu       sync.Mutex
	sent     bytes.Buffer // every byte clients sent, as read off the wire
	msgs     []received
	events   []string
	release  chan struct{}
	dataOnce sync.Once
}

// serverMode is how the test server speaks TLS.
type serverMode int

const (
	modePlain    serverMode = iota // no TLS at all, AUTH allowed in plain text
	modeStartTLS                   // STARTTLS offered, AUTH only after it
	modeImplicit                   // TLS from the first byte
)

// startSMTP starts a server in the given mode; it stops when the test ends.
func startSMTP(t testing.TB, mode serverMode, setup func(*smtpServer)) *smtpServer {
	t.Helper()
	s := &smtpServer{User: "alerts", Pass: "s3cret-Passw0rd!", Mechs: []string{sasl.Plain},
		release: make(chan struct{}), DataIn: make(chan struct{})}
	if setup != nil {
		setup(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, c: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	cert, _ := testCert()
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	if s.ListenHost == "" {
		s.ListenHost = "127.0.0.1"
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort(s.ListenHost, "0"))
	if err != nil && s.ListenHost != "127.0.0.1" {
		t.Skipf("cannot listen on %s: %v", s.ListenHost, err)
	}
	require.NoError(t, err)
	var l net.Listener = recordingListener{Listener: tcp, s: s}
	switch mode {
	case modePlain:
		srv.AllowInsecureAuth = true
	case modeStartTLS:
		srv.TLSConfig = serverTLS
	case modeImplicit:
		l = tls.NewListener(l, serverTLS)
	}
	addr := tcp.Addr().(*net.TCPAddr)
	s.Host, s.Port = s.ListenHost, addr.Port

	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		close(s.release) // let a stalled DATA finish before the connections close
		_ = srv.Close()
		<-served
	})
	return s
}

// Messages returns what the server accepted so far.
func (s *smtpServer) Messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// ClientLines returns what clients sent, line by line; readable only when
// the session ran without TLS.
func (s *smtpServer) ClientLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.sent.String(), "\r\n"), "\r\n")
}

// recordingListener keeps a copy of every byte clients send.
type recordingListener struct {
	net.Listener
	s *smtpServer
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return recordingConn{Conn: c, s: l.s}, nil
}

type recordingConn struct {
	net.Conn
	s *smtpServer
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.mu.Lock()
	c.s.sent.Write(p[:n])
	c.s.mu.Unlock()
	return n, err
}

// Events returns the session events in order: "AUTH user", "MAIL from",
// "RCPT to", "DATA", "RESET", "LOGOUT".
func (s *smtpServer) Events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func (s *smtpServer) record(ev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

// Config returns a valid configuration and relay for this server, sending
// to the given recipients (two by default).
func (s *smtpServer) Config(mode email.TLSMode, to ...string) target {
	if len(to) == 0 {
		to = []string{"SOC Team <soc@example.com>", "oncall@example.com"}
	}
	return target{
		Config: email.Config{Name: "SOC mail", To: to},
		Relay: email.Relay{Host: s.Host, Port: s.Port, Username: s.User, Password: secret(s.Pass), TLS: mode,
			From: "Code Defender <alerts@example.com>"},
	}
}

type session struct {
	s    *smtpServer
	c    *smtp.Conn
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return ss.s.Mechs }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if ss.s.AuthCheck != nil {
			return ss.s.AuthCheck(username, password)
		}
		if username != ss.s.User || password != ss.s.Pass {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		ss.s.record("AUTH " + mech + " " + username)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.record("MAIL " + from)
	if ss.s.MailErr != nil {
		return ss.s.MailErr
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.record("RCPT " + to)
	if e := ss.s.RefuseRcpt[to]; e != nil {
		return e
	}
	if ss.s.UnknownErr != nil && !slices.Contains(ss.s.Mailboxes, to) {
		return ss.s.UnknownErr
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.record("DATA")
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.StallData {
		ss.s.dataOnce.Do(func() { close(ss.s.DataIn) })
		<-ss.s.release
		return errors.New("stalled until the test ended")
	}
	if ss.s.DataErr != nil {
		return ss.s.DataErr
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: append([]string(nil), ss.to...), Data: b,
		User: ss.user, TLS: isTLS})
	return nil
}

func (ss *session) Reset() {
	ss.s.record("RESET")
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error {
	ss.s.record("LOGOUT")
	return nil
}

// loginServer is the server side of AUTH LOGIN (go-sasl ships only the
// client): ask for the user name, then the password.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	step     int
	finished bool
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // an initial response is the user name
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

// stallingListener accepts connections and never says a word: the peer of
// a client that must give up when its context ends.
type stallingListener struct {
	Host string
	Port int

	mu       sync.Mutex
	accepted int
	conns    []net.Conn
}

func startStalling(t testing.TB) *stallingListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &stallingListener{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			_ = c.Close()
		}
	})
	return s
}

// Accepted returns how many connections were made.
func (s *stallingListener) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// headerBlock returns the raw header lines of a message.
func headerBlock(data []byte) string {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return string(head)
}

// countHeader counts the header fields named name (case-insensitive) in the
// raw header block, folded lines included.
func countHeader(data []byte, name string) int {
	n := 0
	for _, line := range strings.Split(headerBlock(data), "\r\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") &&
			strings.EqualFold(k, name) {
			n++
		}
	}
	return n
}

// ctxWithCancelOn returns a context that is cancelled when ch closes, and a
// stop func that ends the watcher; the test defers stop.
func ctxWithCancelOn(ch <-chan struct{}) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel() }
}
