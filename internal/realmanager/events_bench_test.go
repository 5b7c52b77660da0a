//go:build unix

package realmanager

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// benchEnv reads a duration or count of the event stream benchmarks from
// the environment, or def.
func benchEnv[T time.Duration | int](tb testing.TB, name string, def T) T {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out T
	switch p := any(&out).(type) {
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			tb.Fatalf("%s=%s: %v", name, v, err)
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			tb.Fatalf("%s=%s: %v", name, v, err)
		}
		*p = n
	}
	return out
}

// p95 is the 95th percentile (nearest rank) of xs.
func p95(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (95*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

// BenchmarkStreamLatency: with the event stream (the defaults), the time
// from a job's submission after a quiet spell (CAJON_BENCH_IDLE, 60 s) to
// its task's process starting, and from the job's cancel to that process
// being killed. CAJON_BENCH_SAMPLES (8) samples; p95 and max reported.
//
//	go test -run '^$' -bench StreamLatency -benchtime 1x -timeout 60m ./internal/realmanager/
func BenchmarkStreamLatency(b *testing.B) {
	idle := benchEnv(b, "CAJON_BENCH_IDLE", 60*time.Second)
	samples := benchEnv(b, "CAJON_BENCH_SAMPLES", 8)
	m := startManager(b)
	// The defaults, not startCajon's quick fetch back-off.
	c := startCajon(b, m, "cajon-latency", cajonOptions{env: []string{"CAJON_MANAGER_FETCH_BACKOFF_MAX=20s"}})
	m.waitWorker(c.Name, "awake", 60*time.Second)
	var pickups, cancels []float64
	for i := range samples * b.N {
		time.Sleep(idle) // the quiet spell is what is measured against
		dir := b.TempDir()
		script := fmt.Sprintf("echo $$ > %[1]s/pid; date +%%s%%N > %[1]s/started; exec sleep 600", dir)
		submitted := time.Now()
		job := execJob(m, fmt.Sprintf("latency-%d", i), "/bin/sh", "-c", script)
		var pid int
		var started time.Time
		testwait.Within(b, "the task's process to start", 60*time.Second, func() bool {
			raw, err := os.ReadFile(filepath.Join(dir, "started"))
			p := proctest.ReadPidFiles(dir, "pid")
			if err != nil || len(p) == 0 || len(strings.TrimSpace(string(raw))) < 10 {
				return false
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
			if err != nil {
				return false
			}
			pid, started = p["pid"], time.Unix(0, ns)
			return true
		})
		pickups = append(pickups, started.Sub(submitted).Seconds())
		// A cancel before the worker's first update lands is undone by
		// the Manager (see TestCancelsThroughTheStream).
		waitStarted(m, onlyTask(m, job).ID)
		cancelAt := time.Now()
		m.setJobStatus(job, "cancel-requested", "benchmark: cancel latency")
		for proctest.Alive(pid) {
			if time.Since(cancelAt) > 60*time.Second {
				b.Fatalf("the cancelled task's process %d still runs after 60 s", pid)
			}
			time.Sleep(2 * time.Millisecond)
		}
		cancels = append(cancels, time.Since(cancelAt).Seconds())
		m.waitJob(job, "canceled", 60*time.Second)
		b.Logf("sample %d: pickup %.3f s, cancel to kill %.3f s", i, pickups[i], cancels[i])
	}
	b.ReportMetric(p95(pickups), "pickup-p95-s")
	b.ReportMetric(slices.Max(pickups), "pickup-max-s")
	b.ReportMetric(p95(cancels), "cancel-p95-s")
	b.ReportMetric(slices.Max(cancels), "cancel-max-s")
	b.Logf("pickups %v\ncancels %v", pickups, cancels)
}

// BenchmarkManagerCPU: the Manager's CPU seconds per minute with
// CAJON_BENCH_WORKERS (10) workers, in one run: Cajon identities with the
// event stream idle, then busy (each running a long sleep task) over
// CAJON_BENCH_WINDOW (2 m); the same busy without the stream
// (may_i_run_interval 5 s); stock workers idle, then busy. An idle window
// (half the busy one) starts after CAJON_BENCH_SETTLE (70 s), once the
// fetch back-off of the workers that just started has reached its cap.
//
//	CAJON_BENCH_WORKERS=30 go test -run '^$' -bench ManagerCPU -benchtime 1x -timeout 60m ./internal/realmanager/
func BenchmarkManagerCPU(b *testing.B) {
	n := benchEnv(b, "CAJON_BENCH_WORKERS", 10)
	window := benchEnv(b, "CAJON_BENCH_WINDOW", 2*time.Minute)
	settle := benchEnv(b, "CAJON_BENCH_SETTLE", 70*time.Second)
	m := startManager(b)
	perMinute := func(what string, d time.Duration) float64 {
		before := treeCPU(m.cmd.Process.Pid)
		time.Sleep(d)
		v := (treeCPU(m.cmd.Process.Pid) - before) / d.Minutes()
		b.Logf("%s: Manager %.3f CPU s per minute", what, v)
		return v
	}
	busy := func(prefix string) []string {
		var jobs []string
		for i := range n {
			jobs = append(jobs, m.submit("echo-sleep-test", fmt.Sprintf("%s-%d", prefix, i), map[string]any{
				"message": "busy", "sleep_duration_seconds": 3600, "sleep_repeats": 1,
			}))
		}
		testwait.Within(b, fmt.Sprintf("%d sleep tasks to be active", n), 5*time.Minute, func() bool {
			active := 0
			for _, j := range jobs {
				for _, tk := range m.tasks(j) {
					if tk.Name == "sleep" && tk.Status == "active" {
						active++
					}
				}
			}
			return active == n
		})
		return jobs
	}
	cancelAll := func(jobs []string) {
		for _, j := range jobs {
			m.setJobStatus(j, "cancel-requested", "benchmark phase over")
		}
		for _, j := range jobs {
			m.waitJob(j, "canceled", 2*time.Minute)
		}
	}
	config := filepath.Join(b.TempDir(), "cajon.toml")
	ids := strings.Repeat("[[worker.identities]]\n", n)
	if err := os.WriteFile(config, []byte(ids), 0o600); err != nil {
		b.Fatal(err)
	}
	cajonPhase := func(name string, idle bool, env ...string) (busyCPU, idleCPU float64) {
		c := startCajon(b, m, name, cajonOptions{args: []string{"--config", config, "--log-level", "info"},
			env: append([]string{"CAJON_MANAGER_FETCH_BACKOFF_MAX=20s", "CAJON_MANAGER_MAY_I_RUN_INTERVAL=5s"}, env...)})
		for i := 1; i <= n; i++ {
			m.waitWorker(fmt.Sprintf("%s-%d", name, i), "awake", 60*time.Second)
		}
		if idle {
			time.Sleep(settle)
			idleCPU = perMinute(name+" idle", window/2)
		}
		jobs := busy(name)
		busyCPU = perMinute(name+" busy", window)
		stopCajon(b, c)
		cancelAll(jobs)
		return busyCPU, idleCPU
	}
	streamBusy, streamIdle := cajonPhase("cajon-stream", true)
	pollBusy, _ := cajonPhase("cajon-poll", false, "CAJON_MANAGER_EVENT_STREAM=false")
	b.ReportMetric(streamBusy, "cajon-stream-busy-cpu-s/min")
	b.ReportMetric(pollBusy, "cajon-poll-busy-cpu-s/min")
	b.ReportMetric(streamIdle, "cajon-stream-idle-cpu-s/min")

	var stock []int
	for i := range n {
		w := stockWorker(b, m, fmt.Sprintf("stock-%d", i))
		if w == nil {
			b.Log("no flamenco-worker: the stock half is left out")
			return
		}
		stock = append(stock, w.Process.Pid)
	}
	time.Sleep(settle)
	stockIdle := perMinute("stock idle", window/2)
	jobs := busy("stock")
	stockBusy := perMinute("stock busy", window)
	for _, pid := range stock {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	cancelAll(jobs)
	b.ReportMetric(stockBusy, "stock-busy-cpu-s/min")
	b.ReportMetric(stockIdle, "stock-idle-cpu-s/min")
	b.ReportMetric(streamBusy/stockBusy, "stream/stock-busy")
	b.ReportMetric(pollBusy/stockBusy, "poll/stock-busy")
	b.ReportMetric(streamIdle/stockIdle, "stream/stock-idle")
}
