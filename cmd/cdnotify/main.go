// Command cdnotify validates, tests and sends to the integrations of a
// Code Defender console export, from the command line or a script:
//
//	cdnotify validate --config FILE [--only NAME]... [--json] [--smtp-url URL]
//	cdnotify test     --config FILE [--only NAME]... [--json] [--smtp-url URL] [--timeout 30s] [--attempts 3]
//	cdnotify send     --config FILE [--only NAME]... [--json] [--smtp-url URL] [--timeout 30s] [--attempts 3] [--event FILE]
//	cdnotify outbox   list|retry|discard --db sqlite:FILE|postgres://...
//
// Every command but outbox also takes --allow-private-networks, which lets
// on-premises destinations (private and loopback addresses) through the
// network guard; cloud metadata addresses stay refused.
//
// validate checks every field offline. test checks each integration against
// its live destination the way its package's Test documents (credentials,
// target, permissions); most raise nothing, but Slack and the webhook
// receive a message marked as a test. send delivers one event to each: the
// notify.Event in the --event file ("-" reads it from stdin), or else a
// built-in event of type "test". Test and send run on every selected
// integration at once, each retried with notify.Retry (--attempts counts
// every attempt; only errors the destination calls temporary are retried).
// --only NAME, repeatable, picks integrations by their name.
//
// outbox lists, retries and discards the deliveries of a durable outbox
// (package github.com/codedefender/integrations/outbox). It runs the
// cdnotify-outbox program found on the PATH, which the outbox module
// installs, so that this program builds without database drivers.
//
// # The config file
//
// The file is what the console stores: a JSON list of {"type", "config"}
// objects, as in integrations.example.json. A secret can stay out of the
// file: any string value inside a "config" may be written as an
// environment reference, an object holding one member "env" that names the
// variable,
//
//	{"type": "pagerduty", "config": {"name": "On-call",
//	  "webhook_url": "https://events.pagerduty.com/v2/enqueue",
//	  "api_key": {"env": "PD_ROUTING_KEY"}}}
//
// which is replaced by the variable's value before the config is decoded.
// No config has a field named "env" and no secret is a JSON object, so a
// reference cannot be mistaken for a value. The value always becomes a
// JSON string. Only the selected integrations' references are resolved, so
// --only needs only their variables. A "name" must be written out: it is
// how --only and the results refer to an integration.
//
// # The SMTP relay
//
// An email integration holds only its recipients: the relay it sends
// through, and the From address, are the operator's. Give them as one URL
// with --smtp-url or the CDNOTIFY_SMTP_URL environment variable (the flag
// wins), in the form email.ParseRelayURL reads:
//
//	smtp://user:password@smtp.example.com:587?from=alerts@example.com    (STARTTLS)
//	smtps://user:password@smtp.example.com:465?from=alerts@example.com   (implicit TLS)
//
// Percent-encode special characters in the password. The URL holds the
// password, so it is never printed, not even when it does not parse; the
// environment variable keeps it out of the process list.
//
// No secret is ever printed: a missing variable is named, never a value,
// and the library scrubs credentials out of every error.
//
// # Output
//
// A table on stdout, with each error in full below it. With --json, a JSON
// array on stdout, one object per integration, such as
//
//	[{"name": "Security board", "type": "jira", "ok": true, "skipped": false,
//	  "receipt": {"id": "SEC-24", "url": "https://acme.atlassian.net/browse/SEC-24"},
//	  "duration_ms": 412.7},
//	 {"name": "SOC Slack", "type": "slack", "ok": false, "skipped": false,
//	  "error": "gave up after 1 attempt (permanent error): slack: send: status 403: invalid_token (…)",
//	  "duration_ms": 88.1}]
//
// "skipped" is true when the integration is not configured for the event's
// type (a webhook's events list): it counts as ok. "error" and "receipt"
// are left out when empty. When test or send runs on more than one
// integration, each one's result is also written to stderr as it finishes.
//
// # Exit status
//
//	0  every selected integration succeeded
//	1  at least one integration failed (its error is in the output)
//	2  usage error: an unknown command or flag, no --config, or an --only
//	   name that no integration has
//	3  config or event error: a file that cannot be read or parsed, an
//	   environment variable that is not set, two integrations with one
//	   name, an invalid event
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Exit statuses; see the package documentation.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitConfigError = 3
)

// Defaults of the test and send flags.
const (
	defaultTimeout  = 30 * time.Second
	defaultAttempts = 3
	// maxAttempts keeps a typo (--attempts 1000) from retrying for hours.
	maxAttempts = 10
)

// userAgent names the program in every request, ahead of the library's.
const userAgent = "cdnotify/1 " + notify.DefaultUserAgent

const usage = `usage:
  cdnotify validate --config FILE [--only NAME]... [--json] [--smtp-url URL]
  cdnotify test     --config FILE [--only NAME]... [--json] [--smtp-url URL] [--timeout 30s] [--attempts 3]
  cdnotify send     --config FILE [--only NAME]... [--json] [--smtp-url URL] [--timeout 30s] [--attempts 3] [--event FILE]
  cdnotify outbox   list|retry|discard --db sqlite:FILE|postgres://...   (runs cdnotify-outbox)

validate, test and send take --allow-private-networks for on-premises targets.
The config file is the console's JSON list of {"type", "config"} objects; any
string in a config may be {"env": "VARIABLE"} to take it from the environment.
Email integrations send through the SMTP relay of --smtp-url or $CDNOTIFY_SMTP_URL
(smtp://user:password@host:587?from=alerts@example.com).
Run "go doc ./cmd/cdnotify" for the output format and exit statuses.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	var code int
	if len(os.Args) > 1 && os.Args[1] == "outbox" {
		code = runOutbox(ctx, os.Args[2:], exec.LookPath, os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// command is one parsed command line.
type command struct {
	verb      string // validate, test or send
	config    string
	only      []string
	event     string
	smtpURL   string // a credential: never printed
	json      bool
	private   bool // --allow-private-networks
	timeout   time.Duration
	attempts  int
	lookupEnv func(string) (string, bool)
	stdin     io.Reader
}

// run runs one command line (without the program name) and returns the
// exit status. extra options go to every integration after the program's
// own; tests route them to fakes with it.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader,
	stdout, stderr io.Writer, extra ...notify.Option) int {
	cmd, code := parse(args, stdout, stderr)
	if cmd == nil {
		return code
	}
	cmd.lookupEnv, cmd.stdin = lookupEnv, stdin
	ctx, cancel := context.WithTimeout(ctx, cmd.timeout)
	defer cancel()

	opts := []notify.Option{notify.WithUserAgent(userAgent)}
	if cmd.private {
		opts = append(opts, notify.WithAllowPrivateNetworks())
	}
	results, err := execute(ctx, cmd, stderr, append(opts, extra...))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cdnotify: %v\n", err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "cdnotify: %v\n", err)
		return exitConfigError
	}
	if cmd.json {
		err = writeJSON(stdout, results)
	} else {
		err = writeTable(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cdnotify: writing the results: %v\n", err)
		return exitFailed
	}
	if failed := countFailed(results); failed > 0 {
		fmt.Fprintf(stderr, "cdnotify: %s: %d of %d integrations failed\n", cmd.verb, failed, len(results))
		return exitFailed
	}
	return exitOK
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// names collects a repeated --only.
type names []string

func (n *names) String() string { return strings.Join(*n, ", ") }

func (n *names) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("needs an integration name")
	}
	*n = append(*n, v)
	return nil
}

// parse reads the command line. It returns nil and the exit status when
// the program should stop: after help (0) or a usage error (2).
func parse(args []string, stdout, stderr io.Writer) (*command, int) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return nil, exitUsage
	}
	verb := args[0]
	switch verb {
	case "validate", "test", "send":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil, exitOK
	default:
		fmt.Fprintf(stderr, "cdnotify: unknown command %q\n\n%s", text.Truncate(verb, 40), usage)
		return nil, exitUsage
	}

	cmd := &command{verb: verb, timeout: defaultTimeout, attempts: defaultAttempts}
	fs := flag.NewFlagSet("cdnotify "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cmd.config, "config", "", "the integrations file (the console's JSON list)")
	fs.Var((*names)(&cmd.only), "only", "only the integration with this `name` (repeatable)")
	fs.BoolVar(&cmd.json, "json", false, "print the results as JSON")
	fs.StringVar(&cmd.smtpURL, "smtp-url", "", "the SMTP relay of email integrations, a `URL` (default $"+smtpURLEnv+")")
	fs.BoolVar(&cmd.private, "allow-private-networks", false,
		"allow destinations on private networks and loopback (on-premises targets); cloud metadata addresses stay refused")
	if verb != "validate" {
		fs.DurationVar(&cmd.timeout, "timeout", defaultTimeout, "give up on every integration after this long")
		fs.IntVar(&cmd.attempts, "attempts", defaultAttempts, "attempts per integration, the first included")
	}
	if verb == "send" {
		fs.StringVar(&cmd.event, "event", "", "the event to send, a JSON `file` (- for stdin); a test event if absent")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage // the flag package has printed the error and the flags
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q: every option is a flag", text.Truncate(fs.Arg(0), 40))
	case cmd.config == "":
		problem = "--config is required"
	case cmd.timeout <= 0:
		problem = "--timeout must be positive"
	case cmd.attempts < 1 || cmd.attempts > maxAttempts:
		problem = fmt.Sprintf("--attempts must be between 1 and %d", maxAttempts)
	}
	if problem != "" {
		fmt.Fprintf(stderr, "cdnotify %s: %s\n\n%s", verb, problem, usage)
		return nil, exitUsage
	}
	return cmd, exitOK
}
