package sender_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestNetworkHintIsPartOfTheErrorAsBuilt(t *testing.T) {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, "https://api.example.com/x", func(r *http.Request) (*http.Response, error) {
		return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
	})
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(&http.Client{Transport: mt})), notify.Secret(tokenValue))
	req := sender.Request{Op: "send", Method: http.MethodPost, URL: "https://api.example.com/x"}

	_, err := s.Do(context.Background(), req)
	var e *notify.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "the host name does not resolve: check it", e.Hint, "without a hook, the usual hint")

	req.NetworkHint = func(err error) string {
		if errors.As(err, new(*net.DNSError)) {
			return "enter the stack's own URL, not " + tokenValue
		}
		return ""
	}
	_, err = s.Do(context.Background(), req)
	require.ErrorAs(t, err, &e)
	require.Equal(t, "enter the stack's own URL, not [REDACTED]", e.Hint, "the destination's hint, scrubbed")
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, e.Retryable)
	notifytest.AssertNoSecret(t, err, tokenValue)

	req.NetworkHint = func(error) string { return "" }
	_, err = s.Do(context.Background(), req)
	require.ErrorAs(t, err, &e)
	require.Equal(t, "the host name does not resolve: check it", e.Hint, `"" keeps the usual hint`)
}

func TestExplanationErrIsTheCause(t *testing.T) {
	cause := &notify.ValidationError{Fields: []notify.FieldError{{Field: "index", Message: "not writable"}}}
	e := sender.NewErrors("test").Status("send", http.StatusBadRequest, nil,
		sender.Explanation{Kind: notify.ErrRejected, Message: "HEC code 7: Incorrect index", Err: cause})
	var ve *notify.ValidationError
	require.ErrorAs(t, e, &ve)
	require.True(t, ve.Has("index"))
	require.ErrorIs(t, e, notify.ErrRejected)
}

func TestBoundedTransport(t *testing.T) {
	for _, tt := range []struct {
		size    int
		tooMuch bool
	}{{0, false}, {sender.MaxResponseBytes, false}, {sender.MaxResponseBytes + 1, true}} {
		mt := httpmock.NewMockTransport()
		mt.RegisterResponder(http.MethodGet, "https://api.example.com/x",
			httpmock.NewStringResponder(500, strings.Repeat("x", tt.size)))
		c := &http.Client{Transport: sender.BoundedTransport(mt)}
		resp, err := c.Get("https://api.example.com/x")
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		if tt.tooMuch {
			require.ErrorIs(t, err, sender.ErrAnswerTooLarge)
			require.Len(t, b, sender.MaxResponseBytes)
			continue
		}
		require.NoError(t, err)
		require.Len(t, b, tt.size)
	}
}
