package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/internal/playground"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Started by an init function of go.opencensus.io, which only the
		// GCS emulator imports: it lives as long as the process.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// fixture is a playground and a config file for it whose Slack URL and
// PagerDuty key are environment references, with the playground's SMTP
// server as the relay in CDNOTIFY_SMTP_URL.
type fixture struct {
	pg     *playground.Playground
	config string
	env    map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pg, err := playground.Start()
	require.NoError(t, err)
	t.Cleanup(pg.Close)

	var list []map[string]any
	require.NoError(t, json.Unmarshal(pg.Integrations, &list))
	f := &fixture{pg: pg, env: map[string]string{}}
	for _, e := range list {
		cfg := e["config"].(map[string]any)
		ref := func(m map[string]any, field, variable string) {
			f.env[variable] = m[field].(string)
			m[field] = map[string]any{"env": variable}
		}
		switch e["type"] {
		case "slack":
			ref(cfg, "webhook_url", "SLACK_WEBHOOK_URL")
		case "pagerduty":
			ref(cfg, "api_key", "PD_ROUTING_KEY")
		}
	}
	require.Len(t, f.env, 2)
	f.env[smtpURLEnv] = pg.SMTPURL().Reveal()
	f.config = writeFile(t, "integrations.json", mustJSON(t, list))
	return f
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// runOutcome is one run of the program.
type runOutcome struct {
	code           int
	stdout, stderr string
}

// run runs cdnotify with the fixture's environment and the playground's
// options, and checks that no secret reached either output.
func (f *fixture) run(t *testing.T, stdin string, args ...string) runOutcome {
	t.Helper()
	return f.runEnv(t, f.env, stdin, args...)
}

func (f *fixture) runEnv(t *testing.T, env map[string]string, stdin string, args ...string) runOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, lookup, strings.NewReader(stdin), &stdout, &stderr, f.pg.Options()...)
	o := runOutcome{code, stdout.String(), stderr.String()}
	notifytest.AssertNoSecret(t, o.stdout, f.pg.Secrets()...)
	notifytest.AssertNoSecret(t, o.stderr, f.pg.Secrets()...)
	return o
}

func parseResults(t *testing.T, o runOutcome) []result {
	t.Helper()
	var rs []result
	require.NoError(t, json.Unmarshal([]byte(o.stdout), &rs), "stdout: %s\nstderr: %s", o.stdout, o.stderr)
	return rs
}

func byType(rs []result) map[string]result {
	m := map[string]result{}
	for _, r := range rs {
		m[r.Type] = r
	}
	return m
}

func TestValidate(t *testing.T) {
	f := newFixture(t)
	o := f.run(t, "", "validate", "--config", f.config, "--json")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Empty(t, o.stderr, "validate reports no progress")
	rs := parseResults(t, o)
	require.Len(t, rs, 10)
	var types []string
	for _, r := range rs {
		types = append(types, r.Type)
		require.True(t, r.OK, "%+v", r)
		require.Empty(t, r.Error)
		require.Nil(t, r.Receipt)
	}
	require.ElementsMatch(t, integrations.Types(), types)
	require.Empty(t, f.pg.HTTP.Requests(), "validate makes no request")
}

// The human table: a header, one row per integration, ok everywhere.
func TestValidateTable(t *testing.T) {
	f := newFixture(t)
	o := f.run(t, "", "validate", "--config", f.config)
	require.Equal(t, exitOK, o.code, o.stderr)
	lines := strings.Split(strings.TrimRight(o.stdout, "\n"), "\n")
	require.Len(t, lines, 11, o.stdout)
	cells := regexp.MustCompile(`\s{2,}`)
	require.Equal(t, []string{"NAME", "TYPE", "RESULT", "RECEIPT", "TIME"}, cells.Split(lines[0], -1))
	for _, l := range lines[1:] {
		c := cells.Split(l, -1)
		require.Len(t, c, 5, l)
		require.Equal(t, "ok", c[2], l)
	}
}

func TestMissingVariableIsAConfigError(t *testing.T) {
	f := newFixture(t)
	env := map[string]string{"SLACK_WEBHOOK_URL": "", smtpURLEnv: f.env[smtpURLEnv]}
	o := f.runEnv(t, env, "", "test", "--config", f.config, "--json")
	require.Equal(t, exitConfigError, o.code)
	require.Empty(t, o.stdout)
	require.Equal(t, "cdnotify: "+f.config+": [0].config.webhook_url: environment variable SLACK_WEBHOOK_URL is empty; "+
		"[4].config.api_key: environment variable PD_ROUTING_KEY is not set\n", o.stderr)
	require.Empty(t, f.pg.HTTP.Requests(), "nothing runs until every reference resolves")

	// Only the selected integrations' references are needed.
	o = f.runEnv(t, env, "", "test", "--config", f.config, "--only", "SOC mailbox")
	require.Equal(t, exitOK, o.code, o.stderr)
}

func TestTestAndSend(t *testing.T) {
	f := newFixture(t)
	o := f.run(t, "", "test", "--config", f.config, "--json")
	require.Equal(t, exitOK, o.code, o.stderr)
	for _, r := range parseResults(t, o) {
		require.True(t, r.OK, "%+v", r)
		require.Positive(t, r.DurationMS, r.Name)
	}
	require.Empty(t, f.pg.HTTP.PagerDutyAlerts(), "PagerDuty's test opens nothing")
	require.Empty(t, f.pg.Mail(), "email's test sends no mail")

	o = f.run(t, "", "send", "--config", f.config, "--json")
	require.Equal(t, exitOK, o.code, o.stderr)
	rs := parseResults(t, o)
	require.Len(t, rs, 10)
	for _, r := range rs {
		require.True(t, r.OK, "%+v", r)
		require.False(t, r.Skipped, "a test event goes to every integration, the webhook included")
		require.NotNil(t, r.Receipt, r.Name)
		require.NotEmpty(t, r.Receipt.ID, r.Name)
	}
	got := byType(rs)
	issues := f.pg.HTTP.JiraIssues()
	require.Len(t, issues, 1)
	require.Equal(t, &receipt{ID: issues[0].Key, URL: "https://playground.atlassian.net/browse/" + issues[0].Key}, got["jira"].Receipt)
	require.Regexp(t, `^sample-test-\d{8}T\d{6}Z$`, got["pagerduty"].Receipt.ID, "the built-in event's ID, as PagerDuty's dedup_key")
	require.Len(t, f.pg.Mail(), 1)

	// Progress: one line per integration as it finishes, on stderr.
	lines := strings.Split(strings.TrimRight(o.stderr, "\n"), "\n")
	require.Equal(t, "cdnotify: send: 10 integrations", lines[0])
	require.Len(t, lines, 11, o.stderr)
	for i, l := range lines[1:] {
		require.Regexp(t, `^cdnotify: \[`+strconv.Itoa(i+1)+`/10\] .+ \(\w+\): ok in \S+$`, l)
	}
}

func TestFailureExitsOneWithTheError(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.Slack, Status: http.StatusForbidden}))
	o := f.run(t, "", "send", "--config", f.config, "--json")
	require.Equal(t, exitFailed, o.code)
	require.Contains(t, o.stderr, "cdnotify: send: 1 of 10 integrations failed\n")
	require.Contains(t, o.stderr, "(slack): FAILED in")
	for _, r := range parseResults(t, o) {
		if r.Type != "slack" {
			require.True(t, r.OK, "%+v", r)
			continue
		}
		require.False(t, r.OK)
		require.Nil(t, r.Receipt)
		require.Equal(t, "gave up after 1 attempt (permanent error): slack: send: status 403: invalid_token "+
			"(the webhook URL has been revoked: create a new one on the Slack app's Incoming Webhooks page)", r.Error)
	}
	require.Len(t, f.pg.HTTP.RequestsTo(notifytest.Slack), 1, "a permanent error is not retried")

	// The table lists the error in full under it.
	o = f.run(t, "", "send", "--config", f.config, "--only", "SOC Slack")
	require.Equal(t, exitFailed, o.code)
	require.Contains(t, o.stdout, "\nSOC Slack (slack): gave up after 1 attempt (permanent error): slack: send: status 403: invalid_token")
}

// A temporary refusal is retried, up to --attempts.
func TestSendRetries(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.PagerDuty, Status: http.StatusServiceUnavailable, Times: 1}))
	o := f.run(t, "", "send", "--config", f.config, "--only", "On-call", "--json")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Len(t, f.pg.HTTP.RequestsTo(notifytest.PagerDuty), 2)
	require.Empty(t, o.stderr, "no progress for a single integration")

	require.NoError(t, f.pg.HTTP.Inject(notifytest.Fault{Destination: notifytest.PagerDuty, Status: http.StatusServiceUnavailable, Times: 1}))
	o = f.run(t, "", "send", "--config", f.config, "--only", "On-call", "--json", "--attempts", "1")
	require.Equal(t, exitFailed, o.code)
	require.Contains(t, parseResults(t, o)[0].Error, "gave up after 1 attempt (attempts exhausted)")
}

func TestOnly(t *testing.T) {
	f := newFixture(t)
	o := f.run(t, "", "test", "--config", f.config, "--json", "--only", "On-call", "--only", "SOC Slack")
	require.Equal(t, exitOK, o.code, o.stderr)
	rs := parseResults(t, o)
	require.Equal(t, []string{"SOC Slack", "On-call"}, []string{rs[0].Name, rs[1].Name}, "in file order")
	require.Len(t, rs, 2)
	require.Len(t, f.pg.HTTP.RequestsTo(notifytest.Slack), 1)
	require.Len(t, f.pg.HTTP.RequestsTo(notifytest.PagerDuty), 1)
	require.Empty(t, f.pg.HTTP.RequestsTo(notifytest.Jira))
	require.Empty(t, f.pg.HTTP.RequestsTo(notifytest.Webhook))
}

// An event from stdin; the webhook, configured for PCI scope changes and
// client-side risks only, skips an incident, which counts as success.
func TestSendEventFromStdin(t *testing.T) {
	f := newFixture(t)
	event := `{"id":"inc-42","type":"incident","title":"Skimmer on /checkout","risk":"critical",
		"time":"2026-01-02T03:04:05Z","source":"shop.example.com"}`
	o := f.run(t, event, "send", "--config", f.config, "--json", "--event", "-")
	require.Equal(t, exitOK, o.code, o.stderr)
	got := byType(parseResults(t, o))
	require.True(t, got["webhook"].OK)
	require.True(t, got["webhook"].Skipped)
	require.Nil(t, got["webhook"].Receipt)
	require.Equal(t, "inc-42", got["pagerduty"].Receipt.ID)
	require.Equal(t, "alerts/2026/01/02/inc-42.json", got["s3"].Receipt.ID)
	require.Contains(t, o.stderr, "(webhook): skipped in")
	require.Empty(t, f.pg.HTTP.RequestsTo(notifytest.Webhook))

	path := writeFile(t, "event.json", []byte(event))
	o = f.run(t, "", "send", "--config", f.config, "--only", "On-call", "--event", path)
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Contains(t, o.stdout, "inc-42")
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage:"},
		{[]string{"deliver", "--config", f.config}, `unknown command "deliver"`},
		{[]string{"test"}, "--config is required"},
		{[]string{"test", "--config", f.config, "--colour"}, "flag provided but not defined: -colour"},
		{[]string{"test", "--config", f.config, "--event", "e.json"}, "flag provided but not defined: -event"},
		{[]string{"validate", "--config", f.config, "--timeout", "1s"}, "flag provided but not defined: -timeout"},
		{[]string{"send", "--config", f.config, "extra"}, `unexpected argument "extra"`},
		{[]string{"send", "--config", f.config, "--attempts", "0"}, "--attempts must be between 1 and 10"},
		{[]string{"send", "--config", f.config, "--timeout", "-1s"}, "--timeout must be positive"},
		{[]string{"test", "--config", f.config, "--only", "Nobody"}, `--only "Nobody": no integration has that name (there are: "Datadog incidents", `},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := f.run(t, "", tt.args...)
			require.Equal(t, exitUsage, o.code)
			require.Empty(t, o.stdout)
			require.Contains(t, o.stderr, tt.want)
		})
	}
	require.Empty(t, f.pg.HTTP.Requests())

	o := f.run(t, "", "help")
	require.Equal(t, exitOK, o.code)
	require.Contains(t, o.stdout, "usage:")
}

func TestConfigAndEventErrors(t *testing.T) {
	f := newFixture(t)
	pd := func(apiKey string) string {
		return `{"type":"pagerduty","config":{"name":"On-call","webhook_url":"https://events.pagerduty.com/v2/enqueue","api_key":` + apiKey + `}}`
	}
	file := func(s string) string { return writeFile(t, "bad.json", []byte(s)) }
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no file", []string{"validate", "--config", filepath.Join(t.TempDir(), "none.json")}, "", "no such file or directory"},
		{"not JSON", []string{"validate", "--config", file(`[{"type":"slack",`)}, "", "must be a JSON list of {\"type\", \"config\"} objects: not valid JSON at byte 17"},
		{"not a list", []string{"validate", "--config", file(`{"type":"slack"}`)}, "", "must be a JSON list"},
		{"empty list", []string{"validate", "--config", file(`[]`)}, "", "holds no integration"},
		{"no config", []string{"validate", "--config", file(`[{"type":"slack"}]`)}, "", "[0].config: must be a JSON object"},
		{"same name twice", []string{"validate", "--config", file(`[` + pd(`"k"`) + `,` + pd(`"k"`) + `]`)}, "",
			`[1].config.name: "On-call" is already the name of entry [0]: names must differ`},
		{"name from the environment", []string{"validate", "--config",
			file(`[{"type":"slack","config":{"name":{"env":"NAME"}}}]`)}, "", "[0].config.name: must be written out"},
		{"bad reference", []string{"validate", "--config", file(`[` + pd(`{"env":"PD KEY"}`) + `]`)}, "",
			`[0].config.api_key: an environment reference is {"env": "NAME"} alone`},
		{"reference with more", []string{"validate", "--config", file(`[` + pd(`{"env":"PD","default":"x"}`) + `]`)}, "",
			`[0].config.api_key: an environment reference is {"env": "NAME"} alone`},
		{"invalid event", []string{"send", "--config", f.config, "--event", "-"}, `{"id":"e1","type":"incident","risk":"high","time":"2026-01-02T03:04:05Z"}`,
			"event -: invalid: title: is required"},
		{"misspelt event field", []string{"send", "--config", f.config, "--event", "-"},
			`{"id":"e1","type":"incident","title":"t","risk":"high","time":"2026-01-02T03:04:05Z","severity":"high"}`,
			`event -: json: unknown field "severity"`},
		{"two events", []string{"send", "--config", f.config, "--event", "-"},
			`{"id":"e1","type":"incident","title":"t","risk":"high","time":"2026-01-02T03:04:05Z"} {}`, "holds more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.run(t, tt.stdin, tt.args...)
			require.Equal(t, exitConfigError, o.code, o.stderr)
			require.Empty(t, o.stdout)
			require.Contains(t, o.stderr, tt.want)
		})
	}
	require.Empty(t, f.pg.HTTP.Requests())
}

// A secret in a file that does not parse is not quoted back.
func TestParseErrorsQuoteNoSecret(t *testing.T) {
	f := newFixture(t)
	secret := notify.Secret("u+Secret0123456789abcdefABCDEF01")
	path := writeFile(t, "bad.json", []byte(`[{"type":"pagerduty","config":{"name":"On-call","api_key":"`+secret.Reveal()+`" x}}]`))
	o := f.run(t, "", "validate", "--config", path)
	require.Equal(t, exitConfigError, o.code)
	require.Contains(t, o.stderr, "not valid JSON at byte")
	notifytest.AssertNoSecret(t, o.stderr, secret)

	path = writeFile(t, "bad.json", []byte(`[{"type":"pagerduty","config":{"name":"On-call","webhook_url":"https://events.pagerduty.com/v2/enqueue","api_key":"`+secret.Reveal()+`"}}]`))
	o = f.run(t, "", "validate", "--config", path, "--json")
	require.Equal(t, exitFailed, o.code)
	require.Contains(t, parseResults(t, o)[0].Error, "config.api_key: may hold only letters and digits")
	notifytest.AssertNoSecret(t, o.stdout, secret)
}

// The relay comes from --smtp-url, else CDNOTIFY_SMTP_URL, and wins over
// whatever the caller's options held; the URL is never printed (run
// checks every output for the playground's secrets, the SMTP password
// among them).
func TestSMTPRelay(t *testing.T) {
	f := newFixture(t)
	good := f.env[smtpURLEnv]
	wrong := strings.Replace(good, ":playground-smtp-password@", ":not-the-password-42@", 1)
	require.NotEqual(t, good, wrong)
	noRelay := map[string]string{}
	for k, v := range f.env {
		if k != smtpURLEnv {
			noRelay[k] = v
		}
	}
	withEnv := func(url string) map[string]string {
		env := map[string]string{smtpURLEnv: url}
		for k, v := range noRelay {
			env[k] = v
		}
		return env
	}
	only := []string{"test", "--config", f.config, "--only", "SOC mailbox", "--json"}

	// From the environment: the wrong password is refused by the server,
	// so it is the relay cdnotify was given that is used.
	o := f.runEnv(t, withEnv(wrong), "", only...)
	require.Equal(t, exitFailed, o.code, o.stderr)
	rs := parseResults(t, o)
	require.Len(t, rs, 1)
	require.Contains(t, rs[0].Error, "status 535: 5.7.8 Authentication failed")
	for _, out := range []string{o.stdout, o.stderr} {
		require.NotContains(t, out, "not-the-password-42")
		require.NotContains(t, out, wrong)
	}

	// The flag wins over the environment.
	o = f.runEnv(t, withEnv(wrong), "", append(only, "--smtp-url", good)...)
	require.Equal(t, exitOK, o.code, o.stderr)
	o = f.runEnv(t, withEnv(good), "", append(only, "--smtp-url", wrong)...)
	require.Equal(t, exitFailed, o.code, o.stderr)
	require.NotContains(t, o.stdout+o.stderr, "not-the-password-42")

	// A URL that does not parse is a config error that names its source
	// and the field, never the URL.
	bad := strings.Replace(good, "smtp://", "smtps://", 1) + "&colour=red"
	o = f.runEnv(t, noRelay, "", append(only, "--smtp-url", bad)...)
	require.Equal(t, exitConfigError, o.code)
	require.Contains(t, o.stderr, "cdnotify: --smtp-url: relay: has an unknown query parameter")
	require.NotContains(t, o.stderr, bad)
	o = f.runEnv(t, withEnv("smtp://alerts:hunter2-password@[::1"), "", only...)
	require.Equal(t, exitConfigError, o.code)
	require.Contains(t, o.stderr, "cdnotify: "+smtpURLEnv+": relay: is not a URL")
	require.NotContains(t, o.stderr, "hunter2-password")

	// Without a relay, an email integration fails alone, saying what to
	// pass. The playground's own options carry a relay, so this runs
	// without them.
	var stdout, stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := noRelay[k]; return v, ok }
	code := run(context.Background(), []string{"validate", "--config", f.config, "--json"}, lookup, strings.NewReader(""),
		&stdout, &stderr)
	require.Equal(t, exitFailed, code)
	for _, r := range parseResults(t, runOutcome{code, stdout.String(), stderr.String()}) {
		if r.Type == "email" {
			require.False(t, r.OK)
			require.Contains(t, r.Error, "pass --smtp-url or set CDNOTIFY_SMTP_URL")
		}
	}
	notifytest.AssertNoSecret(t, stdout.String()+stderr.String(), f.pg.Secrets()...)
}

// test says what it proved: each integration's checks, in the table and in
// the JSON, warnings included.
func TestTestPrintsEachCheck(t *testing.T) {
	f := newFixture(t)
	o := f.run(t, "", "test", "--config", f.config, "--json", "--only", "On-call", "--only", "Security board")
	require.Equal(t, exitOK, o.code, o.stderr)
	got := byType(parseResults(t, o))
	require.NotEmpty(t, got["jira"].Checks)
	for _, c := range got["jira"].Checks {
		require.NotEmpty(t, c.Name)
		require.Contains(t, []notify.CheckStatus{notify.CheckPassed, notify.CheckSkipped, notify.CheckWarning}, c.Status, c.Name)
	}
	var pdWarned bool
	for _, c := range got["pagerduty"].Checks {
		pdWarned = pdWarned || c.Status == notify.CheckWarning
	}
	require.True(t, pdWarned, "what a routing key cannot prove is a warning: %+v", got["pagerduty"].Checks)

	o = f.run(t, "", "test", "--config", f.config, "--only", "On-call")
	require.Equal(t, exitOK, o.code, o.stderr)
	require.Contains(t, o.stdout, "\nOn-call (pagerduty):\n")
	require.Regexp(t, `(?m)^  passed   events API accepted the key`, o.stdout)
	require.Regexp(t, `(?m)^  warning  key belongs to a service: `, o.stdout)
}

// --allow-private-networks lets the guard through to a destination on a
// private or loopback address; without it the dial is refused before any
// packet leaves. Both runs dial loopback only (port 9, nothing listening).
func TestAllowPrivateNetworks(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "private.json")
	require.NoError(t, os.WriteFile(config, []byte(`[{"type":"webhook","config":{"name":"On-prem SIEM","url":"https://127.0.0.1:9/hook","protocol":"tcp"}}]`), 0o600))
	test := func(extra ...string) runOutcome {
		var stdout, stderr bytes.Buffer
		args := append([]string{"test", "--config", config, "--json", "--attempts", "1"}, extra...)
		code := run(context.Background(), args, func(string) (string, bool) { return "", false },
			strings.NewReader(""), &stdout, &stderr) // no playground options: the program's own guard
		return runOutcome{code, stdout.String(), stderr.String()}
	}
	o := test()
	require.Equal(t, exitFailed, o.code, o.stdout)
	require.Contains(t, parseResults(t, o)[0].Error, "refused by the network guard")

	o = test("--allow-private-networks")
	require.Equal(t, exitFailed, o.code, o.stdout)
	require.NotContains(t, parseResults(t, o)[0].Error, "refused by the network guard", "the guard let the dial through")
}
