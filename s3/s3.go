// Package s3 delivers Code Defender alerts to an Amazon S3 bucket, or to an
// S3-compatible store (MinIO, Ceph, Cloudflare R2, ...) through Endpoint and
// PathStyle, as one JSON object per event.
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
// named by a hash of the batch's event IDs. Keys come from the events alone,
// so a retry rewrites the same key with the same bytes: it never duplicates
// an alert. A Receipt's ID is the object key and its URL the s3://bucket/key
// URI (what aws s3 cp takes).
//
// Risk is not mapped onto any scale: it is stored as the event's "risk"
// field ("critical" ... "info") for whatever reads the bucket.
//
// Test checks, without writing, that the keys are accepted and reach the
// bucket in the configured region (HeadBucket, which needs s3:ListBucket);
// a wrong region names the bucket's real one when S3 says it. For keys that
// may only write (s3:PutObject alone), WithProbeWrite makes Test write a
// small test object under <prefix>/.connection-test/ and delete it.
//
// The client is aws-sdk-go-v2's, built from the Config alone (static keys;
// no environment variables, shared config files or instance metadata), on
// the library's guarded HTTP client, with the SDK's own retries off
// (notify.Retry is the retry layer) and checksums only where S3 requires
// them, which S3-compatible stores need. Every PutObject carries Content-MD5,
// which S3 checks and Object Lock buckets require.
//
// Vendor API: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/objects"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/notify"
)

// Notifier writes events to one S3 bucket.
//
// Besides Send and TestReport it has the methods every destination's
// Notifier shares: Type and Name; Validate, which is Config.Validate;
// Test, which returns the error of TestReport's first failed check; and
// Close, which releases what the Notifier holds for itself and may be
// called more than once, after which every call fails with
// notify.ErrRejected and reaches nothing.
type Notifier struct {
	shell.Shell[Config] // Type, Name, Validate, Test, Close; prints as s3("name"), never the config

	bucket     objects.Bucket // Send and SendBatch
	cfg        Config
	gzip       bool
	client     *awss3.Client
	httpClient *http.Client
	ownsHTTP   bool
	errs       *sender.Errors
	logger     *slog.Logger
	timeout    time.Duration
	probeWrite bool
	closing    sender.Closing
}

var _ notify.BatchSender = (*Notifier)(nil)

type probeWriteKey struct{}

// WithProbeWrite makes Test write a small test object and delete it instead
// of the read-only HeadBucket, for keys whose policy allows s3:PutObject
// only. When the delete is refused the test still passes (writing works) and
// the object left behind is named in a warning log line.
func WithProbeWrite() notify.Option {
	return func(s *settings.Settings) { s.SetExtra(probeWriteKey{}, true) }
}

// New validates c and returns a Notifier. An http:// Endpoint needs
// notify.WithAllowPrivateNetworks (and a private or loopback host).
func New(c Config, opts ...notify.Option) (*Notifier, error) {
	return shell.Build(c, opts, func(s settings.Settings) (*Notifier, error) {
		if c.Endpoint != "" {
			if msg := endpointProblem(c.Endpoint, s.AllowPrivateNetworks); msg != "" {
				return nil, &notify.ValidationError{Fields: []notify.FieldError{{Field: "endpoint", Message: msg}}}
			}
		}
		hc := guard.NewHTTPClient(s)
		o := awss3.Options{
			Region:      c.Region,
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey.Reveal(), ""),
			// The SDK reads error bodies whole: every answer is bounded.
			HTTPClient: &http.Client{Transport: sender.BoundedTransport(hc.Transport), CheckRedirect: hc.CheckRedirect, Timeout: hc.Timeout},
			// notify.Retry is the one retry layer; the SDK's would multiply it.
			Retryer: aws.NopRetryer{},
			// S3-compatible stores reject the default CRC32 trailers
			// (XAmzContentSHA256Mismatch); Content-MD5 covers integrity.
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
			UsePathStyle:               c.PathStyle,
			// The SDK's log could show request details; the library logs itself.
			Logger: logging.Nop{},
			DisableLogOutputChecksumValidationSkipped: true,
		}
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimSuffix(c.Endpoint, "/"))
		}
		o.APIOptions = append(o.APIOptions, awsmiddleware.AddUserAgentKey(s.UserAgent))
		probe, _ := s.Extra(probeWriteKey{})
		n := &Notifier{
			cfg:        c,
			gzip:       c.Compression.Gzip(),
			client:     awss3.New(o),
			httpClient: hc,
			ownsHTTP:   s.HTTPClient == nil,
			errs:       sender.NewErrors(Type, c.SecretAccessKey),
			logger:     s.Logger,
			timeout:    s.Timeout,
			probeWrite: probe == true,
		}
		n.Shell = shell.New(Type, c.Name, c, n.TestReport, n.close)
		n.bucket = objects.Bucket{Prefix: c.Prefix, Gzip: n.gzip, Write: n.putEvents, Errors: n.errs, URL: "s3://" + c.Bucket + "/"}
		return n, nil
	})
}

// close is Close: later calls fail, and the HTTP client the Notifier made
// for itself lets its idle connections go.
func (n *Notifier) close() error {
	return n.closing.Close(func() error {
		if n.ownsHTTP {
			n.httpClient.CloseIdleConnections()
		}
		return nil
	})
}

// Send writes e as one JSON object at <prefix>/YYYY/MM/DD/<event-id>.json
// (.json.gz with gzip). An invalid event is refused before any request.
func (n *Notifier) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	return n.bucket.Send(ctx, e)
}

// SendBatch writes events as one newline-delimited JSON object at
// <prefix>/YYYY/MM/DD/batch-<hash>.ndjson (.ndjson.gz with gzip), dated by
// the earliest event and named by a hash of the sorted event IDs, so a retry
// of the same batch rewrites the same object. Every event's Receipt names
// that object. An invalid event refuses the whole batch before any request;
// an empty batch writes nothing. The object is built in memory (compressed,
// with gzip) before it is sent, since S3 needs its length and checksum first.
func (n *Notifier) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	return n.bucket.SendBatch(ctx, events)
}

// putEvents is the objects.Write of S3: it returns key, since PutObject
// does not echo a name.
func (n *Notifier) putEvents(ctx context.Context, op, key, contentType string, events []notify.Event) (string, error) {
	var body bytes.Buffer
	if err := objects.WriteEvents(&body, events, n.gzip); err != nil {
		return "", n.errs.Errorf(op, notify.ErrRejected, false, "cannot encode the event: %v", err)
	}
	return key, n.put(ctx, op+": PutObject "+key, key, contentType, n.gzip, body.Bytes())
}

// put writes one object. Content-MD5 lets S3 refuse a body damaged on the
// way, and is what Object Lock buckets require.
func (n *Notifier) put(ctx context.Context, op, key, contentType string, gz bool, body []byte) error {
	sum := md5.Sum(body)
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(n.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body), // seekable, so the SDK can sign it over plain http too
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}
	if gz {
		in.ContentEncoding = aws.String(objects.ContentEncodingGzip)
	}
	return n.call(ctx, op, func(ctx context.Context) error {
		_, err := n.client.PutObject(ctx, in)
		return err
	})
}

// call runs one SDK operation under the notifier's timeout, logs it, and
// turns its failure into a *notify.Error.
func (n *Notifier) call(ctx context.Context, op string, do func(context.Context) error) error {
	if err := n.closing.Closed(n.errs, op); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	start := time.Now()
	err := do(ctx)
	if err == nil {
		objects.Log(ctx, n.logger, "s3: request", Type, n.Name(), op, n.cfg.Bucket, start, nil)
		return nil
	}
	e := n.apiError(ctx, op, err)
	objects.Log(ctx, n.logger, "s3: request failed", Type, n.Name(), op, n.cfg.Bucket, start, e)
	return e
}

// The names of TestReport's checks.
const (
	stepBucket    = "bucket reachable"
	stepRegion    = "bucket in region"
	stepWrite     = "objects writable"
	stepCleanup   = "probe object deleted"
	skipHeadProbe = "not asked with WithProbeWrite: the probe write proves the keys and the bucket"
)

// TestReport checks that the keys work and reach the bucket in the
// configured region, and says what each step proved. Read-only (the
// default): the keys reach the bucket (HeadBucket), the bucket is in the
// configured region, and a warning that s3:PutObject is proven only by a
// write. With WithProbeWrite: the probe object is written, then deleted (a
// refused delete is a warning: writing is all Send needs).
func (n *Notifier) TestReport(ctx context.Context) notify.Report {
	var r notify.Report
	if n.probeWrite {
		r.SkipAll(skipHeadProbe, stepBucket, stepRegion)
		n.probe(ctx, &r)
		return r
	}
	out, err := n.headBucket(ctx)
	if !r.Check(stepBucket, err, "the keys reach bucket "+n.cfg.Bucket+n.where()) {
		r.SkipAll("the bucket could not be reached", stepRegion, stepWrite)
		return r
	}
	switch {
	case n.cfg.Endpoint != "":
		r.Skip(stepRegion, "an S3-compatible store does not report a bucket's region")
	case out.BucketRegion != nil && *out.BucketRegion != "" && *out.BucketRegion != n.cfg.Region:
		r.Fail(stepRegion, n.errs.Status("test: HeadBucket", 0, nil, sender.Explanation{Kind: notify.ErrRejected,
			Message: "the bucket answered from another region", Hint: n.regionHint(n.regionName(*out.BucketRegion))}))
	default:
		r.Pass(stepRegion, "the bucket answered in region "+n.cfg.Region)
	}
	r.Warn(stepWrite, "s3:PutObject cannot be proven without writing: the first alert proves it, "+
		"or test with s3.WithProbeWrite() to write and delete a test object")
	return r
}

// headBucket asks for the bucket without reading or writing anything. A
// HEAD answer has no body: when its 400 or 403 says little, a read-only
// ListObjectsV2 (the same permission, no side effect) is asked too, and its
// error, which has a body, is the one returned when it says more (a wrong
// key, a wrong secret, a wrong region or a missing permission).
func (n *Notifier) headBucket(ctx context.Context) (*awss3.HeadBucketOutput, error) {
	var out *awss3.HeadBucketOutput
	err := n.call(ctx, "test: HeadBucket", func(ctx context.Context) error {
		var err error
		out, err = n.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(n.cfg.Bucket)})
		return err
	})
	var head *notify.Error
	if !errors.As(err, &head) || !(head.StatusCode == http.StatusForbidden || head.StatusCode == http.StatusBadRequest && head.Hint == "") {
		return out, err
	}
	listErr := n.call(ctx, "test: ListObjectsV2", func(ctx context.Context) error {
		_, err := n.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(n.cfg.Bucket), MaxKeys: aws.Int32(0)})
		return err
	})
	var list *notify.Error
	if errors.As(listErr, &list) && list.StatusCode != 0 && list.Message != head.Message {
		return nil, list
	}
	return nil, head
}

// probeDirectory holds Test's probe objects, out of the way of the dated
// event objects.
const probeDirectory = ".connection-test"

// probe writes a test object and deletes it, recording both steps in r.
func (n *Notifier) probe(ctx context.Context, r *notify.Report) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	id := "connection-test-" + hex.EncodeToString(rnd[:])
	key := probeDirectory + "/" + id + ".json"
	if n.cfg.Prefix != "" {
		key = n.cfg.Prefix + "/" + key
	}
	// A test event, so that whatever reads the bucket knows what it is.
	ev := notify.Event{ID: id, Type: notify.EventTest, Title: "[TEST] Code Defender connection check",
		Risk: notify.RiskInfo, Time: time.Now().UTC()}
	var body bytes.Buffer
	err := objects.WriteEvents(&body, []notify.Event{ev}, false)
	if err != nil {
		err = n.errs.Errorf("test", notify.ErrRejected, false, "cannot encode the probe: %v", err)
	} else {
		// The probe is small and plain whatever the compression setting.
		err = n.put(ctx, "test: PutObject "+key, key, objects.ContentTypeJSON, false, body.Bytes())
	}
	if !r.Check(stepWrite, err, "a test object was written at "+key) {
		r.Skip(stepCleanup, "nothing was written")
		return
	}
	err = n.call(ctx, "test: DeleteObject "+key, func(ctx context.Context) error {
		_, err := n.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(n.cfg.Bucket), Key: aws.String(key)})
		return err
	})
	var e *notify.Error
	switch {
	case err == nil:
		r.Pass(stepCleanup, "the test object was deleted")
	case errors.As(err, &e) && e.StatusCode == http.StatusForbidden:
		// Writing works, which is all Send needs; a write-only policy is
		// exactly what the probe is for, so a refused delete is no failure.
		r.Warn(stepCleanup, "write OK, cleanup not permitted: delete "+key+" yourself, or grant s3:DeleteObject on it")
	default:
		r.Warn(stepCleanup, "write OK, but the probe object could not be deleted ("+err.Error()+"): delete "+key+" yourself")
	}
}

// The S3 error codes this package explains (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
const (
	codeNoSuchBucket          = "NoSuchBucket"
	codeAccessDenied          = "AccessDenied"
	codeAllAccessDisabled     = "AllAccessDisabled"
	codeInvalidAccessKeyID    = "InvalidAccessKeyId"
	codeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	codeExpiredToken          = "ExpiredToken"
	codeInvalidToken          = "InvalidToken"
	codeRequestTimeTooSkewed  = "RequestTimeTooSkewed"
	codePermanentRedirect     = "PermanentRedirect"
	codeTemporaryRedirect     = "TemporaryRedirect"
	codeAuthHeaderMalformed   = "AuthorizationHeaderMalformed"
	codeIllegalLocation       = "IllegalLocationConstraintException"
	codeSlowDown              = "SlowDown"
	codeRequestTimeout        = "RequestTimeout"
	codeBadDigest             = "BadDigest"
	codeSHA256Mismatch        = "XAmzContentSHA256Mismatch"
	codeInvalidBucketName     = "InvalidBucketName"
	codeNotImplemented        = "NotImplemented"
)

// headerBucketRegion is where S3 names a bucket's real region.
const headerBucketRegion = "X-Amz-Bucket-Region"

// expectingRegion reads the region out of AuthorizationHeaderMalformed's
// message: "the region 'us-east-1' is wrong; expecting 'eu-west-1'".
var expectingRegion = regexp.MustCompile(`expecting '([a-z0-9-]+)'`)

// apiError turns an SDK error into a *notify.Error: the status decides the
// sentinel and retryability (sender.ClassifyStatus), S3's error code refines
// them (CONTRACTS §0, §8), and the hint says what to change. HEAD requests
// carry no error body, so for them only the status speaks.
func (n *Notifier) apiError(ctx context.Context, op string, err error) *notify.Error {
	var re *awshttp.ResponseError
	// A send failure arrives as a ResponseError too, with status 0.
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil || re.HTTPStatusCode() == 0 {
		return n.errs.Network(ctx, op, err)
	}
	status := re.HTTPStatusCode()
	header := re.Response.Header
	var code, msg string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	x := sender.Explanation{Message: http.StatusText(status)}
	switch {
	case code != "" && msg != "":
		x.Message = code + ": " + msg
	case code != "":
		x.Message = code
	}
	region := n.regionName(header.Get(headerBucketRegion))
	if region == "" {
		if m := expectingRegion.FindStringSubmatch(msg); m != nil {
			region = n.regionName(m[1])
		}
	}
	bucket := n.cfg.Bucket
	switch {
	case code == codeInvalidAccessKeyID:
		x.Kind, x.Retryable = notify.ErrUnauthorized, false
		x.Hint = fmt.Sprintf("the store does not know access key ID %s: check access_key_id (deleted or deactivated key?)", n.cfg.AccessKeyID)
	case code == codeSignatureDoesNotMatch:
		x.Kind, x.Retryable = notify.ErrUnauthorized, false
		x.Hint = "the secret access key does not belong to access key ID " + n.cfg.AccessKeyID + ": check secret_access_key"
	case code == codeExpiredToken, code == codeInvalidToken:
		x.Kind, x.Retryable = notify.ErrUnauthorized, false
		x.Hint = "the credentials have expired or are not valid: use a long-term access key"
	case code == codeRequestTimeTooSkewed:
		// The SDK corrects its clock offset from this very answer, so the
		// next attempt is signed with S3's time and can succeed.
		x.Kind, x.Retryable = notify.ErrRejected, true
		x.Hint = "this machine's clock is more than 15 minutes off S3's: synchronise it (NTP)"
	case code == codePermanentRedirect, code == codeAuthHeaderMalformed && region != "",
		code == codeIllegalLocation, status == http.StatusMovedPermanently,
		status == http.StatusBadRequest && region != "" && region != n.cfg.Region && n.cfg.Endpoint == "":
		x.Kind, x.Retryable = notify.ErrRejected, false
		x.Hint = n.regionHint(region)
	case code == codeTemporaryRedirect, status == http.StatusTemporaryRedirect:
		// S3 redirects to a new bucket's region until its DNS name has
		// propagated; it settles by itself.
		x.Kind, x.Retryable = notify.ErrUnavailable, true
		x.Hint = "the bucket is new and S3 is still redirecting: retry shortly, or set region to the bucket's region"
	case code == codeNoSuchBucket, status == http.StatusNotFound:
		x.Kind, x.Retryable = notify.ErrNotFound, false
		x.Hint = fmt.Sprintf("bucket %q does not exist%s: check bucket", bucket, n.where())
	case code == codeAccessDenied, code == codeAllAccessDisabled, status == http.StatusForbidden:
		x.Kind, x.Retryable = notify.ErrForbidden, false
		x.Hint = n.permissionHint(op)
	case code == codeSlowDown:
		x.Kind, x.Retryable = notify.ErrRateLimited, true
		x.Hint = "S3 asks to slow down: retry later, or send fewer, larger batches"
	case code == codeRequestTimeout, code == codeBadDigest:
		// The upload stalled or arrived damaged: sending it again works.
		x.Kind, x.Retryable = notify.ErrUnavailable, true
	case code == codeSHA256Mismatch:
		x.Kind, x.Retryable = notify.ErrRejected, false
		x.Hint = "the store does not accept the request's payload signature: is endpoint an S3-compatible store that supports SigV4?"
	case code == codeInvalidBucketName:
		x.Kind, x.Retryable = notify.ErrRejected, false
		x.Hint = "the store refuses the bucket name: check bucket"
	case code == codeNotImplemented, status == http.StatusNotImplemented:
		x.Kind, x.Retryable = notify.ErrRejected, false
		x.Hint = "the store does not implement this request"
	case status >= 300 && status < 400:
		x.Kind, x.Retryable = notify.ErrRejected, false
		x.Hint = "redirect not followed: check endpoint, path_style and region"
	}
	return n.errs.Status(op, status, header, x)
}

// regionName returns v when it is a region name this integration could be
// configured with, else "": the region S3 names (the X-Amz-Bucket-Region
// header, an error message) is server data that reaches a hint, so only a
// well-formed name, bounded like one, is ever repeated.
func (n *Notifier) regionName(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case len(v) > maxRegionLength:
		return ""
	case awsRegion.MatchString(v), n.cfg.Endpoint != "" && compatRegion.MatchString(v):
		return v
	}
	return ""
}

// regionHint says which region to configure, when S3 said.
func (n *Notifier) regionHint(region string) string {
	if region != "" && region != n.cfg.Region {
		return fmt.Sprintf("the bucket is in region %s, not %s: set region to %s", region, n.cfg.Region, region)
	}
	return fmt.Sprintf("the bucket is not in region %s (or the endpoint or path_style is wrong): set region to the bucket's region", n.cfg.Region)
}

// permissionHint says which permission a 403 is about.
func (n *Notifier) permissionHint(op string) string {
	objects := n.cfg.Bucket + "/*"
	if n.cfg.Prefix != "" {
		objects = n.cfg.Bucket + "/" + n.cfg.Prefix + "/*"
	}
	switch {
	case strings.Contains(op, "HeadBucket"):
		// A HEAD answer has no body: a bad key pair and a missing
		// permission look the same.
		return "the access key and secret are wrong, or lack s3:ListBucket on " + n.cfg.Bucket +
			"; a policy that only allows s3:PutObject can be tested with s3.WithProbeWrite()"
	case strings.Contains(op, "ListObjectsV2"):
		return "the key lacks s3:ListBucket on " + n.cfg.Bucket +
			"; a policy that only allows s3:PutObject can be tested with s3.WithProbeWrite()"
	case strings.Contains(op, "DeleteObject"):
		return "the key lacks s3:DeleteObject on " + objects
	default:
		return "the key lacks s3:PutObject on " + objects +
			" (or a bucket policy, an SCP or the bucket's KMS key denies it)"
	}
}

// where names an S3-compatible store for messages.
func (n *Notifier) where() string {
	if n.cfg.Endpoint != "" {
		return " at " + n.cfg.Endpoint
	}
	return ""
}
