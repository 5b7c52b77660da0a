package faults

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// Scenarios where the Manager, or what stands between it and the worker,
// cannot be trusted: a proxy's body limit, redirects elsewhere, tasks the
// worker must refuse; and SIGHUP of the host.

// bigLogScript prints n lines "line <i> " padded to about 100 bytes, as fast
// as the shell can.
func bigLogScript(n int) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "line $i %s"; i=$((i+1)); done`, n, strings.Repeat("p", 88))
}

// answered counts the requests the Manager (or the fault in front of it)
// answered with status.
func answered(mgr *managertest.Manager, status int) int {
	n := 0
	for _, r := range mgr.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

func testManager413Proxy(t *testing.T) {
	reg := openRegistry(t, nil, 0)
	t.Run("pieces-over-the-limit", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		// 3 MB of log: the tail held back to the end is 1.4 MB on its own.
		const lines = 30000
		id := oneTask(mgr, workertest.ShellTask("big-log", bigLogScript(lines)))
		setFaults(t, mgr, managertest.Fault{Op: managertest.OpTaskUpdate, BodyLimit: 1 << 20})
		cfg := workerConfig(t, mgr)
		cfg.Manager.MaxUpdateLogBytes = 4 << 20 // above the proxy's limit: a misconfiguration
		r := workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)

		ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 120*time.Second)
		workertest.CheckExactlyOnce(t, ts, "line ", lines)
		checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
		if ts.Assignments != 1 {
			t.Errorf("the task was handed out %d times, want once", ts.Assignments)
		}
		if n := answered(mgr, http.StatusRequestEntityTooLarge); n == 0 {
			t.Error("no update was refused as too large: the scenario proves nothing")
		} else {
			t.Logf("%d updates refused as too large before the pieces fit", n)
		}
		if !strings.Contains(r.Log.String(), "client_max_body_size") {
			t.Error("the worker log does not tell the admin about the proxy's body limit")
		}
		mgr.CheckProtocol(t)
	})
	t.Run("log-refused", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		const lines = 50
		id := oneTask(mgr, workertest.ShellTask("refused-log", bigLogScript(lines)))
		// Less than the smallest log piece: only small requests pass.
		setFaults(t, mgr, managertest.Fault{Op: managertest.OpTaskUpdate, BodyLimit: 900})
		cfg := workerConfig(t, mgr)
		r := workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)

		ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
		checkStatuses(t, ts, true, managertest.StatusActive, managertest.StatusCompleted)
		full := filepath.Join(worker.LogDir(cfg.StateDir), ts.JobID, id+".log")
		if !strings.Contains(ts.Log, "bytes of this task's log are missing here") || !strings.Contains(ts.Log, full) {
			t.Errorf("the Manager's log does not say where the refused log is (%s):\n%s", full, ts.Log)
		}
		kept, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		if got := workertest.Numbered(string(kept), "line "); len(got) != lines {
			t.Errorf("the full log on disk has %d of %d lines", len(got), lines)
		}
		if log := r.Log.String(); !strings.Contains(log, "[ERROR] worker.updates: the Manager refused the log of a task update") || !strings.Contains(log, "task="+id) {
			t.Error("no error in the worker log names the task whose log was refused")
		}
		mgr.CheckProtocol(t)
	})
}

func testManagerRedirect(t *testing.T) {
	var mu sync.Mutex
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(other.Close)

	mgr := managertest.New(t, managertest.Config{})
	const lines = 30
	id := oneTask(mgr, workertest.ShellTask("printer", workertest.PrinterScript("line ", lines, "0.05")))
	faults := []managertest.Fault{
		{Op: managertest.OpRegister, Redirect: 308, RedirectTo: other.URL, Count: 2},
		{Op: managertest.OpSignOn, Redirect: 307, RedirectTo: other.URL, Count: 2},
		// Followed: the same scheme, host and port, method and body kept.
		{Op: managertest.OpStateChanged, Redirect: 307, Count: 1},
		{Op: managertest.OpScheduleTask, Redirect: 302, RedirectTo: other.URL, Count: 2},
		{Op: managertest.OpMayIRun, Redirect: 303, RedirectTo: other.URL, Count: 2},
		// The Manager's own address, but the POST would become a GET.
		{Op: managertest.OpTaskUpdate, Redirect: 301, Count: 3},
	}
	setFaults(t, mgr, faults...)
	r := workertest.Start(t, workerConfig(t, mgr), openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	workertest.CheckExactlyOnce(t, ts, "line ", lines)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
	if ws := mgr.Workers(); len(ws) != 1 {
		t.Errorf("%d workers registered, want 1", len(ws))
	}
	want := 0
	for _, f := range faults {
		want += f.Count
	}
	if n := faulted(mgr, ""); n != want {
		t.Errorf("%d requests redirected, want all %d faults used", n, want)
	}
	mu.Lock()
	if len(elsewhere) > 0 {
		t.Errorf("the other address got requests: %q", elsewhere)
	}
	mu.Unlock()
	if !strings.Contains(r.Log.String(), "redirected to "+other.URL+"/api/v3/worker/sign-on") {
		t.Error("the worker log does not name the redirect's Location")
	}
	mgr.CheckProtocol(t)
}

func testManagerNullCommands(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	// One job each: a worker that fails tasks of a job is blocklisted from it.
	badTask := func(name, typ string) string {
		return oneTask(mgr, workertest.CommandTask(name, typ, "echo", map[string]any{"message": "never runs"}))
	}
	nullID, namelessID, foreignID := badTask("null-commands", "misc"), badTask("nameless-command", "misc"), badTask("foreign-type", "test")
	// One fault applies to a request: one rewrite for all three tasks.
	rewrites := []func([]byte) []byte{
		managertest.SetTaskField(nullID, "commands", nil),
		managertest.SetTaskField(namelessID, "commands", []map[string]any{{"parameters": map[string]any{}, "total_step_count": 0}}),
		managertest.SetTaskField(foreignID, "task_type", "file-management"),
	}
	setFaults(t, mgr, managertest.Fault{Op: managertest.OpScheduleTask, RewriteAnswer: func(body []byte) []byte {
		for _, rw := range rewrites {
			body = rw(body)
		}
		return body
	}})
	good := oneTask(mgr, workertest.ShellTask("after", workertest.PrinterScript("line ", 10, "0.01")))
	r := workertest.Start(t, workerConfig(t, mgr), openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	ts := waitTaskStatus(t, mgr, good, managertest.StatusCompleted, 60*time.Second)
	workertest.CheckExactlyOnce(t, ts, "line ", 10)
	for id, reason := range map[string]string{
		nullID:     "field commands: want a JSON array, got null",
		namelessID: "field commands[0].name: missing",
		foreignID:  `task type "file-management" is not one this worker signed on with`,
	} {
		ts := mgr.MustTask(t, id)
		if ts.Status != managertest.StatusFailed || strings.Contains(ts.Log, "never runs") {
			t.Errorf("task %s is %s after %d failures, log %q; want failed (by the Manager's limits) without running", ts.Name, ts.Status, ts.Failures, ts.Log)
		}
		for _, s := range ts.Statuses() {
			if s != managertest.StatusFailed {
				t.Errorf("task %s reported %q; a refused task reports only failed", ts.Name, s)
			}
		}
		if !strings.Contains(ts.Log, reason) {
			t.Errorf("task %s: the log %q does not say %q", ts.Name, ts.Log, reason)
		}
		if !strings.Contains(r.Log.String(), "[ERROR] worker: refusing a task: reporting it failed without running it: task="+id) {
			t.Errorf("task %s: no error in the worker log names it", ts.Name)
		}
	}
	mgr.CheckProtocol(t)
}

func testHostSIGHUP(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	pidDir := filepath.Join(t.TempDir(), "tree")
	script := fmt.Sprintf(`mkdir -p %[1]q; sh %[2]q %[1]q & i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.05; done`,
		pidDir, must(filepath.Abs("testdata/nasty.sh")))
	id := oneTask(mgr, workertest.ShellTask("printer", script))
	c := startCajon(t, cajonEnv(mgr, t.TempDir()), 0, "run")
	tree := waitForTree(t, pidDir)
	testwait.Within(t, "the first lines of the task", 30*time.Second, func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "line 3\n")
	})

	c.signal(t, syscall.SIGHUP)
	if code := c.wait(t, 30*time.Second); code != 0 {
		t.Errorf("cajon exited with %d after SIGHUP, want 0 (a clean stop)", code)
	}
	checkGone(t, "the task's process tree after SIGHUP", tree, 15*time.Second)
	ts := mgr.MustTask(t, id)
	checkStatuses(t, ts, false, managertest.StatusActive)
	if ts.Status != managertest.StatusQueued || ts.Worker != "" {
		t.Errorf("task %s, assigned to %q: want requeued by the sign-off", ts.Status, ts.Worker)
	}
	if got := workertest.Numbered(ts.Log, "line "); len(got) == 0 || got[len(got)-1] != len(got)-1 {
		t.Errorf("lines %v: want those printed before the stop, once and in order", got)
	}
	if ws := mgr.Workers(); len(ws) != 1 || ws[0].Status != managertest.WorkerOffline {
		t.Errorf("workers %+v, want one, signed off", ws)
	}
	if !strings.Contains(c.out.String(), "the worker is shutting down: received SIGHUP") {
		t.Error("cajon's log does not name the signal")
	}
	mgr.CheckProtocol(t)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
