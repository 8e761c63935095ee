package email_test

import (
	"context"
	"net"
	"regexp"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/email"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// step is a check as a test expects it: its name, status, and a part of
// its detail ("" when it does not matter).
type step struct {
	name   string
	status notify.CheckStatus
	says   string
}

// requireSteps asserts the report's checks, in order, and that no secret
// reached any of them.
func requireSteps(t *testing.T, r notify.Report, want []step, secrets ...notify.Secret) {
	t.Helper()
	require.Len(t, r.Checks, len(want), "%+v", r.Checks)
	for i, w := range want {
		c := r.Checks[i]
		require.Equal(t, w.name, c.Name, "check %d", i)
		require.Equal(t, w.status, c.Status, "%s: %s", c.Name, c.Detail)
		require.Contains(t, c.Detail, w.says, c.Name)
		require.Equal(t, c.Status == notify.CheckFailed, c.Err != nil, c.Name)
		notifytest.AssertNoSecret(t, c.Detail, secrets...)
		notifytest.AssertNoSecret(t, c.Err, secrets...)
	}
	b, err := r.Checks[0].MarshalJSON()
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, secrets...)
}

var probe = regexp.MustCompile(`cd-no-such-recipient-[0-9a-f]{16}@example\.com`)

func TestReportOfARelayThatAcceptsAnyRecipient(t *testing.T) {
	s := startSMTP(t, modeStartTLS, nil)
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS))
	r := n.TestReport(context.Background())
	requireSteps(t, r, []step{
		{"relay reachable", notify.CheckPassed, "answered"},
		{"connection encrypted", notify.CheckPassed, "STARTTLS, TLS 1.3, certificate verified for 127.0.0.1"},
		{"relay accepts the credentials", notify.CheckPassed, "Authenticated as alerts with AUTH PLAIN"},
		{"sender accepted", notify.CheckPassed, "alerts@example.com"},
		{"recipient accepted: soc@example.com", notify.CheckPassed, ""},
		{"recipient accepted: oncall@example.com", notify.CheckPassed, ""},
		{"relay checks recipients", notify.CheckWarning, "accepts any recipient at this stage"},
	}, secret(s.Pass))
	require.Regexp(t, probe, r.Checks[6].Detail, "it names the address it tried")
	require.Contains(t, r.Checks[6].Detail, "a bounce to alerts@example.com")
	require.NoError(t, r.Err(), "a warning does not fail the Test")
	require.NoError(t, n.Test(context.Background()))
	require.Empty(t, s.Messages())
}

func TestReportOfARelayThatChecksRecipients(t *testing.T) {
	for name, tc := range map[string]struct {
		reply  *smtp.SMTPError
		status notify.CheckStatus
		says   string
	}{
		"refused": {&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
			notify.CheckPassed, "refused an address that does not exist (550 5.1.1 no such user)"},
		"deferred": {&smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 1, 1}, Message: "try later"},
			notify.CheckWarning, "whether it checks recipients is unknown"},
	} {
		t.Run(name, func(t *testing.T) {
			s := startSMTP(t, modeImplicit, func(s *smtpServer) {
				s.Mailboxes, s.UnknownErr = []string{"soc@example.com", "oncall@example.com"}, tc.reply
			})
			n, _ := newNotifier(t, s.Config(email.TLSImplicit))
			r := n.TestReport(context.Background())
			require.Len(t, r.Checks, 7)
			require.Equal(t, "Implicit TLS, TLS 1.3, certificate verified for 127.0.0.1.", r.Checks[1].Detail)
			c := r.Checks[6]
			require.Equal(t, "relay checks recipients", c.Name)
			require.Equal(t, tc.status, c.Status, c.Detail)
			require.Contains(t, c.Detail, tc.says)
			require.NoError(t, r.Err())
		})
	}
}

func TestReportOfRefusedRecipients(t *testing.T) {
	noUser := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	s := startSMTP(t, modeStartTLS, func(s *smtpServer) {
		s.Mailboxes, s.UnknownErr = []string{"soc@example.com"}, noUser
	})
	n, _ := newNotifier(t, s.Config(email.TLSStartTLS, "nobody@example.com", "soc@example.com", "gone@example.com"))
	r := n.TestReport(context.Background())
	requireSteps(t, r, []step{
		{"relay reachable", notify.CheckPassed, ""},
		{"connection encrypted", notify.CheckPassed, ""},
		{"relay accepts the credentials", notify.CheckPassed, ""},
		{"sender accepted", notify.CheckPassed, ""},
		{"recipient accepted: nobody@example.com", notify.CheckFailed, "The relay refused it: 550 5.1.1 no such user"},
		{"recipient accepted: soc@example.com", notify.CheckPassed, ""},
		{"recipient accepted: gone@example.com", notify.CheckFailed, "550 5.1.1 no such user"},
		{"relay checks recipients", notify.CheckPassed, "refused an address that does not exist"},
	}, secret(s.Pass))
	// Test's error is the one that names every refused recipient.
	err := r.Err()
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), "the server refused 2 of 3 recipients: nobody@example.com (550 5.1.1 no such user); "+
		"gone@example.com (550 5.1.1 no such user)")
	require.Same(t, r.Checks[4].Err, r.Checks[6].Err)
}

func TestReportOfFailedSteps(t *testing.T) {
	wrongPassword := func(s *smtpServer) target {
		tg := s.Config(email.TLSStartTLS)
		tg.Relay.Password = "wrong-Passw0rd-42"
		return tg
	}
	skippedAfter := func(steps ...step) []step {
		for _, name := range []string{"relay reachable", "connection encrypted", "relay accepts the credentials",
			"sender accepted", "recipient accepted: soc@example.com", "recipient accepted: oncall@example.com",
			"relay checks recipients"}[len(steps):] {
			steps = append(steps, step{name, notify.CheckSkipped, "an earlier check failed"})
		}
		return steps
	}
	tests := []struct {
		name   string
		mode   serverMode
		setup  func(*smtpServer)
		target func(*smtpServer) target
		opts   []notify.Option
		want   []step
		kind   error
	}{
		{name: "wrong password", mode: modeStartTLS, target: wrongPassword, want: skippedAfter(
			step{"relay reachable", notify.CheckPassed, ""},
			step{"connection encrypted", notify.CheckPassed, ""},
			step{"relay accepts the credentials", notify.CheckFailed, "535"},
		), kind: notify.ErrUnauthorized},
		{name: "STARTTLS not offered", mode: modePlain, want: skippedAfter(
			step{"relay reachable", notify.CheckPassed, ""},
			step{"connection encrypted", notify.CheckFailed, "does not offer STARTTLS"},
		), kind: notify.ErrRejected},
		{name: "untrusted certificate", mode: modeStartTLS, opts: []notify.Option{email.WithTLSConfig(nil)},
			target: func(s *smtpServer) target { return s.Config(email.TLSStartTLS) }, want: skippedAfter(
				step{"relay reachable", notify.CheckPassed, ""},
				step{"connection encrypted", notify.CheckFailed, "not trusted"},
			), kind: notify.ErrRejected},
		{name: "implicit TLS to a plain-text port", mode: modePlain,
			target: func(s *smtpServer) target { return s.Config(email.TLSImplicit) }, want: skippedAfter(
				step{"relay reachable", notify.CheckPassed, ""},
				step{"connection encrypted", notify.CheckFailed, "does not speak TLS"},
			), kind: notify.ErrRejected},
		{name: "sender refused", mode: modeStartTLS, setup: func(s *smtpServer) {
			s.MailErr = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender not owned by user"}
		}, want: skippedAfter(
			step{"relay reachable", notify.CheckPassed, ""},
			step{"connection encrypted", notify.CheckPassed, ""},
			step{"relay accepts the credentials", notify.CheckPassed, ""},
			step{"sender accepted", notify.CheckFailed, "sender not owned by user"},
		), kind: notify.ErrRejected},
		{name: "no authentication, no TLS", mode: modePlain, target: func(s *smtpServer) target {
			tg := s.Config(email.TLSNone)
			tg.Relay.Username, tg.Relay.Password = "", ""
			return tg
		}, want: []step{
			{"relay reachable", notify.CheckPassed, ""},
			{"connection encrypted", notify.CheckSkipped, "TLS is off (none)"},
			{"relay accepts the credentials", notify.CheckSkipped, "without AUTH"},
			{"sender accepted", notify.CheckPassed, ""},
			{"recipient accepted: soc@example.com", notify.CheckPassed, ""},
			{"recipient accepted: oncall@example.com", notify.CheckPassed, ""},
			{"relay checks recipients", notify.CheckWarning, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSMTP(t, tt.mode, tt.setup)
			tg := s.Config(email.TLSStartTLS)
			if tt.target != nil {
				tg = tt.target(s)
			}
			var n *email.Notifier
			if tt.opts != nil {
				var err error
				n, err = tg.new(append([]notify.Option{notify.WithAllowPrivateNetworks()}, tt.opts...)...)
				require.NoError(t, err)
			} else {
				n, _ = newNotifier(t, tg)
			}
			r := n.TestReport(context.Background())
			requireSteps(t, r, tt.want, secret(s.Pass), tg.Relay.Password)
			if tt.kind == nil {
				require.NoError(t, r.Err())
				return
			}
			require.ErrorIs(t, r.Err(), tt.kind)
			require.Equal(t, r.Err().Error(), n.Test(context.Background()).Error(), "Test is the report's error")
			require.False(t, anyPrefix(s.Events(), "DATA"))
		})
	}
}

func TestReportOfAnUnreachableRelay(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	n, _ := newNotifier(t, target{Config: email.Config{Name: "x", To: []string{"soc@example.com"}},
		Relay: email.Relay{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, From: "alerts@example.com"}})
	r := n.TestReport(context.Background())
	requireSteps(t, r, []step{
		{"relay reachable", notify.CheckFailed, "connection refused"},
		{"connection encrypted", notify.CheckSkipped, ""},
		{"relay accepts the credentials", notify.CheckSkipped, ""},
		{"sender accepted", notify.CheckSkipped, ""},
		{"recipient accepted: soc@example.com", notify.CheckSkipped, ""},
		{"relay checks recipients", notify.CheckSkipped, ""},
	})
	require.True(t, notify.IsRetryable(r.Err()))

	var zero email.Notifier
	require.Error(t, zero.TestReport(context.Background()).Err())
}
