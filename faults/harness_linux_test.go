package faults

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/hashicorp/go-hclog"
)

// workerConfig is a config for an in-process worker of mgr with short intervals.
func workerConfig(t testing.TB, mgr *managertest.Manager) *config.Config {
	cfg := workertest.Config(t, mgr, "faults-worker")
	cfg.Manager.MayIRunInterval = 100 * time.Millisecond
	cfg.Manager.AsleepPollInterval = 100 * time.Millisecond
	cfg.Manager.FetchBackoffMax = 200 * time.Millisecond
	cfg.Manager.RequestTimeout = 5 * time.Second
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
	reg, err := plugins.Open(context.Background(), plugins.Options{
		Dirs:        dirs,
		IdleTimeout: idle,
		Logger:      hclog.New(&hclog.LoggerOptions{Name: "plugins", Level: hclog.Debug, Output: log}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return reg
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

// waitFor polls cond until it holds, failing the test after limit. The
// limit is a bound on a hang, not a speed check.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not reached within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// taskOf returns the Manager's snapshot of a task.
func taskOf(t testing.TB, mgr *managertest.Manager, id string) managertest.TaskState {
	t.Helper()
	ts, ok := mgr.Task(id)
	if !ok {
		t.Fatalf("the Manager has no task %s", id)
	}
	return ts
}

// waitTaskStatus waits until the Manager has the task in status.
func waitTaskStatus(t testing.TB, mgr *managertest.Manager, id, status string, limit time.Duration) managertest.TaskState {
	t.Helper()
	waitFor(t, fmt.Sprintf("task %s to be %s", id, status), limit, func() bool {
		ts, _ := mgr.Task(id)
		return ts.Status == status
	})
	return taskOf(t, mgr, id)
}

// statuses lists the task statuses a task's accepted updates carried, in order.
func statuses(ts managertest.TaskState) []string {
	var out []string
	for _, u := range ts.Updates {
		if u.TaskStatus != nil {
			out = append(out, *u.TaskStatus)
		}
	}
	return out
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
	got := statuses(ts)
	if atLeastOnce {
		got = collapse(got)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("task %s reported statuses %v, want %v", ts.Name, statuses(ts), want)
	}
}

// noProtocolErrors fails when the worker sent anything the Manager rejected
// as malformed.
func noProtocolErrors(t testing.TB, mgr *managertest.Manager) {
	t.Helper()
	if errs := mgr.ProtocolErrors(); len(errs) > 0 {
		t.Errorf("protocol errors: %q", errs)
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

// numbered returns the numbers of the log lines "<prefix><n>" (the number
// may be followed by a space and padding), in order.
func numbered(log, prefix string) []int {
	var out []int
	for _, l := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			rest, _, _ = strings.Cut(rest, " ")
			if n, err := strconv.Atoi(rest); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// printerScript prints "<prefix><i>" for i in 0..n-1, pausing between lines.
func printerScript(prefix string, n int, pause string) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "%s$i"; i=$((i+1)); sleep %s; done`, n, prefix, pause)
}

// checkExactlyOnce checks that the lines "<prefix>0".."<prefix>n-1" reached
// the Manager each exactly once, in order.
func checkExactlyOnce(t testing.TB, ts managertest.TaskState, prefix string, n int) {
	t.Helper()
	got := numbered(ts.Log, prefix)
	ok := len(got) == n
	for i := 0; ok && i < n; i++ {
		ok = got[i] == i
	}
	if !ok {
		t.Errorf("task %s: lines %q0..%d arrived as %v; want each exactly once, in order", ts.Name, prefix, n-1, got)
	}
}

// checkAtLeastOnce checks that the lines "<prefix>0".."<prefix>n-1" all
// reached the Manager, first arrivals in order, and returns how many
// arrived more than once (a resent update whose first copy landed).
func checkAtLeastOnce(t testing.TB, ts managertest.TaskState, prefix string, n int) int {
	t.Helper()
	got := numbered(ts.Log, prefix)
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

// shellTask is a task that runs an sh script through the testkit plugin.
func shellTask(name, script string) managertest.Task {
	return managertest.Task{Name: name, Type: "test", Commands: []managertest.Command{
		{Name: "test-tree", Parameters: map[string]any{"script": script}},
	}}
}

// commandTask is a task of one command.
func commandTask(name, typ, command string, params map[string]any) managertest.Task {
	return managertest.Task{Name: name, Type: typ, Commands: []managertest.Command{{Name: command, Parameters: params}}}
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
