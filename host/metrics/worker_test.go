package metrics_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/prometheus/common/model"
)

// binDir holds the plugins built once for the tests with a real worker.
var binDir string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binDir, "exec")) }

// observedWorker is a real worker of mgr wired to metrics as `cajon run`
// wires it, with /metrics and /healthz on a real listener.
type observedWorker struct {
	*workertest.Worker
	addr string
}

func startObserved(t testing.TB, mgr *managertest.Manager, maxAge time.Duration) *observedWorker {
	t.Helper()
	m := metrics.New()
	reg := workertest.OpenPlugins(t, plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}, Observer: m})
	cfg := workertest.FastConfig(t, mgr, "render-07")
	cfg.Manager.RequestTimeout = 2 * time.Second
	cfg.KillGrace = time.Second
	wm := m.Worker(cfg.Manager.WorkerName)
	w := workertest.StartOptions(t, worker.Options{
		Config:   cfg,
		Runner:   wm.Tasks(&task.Runner{Commands: reg, Grace: cfg.KillGrace}),
		Plugins:  reg,
		Timings:  workertest.FastTimings(),
		Observer: wm,
	}, nil)
	return &observedWorker{Worker: w, addr: serve(t, m.Handler(
		metrics.Check{Name: "update queue of worker render-07", Run: w.CheckQueue},
		wm.ManagerCheck(maxAge),
	))}
}

func TestRealWorkerMetricsAndHealth(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	o := startObserved(t, mgr, 500*time.Millisecond)

	// A task aborted by the Manager, then one that completes.
	long := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "long", Type: "misc", Commands: []managertest.Command{
		{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 60}},
	}}}})
	testwait.For(t, "the long task to run", func() bool {
		ts, _ := mgr.Task(long.Tasks[0].ID)
		return ts.Status == managertest.StatusActive
	})
	if err := mgr.CancelJob(long.ID); err != nil {
		t.Fatal(err)
	}
	echo := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "echo", Type: "misc", Commands: []managertest.Command{
		{Name: "echo", Parameters: map[string]any{"message": strings.Repeat("x", 100)}},
	}}}})
	testwait.For(t, "the echo task to complete", func() bool {
		ts, _ := mgr.Task(echo.Tasks[0].ID)
		return ts.Status == managertest.StatusCompleted
	})
	var samples model.Vector
	testwait.For(t, "the completed task to be counted and its updates delivered", func() bool {
		samples = scrape(t, o.addr)
		done, _ := sample(samples, "cajon_tasks_total", "outcome", "completed")
		depth, _ := sample(samples, "cajon_update_queue_depth", "worker", "render-07")
		return done == 1 && depth == 0
	})
	want := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"cajon_tasks_total", []string{"worker", "render-07", "task_type", "misc", "outcome", "canceled"}, 1},
		{"cajon_task_duration_seconds_count", []string{"task_type", "misc", "outcome", "completed"}, 1},
		{"cajon_command_duration_seconds_count", []string{"command", "echo", "outcome", "completed"}, 1},
		{"cajon_command_duration_seconds_count", []string{"command", "sleep", "outcome", "canceled"}, 1},
		{"cajon_abort_latency_seconds_count", []string{"command", "sleep"}, 1},
		{"cajon_manager_requests_total", []string{"endpoint", "register"}, 1},
		{"cajon_manager_requests_total", []string{"endpoint", "sign-on"}, 1},
		{"cajon_manager_requests_total", []string{"endpoint", "may-i-run"}, 1},
		{"cajon_plugin_starts_total", []string{"plugin", "exec"}, 1},
		{"cajon_log_produced_bytes_total", []string{"worker", "render-07"}, 100},
		{"cajon_log_sent_bytes_total", []string{"worker", "render-07"}, 100},
		{"cajon_manager_last_answer_timestamp_seconds", []string{"worker", "render-07"}, 1},
	}
	for _, w := range want {
		if got, ok := sample(samples, w.name, w.labels...); !ok || got < w.min {
			t.Errorf("%s = %v (present: %v), want at least %v", series(w.name, w.labels...), got, ok, w.min)
		}
	}
	if status, _, body := get(t, o.addr, "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz of a working worker: %d\n%s", status, body)
	}

	// The Manager goes away: /healthz turns 503 and says why; it comes back.
	if err := mgr.SetFault(managertest.Fault{Down: true}); err != nil {
		t.Fatal(err)
	}
	var body string
	testwait.For(t, "/healthz to report the Manager silent", func() bool {
		var status int
		status, _, body = get(t, o.addr, "/healthz")
		return status == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "fail: Manager answers worker render-07: the Manager last answered") ||
		!strings.Contains(body, "ok: update queue of worker render-07") {
		t.Errorf("/healthz body with the Manager down:\n%s", body)
	}
	testwait.For(t, "errors without an answer to be counted", func() bool {
		n, _ := sample(scrape(t, o.addr), "cajon_manager_request_errors_total", "code", "network")
		return n >= 1
	})
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "/healthz to recover", func() bool {
		status, _, _ := get(t, o.addr, "/healthz")
		return status == http.StatusOK
	})

	// A stopped worker's queue is closed: unhealthy.
	o.Stop()
	status, _, body := get(t, o.addr, "/healthz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "fail: update queue of worker render-07") {
		t.Errorf("/healthz after the worker stopped: %d\n%s", status, body)
	}
}
