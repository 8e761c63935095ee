package playground

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"google.golang.org/api/option"
)

// s3Store is gofakes3 on an in-memory backend, behind a check of the
// access key ID and region that gofakes3 does not make.
type s3Store struct {
	backend *s3mem.Backend
	srv     *httptest.Server
	keyID   string
	region  string
}

func startS3(keyID, region, bucket string) (*s3Store, error) {
	st := &s3Store{backend: s3mem.New(), keyID: keyID, region: region}
	if err := st.backend.CreateBucket(bucket); err != nil {
		return nil, err
	}
	fake := gofakes3.New(st.backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	st.srv = httptest.NewServer(st.checkCredential(fake.Server())) // 127.0.0.1: loopback only
	return st, nil
}

// host is the store's host:port, the endpoint's authority.
func (st *s3Store) host() string { return strings.TrimPrefix(st.srv.URL, "http://") }

// sigV4Credential picks the key ID and region out of a SigV4 Authorization
// header: Credential=<key id>/<date>/<region>/s3/aws4_request.
var sigV4Credential = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request,`)

// checkCredential refuses a request without the store's key ID, as S3
// does (403 InvalidAccessKeyId), and one signed for another region with the
// 301 naming the bucket's region that S3 answers. It does not verify the
// signature itself.
func (st *s3Store) checkCredential(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := sigV4Credential.FindStringSubmatch(r.Header.Get("Authorization"))
		switch {
		case m == nil:
			writeS3Error(w, r, http.StatusForbidden, "AccessDenied", "Anonymous access is forbidden")
		case m[1] != st.keyID:
			writeS3Error(w, r, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		case m[2] != st.region:
			w.Header().Set("X-Amz-Bucket-Region", st.region)
			writeS3Error(w, r, http.StatusMovedPermanently, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeS3Error answers in S3's XML error shape (no body to a HEAD).
func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: message})
}

func (st *s3Store) keys(bucket string) ([]string, error) {
	list, err := st.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list.Contents {
		out = append(out, c.Key)
	}
	return out, nil
}

func (st *s3Store) close() { st.srv.Close() }

// gcsStore is fake-gcs-server served by the playground's own loopback
// server, which adds the testPermissions call the emulator lacks, and a
// storage client pointed at it.
type gcsStore struct {
	fake      *fakestorage.Server
	srv       *httptest.Server
	transport *http.Transport
	client    *storage.Client
}

func startGCS(bucket string) (_ *gcsStore, err error) {
	// NoListener: the emulator's handler is served below, behind the
	// testPermissions route.
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", NoListener: true})
	if err != nil {
		return nil, err
	}
	g := &gcsStore{fake: fake}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	g.srv = httptest.NewServer(g.withTestPermissions(fake.HTTPHandler())) // 127.0.0.1: loopback only

	// A transport of its own, closed by close, so that no connection
	// outlives the playground. No authentication: the emulator has none,
	// and without this option the client would look for default
	// credentials on the machine.
	g.transport = &http.Transport{Proxy: nil}
	g.client, err = storage.NewClient(context.Background(),
		option.WithEndpoint(g.srv.URL+"/storage/v1/"),
		option.WithHTTPClient(&http.Client{Transport: g.transport}),
		option.WithoutAuthentication())
	if err != nil {
		return nil, err
	}
	return g, nil
}

// testPermissionsPath matches the JSON API's buckets.testIamPermissions:
// GET /storage/v1/b/{bucket}/iam/testPermissions?permissions=….
var testPermissionsPath = regexp.MustCompile(`^/storage/v1/b/([^/]+)/iam/testPermissions$`)

// withTestPermissions answers buckets.testIamPermissions as GCS does for an
// account that holds every permission asked about: the emulator has no IAM.
// A bucket that does not exist gets GCS's 404.
func (g *gcsStore) withTestPermissions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := testPermissionsPath.FindStringSubmatch(r.URL.Path)
		if m == nil || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if _, err := g.fake.Backend().GetBucket(m[1]); err != nil {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": http.StatusNotFound,
				"message": "The specified bucket does not exist.",
				"errors":  []map[string]string{{"reason": "notFound", "message": "The specified bucket does not exist."}}}})
			return
		}
		perms := r.URL.Query()["permissions"]
		if perms == nil {
			perms = []string{}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "storage#testIamPermissionsResponse", "permissions": perms})
	})
}

func (g *gcsStore) names(bucket string) ([]string, error) {
	objs, _, err := g.fake.ListObjectsWithOptions(bucket, fakestorage.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bucket, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out, nil
}

func (g *gcsStore) close() {
	if g.client != nil {
		_ = g.client.Close()
	}
	if g.transport != nil {
		g.transport.CloseIdleConnections()
	}
	if g.srv != nil {
		g.srv.Close()
	}
	g.fake.Stop()
}
