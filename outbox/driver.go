package outbox

import (
	"context"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// Driver is a database the outbox runs on: River's driver for it and the
// few statements the outbox needs beyond River's (the shared rate limiter,
// counts, crash recovery). It is implemented by the subpackages
// outbox/sqlite (the embedded default) and outbox/postgres (many
// processes, many machines); each imports only its own database driver.
// TTx is the database's transaction type, which EnqueueTx takes: *sql.Tx
// for SQLite, pgx.Tx for PostgreSQL.
type Driver[TTx any] interface {
	// River returns River's driver over the same database.
	River() riverdriver.Driver[TTx]
	// Name is the database's name for messages: "sqlite" or "postgres".
	Name() string
	// Migrate creates the outbox's own tables (River's tables are migrated
	// by the outbox with rivermigrate). It is idempotent.
	Migrate(ctx context.Context) error
	// TakeSlot takes the next delivery slot of key if it is free, in one
	// statement shared by every process on the database, and makes the
	// following slot free interval later. It returns 0 when the slot was
	// taken, and otherwise how long until it frees.
	// With interval <= 0 it only reads whether key is held (Hold).
	TakeSlot(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
	// Hold makes key's next slot no earlier than d from now, for every
	// process: a destination's Retry-After holds the whole integration.
	Hold(ctx context.Context, key string, d time.Duration) error
	// ArgsField returns the SQL expression that reads the string field name
	// of a job's args, for filters in River's JobListParams.Where.
	ArgsField(name string) string
	// Counts returns the number of jobs of kind per integration ID and
	// River state.
	Counts(ctx context.Context, kind string) ([]Count, error)
	// Acquire is called when the outbox starts working. A driver that can
	// prove no other process works the same database (SQLite's exclusive
	// lock on the file) takes that proof and makes the jobs left running by
	// a dead process available at once; release gives the proof back.
	Acquire(ctx context.Context) (release func(), err error)
	// Close releases what the driver opened itself (never a pool or
	// database handle the caller passed in).
	Close() error
}
