// Package guard is the network guard: the dial-time check of every
// resolved address, and the guarded transport and client the library uses
// by default.
package guard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
)

// cloudMetadata are the clouds' instance metadata and credential
// endpoints. They hand out the host's own credentials, so they are refused
// even with WithAllowPrivateNetworks, which only opens the private ranges
// an on-premises destination lives in; several are inside those ranges
// (fd00::/8 is unique-local), so they are checked first.
var cloudMetadata = mustPrefixes(
	"169.254.169.254/32", // AWS, GCP, Azure, OCI and most others over IPv4
	"169.254.170.2/32",   // AWS ECS task credentials
	"169.254.170.23/32",  // AWS EKS Pod Identity Agent
	"100.100.100.200/32", // Alibaba Cloud
	"168.63.129.16/32",   // Azure WireServer (a public address)
	// AWS serves IMDS (fd00:ec2::254), DNS (::253), NTP (::123) and the
	// EKS Pod Identity Agent (::23) from this block:
	// https://docs.aws.amazon.com/whitepapers/latest/ipv6-on-aws/supporting-amazon-vpc-services.html
	// https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html
	"fd00:ec2::/32",
	// The addresses below are the other clouds' IPv6 metadata endpoints as
	// public SSRF guard lists and the clouds' own agents use them; their
	// documentation pages were not checked here, and refusing an address
	// that is not one costs nothing.
	"fd20:ce::254/128",       // Google Cloud, IPv6-only instances
	"fd00:c1::a9fe:a9fe/128", // Oracle Cloud IMDS over IPv6 (used by OCI's SDKs)
	"fd00:42::42/128",        // Scaleway
	"fd00:a9fe:a9fe::1/128",  // Akamai (Linode)
	"fd00:100::100:200/128",  // Alibaba Cloud over IPv6
)

// alwaysDenied are refused even with WithAllowPrivateNetworks: nothing a
// destination lives on.
var alwaysDenied = mustPrefixes(
	"0.0.0.0/8",       // "this network", unspecified
	"169.254.0.0/16",  // link-local
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
	"::/128",          // unspecified
	"fe80::/10",       // link-local
	"ff00::/8",        // multicast
	"2001:db8::/32",   // documentation
	"2002::/16",       // 6to4, can embed any IPv4 address
	"2001::/32",       // Teredo, can embed any IPv4 address
	"64:ff9b::/96",    // NAT64, can embed any IPv4 address
)

// privateNetworks are refused unless WithAllowPrivateNetworks is given.
var privateNetworks = mustPrefixes(
	"10.0.0.0/8",
	"100.64.0.0/10", // carrier-grade NAT
	"127.0.0.0/8",
	"172.16.0.0/12",
	"192.168.0.0/16",
	"::1/128",
	"fc00::/7", // unique local
)

// globalUnicastV6 is the only IPv6 space a public destination lives in.
var globalUnicastV6 = netip.MustParsePrefix("2000::/3")

func mustPrefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// CheckIP returns nil when the guard lets a connection to ip through, and an
// error wrapping notify.ErrBlockedAddress that says why otherwise. IPv4-mapped IPv6
// addresses are checked as the IPv4 address they carry.
func CheckIP(ip netip.Addr, allowPrivate bool) error {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return fmt.Errorf("%w: not an IP address", notify.ErrBlockedAddress)
	}
	for _, p := range cloudMetadata {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is a cloud metadata address, refused even with private networks allowed",
				notify.ErrBlockedAddress, ip)
		}
	}
	for _, p := range alwaysDenied {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is a %s address", notify.ErrBlockedAddress, ip, describeAddr(ip))
		}
	}
	for _, p := range privateNetworks {
		if p.Contains(ip) {
			if allowPrivate {
				return nil
			}
			return fmt.Errorf("%w: %s is a %s address (use notify.WithAllowPrivateNetworks for on-premises targets)",
				notify.ErrBlockedAddress, ip, describeAddr(ip))
		}
	}
	if ip.Is6() && !globalUnicastV6.Contains(ip) {
		return fmt.Errorf("%w: %s is not a global unicast address", notify.ErrBlockedAddress, ip)
	}
	return nil
}

func describeAddr(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsPrivate():
		return "private"
	default:
		return "reserved"
	}
}

// GuardControl returns a net.Dialer Control function that checks the
// resolved address of every connection attempt (so redirects, Happy
// Eyeballs and DNS rebinding cannot slip past) and refuses the ones CheckIP
// refuses.
func GuardControl(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		return checkDialAddress(network, address, allowPrivate)
	}
}

func checkDialAddress(network, address string, allowPrivate bool) error {
	if !strings.HasPrefix(network, "tcp") && !strings.HasPrefix(network, "udp") {
		return fmt.Errorf("%w: network %q", notify.ErrBlockedAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", notify.ErrBlockedAddress, address)
	}
	return CheckIP(ap.Addr(), allowPrivate)
}

type plaintextKey struct{}

// guardedDialer dials through the guard. For a plain http:// request, which
// is allowed only to private addresses, it also refuses public ones.
func guardedDialer(allowPrivate bool) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		ControlContext: func(ctx context.Context, network, address string, _ syscall.RawConn) error {
			if err := checkDialAddress(network, address, allowPrivate); err != nil {
				return err
			}
			if ctx.Value(plaintextKey{}) != nil {
				ap, _ := netip.ParseAddrPort(address)
				if !isPrivateOrLoopback(ap.Addr()) {
					return fmt.Errorf("%w: plain http:// only to a private or loopback address, and %s is public",
						notify.ErrBlockedAddress, ap.Addr())
				}
			}
			return nil
		},
	}
}

// IsPrivateAddress reports whether ip is a loopback or private address: one
// the guard refuses unless WithAllowPrivateNetworks is given, and the only
// kind plain http:// may reach.
func IsPrivateAddress(ip netip.Addr) bool { return isPrivateOrLoopback(ip) }

func isPrivateOrLoopback(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range privateNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL checks a destination URL the way New does: it must parse, be
// absolute, carry no user:password, and be https, or http:// when
// allowPrivate is set and the host is not a public IP address. A host name
// over http:// is checked where it resolves, at dial time: the default
// client refuses plain http:// to any public address. The error never
// repeats the URL, which may be a credential.
func CheckURL(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("is not a valid URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, errors.New("must be an absolute URL such as https://host/path")
	}
	if u.User != nil {
		return nil, errors.New("must not carry a user name or password")
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if !allowPrivate {
			return nil, errors.New("must use https (plain http:// is allowed only to private addresses, with notify.WithAllowPrivateNetworks)")
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !isPrivateOrLoopback(ip) {
			return nil, errors.New("must use https: plain http:// is allowed only to a loopback or private address")
		}
		return u, nil
	default:
		return nil, errors.New("must use https")
	}
}

// maxHeaderBytes bounds a response's headers, as bodies are bounded; no
// destination sends more.
const maxHeaderBytes = 64 << 10

// NewTransport returns the guarded transport the default client uses: every
// dialled address goes through the network guard, the proxy is off (behind
// a proxy the guard would see only the proxy), TLS 1.2 is the minimum, and a
// plain http:// request may reach only a private or loopback address.
// tlsConfig may be nil; destinations with client certificates pass their own.
func NewTransport(allowPrivate bool, tlsConfig *tls.Config) http.RoundTripper {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.MinVersion < tls.VersionTLS12 {
		tlsConfig.MinVersion = tls.VersionTLS12
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           guardedDialer(allowPrivate).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // each request is bounded by its context
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// Headers are bounded like bodies; no destination sends more.
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	return plaintextMarker{t}
}

// plaintextMarker tells the guarded dialer which connections carry plain
// http://, which may go only to private addresses.
type plaintextMarker struct{ *http.Transport }

func (p plaintextMarker) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		r = r.WithContext(context.WithValue(r.Context(), plaintextKey{}, true))
	}
	return p.Transport.RoundTrip(r)
}

// NewHTTPClient returns the client a notifier uses: a copy of the caller's
// client (WithHTTPClient) or the guarded default, in both cases with
// redirects refused so no credential travels to another host.
func NewHTTPClient(s settings.Settings) *http.Client {
	var c http.Client
	if s.HTTPClient != nil {
		c = *s.HTTPClient
	} else {
		c.Transport = NewTransport(s.AllowPrivateNetworks, nil)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
