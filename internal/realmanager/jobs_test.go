//go:build unix

package realmanager

import (
	"strings"
	"testing"
	"time"
)

// TestEchoSleepTest runs the Manager's stock Echo Sleep Test job.
func TestEchoSleepTest(t *testing.T) {
	m := startManager(t)
	t.Logf("Flamenco Manager %s at %s", m.Version(), m.URL)
	startCajon(t, m, "cajon-echo", cajonOptions{})
	m.waitWorker("cajon-echo", "awake", 60*time.Second)

	job := m.submit("echo-sleep-test", "echo sleep", map[string]any{
		"message": "hello from the real Manager", "sleep_duration_seconds": 1, "sleep_repeats": 2,
	})
	m.waitJob(job, "completed", 2*time.Minute)

	tasks := m.tasks(job)
	if len(tasks) != 3 {
		t.Fatalf("the job has %d tasks, want 3 (echo + 2 sleeps): %+v", len(tasks), tasks)
	}
	for _, tk := range tasks {
		if tk.Status != "completed" {
			t.Errorf("task %s is %s, want completed", tk.Name, tk.Status)
		}
		if tk.Name == "echo" {
			if log := string(m.taskLog(tk.ID)); !strings.Contains(log, "hello from the real Manager") {
				t.Errorf("the echo task's log on the Manager lacks the message:\n%s", log)
			}
		}
	}
}
