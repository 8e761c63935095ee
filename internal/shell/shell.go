// Package shell is the part of a destination's Notifier that is the same in
// all ten: its identity, Validate, Test as the verdict of TestReport, and
// the Close contract. Each destination embeds a Shell and keeps only what is
// its own (its Config, its client, TestReport and Send).
package shell

import (
	"context"
	"errors"
	"io"

	"github.com/codedefender/integrations/internal/identity"
	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/notify"
)

// Config is what every destination's Config is: checkable offline.
type Config interface {
	Validate() error
}

// Shell is embedded by every destination's Notifier. It prints as
// "type(name)" with any fmt verb (never the config or a client), and
// gives the Notifier Type, Name, Validate, Test and Close.
type Shell[C Config] struct {
	identity.Identity
	cfg     C
	report  func(context.Context) notify.Report
	release func() error
}

// New returns the Shell of a Notifier of type typ named name, built from c:
// Test returns the verdict of report (the Notifier's TestReport), and Close
// runs release, which must be idempotent and make every later call of the
// Notifier fail (sender.Sender.Close and sender.Closing.Close are).
func New[C Config](typ, name string, c C, report func(context.Context) notify.Report, release func() error) Shell[C] {
	return Shell[C]{Identity: identity.New(typ, name), cfg: c, report: report, release: release}
}

// HTTP returns the Shell of a Notifier that speaks HTTP through s: Close
// closes s.
func HTTP[C Config](typ, name string, c C, s *sender.Sender, report func(context.Context) notify.Report) Shell[C] {
	return New(typ, name, c, report, s.Close)
}

// Notifier is what every destination's Notifier is: a notify.Notifier
// that reports its Test step by step, names itself, and closes. Build
// requires it of what it builds, so a Notifier that lost one of these does
// not compile.
type Notifier interface {
	notify.Notifier
	notify.Reporter
	notify.Named
	io.Closer
}

// Build is the frame of a destination's New: it validates c, so that no
// Notifier exists for an invalid Config, applies opts, and returns what
// build makes of them.
func Build[C Config, N Notifier](c C, opts []notify.Option, build func(settings.Settings) (N, error)) (N, error) {
	return Compile(func() (struct{}, error) { return struct{}{}, c.Validate() }, opts,
		func(_ struct{}, s settings.Settings) (N, error) { return build(s) })
}

// Compile is Build for a Config whose Validate and New share one parsing
// step: compile validates the Config and returns what New needs of it, so
// New has no error branch that Validate already ruled out.
func Compile[K any, N Notifier](compile func() (K, error), opts []notify.Option, build func(K, settings.Settings) (N, error)) (N, error) {
	k, err := compile()
	if err != nil {
		var zero N
		return zero, err
	}
	return build(k, settings.Apply(opts...))
}

// Validate checks the Notifier's configuration offline, as its
// Config.Validate does: the same *notify.ValidationError, no network call.
func (s *Shell[C]) Validate() error { return s.cfg.Validate() }

// Test runs the Notifier's TestReport and returns the error of its first
// failed check: nil when every check passed, warned or was skipped.
func (s *Shell[C]) Test(ctx context.Context) error {
	if s.report == nil {
		return errNotBuilt
	}
	return s.report(ctx).Err()
}

// errNotBuilt is what Test returns on a Notifier that New did not make.
var errNotBuilt = errors.New("a Notifier must be built with its package's New")

// Close releases what the Notifier holds for itself (idle connections of
// the HTTP client it made, a storage client); a client given with
// notify.WithHTTPClient, or a destination's own client option, stays the
// caller's. Every destination's Notifier has Close, so all are io.Closers.
// It may be called more than once; afterwards every Send, Test and other
// call fails with a permanent error (notify.ErrRejected) and reaches
// nothing.
func (s *Shell[C]) Close() error {
	if s.release == nil {
		return nil
	}
	return s.release()
}
