package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testdata/bench.txt is the output of a real run:
//
//	go test -run '^$' -bench . -benchmem -benchtime 100x -count 2 ./internal/conformance/
func TestParseCapturedOutput(t *testing.T) {
	f, err := os.Open("testdata/bench.txt")
	require.NoError(t, err)
	defer f.Close()
	out, err := parse(f)
	require.NoError(t, err)

	require.Equal(t, []string{"goos: linux", "goarch: amd64",
		"pkg: github.com/codedefender/integrations/internal/conformance", "cpu: AMD EPYC"}, out.header)
	require.Len(t, out.results, 22, "7 raw posts, 7 Sender.Do, 7 sends, the fan-out")
	require.Equal(t, "BenchmarkRawPost/slack", out.order[0])

	// Two runs each: the medians are the means of the pairs.
	slack := out.results["BenchmarkSend/slack"]
	require.Equal(t, 2, slack.runs)
	require.InDelta(t, (195516.0+232509)/2, slack.metrics["ns/op"], 1e-6)
	require.InDelta(t, 152, slack.metrics["allocs/op"], 1e-9)
	require.InDelta(t, (1.354+1.610)/2, slack.metrics["x-raw"], 1e-9)
	fan := out.results["BenchmarkFanout"]
	require.InDelta(t, 1.035, fan.metrics["x-single"], 1e-9)
	require.InDelta(t, (50915090.0+50928522)/2, fan.metrics["single-ns/op"], 1e-6)

	s := summarize([]*output{out})
	require.Len(t, s.rows, 7)
	byDest := map[string]row{}
	for _, r := range s.rows {
		byDest[r.dest] = r
	}
	sl := byDest["slack"]
	require.InDelta(t, 214012.5/151893.5, sl.ratio, 1e-9)
	require.InDelta(t, 152-89, sl.extraAllocs, 1e-9)
	require.InDelta(t, 179709/151893.5, sl.coreRatio, 1e-9)
	require.InDelta(t, 103-89, sl.coreAllocs, 1e-9)
	require.False(t, sl.met)
	pd := byDest["pagerduty"]
	require.InDelta(t, 170602.5/167454, pd.ratio, 1e-9)
	require.InDelta(t, 36, pd.extraAllocs, 1e-9)
	require.True(t, pd.met, "1.02x and +36 allocs meet the target")

	var buf bytes.Buffer
	require.NoError(t, s.write(&buf, "go test ..."))
	text := buf.String()
	require.Contains(t, text, "command: go test ...")
	require.Regexp(t, `(?m)^\s+pagerduty\s+170602\s+167454\s+1\.019x\s+\+36\s+yes\s+0\.98x\s+\+14\s*$`, text)
	require.Regexp(t, `(?m)^\s+jira\s+332636\s+332776\s+1\.000x\s+\+432\s+NO\s+0\.79x\s+\+32\s*$`, text)
	require.Contains(t, text, "fan-out to 10 destinations of 50 ms: 52.7 ms, one destination 50.9 ms: 1.04x (target <1.3x: yes)")
	require.Contains(t, text, "(1 run)")
}

// benchLines makes one run's output with the given ns/op for raw, Sender.Do
// and Send of the webhook.
func benchLines(raw, do, send float64) *output {
	in := fmt.Sprintf("BenchmarkRawPost/webhook-2 \t 200 \t %.0f ns/op \t 87 allocs/op\n"+
		"BenchmarkSenderDo/webhook-2 \t 200 \t %.0f ns/op \t 105 allocs/op\n"+
		"BenchmarkSend/webhook-2 \t 200 \t %.0f ns/op \t 137 allocs/op\n"+
		"BenchmarkFanout-2 \t 200 \t 52000000 ns/op \t 50000000 single-ns/op \t %.3f x-single\n", raw, do, send, send/raw)
	out, err := parse(strings.NewReader(in))
	if err != nil {
		panic(err)
	}
	return out
}

// TestSummarizePairsRatiosWithinRuns: the ratio is the median of each
// run's own ratio, not the ratio of the medians, so a run on a busy
// machine moves both of its sides.
func TestSummarizePairsRatiosWithinRuns(t *testing.T) {
	s := summarize([]*output{benchLines(100, 110, 150), benchLines(200, 190, 220), benchLines(100, 100, 120)})
	require.Len(t, s.rows, 1)
	r := s.rows[0]
	require.InDelta(t, 1.2, r.ratio, 1e-9, "median of 1.5, 1.1 and 1.2")
	require.InDelta(t, 100, r.rawNs, 1e-9)
	require.InDelta(t, 150, r.sendNs, 1e-9)
	require.InDelta(t, 1.0, r.coreRatio, 1e-9, "median of 1.1, 0.95 and 1.0")
	require.InDelta(t, 50, r.extraAllocs, 1e-9)
	require.InDelta(t, 18, r.coreAllocs, 1e-9)
	require.False(t, r.met)
	require.InDelta(t, 1.2, s.fanout["x-single"], 1e-9)

	var buf bytes.Buffer
	require.NoError(t, s.write(&buf, "cmd"))
	require.Contains(t, buf.String(), "medians of 3 runs")
}

func TestParseSkipsWhatIsNotAResult(t *testing.T) {
	in := strings.Join([]string{
		"goos: linux",
		"BenchmarkSend/slack-8   	     200	    1000 ns/op	  10 allocs/op",
		"BenchmarkSend/slack-8 logs a line of its own",
		"BenchmarkSend/webhook-8 	     200	    2000 ns/op	  20 allocs/op",
		"--- BENCH: BenchmarkSend/webhook-8",
		"    bench_test.go:1: a note",
		"PASS",
	}, "\n")
	out, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, []string{"BenchmarkSend/slack", "BenchmarkSend/webhook"}, out.order)
	require.Equal(t, 1, out.results["BenchmarkSend/slack"].runs)

	// No raw post ran: the rows say so instead of dividing by zero.
	s := summarize([]*output{out})
	require.Len(t, s.rows, 2)
	require.True(t, s.rows[0].noBaseline)
	var buf bytes.Buffer
	require.NoError(t, s.write(&buf, "cmd"))
	require.Contains(t, buf.String(), "no baseline")
	require.NotContains(t, buf.String(), "fan-out")
}

func TestParseEmptyOutput(t *testing.T) {
	_, err := parse(strings.NewReader("PASS\nok  \tpkg\t0.1s\n"))
	require.ErrorContains(t, err, "no benchmark results")
}

func TestStripProcs(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkSend/slack-2":          "BenchmarkSend/slack",
		"BenchmarkFanout-16":             "BenchmarkFanout",
		"BenchmarkSend/webhook-loopback": "BenchmarkSend/webhook-loopback",
		"BenchmarkX":                     "BenchmarkX",
	} {
		require.Equal(t, want, stripProcs(in), in)
	}
}

func TestQuoteArgs(t *testing.T) {
	require.Equal(t, []string{"test", "-run", "'^$'", "-bench", "."}, quoteArgs([]string{"test", "-run", "^$", "-bench", "."}))
}
