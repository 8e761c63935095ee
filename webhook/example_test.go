package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/webhook"
)

// The signing secret of these examples (the Standard Webhooks test vector's).
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var event = notify.Event{
	ID:     "evt-42",
	Type:   notify.EventClientSideRisk,
	Title:  `New script "tracker.js" on /checkout`,
	Risk:   notify.RiskHigh,
	Time:   time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
	Source: "shop.example.com",
	Tags:   []string{"pci", "new-script"},
}

// A receiver on loopback verifies the signature of what the webhook sends.
// The webhook fires for every event type unless Config.Events limits it.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes))
		if err := webhook.Verify(secret, r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e notify.Event
		_ = json.Unmarshal(body, &e)
		fmt.Printf("receiver: %s %s, webhook-id %s: %s\n", r.Method, r.Header.Get("Content-Type"),
			r.Header.Get(webhook.HeaderID), e.Title)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	n, err := webhook.New(webhook.Config{
		Name:          "SOC receiver",
		URL:           receiver.URL + "/alerts", // plain http:// to loopback: allowed by the option below
		SigningSecret: secret,
	}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	ctx := context.Background()
	receipt, err := n.Send(ctx, event)
	fmt.Println("receipt:", receipt.ID, err)

	incident := event
	incident.ID, incident.Type = "evt-43", notify.EventIncident
	receipt, err = n.Send(ctx, incident)
	fmt.Println("receipt:", receipt.ID, err)
	// Output:
	// receiver: POST application/json, webhook-id evt-42: New script "tracker.js" on /checkout
	// receipt: evt-42 <nil>
	// receiver: POST application/json, webhook-id evt-43: New script "tracker.js" on /checkout
	// receipt: evt-43 <nil>
}

// A body pattern shapes the JSON a receiver expects. The json function
// escapes every value, so quotes in the title cannot break the body.
func ExampleConfig_bodyPattern() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPut, "https://hooks.example.com/cd", func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(string(body))
		return httpmock.NewStringResponse(http.StatusOK, ""), nil
	})

	n, err := webhook.New(webhook.Config{
		Name:   "Chat",
		URL:    "https://hooks.example.com/cd",
		Method: "PUT",
		BodyPattern: `{"text": {{json (printf "[%s] %s" .Risk.Label .Title)}}, "site": {{json .Source}},` +
			` "tags": [{{range $i, $t := .Tags}}{{if $i}}, {{end}}{{json $t}}{{end}}]}`,
	}, notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := n.Send(context.Background(), event); err != nil {
		fmt.Println(err)
	}

	// Quoting values by hand breaks on the first quote, so Validate refuses it.
	bad := webhook.Config{Name: "Chat", URL: "https://hooks.example.com/cd", BodyPattern: `{"text": "{{.Title}}"}`}
	var ve *notify.ValidationError
	if errors.As(bad.Validate(), &ve) {
		fmt.Println(ve.Fields[0].Field, "refused")
	}
	// Output:
	// {"text": "[HIGH] New script \"tracker.js\" on /checkout", "site": "shop.example.com", "tags": ["pci", "new-script"]}
	// body_pattern refused
}

// A receiver written in Go checks each request with Verify over the raw
// body, before parsing it. Here the handler is fed by a mock transport.
func ExampleVerify() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes))
		if err == nil {
			err = webhook.Verify(secret, r.Header, body)
		}
		switch {
		case errors.Is(err, webhook.ErrVerification):
			fmt.Println("refused:", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, "receiver misconfigured", http.StatusInternalServerError)
		default:
			fmt.Println("verified", r.Header.Get(webhook.HeaderID))
			w.WriteHeader(http.StatusNoContent)
		}
	})

	var tamper bool
	mt := httpmock.NewMockTransport()
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		if tamper { // a proxy that re-encodes the JSON
			body, _ := io.ReadAll(r.Body)
			var buf bytes.Buffer
			_ = json.Indent(&buf, body, "", "  ")
			r.Body = io.NopCloser(&buf)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		return rec.Result(), nil
	})
	n, err := webhook.New(webhook.Config{Name: "SOC", URL: "https://hooks.example.com/cd", SigningSecret: secret},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = n.Send(context.Background(), event)
	fmt.Println("first send:", err)
	tamper = true
	_, err = n.Send(context.Background(), event)
	fmt.Println("second send:", errors.Is(err, notify.ErrUnauthorized))
	// Output:
	// verified evt-42
	// first send: <nil>
	// refused: webhook: verification failed: no v1 signature in webhook-signature matches (wrong secret, or the body was changed: verify the raw bytes)
	// second send: true
}

// Validate reports every bad field at once, naming it.
func ExampleConfig_Validate() {
	cfg := webhook.Config{
		Name:     "Partner",
		URL:      "https://partner.example.com/hook",
		Protocol: webhook.ProtocolTLS,
		Headers: []webhook.Header{
			{Name: "Authorization", Value: "Bearer t0ken-value"}, // allowed; the value is a secret
			{Name: "Connection", Value: "close"},
			{Name: "webhook-id", Value: "mine"},
		},
	}
	fmt.Println(cfg.Validate())
	// Output:
	// invalid: client_cert: is required with protocol "tls"; client_key: is required with protocol "tls"; headers[1].name: Connection is a hop-by-hop header managed by the HTTP transport; headers[2].name: Webhook-Id is reserved for Standard Webhooks signing (the library sets it)
}
