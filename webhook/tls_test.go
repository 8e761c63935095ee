package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// testCert is a certificate made in the test, with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (c testCert) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

func (c testCert) keyPEM(t testing.TB) notify.Secret {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	require.NoError(t, err)
	return notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func (c testCert) tlsCert() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
}

var serial atomic.Int64

// certOpts shapes a test certificate.
type certOpts struct {
	cn                  string
	ca                  bool
	server, client      bool
	notBefore, notAfter time.Time
}

// newCert makes a certificate signed by parent (self-signed when parent is
// nil).
func newCert(t testing.TB, o certOpts, parent *testCert) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: o.cn},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.ca,
	}
	switch {
	case o.ca:
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	case o.server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	case o.client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return testCert{cert: c, key: key}
}

// pki is a server CA, a server certificate for loopback, a client CA and a
// client certificate.
type pki struct {
	serverCA, server, clientCA, client testCert
}

func newPKI(t testing.TB) pki {
	var p pki
	p.serverCA = newCert(t, certOpts{cn: "test server CA", ca: true}, nil)
	p.server = newCert(t, certOpts{cn: "127.0.0.1", server: true}, &p.serverCA)
	p.clientCA = newCert(t, certOpts{cn: "test client CA", ca: true}, nil)
	p.client = newCert(t, certOpts{cn: "codedefender-webhook", client: true}, &p.clientCA)
	return p
}

// mtlsServer starts a loopback HTTPS server that requires a client
// certificate issued by p.clientCA, and records the requests it serves.
func mtlsServer(t *testing.T, p pki, maxVersion uint16) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var hits atomic.Int32
	var peer atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.clientCA.cert)
	srv.TLS = &tls.Config{
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		Certificates: []tls.Certificate{p.server.tlsCert()},
		MaxVersion:   maxVersion,
	}
	// The handshake failures the tests provoke would be logged to stderr.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &hits, &peer
}

func tlsConfigFor(t testing.TB, p pki, url string) Config {
	t.Helper()
	return Config{
		Name:       "mTLS receiver",
		URL:        url + "/hook",
		Protocol:   ProtocolTLS,
		ClientCert: p.client.certPEM(),
		ClientKey:  p.client.keyPEM(t),
		CACert:     p.serverCA.certPEM(),
	}
}

func TestMutualTLS_RightCertificateArrives(t *testing.T) {
	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS1.3", tls.VersionTLS13}, {"TLS1.2", tls.VersionTLS12}} {
		t.Run(v.name, func(t *testing.T) {
			p := newPKI(t)
			srv, hits, peer := mtlsServer(t, p, v.max)
			n, err := New(tlsConfigFor(t, p, srv.URL), notify.WithAllowPrivateNetworks())
			require.NoError(t, err)
			t.Cleanup(func() { _ = n.Close() })

			r, err := n.Send(context.Background(), sampleEvt())
			require.NoError(t, err)
			require.Equal(t, "evt-123", r.ID)
			require.EqualValues(t, 1, hits.Load())
			require.Equal(t, "codedefender-webhook", peer.Load())
		})
	}
}

func TestMutualTLS_NoCertificateSaysServerWantsOne(t *testing.T) {
	for _, v := range []struct {
		name, alert, hint string
		max               uint16
	}{
		{"TLS1.3", "certificate required", "wants a client certificate", tls.VersionTLS13},
		{"TLS1.2", "handshake failure", "refused the TLS handshake", tls.VersionTLS12},
	} {
		t.Run(v.name, func(t *testing.T) {
			p := newPKI(t)
			srv, hits, _ := mtlsServer(t, p, v.max)
			cfg := tlsConfigFor(t, p, srv.URL)
			cfg.Protocol, cfg.ClientCert, cfg.ClientKey = ProtocolTCP, "", ""
			n, err := New(cfg, notify.WithAllowPrivateNetworks())
			require.NoError(t, err)
			t.Cleanup(func() { _ = n.Close() })

			_, err = n.Send(context.Background(), sampleEvt())
			require.Error(t, err)
			require.ErrorIs(t, err, notify.ErrRejected)
			require.False(t, notify.IsRetryable(err), "a missing client certificate is not fixed by retrying")
			require.Contains(t, err.Error(), v.hint)
			require.Contains(t, err.Error(), v.alert)
			require.Zero(t, hits.Load())

			// The report says what this configuration can do about it.
			r := n.TestReport(context.Background())
			require.Equal(t, checkReachable, r.Checks[1].Name)
			require.Equal(t, notify.CheckFailed, r.Checks[1].Status)
			require.Contains(t, r.Checks[1].Detail, v.alert)
			require.Contains(t, r.Checks[1].Detail, `set protocol "tls" with client_cert and client_key`)
			require.ErrorIs(t, r.Err(), notify.ErrRejected)
		})
	}
}

func TestMutualTLS_UntrustedClientCertificateIsRefused(t *testing.T) {
	p := newPKI(t)
	srv, hits, _ := mtlsServer(t, p, tls.VersionTLS13)
	otherCA := newCert(t, certOpts{cn: "other CA", ca: true}, nil)
	stranger := newCert(t, certOpts{cn: "stranger", client: true}, &otherCA)
	cfg := tlsConfigFor(t, p, srv.URL)
	cfg.ClientCert, cfg.ClientKey = stranger.certPEM(), stranger.keyPEM(t)
	n, err := New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })

	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.False(t, notify.IsRetryable(err))
	require.Contains(t, err.Error(), "wants a client certificate it trusts")
	require.Zero(t, hits.Load())
	notifytest.AssertNoSecret(t, err, cfg.ClientKey)
}

func TestCACertReplacesSystemRoots(t *testing.T) {
	p := newPKI(t)
	srv, hits, _ := mtlsServer(t, p, tls.VersionTLS13)
	cfg := tlsConfigFor(t, p, srv.URL)
	// A CA that did not issue the server's certificate: only it is trusted.
	cfg.CACert = newCert(t, certOpts{cn: "unrelated CA", ca: true}, nil).certPEM()
	n, err := New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })

	_, err = n.Send(context.Background(), sampleEvt())
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), "the server's TLS certificate is not trusted")
	var unknown x509.UnknownAuthorityError
	require.True(t, errors.As(err, &unknown), "want an unknown-authority error, got %v", err)
	require.Zero(t, hits.Load())
}

func TestCallerTransportIsClonedWithTheCertificate(t *testing.T) {
	p := newPKI(t)
	srv, hits, peer := mtlsServer(t, p, tls.VersionTLS13)
	callers := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "127.0.0.1"}}
	t.Cleanup(callers.CloseIdleConnections)
	// The caller owns network policy: no WithAllowPrivateNetworks is needed
	// to reach loopback through its transport.
	n, err := New(tlsConfigFor(t, p, srv.URL), notify.WithHTTPClient(&http.Client{Transport: callers}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })

	_, err = n.Send(context.Background(), sampleEvt())
	require.NoError(t, err)
	require.EqualValues(t, 1, hits.Load())
	require.Equal(t, "codedefender-webhook", peer.Load())
	require.Nil(t, callers.TLSClientConfig.GetClientCertificate, "the caller's transport must not be modified")
	require.Nil(t, callers.TLSClientConfig.RootCAs)
}

func TestCallerTransportThatCannotCarryTLSIsRefused(t *testing.T) {
	p := newPKI(t)
	cfg := tlsConfigFor(t, p, "https://hooks.example.com")
	_, err := New(cfg, notify.WithHTTPClient(&http.Client{Transport: httpmock.NewMockTransport()}))
	require.ErrorIs(t, err, errNeedsTransport)
	require.Contains(t, err.Error(), "*http.Transport")

	dialsTLS := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("unused")
	}}
	_, err = New(cfg, notify.WithHTTPClient(&http.Client{Transport: dialsTLS}))
	require.ErrorIs(t, err, errNeedsTransport)

	// Without TLS settings any transport is used as given.
	cfg.Protocol, cfg.ClientCert, cfg.ClientKey, cfg.CACert = ProtocolTCP, "", "", ""
	_, err = New(cfg, notify.WithHTTPClient(&http.Client{Transport: httpmock.NewMockTransport()}))
	require.NoError(t, err)
}

func TestValidate_TLSFields(t *testing.T) {
	p := newPKI(t)
	expired := newCert(t, certOpts{cn: "old", client: true,
		notBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		notAfter:  time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)}, &p.clientCA)
	future := newCert(t, certOpts{cn: "future", client: true,
		notBefore: time.Now().Add(48 * time.Hour), notAfter: time.Now().Add(96 * time.Hour)}, &p.clientCA)
	other := newCert(t, certOpts{cn: "other", client: true}, &p.clientCA)

	keyBlock, _ := pem.Decode([]byte(p.client.keyPEM(t).Reveal()))
	encryptedPKCS8 := notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: keyBlock.Bytes}))
	encryptedLegacy := notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   keyBlock.Bytes}))

	cases := []struct {
		name    string
		mod     func(*Config)
		field   string
		message string
	}{
		{"cert missing", func(c *Config) { c.ClientCert = "" }, "client_cert", `is required with protocol "tls"`},
		{"key missing", func(c *Config) { c.ClientKey = "" }, "client_key", `is required with protocol "tls"`},
		{"key masked", func(c *Config) { c.ClientKey = notify.Redacted }, "client_key", "mask"},
		{"expired", func(c *Config) { c.ClientCert, c.ClientKey = expired.certPEM(), expired.keyPEM(t) },
			"client_cert", "expired on 2021-03-04 05:06:07 UTC"},
		{"not yet valid", func(c *Config) { c.ClientCert, c.ClientKey = future.certPEM(), future.keyPEM(t) },
			"client_cert", "is not valid until"},
		{"encrypted PKCS#8", func(c *Config) { c.ClientKey = encryptedPKCS8 }, "client_key", "is encrypted"},
		{"encrypted legacy PEM", func(c *Config) { c.ClientKey = encryptedLegacy }, "client_key", "is encrypted"},
		{"key of another certificate", func(c *Config) { c.ClientKey = other.keyPEM(t) }, "client_key", "does not match client_cert"},
		{"certificate in the key field", func(c *Config) { c.ClientKey = notify.Secret(p.client.certPEM()) },
			"client_key", "holds no PEM private key"},
		{"key in the certificate field", func(c *Config) { c.ClientCert = p.client.keyPEM(t).Reveal() },
			"client_cert", "holds a private key"},
		{"cert not PEM", func(c *Config) { c.ClientCert = "not a certificate" }, "client_cert", "holds no PEM certificate"},
		{"cert garbage DER", func(c *Config) {
			c.ClientCert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
		}, "client_cert", "certificate 1 does not parse"},
		{"ca not PEM", func(c *Config) { c.CACert = "junk" }, "ca_cert", "holds no PEM certificate"},
		{"ca holds a key", func(c *Config) { c.CACert = p.client.keyPEM(t).Reveal() }, "ca_cert", "holds a private key"},
		{"tls needs https", func(c *Config) { c.URL = "http://127.0.0.1:8080/hook" }, "url", `must use https with protocol "tls"`},
		{"cert with tcp", func(c *Config) { c.Protocol = ProtocolTCP }, "client_cert", `is used only with protocol "tls"`},
		{"ca with http", func(c *Config) {
			c.Protocol, c.ClientCert, c.ClientKey, c.URL = ProtocolTCP, "", "", "http://10.1.2.3/h"
		},
			"ca_cert", "is used only with an https:// URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tlsConfigFor(t, p, "https://hooks.example.com")
			tc.mod(&cfg)
			err := cfg.Validate()
			requireField(t, err, tc.field, tc.message)
			notifytest.AssertNoSecret(t, err, p.client.keyPEM(t), expired.keyPEM(t), other.keyPEM(t))
		})
	}
	require.NoError(t, tlsConfigFor(t, p, "https://hooks.example.com").Validate())
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
