package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"
)

// certValidity is how long the fake's certificates are valid: long enough
// for a program such as the quickstart that keeps a Server running, short
// enough that a leaked key is worthless.
const certValidity = 7 * 24 * time.Hour

// maxMintedCerts bounds the per-host certificates the Server keeps, so a
// client that sends endless distinct server names cannot grow it forever.
const maxMintedCerts = 1024

// certAuthority is the fake's in-memory CA: it signs one leaf for the
// vendor hosts at start and mints a leaf for any other server name on
// demand.
type certAuthority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pem     []byte
	pool    *x509.CertPool
	leaf    tls.Certificate
	mu      sync.Mutex
	minted  map[string]*tls.Certificate
	expires time.Time
}

// newCertAuthority makes a CA whose default leaf covers names (the fakes'
// CertNames) and the loopback addresses.
func newCertAuthority(now time.Time, names []string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "notifytest fake vendor CA", Organization: []string{"notifytest"}},
		NotBefore:             now.Add(-time.Hour), // tolerate a little clock skew
		NotAfter:              now.Add(certValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sign the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the CA certificate: %w", err)
	}
	ca := &certAuthority{
		cert:    cert,
		key:     key,
		pem:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pool:    x509.NewCertPool(),
		minted:  map[string]*tls.Certificate{},
		expires: tmpl.NotAfter,
	}
	ca.pool.AddCert(cert)
	leaf, err := ca.sign(now, names, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return nil, err
	}
	ca.leaf = *leaf
	return ca, nil
}

// sign issues a server certificate for the names and addresses.
func (ca *certAuthority) sign(now time.Time, names []string, ips []net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"notifytest"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     ca.expires,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign a server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse a server certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// getCertificate is the TLS server's GetCertificate: the vendor leaf when
// it covers the requested name, else a leaf minted for that one name.
func (ca *certAuthority) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if name == "" || ca.leaf.Leaf.VerifyHostname(name) == nil {
		return &ca.leaf, nil
	}
	if !validServerName(name) {
		return nil, fmt.Errorf("notifytest: %q is not a host name", name)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.minted[name]; ok {
		return c, nil
	}
	if len(ca.minted) >= maxMintedCerts {
		clear(ca.minted)
	}
	c, err := ca.sign(time.Now(), []string{name}, nil)
	if err != nil {
		return nil, err
	}
	ca.minted[name] = c
	return c, nil
}

// validServerName accepts what a DNS name in a certificate may hold; SNI
// never carries an IP address.
func validServerName(name string) bool {
	if len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil || n.Sign() == 0 {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
