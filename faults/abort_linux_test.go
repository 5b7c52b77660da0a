package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func testAbortCycles(t *testing.T) {
	const (
		warmUp = 5
		cycles = 100
		// Allowed noise: idle keep-alive connections and timers of the
		// HTTP client and server come and go. A leak per cycle shows as
		// at least 100.
		fdNoise        = 8
		goroutineNoise = 15
		// settleLimit bounds the wait for the counts to come back.
		settleLimit = 15 * time.Second
	)
	mgr := managertest.New(t, managertest.Config{})
	reg := openRegistry(t, nil, 0)
	cfg := workerConfig(t, mgr)
	cfg.KillGrace = 100 * time.Millisecond
	cfg.Manager.MayIRunInterval = 50 * time.Millisecond
	cfg.Manager.FetchBackoffMax = 100 * time.Millisecond
	r := workertest.Start(t, cfg, reg, workertest.FastTimings(), nil)
	base := t.TempDir()

	var taskIDs []string
	cycle := func(i int) bool {
		dir := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{workertest.ShellTask(fmt.Sprintf("tree-%d", i), nastyScript(t, dir))}})
		id := job.Tasks[0].ID
		taskIDs = append(taskIDs, id)
		tree := waitForTree(t, dir)
		if err := mgr.CancelJob(job.ID); err != nil {
			t.Fatal(err)
		}
		testwait.Within(t, "the worker to drop the cancelled task", 30*time.Second, func() bool { return r.Status().TaskID != id })
		if left := survivors(tree, 5*time.Second); len(left) > 0 {
			t.Errorf("cycle %d: processes survived the abort: %v", i, left)
			checkGone(t, "cleanup", tree, 0)
			return false
		}
		return true
	}
	quiet := func() {
		testwait.Within(t, "the update queue to drain", 30*time.Second, func() bool { return r.Status().QueuedUpdates == 0 })
	}
	// count counts open fds and goroutines after a GC: finalizers close
	// forgotten files.
	count := func() (fds, goroutines int) {
		runtime.GC()
		return openFDs(t), runtime.NumGoroutine()
	}

	for i := range warmUp {
		if !cycle(i) {
			return
		}
	}
	quiet()
	fds0, gor0 := count()
	for i := warmUp; i < warmUp+cycles; i++ {
		if !cycle(i) {
			return
		}
	}
	quiet()
	// The last cycles' connections and goroutines end in their own time:
	// what is still there when the counts stop coming back is a leak.
	var fds1, gor1 int
	testwait.Poll(settleLimit, func() bool {
		fds1, gor1 = count()
		return fds1-fds0 <= fdNoise && gor1-gor0 <= goroutineNoise
	})
	t.Logf("after %d aborts: open fds %d -> %d, goroutines %d -> %d", cycles, fds0, fds1, gor0, gor1)
	if fds1-fds0 > fdNoise {
		t.Errorf("open file descriptors grew from %d to %d over %d aborts: a leak", fds0, fds1, cycles)
	}
	if gor1-gor0 > goroutineNoise {
		t.Errorf("goroutines grew from %d to %d over %d aborts: a leak", gor0, gor1, cycles)
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
	}
	for _, id := range taskIDs {
		ts := mgr.MustTask(t, id)
		checkStatuses(t, ts, false, managertest.StatusActive)
		if ts.Status != managertest.StatusCanceled {
			t.Errorf("task %s is %s, want canceled", ts.Name, ts.Status)
		}
	}
	mgr.CheckProtocol(t)
}
