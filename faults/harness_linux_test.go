package faults

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/hashicorp/go-hclog"
)

// workerConfig is a config for an in-process worker of mgr with short intervals.
func workerConfig(t testing.TB, mgr *managertest.Manager) *config.Config {
	cfg := workertest.FastConfig(t, mgr, "faults-worker")
	cfg.KillGrace = 500 * time.Millisecond
	return cfg
}

// openRegistry starts the plugins found in dirs (default: the suite's
// plugin folder) and closes them when the test ends.
func openRegistry(t testing.TB, log io.Writer, idle time.Duration, dirs ...string) *plugins.Registry {
	t.Helper()
	if len(dirs) == 0 {
		dirs = []string{filepath.Join(binDir, "plugins")}
	}
	return workertest.OpenPlugins(t, plugins.Options{
		Dirs:        dirs,
		IdleTimeout: idle,
		Logger:      hclog.New(&hclog.LoggerOptions{Name: "plugins", Level: hclog.Debug, Output: log}),
	})
}

// privatePlugins copies the suite's plugins into a folder of the test's own,
// for scenarios that delete or chmod a binary.
func privatePlugins(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"cajon-plugin-exec", "cajon-plugin-testkit"} {
		copyFile(t, filepath.Join(binDir, "plugins", name), filepath.Join(dir, name))
	}
	return dir
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// Write aside and rename, as an installer does: a running copy of the
	// old file is never overwritten in place.
	if err := os.WriteFile(dst+".tmp", data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".tmp", dst); err != nil {
		t.Fatal(err)
	}
}

// tail returns the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// waitTaskStatus waits until the Manager has the task in status.
func waitTaskStatus(t testing.TB, mgr *managertest.Manager, id, status string, limit time.Duration) managertest.TaskState {
	t.Helper()
	testwait.Within(t, fmt.Sprintf("task %s to be %s", id, status), limit, func() bool {
		ts, _ := mgr.Task(id)
		return ts.Status == status
	})
	return mgr.MustTask(t, id)
}

// collapse drops immediate repeats: a status sent again after a lost
// answer is the same report, not a new one.
func collapse(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// checkStatuses checks the statuses the worker reported for a task. With
// atLeastOnce, a status repeated right after itself counts once.
func checkStatuses(t testing.TB, ts managertest.TaskState, atLeastOnce bool, want ...string) {
	t.Helper()
	got := ts.Statuses()
	if atLeastOnce {
		got = collapse(got)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("task %s reported statuses %v, want %v", ts.Name, ts.Statuses(), want)
	}
}

// faulted counts the requests whose answer a fault shaped.
func faulted(mgr *managertest.Manager, op string) int {
	n := 0
	for _, r := range mgr.Requests() {
		if r.Fault && (op == "" || r.Op == op) {
			n++
		}
	}
	return n
}

// checkAtLeastOnce checks that the lines "<prefix>0".."<prefix>n-1" all
// reached the Manager, first arrivals in order, and returns how many
// arrived more than once (a resent update whose first copy landed).
func checkAtLeastOnce(t testing.TB, ts managertest.TaskState, prefix string, n int) int {
	t.Helper()
	got := workertest.Numbered(ts.Log, prefix)
	next, repeats := 0, 0
	for _, v := range got {
		switch {
		case v == next:
			next++
		case v < next:
			repeats++
		default:
			t.Errorf("task %s: line %s%d arrived before %s%d: lost or out of order (%v)", ts.Name, prefix, v, prefix, next, got)
			return repeats
		}
	}
	if next != n {
		t.Errorf("task %s: only lines %s0..%d of %d arrived (%v)", ts.Name, prefix, next-1, n, got)
	}
	return repeats
}

// oneTask adds a job of one task and returns the task's id.
func oneTask(mgr *managertest.Manager, tk managertest.Task) string {
	return mgr.AddJob(managertest.Job{Tasks: []managertest.Task{tk}}).Tasks[0].ID
}

// setFaults adds faults to mgr.
func setFaults(t testing.TB, mgr *managertest.Manager, faults ...managertest.Fault) {
	t.Helper()
	for _, f := range faults {
		if err := mgr.SetFault(f); err != nil {
			t.Fatal(err)
		}
	}
}

// pluginPID returns the pid of the named plugin's process, 0 when none runs.
func pluginPID(reg *plugins.Registry, name string) int {
	for _, p := range reg.Processes() {
		if p.Plugin == name {
			return p.PID
		}
	}
	return 0
}
