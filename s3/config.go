package s3

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/objects"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for an S3 bucket.
const Type = "s3"

// Config is an S3 integration as the console stores it.
type Config struct {
	Name string `json:"name"`
	// AccessKeyID and SecretAccessKey are an IAM user's long-term key pair
	// (or an S3-compatible store's). They are the only credentials used:
	// nothing is read from the environment or shared config files.
	AccessKeyID     string        `json:"access_key_id"`
	SecretAccessKey notify.Secret `json:"secret_access_key"`
	// Region is the bucket's region, such as eu-west-1 (R2 uses "auto").
	Region string `json:"region"`
	Bucket string `json:"bucket"`
	// Prefix is prepended to every object key, without leading or trailing
	// slash: "alerts" gives alerts/2026/01/02/<event-id>.json.
	Prefix string `json:"prefix,omitempty"`
	// Compression is "none" (or empty) or "gzip".
	Compression Compression `json:"compression,omitempty"`
	// Endpoint is the base URL of an S3-compatible store (MinIO, Ceph, R2,
	// ...), such as https://minio.example.com:9000; empty for AWS.
	Endpoint string `json:"endpoint,omitempty"`
	// PathStyle addresses the bucket as https://host/bucket/key instead of
	// https://bucket.host/key; most S3-compatible stores need it.
	PathStyle bool `json:"path_style,omitempty"`
}

// Compression says how event objects are stored; the storage
// destinations share it.
type Compression = objects.Compression

// The compressions the console offers; the empty string means none.
const CompressionNone, CompressionGzip = objects.CompressionNone, objects.CompressionGzip

// Limits, with their sources.
const (
	// S3 bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
	minBucketLength = 3
	maxBucketLength = 63
	// IAM AccessKeyMetadata.AccessKeyId: 16-128 characters.
	minAccessKeyIDLength = 16
	maxAccessKeyIDLength = 128
	// S3-compatible stores accept shorter ids (MinIO: at least 3).
	minCompatAccessKeyIDLength = 3
	// maxRegionLength is one DNS label, the most a region name can be
	// (compatRegion); AWS's are far shorter.
	maxRegionLength = 63
)

var (
	// awsRegion is the shape of every AWS region name, partitions included
	// (us-east-1, us-gov-west-1, us-isob-east-1, cn-north-1).
	awsRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$`)
	// compatRegion is what an S3-compatible store may use: any DNS label
	// ("auto" for R2, "garage", "us-east-1"), because it is signed into
	// every request and the SDK refuses anything else.
	compatRegion = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	awsKeyID     = regexp.MustCompile(`^[A-Z0-9]+$`)
	bucketChars  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
)

// Reserved bucket name prefixes and suffixes (S3 bucket naming rules).
var (
	reservedBucketPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedBucketSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// Validate checks every field offline and reports all bad ones at once. An
// http:// endpoint passes here unless its host is a public IP address; New
// then also requires notify.WithAllowPrivateNetworks, and the default client
// refuses plain http:// to a host name that resolves to a public address.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	aws := c.Endpoint == ""
	checkAccessKeyID(&errs, c.AccessKeyID, aws)
	if errs.CheckSecret("secret_access_key", c.SecretAccessKey, true) {
		if strings.ContainsAny(c.SecretAccessKey.Reveal(), " \t") {
			errs.Add("secret_access_key", "must not contain spaces")
		}
	}
	checkRegion(&errs, c.Region, aws)
	if msg := bucketProblem(c.Bucket); msg != "" {
		errs.Add("bucket", msg)
	}
	if msg := objects.PrefixProblem(c.Prefix); msg != "" {
		errs.Add("prefix", msg)
	}
	if msg := c.Compression.Problem(); msg != "" {
		errs.Add("compression", msg)
	}
	if c.Endpoint != "" {
		if msg := endpointProblem(c.Endpoint, true); msg != "" {
			errs.Add("endpoint", msg)
		}
	}
	return errs.Err()
}

func checkAccessKeyID(errs *validate.Errors, id string, aws bool) {
	switch n := len(id); {
	case strings.TrimSpace(id) == "":
		errs.Add("access_key_id", "is required")
	case text.HasControl(id) || strings.ContainsAny(id, " \t"):
		errs.Add("access_key_id", "must not contain spaces or control characters")
	case n > maxAccessKeyIDLength:
		errs.Addf("access_key_id", "must be at most %d characters", maxAccessKeyIDLength)
	case !aws && n < minCompatAccessKeyIDLength:
		errs.Addf("access_key_id", "must be at least %d characters", minCompatAccessKeyIDLength)
	case aws && (n < minAccessKeyIDLength || !awsKeyID.MatchString(id)):
		errs.Add("access_key_id", "is not an AWS access key ID (upper-case letters and digits, usually 20, starting AKIA)")
	case aws && strings.HasPrefix(id, "ASIA"):
		// Temporary keys need a session token, which the console does not
		// take, and they expire within hours anyway.
		errs.Add("access_key_id", "is a temporary (ASIA…) key, which needs a session token: create a long-term access key (AKIA…) for an IAM user")
	}
}

func checkRegion(errs *validate.Errors, region string, aws bool) {
	switch {
	case region == "":
		errs.Add("region", "is required (the bucket's region, such as eu-west-1)")
	case aws && !awsRegion.MatchString(region):
		errs.Add("region", "is not an AWS region name (such as us-east-1 or eu-west-1)")
	case !aws && !compatRegion.MatchString(region):
		errs.Add("region", "must be letters, digits and '-', at most 63 characters (such as us-east-1, or auto for R2)")
	}
}

// bucketProblem returns what is wrong with an S3 bucket name, or "".
func bucketProblem(b string) string {
	switch {
	case b == "":
		return "is required"
	case len(b) < minBucketLength || len(b) > maxBucketLength:
		return "must be 3 to 63 characters"
	case !bucketChars.MatchString(b):
		return "may hold only lower-case letters, digits, '.' and '-', and must begin and end with a letter or digit"
	case strings.Contains(b, ".."):
		return "must not contain two adjacent periods"
	}
	if _, err := netip.ParseAddr(b); err == nil {
		return "must not be formatted as an IP address"
	}
	for _, p := range reservedBucketPrefixes {
		if strings.HasPrefix(b, p) {
			return "must not start with the reserved prefix " + p
		}
	}
	for _, s := range reservedBucketSuffixes {
		if strings.HasSuffix(b, s) {
			return "must not end with the reserved suffix " + s
		}
	}
	return ""
}

// endpointProblem returns what is wrong with an S3-compatible endpoint, or
// "". It allows plain http:// only when allowPrivate is set, and never to a
// public IP address (guard.CheckURL).
func endpointProblem(raw string, allowPrivate bool) string {
	u, err := guard.CheckURL(raw, allowPrivate)
	if err != nil {
		return err.Error()
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "must be the store's base URL only, such as https://minio.example.com:9000 (the bucket goes in bucket)"
	}
	return ""
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
