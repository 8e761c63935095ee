// Package postgres runs the outbox on PostgreSQL, for many processes on
// many machines sharing one queue: River's riverpgxv5 driver over
// github.com/jackc/pgx/v5.
//
//	d, err := postgres.Open(ctx, "postgres://outbox@db/alerts")
//	ob, err := outbox.New(ctx, d, outbox.Config{Resolve: resolve})
//
// Every process may Start: River elects a leader among them, and its
// rescuer gives the jobs of a process that died mid-delivery to another
// after Config.RescueAfter.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codedefender/integrations/outbox/internal/counts"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/codedefender/integrations/outbox"
)

// Driver is the outbox's PostgreSQL driver.
type Driver struct {
	pool  *pgxpool.Pool
	river *riverpgxv5.Driver
	owned bool
}

var _ outbox.Driver[pgx.Tx] = (*Driver)(nil)

// Open connects a pool to the database at url (a postgres:// URL or a
// key=value DSN). Close closes it.
func Open(ctx context.Context, url string) (*Driver, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("outbox/postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("outbox/postgres: %w", err)
	}
	d := New(pool)
	d.owned = true
	return d, nil
}

// New uses the caller's pool, which the caller closes. Transactions given
// to EnqueueTx come from it.
func New(pool *pgxpool.Pool) *Driver {
	return &Driver{pool: pool, river: riverpgxv5.New(pool)}
}

// Pool returns the pool, for the caller's own transactions.
func (d *Driver) Pool() *pgxpool.Pool { return d.pool }

// River returns River's pgx driver.
func (d *Driver) River() riverdriver.Driver[pgx.Tx] { return d.river }

// Name returns "postgres".
func (d *Driver) Name() string { return "postgres" }

// Close closes the pool if Open opened it.
func (d *Driver) Close() error {
	if d.owned {
		d.pool.Close()
	}
	return nil
}

const limiterTable = "codedefender_outbox_rate_limit"

// Migrate creates the rate limiter's table.
func (d *Driver) Migrate(ctx context.Context) error {
	_, err := d.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+limiterTable+` (
		key text PRIMARY KEY,
		next_at timestamptz NOT NULL
	)`)
	return err
}

// TakeSlot takes key's slot when it is free, in one statement on the
// database's clock (clock_timestamp, not the transaction's now), so that
// machines whose clocks differ still share one limit.
func (d *Driver) TakeSlot(ctx context.Context, key string, interval time.Duration) (time.Duration, error) {
	if interval <= 0 {
		return d.heldFor(ctx, key)
	}
	micros := interval.Microseconds()
	var one int
	err := d.pool.QueryRow(ctx, `INSERT INTO `+limiterTable+` AS r (key, next_at)
		VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET next_at = clock_timestamp() + $2 * interval '1 microsecond'
		WHERE r.next_at <= clock_timestamp()
		RETURNING 1`, key, micros).Scan(&one)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	wait, err := d.heldFor(ctx, key)
	return max(wait, time.Millisecond), err
}

// heldFor returns how long until key's slot frees (0 when it is free).
func (d *Driver) heldFor(ctx context.Context, key string) (time.Duration, error) {
	var wait int64
	err := d.pool.QueryRow(ctx, `SELECT (extract(epoch FROM next_at - clock_timestamp()) * 1000000)::bigint
		FROM `+limiterTable+` WHERE key = $1`, key).Scan(&wait)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return max(time.Duration(wait)*time.Microsecond, 0), nil
}

// Hold pushes key's next slot to at least d from now.
func (d *Driver) Hold(ctx context.Context, key string, wait time.Duration) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO `+limiterTable+` AS r (key, next_at)
		VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET next_at = greatest(r.next_at, excluded.next_at)`, key, wait.Microseconds())
	return err
}

// ArgsField reads a string field of a job's args.
func (d *Driver) ArgsField(name string) string { return "args->>'" + name + "'" }

// Counts counts jobs of kind per integration and state.
func (d *Driver) Counts(ctx context.Context, kind string) ([]outbox.Count, error) {
	rows, err := d.pool.Query(ctx, `SELECT args->>'integration_id', state::text, count(*)
		FROM river_job WHERE kind = $1 GROUP BY 1, 2`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return counts.Scan(rows)
}

// Acquire does nothing: any number of processes work one PostgreSQL
// queue, and River's rescuer recovers the jobs of a dead one.
func (d *Driver) Acquire(context.Context) (func(), error) { return func() {}, nil }
