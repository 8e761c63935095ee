package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/outbox/outboxcli"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunDeliversEverythingOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "example.db")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-db", db, "-alerts", "2"}, &out))
	s := out.String()
	assert.Contains(t, s, "Raised 2 alerts: 6 deliveries queued, 0 already known")
	assert.Contains(t, s, "Everything delivered")
	for _, id := range []string{"slack-security", "pagerduty-oncall", "webhook-siem"} {
		assert.Regexp(t, regexp.MustCompile(id+`\s+completed\s+2`), s)
	}
	assert.Regexp(t, `slack\s+2\s+2`, s)
	assert.Regexp(t, `pagerduty\s+5\s+2`, s, "three 503s, then both delivered")
	assert.Regexp(t, `webhook\s+2\s+2`, s)
	assert.NotContains(t, s, "ExampleWebhookToken", "no secret printed")

	// Again on the same file: the two known alerts are not delivered twice.
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-db", db, "-alerts", "3"}, &out))
	s = out.String()
	assert.Contains(t, s, "Raised 3 alerts: 3 deliveries queued, 6 already known")
	assert.Regexp(t, `slack\s+1\s+1`, s)
	assert.Regexp(t, `slack-security\s+completed\s+3`, s)
}

func TestInspectCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "example.db")
	require.NoError(t, run(context.Background(), []string{"-db", db, "-alerts", "1"}, &bytes.Buffer{}))
	assert.True(t, isCommand("list"))
	assert.False(t, isCommand("-db"))
	var out, errs bytes.Buffer
	code := outboxcli.Run(context.Background(), []string{"list", "--db", "sqlite:" + db, "--counts"}, &out, &errs)
	require.Equal(t, outboxcli.ExitOK, code, errs.String())
	assert.Regexp(t, `webhook-siem\s+completed\s+1`, out.String())
}
