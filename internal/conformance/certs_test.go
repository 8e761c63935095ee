package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"time"
)

// vendorNames are the host names the harness's server certificate is valid
// for: every vendor host a fixed-host destination may name, the webhook's
// host, and loopback, so that a client verifying the real host name accepts
// the loopback server, as it would the vendor.
var vendorNames = []string{
	"hooks.slack.com",
	"events.pagerduty.com", "events.eu.pagerduty.com",
	"api.opsgenie.com", "api.eu.opsgenie.com",
	"api.atlassian.com", "*.atlassian.net",
	"api.datadoghq.com", "api.datadoghq.eu", "api.us3.datadoghq.com",
	"*.splunkcloud.com",
	"hooks.example.com",
	"localhost",
}

var loopbackIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}

// pki is the harness's certificates: a CA the clients trust and four server
// certificates, one good and three that verification must refuse.
type pki struct {
	caPEM []byte
	pool  *x509.CertPool // holds the trusted CA only

	good      tls.Certificate // trusted CA, vendor names and loopback
	rogue     tls.Certificate // same names, from a CA nobody trusts
	wrongHost tls.Certificate // trusted CA, but for another host only
	expired   tls.Certificate // trusted CA, vendor names, expired yesterday
}

// testPKI is built once per test binary: key generation is the slow part.
var testPKI = sync.OnceValue(func() *pki {
	now := time.Now()
	ca, caKey := newCA("conformance test CA", now)
	rogueCA, rogueKey := newCA("conformance rogue CA", now)
	p := &pki{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		pool:  x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	p.good = leaf(ca, caKey, vendorNames, loopbackIPs, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.rogue = leaf(rogueCA, rogueKey, vendorNames, loopbackIPs, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.wrongHost = leaf(ca, caKey, []string{"elsewhere.example"}, nil, now.Add(-time.Hour), now.Add(24*time.Hour))
	p.expired = leaf(ca, caKey, vendorNames, loopbackIPs, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	return p
})

func newCA(name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	return must(x509.ParseCertificate(der)), key
}

func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, ips []net.IP, from, until time.Time) tls.Certificate {
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    from,
		NotAfter:     until,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey))
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}

func serial() *big.Int {
	return must(rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120)))
}

// must is for the harness's own setup, where an error means the machine,
// not the code under test, is broken.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
