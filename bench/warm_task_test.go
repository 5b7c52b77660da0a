package bench

import (
	"context"
	"strconv"
	"testing"

	"github.com/cajonfarm/cajon/host/task"
)

// countingReporter is a task.Reporter that only counts, so the benchmark
// measures the path from the plugin to the Reporter, not what is behind it.
type countingReporter struct{ batches, lines, progress, outputs, children int }

func (c *countingReporter) Log(lines []string)    { c.batches++; c.lines += len(lines) }
func (c *countingReporter) Progress(int, string)  { c.progress++ }
func (c *countingReporter) Output(string, string) { c.outputs++ }
func (c *countingReporter) Child(int, bool)       { c.children++ }

// BenchmarkWarmTask: one task of one command through a warm plugin, end to
// end as the worker runs it (task.Runner over the registry): the request
// out, every event decoded and handed to the task's Reporter, the result
// back. "echo" is the fixed cost of a call; "log-10k-lines" is a command
// whose child process prints 10,000 lines of 80 bytes, the volume a
// command's events are mostly made of; "sleep-1s" is a quiet command, whose
// host CPU is what watching a running command costs (the node guard). host-cpu-us/op is the CPU time of the
// host alone (this process: not the plugin, not its child; in 10 ms ticks
// summed over the run), the side the decoding is on, and steadier than wall
// time on a shared machine. log-batches/op counts the Log calls the
// Reporter got (the task's own line included).
func BenchmarkWarmTask(b *testing.B) {
	reg := openExec(b)
	defer reg.Close()
	runner := &task.Runner{Commands: reg}
	cases := []struct {
		name    string
		command task.Command
		lines   int // at least this many lines reach the Reporter
	}{
		{"echo", task.Command{Name: "echo", Params: map[string]any{"message": "x"}}, 1},
		{"log-10k-lines", task.Command{Name: "test-flood", Params: map[string]any{"lines": 10_000, "width": 80}}, 10_000},
		// A quiet second: what watching a running command costs the host.
		{"sleep-1s", task.Command{Name: "exec", Params: map[string]any{"exe": "sleep", "args": []any{"1"}}}, 1},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			batches := 0
			run := func(i int) {
				var rep countingReporter
				out := runner.Run(context.Background(), task.Task{ID: "bench" + strconv.Itoa(i), JobID: "bench", Commands: []task.Command{tc.command}}, &rep)
				if out.Status != task.Completed || rep.lines < tc.lines {
					b.Fatalf("%s: %v %q, %d lines", tc.name, out.Status, out.Message, rep.lines)
				}
				batches += rep.batches
			}
			run(-1) // the plugin is started and warm before the clock runs
			cpu0, _ := cpuSeconds("self")
			batches = 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(i)
			}
			b.StopTimer()
			cpu1, _ := cpuSeconds("self")
			b.ReportMetric((cpu1-cpu0)*1e6/float64(b.N), "host-cpu-us/op")
			b.ReportMetric(float64(batches)/float64(b.N), "log-batches/op")
		})
	}
}
