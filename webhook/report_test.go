package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// checkSummary is a report reduced to what the tests compare: each check's
// name and status.
type checkSummary struct {
	Name   string
	Status notify.CheckStatus
}

func summary(r notify.Report) []checkSummary {
	out := make([]checkSummary, len(r.Checks))
	for i, c := range r.Checks {
		out[i] = checkSummary{c.Name, c.Status}
	}
	return out
}

func TestTestReport_Mocked(t *testing.T) {
	const (
		pass = notify.CheckPassed
		fail = notify.CheckFailed
		skip = notify.CheckSkipped
	)
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		answer  func(m *testkit.MockAPI)
		want    []checkSummary
		kind    error // of Test's error; nil for none
		request bool  // a request reached the mock
	}{
		{name: "accepted", answer: func(m *testkit.MockAPI) { m.On(http.MethodPost, testURL, 204, "", nil) },
			want: []checkSummary{{checkRendered, pass}, {checkReachable, pass}, {checkAccepted, pass}}, request: true},
		{name: "refused", answer: func(m *testkit.MockAPI) { m.On(http.MethodPost, testURL, 401, `{"message":"bad token"}`, nil) },
			want: []checkSummary{{checkRendered, pass}, {checkReachable, pass}, {checkAccepted, fail}},
			kind: notify.ErrUnauthorized, request: true},
		{name: "unreachable", answer: func(m *testkit.MockAPI) {
			m.RegisterNoResponder(func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })
		}, want: []checkSummary{{checkRendered, pass}, {checkReachable, fail}, {checkAccepted, skip}}, kind: notify.ErrUnavailable},
		{name: "GET sends no body", mod: func(c *Config) { c.Method = http.MethodGet },
			answer: func(m *testkit.MockAPI) { m.On(http.MethodGet, testURL, 200, "", nil) },
			want:   []checkSummary{{checkRendered, skip}, {checkReachable, pass}, {checkAccepted, pass}}, request: true},
		{name: "pattern fails on the test event",
			// The sample event of Validate has three tags, the test event none.
			mod:    func(c *Config) { c.BodyPattern = `{"third_tag": {{json (index .Tags 2)}}}` },
			answer: func(m *testkit.MockAPI) { m.On(http.MethodPost, testURL, 200, "", nil) },
			want:   []checkSummary{{checkRendered, fail}, {checkReachable, skip}, {checkAccepted, skip}}, kind: notify.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			m := testkit.NewMockAPI()
			tc.answer(m)
			n, err := New(cfg, notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)
			r := n.TestReport(context.Background())
			require.Equal(t, tc.want, summary(r))
			for _, c := range r.Checks {
				require.NotEmpty(t, c.Detail, c.Name)
				require.Equal(t, c.Status == notify.CheckFailed, c.Err != nil, c.Name)
			}
			err = n.Test(context.Background())
			if tc.kind == nil {
				require.NoError(t, err)
				require.NoError(t, r.Err())
			} else {
				require.ErrorIs(t, err, tc.kind)
				require.ErrorIs(t, r.Err(), tc.kind)
				var ne *notify.Error
				require.ErrorAs(t, err, &ne)
				require.Equal(t, "test", ne.Op)
				notifytest.AssertNoSecret(t, err, allSecrets...)
			}
			reqs := m.Requests()
			if !tc.request {
				require.Empty(t, reqs)
				return
			}
			require.Len(t, reqs, 2, "one request per TestReport and per Test")
			require.Equal(t, tc.want[0].Status == pass, len(reqs[0].Body) > 0)
			if len(reqs[0].Body) > 0 {
				var e notify.Event
				require.NoError(t, reqs[0].DecodeJSON(&e))
				require.Equal(t, notify.EventTest, e.Type)
				require.Equal(t, e.ID, reqs[0].Header.Get(HeaderID))
			}
		})
	}
}

func TestTestReport_MutualTLS(t *testing.T) {
	p := newPKI(t)
	srv, _, _ := mtlsServer(t, p, tls.VersionTLS13)
	cfg := tlsConfigFor(t, p, srv.URL)
	n, err := New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	r := n.TestReport(context.Background())
	require.Equal(t, []checkSummary{{checkRendered, notify.CheckPassed}, {checkReachable, notify.CheckPassed},
		{checkClientCert, notify.CheckPassed}, {checkAccepted, notify.CheckPassed}}, summary(r))
	require.Contains(t, r.Checks[1].Detail, "mutual TLS")

	// A certificate from a CA the server does not trust: reached, refused.
	otherCA := newCert(t, certOpts{cn: "other CA", ca: true}, nil)
	stranger := newCert(t, certOpts{cn: "stranger", client: true}, &otherCA)
	cfg.ClientCert, cfg.ClientKey = stranger.certPEM(), stranger.keyPEM(t)
	n, err = New(cfg, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	r = n.TestReport(context.Background())
	require.Equal(t, []checkSummary{{checkRendered, notify.CheckPassed}, {checkReachable, notify.CheckPassed},
		{checkClientCert, notify.CheckFailed}, {checkAccepted, notify.CheckSkipped}}, summary(r))
	require.ErrorIs(t, r.Err(), notify.ErrRejected)
	require.Contains(t, r.Err().Error(), "wants a client certificate it trusts")
	require.Contains(t, r.Checks[2].Detail, "check that the server trusts the CA that issued client_cert")
	notifytest.AssertNoSecret(t, r.Err(), cfg.ClientKey)
}
