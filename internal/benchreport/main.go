// Command benchreport runs the library's performance benchmarks and prints
// one table: for each HTTP destination, Send against a plain net/http post
// of the same bytes (ns/op, the ratio, the extra allocations, and whether
// the target is met), and the fan-out ratio.
//
// From the module root:
//
//	go run ./internal/benchreport                  # -benchtime 200x
//	go run ./internal/benchreport -benchtime 2000x -count 5
//
// It runs, with the go tool found on PATH,
//
//	go test -run '^$' -bench . -benchmem -benchtime 200x ./internal/conformance/
//
// and reads its output; with -count N it runs that command N times and
// reports the median of each figure, each ratio taken within its run. A
// third column pair shows sender.Sender.Do alone on the same bytes (the
// core's share; the rest of the overhead is the destination's own work). The benchmarks talk to loopback servers only, so the numbers
// include the server's share, which is the same in both columns. Targets
// (issue 9): Send at most 1.15x the raw post and fewer than 40 extra
// allocations per Send; fan-out to ten 50 ms destinations under 1.3x one.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	benchtime := flag.String("benchtime", "200x", "go test -benchtime: iterations (200x) or a duration (1s)")
	count := flag.Int("count", 1, "run the benchmarks this many times and report the medians")
	bench := flag.String("bench", ".", "go test -bench: which benchmarks to run")
	verbose := flag.Bool("v", false, "echo go test's output to stderr as it runs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bench, *benchtime, *count, *verbose, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

const benchPackage = "./internal/conformance/"

func run(ctx context.Context, bench, benchtime string, count int, verbose bool, stdout io.Writer) error {
	if count < 1 {
		return errors.New("-count must be at least 1")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go tool is not on PATH: %w", err)
	}
	root, err := moduleRoot(ctx, goTool)
	if err != nil {
		return err
	}
	args := []string{"test", "-run", "^$", "-bench", bench, "-benchmem", "-benchtime", benchtime, benchPackage}
	command := "go " + strings.Join(quoteArgs(args), " ")
	if count > 1 {
		command += " (" + strconv.Itoa(count) + " times)"
	}
	var outs []*output
	// Each run does every benchmark once, baseline next to Send, and the
	// runs alternate: a busy moment of the machine weighs on both sides
	// of a ratio instead of on one benchmark's -count repetitions.
	for i := range count {
		fmt.Fprintf(os.Stderr, "benchreport: run %d/%d: %s (in %s)\n", i+1, count, command, root)
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir = root
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if verbose {
			cmd.Stdout = io.MultiWriter(&out, os.Stderr)
		}
		if err := cmd.Run(); err != nil {
			os.Stderr.Write(out.Bytes())
			return fmt.Errorf("go test failed: %w", err)
		}
		parsed, err := parse(&out)
		if err != nil {
			return err
		}
		outs = append(outs, parsed)
	}
	return summarize(outs).write(stdout, command)
}

// moduleRoot asks the go tool where the module's go.mod is, so that the
// command works from any directory of the module.
func moduleRoot(ctx context.Context, goTool string) (string, error) {
	b, err := exec.CommandContext(ctx, goTool, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run benchreport inside the module (go env GOMOD names no go.mod)")
	}
	return filepath.Dir(gomod), nil
}

// quoteArgs quotes the arguments a shell would otherwise read, so the
// printed command can be pasted.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$*?[] \t'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
