package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/scrub"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// expiryLayout is how certificate dates appear in errors.
const expiryLayout = "2006-01-02 15:04:05 UTC"

// parseClientCert records what is wrong with client_cert and client_key and
// returns the key pair when both are good: PEM that parses, an unencrypted
// key that matches the certificate, and a leaf valid at now. Errors never
// repeat the key.
func parseClientCert(errs *validate.Errors, certPEM string, key notify.Secret, now time.Time) (tls.Certificate, bool) {
	certOK := checkCertPEM(errs, certPEM, now)
	keyOK := checkKeyPEM(errs, key)
	if !certOK || !keyOK {
		return tls.Certificate{}, false
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(key.Reveal()))
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "tls: ")
		if strings.Contains(msg, "does not match") {
			msg = "does not match client_cert (it is the private key of another certificate)"
		} else {
			msg = "cannot be used with client_cert: " + scrub.New(key).Clean(msg)
		}
		errs.Add("client_key", msg)
		return tls.Certificate{}, false
	}
	return pair, true
}

// checkCertPEM records client_cert errors; it reports whether the field is
// good.
func checkCertPEM(errs *validate.Errors, certPEM string, now time.Time) bool {
	const field = "client_cert"
	switch {
	case strings.TrimSpace(certPEM) == "":
		errs.Add(field, `is required with protocol "tls"`)
		return false
	case len(certPEM) > maxPEMBytes:
		errs.Addf(field, "must be at most %d bytes", maxPEMBytes)
		return false
	}
	var certs []*x509.Certificate
	rest := []byte(certPEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if strings.Contains(block.Type, "PRIVATE KEY") {
			errs.Add(field, "holds a private key: put the key in client_key and only the certificate here")
			return false
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			errs.Addf(field, "certificate %d does not parse: %s", len(certs)+1, strings.TrimPrefix(err.Error(), "x509: "))
			return false
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		errs.Add(field, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
		return false
	}
	leaf := certs[0]
	switch {
	case now.After(leaf.NotAfter):
		errs.Addf(field, "expired on %s: renew the certificate", leaf.NotAfter.UTC().Format(expiryLayout))
		return false
	case now.Before(leaf.NotBefore):
		errs.Addf(field, "is not valid until %s", leaf.NotBefore.UTC().Format(expiryLayout))
		return false
	}
	return true
}

// checkKeyPEM records client_key errors; it reports whether the field is
// good. An encrypted key is refused: the standard library cannot decrypt
// PKCS#8, and the legacy PEM encryption is insecure.
func checkKeyPEM(errs *validate.Errors, key notify.Secret) bool {
	const field = "client_key"
	// Not CheckSecret: a PEM key holds line breaks.
	switch {
	case key.IsZero():
		errs.Add(field, `is required with protocol "tls"`)
		return false
	case key.IsMasked():
		errs.Add(field, "holds the "+notify.Redacted+" mask, not a key: paste the key again")
		return false
	case len(key.Reveal()) > maxPEMBytes:
		errs.Addf(field, "must be at most %d bytes", maxPEMBytes)
		return false
	}
	found := false
	rest := []byte(key.Reveal())
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			errs.Add(field, "is encrypted, and the library cannot read encrypted keys: decrypt it first "+
				"(openssl pkey -in key.pem -out key-plain.pem) and store the result, which is kept as a secret")
			return false
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			found = true
		}
	}
	if !found {
		errs.Add(field, "holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)")
		return false
	}
	return true
}

// parseCAPool parses ca_cert: one or more PEM certificates.
func parseCAPool(caPEM string) (*x509.CertPool, error) {
	if len(caPEM) > maxPEMBytes {
		return nil, fmt.Errorf("must be at most %d bytes", maxPEMBytes)
	}
	pool := x509.NewCertPool()
	n := 0
	rest := []byte(caPEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return nil, errors.New("holds a private key: a CA certificate is public, and its key must not be stored here")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %s", n+1, strings.TrimPrefix(err.Error(), "x509: "))
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// tlsConfig returns the TLS settings of a client certificate and CA roots,
// or nil when there are neither (protocol tcp without ca_cert): TLS 1.2 at
// least, the client certificate presented whatever CAs the server names
// (so that a mismatch shows up as the server's refusal, not as a silent
// missing certificate), and the roots as the only ones trusted when set.
func tlsConfig(clientCert *tls.Certificate, roots *x509.CertPool) *tls.Config {
	if clientCert == nil && roots == nil {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if clientCert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return clientCert, nil }
	}
	return cfg
}

// errNeedsTransport explains why a caller's client cannot carry this
// webhook's TLS settings.
var errNeedsTransport = errors.New(`webhook: protocol "tls" and ca_cert need TLS settings on the HTTP transport, ` +
	"and the client given with notify.WithHTTPClient has a transport the library cannot copy " +
	"(not an *http.Transport, or one that dials TLS itself): give a client with an *http.Transport, " +
	"or configure the certificate in your transport and leave protocol, client_cert and ca_cert empty")

// httpClientFor returns the client the Sender should copy: with no TLS
// settings, the caller's (or nil, for the guarded default); with them, the
// guarded default transport carrying them, or a clone of the caller's
// *http.Transport with them added. The caller's dialer, proxy and other TLS
// settings are kept: with WithHTTPClient the caller owns network policy.
func httpClientFor(s settings.Settings, cfg *tls.Config) (*http.Client, error) {
	if cfg == nil {
		return s.HTTPClient, nil
	}
	if s.HTTPClient == nil {
		return &http.Client{Transport: guard.NewTransport(s.AllowPrivateNetworks, cfg)}, nil
	}
	rt := s.HTTPClient.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	// A transport that dials TLS itself would ignore TLSClientConfig.
	if !ok || t.DialTLSContext != nil || t.DialTLS != nil {
		return nil, errNeedsTransport
	}
	t = t.Clone()
	merged := &tls.Config{}
	if t.TLSClientConfig != nil {
		merged = t.TLSClientConfig.Clone()
	}
	if merged.MinVersion < tls.VersionTLS12 {
		merged.MinVersion = tls.VersionTLS12
	}
	if cfg.GetClientCertificate != nil {
		merged.Certificates = nil
		merged.GetClientCertificate = cfg.GetClientCertificate
	}
	if cfg.RootCAs != nil {
		merged.RootCAs = cfg.RootCAs
	}
	t.TLSClientConfig = merged
	c := *s.HTTPClient
	c.Transport = t
	return &c, nil
}
