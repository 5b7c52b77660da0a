package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func testManagerDown(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	const lines = 40
	id := oneTask(mgr, workertest.ShellTask("printer", workertest.PrinterScript("line ", lines, "0.1")))
	r := workertest.Start(t, workerConfig(t, mgr), openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	testwait.Within(t, "the first lines of the task", 30*time.Second, func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "line 3\n")
	})
	mgr.MustTakeDown(t)
	// The outage lasts while the task prints on: until updates pile up in
	// the queue, each sent and failed again with backoff.
	testwait.Within(t, "updates to queue up while the Manager is away", 30*time.Second, func() bool { return r.Status().QueuedUpdates >= 10 })
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	workertest.CheckExactlyOnce(t, ts, "line ", lines)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
	mgr.CheckProtocol(t)
}

func testManagerSlow(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	// 3 s: time for both slow may-i-run requests while the task runs.
	const lines = 60
	id := oneTask(mgr, workertest.ShellTask("printer", workertest.PrinterScript("line ", lines, "0.05")))
	// Without AfterHandling a delayed request the worker gave up on is not
	// handled: exactly-once still holds, and any repeat is a worker bug.
	const slow = 3 * time.Second
	setFaults(t, mgr,
		managertest.Fault{Op: managertest.OpSignOn, Delay: slow, Count: 1},
		managertest.Fault{Op: managertest.OpScheduleTask, Delay: slow, Count: 1},
		managertest.Fault{Op: managertest.OpMayIRun, Delay: slow, Count: 2},
		managertest.Fault{Op: managertest.OpTaskUpdate, Delay: slow, Count: 3},
	)
	cfg := workerConfig(t, mgr)
	cfg.Manager.RequestTimeout = time.Second
	r := workertest.Start(t, cfg, openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	workertest.CheckExactlyOnce(t, ts, "line ", lines)
	checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
	if ts.Assignments != 1 {
		t.Errorf("the task was handed out %d times, want 1", ts.Assignments)
	}
	if n := faulted(mgr, ""); n != 7 {
		t.Errorf("%d requests were delayed, want all 7 faults used", n)
	}
	if !strings.Contains(r.Log.String(), "no answer within 1s") {
		t.Errorf("the worker log does not say a request timed out")
	}
	mgr.CheckProtocol(t)
}

// burstTasks is a job of n printing tasks; each prints lines "line <i>".
func burstTasks(n, lines int) []managertest.Task {
	var tasks []managertest.Task
	for i := range n {
		tasks = append(tasks, workertest.ShellTask(fmt.Sprintf("printer-%d", i), workertest.PrinterScript("line ", lines, "0.03")))
	}
	return tasks
}

// underBursts runs a job of 4 printing tasks while the Manager fails every
// request with burst(i) for 300 ms of each second, and checks that each
// task's lines arrived exactly once and in order.
func underBursts(t *testing.T, burst func(i int) managertest.Fault) {
	mgr := managertest.New(t, managertest.Config{})
	const lines = 40
	job := mgr.AddJob(managertest.Job{Tasks: burstTasks(4, lines)})
	workertest.Start(t, workerConfig(t, mgr), openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	stop := make(chan struct{})
	bursting := make(chan struct{})
	go func() {
		defer close(bursting)
		for i := 0; ; i++ {
			if err := mgr.SetFault(burst(i)); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(300 * time.Millisecond)
			if err := mgr.ClearFaults(); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(700 * time.Millisecond):
			}
		}
	}()
	testwait.Within(t, "the job to complete", 120*time.Second, func() bool {
		js, _ := mgr.Job(job.ID)
		return js.Status == managertest.StatusCompleted || js.Status == managertest.StatusFailed
	})
	close(stop)
	<-bursting
	for _, tk := range job.Tasks {
		ts := mgr.MustTask(t, tk.ID)
		workertest.CheckExactlyOnce(t, ts, "line ", lines)
		checkStatuses(t, ts, false, managertest.StatusActive, managertest.StatusCompleted)
		if ts.Assignments != 1 {
			t.Errorf("task %s was handed out %d times, want 1", ts.Name, ts.Assignments)
		}
	}
	n := faulted(mgr, "")
	t.Logf("%d requests hit by a fault", n)
	if n == 0 {
		t.Error("no request was hit by a fault: the scenario proves nothing")
	}
	mgr.CheckProtocol(t)
}

func testManager5xxBursts(t *testing.T) {
	codes := []int{500, 502, 503, 504}
	underBursts(t, func(i int) managertest.Fault {
		f := managertest.Fault{Status: codes[i%len(codes)]}
		if f.Status == 503 {
			f.RetryAfter = time.Second
		}
		return f
	})
}

func testManagerResets(t *testing.T) {
	underBursts(t, func(int) managertest.Fault {
		return managertest.Fault{Reset: true}
	})
}

func testManagerMalformedJSON(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	const lines = 30
	runs := filepath.Join(t.TempDir(), "runs")
	script := fmt.Sprintf("echo run >> %q; ", runs) + workertest.PrinterScript("line ", lines, "0.05")
	id := oneTask(mgr, workertest.ShellTask("printer", script))
	setFaults(t, mgr,
		managertest.Fault{Op: managertest.OpSignOn, MalformedJSON: true, Count: 1},
		managertest.Fault{Op: managertest.OpStateChanged, MalformedJSON: true, Count: 1},
		managertest.Fault{Op: managertest.OpScheduleTask, MalformedJSON: true, Count: 2},
		managertest.Fault{Op: managertest.OpMayIRun, MalformedJSON: true, Count: 3},
		managertest.Fault{Op: managertest.OpTaskUpdate, MalformedJSON: true, Count: 2},
	)
	r := workertest.Start(t, workerConfig(t, mgr), openRegistry(t, nil, 0), workertest.FastTimings(), nil)

	ts := waitTaskStatus(t, mgr, id, managertest.StatusCompleted, 60*time.Second)
	raw, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "run\n"); n != 1 {
		t.Errorf("the command ran %d times, want once (a task handed out again is the same task)", n)
	}
	repeats := checkAtLeastOnce(t, ts, "line ", lines)
	checkStatuses(t, ts, true, managertest.StatusActive, managertest.StatusCompleted)
	t.Logf("handed out %d times; %d lines arrived twice (resent after a broken answer)", ts.Assignments, repeats)
	if n := faulted(mgr, ""); n != 9 {
		t.Errorf("%d answers were broken, want all 9 faults used", n)
	}
	if !strings.Contains(r.Log.String(), "malformed JSON") {
		t.Errorf("the worker log does not say the answer was malformed JSON")
	}
	mgr.CheckProtocol(t)
}
