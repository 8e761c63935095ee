package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The targets (issue 9): Send costs at most 1.15x the raw post and
// adds fewer than 40 allocations; fan-out to ten 50 ms destinations takes
// under 1.3x one of them.
const (
	maxSendRatio   = 1.15
	maxExtraAllocs = 40
	maxFanoutRatio = 1.3
)

// The benchmark names internal/conformance defines.
const (
	sendPrefix = "BenchmarkSend/"
	rawPrefix  = "BenchmarkRawPost/"
	fanoutName = "BenchmarkFanout"
)

// result is one benchmark's figures: its metrics by unit ("ns/op",
// "allocs/op", "x-single", ...), the median over its runs when go test ran
// it more than once (-count).
type result struct {
	name    string
	runs    int
	metrics map[string]float64
}

// output is what parse reads of go test -bench output.
type output struct {
	header  []string // goos, goarch, pkg, cpu
	results map[string]*result
	order   []string // benchmark names, in the order first seen
}

// parse reads go test -bench output: the header lines and every benchmark
// line ("BenchmarkSend/slack-2  200  123 ns/op  10 B/op  5 allocs/op ...").
// The -N GOMAXPROCS suffix is dropped from names; a benchmark run several
// times gets the median of each metric.
func parse(r io.Reader) (*output, error) {
	out := &output{results: map[string]*result{}}
	samples := map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, h := range []string{"goos:", "goarch:", "pkg:", "cpu:"} {
			if strings.HasPrefix(line, h) {
				out.header = append(out.header, line)
			}
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		// A name, the iteration count, then value-unit pairs; anything else
		// (a benchmark's own log line) is skipped.
		if len(fields) < 4 || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := stripProcs(fields[0])
		m := map[string]float64{}
		ok := true
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				ok = false
				break
			}
			m[fields[i+1]] = v
		}
		if !ok {
			continue
		}
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			out.order = append(out.order, name)
		}
		for unit, v := range m {
			samples[name][unit] = append(samples[name][unit], v)
		}
		if r := out.results[name]; r != nil {
			r.runs++
		} else {
			out.results[name] = &result{name: name, runs: 1}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for name, units := range samples {
		r := out.results[name]
		r.metrics = make(map[string]float64, len(units))
		for unit, vs := range units {
			r.metrics[unit] = median(vs)
		}
	}
	if len(out.results) == 0 {
		return nil, fmt.Errorf("no benchmark results in the output")
	}
	return out, nil
}

// stripProcs drops the -N suffix go test adds for GOMAXPROCS.
func stripProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// The benchmark that replays the same bytes through sender.Sender.Do
// alone: the core's share of the overhead.
const doPrefix = "BenchmarkSenderDo/"

// row is one destination's line of the report.
type row struct {
	dest        string
	sendNs      float64
	rawNs       float64
	ratio       float64 // Send over raw, of the same run
	extraAllocs float64 // Send's allocs/op minus raw's
	coreRatio   float64 // Sender.Do over raw; NaN when it did not run
	coreAllocs  float64 // Sender.Do's allocs/op minus raw's
	met         bool
	noBaseline  bool
}

// rows pairs, within one run, each BenchmarkSend/<dest> with
// BenchmarkRawPost/<dest> (and BenchmarkSenderDo/<dest>).
func (o *output) rows() []row {
	var rows []row
	for _, name := range o.order {
		dest, ok := strings.CutPrefix(name, sendPrefix)
		if !ok {
			continue
		}
		send := o.results[name]
		r := row{dest: dest, sendNs: send.metrics["ns/op"], coreRatio: math.NaN(), coreAllocs: math.NaN()}
		raw, ok := o.results[rawPrefix+dest]
		if !ok {
			r.noBaseline = true
			rows = append(rows, r)
			continue
		}
		r.rawNs = raw.metrics["ns/op"]
		r.ratio = r.sendNs / r.rawNs
		r.extraAllocs = send.metrics["allocs/op"] - raw.metrics["allocs/op"]
		if do, ok := o.results[doPrefix+dest]; ok {
			r.coreRatio = do.metrics["ns/op"] / r.rawNs
			r.coreAllocs = do.metrics["allocs/op"] - raw.metrics["allocs/op"]
		}
		rows = append(rows, r)
	}
	return rows
}

// summary is the report over one or more runs of the benchmarks: each
// figure is the median over the runs, ratios taken within each run first,
// so that a run on a busier machine moves both sides of a ratio.
type summary struct {
	header []string
	runs   int
	rows   []row
	fanout map[string]float64 // ns/op, single-ns/op, x-single; nil when it did not run
}

func summarize(outs []*output) summary {
	s := summary{runs: len(outs)}
	if len(outs) > 0 {
		s.header = outs[0].header
	}
	type samples struct{ send, raw, ratio, extra, core, coreAllocs []float64 }
	byDest := map[string]*samples{}
	var order []string
	noBaseline := map[string]bool{}
	fan := map[string][]float64{}
	for _, o := range outs {
		for _, r := range o.rows() {
			sm := byDest[r.dest]
			if sm == nil {
				sm = &samples{}
				byDest[r.dest] = sm
				order = append(order, r.dest)
			}
			sm.send = append(sm.send, r.sendNs)
			if r.noBaseline {
				noBaseline[r.dest] = true
				continue
			}
			sm.raw = append(sm.raw, r.rawNs)
			sm.ratio = append(sm.ratio, r.ratio)
			sm.extra = append(sm.extra, r.extraAllocs)
			if !math.IsNaN(r.coreRatio) {
				sm.core = append(sm.core, r.coreRatio)
				sm.coreAllocs = append(sm.coreAllocs, r.coreAllocs)
			}
		}
		if f, ok := o.results[fanoutName]; ok {
			for unit, v := range f.metrics {
				fan[unit] = append(fan[unit], v)
			}
		}
	}
	for _, dest := range order {
		sm := byDest[dest]
		r := row{dest: dest, sendNs: median(sm.send), coreRatio: math.NaN(), coreAllocs: math.NaN()}
		if noBaseline[dest] || len(sm.raw) == 0 {
			r.noBaseline = true
			s.rows = append(s.rows, r)
			continue
		}
		r.rawNs, r.ratio, r.extraAllocs = median(sm.raw), median(sm.ratio), median(sm.extra)
		if len(sm.core) > 0 {
			r.coreRatio, r.coreAllocs = median(sm.core), median(sm.coreAllocs)
		}
		r.met = r.ratio <= maxSendRatio && r.extraAllocs < maxExtraAllocs
		s.rows = append(s.rows, r)
	}
	if len(fan) > 0 {
		s.fanout = map[string]float64{}
		for unit, vs := range fan {
			s.fanout[unit] = median(vs)
		}
	}
	return s
}

// write prints the report: one table of Send against the raw post, and the
// fan-out line.
func (s summary) write(w io.Writer, command string) error {
	for _, h := range s.header {
		if _, err := fmt.Fprintln(w, h); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "command: %s\n\n", command)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "destination\tSend ns/op\traw ns/op\tratio\textra allocs/op\ttarget met (<=%.2fx, <%d allocs)\tSender.Do ratio\tSender.Do extra allocs\t\n",
		maxSendRatio, maxExtraAllocs)
	for _, r := range s.rows {
		if r.noBaseline {
			fmt.Fprintf(tw, "%s\t%.0f\t-\t-\t-\tno baseline\t-\t-\t\n", r.dest, r.sendNs)
			continue
		}
		core, coreAllocs := "-", "-"
		if !math.IsNaN(r.coreRatio) {
			core, coreAllocs = fmt.Sprintf("%.2fx", r.coreRatio), fmt.Sprintf("%+.0f", r.coreAllocs)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3fx\t%+.0f\t%s\t%s\t%s\t\n", r.dest, r.sendNs, r.rawNs, r.ratio, r.extraAllocs,
			yesNo(r.met), core, coreAllocs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.fanout != nil {
		x, ok := s.fanout["x-single"]
		if !ok {
			x = math.NaN()
		}
		fmt.Fprintf(w, "\nfan-out to 10 destinations of 50 ms: %.1f ms, one destination %.1f ms: %.2fx (target <%.1fx: %s)\n",
			s.fanout["ns/op"]/1e6, s.fanout["single-ns/op"]/1e6, x, maxFanoutRatio, yesNo(x < maxFanoutRatio))
	}
	runs := "1 run"
	if s.runs > 1 {
		runs = fmt.Sprintf("medians of %d runs", s.runs)
	}
	_, err := fmt.Fprintf(w, "\nratio = Send ns/op / raw ns/op; extra allocs = Send allocs/op - raw allocs/op; "+
		"Sender.Do = the same bytes through notify's plumbing alone (%s).\n", runs)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
