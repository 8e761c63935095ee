package email

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/scrub"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

func TestEffectivePortAndMode(t *testing.T) {
	tests := []struct {
		port     int
		mode     TLSMode
		wantPort int
		wantMode TLSMode
	}{
		{0, "", 587, TLSStartTLS},
		{587, "", 587, TLSStartTLS},
		{465, "", 465, TLSImplicit},
		{25, "", 25, TLSStartTLS},
		{2525, "", 2525, TLSStartTLS}, // any other port: fail closed, never plain text
		{0, TLSImplicit, 465, TLSImplicit},
		{0, TLSStartTLS, 587, TLSStartTLS},
		{1025, TLSNone, 1025, TLSNone},
	}
	for _, tt := range tests {
		port, mode := Relay{Port: tt.port, TLS: tt.mode}.effective()
		require.Equal(t, tt.wantPort, port, "%d/%q", tt.port, tt.mode)
		require.Equal(t, tt.wantMode, mode, "%d/%q", tt.port, tt.mode)
	}
}

func TestMessageID(t *testing.T) {
	require.Equal(t, "cd-evt-123@example.com", messageID("evt-123", "alerts@Example.COM"))
	require.Equal(t, "cd-inc+42+a_b@example.com", messageID("inc:42:a_b", "alerts@example.com"))
	require.Equal(t, "cd-evt-1@"+fallbackIDDomain, messageID("evt-1", "alerts@[192.0.2.1]"))
	require.Equal(t, "cd-evt-1@"+fallbackIDDomain, messageID("evt-1", "alerts@bücher.example"))
	require.NotEqual(t, messageID("a:b", "x@example.com"), messageID("a-b", "x@example.com"))
	require.Equal(t, "cd-inc+42.resolved@example.com", resolvedMessageID("inc:42", "alerts@Example.com"))
	require.Equal(t, "cd-evt-1.resolved@"+fallbackIDDomain, resolvedMessageID("evt-1", "alerts@[192.0.2.1]"))
	// No event ID has a '.', so no resolution's ID is another event's open one.
	e := notify.Event{ID: "a.resolved", Type: notify.EventTest, Title: "t", Risk: notify.RiskInfo, Time: time.Unix(1, 0)}
	require.ErrorContains(t, e.Validate(), "id")
}

func TestSubject(t *testing.T) {
	e := notify.Event{Risk: notify.RiskMedium, Title: "a\r\nb\x00c\x1b[31md\u0085e\t\tf"}
	require.Equal(t, "[MEDIUM] a bc[31md e f", subject(e), "white space folds, other control characters go")

	e.Title = strings.Repeat("é", maxSubjectTitleRunes+10)
	s := subject(e)
	require.Equal(t, "[MEDIUM] "+strings.Repeat("é", maxSubjectTitleRunes-1)+text.TruncationMarker, s)
}

func TestTextColorOn(t *testing.T) {
	require.Equal(t, "#1F2328", textColorOn(notify.RiskMedium.Color()), "dark text on yellow")
	require.Equal(t, "#FFFFFF", textColorOn(notify.RiskCritical.Color()))
	require.Equal(t, "#FFFFFF", textColorOn("not a colour"))
}

func TestMessageLimits(t *testing.T) {
	e := notify.Event{ID: "evt-1", Type: notify.EventTest, Title: "t", Risk: notify.RiskInfo, Time: time.Unix(0, 0),
		Details: map[string]string{}, Description: strings.Repeat("d", maxDescriptionRunes+5)}
	for i := range maxDetails + 3 {
		e.Details[fmt.Sprintf("k%03d", i)] = strings.Repeat("v", maxDetailValueRunes+1)
	}
	for i := range maxTags + 2 {
		e.Tags = append(e.Tags, fmt.Sprint("tag", i))
	}
	v := newView(e)
	require.Len(t, v.Details, maxDetails)
	require.Equal(t, 3, v.MoreDetails)
	require.Len(t, v.Tags, maxTags)
	require.Equal(t, 2, v.MoreTags)
	require.Equal(t, maxDescriptionRunes, len([]rune(v.Description)))
	require.Equal(t, maxDetailValueRunes, len([]rune(v.Details[0].Value)))
	require.Contains(t, v.text(), "(and 3 more)")
}

func TestScrubberCoversEncodedPassword(t *testing.T) {
	pw := notify.Secret("s3cret-Passw0rd!")
	s := scrub.New(secretsOf("alerts", pw)...)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00" + pw.Reveal()))
	login := base64.StdEncoding.EncodeToString([]byte(pw.Reveal()))
	out := s.Scrub("echo " + plain + " and " + login + " and " + pw.Reveal())
	require.Equal(t, "echo [REDACTED] and [REDACTED] and [REDACTED]", out)
}

// TestGuardRefusesAtDialTime flips the notifier's guard back on after New:
// the resolved loopback address is refused before a connection is made.
func TestGuardRefusesAtDialTime(t *testing.T) {
	// A listener that would accept and then say nothing: if the guard let
	// the dial through, the exchange would time out instead.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()

	c := Config{Name: "x", To: []string{"soc@example.com"}}
	r := Relay{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: TLSNone, From: "alerts@example.com"}
	n, err := New(c, WithRelay(r), notify.WithAllowPrivateNetworks(), notify.WithTimeout(5*time.Second))
	require.NoError(t, err)
	n.allowPrivate = false

	err = n.Test(context.Background())
	require.ErrorIs(t, err, notify.ErrBlockedAddress)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.False(t, notify.IsRetryable(err))
	var e *notify.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, "test: connect", e.Op)
}

// BenchmarkMessage measures building and writing one message; "minimal" is
// the baseline for "full" (description, tags, details and a link).
func BenchmarkMessage(b *testing.B) {
	n, err := New(Config{Name: "x", To: []string{"soc@example.com", "oncall@example.com"}},
		WithRelay(Relay{Host: "smtp.example.com", From: "alerts@example.com"}))
	require.NoError(b, err)
	minimal := notify.Event{ID: "evt-1", Type: notify.EventIncident, Title: "New script", Risk: notify.RiskHigh,
		Time: time.Unix(1767225600, 0)}
	full := minimal
	full.Description = strings.Repeat("A script started reading the card form. ", 20)
	full.URL = "https://console.codedefender.example/incidents/evt-1"
	full.Source = "shop.example.com"
	full.Tags = []string{"pci", "checkout", "script"}
	full.Details = map[string]string{}
	for i := range 20 {
		full.Details[fmt.Sprint("key", i)] = strings.Repeat("value ", 10)
	}
	for name, e := range map[string]notify.Event{"minimal": minimal, "full": full} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, _, err := n.message(e, time.Unix(1767225600, 0))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
