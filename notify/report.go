package notify

import (
	"context"
	"encoding/json"
	"errors"
)

// CheckStatus is the outcome of one step of a Test.
type CheckStatus string

// The outcomes of a check. A warning is something the destination's
// credentials cannot prove without raising an alert: a console shows it,
// but it does not fail the Test.
const (
	CheckPassed  CheckStatus = "passed"
	CheckWarning CheckStatus = "warning"
	CheckFailed  CheckStatus = "failed"
	CheckSkipped CheckStatus = "skipped"
)

// Check is one named step of a Test: what was checked, how it went, and a
// sentence a console can show.
type Check struct {
	// Name says what the step checks, e.g. "the token belongs to reporter_email".
	Name string
	// Status is the outcome.
	Status CheckStatus
	// Detail is a sentence for a person: what was proven, what could not
	// be, or why the step was skipped. For a failed check it is the error's
	// message.
	Detail string
	// Err is the error of a failed check (an *Error or a
	// *ValidationError), nil otherwise.
	Err error
}

type checkJSON struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// MarshalJSON writes {"name", "status", "detail", "error"}; the error is
// its message, which the library has already scrubbed of secrets.
func (c Check) MarshalJSON() ([]byte, error) {
	j := checkJSON{Name: c.Name, Status: c.Status, Detail: c.Detail}
	if c.Err != nil {
		j.Error = c.Err.Error()
	}
	return json.Marshal(j)
}

// Report is what a Test proved, one Check per step, in the order they ran.
type Report struct {
	Checks []Check `json:"checks"`
}

// Reporter is implemented by every destination's Notifier: TestReport runs
// the same steps as Test and says what each proved. Test returns
// TestReport(ctx).Err().
type Reporter interface {
	TestReport(ctx context.Context) Report
}

// Err returns the error of the first failed check, or nil when none
// failed (warnings and skipped steps do not fail a Test).
func (r Report) Err() error {
	for _, c := range r.Checks {
		if c.Status != CheckFailed {
			continue
		}
		if c.Err != nil {
			return c.Err
		}
		return errors.New(c.Name + ": " + c.Detail)
	}
	return nil
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Err() != nil }

// Warnings returns the checks that ended with a warning.
func (r Report) Warnings() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == CheckWarning {
			out = append(out, c)
		}
	}
	return out
}

// Pass records a passed check.
func (r *Report) Pass(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: CheckPassed, Detail: detail})
}

// Warn records a check that could not be proven without side effects.
func (r *Report) Warn(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: CheckWarning, Detail: detail})
}

// Skip records a check that did not run, and why (usually: an earlier
// check failed).
func (r *Report) Skip(name, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Status: CheckSkipped, Detail: detail})
}

// SkipAll records each of the named checks as skipped for the same reason:
// the steps after one that failed.
func (r *Report) SkipAll(detail string, names ...string) {
	for _, name := range names {
		r.Skip(name, detail)
	}
}

// Fail records a failed check with its error; it returns false so that a
// step can end with "return r.Fail(...)".
func (r *Report) Fail(name string, err error) bool {
	c := Check{Name: name, Status: CheckFailed, Err: err}
	if err != nil {
		c.Detail = err.Error()
	}
	r.Checks = append(r.Checks, c)
	return false
}

// Check runs err through the report: nil records a passed check with
// detail, anything else a failed one. It returns whether the check passed.
func (r *Report) Check(name string, err error, detail string) bool {
	if err != nil {
		return r.Fail(name, err)
	}
	r.Pass(name, detail)
	return true
}
