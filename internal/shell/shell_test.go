package shell_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/shell"
	"github.com/codedefender/integrations/notify"
)

type config struct{ err error }

func (c config) Validate() error { return c.err }

func TestShell(t *testing.T) {
	bad := errors.New("bad config")
	failed := errors.New("step failed")
	closes := 0
	s := shell.New("demo", "SOC", config{err: bad}, func(context.Context) notify.Report {
		var r notify.Report
		r.Pass("first", "passed")
		r.Fail("second", failed)
		return r
	}, func() error { closes++; return nil })

	require.Equal(t, "demo", s.Type())
	require.Equal(t, "SOC", s.Name())
	require.Equal(t, `demo("SOC")`, fmt.Sprintf("%#v", s))
	require.ErrorIs(t, s.Validate(), bad, "Validate is the Config's")
	require.ErrorIs(t, s.Test(context.Background()), failed, "Test is the report's first failure")
	require.NoError(t, s.Close())
	require.Equal(t, 1, closes)
}

func TestZeroShell(t *testing.T) {
	var s shell.Shell[config]
	require.ErrorContains(t, s.Test(context.Background()), "built with")
	require.NoError(t, s.Close(), "nothing to release")
}
