package splunk_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/splunk"
)

// exampleHEC is a minimal HTTP Event Collector on loopback, so the examples
// run offline: it answers an empty body with code 5, a bad token with code
// 4, and otherwise counts the envelopes it decodes.
type exampleHEC struct {
	*httptest.Server
	requests, events atomic.Int64
}

func startExampleHEC() *exampleHEC {
	h := &exampleHEC{}
	h.Server = httptest.NewServer(h.handler())
	return h
}

func (h *exampleHEC) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Splunk 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"text":"Invalid token","code":4}`)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, _ := io.ReadAll(body)
		if len(data) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"text":"No data","code":5}`)
			return
		}
		h.requests.Add(1)
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var env map[string]any
			if err := dec.Decode(&env); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"text":"Invalid data format","code":6}`)
				return
			}
			h.events.Add(1)
		}
		fmt.Fprint(w, `{"text":"Success","code":0}`)
	})
}

func exampleEvent(id string) notify.Event {
	return notify.Event{
		ID:     id,
		Type:   notify.EventIncident,
		Title:  "Skimmer script on /checkout",
		Risk:   notify.RiskCritical,
		Time:   time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		Source: "https://shop.example.com",
	}
}

func Example() {
	hec := startExampleHEC()
	defer hec.Close()

	n, err := splunk.New(splunk.Config{
		Name: "SOC Splunk",
		// On Splunk Cloud: https://http-inputs-<stack>.splunkcloud.com/services/collector.
		URL:      hec.URL + "/services/collector",
		APIToken: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
		Index:    "security",
	}, notify.WithAllowPrivateNetworks()) // the example's HEC is on loopback
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, err := n.Send(context.Background(), exampleEvent("inc-42"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, "accepted", rc.ID)
	// Output: splunk("SOC Splunk") accepted inc-42
}

func ExampleNotifier_Test() {
	hec := startExampleHEC()
	defer hec.Close()

	for _, token := range []notify.Secret{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "99999999-9999-9999-9999-999999999999"} {
		n, err := splunk.New(splunk.Config{Name: "SOC Splunk", URL: hec.URL + "/services/collector", APIToken: token},
			notify.WithAllowPrivateNetworks())
		if err != nil {
			fmt.Println(err)
			return
		}
		err = n.Test(context.Background())
		fmt.Println("token accepted:", err == nil, "unauthorized:", errors.Is(err, notify.ErrUnauthorized))
	}
	fmt.Println("events indexed by Test:", hec.events.Load())
	// Output:
	// token accepted: true unauthorized: false
	// token accepted: false unauthorized: true
	// events indexed by Test: 0
}

func ExampleNotifier_TestReport() {
	hec := startExampleHEC()
	defer hec.Close()

	n, err := splunk.New(splunk.Config{Name: "SOC Splunk", URL: hec.URL + "/services/collector",
		APIToken: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", Index: "security"}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range n.TestReport(context.Background()).Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	// Output:
	// token accepted: passed
	// index writable: warning
}

func ExampleNotifier_Send_resolved() {
	hec := startExampleHEC()
	defer hec.Close()

	n, err := splunk.New(splunk.Config{Name: "SOC Splunk", URL: hec.URL + "/services/collector",
		APIToken: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	e := exampleEvent("inc-42")
	for _, status := range []notify.Status{notify.StatusOpen, notify.StatusResolved} {
		e.Status = status
		if _, err := n.Send(context.Background(), e); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("events indexed:", hec.events.Load())
	// Output: events indexed: 2
}

func ExampleNotifier_SendBatch() {
	hec := startExampleHEC()
	defer hec.Close()

	n, err := splunk.New(splunk.Config{
		Name:     "SOC Splunk",
		URL:      hec.URL + "/services/collector",
		APIToken: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	}, notify.WithAllowPrivateNetworks(), splunk.WithMaxRequestBytes(64<<10))
	if err != nil {
		fmt.Println(err)
		return
	}
	events := make([]notify.Event, 1000)
	for i := range events {
		events[i] = exampleEvent(fmt.Sprintf("evt-%04d", i))
	}
	receipts, err := n.SendBatch(context.Background(), events)
	if err != nil {
		// receipts covers the events delivered before the failure:
		// resend events[len(receipts):].
		fmt.Println(len(receipts), "delivered before:", err)
		return
	}
	fmt.Println(len(receipts), "receipts, first", receipts[0].ID, "last", receipts[len(receipts)-1].ID)
	fmt.Println(hec.events.Load(), "events in", hec.requests.Load(), "requests of at most 64 KiB")
	// Output:
	// 1000 receipts, first evt-0000 last evt-0999
	// 1000 events in 4 requests of at most 64 KiB
}

func ExampleFromJSON() {
	stored := `{"name":"SOC Splunk","url":"https://http-inputs-acme.splunkcloud.com/services/collector",` +
		`"api_token":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","index":"Security"}`
	_, err := splunk.FromJSON(json.RawMessage(stored))
	fmt.Println(err)

	n, err := splunk.FromJSON(json.RawMessage(strings.Replace(stored, "Security", "security", 1)))
	fmt.Println(n, err)
	// Output:
	// invalid: index: must be lower case, as Splunk index names are (security?)
	// splunk("SOC Splunk") <nil>
}

func ExampleWithCACert() {
	// An on-premises HEC whose certificate comes from the company's CA.
	hec := &exampleHEC{}
	hec.Server = httptest.NewTLSServer(hec.handler())
	defer hec.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hec.Certificate().Raw})

	n, err := splunk.New(splunk.Config{
		Name:     "On-prem Splunk",
		URL:      hec.URL + "/services/collector", // https://splunk.corp.example:8088/services/collector in real life
		APIToken: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	}, notify.WithAllowPrivateNetworks(), splunk.WithCACert(caPEM))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token accepted over TLS:", n.Test(context.Background()) == nil)
	// Output: token accepted over TLS: true
}
