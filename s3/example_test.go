package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/s3"
)

// An S3-compatible store (here gofakes3 on loopback, standing in for MinIO)
// takes Endpoint and PathStyle; plain http:// to a private or loopback
// address also needs notify.WithAllowPrivateNetworks.
func Example() {
	backend := s3mem.New()
	_ = backend.CreateBucket("cd-alerts")
	store := httptest.NewServer(gofakes3.New(backend).Server())
	defer store.Close()

	n, err := s3.New(s3.Config{
		Name:            "SOC archive",
		AccessKeyID:     "minio-user",
		SecretAccessKey: "minio-secret-key",
		Region:          "us-east-1",
		Bucket:          "cd-alerts",
		Prefix:          "alerts",
		Compression:     s3.CompressionGzip,
		Endpoint:        store.URL,
		PathStyle:       true,
	}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	ctx := context.Background()
	if err := n.Test(ctx); err != nil {
		fmt.Println(err)
		return
	}
	rc, err := n.Send(ctx, notify.Event{
		ID:    "evt-123",
		Type:  notify.EventIncident,
		Title: "New script on checkout",
		Risk:  notify.RiskHigh,
		Time:  time.Date(2026, 1, 2, 22, 30, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rc.ID)
	fmt.Println(rc.URL)
	// Output:
	// alerts/2026/01/02/evt-123.json.gz
	// s3://cd-alerts/alerts/2026/01/02/evt-123.json.gz
}

// SendBatch writes one NDJSON object per batch, dated by the earliest event
// and named by a hash of the event IDs: the same batch, retried, lands on
// the same key.
func ExampleNotifier_SendBatch() {
	backend := s3mem.New()
	_ = backend.CreateBucket("cd-alerts")
	store := httptest.NewServer(gofakes3.New(backend).Server())
	defer store.Close()

	n, err := s3.New(s3.Config{
		Name: "SOC archive", AccessKeyID: "minio-user", SecretAccessKey: "minio-secret-key",
		Region: "us-east-1", Bucket: "cd-alerts", Endpoint: store.URL, PathStyle: true,
	}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	at := time.Date(2026, 1, 2, 22, 30, 0, 0, time.UTC)
	events := []notify.Event{
		{ID: "evt-1", Type: notify.EventClientSideRisk, Title: "New third-party script", Risk: notify.RiskMedium, Time: at},
		{ID: "evt-2", Type: notify.EventPCIScopeChange, Title: "Payment page changed", Risk: notify.RiskHigh, Time: at.Add(-time.Hour)},
	}
	rcs, err := n.SendBatch(context.Background(), events)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := n.SendBatch(context.Background(), []notify.Event{events[1], events[0]})
	fmt.Println(len(rcs), rcs[0].ID)
	fmt.Println(again[0].ID == rcs[0].ID)
	// Output:
	// 2 2026/01/02/batch-12731e478fa15c821e6ebfca04e225c0.ndjson
	// true
}

// Validate names every bad field; a temporary key is refused because the
// console has no field for its session token.
func ExampleConfig_Validate() {
	err := s3.Config{
		Name:            "SOC archive",
		AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Region:          "eu-west-1",
		Bucket:          "CD_Alerts",
	}.Validate()
	var ve *notify.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f.Field+":", f.Message)
		}
	}
	// Output:
	// access_key_id: is a temporary (ASIA…) key, which needs a session token: create a long-term access key (AKIA…) for an IAM user
	// bucket: may hold only lower-case letters, digits, '.' and '-', and must begin and end with a letter or digit
}

// For keys whose policy allows only s3:PutObject, WithProbeWrite makes Test
// write a small object under <prefix>/.connection-test/ and delete it; a
// refused delete still passes, with a warning log line naming the object.
func ExampleWithProbeWrite() {
	backend := s3mem.New()
	_ = backend.CreateBucket("cd-alerts")
	store := httptest.NewServer(gofakes3.New(backend).Server())
	defer store.Close()

	n, err := s3.New(s3.Config{
		Name: "SOC archive", AccessKeyID: "minio-user", SecretAccessKey: "minio-secret-key",
		Region: "us-east-1", Bucket: "cd-alerts", Endpoint: store.URL, PathStyle: true,
	}, notify.WithAllowPrivateNetworks(), s3.WithProbeWrite())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	fmt.Println(n.Test(context.Background()))
	// Output:
	// <nil>
}

// TestReport says what Test proved: the keys reach the bucket, and writing
// is proven only by a write (WithProbeWrite), so it is a warning.
func ExampleNotifier_TestReport() {
	backend := s3mem.New()
	_ = backend.CreateBucket("cd-alerts")
	store := httptest.NewServer(gofakes3.New(backend).Server())
	defer store.Close()

	n, err := s3.New(s3.Config{Name: "SOC archive", AccessKeyID: "minio-user", SecretAccessKey: "minio-secret-key",
		Region: "us-east-1", Bucket: "cd-alerts", Endpoint: store.URL, PathStyle: true}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	for _, c := range n.TestReport(context.Background()).Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	// Output:
	// bucket reachable: passed
	// bucket in region: skipped
	// objects writable: warning
}

// A resolved event is its own object beside the open one.
func ExampleNotifier_Send_resolved() {
	backend := s3mem.New()
	_ = backend.CreateBucket("cd-alerts")
	store := httptest.NewServer(gofakes3.New(backend).Server())
	defer store.Close()

	n, err := s3.New(s3.Config{Name: "SOC archive", AccessKeyID: "minio-user", SecretAccessKey: "minio-secret-key",
		Region: "us-east-1", Bucket: "cd-alerts", Endpoint: store.URL, PathStyle: true}, notify.WithAllowPrivateNetworks())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	e := notify.Event{ID: "evt-123", Type: notify.EventIncident, Title: "New script on checkout",
		Risk: notify.RiskHigh, Time: time.Date(2026, 1, 2, 22, 30, 0, 0, time.UTC)}
	for _, status := range []notify.Status{notify.StatusOpen, notify.StatusResolved} {
		e.Status = status
		rc, err := n.Send(context.Background(), e)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rc.ID)
	}
	// Output:
	// 2026/01/02/evt-123.json
	// 2026/01/02/evt-123-resolved.json
}
