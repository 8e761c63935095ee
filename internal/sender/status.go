package sender

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codedefender/integrations/notify"
)

// MaxRetryAfter caps how long a destination can ask us to wait; a longer
// (or absurd) value is read as this.
const MaxRetryAfter = time.Hour

// ClassifyStatus is the one table that turns an HTTP status into a sentinel
// and a retry decision. A 2xx gives (nil, false).
//
//	2xx                      success
//	1xx, 3xx                 ErrRejected (redirects are never followed)
//	401                      ErrUnauthorized
//	403                      ErrForbidden
//	404, 410                 ErrNotFound
//	408, 425                 ErrUnavailable, retryable
//	429                      ErrRateLimited, retryable
//	other 4xx                ErrRejected
//	501, 505                 ErrRejected (the server will never do it)
//	other 5xx                ErrUnavailable, retryable
//	anything else            ErrRejected
func ClassifyStatus(code int) (kind error, retryable bool) {
	switch {
	case code >= 200 && code <= 299:
		return nil, false
	case code == http.StatusUnauthorized:
		return notify.ErrUnauthorized, false
	case code == http.StatusForbidden:
		return notify.ErrForbidden, false
	case code == http.StatusNotFound, code == http.StatusGone:
		return notify.ErrNotFound, false
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		return notify.ErrUnavailable, true
	case code == http.StatusTooManyRequests:
		return notify.ErrRateLimited, true
	case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported:
		return notify.ErrRejected, false
	case code >= 500 && code <= 599:
		return notify.ErrUnavailable, true
	default:
		return notify.ErrRejected, false
	}
}

// ParseRetryAfter reads how long a response asks the client to wait:
// Retry-After in seconds or as an HTTP date, else X-RateLimit-Reset as
// seconds until the reset (Datadog), a Unix time, or an ISO-8601 time
// (Jira). It returns 0 when neither says, and caps the wait at MaxRetryAfter.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := parseWait(h.Get("Retry-After"), now, false); ok {
		return d
	}
	if d, ok := parseWait(h.Get("X-RateLimit-Reset"), now, true); ok {
		return d
	}
	return 0
}

// unixTimeFloor separates "seconds from now" from "a Unix time" in a reset
// header: no one asks for a wait of 30 years.
const unixTimeFloor = 1_000_000_000

func parseWait(v string, now time.Time, resetHeader bool) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil && errors.Is(err, strconv.ErrRange) && n > 0 {
		// Too many digits for a float64 (+Inf): a wait past any cap, not
		// "retry now".
		return MaxRetryAfter, true
	}
	if err == nil {
		if n < 0 || n != n {
			return 0, false
		}
		if resetHeader && n >= unixTimeFloor {
			// A reset time past what int64 seconds can hold would wrap
			// to a negative wait; anything beyond the cap is the cap.
			if n-float64(now.Unix()) >= MaxRetryAfter.Seconds() {
				return MaxRetryAfter, true
			}
			return capWait(time.Unix(int64(n), 0).Sub(now)), true
		}
		if n > MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		return capWait(time.Duration(n * float64(time.Second))), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return capWait(t.Sub(now)), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return capWait(t.Sub(now)), true
	}
	return 0, false
}

func capWait(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	default:
		return d
	}
}
