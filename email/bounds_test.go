package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// endlessServer accepts connections and writes prefix, then chunk over and
// over until the client goes away: a greeting or reply that never ends.
type endlessServer struct {
	Host string
	Port int

	mu      sync.Mutex
	written int64
}

func startEndless(t *testing.T, implicitTLS bool, prefix, chunk string) *endlessServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if implicitTLS {
		cert, _ := testCert()
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s := &endlessServer{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				block := []byte(prefix + string(bytes.Repeat([]byte(chunk), 32<<10/len(chunk))))
				for i := 0; ; i++ {
					if i == 1 {
						block = block[len(prefix):]
					}
					n, err := c.Write(block)
					s.mu.Lock()
					s.written += int64(n)
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// Written returns how many bytes the server got onto the wire.
func (s *endlessServer) Written() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// A relay whose greeting or reply never ends fails the exchange with a clear
// error once the bounds are reached, long before the timeout, and the heap
// does not grow with what the server sends.
func TestEndlessRepliesAreBounded(t *testing.T) {
	tests := []struct {
		name          string
		mode          email.TLSMode
		prefix, chunk string
		says          string
	}{
		{"greeting line, plain text", email.TLSNone, "220 ", "a", "a reply line longer than 4096 bytes"},
		{"greeting line before STARTTLS", email.TLSStartTLS, "220 ", "x", "a reply line longer than 4096 bytes"},
		{"greeting line inside implicit TLS", email.TLSImplicit, "220 ", "a", "more than 1048576 bytes in one session"},
		{"a multi-line reply of short lines", email.TLSNone, "", "220-smtp.example.com\r\n", "more than 1048576 bytes in one session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEndless(t, tt.mode == email.TLSImplicit, tt.prefix, tt.chunk)
			pw := secret("s3cret-Passw0rd!")
			r := email.Relay{Host: s.Host, Port: s.Port, TLS: tt.mode, From: "alerts@example.com"}
			if tt.mode != email.TLSNone {
				r.Username, r.Password = "alerts", pw
			}
			n, logs := newNotifier(t, target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}}, Relay: r},
				notify.WithTimeout(20*time.Second))

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := n.Send(context.Background(), testEvent())
			took := time.Since(start)
			runtime.ReadMemStats(&after)

			require.ErrorIs(t, err, notify.ErrRejected)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "the bound ended it, not the timeout")
			require.False(t, notify.IsRetryable(err))
			require.Contains(t, err.Error(), tt.says)
			require.Contains(t, err.Error(), "it is not an SMTP server, or it is broken")
			require.Less(t, took, 15*time.Second)
			// Everything the exchange allocated, garbage included: a small
			// multiple of the session bound, whatever the server sent.
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(24<<20),
				"allocated while the server wrote %d bytes", s.Written())
			require.Positive(t, s.Written())
			notifytest.AssertNoSecret(t, err, pw)
			notifytest.AssertNoSecret(t, logs.String(), pw)

			// Test is held to the same bounds.
			require.ErrorContains(t, n.Test(context.Background()), tt.says)
		})
	}
}
