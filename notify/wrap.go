package notify

import "context"

// wrapped is what Retry and RateLimit share: the wrapped Notifier's
// identity, Validate and Close pass straight through, so that a wrapped
// integration still names itself, still reports what its Test proved, and
// still releases what it holds.
type wrapped struct {
	inner Notifier
}

// Validate checks the wrapped Notifier's configuration.
func (w wrapped) Validate() error { return w.inner.Validate() }

// Unwrap returns the wrapped Notifier.
func (w wrapped) Unwrap() Notifier { return w.inner }

// Type returns the wrapped integration's type, or "" when it has none.
func (w wrapped) Type() string {
	if n, ok := w.inner.(Named); ok {
		return n.Type()
	}
	return ""
}

// Name returns the wrapped integration's name, or "" when it has none.
func (w wrapped) Name() string {
	if n, ok := w.inner.(Named); ok {
		return n.Name()
	}
	return ""
}

// Close closes the wrapped Notifier when it has a Close method.
func (w wrapped) Close() error {
	if c, ok := w.inner.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// report returns the wrapped Notifier's report, running test for a
// Notifier that does not report its steps.
func (w wrapped) report(ctx context.Context, test func(context.Context) error) Report {
	if r, ok := w.inner.(Reporter); ok {
		return r.TestReport(ctx)
	}
	var rep Report
	rep.Check("test", test(ctx), "")
	return rep
}

// integration names the wrapped Notifier in an error the wrapper builds.
func (w wrapped) integration() string {
	if t := w.Type(); t != "" {
		return t
	}
	return "notify"
}
