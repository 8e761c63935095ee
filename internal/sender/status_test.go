package sender_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/notify"
)

// TestClassifyStatusEveryCode checks the one status table for every code
// from 100 to 599, against the rule written independently here.
func TestClassifyStatusEveryCode(t *testing.T) {
	for code := 100; code <= 599; code++ {
		var (
			wantKind  error
			wantRetry bool
		)
		switch {
		case code >= 200 && code < 300:
			wantKind = nil
		case code == 401:
			wantKind = notify.ErrUnauthorized
		case code == 403:
			wantKind = notify.ErrForbidden
		case code == 404 || code == 410:
			wantKind = notify.ErrNotFound
		case code == 429:
			wantKind, wantRetry = notify.ErrRateLimited, true
		case code == 408 || code == 425:
			wantKind, wantRetry = notify.ErrUnavailable, true
		case code == 500 || code == 502 || code == 503 || code == 504:
			wantKind, wantRetry = notify.ErrUnavailable, true
		case code == 501 || code == 505:
			wantKind = notify.ErrRejected
		case code >= 506:
			wantKind, wantRetry = notify.ErrUnavailable, true
		default: // 1xx, 3xx, other 4xx
			wantKind = notify.ErrRejected
		}
		kind, retry := sender.ClassifyStatus(code)
		require.Equal(t, wantKind, kind, "status %d", code)
		require.Equal(t, wantRetry, retry, "status %d", code)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second},
		{"zero", map[string]string{"Retry-After": "0"}, 0},
		{"http date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"date in the past", map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{"huge seconds capped", map[string]string{"Retry-After": "999999"}, sender.MaxRetryAfter},
		{"negative ignored", map[string]string{"Retry-After": "-5"}, 0},
		{"garbage ignored", map[string]string{"Retry-After": "soon"}, 0},
		{"datadog reset seconds", map[string]string{"X-RateLimit-Reset": "12"}, 12 * time.Second},
		{"unix reset", map[string]string{"X-RateLimit-Reset": "1767269100"}, 5 * time.Minute},
		{"jira iso reset", map[string]string{"X-RateLimit-Reset": "2026-01-01T12:02:00Z"}, 2 * time.Minute},
		{"retry-after wins", map[string]string{"Retry-After": "3", "X-RateLimit-Reset": "60"}, 3 * time.Second},
		{"bad retry-after falls back", map[string]string{"Retry-After": "x", "X-RateLimit-Reset": "7"}, 7 * time.Second},
		// A reset past int64 seconds used to wrap to a negative wait, read
		// as "retry now".
		{"reset overflowing int64", map[string]string{"X-RateLimit-Reset": "1e30"}, sender.MaxRetryAfter},
		{"reset just past int64", map[string]string{"X-RateLimit-Reset": "9223372036854775808"}, sender.MaxRetryAfter},
		{"reset too long for float64", map[string]string{"X-RateLimit-Reset": "1" + strings.Repeat("0", 400)}, sender.MaxRetryAfter},
		{"retry-after too long for float64", map[string]string{"Retry-After": "9" + strings.Repeat("9", 400)}, sender.MaxRetryAfter},
		{"reset far future unix", map[string]string{"X-RateLimit-Reset": "99999999999"}, sender.MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			require.Equal(t, tt.want, sender.ParseRetryAfter(h, now))
		})
	}
}
