package gcs_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/codedefender/integrations/gcs"
	"github.com/codedefender/integrations/notify"
)

// WithStorageClient points the Notifier at an emulator, here
// fake-gcs-server on loopback. A second Send of the same event finds the
// object written (GCS answers 412 to the does-not-exist precondition) and
// succeeds without overwriting it; a resolved event is its own object.
func ExampleWithStorageClient() {
	emulator, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emulator.Stop()
	emulator.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "cd-alerts"})
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client, err := storage.NewClient(context.Background(),
		option.WithEndpoint(emulator.URL()+"/storage/v1/"),
		option.WithHTTPClient(&http.Client{Transport: transport}),
		option.WithoutAuthentication())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	n, err := gcs.New(gcs.Config{
		Name:               "SOC archive",
		Bucket:             "cd-alerts",
		ServiceAccountJSON: exampleKeyFile(), // the key file the console uploaded
		Prefix:             "alerts",
		Compression:        gcs.CompressionGzip,
	}, gcs.WithStorageClient(client))
	if err != nil {
		fmt.Println(err)
		return
	}
	e := notify.Event{
		ID:    "evt-123",
		Type:  notify.EventIncident,
		Title: "New script on checkout",
		Risk:  notify.RiskHigh,
		Time:  time.Date(2026, 1, 2, 22, 30, 0, 0, time.UTC),
	}
	for range 2 {
		rc, err := n.Send(context.Background(), e)
		fmt.Println(rc.URL, err)
	}
	// The alert's resolution is its own object beside the open one.
	e.Status = notify.StatusResolved
	rc, err := n.Send(context.Background(), e)
	fmt.Println(rc.URL, err)
	// Output:
	// gs://cd-alerts/alerts/2026/01/02/evt-123.json.gz <nil>
	// gs://cd-alerts/alerts/2026/01/02/evt-123.json.gz <nil>
	// gs://cd-alerts/alerts/2026/01/02/evt-123-resolved.json.gz <nil>
}

// Validate checks that the key file is a service account's key that sends
// its assertion only to Google, and names each problem inside it.
func ExampleConfig_Validate() {
	err := gcs.Config{
		Name:   "SOC archive",
		Bucket: "cd-alerts",
		ServiceAccountJSON: `{"type":"external_account","client_email":"alerts@cd-project.iam.gserviceaccount.com",
			"private_key_id":"1f2e3d","private_key":"","token_uri":"https://attacker.example/token"}`,
	}.Validate()
	var ve *notify.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f.Field)
		}
	}
	// Output:
	// service_account_json.type
	// service_account_json.private_key
	// service_account_json.token_uri
}

// exampleKeyFile makes a throwaway service account key file, in the shape
// Google issues.
func exampleKeyFile() notify.Secret {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"client_email":   "alerts@cd-project.iam.gserviceaccount.com",
		"private_key_id": "1f2e3d4c5b6a7988",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	return notify.Secret(b)
}
