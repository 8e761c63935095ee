package conformance

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/splunk"
	"github.com/codedefender/integrations/webhook"
)

// arbitraryHost is a destination that takes any host in its URL, built on
// the library's own guarded client.
type arbitraryHost struct {
	name  string
	build func(hostport string, opts ...notify.Option) (notify.Notifier, error)
}

var arbitraryHosts = []arbitraryHost{
	{"webhook", func(hostport string, opts ...notify.Option) (notify.Notifier, error) {
		return webhook.New(webhookConfig("https://"+hostport+webhookURLPath, string(testPKI().caPEM)), opts...)
	}},
	{"splunk-onprem", func(hostport string, opts ...notify.Option) (notify.Notifier, error) {
		return splunk.New(splunk.Config{Name: "SOC Splunk on-prem", URL: "https://" + hostport + "/services/collector",
			APIToken: splunkToken}, append(opts, splunk.WithCACert(testPKI().caPEM))...)
	}},
}

// TestGuardLoopbackForms sends, through each arbitrary-host destination's
// default client, to spellings of the loopback server's address that
// notify/guard_test.go does not dial through a destination: decimal and
// octal IPv4, the short form, IPv4-mapped IPv6, IPv6 loopback and a name
// that resolves to 127.0.0.1. Without WithAllowPrivateNetworks none of them
// reaches the server. Only loopback is ever dialled: the numeric forms are
// not host names for Go's resolver (it answers "no such host" without a
// query), and a C resolver reads them as 127.0.0.1, which the guard refuses.
func TestGuardLoopbackForms(t *testing.T) {
	srv := startServer(t, serverOptions{cert: testPKI().good}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain(r)
		_, _ = w.Write([]byte(`{"text":"Success","code":0}`))
	}))
	_, port, err := net.SplitHostPort(srv.addr())
	require.NoError(t, err)

	forms := []struct {
		host string
		// resolves: the host is an IP or a name that resolves, so the guard
		// is what refuses it; otherwise the resolver may refuse it first.
		resolves bool
	}{
		{"127.0.0.1", true},
		{"localhost", true},
		{"[::ffff:127.0.0.1]", true},
		{"[::1]", true},
		{"2130706433", false},   // 127.0.0.1 as one decimal number
		{"0177.0.0.1", false},   // octal first byte
		{"017700000001", false}, // one octal number
		{"127.1", false},        // the short form
	}
	for _, dest := range arbitraryHosts {
		for _, f := range forms {
			t.Run(dest.name+"/"+f.host, func(t *testing.T) {
				logger, logs := notifytest.NewLogger()
				n, err := dest.build(net.JoinHostPort(trimBrackets(f.host), port), notify.WithLogger(logger))
				require.NoError(t, err)
				defer closeNotifier(n)
				_, err = n.Send(context.Background(), qualityEvent())
				require.Error(t, err)
				var dnsErr *net.DNSError
				switch {
				case errors.Is(err, notify.ErrBlockedAddress):
					require.ErrorIs(t, err, notify.ErrRejected)
					require.False(t, notify.IsRetryable(err), "a refused address stays refused")
					require.Contains(t, err.Error(), "loopback")
				case !f.resolves && errors.As(err, &dnsErr):
					require.True(t, dnsErr.IsNotFound, "no such host: %v", err)
				case f.host == "[::1]" && (errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EADDRNOTAVAIL)):
					t.Skip("this machine has no IPv6 loopback: ", err)
				default:
					t.Fatalf("neither the guard nor the resolver refused it: %v", err)
				}
				notifytest.AssertNoSecret(t, err, webhookBearer, webhookURLPath, splunkToken)
				notifytest.AssertNoSecret(t, logs.String(), webhookBearer, webhookURLPath, splunkToken)
			})
		}
	}
	require.Zero(t, srv.conns.Load(), "no form reached the loopback server")

	// The same server is reachable with WithAllowPrivateNetworks, so the
	// refusals above are the guard's, not a broken harness.
	for _, dest := range arbitraryHosts {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			n, err := dest.build(net.JoinHostPort(host, port), notify.WithAllowPrivateNetworks())
			require.NoError(t, err)
			_, err = n.Send(context.Background(), qualityEvent())
			closeNotifier(n)
			require.NoError(t, err, "%s via %s", dest.name, host)
		}
	}
	require.Positive(t, srv.conns.Load())
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// TestRedirectToPrivateAddress has the loopback server (reached with
// WithAllowPrivateNetworks) redirect to addresses no destination may
// reach: cloud metadata over IPv4 and IPv6, which the guard refuses even
// with WithAllowPrivateNetworks, so that not even a regression could send
// a packet there; and a name that resolves to another loopback server,
// which counts what reaches it. Nothing is followed.
func TestRedirectToPrivateAddress(t *testing.T) {
	other := startServer(t, serverOptions{cert: testPKI().good}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { drain(r) }))
	_, otherPort, err := net.SplitHostPort(other.addr())
	require.NoError(t, err)
	for _, dest := range arbitraryHosts {
		for _, target := range []struct{ name, location, host string }{
			{"metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254"},
			{"metadata-v6", "http://[fd00:ec2::254]/latest/meta-data/", "[fd00:ec2::254]"},
			{"localhost", "https://localhost:" + otherPort + "/collect", "localhost:" + otherPort},
		} {
			t.Run(dest.name+"/"+target.name, func(t *testing.T) {
				srv := startServer(t, serverOptions{cert: testPKI().good}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					drain(r)
					http.Redirect(w, r, target.location, http.StatusFound)
				}))
				n, err := dest.build(srv.addr(), notify.WithAllowPrivateNetworks())
				require.NoError(t, err)
				defer closeNotifier(n)
				_, err = n.Send(context.Background(), qualityEvent())
				require.ErrorIs(t, err, notify.ErrRejected)
				require.False(t, notify.IsRetryable(err))
				require.Contains(t, err.Error(), "status 302: redirect to "+target.host+" not followed")
				require.EqualValues(t, 1, srv.requests.Load())
				notifytest.AssertNoSecret(t, err, webhookBearer, webhookURLPath, splunkToken)
			})
		}
	}
	require.Zero(t, other.conns.Load(), "nothing followed a redirect to loopback by name")
}
