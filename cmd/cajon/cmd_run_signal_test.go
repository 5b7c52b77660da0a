//go:build unix

package main

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// TestRunStopsCleanlyOnSIGHUP checks that SIGHUP (a closed terminal, a
// supervisor's reload) is a clean stop like SIGTERM: the task is aborted
// without being reported failed, the worker signs off and exits 0, and its
// log names the signal.
func TestRunStopsCleanlyOnSIGHUP(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{{Name: "sleeper", Type: "misc", Commands: []managertest.Command{
		{Name: "sleep", Parameters: map[string]any{"duration_in_seconds": 600}},
	}}}})
	id := job.Tasks[0].ID
	environ := []string{
		"CAJON_MANAGER_URL=" + mgr.URL(),
		"CAJON_STATE_DIR=" + t.TempDir(),
		"CAJON_MANAGER_WORKER_NAME=sighup-test",
		"CAJON_PLUGIN_DIRS=" + filepath.Join(binDir, "plugins"),
		"CAJON_MANAGER_MAY_I_RUN_INTERVAL=100ms",
		"CAJON_KILL_GRACE=1s",
	}
	cmd, out := startCajon(t, filepath.Join(binDir, "cajon"), environ, "run")
	testwait.For(t, "the task to run", func() bool { return strings.Contains(out.String(), "task started") })
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cajon after SIGHUP: %v, want exit 0\n%s", err, out.String())
	}
	ts, _ := mgr.Task(id)
	var got []string
	for _, u := range ts.Updates {
		if u.TaskStatus != nil {
			got = append(got, *u.TaskStatus)
		}
	}
	if !slices.Equal(got, []string{"active"}) || ts.Status != managertest.StatusQueued {
		t.Errorf("task %s after statuses %v, want requeued after only active (aborted, not failed)", ts.Status, got)
	}
	if ws := mgr.Workers(); len(ws) != 1 || ws[0].Status != managertest.WorkerOffline {
		t.Errorf("workers %+v, want one, signed off", ws)
	}
	if !strings.Contains(out.String(), "the worker is shutting down: received SIGHUP") {
		t.Errorf("the log does not name the signal:\n%s", out.String())
	}
}
