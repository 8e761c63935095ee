package outboxcli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/outbox/internal/pgtest"
	"github.com/codedefender/integrations/outbox/outboxcli"
	"github.com/codedefender/integrations/outbox/postgres"
	"github.com/codedefender/integrations/outbox/sqlite"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = outboxcli.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func event(id string) notify.Event {
	return notify.Event{ID: id, Type: notify.EventIncident, Title: "Alert " + id, Risk: notify.RiskHigh,
		Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
}

// seed delivers evt-1 to "ok", fails it for good to "gone" (Resolve does
// not know it), and leaves evt-2 for "ok" pending; it returns the failed
// job's ID and the pending one's.
func seed[TTx any](t *testing.T, d outbox.Driver[TTx]) (failed, pending int64) {
	ctx := context.Background()
	rec := notifytest.NewRecorder()
	ob, err := outbox.New(ctx, d, outbox.Config{
		PollInterval: 50 * time.Millisecond,
		Resolve: func(_ context.Context, id string) (notify.Notifier, error) {
			if id == "ok" {
				return rec, nil
			}
			return nil, fmt.Errorf("%w: %s", outbox.ErrUnknownIntegration, id)
		}})
	require.NoError(t, err)
	_, err = ob.Enqueue(ctx, event("evt-1"), "ok", "gone")
	require.NoError(t, err)
	require.NoError(t, ob.Start(ctx))
	var f []outbox.Job
	require.Eventually(t, func() bool {
		f, err = ob.Failed(ctx, outbox.ListOptions{})
		require.NoError(t, err)
		return len(f) == 1 && len(rec.Events()) == 1
	}, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, ob.Stop(ctx))
	res, err := ob.Enqueue(ctx, event("evt-2"), "ok")
	require.NoError(t, err)
	return f[0].ID, res[0].JobID
}

func testCommands(t *testing.T, db string, failed, pending int64) {
	code, out, errs := run(t, "list", "--db", db)
	require.Equal(t, outboxcli.ExitOK, code, errs)
	assert.Contains(t, out, "JOB")
	assert.Contains(t, out, fmt.Sprintf("%d  ", failed))
	assert.Contains(t, out, "cancelled")
	assert.Contains(t, out, "unknown integration")
	assert.Contains(t, out, "available")
	assert.NotContains(t, out, "completed", "delivered jobs are not listed")

	code, out, _ = run(t, "list", "--db", db, "--failed", "--json")
	require.Equal(t, outboxcli.ExitOK, code)
	var jobs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &jobs))
	require.Len(t, jobs, 1)
	assert.Equal(t, "gone", jobs[0]["integration_id"])
	assert.Equal(t, float64(failed), jobs[0]["id"])

	code, out, _ = run(t, "list", "--db", db, "--counts")
	require.Equal(t, outboxcli.ExitOK, code)
	assert.Regexp(t, `gone\s+cancelled\s+1`, out)
	assert.Regexp(t, `ok\s+available\s+1`, out)
	assert.Regexp(t, `ok\s+completed\s+1`, out)

	code, out, _ = run(t, "retry", "--db", db, fmt.Sprint(failed))
	require.Equal(t, outboxcli.ExitOK, code)
	assert.Equal(t, fmt.Sprintf("retrying job %d: event evt-1 to gone\n", failed), out)
	code, out, _ = run(t, "list", "--db", db, "--failed")
	require.Equal(t, outboxcli.ExitOK, code)
	assert.Equal(t, "no deliveries pending or failed\n", out)

	code, out, _ = run(t, "discard", "--db", db, fmt.Sprint(failed), fmt.Sprint(pending))
	require.Equal(t, outboxcli.ExitOK, code)
	assert.Equal(t, 2, strings.Count(out, "discarded job"))
	code, out, _ = run(t, "list", "--db", db)
	require.Equal(t, outboxcli.ExitOK, code)
	assert.Equal(t, "no deliveries pending or failed\n", out)

	code, _, errs = run(t, "retry", "--db", db, fmt.Sprint(failed))
	assert.Equal(t, outboxcli.ExitError, code)
	assert.Contains(t, errs, "no such job")
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	d, err := sqlite.Open(path)
	require.NoError(t, err)
	failed, pending := seed(t, d)
	require.NoError(t, d.Close())
	testCommands(t, "sqlite:"+path, failed, pending)
}

func TestPostgres(t *testing.T) {
	url := pgtest.Database(t)
	d, err := postgres.Open(context.Background(), url)
	require.NoError(t, err)
	failed, pending := seed(t, d)
	require.NoError(t, d.Close())
	testCommands(t, url, failed, pending)
}

func TestUsage(t *testing.T) {
	missing := "sqlite:" + filepath.Join(t.TempDir(), "none.db")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{nil, outboxcli.ExitUsage, "usage: outbox"},
		{[]string{"help"}, outboxcli.ExitOK, "usage: outbox"},
		{[]string{"frobnicate"}, outboxcli.ExitUsage, `unknown command "frobnicate"`},
		{[]string{"list"}, outboxcli.ExitUsage, "--db is required"},
		{[]string{"retry", "--db", missing}, outboxcli.ExitUsage, "at least one job ID"},
		{[]string{"retry", "--db", missing, "x1"}, outboxcli.ExitUsage, `unexpected argument "x1"`},
		{[]string{"list", "--db", missing, "--bogus"}, outboxcli.ExitUsage, "flag provided but not defined"},
		{[]string{"list", "--db", missing}, outboxcli.ExitError, "no outbox at"},
		{[]string{"list", "--db", "mysql://x"}, outboxcli.ExitError, "sqlite:FILE or a postgres:// URL"},
	} {
		code, _, errs := run(t, c.args...)
		assert.Equal(t, c.code, code, "%v", c.args)
		assert.Contains(t, errs, c.says, "%v", c.args)
	}
}
