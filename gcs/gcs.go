// Package gcs delivers Code Defender alerts to a Google Cloud Storage bucket
// as one JSON object per event.
//
// Send writes the Event as JSON, nothing wrapped around it, to
//
//	<prefix>/YYYY/MM/DD/<event-id>.json   (.json.gz, Content-Encoding gzip, with gzip)
//
// dated by the event's own time in UTC. A resolved event
// (notify.StatusResolved) is its own record beside the open one, at
// <event-id>-resolved.json, holding the Event with "status":"resolved"; the
// open record stays as it was, and resolving twice is a success. SendBatch (notify.BatchSender)
// writes one newline-delimited JSON object per batch to
// <prefix>/YYYY/MM/DD/batch-<hash>.ndjson, dated by the earliest event and
// named by a hash of the batch's event IDs. Every write carries a
// does-not-exist precondition, so a retry never overwrites: GCS's 412 means
// the object is already there, and counts as success (the first write
// stands). A Receipt's ID is the object name GCS stored and its URL the
// gs://bucket/name URI (what gcloud storage cp takes).
//
// Risk is not mapped onto any scale: it is stored as the event's "risk"
// field ("critical" ... "info") for whatever reads the bucket.
//
// Test asks GCS, through IAM testPermissions, whether the service account
// may create objects in the bucket: nothing is written, and no permission is
// needed to ask. A missing permission is an ErrForbidden that names the
// account and the role to grant; a missing bucket is ErrNotFound.
//
// The client is cloud.google.com/go/storage's, authenticated by the key in
// the Config alone (never the environment, gcloud's files or the metadata
// server). Its requests, and the token exchange at Google's token endpoint,
// go through the library's guarded HTTP client: the credentials are
// attached by the auth library's middleware on top of that client, because
// option.WithHTTPClient alone would send requests without them. The
// storage library's own retries are off (notify.Retry is the retry layer);
// each object goes up in one request, without the writer's 16 MiB buffer,
// carrying its CRC32C so that GCS refuses a damaged body rather than store
// it.
//
// Vendor API: https://cloud.google.com/storage/docs/json_api/v1/objects/insert
package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/objects"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/notify"
)

// Fixed values of the GCS JSON API.
const (
	// endpoint is the JSON API of the public Google Cloud. Setting it
	// explicitly also keeps STORAGE_EMULATOR_HOST, a process-wide variable,
	// from redirecting this tenant's alerts.
	endpoint = "https://storage.googleapis.com/storage/v1/"
	// permCreate is what Send needs (roles/storage.objectCreator has it).
	permCreate = "storage.objects.create"
)

// Notifier writes events to one GCS bucket.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as gcs("name"), never the config

	bucket      objects.Bucket // Send and SendBatch
	cfg         Config
	gzip        bool
	clientEmail string
	client      *storage.Client
	ownsClient  bool
	httpClient  *http.Client // the guarded client, when the Notifier made it
	errs        *sender.Errors
	logger      *slog.Logger
	timeout     time.Duration
	closing     sender.Closing
}

var _ notify.BatchSender = (*Notifier)(nil)

type storageClientKey struct{}

// WithStorageClient makes the Notifier use c, for tests and emulators
// (fake-gcs-server). The caller owns c: its endpoint, credentials,
// transport and network policy (notify.WithHTTPClient and
// notify.WithUserAgent do not reach it), and closing it. The service
// account in the Config is then only validated, not used. fake-gcs-server
// has no testPermissions route, so Test against it fails with a 404.
func WithStorageClient(c *storage.Client) notify.Option {
	return func(s *settings.Settings) {
		if c != nil {
			s.SetExtra(storageClientKey{}, c)
		}
	}
}

// New validates c and returns a Notifier. It makes no network call: the
// first token is fetched by the first Test or Send.
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		key, _ := parseServiceAccount(c.ServiceAccountJSON.Reveal()) // Validate parsed it already
		n := &Notifier{
			cfg:         c,
			gzip:        c.Compression.Gzip(),
			clientEmail: key.ClientEmail,
			errs:        sender.NewErrors(Type, keySecrets(c.ServiceAccountJSON, key)...),
			logger:      s.Logger,
			timeout:     s.Timeout,
		}
		n.Shell = shell.New(Type, c.Name, c, n.TestReport, n.close)
		n.bucket = objects.Bucket{Prefix: c.Prefix, Gzip: n.gzip, Write: n.write, Errors: n.errs, URL: "gs://" + c.Bucket + "/"}
		if !strings.HasSuffix(key.ClientEmail, ".gserviceaccount.com") {
			n.logger.Warn("gcs: the key's client_email is not a service account address", "integration", Type,
				"name", c.Name, "client_email", key.ClientEmail)
		}
		if v, ok := s.Extra(storageClientKey{}); ok {
			n.client = v.(*storage.Client)
			return n, nil
		}
		client, hc, err := newClient(c.ServiceAccountJSON, s)
		if err != nil {
			return nil, n.errs.Errorf("new", notify.ErrRejected, false, "%v", err)
		}
		n.client, n.ownsClient = client, true
		if s.HTTPClient == nil {
			n.httpClient = hc
		}
		return n, nil
	})
}

// close is Close: later calls fail, and the storage client and the HTTP
// client the Notifier made for itself are released.
func (n *Notifier) close() error {
	return n.closing.Close(func() error {
		var err error
		if n.ownsClient {
			err = n.client.Close()
		}
		if n.httpClient != nil {
			n.httpClient.CloseIdleConnections()
		}
		return err
	})
}

// newClient builds a storage client from the key alone, on the guarded
// HTTP client. option.WithHTTPClient makes the storage library use a client
// as is, credentials included (CONTRACTS §7), so the credentials are put on
// it here with the auth library's own middleware; the token exchange uses
// the same guarded client (without the middleware). Passing the credentials
// too keeps the storage library from looking for default credentials
// (environment, gcloud files, metadata server) that it would not use.
func newClient(saJSON notify.Secret, s settings.Settings) (*storage.Client, *http.Client, error) {
	quiet := slog.New(slog.DiscardHandler) // the SDKs' own debug logs could show request details
	hc := guard.NewHTTPClient(s)
	// The Google libraries read whole bodies (an error body with
	// io.ReadAll): every answer they are given is bounded here instead.
	bounded := &http.Client{Transport: sender.BoundedTransport(hc.Transport), CheckRedirect: hc.CheckRedirect, Timeout: hc.Timeout}
	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, []byte(saJSON.Reveal()), &credentials.DetectOptions{
		Scopes: []string{storage.ScopeReadWrite},
		Client: bounded,
		// A background refresh would outlive the caller's context.
		DisableAsyncRefresh: true,
		Logger:              quiet,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the service account key: %w", err)
	}
	api := &http.Client{Transport: userAgent{base: bounded.Transport, ua: s.UserAgent}, CheckRedirect: hc.CheckRedirect}
	if err := httptransport.AddAuthorizationMiddleware(api, creds); err != nil {
		return nil, nil, err
	}
	client, err := storage.NewClient(context.Background(),
		option.WithHTTPClient(api),
		option.WithAuthCredentials(creds),
		option.WithEndpoint(endpoint),
		option.WithUserAgent(s.UserAgent),
		option.WithLogger(quiet),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the storage client: %w", err)
	}
	return client, hc, nil
}

// minScrubLine keeps short PEM lines (the last one can be a few
// characters) out of the scrub list, where they could mangle other text.
const minScrubLine = 16

// keySecrets are the forms in which the key could surface in a message:
// the file, the PEM, and each line of the PEM's base64 body (a message
// that folded the PEM's line breaks still has each line whole).
func keySecrets(file notify.Secret, key serviceAccountKey) []notify.Secret {
	out := []notify.Secret{file, notify.Secret(key.PrivateKey)}
	var body strings.Builder
	for line := range strings.Lines(key.PrivateKey) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----") {
			continue
		}
		body.WriteString(line)
		if len(line) >= minScrubLine {
			out = append(out, notify.Secret(line))
		}
	}
	if body.Len() >= minScrubLine {
		out = append(out, notify.Secret(body.String()))
	}
	return out
}

// userAgent puts the library's User-Agent in front of the storage
// library's, which ignores option.WithUserAgent for uploads when given an
// HTTP client.
type userAgent struct {
	base http.RoundTripper
	ua   string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", strings.TrimSpace(u.ua+" "+r.Header.Get("User-Agent")))
	base := u.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Send writes e as one JSON object at <prefix>/YYYY/MM/DD/<event-id>.json
// (.json.gz with gzip), unless it is already there. An invalid event is
// refused before any request.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	return n.bucket.Send(ctx, e)
}

// SendBatch writes events as one newline-delimited JSON object at
// <prefix>/YYYY/MM/DD/batch-<hash>.ndjson (.ndjson.gz with gzip), dated by
// the earliest event and named by a hash of the sorted event IDs, unless
// that object is already there (a retry). Every event's Receipt names the
// object. An invalid event refuses the whole batch before any request; an
// empty batch writes nothing. The object is built in memory (compressed,
// with gzip) before it is sent, so that its checksum can go with it.
func (n *Notifier) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	return n.bucket.SendBatch(ctx, events)
}

// crc32cTable is the Castagnoli polynomial GCS checksums with.
var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

// write uploads events to key with a does-not-exist precondition and
// returns the name GCS stored. The object is encoded in memory first so its
// CRC32C goes with the upload: GCS then refuses a body damaged on the way
// instead of storing it, which matters because a stored object is never
// overwritten. The writer's Close decides the result: a Write can succeed
// for an upload that then fails.
func (n *Notifier) write(ctx context.Context, op, key, contentType string, events []notify.Event) (string, error) {
	op += ": insert " + key
	if err := n.closing.Closed(n.errs, op); err != nil {
		return "", err
	}
	var body bytes.Buffer
	if err := objects.WriteEvents(&body, events, n.gzip); err != nil {
		return "", n.errs.Errorf(op, notify.ErrRejected, false, "cannot encode the event: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	start := time.Now()

	obj := n.client.Bucket(n.cfg.Bucket).Object(key).
		If(storage.Conditions{DoesNotExist: true}).
		Retryer(storage.WithPolicy(storage.RetryNever))
	w := obj.NewWriter(ctx)
	// Set before the first Write: an empty ContentType would be sniffed.
	w.ContentType = contentType
	if n.gzip {
		w.ContentEncoding = objects.ContentEncodingGzip
	}
	w.CRC32C = crc32.Checksum(body.Bytes(), crc32cTable)
	w.SendCRC32C = true
	w.DisableAutoChecksum = true // the checksum above is the one that counts
	// One request: no 16 MiB chunk buffer per object. The writer could not
	// retry without that buffer; notify.Retry retries the whole object
	// instead, which the precondition makes safe.
	w.ChunkSize = 0

	_, werr := w.Write(body.Bytes())
	// Close returns the upload's error, also after a failed Write.
	if err := w.Close(); err != nil || werr != nil {
		if err == nil {
			err = werr
		}
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
			objects.Log(ctx, n.logger, "gcs: already written", Type, n.Name(), op, n.cfg.Bucket, start, nil)
			return key, nil
		}
		return "", n.logged(ctx, op, start, n.apiError(ctx, op, err))
	}
	name := key
	if attrs := w.Attrs(); attrs != nil && attrs.Name != "" {
		name = attrs.Name
	}
	objects.Log(ctx, n.logger, "gcs: request", Type, n.Name(), op, n.cfg.Bucket, start, nil, "bytes", body.Len())
	return name, nil
}

// logged logs a failure and returns it.
func (n *Notifier) logged(ctx context.Context, op string, start time.Time, e *notify.Error) *notify.Error {
	objects.Log(ctx, n.logger, "gcs: request failed", Type, n.Name(), op, n.cfg.Bucket, start, e)
	return e
}

// The names of TestReport's checks.
const (
	checkKey    = "key accepted"
	checkBucket = "bucket found"
	checkCreate = "may create objects"
)

// TestReport asks GCS whether the service account may create objects in
// the bucket (IAM testPermissions), writing nothing: the call itself needs
// no permission, and the token it needs proves the key. It says what the
// one request proved, step by
// step: Google accepted the key (a token was issued and the API took it),
// the bucket exists, and the account holds storage.objects.create on it.
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	const op = "test: testIamPermissions"
	var r notify.Report
	if err := n.closing.Closed(n.errs, op); err != nil {
		r.Fail(checkKey, err)
		r.Skip(checkBucket, err.Message)
		r.Skip(checkCreate, err.Message)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	start := time.Now()
	bucket := n.client.Bucket(n.cfg.Bucket).Retryer(storage.WithPolicy(storage.RetryNever))
	held, err := bucket.IAM().TestPermissions(ctx, []string{permCreate})
	keyOK := "Google accepted the key of " + n.clientEmail
	if err != nil {
		e := n.logged(ctx, op, start, n.apiError(ctx, op, err))
		token := strings.HasSuffix(e.Op, tokenOpSuffix)
		switch {
		case e.StatusCode == http.StatusNotFound && !token:
			r.Pass(checkKey, keyOK)
			r.Fail(checkBucket, e)
			r.Skip(checkCreate, "the bucket was not found")
		case e.StatusCode == http.StatusForbidden && !token:
			r.Pass(checkKey, keyOK)
			r.Pass(checkBucket, "bucket "+n.cfg.Bucket+" exists")
			r.Fail(checkCreate, e)
		default:
			r.Fail(checkKey, e)
			r.Skip(checkBucket, "the key was not accepted, or Google could not be reached")
			r.Skip(checkCreate, "the key was not accepted, or Google could not be reached")
		}
		return r
	}
	r.Pass(checkKey, keyOK)
	r.Pass(checkBucket, "bucket "+n.cfg.Bucket+" exists")
	if !slices.Contains(held, permCreate) {
		r.Fail(checkCreate, n.logged(ctx, op, start, n.errs.Status(op, 0, nil, sender.Explanation{
			Kind:    notify.ErrForbidden,
			Message: fmt.Sprintf("service account %s does not have %s on bucket %s", n.clientEmail, permCreate, n.cfg.Bucket),
			Hint:    "grant it roles/storage.objectCreator on the bucket (or a role with " + permCreate + ")",
		})))
		return r
	}
	objects.Log(ctx, n.logger, "gcs: request", Type, n.Name(), op, n.cfg.Bucket, start, nil)
	r.Pass(checkCreate, "service account "+n.clientEmail+" holds "+permCreate+" on bucket "+n.cfg.Bucket+": nothing was written")
	return r
}

// tokenOpSuffix marks the errors of Google's token endpoint.
const tokenOpSuffix = " (token)"

// apiError turns a storage or auth error into a *notify.Error: the status
// decides the sentinel and retryability (sender.ClassifyStatus) and the
// hint says what to change. A token that could not be fetched is the key's
// fault (ErrUnauthorized) unless Google's token endpoint itself failed.
func (n *Notifier) apiError(ctx context.Context, op string, err error) *notify.Error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		x := sender.Explanation{Message: googleMessage(ge)}
		switch ge.Code {
		case http.StatusUnauthorized:
			x.Hint = "Google did not accept the credentials of " + n.clientEmail + ": was the key deleted or the account disabled? Create a new key"
		case http.StatusForbidden:
			x.Hint = fmt.Sprintf("service account %s lacks %s on bucket %s: grant it roles/storage.objectCreator (or an organisation policy or VPC Service Controls refuse it)",
				n.clientEmail, permCreate, n.cfg.Bucket)
		case http.StatusNotFound:
			x.Hint = fmt.Sprintf("bucket %q does not exist: check bucket", n.cfg.Bucket)
		case http.StatusTooManyRequests:
			x.Hint = "GCS asks to slow down: retry later, or send fewer, larger batches"
		}
		return n.errs.Status(op, ge.Code, ge.Header, x)
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil {
		status := ae.Response.StatusCode
		x := sender.Explanation{Message: ae.Error()}
		if status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden {
			// invalid_grant: a deleted or disabled key, or a wrong clock.
			x.Kind, x.Retryable = notify.ErrUnauthorized, false
			x.Hint = "Google's token endpoint refused the key of " + n.clientEmail +
				": was the key deleted or the account disabled (create a new key), or is this machine's clock off?"
		}
		return n.errs.Status(op+tokenOpSuffix, status, ae.Response.Header, x)
	}
	return n.errs.Network(ctx, op, err)
}

// googleMessage is GCS's own words: the message, and the reason when it
// adds something.
func googleMessage(ge *googleapi.Error) string {
	msg := ge.Message
	if msg == "" {
		msg = http.StatusText(ge.Code)
	}
	for _, item := range ge.Errors {
		if item.Reason != "" && !strings.Contains(msg, item.Reason) {
			return item.Reason + ": " + msg
		}
	}
	return msg
}
