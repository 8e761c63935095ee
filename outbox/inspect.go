package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/codedefender/integrations/notify"
)

// State is where a delivery stands: River's job states.
type State = rivertype.JobState

// The states Pending and Failed list.
var (
	pendingStates = []State{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled}
	// failedStates: cancelled is a permanent error or the horizon reached;
	// discarded is River's attempt cap (a clock gone wrong).
	failedStates = []State{rivertype.JobStateCancelled, rivertype.JobStateDiscarded}
)

// ErrNotFound is returned by Retry and Discard for a job ID that is not an
// outbox job (or no longer exists).
var ErrNotFound = errors.New("outbox: no such job")

// Job is one delivery as stored.
type Job struct {
	ID            int64
	IntegrationID string
	Event         notify.Event
	State         State
	Attempts      int
	CreatedAt     time.Time
	// ScheduledAt is when the next attempt is due (or the last was).
	ScheduledAt time.Time
	FinalizedAt *time.Time
	// Errors holds every failed attempt's error, scrubbed, oldest first.
	Errors []AttemptError
	// Receipt is what the destination answered, once delivered.
	Receipt notify.Receipt
}

// AttemptError is one failed attempt.
type AttemptError struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error"`
}

// ListOptions narrows Pending and Failed.
type ListOptions struct {
	// IntegrationID, when set, lists only that integration's jobs.
	IntegrationID string
	// Limit is the most jobs returned (default 100, at most 10,000).
	Limit int
	// AfterID lists jobs with a greater ID, for paging.
	AfterID int64
}

// Pending lists the deliveries not yet done (waiting, retrying or
// running), oldest first.
func (o *Outbox[TTx]) Pending(ctx context.Context, opts ListOptions) ([]Job, error) {
	return o.list(ctx, opts, pendingStates)
}

// Failed lists the deliveries that ended undelivered (a permanent error,
// or retryable errors until the horizon), oldest first.
func (o *Outbox[TTx]) Failed(ctx context.Context, opts ListOptions) ([]Job, error) {
	return o.list(ctx, opts, failedStates)
}

func (o *Outbox[TTx]) list(ctx context.Context, opts ListOptions, states []State) ([]Job, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	p := river.NewJobListParams().Kinds(Kind).States(states...).First(limit).OrderBy(river.JobListOrderByID, river.SortOrderAsc)
	if opts.IntegrationID != "" {
		p = p.Where(o.driver.ArgsField("integration_id")+" = @integration_id", river.NamedArgs{"integration_id": opts.IntegrationID})
	}
	if opts.AfterID > 0 {
		p = p.Where("id > @after_id", river.NamedArgs{"after_id": opts.AfterID})
	}
	res, err := o.client.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	jobs := make([]Job, 0, len(res.Jobs))
	for _, row := range res.Jobs {
		j, err := jobOf(row)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func jobOf(row *rivertype.JobRow) (Job, error) {
	var a deliveryArgs
	if err := json.Unmarshal(row.EncodedArgs, &a); err != nil {
		return Job{}, fmt.Errorf("outbox: job %d: %w", row.ID, err)
	}
	j := Job{
		ID: row.ID, IntegrationID: a.IntegrationID, Event: a.Event, State: row.State,
		Attempts: row.Attempt, CreatedAt: row.CreatedAt, ScheduledAt: row.ScheduledAt, FinalizedAt: row.FinalizedAt,
	}
	for _, e := range row.Errors {
		j.Errors = append(j.Errors, AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error})
	}
	var rc receipt
	if out := row.Output(); len(out) > 0 && json.Unmarshal(out, &rc) == nil {
		j.Receipt = notify.Receipt{ID: rc.ID, URL: rc.URL}
	}
	return j, nil
}

// Retry makes a failed (or waiting) delivery due now, with a fresh horizon.
// A running job is left alone.
func (o *Outbox[TTx]) Retry(ctx context.Context, jobID int64) (Job, error) {
	if _, err := o.get(ctx, jobID); err != nil {
		return Job{}, err
	}
	if _, err := o.client.JobUpdate(ctx, jobID, &river.JobUpdateParams{Output: retryMark{RetriedAt: time.Now().UTC()}}); err != nil {
		return Job{}, fmt.Errorf("outbox: retry %d: %w", jobID, err)
	}
	row, err := o.client.JobRetry(ctx, jobID)
	if err != nil {
		return Job{}, fmt.Errorf("outbox: retry %d: %w", jobID, err)
	}
	return jobOf(row)
}

// Discard deletes a delivery that is not running, failed or pending: it
// will never be delivered, and enqueuing it again queues it anew.
func (o *Outbox[TTx]) Discard(ctx context.Context, jobID int64) (Job, error) {
	if _, err := o.get(ctx, jobID); err != nil {
		return Job{}, err
	}
	row, err := o.client.JobDelete(ctx, jobID)
	if err != nil {
		return Job{}, fmt.Errorf("outbox: discard %d: %w", jobID, err)
	}
	return jobOf(row)
}

func (o *Outbox[TTx]) get(ctx context.Context, jobID int64) (*rivertype.JobRow, error) {
	row, err := o.client.JobGet(ctx, jobID)
	switch {
	case errors.Is(err, river.ErrNotFound):
		return nil, fmt.Errorf("%w: %d", ErrNotFound, jobID)
	case err != nil:
		return nil, fmt.Errorf("outbox: job %d: %w", jobID, err)
	case row.Kind != Kind:
		return nil, fmt.Errorf("%w: %d is not an outbox job", ErrNotFound, jobID)
	}
	return row, nil
}

// Count is how many jobs of one integration are in one state.
type Count struct {
	IntegrationID string
	State         State
	Jobs          int64
}

// Counts returns the number of jobs per integration and state, sorted by
// integration ID then state.
func (o *Outbox[TTx]) Counts(ctx context.Context) ([]Count, error) {
	cs, err := o.driver.Counts(ctx, Kind)
	if err != nil {
		return nil, fmt.Errorf("outbox: counts: %w", err)
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].IntegrationID != cs[j].IntegrationID {
			return cs[i].IntegrationID < cs[j].IntegrationID
		}
		return cs[i].State < cs[j].State
	})
	return cs, nil
}
