package notifytest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// alerter is code under test: it sends an alert for each risky script,
// through whatever Notifier it is given.
func alerter(ctx context.Context, n notify.Notifier, scripts []string) error {
	for i, s := range scripts {
		_, err := n.Send(ctx, notify.Event{
			ID:    fmt.Sprintf("evt-%d", i+1),
			Type:  notify.EventClientSideRisk,
			Title: "New script " + s + " reads the card form",
			Risk:  notify.RiskHigh,
			Time:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// A Recorder stands in for a destination in the tests of code that sends
// alerts: it keeps every event it is sent, and fails when told to.
func ExampleRecorder() {
	rec := notifytest.NewRecorder()
	err := alerter(context.Background(), rec, []string{"cdn.example.net/x.js", "evil.example/skim.js"})
	fmt.Println(err)
	for _, e := range rec.Events() {
		fmt.Println(e.ID, e.Title)
	}

	// A destination that is down: the code under test must say so.
	rec.FailSend(&notify.Error{Integration: "slack", Op: "send", StatusCode: http.StatusServiceUnavailable,
		Kind: notify.ErrUnavailable, Retryable: true})
	err = alerter(context.Background(), rec, []string{"cdn.example.net/y.js"})
	fmt.Println(err, notify.IsRetryable(err))

	// An invalid event is refused before it is recorded, as every
	// destination refuses it.
	rec.FailSend(nil)
	_, err = rec.Send(context.Background(), notify.Event{ID: "evt-9"})
	fmt.Println(err != nil, len(rec.Events()))
	// Output:
	// <nil>
	// evt-1 New script cdn.example.net/x.js reads the card form
	// evt-2 New script evil.example/skim.js reads the card form
	// slack: send: status 503 true
	// true 3
}

// printer stands in for the *testing.T of a real test so that the example
// can show what AssertNoSecret reports (each line once: an error's Error()
// and %v forms are often the same text); a test passes its own t.
type printer struct {
	testing.TB
	seen map[string]bool
}

func (*printer) Helper() {}

func (p *printer) Errorf(format string, args ...any) {
	if line := fmt.Sprintf(format, args...); !p.seen[line] {
		p.seen[line] = true
		fmt.Println(line)
	}
}

// AssertNoSecret fails the test when a credential appears in an error (in
// every fmt form), a log buffer or a string: as is, URL-escaped, in base64
// as a Basic auth header carries it, or as the path of a URL that is
// itself the credential. Every error path of a destination's tests runs
// it with the config's secrets.
func ExampleAssertNoSecret() {
	var t testing.TB = &printer{seen: map[string]bool{}} // in a test: t *testing.T
	token := notify.Secret("ATATT3xFfGF0-example-api-token")

	clean := &notify.Error{Integration: "jira", Op: "send", StatusCode: http.StatusUnauthorized,
		Kind: notify.ErrUnauthorized, Message: "Client must be authenticated to access this resource."}
	fmt.Println(notifytest.AssertNoSecret(t, clean, token))

	basic := base64.StdEncoding.EncodeToString([]byte(token.Reveal()))
	leaky := errors.New("jira: send: the server echoed Authorization: Basic " + basic)
	fmt.Println(notifytest.AssertNoSecret(t, leaky, token))

	logs := `level=DEBUG msg="notify: request" integration=jira host=acme.atlassian.net status=401`
	fmt.Println(notifytest.AssertNoSecret(t, logs, token), notifytest.AssertNoSecret(t, errors.New("no answer"), token))
	// Output:
	// true
	// a secret (30 characters) appears in: jira: send: the server echoed Authorization: Basic QVRBVFQzeEZmR0YwLWV4YW1wbGUtYXBpLXRva2Vu
	// a secret (30 characters) appears in: &errors.errorString{s:"jira: send: the server echoed Authorization: Basic QVRBVFQzeEZmR0YwLWV4YW1wbGUtYXBpLXRva2Vu"}
	// false
	// true true
}
