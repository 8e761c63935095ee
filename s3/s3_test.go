package s3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/s3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = notify.Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	testBucket = "cd-alerts"
	testRegion = "eu-west-1"
	// awsBase is where the SDK sends virtual-hosted requests for the
	// fixture's bucket and region.
	awsBase = "https://cd-alerts.s3.eu-west-1.amazonaws.com"
)

func validConfig() s3.Config {
	return s3.Config{
		Name:            "SOC archive",
		AccessKeyID:     testKeyID,
		SecretAccessKey: testSecret,
		Region:          testRegion,
		Bucket:          testBucket,
		Prefix:          "alerts",
	}
}

func testEvent() notify.Event {
	return notify.Event{
		ID:          "evt-123",
		Type:        notify.EventIncident,
		Title:       "New script <injected> on checkout & cart",
		Description: "A script from cdn.example.net appeared.",
		Risk:        notify.RiskHigh,
		Time:        time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("CET", 3600)),
		URL:         "https://console.example.com/incidents/123",
		Source:      "shop.example.com",
		Tags:        []string{"pci"},
		Details:     map[string]string{"script": "https://cdn.example.net/x.js"},
	}
}

// eventJSON is the Event as JSON, as the bucket should hold it.
func eventJSON(t *testing.T, e notify.Event) string {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return string(b)
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// recorded is one request a mock saw, with its body.
type recorded struct {
	req  *http.Request
	body []byte
}

// mock routes every request to answer and records it.
type mock struct {
	t      *testing.T
	mt     *httpmock.MockTransport
	mu     sync.Mutex
	seen   []recorded
	answer func(r *http.Request) *http.Response
}

func newMock(t *testing.T, answer func(r *http.Request) *http.Response) *mock {
	m := &mock{t: t, mt: httpmock.NewMockTransport(), answer: answer}
	m.mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			body = b
		}
		m.mu.Lock()
		m.seen = append(m.seen, recorded{req: r, body: body})
		m.mu.Unlock()
		return m.answer(r), nil
	})
	return m
}

func (m *mock) client() notify.Option {
	return notify.WithHTTPClient(&http.Client{Transport: m.mt})
}

func (m *mock) requests() []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]recorded(nil), m.seen...)
}

func ok(r *http.Request) *http.Response {
	resp := httpmock.NewStringResponse(http.StatusOK, "")
	resp.Header.Set("ETag", `"0123"`)
	return resp
}

// s3Error is an S3 error answer; HEAD answers carry no body, as S3's.
func s3Error(status int, code, message string, header ...string) func(*http.Request) *http.Response {
	return func(r *http.Request) *http.Response {
		body := ""
		if r.Method != http.MethodHead {
			body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>R1</RequestId><HostId>H1</HostId></Error>`, code, message)
		}
		resp := httpmock.NewStringResponse(status, body)
		resp.Header.Set("Content-Type", "application/xml")
		for i := 0; i+1 < len(header); i += 2 {
			resp.Header.Set(header[i], header[i+1])
		}
		return resp
	}
}

func TestValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate())

	compat := validConfig()
	compat.Endpoint = "https://minio.example.com:9000"
	compat.AccessKeyID = "minio-user"
	compat.Region = "auto"
	compat.PathStyle = true
	compat.Compression = s3.CompressionGzip
	require.NoError(t, compat.Validate())

	local := compat
	local.Endpoint = "http://127.0.0.1:9000/"
	require.NoError(t, local.Validate(), "a private http endpoint passes Validate; New wants the option")
	local.Endpoint = "http://minio.internal:9000"
	require.NoError(t, local.Validate(), "a host name over http is checked where it resolves, at dial time")

	tests := []struct {
		testkit.ValidateCase[s3.Config]
		want string // a phrase the field's message holds
	}{
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "no name", Config: with(func(c *s3.Config) { c.Name = "" }), Fields: []string{"name"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "no key id", Config: with(func(c *s3.Config) { c.AccessKeyID = "" }), Fields: []string{"access_key_id"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "lower-case key id", Config: with(func(c *s3.Config) { c.AccessKeyID = "akiaiosfodnn7example" }), Fields: []string{"access_key_id"}}, want: "AWS access key ID"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "short key id", Config: with(func(c *s3.Config) { c.AccessKeyID = "AKIA1" }), Fields: []string{"access_key_id"}}, want: "AWS access key ID"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "temporary key", Config: with(func(c *s3.Config) { c.AccessKeyID = "ASIAIOSFODNN7EXAMPLE" }), Fields: []string{"access_key_id"}}, want: "session token"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "key id with space", Config: with(func(c *s3.Config) { c.AccessKeyID = "AKIA IOSFODNN7EXAMPLE" }), Fields: []string{"access_key_id"}}, want: "spaces"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "no secret", Config: with(func(c *s3.Config) { c.SecretAccessKey = "" }), Fields: []string{"secret_access_key"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "masked secret", Config: with(func(c *s3.Config) { c.SecretAccessKey = notify.Redacted }), Fields: []string{"secret_access_key"}}, want: "mask"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "secret with newline", Config: with(func(c *s3.Config) { c.SecretAccessKey = "abc\ndef" }), Fields: []string{"secret_access_key"}}, want: "line breaks"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "no region", Config: with(func(c *s3.Config) { c.Region = "" }), Fields: []string{"region"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "bad region", Config: with(func(c *s3.Config) { c.Region = "Europe" }), Fields: []string{"region"}}, want: "AWS region"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "auto is not AWS", Config: with(func(c *s3.Config) { c.Region = "auto" }), Fields: []string{"region"}}, want: "AWS region"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "no bucket", Config: with(func(c *s3.Config) { c.Bucket = "" }), Fields: []string{"bucket"}, Schema: true}, want: "required"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "short bucket", Config: with(func(c *s3.Config) { c.Bucket = "ab" }), Fields: []string{"bucket"}, Schema: true}, want: "3 to 63"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "upper-case bucket", Config: with(func(c *s3.Config) { c.Bucket = "CD-Alerts" }), Fields: []string{"bucket"}, Schema: true}, want: "lower-case"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "bucket ends with dash", Config: with(func(c *s3.Config) { c.Bucket = "alerts-" }), Fields: []string{"bucket"}}, want: "begin and end"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "bucket with ..", Config: with(func(c *s3.Config) { c.Bucket = "a..b" }), Fields: []string{"bucket"}}, want: "adjacent"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "IP bucket", Config: with(func(c *s3.Config) { c.Bucket = "192.168.5.4" }), Fields: []string{"bucket"}}, want: "IP address"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "reserved prefix", Config: with(func(c *s3.Config) { c.Bucket = "xn--alerts" }), Fields: []string{"bucket"}}, want: "xn--"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "reserved suffix", Config: with(func(c *s3.Config) { c.Bucket = "alerts-s3alias" }), Fields: []string{"bucket"}}, want: "-s3alias"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "directory bucket", Config: with(func(c *s3.Config) { c.Bucket = "alerts--use1-az4--x-s3" }), Fields: []string{"bucket"}}, want: "--x-s3"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "prefix with leading slash", Config: with(func(c *s3.Config) { c.Prefix = "/alerts" }), Fields: []string{"prefix"}}, want: "start or end"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "prefix with trailing slash", Config: with(func(c *s3.Config) { c.Prefix = "alerts/" }), Fields: []string{"prefix"}}, want: "start or end"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "prefix with //", Config: with(func(c *s3.Config) { c.Prefix = "a//b" }), Fields: []string{"prefix"}}, want: "//"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "prefix with ..", Config: with(func(c *s3.Config) { c.Prefix = "a/../b" }), Fields: []string{"prefix"}}, want: ".."},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "prefix with space", Config: with(func(c *s3.Config) { c.Prefix = "my alerts" }), Fields: []string{"prefix"}}, want: "letters, digits"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "long prefix", Config: with(func(c *s3.Config) { c.Prefix = strings.Repeat("a", 513) }), Fields: []string{"prefix"}, Schema: true}, want: "512"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "bad compression", Config: with(func(c *s3.Config) { c.Compression = "zstd" }), Fields: []string{"compression"}, Schema: true}, want: "gzip"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "endpoint ftp", Config: with(func(c *s3.Config) { c.Endpoint = "ftp://minio.example.com" }), Fields: []string{"endpoint"}}, want: "https"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "endpoint public http", Config: with(func(c *s3.Config) { c.Endpoint = "http://203.0.113.7:9000" }), Fields: []string{"endpoint"}}, want: "https"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "endpoint with path", Config: with(func(c *s3.Config) { c.Endpoint = "https://minio.example.com/cd-alerts" }), Fields: []string{"endpoint"}}, want: "base URL"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "endpoint with user", Config: with(func(c *s3.Config) { c.Endpoint = "https://u:p@minio.example.com" }), Fields: []string{"endpoint"}}, want: "user name"},
		{ValidateCase: testkit.ValidateCase[s3.Config]{Name: "endpoint not a URL", Config: with(func(c *s3.Config) { c.Endpoint = "minio" }), Fields: []string{"endpoint"}}, want: "absolute"},
	}
	cases := make([]testkit.ValidateCase[s3.Config], len(tests))
	for i, tt := range tests {
		cases[i] = tt.ValidateCase
	}
	testkit.RunValidate(t, cases, func(c s3.Config) []notify.Secret { return testkit.Unmasked(testSecret, c.SecretAccessKey) })
	for _, tt := range tests {
		t.Run(tt.Name+": message", func(t *testing.T) {
			var ve *notify.ValidationError
			require.ErrorAs(t, tt.Config.Validate(), &ve)
			require.Contains(t, ve.Fields[0].Message, tt.want)
		})
	}

	t.Run("every bad field at once", func(t *testing.T) {
		err := s3.Config{Compression: "lz4"}.Validate()
		var ve *notify.ValidationError
		require.ErrorAs(t, err, &ve)
		for _, f := range []string{"name", "access_key_id", "secret_access_key", "region", "bucket", "compression"} {
			require.True(t, ve.Has(f), "missing %s in %v", f, err)
		}
	})
	t.Run("compatible stores take other key ids and regions", func(t *testing.T) {
		c := compat
		c.Region = "bad region"
		c.AccessKeyID = "ab"
		var ve *notify.ValidationError
		require.ErrorAs(t, c.Validate(), &ve)
		require.True(t, ve.Has("region"))
		require.True(t, ve.Has("access_key_id"))
	})
}

func TestNewEndpointPolicy(t *testing.T) {
	c := validConfig()
	c.Endpoint = "http://127.0.0.1:9000"
	c.PathStyle = true

	_, err := s3.New(c)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve, "plain http needs WithAllowPrivateNetworks")
	require.True(t, ve.Has("endpoint"))
	require.Contains(t, err.Error(), "WithAllowPrivateNetworks")

	n, err := s3.New(c, notify.WithAllowPrivateNetworks())
	require.NoError(t, err)
	require.NoError(t, n.Close())

	c.Endpoint = "http://203.0.113.7:9000"
	_, err = s3.New(c, notify.WithAllowPrivateNetworks())
	require.ErrorAs(t, err, &ve, "plain http to a public address is never allowed")
	require.True(t, ve.Has("endpoint"))

	bad := validConfig()
	bad.Bucket = ""
	_, err = s3.New(bad)
	require.ErrorAs(t, err, &ve, "New validates first")
}

func TestNothingPrintsTheSecret(t *testing.T) {
	c := validConfig()
	n, err := s3.New(c)
	require.NoError(t, err)
	defer n.Close()
	for _, v := range []any{c, &c, n} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			notifytest.AssertNoSecret(t, fmt.Sprintf(verb, v), testSecret)
		}
	}
	require.Equal(t, `s3("SOC archive")`, fmt.Sprint(n))
	b, err := json.Marshal(c)
	require.NoError(t, err)
	notifytest.AssertNoSecret(t, b, testSecret)
	require.Contains(t, string(b), `"secret_access_key":"[REDACTED]"`)

	// A masked config sent back can never replace the real secret.
	var back s3.Config
	require.NoError(t, json.Unmarshal(b, &back))
	var ve *notify.ValidationError
	require.ErrorAs(t, back.Validate(), &ve)
	require.True(t, ve.Has("secret_access_key"))
}

func TestFromJSON(t *testing.T) {
	raw := `{"name":"SOC archive","access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"` + testSecret.Reveal() +
		`","region":"eu-west-1","bucket":"cd-alerts","prefix":"alerts","compression":"gzip","path_style":true}`
	n, err := s3.FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `s3("SOC archive")`, fmt.Sprint(n))
	_, isBatch := n.(notify.BatchSender)
	require.True(t, isBatch)

	_, err = s3.FromJSON(json.RawMessage(`{"name":"x","session_token":"abc"}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("session_token"), "unknown fields are named: %v", err)

	_, err = s3.FromJSON(json.RawMessage(`{"name":"x","path_style":"yes"}`))
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("path_style"), "%v", err)

	var reg notify.Registry
	require.NoError(t, reg.Register(s3.Type, s3.FromJSON))
	_, err = reg.Build([]byte(`{"type":"s3","config":` + raw + `}`))
	require.NoError(t, err)
}

func TestSendRequest(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			m := newMock(t, ok)
			c := validConfig()
			if gz {
				c.Compression = s3.CompressionGzip
			}
			n, err := s3.New(c, m.client(), notify.WithUserAgent("cd-test/2"))
			require.NoError(t, err)
			e := testEvent()
			rc, err := n.Send(context.Background(), e)
			require.NoError(t, err)

			// The event's own time in UTC: 23:30 CET on the 2nd is 22:30 UTC.
			key := "alerts/2026/01/02/evt-123.json"
			if gz {
				key += ".gz"
			}
			require.Equal(t, notify.Receipt{ID: key, URL: "s3://cd-alerts/" + key}, rc)

			reqs := m.requests()
			require.Len(t, reqs, 1, "one request: the SDK's own retries are off")
			r := reqs[0]
			require.Equal(t, http.MethodPut, r.req.Method)
			require.Equal(t, awsBase+"/"+key, r.req.URL.Scheme+"://"+r.req.URL.Host+r.req.URL.Path)
			require.Equal(t, "PutObject", r.req.URL.Query().Get("x-id"))
			h := r.req.Header
			require.Equal(t, "application/json", h.Get("Content-Type"))
			sum := md5.Sum(r.body)
			require.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), h.Get("Content-MD5"))
			require.Equal(t, int64(len(r.body)), r.req.ContentLength)
			require.True(t, strings.HasPrefix(h.Get("Authorization"),
				"AWS4-HMAC-SHA256 Credential="+testKeyID+"/"), h.Get("Authorization"))
			require.Contains(t, h.Get("Authorization"), "/eu-west-1/s3/aws4_request")
			require.Contains(t, h.Get("User-Agent"), "cd-test")
			for k := range h {
				require.False(t, strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-"),
					"no checksum trailers unless S3 requires them: %s", k)
			}
			body := r.body
			if gz {
				require.Equal(t, "gzip", h.Get("Content-Encoding"))
				body = gunzip(t, body)
			} else {
				require.Empty(t, h.Get("Content-Encoding"))
			}
			require.JSONEq(t, eventJSON(t, e), string(body))
			require.True(t, bytes.HasSuffix(body, []byte("}\n")), "one NDJSON line")
			require.Contains(t, string(body), "<injected> on checkout & cart", "HTML is not escaped")
		})
	}
}

func TestSendResolvedIsItsOwnObject(t *testing.T) {
	m := newMock(t, ok)
	n, err := s3.New(validConfig(), m.client())
	require.NoError(t, err)
	e := testEvent()
	_, err = n.Send(context.Background(), e)
	require.NoError(t, err)
	resolved := testkit.Resolved(e)
	for range 2 { // resolving twice rewrites the same object: a success both times
		rc, err := n.Send(context.Background(), resolved)
		require.NoError(t, err)
		const key = "alerts/2026/01/02/evt-123-resolved.json"
		require.Equal(t, notify.Receipt{ID: key, URL: "s3://cd-alerts/" + key}, rc)
	}
	reqs := m.requests()
	require.Len(t, reqs, 3)
	paths := []string{reqs[0].req.URL.Path, reqs[1].req.URL.Path, reqs[2].req.URL.Path}
	require.Equal(t, []string{"/alerts/2026/01/02/evt-123.json", "/alerts/2026/01/02/evt-123-resolved.json",
		"/alerts/2026/01/02/evt-123-resolved.json"}, paths, "the open object is never touched again")
	for _, r := range reqs[1:] {
		require.Equal(t, http.MethodPut, r.req.Method)
		require.JSONEq(t, `{"id":"evt-123","type":"incident","title":"New script <injected> on checkout & cart",
			"description":"A script from cdn.example.net appeared.","risk":"high","time":"2026-01-02T23:30:00+01:00",
			"url":"https://console.example.com/incidents/123","source":"shop.example.com","tags":["pci"],
			"details":{"script":"https://cdn.example.net/x.js"},"status":"resolved"}`, string(r.body))
	}
	require.NotContains(t, string(reqs[0].body), "status", "the open record carries no status")
}

func TestSendWithoutPrefixAndPathStyle(t *testing.T) {
	m := newMock(t, ok)
	c := validConfig()
	c.Prefix = ""
	c.Endpoint = "https://minio.example.com:9000"
	c.AccessKeyID = "minio-user"
	c.Region = "us-east-1"
	c.PathStyle = true
	n, err := s3.New(c, m.client())
	require.NoError(t, err)
	rc, err := n.Send(context.Background(), testEvent())
	require.NoError(t, err)
	require.Equal(t, "2026/01/02/evt-123.json", rc.ID)
	reqs := m.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "https://minio.example.com:9000/cd-alerts/2026/01/02/evt-123.json",
		reqs[0].req.URL.Scheme+"://"+reqs[0].req.URL.Host+reqs[0].req.URL.Path)
}

func TestSendRefusesInvalidEventsOffline(t *testing.T) {
	m := newMock(t, ok)
	n, err := s3.New(validConfig(), m.client())
	require.NoError(t, err)

	bad := testEvent()
	bad.Title = ""
	_, err = n.Send(context.Background(), bad)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("title"))

	far := testEvent()
	far.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = n.Send(context.Background(), far)
	require.ErrorAs(t, err, &ve, "a time JSON cannot encode")
	require.True(t, ve.Has("time"))

	_, err = n.SendBatch(context.Background(), []notify.Event{testEvent(), bad})
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("events[1].title"), "%v", err)

	rcs, err := n.SendBatch(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, rcs)
	require.Empty(t, m.requests(), "nothing reached the network")
}

func batchEvents(n int) []notify.Event {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	out := make([]notify.Event, n)
	for i := range out {
		out[i] = notify.Event{
			ID:    fmt.Sprintf("evt-%06d", i),
			Type:  notify.EventClientSideRisk,
			Title: fmt.Sprintf("Risk %d", i),
			Risk:  notify.Risks[i%len(notify.Risks)],
			// The earliest event is not the first: the batch is dated by it.
			Time:   base.Add(time.Duration(n-i) * time.Minute),
			Source: "shop.example.com",
		}
	}
	return out
}

func TestSendBatchRequest(t *testing.T) {
	m := newMock(t, ok)
	c := validConfig()
	c.Compression = s3.CompressionGzip
	n, err := s3.New(c, m.client())
	require.NoError(t, err)
	events := batchEvents(3)
	events[1].Time = time.Date(2026, 3, 3, 23, 59, 0, 0, time.UTC)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Len(t, rcs, 3)
	key := rcs[0].ID
	require.Regexp(t, `^alerts/2026/03/03/batch-[0-9a-f]{32}\.ndjson\.gz$`, key, "dated by the earliest event")
	for _, rc := range rcs {
		require.Equal(t, notify.Receipt{ID: key, URL: "s3://cd-alerts/" + key}, rc)
	}

	reqs := m.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPut, r.req.Method)
	require.Equal(t, awsBase+"/"+key, r.req.URL.Scheme+"://"+r.req.URL.Host+r.req.URL.Path)
	require.Equal(t, "application/x-ndjson", r.req.Header.Get("Content-Type"))
	require.Equal(t, "gzip", r.req.Header.Get("Content-Encoding"))
	lines := strings.Split(strings.TrimSuffix(string(gunzip(t, r.body)), "\n"), "\n")
	require.Len(t, lines, 3)
	for i, line := range lines {
		require.JSONEq(t, eventJSON(t, events[i]), line)
	}

	// The same events, in another order, are the same object: a retry
	// cannot duplicate them. Other events are another object.
	reordered := []notify.Event{events[2], events[0], events[1]}
	rcs2, err := n.SendBatch(context.Background(), reordered)
	require.NoError(t, err)
	require.Equal(t, key, rcs2[0].ID)
	rcs3, err := n.SendBatch(context.Background(), events[:2])
	require.NoError(t, err)
	require.NotEqual(t, key, rcs3[0].ID)
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(*http.Request) *http.Response
		kind      error
		retryable bool
		status    int
		want      []string
	}{
		{"unknown key", s3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
			notify.ErrUnauthorized, false, 403, []string{"InvalidAccessKeyId", "does not know access key ID " + testKeyID}},
		{"wrong secret", s3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."),
			notify.ErrUnauthorized, false, 403, []string{"SignatureDoesNotMatch", "check secret_access_key"}},
		{"no permission", s3Error(403, "AccessDenied", "Access Denied"),
			notify.ErrForbidden, false, 403, []string{"AccessDenied", "s3:PutObject on cd-alerts/alerts/*"}},
		{"no bucket", s3Error(404, "NoSuchBucket", "The specified bucket does not exist"),
			notify.ErrNotFound, false, 404, []string{"NoSuchBucket", `bucket "cd-alerts" does not exist`}},
		{"wrong region", s3Error(301, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.",
			"X-Amz-Bucket-Region", "us-west-2", "Location", "https://cd-alerts.s3.us-west-2.amazonaws.com/alerts/2026/01/02/evt-123.json"),
			notify.ErrRejected, false, 301, []string{"PermanentRedirect", "set region to us-west-2"}},
		{"wrong signing region", s3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'eu-central-1'"),
			notify.ErrRejected, false, 400, []string{"set region to eu-central-1"}},
		{"expired", s3Error(400, "ExpiredToken", "The provided token has expired."),
			notify.ErrUnauthorized, false, 400, []string{"ExpiredToken"}},
		{"clock", s3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."),
			notify.ErrRejected, true, 403, []string{"clock"}},
		{"slow down", s3Error(503, "SlowDown", "Please reduce your request rate.", "Retry-After", "3"),
			notify.ErrRateLimited, true, 503, []string{"SlowDown", "slow down"}},
		{"request timeout", s3Error(400, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period."),
			notify.ErrUnavailable, true, 400, []string{"RequestTimeout"}},
		{"internal", s3Error(500, "InternalError", "We encountered an internal error. Please try again."),
			notify.ErrUnavailable, true, 500, []string{"InternalError"}},
		{"new bucket", s3Error(307, "TemporaryRedirect", "Please re-send this request to the specified temporary endpoint."),
			notify.ErrUnavailable, true, 307, []string{"TemporaryRedirect"}},
		{"not implemented", s3Error(501, "NotImplemented", "A header you provided implies functionality that is not implemented"),
			notify.ErrRejected, false, 501, []string{"does not implement"}},
		{"a proxy's page", func(*http.Request) *http.Response {
			return httpmock.NewStringResponse(502, "<html><title>Bad gateway</title></html>")
		}, notify.ErrUnavailable, true, 502, nil},
		{"echoes the secret", s3Error(403, "SignatureDoesNotMatch", "secret was "+testSecret.Reveal()),
			notify.ErrUnauthorized, false, 403, []string{"[REDACTED]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMock(t, tt.answer)
			logger, logs := notifytest.NewLogger()
			n, err := s3.New(validConfig(), m.client(), notify.WithLogger(logger))
			require.NoError(t, err)
			_, err = n.Send(context.Background(), testEvent())
			require.Error(t, err)
			var e *notify.Error
			require.ErrorAs(t, err, &e)
			require.ErrorIs(t, err, tt.kind, "%v", err)
			require.Equal(t, tt.retryable, notify.IsRetryable(err), "%v", err)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, "s3", e.Integration)
			require.Contains(t, e.Op, "send: PutObject alerts/2026/01/02/evt-123.json")
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Len(t, m.requests(), 1, "the SDK did not retry behind notify.Retry's back, nor follow a redirect")
			notifytest.AssertNoSecret(t, err, testSecret)
			notifytest.AssertNoSecret(t, logs.String(), testSecret)
			require.Contains(t, logs.String(), "s3: request failed")
		})
	}

	t.Run("slow down carries Retry-After", func(t *testing.T) {
		m := newMock(t, s3Error(503, "SlowDown", "Please reduce your request rate.", "Retry-After", "3"))
		n, err := s3.New(validConfig(), m.client())
		require.NoError(t, err)
		_, err = n.Send(context.Background(), testEvent())
		require.Equal(t, 3*time.Second, notify.RetryAfterOf(err))
	})
}

func TestSendNetworkErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		m := newMock(t, ok)
		n, err := s3.New(validConfig(), m.client())
		require.NoError(t, err)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err = n.Send(ctx, testEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err), "a timeout is retryable: %v", err)
		notifytest.AssertNoSecret(t, err, testSecret)
	})
	t.Run("cancelled", func(t *testing.T) {
		m := newMock(t, ok)
		n, err := s3.New(validConfig(), m.client())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = n.Send(ctx, testEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.False(t, notify.IsRetryable(err), "%v", err)
	})
	t.Run("transport failure", func(t *testing.T) {
		mt := httpmock.NewMockTransport()
		mt.RegisterNoResponder(httpmock.NewErrorResponder(errors.New("connection reset by peer")))
		n, err := s3.New(validConfig(), notify.WithHTTPClient(&http.Client{Transport: mt}))
		require.NoError(t, err)
		_, err = n.Send(context.Background(), testEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err))
		require.Equal(t, 1, mt.GetTotalCallCount(), "the SDK did not retry")
		notifytest.AssertNoSecret(t, err, testSecret)
	})
}

func TestTestHeadBucket(t *testing.T) {
	headURL := awsBase + "/"
	tests := []struct {
		name   string
		answer func(*http.Request) *http.Response
		kind   error
		want   []string
		calls  int
	}{
		{"ok", func(r *http.Request) *http.Response {
			resp := httpmock.NewStringResponse(200, "")
			resp.Header.Set("X-Amz-Bucket-Region", testRegion)
			return resp
		}, nil, nil, 1},
		{"answered from another region", func(r *http.Request) *http.Response {
			resp := httpmock.NewStringResponse(200, "")
			resp.Header.Set("X-Amz-Bucket-Region", "ap-south-1")
			return resp
		}, notify.ErrRejected, []string{"set region to ap-south-1"}, 1},
		{"wrong region", s3Error(301, "PermanentRedirect", "", "X-Amz-Bucket-Region", "us-west-2"),
			notify.ErrRejected, []string{"status 301", "the bucket is in region us-west-2, not eu-west-1: set region to us-west-2"}, 1},
		{"wrong region, 400", s3Error(400, "AuthorizationHeaderMalformed", "", "X-Amz-Bucket-Region", "us-east-2"),
			notify.ErrRejected, []string{"set region to us-east-2"}, 1},
		{"no bucket", s3Error(404, "NoSuchBucket", ""),
			notify.ErrNotFound, []string{`bucket "cd-alerts" does not exist`}, 1},
		{"wrong secret", s3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match."),
			notify.ErrUnauthorized, []string{"test: ListObjectsV2", "SignatureDoesNotMatch", "check secret_access_key"}, 2},
		{"unknown key", s3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
			notify.ErrUnauthorized, []string{"InvalidAccessKeyId"}, 2},
		{"no list permission", s3Error(403, "AccessDenied", "Access Denied"),
			notify.ErrForbidden, []string{"s3:ListBucket", "WithProbeWrite"}, 2},
		{"the HEAD stands when the list tells nothing more", func(r *http.Request) *http.Response {
			if r.Method == http.MethodHead {
				return s3Error(403, "", "")(r)
			}
			return httpmock.NewStringResponse(200, `<?xml version="1.0"?><ListBucketResult></ListBucketResult>`)
		}, notify.ErrForbidden, []string{"test: HeadBucket", "access key and secret are wrong, or lack s3:ListBucket"}, 2},
		{"unavailable", s3Error(503, "ServiceUnavailable", ""), notify.ErrUnavailable, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMock(t, tt.answer)
			logger, logs := notifytest.NewLogger()
			n, err := s3.New(validConfig(), m.client(), notify.WithLogger(logger))
			require.NoError(t, err)
			err = n.Test(context.Background())
			reqs := m.requests()
			require.Len(t, reqs, tt.calls)
			require.Equal(t, http.MethodHead, reqs[0].req.Method)
			require.Equal(t, headURL, reqs[0].req.URL.String())
			require.Empty(t, reqs[0].body)
			if tt.calls == 2 {
				r := reqs[1].req
				require.Equal(t, http.MethodGet, r.Method, "the explaining request is a read")
				require.Equal(t, "2", r.URL.Query().Get("list-type"))
				require.Equal(t, "0", r.URL.Query().Get("max-keys"))
			}
			for _, r := range reqs {
				require.NotEqual(t, http.MethodPut, r.req.Method, "Test writes nothing")
			}
			notifytest.AssertNoSecret(t, logs.String(), testSecret)
			if tt.kind == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.kind, "%v", err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			notifytest.AssertNoSecret(t, err, testSecret)
		})
	}
}

func TestTestProbeWrite(t *testing.T) {
	probeKey := `^alerts/\.connection-test/connection-test-[0-9a-f]{16}\.json$`
	t.Run("write and delete", func(t *testing.T) {
		m := newMock(t, func(r *http.Request) *http.Response {
			if r.Method == http.MethodDelete {
				return httpmock.NewStringResponse(204, "")
			}
			return ok(r)
		})
		c := validConfig()
		c.Compression = s3.CompressionGzip
		n, err := s3.New(c, m.client(), s3.WithProbeWrite())
		require.NoError(t, err)
		require.NoError(t, n.Test(context.Background()))
		reqs := m.requests()
		require.Len(t, reqs, 2)
		require.Equal(t, http.MethodPut, reqs[0].req.Method)
		key := strings.TrimPrefix(reqs[0].req.URL.Path, "/")
		require.Regexp(t, probeKey, key)
		require.Empty(t, reqs[0].req.Header.Get("Content-Encoding"), "the probe is plain JSON")
		var probe notify.Event
		require.NoError(t, json.Unmarshal(reqs[0].body, &probe))
		require.Equal(t, notify.EventTest, probe.Type)
		require.NoError(t, probe.Validate())
		require.Equal(t, http.MethodDelete, reqs[1].req.Method)
		require.Equal(t, "/"+key, reqs[1].req.URL.Path)
	})
	t.Run("cleanup not permitted still passes", func(t *testing.T) {
		m := newMock(t, func(r *http.Request) *http.Response {
			if r.Method == http.MethodDelete {
				return s3Error(403, "AccessDenied", "Access Denied")(r)
			}
			return ok(r)
		})
		logger, logs := notifytest.NewLogger()
		n, err := s3.New(validConfig(), m.client(), s3.WithProbeWrite(), notify.WithLogger(logger))
		require.NoError(t, err)
		require.NoError(t, n.Test(context.Background()), "a write-only policy is what the probe is for")
		rep := n.TestReport(context.Background())
		require.NoError(t, rep.Err())
		require.Equal(t, []string{"bucket reachable", "bucket in region", "objects writable", "probe object deleted"}, checkNames(rep))
		require.Equal(t, notify.CheckWarning, rep.Checks[3].Status)
		require.Contains(t, rep.Checks[3].Detail, "write OK, cleanup not permitted")
		require.Regexp(t, `alerts/\.connection-test/connection-test-[0-9a-f]{16}\.json`, rep.Checks[3].Detail)
		notifytest.AssertNoSecret(t, logs.String(), testSecret)
	})
	t.Run("write refused", func(t *testing.T) {
		m := newMock(t, s3Error(403, "AccessDenied", "Access Denied"))
		n, err := s3.New(validConfig(), m.client(), s3.WithProbeWrite())
		require.NoError(t, err)
		err = n.Test(context.Background())
		require.ErrorIs(t, err, notify.ErrForbidden)
		require.Contains(t, err.Error(), "s3:PutObject")
		require.Len(t, m.requests(), 1, "no delete after a refused write")
		notifytest.AssertNoSecret(t, err, testSecret)
	})
}

func TestGuardRefusesLoopbackByDefault(t *testing.T) {
	// https to a loopback address passes the URL check, and the guard
	// refuses it at dial time, before any byte is sent.
	c := validConfig()
	c.Endpoint = "https://127.0.0.1:1"
	c.AccessKeyID = "minio-user"
	c.Region = "us-east-1"
	c.PathStyle = true
	n, err := s3.New(c)
	require.NoError(t, err)
	defer n.Close()
	_, err = n.Send(context.Background(), testEvent())
	require.ErrorIs(t, err, notify.ErrBlockedAddress)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.False(t, notify.IsRetryable(err))
	notifytest.AssertNoSecret(t, err, testSecret)
}

// checkNames lists a report's check names, in order.
func checkNames(r notify.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

// checkStatuses lists a report's check outcomes, in order.
func checkStatuses(r notify.Report) []notify.CheckStatus {
	var out []notify.CheckStatus
	for _, c := range r.Checks {
		out = append(out, c.Status)
	}
	return out
}

func TestTestReport(t *testing.T) {
	const (
		pass = notify.CheckPassed
		warn = notify.CheckWarning
		fail = notify.CheckFailed
		skip = notify.CheckSkipped
	)
	regionAnswer := func(region string) func(*http.Request) *http.Response {
		return func(*http.Request) *http.Response {
			resp := httpmock.NewStringResponse(200, "")
			resp.Header.Set("X-Amz-Bucket-Region", region)
			return resp
		}
	}
	readOnly := []string{"bucket reachable", "bucket in region", "objects writable"}
	probe := []string{"bucket reachable", "bucket in region", "objects writable", "probe object deleted"}
	compat := validConfig()
	compat.Endpoint, compat.AccessKeyID, compat.Region = "https://minio.example.com:9000", "minio-user", "us-east-1"
	tests := []struct {
		name     string
		config   s3.Config
		opts     []notify.Option
		answer   func(*http.Request) *http.Response
		names    []string
		statuses []notify.CheckStatus
		kind     error // of Err(), nil when nothing failed
	}{
		{"read-only, all proven", validConfig(), nil, regionAnswer(testRegion), readOnly, []notify.CheckStatus{pass, pass, warn}, nil},
		{"another region", validConfig(), nil, regionAnswer("ap-south-1"), readOnly, []notify.CheckStatus{pass, fail, warn}, notify.ErrRejected},
		{"bucket unreachable", validConfig(), nil, s3Error(404, "NoSuchBucket", ""), readOnly, []notify.CheckStatus{fail, skip, skip}, notify.ErrNotFound},
		{"S3-compatible store", compat, nil, ok, readOnly, []notify.CheckStatus{pass, skip, warn}, nil},
		{"probe write", validConfig(), []notify.Option{s3.WithProbeWrite()}, func(r *http.Request) *http.Response {
			if r.Method == http.MethodDelete {
				return httpmock.NewStringResponse(204, "")
			}
			return ok(r)
		}, probe, []notify.CheckStatus{skip, skip, pass, pass}, nil},
		{"probe write refused", validConfig(), []notify.Option{s3.WithProbeWrite()}, s3Error(403, "AccessDenied", "Access Denied"),
			probe, []notify.CheckStatus{skip, skip, fail, skip}, notify.ErrForbidden},
		{"probe cleanup fails", validConfig(), []notify.Option{s3.WithProbeWrite()}, func(r *http.Request) *http.Response {
			if r.Method == http.MethodDelete {
				return s3Error(500, "InternalError", "We encountered an internal error.")(r)
			}
			return ok(r)
		}, probe, []notify.CheckStatus{skip, skip, pass, warn}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMock(t, tt.answer)
			n, err := s3.New(tt.config, append([]notify.Option{m.client()}, tt.opts...)...)
			require.NoError(t, err)
			rep := n.TestReport(context.Background())
			require.Equal(t, tt.names, checkNames(rep))
			require.Equal(t, tt.statuses, checkStatuses(rep), "%+v", rep.Checks)
			for _, c := range rep.Checks {
				require.NotEmpty(t, c.Detail, c.Name)
				notifytest.AssertNoSecret(t, c.Detail, testSecret)
			}
			testErr := n.Test(context.Background())
			if tt.kind == nil {
				require.NoError(t, rep.Err())
				require.NoError(t, testErr)
				return
			}
			require.ErrorIs(t, rep.Err(), tt.kind)
			require.ErrorIs(t, testErr, tt.kind, "Test is TestReport(ctx).Err()")
			notifytest.AssertNoSecret(t, rep.Err(), testSecret)
		})
	}
}

func TestBucketRegionHeaderIsNeverRepeatedUnchecked(t *testing.T) {
	for _, bad := range []string{
		"us-west-2; now paste your secret " + testSecret.Reveal(),
		"us-west-2\u00a0(call +1 555 0100)",
		strings.Repeat("a", 200),
		"<script>alert(1)</script>",
	} {
		t.Run(bad[:10], func(t *testing.T) {
			for _, answer := range []func(*http.Request) *http.Response{
				s3Error(301, "PermanentRedirect", "", "X-Amz-Bucket-Region", bad),
				func(*http.Request) *http.Response { // HeadBucket OK, from "another region"
					resp := httpmock.NewStringResponse(200, "")
					resp.Header.Set("X-Amz-Bucket-Region", bad)
					return resp
				},
			} {
				m := newMock(t, answer)
				n, err := s3.New(validConfig(), m.client())
				require.NoError(t, err)
				err = n.Test(context.Background())
				var e *notify.Error
				require.ErrorAs(t, err, &e)
				require.ErrorIs(t, err, notify.ErrRejected)
				require.Equal(t, "the bucket is not in region eu-west-1 (or the endpoint or path_style is wrong): "+
					"set region to the bucket's region", e.Hint, "the header's value is not a region name: not repeated")
				require.NotContains(t, err.Error(), "us-west-2")
				require.NotContains(t, err.Error(), "<script>")
				notifytest.AssertNoSecret(t, err, testSecret)
			}
		})
	}
	// A well-formed region is named, as before.
	m := newMock(t, s3Error(301, "PermanentRedirect", "", "X-Amz-Bucket-Region", "us-west-2"))
	n, err := s3.New(validConfig(), m.client())
	require.NoError(t, err)
	require.ErrorContains(t, n.Test(context.Background()), "set region to us-west-2")
}

func TestCloseContract(t *testing.T) {
	m := newMock(t, ok)
	n, err := s3.New(validConfig(), m.client())
	require.NoError(t, err)
	_, err = n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.FullEvent(), func() int { return len(m.requests()) }, testSecret)
	_, err = n.SendBatch(context.Background(), batchEvents(2))
	require.ErrorContains(t, err, "closed")
}

// with returns the valid config changed by change.
func with(change func(*s3.Config)) s3.Config {
	c := validConfig()
	change(&c)
	return c
}
