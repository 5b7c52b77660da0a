package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// workerConfig is the default configuration pointed at mgr.
func workerConfig(tb testing.TB, mgr *managertest.Manager) *config.Config {
	return workertest.Config(tb, mgr, "e2e-render-node")
}

// runningWorker is a worker with its own plugins, as `cajon run` wires it.
type runningWorker struct {
	*workertest.Worker
	reg *plugins.Registry
}

// startWorker opens the plugins built by TestMain and runs a worker of cfg
// until stop or the end of the test. Start it after isolateTemp: the plugins
// inherit the environment.
func startWorker(tb testing.TB, cfg *config.Config, tm worker.Timings) *runningWorker {
	tb.Helper()
	// Closed after the worker's own cleanup stopped it.
	reg := workertest.OpenPlugins(tb, plugins.Options{
		Dirs: []string{filepath.Join(binDir, "plugins")}, IdleTimeout: cfg.PluginIdleTimeout, Config: cfg.Plugins,
	})
	return &runningWorker{Worker: workertest.Start(tb, cfg, reg, tm, nil), reg: reg}
}

// stop shuts the worker down like SIGTERM, stops its plugins and returns
// Run's exit code.
func (r *runningWorker) stop() int {
	code := r.Stop()
	r.reg.Close()
	return code
}

// waitJobEnd waits until the job is completed, failed or canceled on mgr
// and returns its state; a deadline only stops a hung test.
func waitJobEnd(tb testing.TB, mgr *managertest.Manager, id string, within time.Duration) managertest.JobState {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var js managertest.JobState
	err := mgr.WaitFor(ctx, func() bool {
		js, _ = mgr.Job(id)
		switch js.Status {
		case managertest.StatusCompleted, managertest.StatusFailed, managertest.StatusCanceled:
			return true
		}
		return false
	})
	if err != nil {
		tb.Fatalf("job %s did not end within %s (status %s): %v", id, within, js.Status, err)
	}
	return js
}

// TestRecordedEchoSleepWithNonUUIDIDs runs the Echo Sleep Test job as the
// real Manager sent it (internal/flamencotrace) through the real worker and
// plugins, with ids that are not UUIDs: Flamenco 3.9 no longer declares them
// as UUIDs, so nothing in Cajon may depend on their form (they appear in URL
// paths, the update queue, the log store and process tags).
func TestRecordedEchoSleepWithNonUUIDIDs(t *testing.T) {
	n := 0
	mgr := managertest.New(t, managertest.Config{NewID: func() string { n++; return fmt.Sprintf("id %d/ä?#", n) }})
	tr, err := flamencotrace.Get("02-echo-sleep-test")
	if err != nil {
		t.Fatal(err)
	}
	job := managertest.Job{Type: "echo-sleep-test"}
	for _, raw := range tr.AssignedTasks() {
		var a struct {
			Name     string `json:"name"`
			TaskType string `json:"task_type"`
			Commands []struct {
				Name           string         `json:"name"`
				Parameters     map[string]any `json:"parameters"`
				TotalStepCount int            `json:"total_step_count"`
			} `json:"commands"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		tk := managertest.Task{Name: a.Name, Type: a.TaskType}
		for _, c := range a.Commands {
			tk.Commands = append(tk.Commands, managertest.Command{Name: c.Name, Parameters: c.Parameters, TotalStepCount: c.TotalStepCount})
		}
		job.Tasks = append(job.Tasks, tk)
	}
	added := mgr.AddJob(job)
	w := startWorker(t, workerConfig(t, mgr), workertest.FastTimings())
	js := waitJobEnd(t, mgr, added.ID, 2*time.Minute)
	if code := w.stop(); code != 0 {
		t.Errorf("the worker exited with %d, want 0", code)
	}
	if js.Status != managertest.StatusCompleted {
		t.Fatalf("job %s, want completed; worker log:\n%s", js.Status, w.Log.String())
	}
	ws := mgr.Workers()
	if len(ws) != 1 || strings.Count(ws[0].ID, "-") == 4 {
		t.Fatalf("workers %+v, want one with a non-UUID id", ws)
	}
	for i, tk := range added.Tasks {
		ts, _ := mgr.Task(tk.ID)
		if ts.Status != managertest.StatusCompleted || ts.Worker != ws[0].ID {
			t.Errorf("task %d (%s): %s by %q", i, tk.ID, ts.Status, ts.Worker)
		}
	}
	if first, _ := mgr.Task(added.Tasks[0].ID); !strings.Contains(first.Log, "hello trace") {
		t.Errorf("echo's log: %q", first.Log)
	}
	mgr.CheckProtocol(t)
	if bad := warnings(w.Log.String()); len(bad) > 0 {
		t.Errorf("non-UUID ids made the worker warn:\n%s", strings.Join(bad, "\n"))
	}
}
