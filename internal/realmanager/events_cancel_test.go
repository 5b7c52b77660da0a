//go:build unix

package realmanager

import (
	"fmt"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// TestCancelsThroughTheStream cancels job after job right after its task
// started: the stream's hint makes may-i-run land while the Manager is
// still cancelling the job's tasks. Every job must end canceled, every
// process gone.
//
// Each cancel waits until the worker's first update ("active", activity
// "starting") reached the Manager: the Manager 3.8.5 takes that update even
// for a task it has just cancelled, and makes the task and its job active
// again (a cancel between a task's assignment and the worker's first update
// is lost, with the stock worker too).
func TestCancelsThroughTheStream(t *testing.T) {
	m := startManager(t)
	c := startCajon(t, m, "cajon-cancels", cajonOptions{})
	m.waitWorker(c.Name, "awake", 60*time.Second)
	for i := range 6 {
		dir := t.TempDir()
		job := execJob(m, fmt.Sprintf("cancel-%d", i), "/bin/sh", "-c", "echo $$ > "+dir+"/pid; exec sleep 600")
		var pid int
		testwait.Within(t, "the task's process to start", 60*time.Second, func() bool {
			pid = proctest.ReadPidFiles(dir, "pid")["pid"]
			return pid != 0
		})
		waitStarted(m, onlyTask(m, job).ID)
		m.setJobStatus(job, "cancel-requested", "test: cancel in a row")
		testwait.Within(t, "the process to be gone", 30*time.Second, func() bool { return !proctest.Alive(pid) })
		m.waitJob(job, "canceled", 30*time.Second)
	}
}

// waitStarted waits until the worker's first update of the task reached the
// Manager (its activity is set).
func waitStarted(m *manager, taskID string) {
	m.tb.Helper()
	testwait.Within(m.tb, "the worker's first update of task "+taskID, 30*time.Second, func() bool {
		var tk struct {
			Activity string `json:"activity"`
		}
		m.do("GET", "/api/v3/tasks/"+taskID, nil, &tk, 200)
		return tk.Activity != ""
	})
}
