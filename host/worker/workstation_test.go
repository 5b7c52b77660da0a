package worker_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// person is a detector the test controls: a person at the machine gives
// input all the time; once gone, the idle time grows from when they left.
type person struct {
	mu      sync.Mutex
	present bool
	left    time.Time
}

func (p *person) Name() string { return "test person" }
func (p *person) Close() error { return nil }
func (p *person) Idle(context.Context) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.present {
		return 0, nil
	}
	return time.Since(p.left), nil
}

func (p *person) set(present bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.present = present
	if !present {
		p.left = time.Now()
	}
}

// startWatcher runs a watcher of p until the test ends.
func startWatcher(t testing.TB, p *person, idleBeforeWork time.Duration) *workstation.Watcher {
	t.Helper()
	ws, err := workstation.NewWatcher(workstation.Options{
		Detectors: []workstation.Detector{p}, IdleBeforeWork: idleBeforeWork, Poll: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ws.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ws
}

// startWorkstationWorker runs a worker of cfg that watches p.
func startWorkstationWorker(t testing.TB, cfg *config.Config, p *person) *workertest.Worker {
	t.Helper()
	reg := openPlugins(t)
	ws := startWatcher(t, p, cfg.Workstation.IdleBeforeWork)
	return workertest.StartOptions(t, worker.Options{
		Config: cfg, Runner: &task.Runner{Commands: reg, Grace: cfg.KillGrace}, Plugins: reg, Timings: workertest.FastTimings(), Workstation: ws,
	}, nil)
}

func workstationConfig(t testing.TB, mgr *managertest.Manager, onActivity string) *config.Config {
	cfg := testConfig(t, mgr)
	cfg.Workstation.X11Displays = []string{":99"} // not opened: the test gives its own detector
	cfg.Workstation.IdleBeforeWork = 200 * time.Millisecond
	cfg.Workstation.OnActivity = onActivity
	return cfg
}

// offline reports whether the one worker of mgr signed off.
func offline(mgr *managertest.Manager) func() bool {
	return func() bool {
		ws := mgr.Workers()
		return len(ws) == 1 && ws[0].Status == managertest.WorkerOffline
	}
}

// on_activity = "requeue": input aborts the running task at once, the
// worker signs off and the Manager requeues the task, not failed; once the
// person left, the worker signs on and takes it again.
func TestWorkstationRequeue(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("long", 60)}})
	id := job.Tasks[0].ID
	p := &person{left: time.Now().Add(-time.Hour)}
	r := startWorkstationWorker(t, workstationConfig(t, mgr, config.OnActivityRequeue), p)
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })

	p.set(true)
	waitFor(t, "the worker to sign off", offline(mgr))
	waitFor(t, "the worker to give way", func() bool { return r.Status().State == worker.StateInUse })
	ts := mgr.MustTask(t, id)
	if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) || ts.Status != managertest.StatusQueued || ts.Worker != "" {
		t.Errorf("task %s assigned to %q, reported %v; want queued, unassigned, reported only active", ts.Status, ts.Worker, got)
	}
	if r.Activity() != worker.ActivityInUse || r.NotWorkingBecause() == "" {
		t.Errorf("activity %q, not working because %q; want %q and a reason", r.Activity(), r.NotWorkingBecause(), worker.ActivityInUse)
	}
	if !strings.Contains(r.Log.String(), "a person is using this workstation") {
		t.Error("the log does not say a person is using the workstation")
	}

	p.set(false)
	waitFor(t, "the task to run again", func() bool { return r.Status().TaskID == id })
	if n := mgr.MustTask(t, id).Assignments; n != 2 {
		t.Errorf("task assigned %d times, want 2", n)
	}
	mgr.CheckProtocol(t)
}

// on_activity = "finish": the running task completes, then the worker signs
// off and takes no task while the person is there; it starts with none too.
func TestWorkstationFinish(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("short", 1)}})
	next := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("next", "after the person left")}})
	id, nextID := job.Tasks[0].ID, next.Tasks[0].ID
	p := &person{left: time.Now().Add(-time.Hour)}
	r := startWorkstationWorker(t, workstationConfig(t, mgr, config.OnActivityFinish), p)
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })

	p.set(true)
	waitFor(t, "the worker to sign off", offline(mgr))
	checkReported(t, mgr.MustTask(t, id), managertest.StatusCompleted)
	if ts := mgr.MustTask(t, nextID); ts.Assignments != 0 {
		t.Errorf("the next task was handed out %d times while a person used the machine", ts.Assignments)
	}

	p.set(false)
	waitFor(t, "the next task to complete", func() bool { return mgr.MustTask(t, nextID).Status == managertest.StatusCompleted })
	mgr.CheckProtocol(t)
}

// A worker started while a person uses the machine does not sign on.
func TestWorkstationInUseAtStart(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("later", "hi")}})
	p := &person{present: true}
	r := startWorkstationWorker(t, workstationConfig(t, mgr, config.OnActivityFinish), p)
	waitFor(t, "the worker to give way", func() bool { return r.Status().State == worker.StateInUse })
	if ws := mgr.Workers(); len(ws) != 0 && ws[0].SignOns != 0 {
		t.Errorf("the worker signed on while a person used the machine: %+v", ws)
	}
	p.set(false)
	waitFor(t, "the task to complete", func() bool { return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted })
}
