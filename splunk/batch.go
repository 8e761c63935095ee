package splunk

import (
	"context"
	"fmt"
	"net/http"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// maxReportedInvalid bounds how many invalid events one *ValidationError
// lists, so that a batch of 100,000 bad events gives a readable error.
const maxReportedInvalid = 10

// SendBatch delivers events in HEC's batch form: envelopes one after
// another in as few requests as the request limit allows, sent one at a
// time, so that only one request body (two while a 413 is split) is held at
// once whatever the batch size.
//
// Every event is checked first: if any is invalid, SendBatch returns a
// *notify.ValidationError whose fields are prefixed "events[i]." and sends
// nothing. Otherwise it returns one Receipt per delivered event, in order
// (ID = Event.ID). On a failure it returns the receipts of the events
// delivered before it with the error, whose Op names the failed request's
// events (for example "send batch: events[2500:5000]"); events[len(receipts)]
// is the first event not delivered, so a retry should resend
// events[len(receipts):]. An event whose envelope alone exceeds the request
// limit, or HEC's (a 413), is delivered shortened as Send does, and the
// events after it follow: one oversized event never blocks the rest. When
// HEC reports an invalid event inside a request, the whole request counts
// as not delivered (HEC may have kept the events before it [unverified]),
// which can duplicate those events on retry but never loses one.
func (n *Notifier) SendBatch(ctx context.Context, events []notify.Event) ([]notify.Receipt, error) {
	var errs validate.Errors
	bad := 0
	for i, e := range events {
		if err := e.Validate(); err != nil {
			if bad++; bad <= maxReportedInvalid {
				errs.Merge(fmt.Sprintf("events[%d]", i), err)
			}
		}
	}
	if bad > maxReportedInvalid {
		errs.Addf("events", "%d more events are invalid", bad-maxReportedInvalid)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	b := &batch{n: n, events: events, receipts: make([]notify.Receipt, 0, len(events)), pack: n.maxBytes}
	err := b.run(ctx)
	return b.receipts, err
}

// batch is one SendBatch call in progress.
type batch struct {
	n        *Notifier
	events   []notify.Event
	receipts []notify.Receipt
	// pack is how full a request is filled: the request limit, lowered after
	// a 413 so the rest of the batch does not hit the same wall.
	pack int
}

// run encodes the events into bodies of at most pack bytes and sends each
// as soon as it is full.
func (b *batch) run(ctx context.Context) error {
	var (
		w     envelopeWriter
		body  []byte
		ends  []int // ends[k] is where the k-th envelope of body ends
		first int   // index in b.events of body's first envelope
	)
	for i := range b.events {
		e := &b.events[i]
		// An event larger than a request goes shortened (fit), never
		// stopping the events after it.
		env, _, err := b.n.fit(&w, *e, b.n.maxBytes)
		if err == nil && len(env) > b.n.maxBytes {
			err = b.n.tooLarge(b.op(i, i+1), *e, len(env), b.n.maxBytes, "the request limit")
		} else if err != nil {
			err = b.n.http.Errorf(b.op(i, i+1), notify.ErrRejected, false, "cannot encode event %q: %v", e.ID, err)
		}
		if err != nil {
			if ferr := b.flush(ctx, body, first, ends); ferr != nil {
				return ferr
			}
			return err
		}
		if len(ends) > 0 && len(body)+len(env) > b.pack {
			if err := b.flush(ctx, body, first, ends); err != nil {
				return err
			}
			body, ends, first = nil, ends[:0], i
		}
		if body == nil {
			// A new body each time: the transport may still read the last
			// one after Do returns. Sized for the rest of the batch at this
			// event's size, so a small batch does not take a full megabyte.
			body = make([]byte, 0, min(b.pack, len(env)*(len(b.events)-i)))
		}
		body = append(body, env...)
		ends = append(ends, len(body))
	}
	return b.flush(ctx, body, first, ends)
}

// op names the request holding events[from:to].
func (b *batch) op(from, to int) string {
	return fmt.Sprintf("send batch: events[%d:%d]", from, to)
}

// flush sends body, which holds the envelopes of b.events[first:first+len(ends)].
func (b *batch) flush(ctx context.Context, body []byte, first int, ends []int) error {
	if len(ends) == 0 {
		return nil
	}
	return b.send(ctx, body, first, ends, 0)
}

// send posts body, the envelopes of b.events[first:first+len(ends)], where
// ends are offsets into the original body and body starts at base. A 413
// splits it in halves at an envelope boundary and sends each; a body already
// larger than a size HEC refused is split without being sent.
func (b *batch) send(ctx context.Context, body []byte, first int, ends []int, base int) error {
	if len(ends) > 1 && len(body) > b.pack {
		return b.split(ctx, body, first, ends, base)
	}
	evs := b.events[first : first+len(ends)]
	op := b.op(first, first+len(ends))
	resp, err := b.n.post(ctx, op, body, evs)
	if resp == nil {
		return err
	}
	if err := b.n.checkAnswer(op, resp, err, evs); err != nil {
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			return err
		}
		if len(evs) == 1 {
			// HEC's limit is below this one event: it goes alone,
			// shortened, and the batch carries on after it.
			b.pack = min(b.pack, len(body)-1)
			if len(body)/2 < minShrinkBytes {
				return b.n.tooLarge(op, evs[0], len(body), 0, "HEC's max_content_length")
			}
			if err := b.n.sendOne(ctx, op, evs[0], len(body)/2); err != nil {
				return err
			}
			b.receipts = append(b.receipts, notify.Receipt{ID: evs[0].ID})
			return nil
		}
		// Pack no larger than the bigger half from now on, so the rest of
		// the batch, and this body's other pieces, are not refused again.
		cut := ends[len(ends)/2-1] - base
		b.pack = min(b.pack, max(cut, len(body)-cut))
		b.n.log.DebugContext(ctx, "splunk: HEC refused the request as too large; splitting it",
			"integration", Type, "op", op, "bytes", len(body), "pack", b.pack)
		return b.split(ctx, body, first, ends, base)
	}
	for _, e := range evs {
		b.receipts = append(b.receipts, notify.Receipt{ID: e.ID})
	}
	return nil
}

// split sends body's two halves, cut at the envelope boundary nearest the
// middle by count, in order.
func (b *batch) split(ctx context.Context, body []byte, first int, ends []int, base int) error {
	mid := len(ends) / 2
	cut := ends[mid-1] - base
	if err := b.send(ctx, body[:cut], first, ends[:mid], base); err != nil {
		return err
	}
	return b.send(ctx, body[cut:], first+mid, ends[mid:], base+cut)
}
