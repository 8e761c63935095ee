// Package objects is the object layout the storage destinations (s3, gcs)
// share: where an event or a batch is written, and the bytes written there.
package objects

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// The object layout. Keys are derived from the events alone, so a retried
// Send or SendBatch writes the same key with the same bytes and can never
// leave a duplicate behind:
//
//	<prefix>/YYYY/MM/DD/<event-id>.json              one event (Send)
//	<prefix>/YYYY/MM/DD/<event-id>-resolved.json     its resolution (Send of a StatusResolved event)
//	<prefix>/YYYY/MM/DD/batch-<hash>.ndjson          many events (SendBatch)
//
// A resolved event is its own record beside the open one, which stays as
// it was written: a bucket is an append-only log of what happened, and
// resolving twice rewrites the same key with the same bytes. The date is
// the event's own time in UTC (for a batch, the earliest event's); <hash>
// is the first 128 bits, in hex, of SHA-256 over the batch's record names
// (the event ID, with "-resolved" for a resolution) sorted and
// newline-terminated, so the same set of events always lands on the same
// key. With gzip the names end in .gz and the
// object carries Content-Encoding: gzip. Without a prefix the key starts at
// YYYY.
const (
	// ContentTypeJSON is the type of an object holding one event.
	ContentTypeJSON = "application/json"
	// ContentTypeNDJSON is the type of an object holding a batch.
	ContentTypeNDJSON = "application/x-ndjson"
	// ContentEncodingGzip marks a compressed object.
	ContentEncodingGzip = "gzip"
	extJSON             = ".json"
	extNDJSON           = ".ndjson"
	extGzip             = ".gz"
	batchNamePrefix     = "batch-"
	resolvedSuffix      = "-resolved"
	// batchHashBytes of SHA-256 name a batch: 128 bits make an accidental
	// collision between two different batches practically impossible.
	batchHashBytes = 16
)

// Compression says how the storage destinations store event objects: the
// console's "compression" field of s3 and gcs, which both alias this type.
type Compression string

// The compressions the console offers. The empty string means none.
const (
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
)

// Gzip reports whether objects are gzip-compressed.
func (c Compression) Gzip() bool { return c == CompressionGzip }

// Problem returns what is wrong with c as a config value, or "".
func (c Compression) Problem() string {
	switch c {
	case "", CompressionNone, CompressionGzip:
		return ""
	}
	return `must be "none" or "gzip"`
}

// CheckBatch checks every event of a batch and names the bad ones by index
// (events[2].title).
func CheckBatch(events []notify.Event) error {
	var errs validate.Errors
	for i, e := range events {
		if err := e.Validate(); err != nil {
			errs.Merge(fmt.Sprintf("events[%d]", i), err)
		}
	}
	return errs.Err()
}

// objectKey places name under the prefix and the UTC date of t.
func objectKey(prefix string, t time.Time, name string) string {
	day := t.UTC().Format("2006/01/02")
	if prefix == "" {
		return day + "/" + name
	}
	return prefix + "/" + day + "/" + name
}

// recordName names e's record: its ID, and for a resolution the ID with
// "-resolved", so that the resolution never replaces the open record.
func recordName(e notify.Event) string {
	if e.Status.IsResolved() {
		return e.ID + resolvedSuffix
	}
	return e.ID
}

// EventKey is where Send writes e: <id>.json, or <id>-resolved.json for a
// resolved event.
func EventKey(prefix string, e notify.Event, gz bool) string {
	name := recordName(e) + extJSON
	if gz {
		name += extGzip
	}
	return objectKey(prefix, e.Time, name)
}

// BatchKey is where SendBatch writes events; there must be at least one.
func BatchKey(prefix string, events []notify.Event, gz bool) string {
	earliest := events[0].Time
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = recordName(e)
		if e.Time.Before(earliest) {
			earliest = e.Time
		}
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		_, _ = io.WriteString(h, id)
		_, _ = h.Write([]byte{'\n'})
	}
	name := batchNamePrefix + hex.EncodeToString(h.Sum(nil)[:batchHashBytes]) + extNDJSON
	if gz {
		name += extGzip
	}
	return objectKey(prefix, earliest, name)
}

// gzipWriters reuses compressors: each holds about a megabyte of state,
// which would otherwise be allocated for every object.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// WriteEvents writes events to w as newline-delimited JSON (one event per
// line, the Event as JSON with nothing around it), gzip-compressed when gz.
// The output depends on the events alone, so a retry writes the same bytes.
// Each event is one Write to w (or to the compressor): callers writing to a
// pipe or a network stream buffer w.
func WriteEvents(w io.Writer, events []notify.Event, gz bool) error {
	out := w
	var zw *gzip.Writer
	if gz {
		zw = gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w)
		defer func() {
			zw.Reset(io.Discard) // drop the reference to w
			gzipWriters.Put(zw)
		}()
		out = zw
	}
	enc := json.NewEncoder(out)
	// Alert text is full of URLs and HTML; keep it readable in the bucket.
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return fmt.Errorf("encoding events[%d]: %w", i, err)
		}
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// MaxPrefixBytes keeps the longest key under the 1024-byte limit S3 and GCS
// set on object names: the prefix, "/YYYY/MM/DD/" (12), an event ID
// (notify.MaxEventIDLength, 200) with "-resolved.json.gz", and
// "batch-<32 hex>.ndjson.gz" must all fit.
const MaxPrefixBytes = 512

// prefixChars are the characters safe in object names everywhere: no
// escaping in any tool or URL (AWS's "safe" set).
var prefixChars = regexp.MustCompile(`^[A-Za-z0-9!_.*'()/-]+$`)

// PrefixProblem returns what is wrong with an object key prefix, or "".
func PrefixProblem(p string) string {
	switch {
	case p == "":
		return ""
	case len(p) > MaxPrefixBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxPrefixBytes)
	case !utf8.ValidString(p) || !prefixChars.MatchString(p):
		return "may hold only letters, digits, '/' and ! - _ . * ' ( )"
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"):
		return "must not start or end with '/' (write alerts, not /alerts/)"
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "must not contain '//'"
		case ".", "..":
			return "must not contain . or .. segments"
		}
	}
	return ""
}

// Write stores one object holding events at key and returns the name the
// store kept. op names the operation for errors ("send", "send batch").
type Write func(ctx context.Context, op, key, contentType string, events []notify.Event) (name string, err error)

// Bucket is how a storage destination keeps events: the key prefix and
// compression of its Config, how it writes one object, and where the
// objects are. Its Send and SendBatch are the destination's.
type Bucket struct {
	Prefix string
	Gzip   bool
	Write  Write
	// Errors builds the Receipts: a stored name is the store's answer, raw
	// server data, so it is scrubbed, put on one line and bounded like
	// every receipt (sender.Errors.Receipt).
	Errors *sender.Errors
	// URL is the bucket's address that a name is appended to for the
	// Receipt's URL: "gs://<bucket>/", "s3://<bucket>/".
	URL string
}

// Receipt names a stored object.
func (b Bucket) Receipt(name string) notify.Receipt { return b.Errors.Receipt(name, b.URL+name) }

// Send checks e and writes it at its EventKey, and returns the Receipt of
// the name the store kept.
func (b Bucket) Send(ctx context.Context, e notify.Event) (notify.Receipt, error) {
	if err := e.Validate(); err != nil {
		return notify.Receipt{}, err // before any request
	}
	name, err := b.Write(ctx, "send", EventKey(b.Prefix, e, b.Gzip), ContentTypeJSON, []notify.Event{e})
	if err != nil {
		return notify.Receipt{}, err
	}
	return b.Receipt(name), nil
}

// SendBatch checks every event and writes them all as one NDJSON object at
// their BatchKey, returning the same Receipt for each event. An empty
// batch writes nothing.
func (b Bucket) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if err := CheckBatch(events); err != nil {
		return nil, err // before any request
	}
	name, err := b.Write(ctx, "send batch", BatchKey(b.Prefix, events, b.Gzip), ContentTypeNDJSON, events)
	if err != nil {
		return nil, err
	}
	rc := b.Receipt(name)
	out := make([]notify.Receipt, len(events))
	for i := range out {
		out[i] = rc
	}
	return out, nil
}

// Log writes the debug line of one request to a bucket (msg "gcs:
// request", "s3: request failed", ...): who, what, how long, and the
// error when it failed, which is already scrubbed. attrs add to it.
func Log(ctx context.Context, l *slog.Logger, msg, typ, name, op, bucket string, start time.Time, e *notify.Error, attrs ...any) {
	base := []any{"integration", typ, "name", name, "op", op, "bucket", bucket}
	if e != nil {
		base = append(base, "status", e.StatusCode, "error", e.Error())
	}
	l.DebugContext(ctx, msg, append(append(base, attrs...), "duration", time.Since(start))...)
}
