package conformance

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/opsgenie"
	"github.com/codedefender/integrations/pagerduty"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// Credentials of the fixtures. Each is long and distinctive, so that
// AssertNoSecret would find it in any error or log line.
const (
	slackURL       = "https://hooks.slack.com/services/T0CDQUAL1/B0CDQUAL2/QualityToken0123456789AB"
	pagerdutyKey   = "R0utingKeyQuality0123456789abcde"
	opsgenieKey    = "9f0c3a52-genie-quality-key-0123456789"
	jiraToken      = "ATATT3xFfGF0-jira-quality-token-0123456789"
	jiraEmail      = "alerts@acme.example"
	datadogAPIKey  = "0123456789abcdef0123456789abcdef"
	datadogAppKey  = "fedcba9876543210fedcba9876543210fedcba98"
	splunkToken    = "6f1a9c2e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
	webhookBearer  = "whk-quality-bearer-0123456789abcdef"
	webhookURLPath = "/codedefender/path-token-0123456789"
)

// webhookSigningSecret is a Standard Webhooks secret: whsec_ and the base64
// of 32 bytes.
var webhookSigningSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("conformance-signing-key-32-bytes"))

// qualityEvent is what every Send of the suite delivers: a client-side risk,
// which every destination (the webhook included, by default) sends.
func qualityEvent() notify.Event {
	return notify.Event{
		ID:          "evt-quality-1",
		Type:        notify.EventClientSideRisk,
		Title:       "New script reads the card form on /checkout",
		Description: "A script from cdn.example.net started reading the card number field.",
		Risk:        notify.RiskHigh,
		Time:        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		URL:         "https://console.codedefender.example/incidents/evt-quality-1",
		Source:      "shop.example.com",
		Tags:        []string{"pci", "checkout"},
		Details:     map[string]string{"script": "https://cdn.example.net/x.js", "page": "/checkout"},
	}
}

// buildEnv is what a destination needs to build a notifier for one server.
type buildEnv struct {
	// addr is the loopback server (host:port) the requests must reach.
	addr string
	// client routes every request to addr, or to the loopback address its
	// URL names, and trusts the harness's CA. Fixed-host destinations use it.
	client *http.Client
	// opts are the options every notifier of a case gets (logger, timeout).
	opts []notify.Option
}

// destination is one HTTP destination as the suite drives it.
type destination struct {
	name string // the subtest name
	typ  string // the integration type
	// direct destinations use the library's own guarded client (with
	// WithAllowPrivateNetworks and the harness's CA) and an
	// https://127.0.0.1 URL, instead of the routed client.
	direct bool
	// http2: the server offers HTTP/2, which the library's own transport
	// takes, as it does with the vendors.
	http2 bool
	build func(env buildEnv) (notify.Notifier, error)
	// secrets are every secret of the config, and the forms the notifier
	// derives from them (Jira's Basic pair).
	secrets []notify.Secret
	// success answers a request the way the vendor does when all is well.
	success http.HandlerFunc
	// receipt is the Receipt a Send gets from that answer.
	receipt notify.Receipt
	// delayed reports whether a request is the one that takes the
	// destination's time in the fan-out benchmark (Jira's search is not).
	delayed func(r *http.Request) bool
}

func everyRequest(*http.Request) bool { return true }

// destinations lists the HTTP destinations: the seven types, plus
// on-premises Splunk and the webhook through the library's own client, over
// HTTP/1.1 and over HTTP/2.
func destinations() []destination {
	ds := httpDestinations()
	for _, d := range ds {
		if d.direct {
			d.name += "-h2"
			d.http2 = true
			ds = append(ds, d)
		}
	}
	return ds
}

func httpDestinations() []destination {
	return []destination{
		{
			name: "slack", typ: slack.Type,
			receipt: notify.Receipt{ID: "ok"}, // Slack's answer: it gives no id
			build: func(env buildEnv) (notify.Notifier, error) {
				return slack.New(slack.Config{Name: "SOC Slack", WebhookURL: notify.Secret(slackURL), Channel: "#security-alerts"},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{slackURL},
			success: func(w http.ResponseWriter, r *http.Request) {
				drain(r)
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "ok")
			},
			delayed: everyRequest,
		},
		{
			name: "pagerduty", typ: pagerduty.Type,
			receipt: notify.Receipt{ID: "srv-dedup-1"}, // the dedup_key answered, not the event id
			build: func(env buildEnv) (notify.Notifier, error) {
				return pagerduty.New(pagerduty.Config{Name: "SOC PagerDuty", WebhookURL: pagerduty.EventsURL, APIKey: pagerdutyKey},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{pagerdutyKey},
			success: jsonAnswer(http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"srv-dedup-1"}`),
			delayed: everyRequest,
		},
		{
			name: "opsgenie", typ: opsgenie.Type,
			receipt: notify.Receipt{ID: "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}, // the requestId
			build: func(env buildEnv) (notify.Notifier, error) {
				return opsgenie.New(opsgenie.Config{Name: "SOC Opsgenie", URL: opsgenie.AlertsURL,
					TeamID: "4513b7ea-3b91-438f-b7e4-e3e54af9147c", APIKey: opsgenieKey},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{opsgenieKey},
			success: jsonAnswer(http.StatusAccepted, `{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`),
			delayed: everyRequest,
		},
		{
			name: "jira", typ: jira.Type,
			receipt: notify.Receipt{ID: "SEC-24", URL: "https://acme.atlassian.net/browse/SEC-24"},
			build: func(env buildEnv) (notify.Notifier, error) {
				return jira.New(jira.Config{Name: "SOC Jira", URL: "https://acme.atlassian.net/rest/api/2/issue/",
					ProjectID: "10000", APIToken: jiraToken, ReporterEmail: jiraEmail, PriorityFromRisk: true},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{jiraToken,
				notify.Secret(base64.StdEncoding.EncodeToString([]byte(jiraEmail + ":" + jiraToken)))},
			success: func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/rest/api/3/search") {
					jsonAnswer(http.StatusOK, `{"issues":[],"isLast":true}`)(w, r)
					return
				}
				jsonAnswer(http.StatusCreated, `{"id":"10001","key":"SEC-24","self":"https://acme.atlassian.net/rest/api/2/issue/10001"}`)(w, r)
			},
			delayed: func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/rest/api/3/search") },
		},
		{
			name: "datadog", typ: datadog.Type,
			receipt: notify.Receipt{ID: "24", URL: "https://app.datadoghq.eu/incidents/24"}, // the public_id
			build: func(env buildEnv) (notify.Notifier, error) {
				return datadog.New(datadog.Config{Name: "SOC Datadog", URL: "https://api.datadoghq.eu/api/v2/incidents",
					ApplicationKey: datadogAppKey, APIKey: datadogAPIKey},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{datadogAPIKey, datadogAppKey},
			success: jsonAnswer(http.StatusCreated, `{"data":{"type":"incidents","id":"00000000-0000-4000-8000-00000000abcd","attributes":{"public_id":24,"title":"t"}}}`),
			delayed: everyRequest,
		},
		{
			name: "splunk", typ: splunk.Type,
			receipt: notify.Receipt{ID: "evt-quality-1"}, // HEC gives no id: the event HEC accepted (code 0)
			build: func(env buildEnv) (notify.Notifier, error) {
				return splunk.New(splunk.Config{Name: "SOC Splunk", URL: "https://http-inputs-acme.splunkcloud.com/services/collector",
					APIToken: splunkToken, Index: "security"},
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{splunkToken},
			success: jsonAnswer(http.StatusOK, `{"text":"Success","code":0}`),
			delayed: everyRequest,
		},
		{
			name: "splunk-onprem", typ: splunk.Type, direct: true,
			receipt: notify.Receipt{ID: "evt-quality-1"},
			build: func(env buildEnv) (notify.Notifier, error) {
				return splunk.New(splunk.Config{Name: "SOC Splunk on-prem", URL: "https://" + env.addr + "/services/collector",
					APIToken: splunkToken},
					append(env.opts, notify.WithAllowPrivateNetworks(), splunk.WithCACert(testPKI().caPEM))...)
			},
			secrets: []notify.Secret{splunkToken},
			success: jsonAnswer(http.StatusOK, `{"text":"Success","code":0}`),
			delayed: everyRequest,
		},
		{
			name: "webhook", typ: webhook.Type,
			receipt: notify.Receipt{ID: "evt-quality-1"}, // the webhook-id
			build: func(env buildEnv) (notify.Notifier, error) {
				return webhook.New(webhookConfig("https://hooks.example.com"+webhookURLPath, ""),
					append(env.opts, notify.WithHTTPClient(env.client))...)
			},
			secrets: []notify.Secret{"https://hooks.example.com" + webhookURLPath, webhookBearer,
				notify.Secret("Bearer " + webhookBearer), notify.Secret(webhookSigningSecret)},
			success: func(w http.ResponseWriter, r *http.Request) { drain(r); w.WriteHeader(http.StatusOK) },
			delayed: everyRequest,
		},
		{
			name: "webhook-loopback", typ: webhook.Type, direct: true,
			receipt: notify.Receipt{ID: "evt-quality-1"},
			build: func(env buildEnv) (notify.Notifier, error) {
				return webhook.New(webhookConfig("https://"+env.addr+webhookURLPath, string(testPKI().caPEM)),
					append(env.opts, notify.WithAllowPrivateNetworks())...)
			},
			// The URL holds the server's port, so the secret is its path:
			// AssertNoSecret looks for the path of a URL secret, and the
			// scrubber for its last segment.
			secrets: []notify.Secret{webhookURLPath, webhookBearer,
				notify.Secret("Bearer " + webhookBearer), notify.Secret(webhookSigningSecret)},
			success: func(w http.ResponseWriter, r *http.Request) { drain(r); w.WriteHeader(http.StatusOK) },
			delayed: everyRequest,
		},
	}
}

func webhookConfig(url, caPEM string) webhook.Config {
	return webhook.Config{
		Name:          "SOC webhook",
		URL:           url,
		CACert:        caPEM,
		Headers:       []webhook.Header{{Name: "Authorization", Value: notify.Secret("Bearer " + webhookBearer)}},
		SigningSecret: notify.Secret(webhookSigningSecret),
		Events:        []notify.EventType{notify.EventClientSideRisk, notify.EventIncident},
	}
}

// jsonAnswer answers with a fixed JSON body after reading the request.
func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// drain reads the request body, as a real server does before answering,
// so that the connection can be reused.
func drain(r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }

// hangUp holds a request unanswered until the client gives up or the case
// ends (stop). A client that gave up gets no answer at all: a handler that
// just returned would make net/http answer 200, and a client racing its own
// deadline may still read that answer and rightly take it for success.
func hangUp(r *http.Request, stop <-chan struct{}) {
	select {
	case <-r.Context().Done():
		panic(http.ErrAbortHandler) // net/http drops the connection (HTTP/1) or resets the stream (HTTP/2)
	case <-stop:
	}
}

// loopbackServer is an httptest TLS server that counts the TCP connections
// it accepts and the requests it gets.
type loopbackServer struct {
	*httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

// serverOptions shape a loopbackServer.
type serverOptions struct {
	cert tls.Certificate
	// plain serves HTTP without TLS (a server that does not speak TLS).
	plain bool
	// http2 offers HTTP/2 in the TLS handshake, as the vendors do.
	http2 bool
	// sendBuffer, when set, bounds the kernel send buffer of each accepted
	// connection, so that what the server manages to write tracks what the
	// client reads.
	sendBuffer int
}

func startServer(t testing.TB, o serverOptions, h http.Handler) *loopbackServer {
	t.Helper()
	s := &loopbackServer{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	// A client refusing the certificate is a case of the suite, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if o.sendBuffer > 0 {
		srv.Listener = sendBufferListener{Listener: srv.Listener, size: o.sendBuffer}
	}
	s.Server = srv
	if o.plain {
		srv.Start()
	} else {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{o.cert}, MinVersion: tls.VersionTLS12}
		srv.EnableHTTP2 = o.http2
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	return s
}

// addr is the server's host:port.
func (s *loopbackServer) addr() string { return s.Listener.Addr().String() }

type sendBufferListener struct {
	net.Listener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// closedAddr returns a loopback address where nothing listens: connecting
// to it is refused.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// silentListener accepts TCP connections, writes its greeting (none: a
// TLS handshake to it never completes) and then says nothing more. It
// reads and counts what the client sends (heard): a ClientHello that
// arrived shows the handshake began.
type silentListener struct {
	net.Listener
	heard   atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
	done    chan struct{}
	readers sync.WaitGroup
}

func startSilent(t testing.TB, greeting []byte) *silentListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentListener{Listener: l, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if len(greeting) > 0 {
				_, _ = c.Write(greeting)
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.readers.Go(func() {
				buf := make([]byte, 4<<10)
				for {
					n, err := c.Read(buf)
					s.heard.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-s.done
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.readers.Wait()
	})
	return s
}

// routedClient returns a client whose every connection goes to target
// (a loopback host:port) whatever the URL's host, except a URL that names
// a loopback address itself, which is dialled as is; TLS is verified
// against the harness's CA under the URL's host name, as a real client
// verifies the vendor. It never dials anything but loopback. When read is
// not nil it counts the bytes read from the network, over connections
// with a small receive buffer.
func routedClient(t testing.TB, target string, read *atomic.Int64) *http.Client {
	dialer := &net.Dialer{Timeout: hangGuard}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			to := target
			if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().IsLoopback() {
				to = addr
			}
			if ap, err := netip.ParseAddrPort(to); err != nil || !ap.Addr().IsLoopback() {
				return nil, fmt.Errorf("harness: refusing to dial %q: not a loopback address", to)
			}
			c, err := dialer.DialContext(ctx, "tcp", to)
			if err != nil || read == nil {
				return c, err
			}
			_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
			return countingConn{Conn: c, read: read}, nil
		},
		TLSClientConfig:     &tls.Config{RootCAs: testPKI().pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// closeNotifier releases what a notifier holds: idle connections of the
// library's own client (webhook) or its SDK client.
func closeNotifier(n notify.Notifier) {
	switch c := n.(type) {
	case interface{ CloseIdleConnections() }:
		c.CloseIdleConnections()
	case io.Closer:
		_ = c.Close()
	}
}
