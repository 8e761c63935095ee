// Package sqlite runs the outbox on one SQLite file, the embedded default:
// River's riversqlite driver over the pure-Go modernc.org/sqlite (no cgo).
//
//	d, err := sqlite.Open("alerts.db")
//	ob, err := outbox.New(ctx, d, outbox.Config{Resolve: resolve})
//
// One process delivers from a file at a time: Start takes an exclusive lock
// on FILE.lock, and with it makes the jobs a crashed process left running
// available at once. Other processes (a CLI listing failed jobs, a handler
// that only enqueues) may open the file without starting.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/codedefender/integrations/outbox/internal/counts"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/codedefender/integrations/outbox"
)

// BusyTimeout is how long a statement waits for another connection's write
// before failing with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// Driver is the outbox's SQLite driver.
type Driver struct {
	db    *sql.DB
	river *riversqlite.Driver
	owned bool
}

var _ outbox.Driver[*sql.Tx] = (*Driver)(nil)

// Open opens (creating it if needed) the SQLite file at path with what River
// needs: WAL journaling, a busy timeout and a single connection (SQLite has
// one writer; more connections only trade waiting for SQLITE_BUSY errors).
// Close closes it.
func Open(path string) (*Driver, error) {
	if path == "" {
		return nil, errors.New("outbox/sqlite: Open needs a file path")
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("outbox/sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox/sqlite: open %s: %w", path, err)
	}
	d := New(db)
	d.owned = true
	return d, nil
}

// New uses the caller's database handle, which must be configured as Open
// configures its own (SetMaxOpenConns(1), WAL, a busy timeout), and which
// the caller closes. Transactions given to EnqueueTx come from it.
func New(db *sql.DB) *Driver {
	return &Driver{db: db, river: riversqlite.New(db)}
}

// DB returns the database handle, for the caller's own transactions.
func (d *Driver) DB() *sql.DB { return d.db }

// River returns River's SQLite driver.
func (d *Driver) River() riverdriver.Driver[*sql.Tx] { return d.river }

// Name returns "sqlite".
func (d *Driver) Name() string { return "sqlite" }

// Close closes the database if Open opened it.
func (d *Driver) Close() error {
	if !d.owned {
		return nil
	}
	return d.db.Close()
}

const limiterTable = "codedefender_outbox_rate_limit"

// Migrate creates the rate limiter's table.
func (d *Driver) Migrate(ctx context.Context) error {
	_, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+limiterTable+` (
		key TEXT PRIMARY KEY NOT NULL,
		next_at INTEGER NOT NULL -- Unix microseconds
	) WITHOUT ROWID`)
	return err
}

// TakeSlot takes key's slot when it is free, in one statement: the row's
// next_at moves interval ahead only when it has passed.
func (d *Driver) TakeSlot(ctx context.Context, key string, interval time.Duration) (time.Duration, error) {
	now := time.Now().UnixMicro()
	if interval <= 0 {
		return d.heldFor(ctx, key, now)
	}
	next := now + interval.Microseconds()
	var got int64
	err := d.db.QueryRowContext(ctx, `INSERT INTO `+limiterTable+` (key, next_at) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET next_at = ?2 WHERE `+limiterTable+`.next_at <= ?3
		RETURNING next_at`, key, next, now).Scan(&got)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	wait, err := d.heldFor(ctx, key, now)
	return max(wait, time.Millisecond), err
}

// heldFor returns how long until key's slot frees (0 when it is free).
func (d *Driver) heldFor(ctx context.Context, key string, now int64) (time.Duration, error) {
	var at int64
	err := d.db.QueryRowContext(ctx, `SELECT next_at FROM `+limiterTable+` WHERE key = ?1`, key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) || err == nil && at <= now {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return time.Duration(at-now) * time.Microsecond, nil
}

// Hold pushes key's next slot to at least d from now.
func (d *Driver) Hold(ctx context.Context, key string, wait time.Duration) error {
	until := time.Now().Add(wait).UnixMicro()
	_, err := d.db.ExecContext(ctx, `INSERT INTO `+limiterTable+` (key, next_at) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET next_at = max(next_at, ?2)`, key, until)
	return err
}

// ArgsField reads a string field of a job's args.
func (d *Driver) ArgsField(name string) string { return "json_extract(args, '$." + name + "')" }

// Counts counts jobs of kind per integration and state.
func (d *Driver) Counts(ctx context.Context, kind string) ([]outbox.Count, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT json_extract(args, '$.integration_id'), state, count(*)
		FROM river_job WHERE kind = ?1 GROUP BY 1, 2`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return counts.Scan(rows)
}

// Acquire takes the exclusive lock on the database file's FILE.lock,
// failing at once when another process holds it, and then makes every
// outbox job left running available: with the lock held, no other process
// can be running them, so they belong to a process that died mid-delivery.
// An in-memory database needs no lock.
func (d *Driver) Acquire(ctx context.Context) (func(), error) {
	var seq int
	var name, file string
	if err := d.db.QueryRowContext(ctx, `SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'`).Scan(&seq, &name, &file); err != nil {
		return nil, fmt.Errorf("outbox/sqlite: %w", err)
	}
	release := func() {}
	if file != "" {
		r, err := lockFile(file + ".lock")
		if err != nil {
			return nil, fmt.Errorf("outbox/sqlite: another process is delivering from %s: %w", file, err)
		}
		release = r
	}
	if _, err := d.db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running' AND kind = ?1`, outbox.Kind); err != nil {
		release()
		return nil, fmt.Errorf("outbox/sqlite: release the jobs of a dead process: %w", err)
	}
	return release, nil
}
