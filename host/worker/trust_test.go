package worker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/workertest"
	"github.com/hashicorp/go-hclog"
)

// The Manager connection as an untrusted party: a proxy's body limit,
// redirects, 401 challenges, and tasks the worker must refuse.

func TestFinalUpdateBehindABodyLimit(t *testing.T) {
	reg := openPlugins(t)
	tests := []struct {
		name     string
		pieces   int  // manager.max_update_log_bytes; 0: the default
		refusals bool // the pieces are larger than the proxy's limit
	}{
		{"default pieces fit under nginx's default", 0, false},
		{"pieces larger than the proxy's limit are halved", 4 << 20, true},
	}
	const lines = 30000 // 3 MB: the held-back tail of the log alone is over 1 MiB
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "line $i %s"; i=$((i+1)); done`, lines, strings.Repeat("p", 85))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.ShellTask("big-log", script)}})
			id := job.Tasks[0].ID
			if err := mgr.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, BodyLimit: 1 << 20}); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t, mgr)
			if tt.pieces != 0 {
				cfg.Manager.MaxUpdateLogBytes = tt.pieces
			}
			r := startWorker(t, cfg, reg)
			waitFor(t, "the task to complete", func() bool { return mgr.MustTask(t, id).Status == managertest.StatusCompleted })
			r.Stop()
			ts := mgr.MustTask(t, id)
			checkReported(t, ts, managertest.StatusCompleted)
			if ts.Assignments != 1 {
				t.Errorf("the task was handed out %d times, want once", ts.Assignments)
			}
			checkLines(t, ts.Log, lines)
			refused := 0
			for _, rq := range mgr.Requests() {
				if rq.Status == 413 {
					refused++
				}
			}
			if tt.refusals != (refused > 0) || !tt.refusals && strings.Contains(r.Log.String(), "client_max_body_size") {
				t.Errorf("%d updates refused as too large; want refusals %v", refused, tt.refusals)
			}
			if tt.refusals && !strings.Contains(r.Log.String(), "client_max_body_size") {
				t.Error("the worker log does not tell the admin about the proxy's body limit")
			}
			mgr.CheckProtocol(t)
		})
	}
}

func TestRedirectedUpdatesAreNotLost(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("redirected", "through a moved route")}})
	id := job.Tasks[0].ID
	// A 301 would turn the POST into a GET (405 from the Manager): the
	// update must wait instead, until the route answers again.
	if err := mgr.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Redirect: 301, Count: 3}); err != nil {
		t.Fatal(err)
	}
	r := startWorker(t, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the task to complete", func() bool { return mgr.MustTask(t, id).Status == managertest.StatusCompleted })
	checkReported(t, mgr.MustTask(t, id), managertest.StatusCompleted)
	if !strings.Contains(r.Log.String(), "redirected to "+mgr.URL()+"/api/v3/worker/task/"+id) {
		t.Error("the worker log does not name the redirect's Location")
	}
	mgr.CheckProtocol(t)
}

func TestMalformedTaskIsFailedAndTheWorkerGoesOn(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	bad := mgr.AddJob(managertest.Job{Priority: 90, Tasks: []managertest.Task{echoTask("null-commands", "never runs")}})
	good := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("next", "runs")}})
	badID := bad.Tasks[0].ID
	if err := mgr.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: managertest.SetTaskField(badID, "commands", nil)}); err != nil {
		t.Fatal(err)
	}
	r := startWorker(t, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the next task to complete", func() bool { return mgr.MustTask(t, good.Tasks[0].ID).Status == managertest.StatusCompleted })
	ts := mgr.MustTask(t, badID)
	if ts.Status != managertest.StatusFailed || slices.Contains(ts.Statuses(), managertest.StatusActive) {
		t.Errorf("the malformed task is %s after statuses %v; want failed without having run", ts.Status, ts.Statuses())
	}
	if !strings.Contains(ts.Log, "field commands: want a JSON array, got null") || !strings.Contains(ts.Activity, "malformed") {
		t.Errorf("the task's log %q and activity %q do not say what was wrong", ts.Log, ts.Activity)
	}
	if log := r.Log.String(); !strings.Contains(log, "[ERROR] worker: refusing a task") || !strings.Contains(log, badID) {
		t.Error("no error in the worker log names the refused task")
	}
	mgr.CheckProtocol(t)
}

func TestTaskOfAnotherTypeIsRefused(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{
		{Name: "misc-in-disguise", Type: "test", Commands: []managertest.Command{{Name: "echo", Parameters: map[string]any{"message": "must not run"}}}},
	}})
	id := job.Tasks[0].ID
	// The Manager hands out a misc task to a worker that signed on for test only.
	if err := mgr.SetFault(managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: managertest.SetTaskField(id, "task_type", "misc")}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, mgr)
	cfg.TaskTypes = []string{"test"}
	startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the task to fail", func() bool { return mgr.MustTask(t, id).Status == managertest.StatusFailed })
	ts := mgr.MustTask(t, id)
	if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusFailed}) || strings.Contains(ts.Log, "must not run") {
		t.Errorf("statuses %v, log %q: want failed without running", got, ts.Log)
	}
	if !strings.Contains(ts.Log, `task type "misc" is not one this worker signed on with (test)`) {
		t.Errorf("the log %q does not give the reason", ts.Log)
	}
	mgr.CheckProtocol(t)
}

// TestCustomTaskTypeRoutes: a configured task type that no plugin declares
// is a routing label, as for the stock worker. The worker asks for it, its
// commands run on the plugins that provide them, and a command no plugin
// provides fails that task naming the command and the plugins.
func TestCustomTaskTypeRoutes(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{
		{Name: "gpu-echo", Type: "blender-gpu", Commands: []managertest.Command{
			{Name: "echo", Parameters: map[string]any{"message": "routed by label"}},
			{Name: "test-steps", Parameters: map[string]any{"count": 2}, TotalStepCount: 2},
		}},
		{Name: "gpu-teleport", Type: "blender-gpu", Commands: []managertest.Command{
			{Name: "teleport", Parameters: map[string]any{}},
		}},
	}})
	ok, bad := job.Tasks[0].ID, job.Tasks[1].ID
	cfg := testConfig(t, mgr)
	cfg.TaskTypes = []string{"blender-gpu", "misc"}
	r := startWorker(t, cfg, openPlugins(t))
	waitFor(t, "both tasks to end", func() bool {
		return mgr.MustTask(t, ok).Status == managertest.StatusCompleted && mgr.MustTask(t, bad).Status == managertest.StatusFailed
	})
	if got := onlyWorker(t, mgr).SupportedTaskTypes; !slices.Equal(got, []string{"blender-gpu", "misc"}) {
		t.Errorf("the worker signed on with task types %v, want [blender-gpu misc]", got)
	}
	checkReported(t, mgr.MustTask(t, ok), managertest.StatusCompleted)
	if log := mgr.MustTask(t, ok).Log; !strings.Contains(log, "routed by label\n") {
		t.Errorf("the routed task's log lacks the echo:\n%s", log)
	}
	ts := mgr.MustTask(t, bad)
	checkReported(t, ts, managertest.StatusFailed)
	for _, want := range []string{`no plugin provides command "teleport"`, "the plugins are: ", "exec (", "echo"} {
		if !strings.Contains(ts.Activity+ts.Log, want) {
			t.Errorf("the failed task's activity %q and log %q do not say %q", ts.Activity, ts.Log, want)
		}
	}
	if !strings.Contains(r.Log.String(), "asking for task types that no plugin declares") {
		t.Error("the worker log does not say that blender-gpu is a label no plugin declares")
	}
	mgr.CheckProtocol(t)
}

func TestStateDirIsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	cfg.StateDir = filepath.Join(t.TempDir(), "new", "state")
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("t", "hi")}})
	r := startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the task to complete", func() bool { return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted })
	r.Stop()
	for path, want := range map[string]os.FileMode{cfg.StateDir: 0o700, worker.QueuePath(cfg.StateDir): 0o600, worker.CredentialsPath(cfg.StateDir): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}
}

// checkLines checks that log holds the lines "line 0".."line <n-1>", each
// once and in order, besides Cajon's own lines.
func checkLines(t *testing.T, log string, n int) {
	t.Helper()
	next := 0
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if strings.HasPrefix(l, "cajon: ") {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(l, "line %d", &i); err != nil || i != next {
			t.Fatalf("log line %q where line %d was due", prefixOf(l, 120), next)
		}
		next++
	}
	if next != n {
		t.Fatalf("the log has %d lines, want %d", next, n)
	}
}

func prefixOf(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func TestPrepareStateDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	tests := []struct {
		name string
		mode os.FileMode // of an existing directory; 0: none
		want os.FileMode
		warn bool
	}{
		{"created private", 0, 0o700, false},
		{"readable by others: kept", 0o755, 0o755, false},
		{"writable by others: a warning", 0o777, 0o777, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if tt.mode != 0 {
				if err := os.Mkdir(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.mode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			var logBuf proctest.Output
			if err := worker.PrepareStateDir(dir, hclog.New(&hclog.LoggerOptions{Output: &logBuf})); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.want {
				t.Errorf("mode %04o, want %04o", fi.Mode().Perm(), tt.want)
			}
			if warned := strings.Contains(logBuf.String(), "[WARN]"); warned != tt.warn {
				t.Errorf("warned %v, want %v: %s", warned, tt.warn, logBuf.String())
			}
		})
	}
}
