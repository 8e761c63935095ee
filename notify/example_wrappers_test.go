package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/slack"
)

// alert is the event the examples send.
func alert(id string) notify.Event {
	return notify.Event{
		ID:    id,
		Type:  notify.EventClientSideRisk,
		Title: "New script reads the card form on /checkout",
		Risk:  notify.RiskHigh,
		Time:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// Retry tries a retryable failure again, backing off between attempts,
// and returns a permanent one at once. Here a notifytest.Recorder stands in
// for a destination: first it answers 503 to everything, then 401, then
// it takes the alert.
func ExampleRetry() {
	dest := notifytest.NewRecorder()
	// A clock whose Sleep returns at once and notes the wait, so that the
	// example shows the schedule without waiting it out (retry_test.go);
	// production code leaves Clock nil.
	clock := newFakeClock()
	n := notify.Retry(dest, notify.RetryPolicy{
		MaxAttempts: 3,
		BaseDelay:   time.Second, // then 2s, 4s, ... up to MaxDelay
		Clock:       clock,
		// Each wait is drawn from [0, backoff); the middle, for a fixed
		// schedule. Production code leaves Jitter nil.
		Jitter: func() float64 { return 0.5 },
	})

	dest.FailSend(&notify.Error{Integration: "slack", Op: "send", StatusCode: http.StatusServiceUnavailable,
		Kind: notify.ErrUnavailable, Retryable: true, Message: "service unavailable"})
	_, err := n.Send(context.Background(), alert("evt-1"))
	var re *notify.RetryError
	if errors.As(err, &re) {
		fmt.Println(re.Attempts, "attempts:", re.Reason, "- waited", clock.Sleeps())
	}
	fmt.Println(err)
	fmt.Println("still retryable later:", notify.IsRetryable(err), errors.Is(err, notify.ErrUnavailable))

	dest.FailSend(&notify.Error{Integration: "slack", Op: "send", StatusCode: http.StatusUnauthorized,
		Kind: notify.ErrUnauthorized, Message: "invalid_token"})
	_, err = n.Send(context.Background(), alert("evt-2"))
	fmt.Println(err)

	dest.FailSend(nil)
	rc, err := n.Send(context.Background(), alert("evt-3"))
	fmt.Println(rc.ID, err, "- sends seen by the destination:", len(dest.Events()))
	// Output:
	// 3 attempts: attempts exhausted - waited [500ms 1s]
	// gave up after 3 attempts (attempts exhausted): slack: send: status 503: service unavailable
	// still retryable later: true true
	// gave up after 1 attempt (permanent error): slack: send: status 401: invalid_token
	// evt-3 <nil> - sends seen by the destination: 5
}

// RateLimit holds each Send until the limiter has a token. A wait that
// the caller's deadline would cut short fails at once, as a retryable
// rate-limit error the caller can schedule, and nothing is sent.
func ExampleRateLimit() {
	dest := notifytest.NewRecorder()
	// One alert an hour, for the example; slack.RateLimit and slack.Burst
	// are Slack's documented pace.
	n := notify.RateLimit(dest, rate.NewLimiter(rate.Every(time.Hour), 1))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := n.Send(ctx, alert("evt-1"))
	fmt.Println("first:", err)
	_, err = n.Send(ctx, alert("evt-2"))
	fmt.Println("second:", errors.Is(err, notify.ErrRateLimited), notify.IsRetryable(err))
	fmt.Println("delivered:", len(dest.Events()))
	// Output:
	// first: <nil>
	// second: true true
	// delivered: 1
}

// RateLimit and Retry wrap any Notifier, a destination's included, and
// keep its type, name and Close.
func ExampleRateLimit_slack() {
	n, err := slack.New(slack.Config{Name: "SOC Slack",
		WebhookURL: "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"})
	if err != nil {
		fmt.Println(err)
		return
	}
	wrapped := notify.Retry(notify.RateLimit(n, rate.NewLimiter(slack.RateLimit, slack.Burst)), notify.RetryPolicy{})
	named := wrapped.(notify.Named)
	fmt.Println(named.Type(), named.Name())
	fmt.Println(wrapped.(io.Closer).Close()) // closes the Slack notifier's idle connections
	// Output:
	// slack SOC Slack
	// <nil>
}

// Fanout sends one event to every integration at once and returns one
// Result per name, sorted by name, when every Send has returned: a failing
// or slow destination delays and hides no other.
func ExampleFanout() {
	soc, oncall, archive := notifytest.NewRecorder(), notifytest.NewRecorder(), notifytest.NewRecorder()
	oncall.FailSend(&notify.Error{Integration: "pagerduty", Op: "send", StatusCode: http.StatusBadRequest,
		Kind: notify.ErrRejected, Message: "Event object is invalid"})

	results := notify.Fanout(context.Background(), alert("evt-1"), map[string]notify.Notifier{
		"SOC Slack": soc, "On-call": oncall, "Archive": archive,
	})
	for _, r := range results {
		fmt.Printf("%s: receipt %q, error %v\n", r.Name, r.Receipt.ID, r.Err)
	}
	// Output:
	// Archive: receipt "evt-1", error <nil>
	// On-call: receipt "", error pagerduty: send: status 400: Event object is invalid
	// SOC Slack: receipt "evt-1", error <nil>
}

// A Registry builds the integrations the console stores, {"type": ...,
// "config": {...}}, from the destinations registered on it. The root
// package's integrations.NewRegistry has all ten; a service that uses a
// few registers those alone.
func ExampleRegistry() {
	var reg notify.Registry
	if err := reg.Register(slack.Type, slack.FromJSON); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.Types())

	n, err := reg.Build([]byte(`{"type": "slack", "config": {"name": "SOC Slack",
		"webhook_url": "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.(notify.Named).Type(), n.(notify.Named).Name(), n.Validate())

	_, err = reg.Build([]byte(`{"type": "fax", "config": {}}`))
	fmt.Println(err)
	_, err = reg.Build([]byte(`{"type": "slack", "config": {"name": "SOC Slack", "webhook_url": "https://example.com/hook"}}`))
	fmt.Println(notifytest.FieldsOf(err))
	// Output:
	// [slack]
	// slack SOC Slack <nil>
	// invalid: type: unknown integration type "fax" (known: slack)
	// [config.webhook_url]
}

// A Secret prints, logs and marshals as [REDACTED] whatever the verb, so a
// Config can be printed, logged or sent back to the console; only Reveal
// gives the credential, where it goes to the destination. It unmarshals
// from a plain JSON string.
func ExampleSecret() {
	var cfg struct {
		Name  string        `json:"name"`
		Token notify.Secret `json:"token"`
	}
	if err := json.Unmarshal([]byte(`{"name": "SOC", "token": "xoxb-0123456789-secret"}`), &cfg); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v %s %q %#v %x\n", cfg.Token, cfg.Token, cfg.Token, cfg.Token, cfg.Token)
	fmt.Printf("%+v\n", cfg)
	out, _ := json.Marshal(cfg)
	fmt.Println(string(out))

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // no clock in the example's output
			}
			return a
		},
	}))
	logger.Info("configured", "token", cfg.Token)

	fmt.Println(len(cfg.Token.Reveal()), notify.Secret(notify.Redacted).IsMasked())
	// Output:
	// [REDACTED] [REDACTED] "[REDACTED]" "[REDACTED]" [REDACTED]
	// {Name:SOC Token:[REDACTED]}
	// {"name":"SOC","token":"[REDACTED]"}
	// level=INFO msg=configured token=[REDACTED]
	// 22 true
}
