//go:build unix

package realmanager

import (
	"encoding/json"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pairJob submits a job of testdata/scripts/cajon_exec_pair.js: two tasks
// that run at the same time on two workers. Each runs the escaping tree of
// faults/testdata/nasty.sh in its own pid folder, after writing its GPU
// variable there.
func pairJob(m *manager, name, dirA, dirB string) string {
	m.tb.Helper()
	script, err := filepath.Abs("../../faults/testdata/nasty.sh")
	if err != nil {
		m.tb.Fatal(err)
	}
	args := func(dir string) string {
		list, err := json.Marshal([]string{"-c", `echo "$GPU" > "$1/gpu"; exec sh "$2" "$1"`, "sh", dir, script})
		if err != nil {
			m.tb.Fatal(err)
		}
		return string(list)
	}
	return m.submit("cajon-exec-pair", name, map[string]any{"exe": "/bin/sh", "args_a": args(dirA), "args_b": args(dirB)})
}

// treeUp waits until every member of the tree in dir wrote its pid.
func treeUp(t *testing.T, dir, what string) map[string]int {
	t.Helper()
	var pids map[string]int
	testwait.Within(t, what, 60*time.Second, func() bool {
		pids = proctest.ReadPidFiles(dir, treeMembers...)
		return len(pids) == len(treeMembers)
	})
	return pids
}

// allGone waits until no process of the trees is left.
func allGone(t *testing.T, what string, trees ...map[string]int) {
	t.Helper()
	testwait.Within(t, what, 30*time.Second, func() bool {
		for _, pids := range trees {
			for _, pid := range pids {
				if proctest.Alive(pid) {
					return false
				}
			}
		}
		return true
	})
}

// TestIdentitiesOnOneHost runs one cajon process as two workers of the real
// Manager, one per "GPU": two tasks of one job run at once, each with its
// identity's environment; cancelling one task leaves the other running; a
// SIGKILL of the host leaves no process of either.
func TestIdentitiesOnOneHost(t *testing.T) {
	m := startManager(t)
	config := filepath.Join(t.TempDir(), "cajon.toml")
	if err := os.WriteFile(config, []byte(`
[[worker.identities]]
env = { GPU = "0" }

[[worker.identities]]
env = { GPU = "1" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCajon(t, m, "cajon-ids", cajonOptions{args: []string{"--config", config}})
	m.waitWorker("cajon-ids-1", "awake", 60*time.Second)
	m.waitWorker("cajon-ids-2", "awake", 60*time.Second)

	dirA, dirB := t.TempDir(), t.TempDir()
	job := pairJob(m, "two at once", dirA, dirB)
	treeA := treeUp(t, dirA, "task a's tree to come up")
	treeB := treeUp(t, dirB, "task b's tree to come up, while task a runs")
	gpus := map[string]bool{}
	for _, dir := range []string{dirA, dirB} {
		raw, _ := os.ReadFile(filepath.Join(dir, "gpu"))
		gpus[strings.TrimSpace(string(raw))] = true
	}
	if !gpus["0"] || !gpus["1"] {
		t.Errorf("the two tasks saw GPU %v, want 0 and 1 (one per identity)", gpus)
	}

	var taskA, taskB task
	for _, tk := range m.tasks(job) {
		switch tk.Name {
		case "exec-a":
			taskA = tk
		case "exec-b":
			taskB = tk
		}
	}
	m.do("POST", "/api/v3/tasks/"+taskA.ID+"/setstatus", map[string]any{"status": "canceled", "reason": "test: cancel one of two"}, nil, 204)
	allGone(t, "every process of the cancelled task a to be gone", treeA)
	for name, pid := range treeB {
		if !proctest.Alive(pid) {
			t.Fatalf("cancelling task a killed %s (pid %d) of task b", name, pid)
		}
	}
	for _, tk := range m.tasks(job) {
		if tk.ID == taskB.ID && tk.Status != "active" {
			t.Fatalf("task b is %s after cancelling task a, want active", tk.Status)
		}
	}

	// The freed identity takes a task of the next job while b still runs;
	// then the host is killed outright.
	dirC, dirD := t.TempDir(), t.TempDir()
	pairJob(m, "the next pair", dirC, dirD)
	var treeNext map[string]int
	testwait.Within(t, "the freed identity to run a task of the next job", 60*time.Second, func() bool {
		for _, dir := range []string{dirC, dirD} {
			if pids := proctest.ReadPidFiles(dir, treeMembers...); len(pids) == len(treeMembers) {
				treeNext = pids
				return true
			}
		}
		return false
	})
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.wait(30 * time.Second)
	allGone(t, "every process of both identities' tasks to be gone after SIGKILL of the host", treeB, treeNext)
}
