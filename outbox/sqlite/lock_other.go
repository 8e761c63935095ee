//go:build !unix

package sqlite

import "errors"

// lockFile is not available off Unix: the outbox then refuses to start on
// a file, since it could not tell a dead process's jobs from a live one's.
func lockFile(string) (func(), error) {
	return nil, errors.New("file locks are only implemented on Unix")
}
