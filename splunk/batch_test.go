package splunk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// requireDelivered checks that the fake holds exactly events, in order, each
// in a well-formed envelope.
func requireDelivered(t *testing.T, envs []gotEnvelope, events []notify.Event) {
	t.Helper()
	require.Len(t, envs, len(events))
	for i, env := range envs {
		e := events[i]
		got := decodeEvent(t, env.Event)
		require.Equal(t, e.ID, got.ID, "event %d out of order", i)
		require.True(t, e.Time.Equal(got.Time))
		require.Equal(t, e.Description, got.Description)
		require.Equal(t, e.Details, got.Details)
		require.Equal(t, string(appendEpoch(nil, e.Time.UnixMilli())), env.Time.String())
		require.Equal(t, "_json", env.Sourcetype)
		require.Equal(t, "codedefender", env.Source)
		require.NotNil(t, env.Host)
		require.Equal(t, "shop.example.com", *env.Host)
		require.NotNil(t, env.Index)
		require.Equal(t, "security", *env.Index)
	}
}

func receiptIDs(rcs []notify.Receipt) []string {
	ids := make([]string, len(rcs))
	for i, rc := range rcs {
		ids[i] = rc.ID
	}
	return ids
}

func eventIDs(events []notify.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestSendBatchExactBody(t *testing.T) {
	c := validConfig()
	c.Index = ""
	n, mt := mockNotifier(t, c)
	got := capture(t, mt, cloudEventURL, http.StatusOK, `{"text":"Success","code":0}`)

	events := makeEvents(2)
	events[1].Source = ""
	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, []notify.Receipt{{ID: "evt-0000000"}, {ID: "evt-0000001"}}, rcs)
	require.Len(t, *got, 1)
	req := (*got)[0]
	require.Equal(t, "Splunk "+testToken.Reveal(), req.header.Get("Authorization"))
	require.Equal(t, "application/json", req.header.Get("Content-Type"))
	require.Empty(t, req.header.Get("Content-Encoding"))

	first := `{"time":1767225600.000,"host":"shop.example.com","source":"codedefender","sourcetype":"_json",` +
		`"event":{"id":"evt-0000000","type":"client_side_risk","title":"New third-party script #0 on the payment page",` +
		`"description":"A script was added to the checkout page. ","risk":"critical","time":"2026-01-01T00:00:00Z",` +
		`"source":"https://shop.example.com","tags":["pci","script"],` +
		`"details":{"page":"/checkout","script":"https://cdn0.example/a.js"}}}`
	second := `{"time":1767225600.001,"source":"codedefender","sourcetype":"_json",` +
		`"event":{"id":"evt-0000001","type":"client_side_risk","title":"New third-party script #1 on the payment page",` +
		`"description":"A script was added to the checkout page. A script was added to the checkout page. ",` +
		`"risk":"high","time":"2026-01-01T00:00:00.001Z","tags":["pci","script"],` +
		`"details":{"page":"/checkout","script":"https://cdn1.example/a.js"}}}`
	// Envelopes one after another: not an array, nothing between them.
	require.Equal(t, first+second, string(req.body))
	dec := json.NewDecoder(bytes.NewReader(req.body))
	for _, want := range []string{first, second} {
		var raw json.RawMessage
		require.NoError(t, dec.Decode(&raw))
		require.JSONEq(t, want, string(raw))
	}
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF)
}

func TestSendBatchAgainstPeer(t *testing.T) {
	const limit = 64 << 10
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(limit))
	events := makeEvents(3000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs))

	reqs, envs := f.snapshot()
	requireDelivered(t, envs, events)
	require.Greater(t, len(reqs), 10, "the batch was split into requests")
	total := 0
	for i, r := range reqs {
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, eventPath, r.path)
		require.LessOrEqual(t, r.bodyBytes, limit, "request %d is over the limit", i)
		if r.bodyBytes >= gzipMinBytes {
			require.Equal(t, "gzip", r.encoding, "a body of many KiB is gzipped")
			require.Less(t, r.wireBytes, r.bodyBytes/3, "gzip pays on JSON envelopes")
		} else {
			require.Empty(t, r.encoding)
		}
		require.Equal(t, reqs[0].channel, r.channel)
		total += r.events
		if i < len(reqs)-1 {
			// Packing is tight: the next envelope would not have fitted.
			next := envs[total]
			require.Greater(t, r.bodyBytes+envelopeSize(t, n, decodeEvent(t, next.Event)), limit)
		}
	}
	require.Equal(t, len(events), total)
}

// envelopeSize is the size of e's envelope as n encodes it.
func envelopeSize(t *testing.T, n *Notifier, e notify.Event) int {
	t.Helper()
	var w envelopeWriter
	env, err := w.encode(&e, n.fixedTail)
	require.NoError(t, err)
	return len(env)
}

func TestSendBatchGzipSwitch(t *testing.T) {
	f := newFakeHEC(t)
	plain := fakeNotifier(t, f, WithGzip(false))
	events := makeEvents(200)
	_, err := plain.SendBatch(context.Background(), events)
	require.NoError(t, err)
	small := fakeNotifier(t, f)
	_, err = small.SendBatch(context.Background(), events[:2])
	require.NoError(t, err)

	reqs, envs := f.snapshot()
	require.Len(t, reqs, 2)
	require.Empty(t, reqs[0].encoding, "WithGzip(false)")
	require.Greater(t, reqs[0].bodyBytes, gzipMinBytes)
	require.Equal(t, reqs[0].bodyBytes, reqs[0].wireBytes)
	require.Empty(t, reqs[1].encoding, "a small body is not worth gzipping")
	requireDelivered(t, envs, append(append([]notify.Event(nil), events...), events[:2]...))
}

func TestSendBatch413SplitsAndLearns(t *testing.T) {
	const serverMax = 20 << 10
	f := newFakeHEC(t)
	f.maxContentLength = serverMax
	logger, logs := notifytest.NewLogger()
	n := fakeNotifier(t, f, WithGzip(false), notify.WithLogger(logger)) // uncompressed, so the wire size is the body size
	events := makeEvents(2000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs))

	reqs, envs := f.snapshot()
	requireDelivered(t, envs, events)
	refused := 0
	for _, r := range reqs {
		if r.status == http.StatusRequestEntityTooLarge {
			refused++
			continue
		}
		require.LessOrEqual(t, r.wireBytes, serverMax)
	}
	// The first body (about 1 MB) is refused at 1 MB, 500, 250, 125, 62
	// and 31 KB, once per size: the other halves are split before sending,
	// and the rest of the batch is packed at the learned size.
	require.Equal(t, 6, refused, "each size is refused once")
	require.Contains(t, logs.String(), "splitting")
	notifytest.AssertNoSecret(t, logs.String(), testToken)
}

func TestSendBatch413OnOneEvent(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithGzip(false))
	events := makeEvents(5)
	events[3].Description = strings.Repeat("d", 3000)
	f.set(func(f *fakeHEC) { f.maxContentLength = 2500 })

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err, "the event HEC found too large goes shortened, and the ones after it follow")
	require.Equal(t, eventIDs(events), receiptIDs(rcs))
	_, envs := f.snapshot()
	require.Len(t, envs, 5)
	requireDelivered(t, append(envs[:3:3], envs[4]), append(events[:3:3], events[4]))
	got := decodeEvent(t, envs[3].Event)
	require.Equal(t, events[3].ID, got.ID)
	require.True(t, strings.HasSuffix(got.Description, "…"))
}

func TestSendBatchEventOverLimitDoesNotBlockTheRest(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(4000))
	events := makeEvents(6)
	events[4].Description = strings.Repeat("d", 4000)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(rcs), "every event delivered, the oversized one shortened")
	reqs, envs := f.snapshot()
	for _, r := range reqs {
		require.LessOrEqual(t, r.bodyBytes, 4000)
	}
	require.Len(t, envs, 6)
	requireDelivered(t, append(envs[:4:4], envs[5]), append(events[:4:4], events[5]))
	got := decodeEvent(t, envs[4].Event)
	require.Equal(t, events[4].ID, got.ID)
	require.Equal(t, events[4].Title, got.Title)
	require.True(t, strings.HasSuffix(got.Description, "…"))
}

func TestSendBatchPartialFailureAndResume(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f, WithMaxRequestBytes(16<<10))
	events := makeEvents(500)
	f.set(func(f *fakeHEC) {
		f.answers = map[int]fakeAnswer{2: {status: 503, header: http.Header{"Retry-After": {"7"}},
			body: `{"text":"Server is busy","code":9}`}}
	})

	rcs, err := n.SendBatch(context.Background(), events)
	require.Error(t, err)
	require.ErrorIs(t, err, notify.ErrUnavailable)
	require.True(t, notify.IsRetryable(err))
	require.Equal(t, 7*time.Second, notify.RetryAfterOf(err))
	reqs, envs := f.snapshot()
	require.Len(t, reqs, 3, "nothing is sent after the failed request")
	delivered := reqs[0].events + reqs[1].events
	require.Equal(t, eventIDs(events[:delivered]), receiptIDs(rcs))
	require.Contains(t, err.Error(), fmt.Sprintf("send batch: events[%d:", delivered))
	requireDelivered(t, envs, events[:delivered])

	// Resending the rest delivers every event exactly once.
	rest, err := n.SendBatch(context.Background(), events[len(rcs):])
	require.NoError(t, err)
	require.Equal(t, eventIDs(events), receiptIDs(append(rcs, rest...)))
	_, envs = f.snapshot()
	requireDelivered(t, envs, events)
}

func TestSendBatchRefusesInvalidEventsOffline(t *testing.T) {
	n, mt := mockNotifier(t, validConfig())
	events := makeEvents(3)
	events[1].Title = ""
	events[2].Risk = "severe"
	rcs, err := n.SendBatch(context.Background(), events)
	require.Nil(t, rcs)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("events[1].title"))
	require.True(t, ve.Has("events[2].risk"))

	many := makeEvents(50)
	for i := range many {
		many[i].ID = ""
	}
	_, err = n.SendBatch(context.Background(), many)
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Fields, maxReportedInvalid+1)
	require.True(t, ve.Has("events[9].id"))
	require.Contains(t, err.Error(), "events: 40 more events are invalid")

	rcs, err = n.SendBatch(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, rcs)
	require.Zero(t, mt.GetTotalCallCount())
}

// TestSendBatchStreamsMemory checks that SendBatch of 100,000 events holds a
// few request bodies at once, not the batch: at each request the fake
// forces a collection and reads the live heap.
func TestSendBatchStreamsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100,000 events")
	}
	const count = 100_000
	events := makeEvents(count)
	f := newFakeHEC(t)
	f.countOnly = true
	n := fakeNotifier(t, f)

	var peak uint64
	f.onRequest = func() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)

	rcs, err := n.SendBatch(context.Background(), events)
	require.NoError(t, err)
	require.Len(t, rcs, count)

	f.mu.Lock()
	defer f.mu.Unlock()
	require.Equal(t, count, f.counted)
	encoded := count * envelopeSize(t, n, events[count/2])
	receipts := uint64(count) * uint64(unsafe.Sizeof(notify.Receipt{}))
	// Allowed: the receipts, a body being built, one in flight, the fake's
	// copy and the compressor's state. Holding the batch would need encoded.
	allowed := receipts + 4*DefaultMaxRequestBytes + 4<<20
	grew := peak - min(peak, base.HeapAlloc)
	t.Logf("batch encoded: %d MB; live heap grew by at most %.1f MB (allowed %.1f MB) over %d requests",
		encoded>>20, float64(grew)/(1<<20), float64(allowed)/(1<<20), len(f.requests))
	require.Less(t, allowed, uint64(encoded), "the bound must be able to tell streaming from holding the batch")
	require.LessOrEqual(t, grew, allowed)
}

func TestSendBatchReadsInvalidEventNumber(t *testing.T) {
	f := newFakeHEC(t)
	n := fakeNotifier(t, f)
	f.set(func(f *fakeHEC) {
		f.answers = map[int]fakeAnswer{0: {status: 400, body: `{"text":"Invalid data format","code":6,"invalid-event-number":2}`}}
	})
	rcs, err := n.SendBatch(context.Background(), makeEvents(4))
	require.Empty(t, rcs, "the whole request counts as not delivered")
	require.ErrorIs(t, err, notify.ErrRejected)
	require.Contains(t, err.Error(), `HEC code 6: Invalid data format (event 2 of the request, id "evt-0000002")`)
	require.False(t, errors.Is(err, notify.ErrUnavailable))
}
