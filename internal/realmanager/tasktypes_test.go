//go:build unix

package realmanager

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/testwait"
)

// TestCustomTaskType: a task type that no plugin declares is a routing
// label, as for the stock worker. Cajon configured with task_types
// blender-gpu and misc signs on with both, runs a blender-gpu task whose
// command the exec plugin provides, and fails one whose command no plugin
// provides, naming the command.
func TestCustomTaskType(t *testing.T) {
	m := startManager(t)
	startCajon(t, m, "cajon-gpu", cajonOptions{env: []string{"CAJON_TASK_TYPES=blender-gpu,misc"}})
	w := m.waitWorker("cajon-gpu", "awake", 60*time.Second)
	var info struct {
		SupportedTaskTypes []string `json:"supported_task_types"`
	}
	m.do("GET", "/api/v3/worker-mgt/workers/"+w.ID, nil, &info, 200)
	if !slices.Equal(info.SupportedTaskTypes, []string{"blender-gpu", "misc"}) {
		t.Errorf("the Manager shows task types %v for the worker, want [blender-gpu misc]", info.SupportedTaskTypes)
	}

	job := m.submit("cajon-custom-type", "routed echo", map[string]any{
		"task_type": "blender-gpu", "command": "echo", "message": "routed by its label",
	})
	m.waitJob(job, "completed", 2*time.Minute)
	if log := string(m.taskLog(onlyTask(m, job).ID)); !strings.Contains(log, "routed by its label") {
		t.Errorf("the blender-gpu task's log on the Manager lacks the echo:\n%s", log)
	}

	bad := m.submit("cajon-custom-type", "unknown command", map[string]any{
		"task_type": "blender-gpu", "command": "teleport", "message": "never",
	})
	testwait.Within(t, "the task with an unknown command to fail", 2*time.Minute, func() bool {
		return strings.Contains(string(m.taskLog(onlyTask(m, bad).ID)), `no plugin provides command "teleport"`)
	})
	if log := string(m.taskLog(onlyTask(m, bad).ID)); !strings.Contains(log, "the plugins are: ") || strings.Contains(log, "never\n") {
		t.Errorf("the failed task's log does not name the plugins, or the command ran:\n%s", log)
	}
}

// TestBlankLinesReachTheManager: the Manager's log of a task holds the
// command's output as the worker's own full log does, blank lines included.
// The command pauses longer than a log batch, so that its second part, which
// starts with blank lines, starts a batch.
func TestBlankLinesReachTheManager(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-blank", cajonOptions{})
	m.waitWorker("cajon-blank", "awake", 60*time.Second)
	job := execJob(m, "blank lines", "/bin/sh", "-c", `printf '\n\nfirst\n\n'; sleep 1; printf '\n\nafter a pause\n\n'`)
	m.waitJob(job, "completed", 2*time.Minute)
	tk := onlyTask(m, job)
	const want = "\n\nfirst\n\n\n\nafter a pause\n\n"
	local, err := os.ReadFile(filepath.Join(c.StateDir, "task-logs", job, tk.ID+".log"))
	if err != nil {
		t.Fatalf("the worker's full log: %v", err)
	}
	if !strings.Contains(string(local), want) {
		t.Fatalf("the worker's full log lacks the output %q:\n%q", want, local)
	}
	if got := string(m.taskLog(tk.ID)); !strings.Contains(got, want) {
		t.Errorf("the Manager's log lacks the output %q as the worker's log has it:\n%q", want, got)
	}
}
