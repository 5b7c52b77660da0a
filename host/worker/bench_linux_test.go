package worker_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// BenchmarkAbortLatency cancels a running job on the Manager and measures
// until the last process of the task's tree is gone, with the defaults:
// the event stream (the fake Manager serves it) brings may-i-run forward,
// and kill_grace is 10 s. The tree is a shell, a
// background child, a setsid'd child and a double-forked one; in the
// "exits-on-TERM" case they all obey SIGTERM, in "ignores-TERM" they trap it,
// so the abort waits out the grace period and escalates to SIGKILL.
func BenchmarkAbortLatency(b *testing.B) {
	for _, tc := range []struct{ name, trap string }{
		{"exits-on-TERM", ""},
		{"ignores-TERM", `trap '' TERM HUP`},
	} {
		b.Run(tc.name, func(b *testing.B) { benchAbortLatency(b, tc.trap) })
	}
}

func benchAbortLatency(b *testing.B, trap string) {
	mgr := managertest.New(b, managertest.Config{})
	cfg := benchConfig(b, mgr)
	r := startBenchWorker(b, mgr, cfg)
	script := func(pidFile string) string {
		return fmt.Sprintf(`
%[2]s
pids=%[1]q
sh -c "%[2]s; exec sleep 300" & echo $! >> "$pids"
setsid sh -c "%[2]s; exec sleep 300" & echo $! >> "$pids"
( sh -c "%[2]s; exec sleep 300" & echo $! >> "$pids" ) &
echo $$ >> "$pids"
wait
sleep 300
`, pidFile, trap)
	}
	var times []time.Duration
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		pidFile := filepath.Join(dir, fmt.Sprintf("pids-%d", i))
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.ShellTask("tree", script(pidFile))}})
		waitFor(b, "the tree to start", func() bool { return len(proctest.ReadPidList(b, pidFile)) == 4 })
		pids := proctest.ReadPidList(b, pidFile)
		// Let the cancel land anywhere in the may-i-run period.
		time.Sleep(time.Duration(i%10) * cfg.Manager.MayIRunInterval / 10)
		b.StartTimer()
		start := time.Now()
		if err := mgr.CancelJob(job.ID); err != nil {
			b.Fatal(err)
		}
		for slices.ContainsFunc(pids, proctest.Alive) {
			if time.Since(start) > time.Minute {
				b.Fatalf("tree still alive a minute after the cancel")
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		b.StopTimer()
		times = append(times, d)
		waitFor(b, "the worker to be free", func() bool { return r.Status().TaskID == "" })
	}
	slices.Sort(times)
	var total time.Duration
	for _, d := range times {
		total += d
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/abort")
	b.ReportMetric(float64(percentile(times, 50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(times, 95).Milliseconds()), "p95-ms")
	b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "worst-ms")
	r.Stop()
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted) + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}
