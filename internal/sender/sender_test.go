package sender_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

const tokenValue = "tok-0123456789abcdef"

func loopbackSender(opts ...notify.Option) *sender.Sender {
	opts = append([]notify.Option{notify.WithAllowPrivateNetworks()}, opts...)
	return sender.New("test", settings.Apply(opts...), notify.Secret(tokenValue))
}

func TestSenderBuildsTheRequest(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterMatcherResponder(http.MethodPost, "https://api.example.com/v1/things",
		httpmock.HeaderIs("Content-Type", "application/json").
			And(httpmock.HeaderIs("User-Agent", "cd-test/2")).
			And(httpmock.HeaderIs("X-Token", tokenValue)).
			And(httpmock.BodyContainsString(`{"a":1,"b":"x"}`)),
		httpmock.NewStringResponder(202, `{"id":"42"}`))
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt}), notify.WithUserAgent("cd-test/2")))
	resp, err := s.Do(context.Background(), sender.Request{
		Op: "send", Method: http.MethodPost, URL: "https://api.example.com/v1/things",
		Header: http.Header{"X-TOKEN": {tokenValue}}, // not canonical, as a literal may be
		JSON:   map[string]any{"a": 1, "b": "x"},
	})
	require.NoError(t, err)
	require.Equal(t, 202, resp.StatusCode)
	require.JSONEq(t, `{"id":"42"}`, string(resp.Body))
	require.Equal(t, 1, mt.GetTotalCallCount())
}

func TestSenderErrorsCarryTheDestinationsWordsScrubbed(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		kind        error
		retryable   bool
		message     string
	}{
		{"json message", 400, "application/json", `{"message":"bad field ` + tokenValue + `"}`, notify.ErrRejected, false, "bad field [REDACTED]"},
		{"empty values skipped", 400, "application/json", `{"errorMessages":["Field 'labels' is required."],"errors":{}}`, notify.ErrRejected, false, "Field 'labels' is required."},
		{"json errors list", 422, "application/json", `{"errors":["one","two"]}`, notify.ErrRejected, false, "one; two"},
		{"plain text", 404, "text/plain", "channel_not_found", notify.ErrNotFound, false, "channel_not_found"},
		{"html page", 502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>" + strings.Repeat("x", 5000) + "</body></html>", notify.ErrUnavailable, true, "HTML page: 502 Bad Gateway"},
		{"empty", 401, "", "", notify.ErrUnauthorized, false, "Unauthorized"},
		{"control characters folded", 403, "text/plain", "no\r\naccess\x00here", notify.ErrForbidden, false, "no access here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt := httpmock.NewMockTransport()
			mt.RegisterResponder(http.MethodPost, "https://api.example.com/x", func(*http.Request) (*http.Response, error) {
				r := httpmock.NewStringResponse(tt.status, tt.body)
				r.Header.Set("Content-Type", tt.contentType)
				return r, nil
			})
			s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})), notify.Secret(tokenValue))
			resp, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.example.com/x"})
			require.NotNil(t, resp, "a destination's answer is returned with the error")
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.ErrorIs(t, err, tt.kind)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, tt.retryable, notify.IsRetryable(err))
			require.Equal(t, tt.message, e.Message)
			require.Equal(t, "test", e.Integration)
			notifytest.AssertNoSecret(t, err, tokenValue)
		})
	}
}

func TestSenderRateLimitCarriesRetryAfter(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodGet, "https://api.example.com/x",
		httpmock.NewStringResponder(429, "slow down").HeaderSet(http.Header{"Retry-After": {"7"}}))
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})))
	_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: "https://api.example.com/x"})
	require.ErrorIs(t, err, notify.ErrRateLimited)
	require.True(t, notify.IsRetryable(err))
	require.Equal(t, 7*time.Second, notify.RetryAfterOf(err))
	require.Equal(t, 7*time.Second, notify.RetryAfterOf(errors.Join(errors.New("wrapped"), err)))
	require.Contains(t, err.Error(), "status 429")
}

func TestRedirectIsNeverFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, code := range []int{301, 302, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/collect", code)
		}))
		for _, s := range []*sender.Sender{
			loopbackSender(),
			// A caller's client that would follow redirects: the library uses a copy that does not.
			sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{})), notify.Secret(tokenValue)),
		} {
			_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost, URL: srv.URL,
				Header: http.Header{"Authorization": {"Bearer " + tokenValue}, "DD-API-KEY": {tokenValue}}, JSON: map[string]int{"a": 1}})
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.ErrorIs(t, err, notify.ErrRejected)
			require.False(t, e.Retryable)
			require.Equal(t, code, e.StatusCode)
			require.Contains(t, err.Error(), "redirect to "+strings.TrimPrefix(other.URL, "http://")+" not followed")
		}
		srv.Close()
	}
	require.Zero(t, elsewhere.Load(), "no request, and so no credential, reached the other host")
}

func TestCallerClientIsNotModified(t *testing.T) {
	c := &http.Client{}
	sender.New("test", settings.Apply(notify.WithHTTPClient(c)))
	require.Nil(t, c.CheckRedirect)
}

func TestLargeBodyIsReadOnlyToTheLimit(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for i := 0; i < 320; i++ { // 10 MiB
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	resp, err := loopbackSender().Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, resp.Truncated)
	require.Len(t, resp.Body, sender.MaxResponseBytes)
	var e *notify.Error
	require.ErrorAs(t, err, &e)
	require.LessOrEqual(t, len([]rune(e.Message)), 512)
	// The server could not have written 10 MiB: the client stopped reading.
	srv.CloseClientConnections()
	require.Less(t, written.Load(), int64(10<<20))
}

func TestResponseThatNeverEndsRespectsTheTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			// Returning would end the chunked body cleanly, and a client
			// racing its deadline could read it whole: drop the connection.
			panic(http.ErrAbortHandler)
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := loopbackSender(notify.WithTimeout(100*time.Millisecond)).Do(context.Background(),
		sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, notify.IsRetryable(err), "a timeout is retryable")
}

func TestServerThatNeverAnswersRespectsTheCallersDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c) // read, never answer, until the client hangs up
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = loopbackSender().Do(ctx, sender.Request{Op: "test", Method: http.MethodGet, URL: "http://" + ln.Addr().String()})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, notify.IsRetryable(err))
	<-done
}

func TestCancelledContextIsNotRetryable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := loopbackSender().Do(ctx, sender.Request{Op: "send", Method: http.MethodGet, URL: "http://127.0.0.1:9/"})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.False(t, notify.IsRetryable(err))
}

func TestCancelledContextSendsNothing(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(httpmock.NewStringResponder(200, "ok"))
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Do(ctx, sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.example.com/x"})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, mt.GetTotalCallCount())
}

func TestNetworkFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		_, err = loopbackSender().Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: "http://" + addr + "/" + tokenValue})
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "connection refused")
		require.Contains(t, err.Error(), "nothing accepts connections there")
		notifytest.AssertNoSecret(t, err, tokenValue)
	})
	t.Run("reset mid-response", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte("only a part"))
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		}))
		defer srv.Close()
		_, err := loopbackSender().Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err))
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer srv.Close()
		srv.Config.ErrorLog = quietLog()
		_, err := loopbackSender().Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
		var e *notify.Error
		require.ErrorAs(t, err, &e)
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "certificate is not trusted")
	})
	t.Run("server wants a client certificate", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
		srv.Config.ErrorLog = quietLog()
		srv.StartTLS()
		defer srv.Close()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}})))
		_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
		require.ErrorIs(t, err, notify.ErrRejected)
		require.False(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "the server wants a client certificate it trusts")
	})
	t.Run("secret in the URL of a failed request", func(t *testing.T) {
		secretURL := "http://127.0.0.1:1/services/T000/B000/" + tokenValue
		s := sender.New("slack", settings.Apply(notify.WithAllowPrivateNetworks()), notify.Secret(secretURL))
		_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost, URL: secretURL})
		require.Error(t, err)
		notifytest.AssertNoSecret(t, err, notify.Secret(secretURL), tokenValue)
	})
}

func TestConnectionsAreReused(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	s := loopbackSender()
	_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: srv.URL})
	require.NoError(t, err)
	s.Close()
	select {
	case <-closed: // Close dropped the Sender's own idle connection
	case <-time.After(time.Minute):
		t.Fatal("the idle connection stayed open after Close")
	}
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func TestSenderClosedRefusesEveryRequest(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, "https://api.example.com/x", httpmock.NewStringResponder(200, `{}`))
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})), notify.Secret(tokenValue))
	req := sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.example.com/x", Body: []byte(tokenValue)}
	_, err := s.Do(context.Background(), req)
	require.NoError(t, err)
	s.Close()
	s.Close() // a second Close is harmless
	resp, err := s.Do(context.Background(), req)
	require.Nil(t, resp)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.ErrorContains(t, err, "the notifier is closed")
	require.False(t, notify.IsRetryable(err))
	require.Equal(t, 1, mt.GetTotalCallCount(), "nothing is sent after Close")
}

// A redirect's Location is server data: a host that carries the secret is
// scrubbed before it reaches the error.
func TestSenderRedirectHostIsScrubbed(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, "https://api.example.com/x", func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(http.StatusFound, "")
		resp.Header.Set("Location", "https://"+tokenValue+".collector.example/steal?t="+tokenValue)
		return resp, nil
	})
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})), notify.Secret(tokenValue))
	_, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.example.com/x"})
	require.ErrorIs(t, err, notify.ErrRejected)
	require.ErrorContains(t, err, "redirect to [REDACTED].collector.example not followed")
	notifytest.AssertNoSecret(t, err, notify.Secret(tokenValue))
}
