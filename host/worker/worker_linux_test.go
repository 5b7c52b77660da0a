package worker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// treeScript starts a process tree that tries to escape an abort: a plain
// background child, a setsid'd one, a double-forked one, and one that
// ignores SIGTERM. Each writes its pid to pidFile; the script then waits.
func treeScript(pidFile string) string {
	return fmt.Sprintf(`
pids=%q
sleep 300 & echo $! >> "$pids"
setsid sleep 300 & echo $! >> "$pids"
( sleep 300 & echo $! >> "$pids" ) &
sh -c 'trap "" TERM; echo $$ >> "$1"; while true; do sleep 1; done' sh "$pids" &
echo "tree started"
wait
`, pidFile)
}

func TestMayIRunNoKillsTheWholeTree(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	pidFile := filepath.Join(t.TempDir(), "pids")
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.ShellTask("tree", treeScript(pidFile))}})
	id := job.Tasks[0].ID
	cfg := testConfig(t, mgr)
	cfg.KillGrace = 500 * time.Millisecond // the TERM-ignoring member needs the KILL
	r := startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the tree to start", func() bool { return len(proctest.ReadPidList(t, pidFile)) == 4 })
	pids := proctest.ReadPidList(t, pidFile)
	for _, p := range pids {
		if !proctest.Alive(p) {
			t.Fatalf("tree member %d is not running before the cancel", p)
		}
	}
	if err := mgr.CancelJob(job.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to be aborted", func() bool { return r.Status().TaskID == "" })
	var survivors []int
	for _, p := range pids {
		if proctest.Alive(p) {
			survivors = append(survivors, p)
		}
	}
	if len(survivors) > 0 {
		t.Errorf("processes of the aborted task survived: %v", survivors)
		for _, p := range survivors {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	ts := mgr.MustTask(t, id)
	if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) {
		t.Errorf("canceled task reported %v, want only active", got)
	}
}

func TestStatusSignal(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("watched", 60)}})
	r := startWorker(t, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == job.Tasks[0].ID })
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the status in the log", func() bool {
		l := r.Log.String()
		return strings.Contains(l, "status: state=awake") && strings.Contains(l, "task="+job.Tasks[0].ID) &&
			strings.Contains(l, "queued_updates=") && strings.Contains(l, "plugins=")
	})
}
