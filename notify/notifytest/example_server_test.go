package notifytest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/slack/slacktest"
)

// A downstream test keeps the production URL and sends through the
// server's client; the fake answers as Slack does and records the request.
// In a test, notifytest.NewServer(t, slacktest.New()) starts the server and closes it at
// the end; a destination takes the client with notify.WithHTTPClient:
//
//	srv := notifytest.NewServer(t, slacktest.New())
//	n, err := slack.New(cfg, notify.WithHTTPClient(srv.Client()))
func ExampleServer() {
	srv, err := notifytest.StartServer(slacktest.New())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	hook := "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"
	for _, body := range []string{`{"text":"New script on shop.example.com"}`, `{"text":""}`} {
		resp, err := srv.Client().Post(hook, "application/json", strings.NewReader(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Println(resp.StatusCode, string(answer))
	}

	r, _ := srv.LastRequest(notifytest.Slack)
	fmt.Println(len(srv.RequestsTo(notifytest.Slack)), r.Method, r.Host, string(r.Body))
	// Output:
	// 200 ok
	// 400 no_text
	// 2 POST hooks.slack.com {"text":""}
}

// Inject makes the fake refuse the way the vendor does under load, here
// Slack's 429 with Retry-After, once; the library's Sender reads it as a
// retryable error with the wait the destination asked for.
func ExampleServer_Inject() {
	srv, err := notifytest.StartServer(slacktest.New())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.Inject(notifytest.Fault{Destination: notifytest.Slack, Status: http.StatusTooManyRequests,
		RetryAfter: "30", Times: 1}); err != nil {
		fmt.Println(err)
		return
	}

	hook := notify.Secret("https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx")
	snd := sender.New("slack", settings.Apply(notify.WithHTTPClient(srv.Client())), hook)
	send := func() error {
		_, err := snd.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost,
			URL: hook.Reveal(), JSON: map[string]string{"text": "New script"}})
		return err
	}

	err = send()
	fmt.Println(errors.Is(err, notify.ErrRateLimited), notify.IsRetryable(err), notify.RetryAfterOf(err))
	fmt.Println(send())
	// Output:
	// true true 30s
	// <nil>
}
