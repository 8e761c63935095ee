package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/outbox"
	"github.com/codedefender/integrations/outbox/internal/pgtest"
	"github.com/codedefender/integrations/outbox/postgres"
	"github.com/codedefender/integrations/outbox/sqlite"
	"github.com/codedefender/integrations/slack"
	"github.com/codedefender/integrations/slack/slacktest"
)

// harness is one database the same suite runs on.
type harness[TTx any] struct {
	name string
	// fresh returns the location of a new, empty database: a file path or
	// a URL.
	fresh func(t testing.TB) string
	// open opens a driver on loc, closed at the end of the test.
	open func(t testing.TB, loc string) outbox.Driver[TTx]
	// begin starts a transaction of the caller's on d.
	begin func(ctx context.Context, d outbox.Driver[TTx]) (tx TTx, commit, rollback func() error)
	// dump returns every row of every table as text.
	dump func(t testing.TB, d outbox.Driver[TTx]) string
}

func sqliteHarness() harness[*sql.Tx] {
	return harness[*sql.Tx]{
		name:  "sqlite",
		fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "outbox.db") },
		open: func(t testing.TB, loc string) outbox.Driver[*sql.Tx] {
			d, err := sqlite.Open(loc)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, d.Close()) })
			return d
		},
		begin: func(ctx context.Context, d outbox.Driver[*sql.Tx]) (*sql.Tx, func() error, func() error) {
			tx, err := d.(*sqlite.Driver).DB().BeginTx(ctx, nil)
			if err != nil {
				panic(err)
			}
			return tx, tx.Commit, tx.Rollback
		},
		dump: func(t testing.TB, d outbox.Driver[*sql.Tx]) string {
			db := d.(*sqlite.Driver).DB()
			rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
			require.NoError(t, err)
			var tables []string
			for rows.Next() {
				var n string
				require.NoError(t, rows.Scan(&n))
				tables = append(tables, n)
			}
			require.NoError(t, rows.Close())
			var b strings.Builder
			for _, tbl := range tables {
				dumpRows(t, &b, tbl, func() (*sql.Rows, error) { return db.Query(`SELECT * FROM "` + tbl + `"`) })
			}
			return b.String()
		},
	}
}

func dumpRows(t testing.TB, b *strings.Builder, table string, query func() (*sql.Rows, error)) {
	rows, err := query()
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		fmt.Fprintf(b, "%s:", table)
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(b, " %v", v)
		}
		b.WriteString("\n")
	}
	require.NoError(t, rows.Err())
}

func postgresHarness() harness[pgx.Tx] {
	return harness[pgx.Tx]{
		name:  "postgres",
		fresh: func(t testing.TB) string { return pgtest.Database(t) },
		open: func(t testing.TB, loc string) outbox.Driver[pgx.Tx] {
			d, err := postgres.Open(context.Background(), loc)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, d.Close()) })
			return d
		},
		begin: func(ctx context.Context, d outbox.Driver[pgx.Tx]) (pgx.Tx, func() error, func() error) {
			tx, err := d.(*postgres.Driver).Pool().Begin(ctx)
			if err != nil {
				panic(err)
			}
			return tx, func() error { return tx.Commit(ctx) }, func() error { return tx.Rollback(ctx) }
		},
		dump: func(t testing.TB, d outbox.Driver[pgx.Tx]) string {
			ctx := context.Background()
			pool := d.(*postgres.Driver).Pool()
			rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
			require.NoError(t, err)
			tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			var b strings.Builder
			for _, tbl := range tables {
				rows, err := pool.Query(ctx, `SELECT t::text FROM "`+tbl+`" t`)
				require.NoError(t, err)
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				require.NoError(t, err)
				for _, l := range lines {
					fmt.Fprintf(&b, "%s: %s\n", tbl, l)
				}
			}
			return b.String()
		},
	}
}

// fakes is the Slack fake and a set of Slack integrations on it, with a
// Resolve over them and a client-side log of every request's timing.
type fakes struct {
	srv   *notifytest.Server
	mu    sync.Mutex
	hooks map[string]notify.Secret
	log   []attemptLog
}

type attemptLog struct {
	path          string
	body          string // the request's body, which names the event
	start, answer time.Time
	status        int
}

func newFakes(t testing.TB, ids ...string) *fakes {
	f := &fakes{srv: notifytest.NewServer(t, slacktest.New()), hooks: map[string]notify.Secret{}}
	for i, id := range ids {
		f.hooks[id] = notify.Secret(fmt.Sprintf("https://hooks.slack.com/services/T00000%03d/B00000%03d/%s", i, i, strings.Repeat(string(rune('a'+i%26)), 24)))
	}
	return f
}

// hookPath is the path the fake sees for integration id.
func (f *fakes) hookPath(id string) string {
	return strings.TrimPrefix(f.hooks[id].Reveal(), "https://hooks.slack.com")
}

func (f *fakes) secrets() []notify.Secret {
	var s []notify.Secret
	for _, v := range f.hooks {
		s = append(s, v)
	}
	return s
}

func (f *fakes) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	var body []byte
	if r.GetBody != nil {
		if rc, err := r.GetBody(); err == nil {
			body, _ = io.ReadAll(rc)
			_ = rc.Close()
		}
	}
	resp, err := f.srv.Client().Transport.RoundTrip(r)
	l := attemptLog{path: r.URL.Path, body: string(body), start: start, answer: time.Now()}
	if resp != nil {
		l.status = resp.StatusCode
	}
	f.mu.Lock()
	f.log = append(f.log, l)
	f.mu.Unlock()
	return resp, err
}

// attempts returns the requests made to integration id, in order.
func (f *fakes) attempts(id string) []attemptLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []attemptLog
	for _, l := range f.log {
		if l.path == f.hookPath(id) {
			out = append(out, l)
		}
	}
	return out
}

func (f *fakes) delivered(id string) int {
	n := 0
	for _, a := range f.attempts(id) {
		if a.status == http.StatusOK {
			n++
		}
	}
	return n
}

func (f *fakes) resolve(ctx context.Context, id string) (notify.Notifier, error) {
	f.mu.Lock()
	hook, ok := f.hooks[id]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", outbox.ErrUnknownIntegration, id)
	}
	return slack.New(slack.Config{Name: id, WebhookURL: hook},
		notify.WithHTTPClient(&http.Client{Transport: f}), notify.WithTimeout(5*time.Second))
}

// testConfig is a Config that retries quickly and has no rate limit.
func (f *fakes) testConfig() outbox.Config {
	return outbox.Config{
		Resolve:        f.resolve,
		Workers:        4,
		PollInterval:   50 * time.Millisecond,
		BackoffBase:    50 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
		AttemptTimeout: 10 * time.Second,
		RateLimits:     map[string]time.Duration{"slack": 0, "pagerduty": 0},
	}
}

// start opens an outbox on d, starts it and stops it at the end of t.
func start[TTx any](t *testing.T, d outbox.Driver[TTx], cfg outbox.Config) *outbox.Outbox[TTx] {
	t.Helper()
	ob, err := outbox.New(context.Background(), d, cfg)
	require.NoError(t, err)
	require.NoError(t, ob.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ob.Stop(ctx); err != nil && err != outbox.ErrNotStarted {
			t.Errorf("stop: %v", err)
		}
	})
	return ob
}

func event(id string) notify.Event {
	return notify.Event{ID: id, Type: notify.EventIncident, Title: "Alert " + id, Risk: notify.RiskHigh,
		Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
}

// countOf returns the number of id's jobs in state.
func countOf(cs []outbox.Count, id string, state outbox.State) int64 {
	for _, c := range cs {
		if c.IntegrationID == id && c.State == state {
			return c.Jobs
		}
	}
	return 0
}
