package guard_test

import (
	"context"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
)

func quietLog() *log.Logger { return log.New(discard{}, "", 0) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestGuardControlRefuses calls the dial Control function directly on
// addresses that must never be dialled from a test.
func TestGuardControlRefuses(t *testing.T) {
	guarded := guard.GuardControl(false)
	private := guard.GuardControl(true)
	tests := []struct {
		addr         string
		refusedAlso  bool // refused even with WithAllowPrivateNetworks
		wantInReason string
	}{
		{"127.0.0.1:443", false, "loopback"},
		{"127.8.9.10:443", false, "loopback"},
		{"[::1]:443", false, "loopback"},
		{"10.0.0.1:443", false, "private"},
		{"172.16.5.4:443", false, "private"},
		{"192.168.1.1:443", false, "private"},
		{"100.64.0.1:443", false, "address"},
		{"[fd12:3456::1]:443", false, "private"},
		{"[::ffff:127.0.0.1]:443", false, "loopback"},
		{"[::ffff:10.0.0.1]:443", false, "private"},
		{"169.254.169.254:80", true, "cloud metadata"},
		{"[::ffff:169.254.169.254]:80", true, "cloud metadata"},
		{"[fd00:ec2::254]:80", true, "cloud metadata"},
		{"100.100.100.200:80", true, "cloud metadata"},
		// IPv6 metadata endpoints sit in the unique-local range that
		// private networks open; they must stay refused.
		{"[fd00:ec2::23]:80", true, "cloud metadata"},
		{"[fd00:ec2::253]:53", true, "cloud metadata"},
		{"[fd20:ce::254]:80", true, "cloud metadata"},
		{"[fd00:c1::a9fe:a9fe]:80", true, "cloud metadata"},
		{"[fd00:42::42]:80", true, "cloud metadata"},
		{"[::ffff:169.254.170.23]:80", true, "cloud metadata"},
		{"169.254.170.2:80", true, "cloud metadata"},
		{"168.63.129.16:80", true, "cloud metadata"},
		{"[fd00:ec3::1]:443", false, "private"},
		{"169.254.1.1:80", true, "link-local"},
		{"[fe80::1]:80", true, "link-local"},
		{"0.0.0.0:443", true, "unspecified"},
		{"[::]:443", true, "unspecified"},
		{"224.0.0.1:443", true, "multicast"},
		{"[ff02::1]:443", true, "multicast"},
		{"255.255.255.255:443", true, "reserved"},
		{"[64:ff9b::a00:1]:443", true, "address"},
		{"[2002:a00:1::1]:443", true, "address"},
		{"not-an-ip:443", true, "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := guarded("tcp", tt.addr, nil)
			require.ErrorIs(t, err, notify.ErrBlockedAddress)
			require.Contains(t, err.Error(), tt.wantInReason)
			err = private("tcp", tt.addr, nil)
			if tt.refusedAlso {
				require.ErrorIs(t, err, notify.ErrBlockedAddress)
			} else {
				require.NoError(t, err)
			}
		})
	}
	for _, ok := range []string{"93.184.216.34:443", "[2606:2800:220:1:248:1893:25c8:1946]:443", "8.8.8.8:8088"} {
		require.NoError(t, guarded("tcp", ok, nil), ok)
		require.NoError(t, guarded("tcp6", ok, nil), ok)
	}
	require.ErrorIs(t, guarded("unix", "/tmp/sock", nil), notify.ErrBlockedAddress)
}

func TestCheckIPOddForms(t *testing.T) {
	// Decimal and octal IPv4 forms never reach the dialer as such: Go's
	// resolver does not read them as IPs, and the dialer hands Control the
	// canonical form. The canonical forms are what is refused.
	for _, s := range []string{"127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:127.0.0.1"} {
		require.Error(t, guard.CheckIP(netip.MustParseAddr(s), false), s)
	}
	_, err := netip.ParseAddr("2130706433")
	require.Error(t, err, "a decimal IPv4 is not an IP for Go")
	_, err = netip.ParseAddr("0177.0.0.1")
	require.Error(t, err, "an octal IPv4 is not an IP for Go")
}

// TestDefaultClientRefusesLoopback dials only loopback forms through the
// default client: every one is refused before a byte is sent.
func TestDefaultClientRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	s := sender.New("test", settings.Apply[notify.Option]())
	for _, host := range []string{"127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "127.1"} {
		t.Run(host, func(t *testing.T) {
			_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: "https://" + host + ":" + port + "/"})
			require.Error(t, err)
			if host != "127.1" { // not an IP for Go, and not a resolvable name: it fails to resolve
				require.ErrorIs(t, err, notify.ErrRejected)
				require.False(t, notify.IsRetryable(err))
				require.ErrorIs(t, err, notify.ErrBlockedAddress)
				require.Contains(t, err.Error(), "loopback")
			}
		})
	}
	require.Zero(t, hits.Load())

	// The same server is reachable once private networks are allowed.
	_, err := sender.New("test", settings.Apply(notify.WithAllowPrivateNetworks())).Do(context.Background(),
		sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
	require.NoError(t, err)
	require.EqualValues(t, 1, hits.Load())
}

func TestRedirectToPrivateAddressIsNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	_, err := loopbackSender().Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), "redirect to 169.254.169.254 not followed")
}

func TestPlainHTTPOnlyToPrivateAddresses(t *testing.T) {
	tests := []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://example.com/x", false, true},
		{"http://example.com/x", false, false},
		{"http://splunk.corp:8088/x", true, true}, // checked where it resolves, at dial time
		{"http://93.184.216.34/x", true, false},
		{"http://10.1.2.3:8088/x", false, false},
		{"http://10.1.2.3:8088/x", true, true},
		{"http://127.0.0.1:8088/x", true, true},
		{"http://[::1]:8088/x", true, true},
		{"http://localhost:8088/x", true, true},
		{"https://user:hunter2@example.com/x", false, false},
		{"ftp://example.com/x", true, false},
		{"example.com/x", false, false},
		{"https://", false, false},
		{"::not a url", false, false},
	}
	for _, tt := range tests {
		_, err := guard.CheckURL(tt.url, tt.allowPrivate)
		if tt.ok {
			require.NoError(t, err, tt.url)
			continue
		}
		require.Error(t, err, tt.url)
		require.NotContains(t, err.Error(), "hunter2", "the error does not repeat the URL")
	}
}

func loopbackSender() *sender.Sender {
	return sender.New("test", settings.Apply(notify.WithAllowPrivateNetworks()))
}
