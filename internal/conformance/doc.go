// Package conformance is the library's proof of quality: tests and
// benchmarks, run by `go test`, that hold every HTTP destination (slack,
// pagerduty, opsgenie, jira, datadog, splunk, webhook) to the same contract
// against misbehaving loopback servers. It has no API; everything is in its
// _test.go files.
//
// The fault suite (TestFaults) builds each destination with its real vendor
// URL and routes its requests, whatever the host, to a loopback TLS server
// whose certificate is valid for the vendor's host name and signed by a CA
// only the test trusts. On-premises Splunk and the webhook are also built
// with the library's own guarded client, pointed at https://127.0.0.1, over
// HTTP/1.1 and HTTP/2. The servers refuse connections, reset them mid-answer, never answer, stall
// mid-body, send 10 MiB or a gzip bomb, malformed JSON, HTML error pages
// that echo the credentials, redirects to another host, 429s with and
// without Retry-After, 503 storms under notify.Retry (TestRetryStorms, on a
// fake clock), garbage, and certificates that must not be trusted. Each case checks the error's
// sentinel (errors.Is), notify.IsRetryable, a message fragment,
// notify.RetryAfterOf, and that no secret of the config reaches the error or
// the logs; where a destination legitimately differs, the table says so and
// why.
//
// TestConnectionReuse checks that 1,000 sequential Sends open one TCP
// connection, each Send putting its connection back in the pool before it
// returns (seen through an httptrace.ClientTrace). Nothing rests on how
// fast the machine is: a case whose server never answers grows its timeout
// until the server had the request before the client gave up, and every
// other wait is a generous guard against a hang. BenchmarkRawPost and BenchmarkSend compare each destination's
// Send with a plain net/http post of the same bytes over an equivalent
// client, and BenchmarkSenderDo the same bytes through sender.Sender.Do
// alone, which splits the overhead between the core and the destination;
// BenchmarkFanout compares notify.Fanout to ten destinations with a single
// Send. `go run ./internal/benchreport` runs them and prints the
// table. The fuzz targets feed every destination's config decoding; the
// guard tests dial only loopback; TestEveryPackageChecksLeaks checks that
// every package with tests runs goleak in its TestMain.
package conformance
