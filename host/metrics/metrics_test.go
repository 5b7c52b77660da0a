package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
)

// scriptedRunner stands in for task.Runner: it logs lines and ends with out.
type scriptedRunner struct {
	lines []string
	out   task.Outcome
}

func (r scriptedRunner) Run(_ context.Context, _ task.Task, rep task.Reporter) task.Outcome {
	rep.Log(r.lines)
	rep.Progress(1, "done")
	return r.out
}

// keptLog is a task.Reporter that keeps the log lines.
type keptLog struct{ lines []string }

func (k *keptLog) Log(lines []string)    { k.lines = append(k.lines, lines...) }
func (k *keptLog) Progress(int, string)  {}
func (k *keptLog) Output(string, string) {}
func (k *keptLog) Child(int, bool)       {}

func TestScrapeShowsWhatWasObserved(t *testing.T) {
	m := metrics.New()
	w := m.Worker("render-07")

	// Manager requests: a success, an error status, no answer, and one the
	// worker itself gave up on (shutdown), which is no Manager error.
	w.ManagerRequest("sign-on", http.StatusOK, nil)
	w.ManagerRequest("task-update", http.StatusServiceUnavailable, errors.New("503"))
	w.ManagerRequest("task-update", http.StatusServiceUnavailable, errors.New("503"))
	w.ManagerRequest("schedule-task", 0, &flamenco.Error{Op: "schedule-task", Kind: flamenco.KindNetwork})
	w.ManagerRequest("may-i-run", 0, &flamenco.Error{Op: "may-i-run", Kind: flamenco.KindCanceled})
	// The update queue.
	w.QueueChanged(3, time.Now().Add(-90*time.Second))
	w.UpdateDelivered(100)
	w.UpdateDelivered(23)
	// Plugins and commands.
	m.PluginStarted("exec", false)
	m.PluginCrashed("exec")
	m.PluginStarted("exec", true)
	m.CommandEnded("echo", plugins.Completed, 2*time.Second)
	m.CommandAborted("sleep", 300*time.Millisecond)
	m.CommandWarned("blender-render", 1)
	m.CommandWarned("blender-render", 2)
	m.CommandMemory("blender-render", 3<<30)
	m.CommandGuarded("blender-render", "max_task_memory")
	m.CommandGuarded("blender-render", "stall")
	m.CommandGuarded("blender-render", "stall")
	// Tasks through the wrapped runner; the real reporter still gets the log.
	log := &keptLog{}
	runner := w.Tasks(scriptedRunner{lines: []string{"abc", "de"}, out: task.Outcome{Status: task.Failed, Message: "boom"}})
	if out := runner.Run(context.Background(), task.Task{Type: "blender"}, log); out.Status != task.Failed || out.Message != "boom" {
		t.Errorf("the wrapper changed the outcome: %+v", out)
	}
	if strings.Join(log.lines, "|") != "abc|de" {
		t.Errorf("the wrapped reporter got %q", log.lines)
	}
	w.Tasks(scriptedRunner{out: task.Outcome{Status: task.Completed}}).Run(context.Background(), task.Task{Type: "blender"}, log)

	samples := scrape(t, serve(t, m.Handler()))
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cajon_tasks_total", []string{"worker", "render-07", "task_type", "blender", "outcome", "failed"}, 1},
		{"cajon_tasks_total", []string{"worker", "render-07", "task_type", "blender", "outcome", "completed"}, 1},
		{"cajon_task_duration_seconds_count", []string{"worker", "render-07", "task_type", "blender", "outcome", "failed"}, 1},
		{"cajon_command_duration_seconds_count", []string{"command", "echo", "outcome", "completed"}, 1},
		{"cajon_command_duration_seconds_sum", []string{"command", "echo", "outcome", "completed"}, 2},
		{"cajon_command_duration_seconds_bucket", []string{"command", "echo", "le", "1"}, 0},
		{"cajon_command_duration_seconds_bucket", []string{"command", "echo", "le", "5"}, 1},
		{"cajon_abort_latency_seconds_count", []string{"command", "sleep"}, 1},
		{"cajon_command_warnings_total", []string{"command", "blender-render"}, 3},
		{"cajon_abort_latency_seconds_bucket", []string{"command", "sleep", "le", "0.5"}, 1},
		{"cajon_command_peak_memory_bytes_count", []string{"command", "blender-render"}, 1},
		{"cajon_command_peak_memory_bytes_sum", []string{"command", "blender-render"}, 3 << 30},
		{"cajon_command_peak_memory_bytes_bucket", []string{"command", "blender-render", "le", "2.147483648e+09"}, 0},
		{"cajon_command_peak_memory_bytes_bucket", []string{"command", "blender-render", "le", "4.294967296e+09"}, 1},
		{"cajon_command_guard_failures_total", []string{"command", "blender-render", "cause", "max_task_memory"}, 1},
		{"cajon_command_guard_failures_total", []string{"command", "blender-render", "cause", "stall"}, 2},
		{"cajon_update_queue_depth", []string{"worker", "render-07"}, 3},
		{"cajon_manager_requests_total", []string{"worker", "render-07", "endpoint", "task-update"}, 2},
		{"cajon_manager_requests_total", []string{"worker", "render-07", "endpoint", "may-i-run"}, 1},
		{"cajon_manager_request_errors_total", []string{"worker", "render-07", "endpoint", "task-update", "code", "503"}, 2},
		{"cajon_manager_request_errors_total", []string{"worker", "render-07", "endpoint", "schedule-task", "code", "network"}, 1},
		{"cajon_plugin_starts_total", []string{"plugin", "exec"}, 2},
		{"cajon_plugin_crashes_total", []string{"plugin", "exec"}, 1},
		{"cajon_plugin_restarts_total", []string{"plugin", "exec"}, 1},
		{"cajon_log_produced_bytes_total", []string{"worker", "render-07"}, 7}, // "abc\n" + "de\n"
		{"cajon_log_sent_bytes_total", []string{"worker", "render-07"}, 123},
		{"cajon_build_info", nil, 1},
	}
	for _, tt := range tests {
		got, ok := sample(samples, tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s = %v (present: %v), want %v", series(tt.name, tt.labels...), got, ok, tt.want)
		}
	}
	if _, ok := sample(samples, "cajon_manager_request_errors_total", "endpoint", "may-i-run"); ok {
		t.Error("a request the worker cancelled counts as a Manager error")
	}
	if age, ok := sample(samples, "cajon_update_queue_oldest_age_seconds", "worker", "render-07"); !ok || age < 90 {
		t.Errorf("oldest queued update age %v (present: %v), want at least 90 s", age, ok)
	}
	if at, ok := sample(samples, "cajon_manager_last_answer_timestamp_seconds", "worker", "render-07"); !ok || at < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("last Manager answer at %v (present: %v), want about now", at, ok)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := sample(samples, name); !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
}

func TestAnotherMetricsIsIndependent(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.PluginStarted("exec", false)
	if _, ok := sample(scrape(t, serve(t, b.Handler())), "cajon_plugin_starts_total", "plugin", "exec"); ok {
		t.Error("a plugin start of one Metrics shows in another: the registry is shared")
	}
}

func TestHealthz(t *testing.T) {
	pass := metrics.Check{Name: "update queue of worker a", Run: func(context.Context) error { return nil }}
	fail := metrics.Check{Name: "Manager answers worker a", Run: func(context.Context) error {
		return errors.New("the Manager last answered 2m0s ago")
	}}
	tests := []struct {
		name   string
		checks []metrics.Check
		status int
		body   []string
	}{
		{"no checks", nil, http.StatusOK, nil},
		{"all pass", []metrics.Check{pass}, http.StatusOK, []string{"ok: update queue of worker a"}},
		{"one fails", []metrics.Check{pass, fail}, http.StatusServiceUnavailable,
			[]string{"ok: update queue of worker a", "fail: Manager answers worker a: the Manager last answered 2m0s ago"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := get(t, serve(t, metrics.New().Handler(tt.checks...)), "/healthz")
			if status != tt.status {
				t.Errorf("status %d, want %d\n%s", status, tt.status, body)
			}
			if !strings.HasPrefix(ctype, "text/plain") {
				t.Errorf("content type %q", ctype)
			}
			for _, want := range tt.body {
				if !strings.Contains(body, want+"\n") {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestListenOnAPortInUseFails(t *testing.T) {
	addr := serve(t, metrics.New().Handler())
	if _, err := metrics.Listen(addr, metrics.New().Handler(), ""); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("second listener on %s: %v, want an error naming metrics.listen", addr, err)
	}
}
