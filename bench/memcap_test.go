package bench

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
)

// openExecCgroups is openExec with a memory cgroup per capped command; it
// skips the benchmark where the node has none this process may manage.
func openExecCgroups(b *testing.B) *plugins.Registry {
	b.Helper()
	reg, err := plugins.Open(context.Background(), plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}, MemoryCgroups: true})
	if err != nil {
		b.Fatal(err)
	}
	if reg.MemoryCap() == "watchdog" {
		reg.Close()
		b.Skip("no memory cgroup this process may manage")
	}
	return reg
}

// BenchmarkWarmTaskMemoryCap: BenchmarkWarmTask's echo and sleep-1s with
// max_task_memory = 1 GiB, enforced by the watchdog alone and by a memory
// cgroup per command (an empty one reused from the pool, host/cgroups) with the
// watchdog beside it. The difference in host-cpu-us/op is what the cgroup of
// each command costs.
func BenchmarkWarmTaskMemoryCap(b *testing.B) {
	for _, how := range []struct {
		name string
		open func(*testing.B) *plugins.Registry
	}{{"watchdog", openExec}, {"cgroup", openExecCgroups}} {
		b.Run(how.name, func(b *testing.B) {
			reg := how.open(b)
			defer reg.Close()
			runner := &task.Runner{Commands: reg, Guard: plugins.Guard{MaxMemory: 1 << 30}}
			for _, tc := range []struct {
				name    string
				command task.Command
			}{
				{"echo", task.Command{Name: "echo", Params: map[string]any{"message": "x"}}},
				{"sleep-1s", task.Command{Name: "exec", Params: map[string]any{"exe": "sleep", "args": []any{"1"}}}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					run := func(i int) {
						var rep countingReporter
						out := runner.Run(context.Background(), task.Task{ID: "bench" + strconv.Itoa(i), JobID: "bench", Commands: []task.Command{tc.command}}, &rep)
						if out.Status != task.Completed {
							b.Fatalf("%s: %v %q", tc.name, out.Status, out.Message)
						}
					}
					run(-1) // the plugin is started and warm before the clock runs
					cpu0, _ := cpuSeconds("self")
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run(i)
					}
					b.StopTimer()
					cpu1, _ := cpuSeconds("self")
					b.ReportMetric((cpu1-cpu0)*1e6/float64(b.N), "host-cpu-us/op")
				})
			}
		})
	}
}
