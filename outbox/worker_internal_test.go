package outbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"

	"github.com/codedefender/integrations/notify"
)

func testWorker(jitter float64) *worker[any] {
	cfg := Config{BackoffBase: time.Second, BackoffMax: time.Minute, jitter: func() float64 { return jitter }}.withDefaults()
	return &worker[any]{cfg: cfg}
}

func TestBackoff(t *testing.T) {
	low, high := testWorker(0), testWorker(0.999)
	for _, c := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{7, 30 * time.Second, time.Minute}, // capped at BackoffMax
		{500, 30 * time.Second, time.Minute},
	} {
		assert.Equal(t, c.min, low.backoff(c.attempt, 0), "attempt %d", c.attempt)
		assert.InDelta(t, c.max, high.backoff(c.attempt, 0), float64(c.max/500), "attempt %d", c.attempt)
	}
	assert.Equal(t, 90*time.Second, low.backoff(1, 90*time.Second), "never before Retry-After")
	assert.Equal(t, 90*time.Second, high.backoff(9, 90*time.Second))
}

func TestSnoozeSpreadsWithSnoozes(t *testing.T) {
	w := testWorker(0.5)
	job := func(snoozes int) *river.Job[deliveryArgs] {
		return &river.Job[deliveryArgs]{JobRow: &rivertype.JobRow{Metadata: []byte(fmt.Sprintf(`{"snoozes":%d}`, snoozes))}}
	}
	assert.Equal(t, 300*time.Millisecond+500*time.Millisecond, w.snooze(job(0), 300*time.Millisecond, time.Second))
	assert.Equal(t, 300*time.Millisecond+1500*time.Millisecond, w.snooze(job(4), 300*time.Millisecond, time.Second))
	assert.Equal(t, 300*time.Millisecond+4*time.Second, w.snooze(job(1000), 300*time.Millisecond, time.Second), "capped")
	assert.Equal(t, 300*time.Millisecond, w.snooze(job(3), 300*time.Millisecond, 0), "a Retry-After hold alone has no jitter")
}

func TestHorizonStartsAgainOnRetry(t *testing.T) {
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	row := &rivertype.JobRow{CreatedAt: created}
	assert.Equal(t, created, horizonStart(&river.Job[deliveryArgs]{JobRow: row}))
	retried := created.Add(48 * time.Hour)
	row.Metadata = []byte(`{"output":{"retried_at":"` + retried.Format(time.RFC3339) + `"}}`)
	assert.Equal(t, retried, horizonStart(&river.Job[deliveryArgs]{JobRow: row}))
}

func TestCleanBoundsAndRedacts(t *testing.T) {
	w := testWorker(0)
	w.cfg.Redact = func(s string) string { return strings.ReplaceAll(s, "hunter2", "[REDACTED]") }
	err := w.clean("send", errors.New("boom\nwith hunter2 "+strings.Repeat("x", 5000)))
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "\n")
	assert.True(t, strings.HasPrefix(err.Error(), "send: boom with [REDACTED] x"))
	assert.LessOrEqual(t, len([]rune(err.Error())), maxErrorRunes+20)
}

func TestPermanentResolve(t *testing.T) {
	assert.True(t, isPermanentResolve(fmt.Errorf("x: %w", ErrUnknownIntegration)))
	assert.True(t, isPermanentResolve(&notify.ValidationError{}))
	assert.True(t, isPermanentResolve(&notify.Error{Kind: notify.ErrUnauthorized}))
	assert.False(t, isPermanentResolve(&notify.Error{Kind: notify.ErrUnavailable, Retryable: true}))
	assert.False(t, isPermanentResolve(errors.New("the console's database is down")))
}

func TestConfigDefaults(t *testing.T) {
	c := Config{RateLimits: map[string]time.Duration{"slack": 0, "jira": time.Second}}.withDefaults()
	assert.Equal(t, DefaultHorizon, c.Horizon)
	assert.Equal(t, DefaultAttemptTimeout+15*time.Second, c.RescueAfter)
	assert.Equal(t, time.Duration(0), c.RateLimits["slack"], "overridden off")
	assert.Equal(t, 500*time.Millisecond, c.RateLimits["pagerduty"], "default kept")
	assert.Equal(t, time.Second, c.RateLimits["jira"])
	assert.Equal(t, time.Second, DefaultRateLimits["slack"], "the defaults are not edited")
}
