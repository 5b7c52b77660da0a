package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
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

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func readPids(t testing.TB, path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %s: %v", path, err)
		}
		pids = append(pids, n)
	}
	return pids
}

func TestMayIRunNoKillsTheWholeTree(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	pidFile := filepath.Join(t.TempDir(), "pids")
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{shellTask("tree", treeScript(pidFile))}})
	id := job.Tasks[0].ID
	cfg := testConfig(t, mgr)
	cfg.KillGrace = 500 * time.Millisecond // the TERM-ignoring member needs the KILL
	r := startWorker(t, mgr, cfg, openPlugins(t))
	waitFor(t, "the tree to start", func() bool { return len(readPids(t, pidFile)) == 4 })
	pids := readPids(t, pidFile)
	for _, p := range pids {
		if !alive(p) {
			t.Fatalf("tree member %d is not running before the cancel", p)
		}
	}
	if err := mgr.CancelJob(job.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to be aborted", func() bool { return r.w.Status().TaskID == "" })
	var survivors []int
	for _, p := range pids {
		if alive(p) {
			survivors = append(survivors, p)
		}
	}
	if len(survivors) > 0 {
		t.Errorf("processes of the aborted task survived: %v", survivors)
		for _, p := range survivors {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	ts := taskState(t, mgr, id)
	if got := statuses(ts); !slices.Equal(got, []string{managertest.StatusActive}) {
		t.Errorf("canceled task reported %v, want only active", got)
	}
}

func TestStatusSignal(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("watched", 60)}})
	r := startWorker(t, mgr, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the task to run", func() bool { return r.w.Status().TaskID == job.Tasks[0].ID })
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the status in the log", func() bool {
		l := r.log.String()
		return strings.Contains(l, "status: state=awake") && strings.Contains(l, "task="+job.Tasks[0].ID) &&
			strings.Contains(l, "queued_updates=") && strings.Contains(l, "plugins=")
	})
}
