package outbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/codedefender/integrations/notify"
)

// MaxIntegrationIDLength bounds an integration ID.
const MaxIntegrationIDLength = 200

// deliveryArgs is a job: the event and the integration it goes to, never a
// configuration or a secret. The unique fields make a second enqueue of the
// same (event ID, status, integration ID) a no-op.
type deliveryArgs struct {
	EventID       string        `json:"event_id" river:"unique"`
	Status        notify.Status `json:"status" river:"unique"`
	IntegrationID string        `json:"integration_id" river:"unique"`
	Event         notify.Event  `json:"event"`
}

// Kind is River's name for the job.
func (deliveryArgs) Kind() string { return Kind }

// allStates keeps a delivery unique for as long as its job is kept, failed
// ones included, so that enqueuing it again never doubles a delivery that is
// waiting for Retry.
var allStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted,
	rivertype.JobStateDiscarded, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// InsertOpts puts every delivery on the outbox's queue, unique by its
// unique fields in every state.
func (deliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       Queue,
		MaxAttempts: maxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: allStates},
	}
}

// Delivery is one event for one integration.
type Delivery struct {
	Event         notify.Event
	IntegrationID string
}

// Enqueued is what Enqueue did with one delivery.
type Enqueued struct {
	JobID         int64
	IntegrationID string
	EventID       string
	// Duplicate reports that the same (event ID, status, integration ID)
	// was already queued or delivered, so nothing was added.
	Duplicate bool
}

// Enqueue stores one job per integration for e, to be delivered at least
// once. Enqueuing the same (event ID, status, integration ID) again does
// nothing (Enqueued.Duplicate). The event must pass e.Validate: a job that
// no destination could take is refused here rather than failing later.
//
// On SQLite, do not call Enqueue (or any method without Tx) while the same
// goroutine holds a transaction on the database: SQLite has one writer, and
// the call waits for the transaction until the busy timeout. Use EnqueueTx.
func (o *Outbox[TTx]) Enqueue(ctx context.Context, e notify.Event, integrationIDs ...string) ([]Enqueued, error) {
	return o.EnqueueMany(ctx, deliveries(e, integrationIDs))
}

// EnqueueTx is Enqueue inside the caller's transaction (*sql.Tx on SQLite,
// pgx.Tx on PostgreSQL): the jobs exist exactly when the transaction
// commits. An error leaves the transaction unusable for more outbox
// inserts: roll it back.
func (o *Outbox[TTx]) EnqueueTx(ctx context.Context, tx TTx, e notify.Event, integrationIDs ...string) ([]Enqueued, error) {
	return o.EnqueueManyTx(ctx, tx, deliveries(e, integrationIDs))
}

// EnqueueMany stores many deliveries in one batch (one statement on
// PostgreSQL), skipping duplicates within the batch and in the queue.
func (o *Outbox[TTx]) EnqueueMany(ctx context.Context, ds []Delivery) ([]Enqueued, error) {
	params, err := insertParams(ds)
	if err != nil || len(params) == 0 {
		return nil, err
	}
	res, err := o.client.InsertMany(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("outbox: enqueue: %w", err)
	}
	return enqueued(params, res), nil
}

// EnqueueManyTx is EnqueueMany inside the caller's transaction.
func (o *Outbox[TTx]) EnqueueManyTx(ctx context.Context, tx TTx, ds []Delivery) ([]Enqueued, error) {
	params, err := insertParams(ds)
	if err != nil || len(params) == 0 {
		return nil, err
	}
	res, err := o.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("outbox: enqueue: %w", err)
	}
	return enqueued(params, res), nil
}

func deliveries(e notify.Event, ids []string) []Delivery {
	ds := make([]Delivery, len(ids))
	for i, id := range ids {
		ds[i] = Delivery{Event: e, IntegrationID: id}
	}
	return ds
}

// insertParams validates the deliveries and drops repeats: River fails a
// whole batch that holds one unique key twice.
func insertParams(ds []Delivery) ([]river.InsertManyParams, error) {
	type key struct{ event, status, id string }
	seen := make(map[key]bool, len(ds))
	params := make([]river.InsertManyParams, 0, len(ds))
	for i, d := range ds {
		if err := checkIntegrationID(d.IntegrationID); err != nil {
			return nil, fmt.Errorf("outbox: delivery %d: %w", i, err)
		}
		if err := d.Event.Validate(); err != nil {
			return nil, fmt.Errorf("outbox: delivery %d: event: %w", i, err)
		}
		k := key{d.Event.ID, string(d.Event.Status), d.IntegrationID}
		if seen[k] {
			continue
		}
		seen[k] = true
		params = append(params, river.InsertManyParams{Args: deliveryArgs{
			EventID: d.Event.ID, Status: d.Event.Status, IntegrationID: d.IntegrationID, Event: d.Event,
		}})
	}
	return params, nil
}

func checkIntegrationID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return &notify.ValidationError{Fields: []notify.FieldError{{Field: "integration_id", Message: "is required"}}}
	case len(id) > MaxIntegrationIDLength:
		return &notify.ValidationError{Fields: []notify.FieldError{{Field: "integration_id",
			Message: fmt.Sprintf("must be at most %d bytes", MaxIntegrationIDLength)}}}
	}
	return nil
}

func enqueued(params []river.InsertManyParams, res []*rivertype.JobInsertResult) []Enqueued {
	out := make([]Enqueued, len(res))
	for i, r := range res {
		a := params[i].Args.(deliveryArgs)
		out[i] = Enqueued{JobID: r.Job.ID, IntegrationID: a.IntegrationID, EventID: a.EventID, Duplicate: r.UniqueSkippedAsDuplicate}
	}
	return out
}
