package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
)

// BenchmarkGuard measures how fast the node guard acts (docs/CONFIG.md,
// stall_timeout and max_task_memory), through a warm testkit plugin as the
// worker runs a task.
//
//   - cap-to-kill: a command holds 80 MiB, under a 100 MiB cap, waits a
//     random 0-0.5 s (so what follows falls anywhere between two samples),
//     notes the time, then allocates 40 MiB more; cap-to-kill-ms/op is from
//     that time to the task's failure, its process tree killed: the few ms
//     the allocation takes to cross the cap, up to one GuardInterval of
//     sampling, then the kill and the plugin's result.
//   - stall-to-abort: a command that prints nothing and uses no CPU, with a
//     1 s stall_timeout; stall-to-abort-ms/op is from the moment the stall
//     timeout ran out (start + 1 s) to the task's failure, its tree gone
//     (sampling, then TERM and the plugin's canceled result).
//
// Under watchdog/ the host's sampling enforces the cap; under cgroup/ the
// command runs in a memory cgroup with the cap as its limit (skipped where
// the node has none this process may manage), and the kernel kills it.
func BenchmarkGuard(b *testing.B) {
	for _, how := range []struct {
		name string
		open func(*testing.B) *plugins.Registry
	}{{"watchdog", openExec}, {"cgroup", openExecCgroups}} {
		b.Run(how.name, func(b *testing.B) {
			reg := how.open(b)
			defer reg.Close()
			benchGuard(b, reg)
		})
	}
}

func benchGuard(b *testing.B, reg *plugins.Registry) {
	dir := b.TempDir()
	mark := filepath.Join(dir, "allocated")
	var lastMessage string // of the latest task, for errors
	cases := []struct {
		name    string
		guard   plugins.Guard
		script  string
		metric  string
		elapsed func(start, end time.Time) time.Duration
	}{
		{"cap-to-kill", plugins.Guard{MaxMemory: 100 << 20},
			fmt.Sprintf(`perl -MTime::HiRes=time -e '$n = 80 << 20; $a = "a" x $n; select(undef, undef, undef, rand(0.5)); open(F, ">%s.tmp") or die; printf F "%%.6f\n", time; close F; rename("%s.tmp", "%s"); $n = 40 << 20; $b = "b" x $n; sleep 1000'`, mark, mark, mark),
			// $n: perl folds a constant "x" x (80 << 20) when it compiles.
			"cap-to-kill-ms/op",
			func(_, end time.Time) time.Duration {
				raw, err := os.ReadFile(mark)
				if err != nil {
					b.Fatalf("the hog noted no time: %v (%s)", err, lastMessage)
				}
				at, err := strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
				if err != nil {
					b.Fatal(err)
				}
				return end.Sub(time.Unix(0, int64(at*1e9)))
			}},
		{"stall-to-abort", plugins.Guard{StallTimeout: time.Second}, `exec sleep 1000`,
			"stall-to-abort-ms/op",
			func(start, end time.Time) time.Duration { return end.Sub(start) - time.Second }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			runner := &task.Runner{Commands: reg, Guard: tc.guard}
			var total time.Duration
			run := func(i int) {
				os.Remove(mark)
				var rep countingReporter
				start := time.Now()
				out := runner.Run(context.Background(), task.Task{ID: "guard" + strconv.Itoa(i), JobID: "bench",
					Commands: []task.Command{{Name: "test-tree", Params: map[string]any{"script": tc.script}}}}, &rep)
				end := time.Now()
				lastMessage = out.Message
				if out.Status != task.Failed {
					b.Fatalf("%s: %v %q, want failed by the guard", tc.name, out.Status, out.Message)
				}
				total += tc.elapsed(start, end)
			}
			run(-1) // the plugin is started and warm before the clock runs
			total = 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(i)
			}
			b.StopTimer()
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), tc.metric)
		})
	}
}
