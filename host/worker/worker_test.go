package worker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

func TestJobOfManyTasks(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{FailAfter: 1})
	var tasks []managertest.Task
	for i := range 8 {
		tasks = append(tasks, echoTask(fmt.Sprintf("echo-%d", i), fmt.Sprintf("hello from task %d", i)))
	}
	for i := range 4 {
		tasks = append(tasks, sleepTask(fmt.Sprintf("sleep-%d", i), 0))
	}
	for i := range 3 {
		tasks = append(tasks, managertest.Task{Name: fmt.Sprintf("steps-%d", i), Type: "test", Commands: []managertest.Command{
			{Name: "test-steps", Parameters: map[string]any{"count": 4}, TotalStepCount: 4},
			{Name: "echo", Parameters: map[string]any{"message": "after the steps"}},
		}})
	}
	tasks = append(tasks, workertest.ShellTask("both-streams", "echo to-stdout; echo to-stderr >&2"))
	job := mgr.AddJob(managertest.Job{Tasks: tasks})
	failing := mgr.AddJob(managertest.Job{Priority: 10, Tasks: []managertest.Task{{Name: "fail", Type: "test", Commands: []managertest.Command{
		{Name: "test-fail", Parameters: map[string]any{"message": "the render exploded"}},
	}}}})

	cfg := testConfig(t, mgr)
	startWorker(t, cfg, openPlugins(t))
	waitFor(t, "both jobs to end", func() bool {
		a, _ := mgr.Job(job.ID)
		b, _ := mgr.Job(failing.ID)
		return a.Status == managertest.StatusCompleted && b.Status == managertest.StatusFailed
	})

	for i, tk := range job.Tasks {
		ts := mgr.MustTask(t, tk.ID)
		checkReported(t, ts, managertest.StatusCompleted)
		if ts.StepsCompleted != ts.StepsTotal {
			t.Errorf("task %s: %d of %d steps completed", ts.Name, ts.StepsCompleted, ts.StepsTotal)
		}
		if i < 8 && !strings.Contains(ts.Log, fmt.Sprintf("hello from task %d\n", i)) {
			t.Errorf("task %s: the log lacks its message:\n%s", ts.Name, ts.Log)
		}
		if ts.Assignments != 1 {
			t.Errorf("task %s was handed out %d times, want 1", ts.Name, ts.Assignments)
		}
	}
	both := mgr.MustTask(t, job.Tasks[len(job.Tasks)-1].ID)
	if !strings.Contains(both.Log, "to-stdout\n") || !strings.Contains(both.Log, "to-stderr\n") {
		t.Errorf("stdout and stderr are not both in the log:\n%s", both.Log)
	}

	fail := mgr.MustTask(t, failing.Tasks[0].ID)
	checkReported(t, fail, managertest.StatusFailed)
	if !strings.Contains(fail.Activity, "the render exploded") {
		t.Errorf("failed task's activity %q lacks the error", fail.Activity)
	}
	if !strings.Contains(fail.Log, "the render exploded") {
		t.Errorf("failed task's log lacks the error:\n%s", fail.Log)
	}

	w := onlyWorker(t, mgr)
	if w.SignOns != 1 || w.CanRestart {
		t.Errorf("worker signed on %d times with can_restart %v, want once without", w.SignOns, w.CanRestart)
	}
	if !slices.Equal(w.SupportedTaskTypes, []string{"misc", "test"}) {
		t.Errorf("supported task types %v, want [misc test]", w.SupportedTaskTypes)
	}
	mgr.CheckProtocol(t)

	fi, err := os.Stat(worker.CredentialsPath(cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	creds, err := worker.LoadCredentials(worker.CredentialsPath(cfg.StateDir))
	if err != nil || creds.WorkerID != w.ID || creds.Secret != w.Secret {
		t.Errorf("saved credentials %+v (%v) do not match the registered worker %s", creds, err, w.ID)
	}
}

func TestManagerDownDuringTask(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	const lines = 40
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{
		workertest.ShellTask("slow-printer", workertest.PrinterScript("line ", lines, "0.1")),
	}})
	id := job.Tasks[0].ID
	r := startWorker(t, testConfig(t, mgr), openPlugins(t))

	waitFor(t, "the first lines of the task", func() bool {
		return strings.Contains(mgr.MustTask(t, id).Log, "line 3\n")
	})
	mgr.MustTakeDown(t)
	// The outage lasts while the task prints on: until updates pile up in
	// the queue, each sent and failed again with backoff.
	waitFor(t, "updates to queue up while the Manager is away", func() bool { return r.Status().QueuedUpdates >= outageUpdates })
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to complete", func() bool { return mgr.MustTask(t, id).Status == managertest.StatusCompleted })

	ts := mgr.MustTask(t, id)
	checkReported(t, ts, managertest.StatusCompleted)
	workertest.CheckExactlyOnce(t, ts, "line ", lines)
	mgr.CheckProtocol(t)
}

func TestTimedOutWorkerSignsOnAgain(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	startWorker(t, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the worker to be awake", awake(mgr))
	w := onlyWorker(t, mgr)
	if err := mgr.TimeOutWorker(w.ID); err != nil {
		t.Fatal(err)
	}
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("after-timeout", "back")}})
	waitFor(t, "the task to complete", func() bool {
		return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted
	})
	w = onlyWorker(t, mgr)
	if w.SignOns != 2 {
		t.Errorf("signed on %d times, want 2 (once more after the timeout)", w.SignOns)
	}
	mgr.CheckProtocol(t)
}

func TestForbiddenLeadsToNewRegistration(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	cfg := testConfig(t, mgr)
	startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the worker to be awake", awake(mgr))
	old := onlyWorker(t, mgr)
	if err := mgr.ForgetWorker(old.ID); err != nil {
		t.Fatal(err)
	}
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("after-forget", "new me")}})
	waitFor(t, "the task to complete", func() bool {
		return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted
	})
	nw := onlyWorker(t, mgr)
	if nw.ID == old.ID {
		t.Fatal("the worker kept its forgotten id")
	}
	if ts := mgr.MustTask(t, job.Tasks[0].ID); ts.Updates[0].Worker != nw.ID {
		t.Errorf("task done by %s, want the new worker %s", ts.Updates[0].Worker, nw.ID)
	}
	creds, err := worker.LoadCredentials(worker.CredentialsPath(cfg.StateDir))
	if err != nil || creds.WorkerID != nw.ID {
		t.Errorf("saved credentials %+v (%v), want the new worker %s", creds, err, nw.ID)
	}
	mgr.CheckProtocol(t)
}

func TestServerErrorsAreRetriedWithoutNewRegistration(t *testing.T) {
	tests := []struct {
		name   string
		faults []managertest.Fault
		known  bool // start with credentials the Manager knows
		// signOns the Manager handles: a malformed answer is sent after
		// the Manager acted on the request.
		signOns int
	}{
		{"sign-on 502 and 503", []managertest.Fault{
			{Op: managertest.OpSignOn, Status: 502, Count: 2},
			{Op: managertest.OpSignOn, Status: 503, Count: 1},
		}, true, 1},
		{"sign-on reset and malformed", []managertest.Fault{
			{Op: managertest.OpSignOn, Reset: true, Count: 1},
			{Op: managertest.OpSignOn, MalformedJSON: true, Count: 1},
		}, true, 2},
		{"register 503 then sign-on 500", []managertest.Fault{
			{Op: managertest.OpRegister, Status: 503, Count: 2},
			{Op: managertest.OpSignOn, Status: 500, Count: 2},
		}, false, 1},
		{"state-changed 502", []managertest.Fault{
			{Op: managertest.OpStateChanged, Status: 502, Count: 3},
		}, true, 1},
		// A 401 is a proxy's challenge, not the Manager's 403 for unknown
		// credentials: retried, never a new registration.
		{"sign-on 401 after registering", []managertest.Fault{
			{Op: managertest.OpSignOn, Status: 401, Count: 2},
		}, false, 1},
		{"schedule-task 401", []managertest.Fault{
			{Op: managertest.OpScheduleTask, Status: 401, Count: 2},
		}, true, 1},
	}
	reg := openPlugins(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			cfg := testConfig(t, mgr)
			if tt.known {
				secret := "a-secret"
				id := mgr.AddWorker("test-worker", secret, "misc", "test")
				if err := worker.SaveCredentials(worker.CredentialsPath(cfg.StateDir), worker.Credentials{WorkerID: id, Secret: secret}); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.faults {
				if err := mgr.SetFault(f); err != nil {
					t.Fatal(err)
				}
			}
			job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("t", "hi")}})
			startWorker(t, cfg, reg)
			waitFor(t, "the task to complete", func() bool {
				return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted
			})
			w := onlyWorker(t, mgr)
			if w.SignOns != tt.signOns {
				t.Errorf("the Manager handled %d sign-ons, want %d", w.SignOns, tt.signOns)
			}
			if n := mgr.RequestCount(managertest.OpRegister, ""); tt.known && n != 0 {
				t.Errorf("%d registrations with known credentials, want none", n)
			}
			mgr.CheckProtocol(t)
		})
	}
}

func TestStatusRequests(t *testing.T) {
	reg := openPlugins(t)

	t.Run("lazy sleep after the task, then wake", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("one-second", 1)}})
		id := job.Tasks[0].ID
		startWorker(t, testConfig(t, mgr), reg)
		waitFor(t, "the task to run", func() bool { return len(mgr.MustTask(t, id).Updates) > 0 })
		w := onlyWorker(t, mgr)
		if err := mgr.RequestStatus(w.ID, managertest.WorkerAsleep, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the worker to be asleep", func() bool {
			ws, _ := mgr.Worker(w.ID)
			return ws.Status == managertest.WorkerAsleep
		})
		checkReported(t, mgr.MustTask(t, id), managertest.StatusCompleted)

		next := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("after-wake", "awake again")}})
		waitPolls(t, mgr, 3) // an asleep worker takes no task
		if ts := mgr.MustTask(t, next.Tasks[0].ID); ts.Status != managertest.StatusQueued {
			t.Fatalf("an asleep worker took a task: %s", ts.Status)
		}
		if err := mgr.RequestStatus(w.ID, managertest.WorkerAwake, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the next task to complete", func() bool {
			return mgr.MustTask(t, next.Tasks[0].ID).Status == managertest.StatusCompleted
		})
		ws, _ := mgr.Worker(w.ID)
		if want := []string{"awake", "asleep", "awake"}; !slices.Equal(ws.StateChanges, want) {
			t.Errorf("state changes %v, want %v", ws.StateChanges, want)
		}
		mgr.CheckProtocol(t)
	})

	t.Run("immediate sleep aborts the task", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("long", 60)}})
		id := job.Tasks[0].ID
		r := startWorker(t, testConfig(t, mgr), reg)
		waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
		w := onlyWorker(t, mgr)
		if err := mgr.RequestStatus(w.ID, managertest.WorkerAsleep, false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the worker to be asleep", func() bool {
			ws, _ := mgr.Worker(w.ID)
			return ws.Status == managertest.WorkerAsleep
		})
		ts := mgr.MustTask(t, id)
		if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) {
			t.Errorf("an aborted task was reported %v, want only active", got)
		}
		if ts.Status != managertest.StatusQueued {
			t.Errorf("task status %s, want queued (requeued when the worker fell asleep)", ts.Status)
		}
		// The Manager records "asleep" while its answer to state-changed is
		// still on the way back, so the worker's own state may lag a moment.
		waitFor(t, "the worker to see itself asleep", func() bool { return r.Status().State == worker.StateAsleep })
		if st := r.Status(); st.TaskID != "" {
			t.Errorf("worker status %+v, want asleep without a task", st)
		}
		mgr.CheckProtocol(t)
	})

	for _, lazy := range []bool{true, false} {
		t.Run(fmt.Sprintf("offline lazy=%v", lazy), func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			seconds := 60.0 // an immediate request must find the task running
			if lazy {
				seconds = 0.5
			}
			job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("task", seconds)}})
			id := job.Tasks[0].ID
			r := startWorker(t, testConfig(t, mgr), reg)
			waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
			w := onlyWorker(t, mgr)
			if err := mgr.RequestStatus(w.ID, managertest.WorkerOffline, lazy); err != nil {
				t.Fatal(err)
			}
			if code := r.Wait(); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			ws, _ := mgr.Worker(w.ID)
			if ws.Status != managertest.WorkerOffline || ws.StatusRequested != "" {
				t.Errorf("worker %s with %q requested, want offline and nothing pending", ws.Status, ws.StatusRequested)
			}
			ts := mgr.MustTask(t, id)
			if lazy {
				checkReported(t, ts, managertest.StatusCompleted)
			} else if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) || ts.Status != managertest.StatusQueued {
				t.Errorf("immediate offline: task %s reported %v, want queued and reported only active", ts.Status, got)
			}
			mgr.CheckProtocol(t)
		})
	}

	t.Run("restart exits with the restart code", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		cfg := testConfig(t, mgr)
		cfg.Manager.RestartExitCode = 47
		r := startWorker(t, cfg, reg)
		waitFor(t, "the worker to be awake", awake(mgr))
		w := onlyWorker(t, mgr)
		if !w.CanRestart {
			t.Fatal("signed on without can_restart although restart_exit_code is set")
		}
		if err := mgr.RequestStatus(w.ID, managertest.WorkerRestart, true); err != nil {
			t.Fatal(err)
		}
		if code := r.Wait(); code != 47 {
			t.Errorf("exit code %d, want 47", code)
		}
		ws, _ := mgr.Worker(w.ID)
		if !slices.Contains(ws.StateChanges, managertest.WorkerRestart) || ws.Status != managertest.WorkerOffline {
			t.Errorf("state changes %v, status %s: want restart acknowledged, then signed off", ws.StateChanges, ws.Status)
		}
	})

	t.Run("restart refused without a restart code", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		cfg := testConfig(t, mgr)
		cfg.Manager.RestartExitCode = 47
		first := startWorker(t, cfg, reg)
		waitFor(t, "the worker to be awake", awake(mgr))
		first.Stop()
		// The Manager still believes the worker can restart (its last
		// sign-on said so) and queues a restart; the worker now starts
		// without a restart code.
		w := onlyWorker(t, mgr)
		if err := mgr.RequestStatus(w.ID, managertest.WorkerRestart, true); err != nil {
			t.Fatal(err)
		}
		cfg.Manager.RestartExitCode = 0
		second := startWorker(t, cfg, reg)
		waitFor(t, "the worker to be asleep", func() bool {
			ws, _ := mgr.Worker(w.ID)
			return ws.Status == managertest.WorkerAsleep
		})
		waitPolls(t, mgr, 3) // that still see the pending restart
		if second.Exited() {
			t.Fatal("the worker exited on a restart request although it has no restart code")
		}
		ws, _ := mgr.Worker(w.ID)
		if n := strings.Count(strings.Join(ws.StateChanges, ","), "asleep"); n != 1 {
			t.Errorf("state changes %v: want asleep acknowledged once", ws.StateChanges)
		}
		if err := mgr.RequestStatus(w.ID, managertest.WorkerAwake, false); err != nil {
			t.Fatal(err)
		}
		job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{echoTask("after-refusal", "still here")}})
		waitFor(t, "the task to complete", func() bool {
			return mgr.MustTask(t, job.Tasks[0].ID).Status == managertest.StatusCompleted
		})
	})
}

func TestShutdown(t *testing.T) {
	reg := openPlugins(t)
	for _, finish := range []bool{false, true} {
		t.Run(fmt.Sprintf("finish_task_on_shutdown=%v", finish), func(t *testing.T) {
			mgr := managertest.New(t, managertest.Config{})
			seconds := 60.0
			if finish {
				seconds = 1
			}
			job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("running", seconds)}})
			id := job.Tasks[0].ID
			cfg := testConfig(t, mgr)
			cfg.Manager.FinishTaskOnShutdown = finish
			r := startWorker(t, cfg, reg)
			waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
			if code := r.Stop(); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			w := onlyWorker(t, mgr)
			if w.Status != managertest.WorkerOffline {
				t.Errorf("worker status %s after shutdown, want offline (signed off)", w.Status)
			}
			ts := mgr.MustTask(t, id)
			if finish {
				checkReported(t, ts, managertest.StatusCompleted)
			} else {
				if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) {
					t.Errorf("task reported %v on shutdown, want only active (not failed)", got)
				}
				if ts.Status != managertest.StatusQueued || ts.Worker != "" {
					t.Errorf("task %s assigned to %q, want requeued by the sign-off", ts.Status, ts.Worker)
				}
			}
			mgr.CheckProtocol(t)
		})
	}
}

// A shutdown while the worker signs on: a sign-on the Manager took, whose
// answer the signal cut off, is signed off; a worker that never got through
// leaves at once, without waiting on the Manager, its queue kept on disk.
func TestShutdownWhileSigningOn(t *testing.T) {
	reg := openPlugins(t)
	// A leaving worker that waited for an unreachable Manager would wait
	// an hour: that the worker stops at all shows it did not.
	patient := workertest.FastTimings()
	patient.ShutdownDelivery = time.Hour
	patient.SignOffTimeout = time.Hour

	t.Run("the Manager took the sign-on, its answer had not come", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		cfg := testConfig(t, mgr)
		cfg.Manager.RequestTimeout = time.Hour // the sign-on is in flight until the signal
		id := knownWorker(t, mgr, cfg)
		if err := mgr.SetFault(managertest.Fault{Op: managertest.OpSignOn, AfterHandling: true, Delay: time.Hour, Count: 1}); err != nil {
			t.Fatal(err)
		}
		r := workertest.Start(t, cfg, reg, patient, nil)
		waitFor(t, "the Manager to take the sign-on", func() bool { ws, _ := mgr.Worker(id); return ws.SignOns == 1 })
		if code := r.Stop(); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		if ws, _ := mgr.Worker(id); ws.Status != managertest.WorkerOffline {
			t.Errorf("the worker is %s on the Manager after a shutdown during its sign-on, want offline (signed off)", ws.Status)
		}
		mgr.CheckProtocol(t)
	})

	t.Run("the Manager is down", func(t *testing.T) {
		mgr := managertest.New(t, managertest.Config{})
		cfg := testConfig(t, mgr)
		knownWorker(t, mgr, cfg)
		ctx := context.Background()
		q, err := updates.Open(ctx, updates.Options{Path: worker.QueuePath(cfg.StateDir)})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Append(ctx, updates.Update{TaskID: "task-of-an-earlier-run", Log: "queued before a crash"}); err != nil {
			t.Fatal(err)
		}
		q.Close()
		mgr.MustTakeDown(t)
		r := workertest.Start(t, cfg, reg, patient, nil)
		waitFor(t, "sign-on to be retried", func() bool { return strings.Count(r.Log.String(), "signing on failed; retrying") >= 2 })
		if code := r.Stop(); code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		if strings.Contains(r.Log.String(), "signed off") {
			t.Errorf("a worker that never signed on signed off")
		}
		q, err = updates.Open(ctx, updates.Options{Path: worker.QueuePath(cfg.StateDir)})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if n, err := q.Len(ctx); n != 1 || err != nil {
			t.Errorf("%d updates queued after the shutdown (%v), want the earlier run's 1 kept for the next start", n, err)
		}
	})
}

// knownWorker makes cfg's worker one the Manager knows, with saved
// credentials, and returns its id.
func knownWorker(t testing.TB, mgr *managertest.Manager, cfg *config.Config) string {
	t.Helper()
	secret := "a-secret"
	id := mgr.AddWorker(cfg.Manager.WorkerName, secret, "misc", "test")
	if err := worker.SaveCredentials(worker.CredentialsPath(cfg.StateDir), worker.Credentials{WorkerID: id, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCanceledTaskIsAbortedNotFailed(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{sleepTask("to-cancel", 60), echoTask("next", "next one")}})
	id := job.Tasks[0].ID
	r := startWorker(t, testConfig(t, mgr), openPlugins(t))
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
	if err := mgr.CancelTask(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next task to complete", func() bool {
		return mgr.MustTask(t, job.Tasks[1].ID).Status == managertest.StatusCompleted
	})
	ts := mgr.MustTask(t, id)
	if got := ts.Statuses(); !slices.Equal(got, []string{managertest.StatusActive}) || ts.Status != managertest.StatusCanceled {
		t.Errorf("canceled task is %s, reported %v; want canceled and reported only active", ts.Status, got)
	}
	if !strings.Contains(ts.Log, "aborted") {
		t.Errorf("the canceled task's log does not say it was aborted:\n%s", ts.Log)
	}
	mgr.CheckProtocol(t)
}

func TestTaskGoneOnUpdateAbortsTask(t *testing.T) {
	mgr := managertest.New(t, managertest.Config{})
	job := mgr.AddJob(managertest.Job{Tasks: []managertest.Task{
		workertest.ShellTask("printer", `while true; do echo tick; sleep 0.05; done`),
	}})
	id := job.Tasks[0].ID
	cfg := testConfig(t, mgr)
	cfg.Manager.MayIRunInterval = time.Hour // only the update's 409 can stop it
	r := startWorker(t, cfg, openPlugins(t))
	waitFor(t, "the task to run", func() bool { return r.Status().TaskID == id })
	if err := mgr.SetFault(managertest.Fault{Op: managertest.OpTaskUpdate, Conflict409: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task to be aborted", func() bool {
		return strings.Contains(r.Log.String(), "the Manager refused an update of the running task")
	})
	// The fake Manager still has the task active and would hand it out again.
	if err := mgr.CancelTask(id); err != nil {
		t.Fatal(err)
	}
	if err := mgr.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	if got := mgr.MustTask(t, id).Statuses(); slices.Contains(got, managertest.StatusFailed) {
		t.Errorf("a task that is no longer ours was reported failed: %v", got)
	}
}

// outageUpdates is how many updates a Manager outage lets pile up in the
// queue before the Manager comes back.
const outageUpdates = 5

// waitPolls waits until the worker asked for its state n more times: an
// asleep worker's polls, each answered with what it is to do now.
func waitPolls(t testing.TB, mgr *managertest.Manager, n int) {
	t.Helper()
	from := mgr.RequestCount(managertest.OpState, "")
	waitFor(t, fmt.Sprintf("%d more state polls", n), func() bool { return mgr.RequestCount(managertest.OpState, "") >= from+n })
}
