package worker

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
)

// BenchmarkAbortLatency cancels a running job on the Manager and measures
// until the last process of the task's tree is gone, with the default
// may_i_run_interval (1 s) and kill_grace. The tree exits on SIGTERM: a
// shell, a background child, a setsid'd child and a double-forked one.
func BenchmarkAbortLatency(b *testing.B) {
	mgr := managertest.New(b, managertest.Config{})
	cfg := benchConfig(b, mgr)
	r := startBenchWorker(b, mgr, cfg)
	script := func(pidFile string) string {
		return fmt.Sprintf(`
pids=%q
sleep 300 & echo $! >> "$pids"
setsid sleep 300 & echo $! >> "$pids"
( sleep 300 & echo $! >> "$pids" ) &
echo $$ >> "$pids"
wait
`, pidFile)
	}
	var total, worst time.Duration
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		pidFile := filepath.Join(dir, fmt.Sprintf("pids-%d", i))
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{shellTask("tree", script(pidFile))}})
		waitFor(b, "the tree to start", func() bool { return len(readPids(b, pidFile)) == 4 })
		pids := readPids(b, pidFile)
		// Let the cancel land anywhere in the may-i-run period.
		time.Sleep(time.Duration(i%10) * cfg.Manager.MayIRunInterval / 10)
		b.StartTimer()
		start := time.Now()
		if err := mgr.CancelJob(job.ID); err != nil {
			b.Fatal(err)
		}
		for slices.ContainsFunc(pids, alive) {
			if time.Since(start) > time.Minute {
				b.Fatalf("tree still alive a minute after the cancel")
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		b.StopTimer()
		total += d
		worst = max(worst, d)
		waitFor(b, "the worker to be free", func() bool { return r.w.Status().TaskID == "" })
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/abort")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	r.stop()
}
