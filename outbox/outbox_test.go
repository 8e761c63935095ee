package outbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/outbox"
)

func TestSQLite(t *testing.T)   { runSuite(t, sqliteHarness()) }
func TestPostgres(t *testing.T) { runSuite(t, postgresHarness()) }

func runSuite[TTx any](t *testing.T, h harness[TTx]) {
	t.Run("DeliverAndCount", func(t *testing.T) { testDeliver(t, h) })
	t.Run("IdempotentEnqueue", func(t *testing.T) { testIdempotent(t, h) })
	t.Run("TransactionalEnqueue", func(t *testing.T) { testTransactional(t, h) })
	t.Run("PermanentRetryDiscard", func(t *testing.T) { testPermanent(t, h) })
	t.Run("Outage", func(t *testing.T) { testOutage(t, h) })
	t.Run("Horizon", func(t *testing.T) { testHorizon(t, h) })
	t.Run("StopReleases", func(t *testing.T) { testStop(t, h) })
	t.Run("RefusesBadInput", func(t *testing.T) { testRefuses(t, h) })
	t.Run("Telemetry", func(t *testing.T) { testTelemetry(t, h) })
}

func testDeliver[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a", "slack-b")
	d := h.open(t, h.fresh(t))
	ob := start(t, d, f.testConfig())
	ctx := context.Background()

	res, err := ob.Enqueue(ctx, event("evt-1"), "slack-a", "slack-b")
	require.NoError(t, err)
	require.Len(t, res, 2)
	_, err = ob.Enqueue(ctx, event("evt-2"), "slack-a")
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		cs, err := ob.Counts(ctx)
		require.NoError(t, err)
		return countOf(cs, "slack-a", rivertype.JobStateCompleted) == 2 && countOf(cs, "slack-b", rivertype.JobStateCompleted) == 1
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2, f.delivered("slack-a"))
	assert.Equal(t, 1, f.delivered("slack-b"))

	pending, err := ob.Pending(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, pending)
	notifytest.AssertNoSecret(t, h.dump(t, d), f.secrets()...)
}

func testIdempotent[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a", "slack-b")
	d := h.open(t, h.fresh(t))
	ob, err := outbox.New(context.Background(), d, f.testConfig()) // not started: jobs stay
	require.NoError(t, err)
	ctx := context.Background()

	first, err := ob.Enqueue(ctx, event("evt-1"), "slack-a", "slack-b", "slack-a")
	require.NoError(t, err)
	require.Len(t, first, 2, "the repeated ID in one call is dropped before River sees it")
	for _, r := range first {
		assert.False(t, r.Duplicate)
	}
	again, err := ob.Enqueue(ctx, event("evt-1"), "slack-a")
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.True(t, again[0].Duplicate)
	assert.Equal(t, first[0].JobID, again[0].JobID)

	// A changed title is the same delivery; a resolution is another.
	e := event("evt-1")
	e.Title = "edited"
	same, err := ob.Enqueue(ctx, e, "slack-b")
	require.NoError(t, err)
	assert.True(t, same[0].Duplicate)
	e.Status = notify.StatusResolved
	resolved, err := ob.Enqueue(ctx, e, "slack-a")
	require.NoError(t, err)
	assert.False(t, resolved[0].Duplicate)

	pending, err := ob.Pending(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, pending, 3)
	onlyA, err := ob.Pending(ctx, outbox.ListOptions{IntegrationID: "slack-a"})
	require.NoError(t, err)
	assert.Len(t, onlyA, 2)
	for _, j := range onlyA {
		assert.Equal(t, "slack-a", j.IntegrationID)
	}
	page, err := ob.Pending(ctx, outbox.ListOptions{Limit: 1, AfterID: pending[0].ID})
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, pending[1].ID, page[0].ID)
}

func testTransactional[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a")
	d := h.open(t, h.fresh(t))
	ob, err := outbox.New(context.Background(), d, f.testConfig())
	require.NoError(t, err)
	ctx := context.Background()

	tx, _, rollback := h.begin(ctx, d)
	res, err := ob.EnqueueTx(ctx, tx, event("evt-rolled-back"), "slack-a")
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, rollback())

	tx, commit, _ := h.begin(ctx, d)
	_, err = ob.EnqueueTx(ctx, tx, event("evt-committed"), "slack-a")
	require.NoError(t, err)
	require.NoError(t, commit())

	pending, err := ob.Pending(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "evt-committed", pending[0].Event.ID)
}

func testPermanent[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-ok", "slack-revoked")
	f.srv.RevokeCredentials(f.hooks["slack-revoked"])
	d := h.open(t, h.fresh(t))
	ob := start(t, d, f.testConfig())
	ctx := context.Background()

	_, err := ob.Enqueue(ctx, event("evt-1"), "slack-ok", "slack-revoked", "slack-deleted")
	require.NoError(t, err)
	var failed []outbox.Job
	require.Eventually(t, func() bool {
		failed, err = ob.Failed(ctx, outbox.ListOptions{})
		require.NoError(t, err)
		return len(failed) == 2
	}, 20*time.Second, 20*time.Millisecond)
	byID := map[string]outbox.Job{}
	for _, j := range failed {
		byID[j.IntegrationID] = j
		require.Len(t, j.Errors, 1, "a permanent error is never retried")
		assert.Equal(t, rivertype.JobStateCancelled, j.State)
		notifytest.AssertNoSecret(t, j.Errors[0].Error, f.secrets()...)
	}
	assert.Contains(t, byID["slack-revoked"].Errors[0].Error, "403")
	assert.Contains(t, byID["slack-deleted"].Errors[0].Error, "unknown integration")
	time.Sleep(300 * time.Millisecond) // several backoffs: still one request
	assert.Len(t, f.attempts("slack-revoked"), 1)
	assert.Equal(t, 1, f.delivered("slack-ok"))

	// The credential is fixed: Retry delivers it.
	f.srv.ClearFaults()
	f.mu.Lock()
	f.hooks["slack-revoked"] = notify.Secret(strings.Replace(f.hooks["slack-revoked"].Reveal(), "/B00000", "/B99999", 1))
	f.mu.Unlock()
	_, err = ob.Retry(ctx, byID["slack-revoked"].ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.delivered("slack-revoked") == 1 }, 20*time.Second, 20*time.Millisecond)

	// Discard drops the one that cannot be delivered.
	_, err = ob.Discard(ctx, byID["slack-deleted"].ID)
	require.NoError(t, err)
	failed, err = ob.Failed(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, failed)
	_, err = ob.Discard(ctx, byID["slack-deleted"].ID)
	require.ErrorIs(t, err, outbox.ErrNotFound)
	_, err = ob.Retry(ctx, 987654)
	require.ErrorIs(t, err, outbox.ErrNotFound)
	notifytest.AssertNoSecret(t, h.dump(t, d), f.secrets()...)
}

// testOutage: the destination answers 503 for longer than an attempt's
// timeout, then 429 with a Retry-After longer than that timeout too, then
// recovers: everything arrives, and no attempt comes before Retry-After.
func testOutage[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a", "slack-b", "slack-revoked")
	f.srv.RevokeCredentials(f.hooks["slack-revoked"])
	d := h.open(t, h.fresh(t))
	cfg := f.testConfig()
	cfg.AttemptTimeout = time.Second
	path := f.hookPath("slack-a")
	require.NoError(t, f.srv.Inject(notifytest.Fault{Path: path, Status: http.StatusServiceUnavailable, Times: 4}))
	require.NoError(t, f.srv.Inject(notifytest.Fault{Path: path, Status: http.StatusTooManyRequests, RetryAfter: "2", Times: 1}))
	ob := start(t, d, cfg)
	ctx := context.Background()
	began := time.Now()
	for _, id := range []string{"evt-1", "evt-2", "evt-3"} {
		_, err := ob.Enqueue(ctx, event(id), "slack-a", "slack-b", "slack-revoked")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return f.delivered("slack-a") == 3 && f.delivered("slack-b") == 3 },
		30*time.Second, 20*time.Millisecond)
	assert.Greater(t, time.Since(began), cfg.AttemptTimeout, "the outage outlasted any attempt's context")

	// After the 429 no attempt of the same job comes before Retry-After.
	// The other jobs of the integration wait too, once the worker has
	// recorded the wait; one already dispatched in the moment between the
	// answer and that record may still go, so they get a grace period.
	const grace = time.Second
	var limited *attemptLog
	limitedEvent := ""
	for _, a := range f.attempts("slack-a") {
		if limited != nil && a.start.After(limited.answer) && a.start.Before(limited.answer.Add(2*time.Second)) {
			after := a.start.Sub(limited.answer)
			if strings.Contains(a.body, limitedEvent) {
				t.Errorf("the limited job was attempted %v after its 429, before its Retry-After of 2s", after)
			} else if after > grace {
				t.Errorf("another job of the integration was attempted %v after the 429, before its Retry-After of 2s", after)
			}
		}
		if a.status == http.StatusTooManyRequests {
			limited = &a
			for _, id := range []string{"evt-1", "evt-2", "evt-3"} {
				if strings.Contains(a.body, "Alert "+id) {
					limitedEvent = "Alert " + id
				}
			}
			require.NotEmpty(t, limitedEvent, "the 429's request names its event")
		}
	}
	require.NotNil(t, limited, "the 429 was answered")
	require.Eventually(t, func() bool {
		cs, err := ob.Counts(ctx)
		require.NoError(t, err)
		return countOf(cs, "slack-a", rivertype.JobStateCompleted) == 3 &&
			countOf(cs, "slack-revoked", rivertype.JobStateCancelled) == 3
	}, 10*time.Second, 20*time.Millisecond)
	assert.Len(t, f.attempts("slack-revoked"), 3, "a permanent error is never retried, however long the outage")
	notifytest.AssertNoSecret(t, h.dump(t, d), f.secrets()...)
}

func testHorizon[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a")
	require.NoError(t, f.srv.Inject(notifytest.Fault{Status: http.StatusServiceUnavailable}))
	d := h.open(t, h.fresh(t))
	cfg := f.testConfig()
	cfg.Horizon = time.Second
	ob := start(t, d, cfg)
	ctx := context.Background()
	_, err := ob.Enqueue(ctx, event("evt-1"), "slack-a")
	require.NoError(t, err)
	var failed []outbox.Job
	require.Eventually(t, func() bool {
		failed, err = ob.Failed(ctx, outbox.ListOptions{})
		require.NoError(t, err)
		return len(failed) == 1
	}, 20*time.Second, 20*time.Millisecond)
	j := failed[0]
	require.Greater(t, len(j.Errors), 1, "retried until the horizon")
	assert.Len(t, f.attempts("slack-a"), len(j.Errors), "each attempt's error is kept")
	assert.Contains(t, j.Errors[len(j.Errors)-1].Error, "horizon")
	for _, e := range j.Errors {
		assert.Contains(t, e.Error, "503")
		notifytest.AssertNoSecret(t, e.Error, f.secrets()...)
	}
}

func testStop[TTx any](t *testing.T, h harness[TTx]) {
	f := newFakes(t, "slack-a")
	require.NoError(t, f.srv.Inject(notifytest.Fault{Delay: time.Minute, Times: 1}))
	loc := h.fresh(t)
	d := h.open(t, loc)
	cfg := f.testConfig()
	ob, err := outbox.New(context.Background(), d, cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, ob.Start(ctx))
	_, err = ob.Enqueue(ctx, event("evt-1"), "slack-a")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		p, err := ob.Pending(ctx, outbox.ListOptions{})
		require.NoError(t, err)
		return len(p) == 1 && p[0].State == rivertype.JobStateRunning
	}, 20*time.Second, 10*time.Millisecond)

	stopCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err = ob.Stop(stopCtx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 5*time.Second, "the held delivery was cancelled")
	p, err := ob.Pending(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	require.Len(t, p, 1)
	assert.Equal(t, rivertype.JobStateAvailable, p[0].State, "released for the next start")
	assert.Equal(t, 0, p[0].Attempts, "the interrupted attempt is not counted")
	require.ErrorIs(t, ob.Stop(ctx), outbox.ErrNotStarted)

	start(t, d, cfg)
	require.Eventually(t, func() bool { return f.delivered("slack-a") == 1 }, 20*time.Second, 20*time.Millisecond)
}

func testRefuses[TTx any](t *testing.T, h harness[TTx]) {
	d := h.open(t, h.fresh(t))
	ob, err := outbox.New(context.Background(), d, outbox.Config{})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = ob.Enqueue(ctx, notify.Event{ID: "bad id"}, "slack-a")
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	_, err = ob.Enqueue(ctx, event("evt-1"), "")
	require.ErrorAs(t, err, &ve)
	require.Error(t, ob.Start(ctx), "Start needs Resolve")
	p, err := ob.Pending(ctx, outbox.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, p)
}
