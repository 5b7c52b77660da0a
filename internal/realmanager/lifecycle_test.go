//go:build unix

package realmanager

import (
	"encoding/json"
	"fmt"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execJob submits a job of testdata/scripts/cajon_exec.js: one exec task.
func execJob(m *manager, name, exe string, args ...string) string {
	m.tb.Helper()
	list, err := json.Marshal(args)
	if err != nil {
		m.tb.Fatal(err)
	}
	return m.submit("cajon-exec", name, map[string]any{"exe": exe, "args": string(list)})
}

// onlyTask is the one task of a job.
func onlyTask(m *manager, job string) task {
	m.tb.Helper()
	ts := m.tasks(job)
	if len(ts) != 1 {
		m.tb.Fatalf("job %s has %d tasks, want 1", job, len(ts))
	}
	return ts[0]
}

// treeMembers are the pid files that faults/testdata/nasty.sh writes: a
// tree that ignores SIGTERM, setsids and double-forks.
var treeMembers = []string{"root", "ignore", "setsid", "daemon", "setsid-daemon"}

// TestCancelEscapingTree cancels, in the Manager, a job whose task runs a
// process tree that setsids, double-forks and ignores SIGTERM: the Manager
// answers may-i-run with "no", and no process of the tree is left.
func TestCancelEscapingTree(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-cancel", cajonOptions{})
	m.waitWorker("cajon-cancel", "awake", 60*time.Second)

	script, err := filepath.Abs("../../faults/testdata/nasty.sh")
	if err != nil {
		t.Fatal(err)
	}
	pidDir := t.TempDir()
	job := execJob(m, "escaping tree", "/bin/sh", script, pidDir)
	var pids map[string]int
	testwait.Within(t, "the process tree to come up", 60*time.Second, func() bool {
		pids = proctest.ReadPidFiles(pidDir, treeMembers...)
		return len(pids) == len(treeMembers)
	})
	m.setJobStatus(job, "cancel-requested", "test: cancel an escaping tree")
	m.waitJob(job, "canceled", 60*time.Second)
	// may-i-run every 1 s, then TERM, 2 s grace, KILL and a sweep.
	testwait.Within(t, "every process of the cancelled tree to be gone", 30*time.Second, func() bool {
		for _, pid := range pids {
			if proctest.Alive(pid) {
				return false
			}
		}
		return true
	})
	if st := onlyTask(m, job).Status; st != "canceled" {
		t.Errorf("the task is %s, want canceled", st)
	}
	if !c.running() {
		t.Fatalf("cajon exited after the cancel")
	}
	// The worker goes on: the next job runs.
	next := execJob(m, "after the cancel", "/bin/echo", "still here")
	m.waitJob(next, "completed", 60*time.Second)
}

// TestSleepWake sends the worker to sleep at once from the Manager, while a
// task runs (the task is aborted and requeued), then wakes it up: the
// requeued task runs to its end.
func TestSleepWake(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-sleep", cajonOptions{})
	w := m.waitWorker("cajon-sleep", "awake", 60*time.Second)

	marker := filepath.Join(t.TempDir(), "started")
	job := execJob(m, "sleepy", "/bin/sh", "-c", fmt.Sprintf("echo >> %s; sleep 3", marker))
	testwait.Within(t, "the task to start", 60*time.Second, func() bool { _, err := os.Stat(marker); return err == nil })
	m.setWorkerStatus(w.ID, "asleep", false)
	m.waitWorker("cajon-sleep", "asleep", 30*time.Second)
	if st := m.jobStatus(job); st == "completed" {
		t.Fatalf("the job completed while its worker was sent to sleep at once")
	}
	m.setWorkerStatus(w.ID, "awake", false)
	m.waitWorker("cajon-sleep", "awake", 30*time.Second)
	m.waitJob(job, "completed", 60*time.Second)
	if data, _ := os.ReadFile(marker); strings.Count(string(data), "\n") != 2 {
		t.Errorf("the task started %d times, want 2 (aborted by the sleep, then run again)", strings.Count(string(data), "\n"))
	}
	if !c.running() {
		t.Fatalf("cajon exited")
	}
}

// TestLazyShutdown asks for "offline after the current task": the task
// completes, the worker signs off and exits 0.
func TestLazyShutdown(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-lazy", cajonOptions{})
	w := m.waitWorker("cajon-lazy", "awake", 60*time.Second)

	marker := filepath.Join(t.TempDir(), "started")
	job := execJob(m, "last task", "/bin/sh", "-c", fmt.Sprintf("echo >> %s; sleep 2", marker))
	testwait.Within(t, "the task to start", 60*time.Second, func() bool { _, err := os.Stat(marker); return err == nil })
	m.setWorkerStatus(w.ID, "offline", true)
	if code := c.wait(60 * time.Second); code != 0 {
		t.Errorf("cajon exited with %d after a lazy shutdown, want 0", code)
	}
	if st := m.jobStatus(job); st != "completed" {
		t.Errorf("the job is %s after a lazy shutdown, want completed (the task runs to its end first)", st)
	}
	m.waitWorker("cajon-lazy", "offline", 10*time.Second)
}

// TestRestart asks an idle worker to restart: it signs off and exits with
// its restart exit code.
func TestRestart(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-restart", cajonOptions{restartExitCode: 47})
	w := m.waitWorker("cajon-restart", "awake", 60*time.Second)
	m.setWorkerStatus(w.ID, "restart", false)
	if code := c.wait(60 * time.Second); code != 47 {
		t.Errorf("cajon exited with %d after a restart request, want the restart exit code 47", code)
	}
	m.waitWorker("cajon-restart", "offline", 10*time.Second)
}

// TestLogLoad runs a task that prints 3,000,000 lines: the Manager receives
// at most max_log_bytes plus the marker line, and the worker keeps the whole
// log on its disk.
func TestLogLoad(t *testing.T) {
	m := startManager(t)
	const maxLog = 1 << 20
	c := startCajon(t, m, "cajon-logs", cajonOptions{env: []string{"CAJON_MAX_LOG_BYTES=" + strconv.Itoa(maxLog)}})
	m.waitWorker("cajon-logs", "awake", 60*time.Second)

	const lines = 3_000_000
	job := execJob(m, "3M lines", "/usr/bin/seq", strconv.Itoa(lines))
	m.waitJob(job, "completed", 5*time.Minute)
	tk := onlyTask(m, job)

	// Bound: the budget, the marker line and the worker's own few lines
	// around the command's output.
	got := m.taskLog(tk.ID)
	if len(got) > maxLog+4096 {
		t.Errorf("the Manager received %d bytes of log, want at most max_log_bytes (%d) and the marker", len(got), maxLog)
	}
	if !strings.Contains(string(got), "left out") {
		t.Errorf("the Manager's log has no marker line saying what was left out")
	}
	if !strings.Contains(string(got), "\n3000000\n") {
		t.Errorf("the Manager's log lacks the last line of the output (the tail is sent at the end)")
	}
	full := filepath.Join(c.StateDir, "task-logs", job, tk.ID+".log")
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatalf("the full log is not kept on the worker: %v", err)
	}
	if n := strings.Count(string(data), "\n"); n < lines {
		t.Errorf("the worker's full log %s has %d lines, want at least %d", full, n, lines)
	}
}
