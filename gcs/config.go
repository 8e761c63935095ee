package gcs

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"

	"github.com/codedefender/integrations/internal/objects"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for a Google Cloud Storage bucket.
const Type = "gcs"

// Config is a GCS integration as the console stores it.
type Config struct {
	Name   string `json:"name"`
	Bucket string `json:"bucket"`
	// ServiceAccountJSON is the service account's key file, its JSON as a
	// string (what the console's upload gives). It is the only credential
	// used: nothing is read from the environment, gcloud's files or the
	// metadata server.
	ServiceAccountJSON notify.Secret `json:"service_account_json"`
	// Prefix is prepended to every object name, without leading or
	// trailing slash: "alerts" gives alerts/2026/01/02/<event-id>.json.
	Prefix string `json:"prefix,omitempty"`
	// Compression is "none" (or empty) or "gzip".
	Compression Compression `json:"compression,omitempty"`
}

// Compression says how event objects are stored; the storage
// destinations share it.
type Compression = objects.Compression

// The compressions the console offers; the empty string means none.
const CompressionNone, CompressionGzip = objects.CompressionNone, objects.CompressionGzip

// Limits and fixed values, with their sources.
const (
	// GCS bucket naming (cloud.google.com/storage/docs/buckets#naming): 3-63
	// characters, or up to 222 with dots, each dot-separated part at most 63.
	minBucketLength       = 3
	maxBucketLength       = 63
	maxDottedBucketLength = 222
	maxBucketPartLength   = 63
	// maxServiceAccountJSONBytes bounds the key file; a real one is about
	// 2.4 KiB.
	maxServiceAccountJSONBytes = 64 << 10

	// serviceAccountType is the only credential type accepted: the others
	// (external_account, impersonated_service_account, authorized_user) make
	// the auth library fetch URLs taken from the file itself.
	serviceAccountType = "service_account"
	// googleTokenURI is where a service account's signed assertion is
	// exchanged for a token; any other token_uri would receive it (SSRF).
	googleTokenURI = "https://oauth2.googleapis.com/token"
	// googleUniverse is the public Google Cloud; other universes need their
	// own endpoints, which this integration does not take.
	googleUniverse = "googleapis.com"
)

var (
	bucketChars = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*[a-z0-9]$`)
	// googleLike are "google" and the close misspellings GCS refuses.
	googleLike = []string{"google", "g00gle", "go0gle", "g0ogle"}
)

// serviceAccountKey is the part of a key file this package reads. Other
// fields (project_id, client_id, auth_uri, ...) are allowed and ignored.
type serviceAccountKey struct {
	Type           string `json:"type"`
	ClientEmail    string `json:"client_email"`
	PrivateKey     string `json:"private_key"`
	PrivateKeyID   string `json:"private_key_id"`
	TokenURI       string `json:"token_uri"`
	UniverseDomain string `json:"universe_domain"`
}

// Validate checks every field offline and reports all bad ones at once.
// Problems inside the key file are named like service_account_json.token_uri;
// no message repeats any part of the key.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	if msg := bucketProblem(c.Bucket); msg != "" {
		errs.Add("bucket", msg)
	}
	checkServiceAccount(&errs, c.ServiceAccountJSON)
	if msg := objects.PrefixProblem(c.Prefix); msg != "" {
		errs.Add("prefix", msg)
	}
	if msg := c.Compression.Problem(); msg != "" {
		errs.Add("compression", msg)
	}
	return errs.Err()
}

const saField = "service_account_json"

// checkServiceAccount records what is wrong with the key file. It does not
// use FieldErrors.CheckSecret, whose refusal of line breaks would refuse
// every key file as Google writes it (pretty-printed JSON).
func checkServiceAccount(errs *validate.Errors, s notify.Secret) {
	switch {
	case s.IsZero():
		errs.Add(saField, "is required: paste the service account's JSON key file")
		return
	case s.IsMasked():
		errs.Add(saField, "holds the "+notify.Redacted+" mask, not a key: upload the key file again")
		return
	case len(s.Reveal()) > maxServiceAccountJSONBytes:
		errs.Addf(saField, "is larger than %d bytes: is it a service account key file?", maxServiceAccountJSONBytes)
		return
	}
	key, err := parseServiceAccount(s.Reveal())
	if err != nil {
		errs.Add(saField, err.Error())
		return
	}
	switch key.Type {
	case serviceAccountType:
	case "":
		errs.Add(saField+".type", `is missing: the key file of a service account has "type": "service_account"`)
	default:
		errs.Addf(saField+".type", `must be "service_account", not %q: only a service account's JSON key is accepted (other credential files make the client fetch URLs named in them)`,
			text.Truncate(key.Type, 40))
	}
	if key.ClientEmail == "" {
		errs.Add(saField+".client_email", "is missing")
	} else if a, err := mail.ParseAddress(key.ClientEmail); err != nil || a.Address != key.ClientEmail || a.Name != "" {
		errs.Add(saField+".client_email", "is not an email address such as name@project.iam.gserviceaccount.com")
	}
	if key.PrivateKeyID == "" {
		errs.Add(saField+".private_key_id", "is missing")
	} else if _, err := hex.DecodeString(key.PrivateKeyID); err != nil {
		errs.Add(saField+".private_key_id", "must be hexadecimal")
	}
	if msg := privateKeyProblem(key.PrivateKey); msg != "" {
		errs.Add(saField+".private_key", msg)
	}
	if key.TokenURI != "" && key.TokenURI != googleTokenURI {
		// Not echoed: whoever crafted it learns nothing from the console.
		errs.Add(saField+".token_uri", "must be "+googleTokenURI+" (or absent): a key that sends its signed assertion elsewhere is refused")
	}
	if key.UniverseDomain != "" && key.UniverseDomain != googleUniverse {
		errs.Add(saField+".universe_domain", "must be "+googleUniverse+" (or absent): other universes are not supported")
	}
}

// parseServiceAccount decodes the key file. Its errors never quote the
// input.
func parseServiceAccount(raw string) (serviceAccountKey, error) {
	var key serviceAccountKey
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&key); err != nil {
		var (
			syntaxErr *json.SyntaxError
			typeErr   *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &syntaxErr):
			return key, fmt.Errorf("is not valid JSON (at byte %d): paste the key file as downloaded", syntaxErr.Offset)
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return key, fmt.Errorf("field %s must be a JSON string", typeErr.Field)
		case errors.As(err, &typeErr):
			return key, errors.New("must be a JSON object (the key file), not a list or a value")
		default:
			return key, errors.New("is not a complete JSON object: paste the whole key file")
		}
	}
	if dec.More() {
		return key, errors.New("has data after the JSON object: paste one key file")
	}
	return key, nil
}

// privateKeyProblem says what is wrong with the private_key PEM, or "". It
// accepts what Google issues: an unencrypted RSA key, PKCS#8 or PKCS#1.
func privateKeyProblem(p string) string {
	if p == "" {
		return "is missing"
	}
	block, rest := pem.Decode([]byte(p))
	switch {
	case block == nil:
		return "is not a PEM block (-----BEGIN PRIVATE KEY-----)"
	case len(bytes.TrimSpace(rest)) != 0:
		return "must hold one PEM block only"
	case len(block.Headers) != 0 || strings.Contains(block.Type, "ENCRYPTED"):
		return "is encrypted: use the key file as Google issues it"
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return "does not parse as a PKCS#8 private key"
		}
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return "is not an RSA key: service account keys are RSA"
		}
	case "RSA PRIVATE KEY":
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return "does not parse as a PKCS#1 RSA private key"
		}
	default:
		return fmt.Sprintf("is a PEM %q block, not a private key", text.Truncate(block.Type, 40))
	}
	return ""
}

// bucketProblem returns what is wrong with a GCS bucket name, or "".
func bucketProblem(b string) string {
	switch {
	case b == "":
		return "is required"
	case len(b) < minBucketLength:
		return "must be at least 3 characters"
	case !bucketChars.MatchString(b):
		return "may hold only lower-case letters, digits, '-', '_' and '.', and must begin and end with a letter or digit"
	case !strings.Contains(b, ".") && len(b) > maxBucketLength:
		return "must be at most 63 characters (222 when it holds dots)"
	case len(b) > maxDottedBucketLength:
		return "must be at most 222 characters"
	case strings.HasPrefix(b, "goog"):
		return `must not start with "goog"`
	}
	for _, part := range strings.Split(b, ".") {
		switch {
		case part == "":
			return "must not contain two adjacent dots"
		case len(part) > maxBucketPartLength:
			return "each dot-separated part must be at most 63 characters"
		}
	}
	if ip, err := netip.ParseAddr(b); err == nil && ip.Is4() {
		return "must not be an IP address"
	}
	for _, g := range googleLike {
		if strings.Contains(b, g) {
			return `must not contain "google" or a close misspelling`
		}
	}
	return ""
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
