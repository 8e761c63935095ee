package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which only the
		// GCS emulator imports: it lives as long as the process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// row is one parsed line of the table.
type row struct {
	name, typ, validate, test, checks, send, receipt, resolve, resolved string
	took                                                                time.Duration
}

// columns splits a table line: tabwriter pads with two spaces or more, and
// no cell holds two spaces in a row.
var columns = regexp.MustCompile(`\s{2,}`)

// parseTable finds the table in out and returns its rows.
func parseTable(t *testing.T, out string) []row {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "INTEGRATION") {
			start = i
			break
		}
	}
	require.GreaterOrEqual(t, start, 0, "no table header in:\n%s", out)
	require.Equal(t, []string{"INTEGRATION", "TYPE", "VALIDATE", "TEST", "CHECKS", "SEND", "RECEIPT", "RESOLVE", "RESOLVED RECEIPT", "TIME"},
		columns.Split(strings.TrimSpace(lines[start]), -1))
	var rows []row
	for _, l := range lines[start+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		cells := columns.Split(strings.TrimSpace(l), -1)
		require.Len(t, cells, 10, "row %q", l)
		took, err := time.ParseDuration(cells[9])
		require.NoError(t, err, "row %q", l)
		rows = append(rows, row{cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], cells[8], took})
	}
	return rows
}

func TestRunPassesEveryIntegration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))

	rows := parseTable(t, out.String())
	require.Len(t, rows, 10, out.String())
	var types []string
	for _, r := range rows {
		types = append(types, r.typ)
		require.Equal(t, []string{"ok", "ok", "ok", "ok"}, []string{r.validate, r.test, r.send, r.resolve}, "%s (%s)", r.name, r.typ)
		require.NotEqual(t, "-", r.receipt, r.name)
		require.Regexp(t, `^[1-9]\d*/\d+ passed, \d+ warn$`, r.checks, r.name)
		require.Positive(t, r.took, r.name)
	}
	require.ElementsMatch(t, integrations.Types(), types)
	require.Contains(t, out.String(), "All 10 integrations passed Validate, Test, Send and resolve.")
}

// A destination that refuses makes its row fail, lists the error under the
// table, and makes check (and so the exit status) fail; the others pass.
func TestCheckReportsAFailure(t *testing.T) {
	pg, err := playground.Start()
	require.NoError(t, err)
	defer pg.Close()
	require.NoError(t, pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.Slack, Status: http.StatusForbidden}))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = check(ctx, &out, pg.Integrations, pg.Options()...)
	require.EqualError(t, err, "3 of 40 checks failed")
	notifytest.AssertNoSecret(t, out.String(), pg.Secrets()...)

	rows := parseTable(t, out.String())
	require.Len(t, rows, 10)
	for _, r := range rows {
		want := []string{"ok", "ok", "ok", "ok"}
		if r.typ == "slack" {
			want = []string{"ok", "FAIL", "FAIL", "FAIL"}
			require.Equal(t, "-", r.receipt)
			require.Equal(t, "-", r.resolved)
		}
		require.Equal(t, want, []string{r.validate, r.test, r.send, r.resolve}, r.name)
	}
	require.Contains(t, out.String(), "SOC Slack (slack) test: slack: test: status 403: invalid_token")
	require.Contains(t, out.String(), "SOC Slack (slack) send: slack: send: status 403: invalid_token")
}
