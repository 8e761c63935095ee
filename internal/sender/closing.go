package sender

import (
	"sync/atomic"

	"github.com/codedefender/integrations/notify"
)

// Closing is the Close contract every destination's Notifier keeps: Close
// may be called more than once and releases what the Notifier holds the
// first time; afterwards every Send and Test fails with a permanent error
// and reaches nothing. Its zero value is open.
type Closing struct {
	closed atomic.Bool
}

// Close marks the Notifier closed and runs release the first time only,
// returning its error; a later Close returns nil.
func (c *Closing) Close(release func() error) error {
	if c.closed.Swap(true) || release == nil {
		return nil
	}
	return release()
}

// Closed returns the error of a call to a closed Notifier, or nil while it
// is open.
func (c *Closing) Closed(errs *Errors, op string) *notify.Error {
	if !c.closed.Load() {
		return nil
	}
	return errs.Errorf(op, notify.ErrRejected, false, "the notifier is closed")
}
