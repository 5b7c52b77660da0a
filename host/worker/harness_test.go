package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testbin"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// binDir holds the plugins built once for the whole test binary.
var binDir string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binDir, "exec", "testkit")) }

// testConfig is a config for a worker of mgr with short intervals.
func testConfig(t testing.TB, mgr *managertest.Manager) *config.Config {
	cfg := workertest.FastConfig(t, mgr, "test-worker")
	cfg.KillGrace = 2 * time.Second
	return cfg
}

// openPlugins starts the test plugins for one test.
func openPlugins(t testing.TB) *plugins.Registry {
	t.Helper()
	return workertest.OpenPlugins(t, plugins.Options{Dirs: []string{filepath.Join(binDir, "plugins")}})
}

// startWorker runs a worker of cfg with fast timings until the test ends.
func startWorker(t testing.TB, cfg *config.Config, reg *plugins.Registry) *workertest.Worker {
	t.Helper()
	return workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)
}

// waitFor waits until cond holds. It polls: some conditions depend on the
// worker's own state, which does not wake the Manager's WaitFor.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, cond)
}

// onlyWorker returns the one worker registered with mgr.
func onlyWorker(t testing.TB, mgr *managertest.Manager) managertest.WorkerState {
	t.Helper()
	ws := mgr.Workers()
	if len(ws) != 1 {
		t.Fatalf("the Manager has %d workers, want 1: %+v", len(ws), ws)
	}
	return ws[0]
}

// awake reports whether the one worker of mgr is awake.
func awake(mgr *managertest.Manager) func() bool {
	return func() bool {
		ws := mgr.Workers()
		return len(ws) == 1 && ws[0].Status == managertest.WorkerAwake
	}
}

// checkReported checks the updates of a task that ran once to its end: an
// `active` first, then exactly one final status, last.
func checkReported(t testing.TB, ts managertest.TaskState, final string) {
	t.Helper()
	if len(ts.Updates) == 0 {
		t.Fatalf("task %s (%s): no updates", ts.Name, ts.ID)
	}
	first := ts.Updates[0]
	if first.TaskStatus == nil || *first.TaskStatus != managertest.StatusActive {
		t.Errorf("task %s: first update %+v, want taskStatus active", ts.Name, first)
	}
	got := ts.Statuses()
	if want := []string{managertest.StatusActive, final}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("task %s: statuses %v, want %v", ts.Name, got, want)
	}
	if last := ts.Updates[len(ts.Updates)-1]; last.TaskStatus == nil || *last.TaskStatus != final {
		t.Errorf("task %s: the last update is not the final status %q: %+v", ts.Name, final, last)
	}
}

// sleepTask is a task of the exec plugin's sleep command.
func sleepTask(name string, seconds float64) managertest.Task {
	return workertest.CommandTask(name, "misc", "sleep", map[string]any{"duration_in_seconds": seconds})
}

// echoTask is a task of the exec plugin's echo command.
func echoTask(name, message string) managertest.Task {
	return workertest.CommandTask(name, "misc", "echo", map[string]any{"message": message})
}
