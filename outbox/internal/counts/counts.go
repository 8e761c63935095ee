// Package counts reads the rows of a driver's count query, the same on
// PostgreSQL (pgx) and SQLite (database/sql).
package counts

import "github.com/codedefender/integrations/outbox"

// Rows is what pgx.Rows and *sql.Rows have in common.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Scan reads rows of (integration ID, state, jobs).
func Scan(rows Rows) ([]outbox.Count, error) {
	var cs []outbox.Count
	for rows.Next() {
		var c outbox.Count
		var state string
		if err := rows.Scan(&c.IntegrationID, &state, &c.Jobs); err != nil {
			return nil, err
		}
		c.State = outbox.State(state)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}
