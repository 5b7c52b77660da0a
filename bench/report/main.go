// Command report turns `go test -bench` output into docs/BENCHMARKS.md: one
// row per figure Cajon promises, with its target, the measured value and the
// command that reproduces it. Benchmarks it does not know are listed too.
//
//	go test -run '^$' -bench . ./bench/ ./host/... | go run ./bench/report > docs/BENCHMARKS.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// figure is one promised number: which benchmark metric, and its target.
type figure struct {
	name   string
	bench  string // benchmark name without -N suffix
	metric string // unit as reported, e.g. "ms/command"
	target float64
	atMost bool // true: lower is better
	pkg    string
	note   string // what a reader should know about this figure, if anything
}

func figures() []figure {
	return []figure{
		{"Plugin cold start to first event (ms)", "BenchmarkPluginColdStart", "ms-to-first-event", 50, true, "./bench/", ""},
		{"Warm per-command overhead of echo (ms)", "BenchmarkWarmEcho", "ms/command", 2, true, "./bench/", ""},
		{"1,000,000 lines through plugin + limiter (MB/s)", "BenchmarkLogPipeline", "MB/s", 100, false, "./bench/", ""},
		{"Log pipeline: host + plugin peak RSS (MB)", "BenchmarkLogPipeline", "peak-RSS-MB", 50, true, "./bench/",
			"Two Go processes: each has 13-15 MB of its own binary resident (file-backed pages, `RssFile` in /proc/PID/status: ~29 MB of the total before a line flows), and the host holds the tail of the task's 8 MiB log budget (`max_log_bytes`: head live, 6.4 MiB tail until the end) by design, which the Go GC counts twice. The host here is the benchmark binary. Tried: a 10 MiB soft memory limit in the plugin (31 → 22 MB, but it would make plugins that decode big images spend their CPU in the GC), the tail outside the Go heap (host 52 → 44 MB, +10% CPU; see docs/ARCHITECTURE.md). Neither reaches 50 MB, so neither is set."},
		{"Log pipeline: host CPU (s per 100 MB of log)", "BenchmarkLogPipeline", "host-cpu-s/op", 0, true, "./bench/", ""},
		{"Log pipeline: plugin CPU incl. the printing child (s per 100 MB)", "BenchmarkLogPipeline", "plugin-cpu-s/op", 0, true, "./bench/", ""},
		{"Log pipeline: bytes sent to the Manager / bytes produced (%)", "BenchmarkLogPipeline", "%-sent", 0, true, "./bench/", ""},
		{"Host + plugins RSS, first start ever (all plugins describe themselves) (MB)", "BenchmarkHostRSS", "first-start-MB", 0, true, "./bench/", ""},
		{"Host + plugins RSS, later start (descriptions cached) (MB)", "BenchmarkHostRSS", "start-MB", 40, true, "./bench/", ""},
		{"Host + plugins RSS while a task runs (MB)", "BenchmarkHostRSS", "running-MB", 0, true, "./bench/", ""},
		{"Host + plugins RSS idle, plugins stopped by their timeout (MB)", "BenchmarkHostRSS", "idle-MB", 40, true, "./bench/", ""},
		{"Per-task overhead, zero-length tasks, whole stack (ms)", "BenchmarkTaskOverhead", "ms/task", 20, true, "./host/worker/", ""},
		{"Abort latency p50, tree exits on TERM (ms)", "BenchmarkAbortLatency/exits-on-TERM", "p50-ms", 1500, true, "./host/worker/", ""},
		{"Abort latency p95, tree exits on TERM (ms)", "BenchmarkAbortLatency/exits-on-TERM", "p95-ms", 1500, true, "./host/worker/", ""},
		{"Abort latency p50, tree ignores TERM: grace 10 s, then KILL (ms)", "BenchmarkAbortLatency/ignores-TERM", "p50-ms", 0, true, "./host/worker/", ""},
		{"Abort latency p95, tree ignores TERM (ms)", "BenchmarkAbortLatency/ignores-TERM", "p95-ms", 0, true, "./host/worker/", ""},
		{"10,000 queued updates delivered after an outage (ms)", "BenchmarkBacklogAfterOutage", "ms/backlog", 10000, true, "./host/worker/", ""},
		{"Local queue throughput, zero-length tasks (tasks/s)", "BenchmarkQueueZeroLengthTasks/slots=1", "tasks/s", 0, false, "./host/local/scheduler/", ""},
		{"Local queue throughput, real echo commands (tasks/s)", "BenchmarkQueueEcho/slots=1", "tasks/s", 0, false, "./host/local/scheduler/", ""},
		{"Job file of 100,000 tasks accepted: parse, check, store (s)", "BenchmarkAcceptJob100k", "s/job", 5, true, "./host/local/scheduler/",
			"What `cajon local submit` does with an 11.6 MB file of 100,000 one-command tasks (every tenth depending on the one before): parse and check it, check its commands against the plugins, store it in one SQLite transaction. Linear in the file's size (a parameter key of 100,000 parts is refused for its depth in a quarter of a second); before, the line of every header was found by rescanning the file, and 8,000 tasks took 6 s to parse, 100,000 over 10 minutes."},
		{"Job file of 100,000 tasks accepted: CPU time (s)", "BenchmarkAcceptJob100k", "cpu-s/job", 0, true, "./host/local/scheduler/", ""},
		{"10-frame Simple Blender Render job vs bare Blender + FFmpeg (ratio)", "BenchmarkRenderJobOverhead", "x-bare", 1.5, true, "./internal/e2e/", ""},
	}
}

var lineRe = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// result holds the metrics of one benchmark line, by unit.
type result map[string]float64

func parse(r io.Reader) (map[string]result, []string, error) {
	out := map[string]result{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := lineRe.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		res := result{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			res[fields[i+1]] = v
		}
		if _, seen := out[m[1]]; !seen {
			order = append(order, m[1])
		}
		out[m[1]] = res
	}
	return out, order, sc.Err()
}

func main() {
	results, order, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "report: no benchmark lines on stdin")
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "# Benchmarks\n\nMeasured %s on %s/%s (%d CPUs), a shared and noisy machine: compare ratios within one run.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(w, "Regenerate everything with `make bench`.\n\n")
	fmt.Fprintf(w, "| figure | target | measured | verdict | command |\n|---|---|---|---|---|\n")
	used := map[string]bool{}
	for _, f := range figures() {
		res, ok := results[f.bench]
		v, has := res[f.metric]
		cmd := fmt.Sprintf("`go test -run '^$' -bench '%s' -benchtime %s %s`", benchPattern(f.bench), benchtime(f.bench), f.pkg)
		if !ok || !has {
			fmt.Fprintf(w, "| %s | %s | not measured | - | %s |\n", f.name, target(f), cmd)
			continue
		}
		used[f.bench] = true
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", f.name, target(f), number(v), verdict(f, v), cmd)
	}
	var notes []string
	for _, f := range figures() {
		if f.note != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", f.name, f.note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n\n%s\n", strings.Join(notes, "\n"))
	}
	var extra []string
	for _, name := range order {
		if !used[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		fmt.Fprintf(w, "\n## Other benchmarks\n\n| benchmark | metrics |\n|---|---|\n")
		for _, name := range extra {
			var parts []string
			for unit, v := range results[name] {
				parts = append(parts, fmt.Sprintf("%s %s", number(v), unit))
			}
			sort.Strings(parts)
			fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(parts, ", "))
		}
	}
}

func target(f figure) string {
	if f.target == 0 {
		return "(reported)"
	}
	if f.atMost {
		return "≤ " + strconv.FormatFloat(f.target, 'g', -1, 64)
	}
	return "≥ " + strconv.FormatFloat(f.target, 'g', -1, 64)
}

func verdict(f figure, v float64) string {
	switch {
	case f.target == 0:
		return "-"
	case f.atMost && v <= f.target, !f.atMost && v >= f.target:
		return "met"
	default:
		return "**missed**"
	}
}

// benchPattern anchors each level of a sub-benchmark name for -bench.
func benchPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// number shows a measurement with four significant digits, never in
// exponent form.
func number(v float64) string {
	if v >= 1000 || v <= -1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// benchtime is how many runs `make bench` gives a benchmark.
func benchtime(name string) string {
	switch {
	case strings.HasPrefix(name, "BenchmarkTaskOverhead"):
		return "200x" // one job of 200 tasks
	case strings.HasPrefix(name, "BenchmarkAbortLatency"):
		return "20x" // 20 samples for p50/p95
	}
	return "5x"
}
