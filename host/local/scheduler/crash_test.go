//go:build unix

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/internal/testwait"
)

// This file tests the runner when things go wrong: a crashed or killed
// runner, a full disk, a stop between two tasks.

// TestNoTaskCompletedTwice plays a crashed runner: its claim is taken over
// after recovery, and its late outcome must not be recorded.
func TestNoTaskCompletedTwice(t *testing.T) {
	q := newQueue(t, 1)
	ctx := context.Background()
	id := q.submit(t, `name = "once"`+"\n"+echoTask("t", "x"), jobstore.Submission{})
	claims, err := q.store.ClaimTasks(ctx, 5, time.Now(), q.runner.logPath)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim: %v, %d", err, len(claims))
	}
	stale := claims[0]
	// A new runner starts after a crash.
	recs, err := q.store.RecoverInterrupted(ctx)
	if err != nil || len(recs) != 1 || recs[0].Status != jobstore.TaskQueued {
		t.Fatalf("recover: %v %+v", err, recs)
	}
	claims, err = q.store.ClaimTasks(ctx, 5, time.Now(), q.runner.logPath)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim again: %v, %d", err, len(claims))
	}
	current := claims[0]
	if _, err := q.store.FinishTask(ctx, stale, jobstore.Ending{Status: jobstore.TaskCompleted, At: time.Now()}); !errors.Is(err, jobstore.ErrStale) {
		t.Errorf("the stale attempt's completion: %v", err)
	}
	end, err := q.store.FinishTask(ctx, current, jobstore.Ending{Status: jobstore.TaskCompleted, At: time.Now()})
	if err != nil || end == nil || end.State != jobstore.JobCompleted {
		t.Fatalf("completion: %v %+v", err, end)
	}
	if _, err := q.store.FinishTask(ctx, current, jobstore.Ending{Status: jobstore.TaskCompleted, At: time.Now()}); !errors.Is(err, jobstore.ErrStale) {
		t.Errorf("a second completion: %v", err)
	}
	// The database refuses a second completed attempt of one run anyway.
	_, err = q.db(t).Exec(`INSERT INTO attempts (task_id, run, status, started_at, pid) VALUES (?, 1, 'completed', 0, 0)`, current.TaskID)
	if err == nil {
		t.Error("the store accepted a second completion of a task's run")
	}
	_, tasks := q.job(t, id)
	completed := 0
	for _, a := range tasks["t"].Attempts {
		if a.Status == jobstore.AttemptCompleted {
			completed++
		}
	}
	if completed != 1 || len(tasks["t"].Attempts) != 2 {
		t.Errorf("attempts %+v", tasks["t"].Attempts)
	}
}

func TestCancelWithoutRunner(t *testing.T) {
	q := newQueue(t, 1)
	ctx := context.Background()
	id := q.submit(t, `name = "c"`+"\n"+echoTask("a", "x")+echoTask("b", "y", "a"), jobstore.Submission{})
	// A runner claimed a and died.
	if _, err := q.store.ClaimTasks(ctx, 1, time.Now(), q.runner.logPath); err != nil {
		t.Fatal(err)
	}
	res, err := q.store.Cancel(ctx, id)
	if err != nil || len(res.Aborting) != 0 {
		t.Fatalf("cancel: %v %+v", err, res)
	}
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobCanceled || tasks["a"].Status != jobstore.TaskCanceled || tasks["b"].Status != jobstore.TaskCanceled {
		t.Errorf("job %s, a %s, b %s", j.State, tasks["a"].Status, tasks["b"].Status)
	}
	if _, err := q.store.Cancel(ctx, id); err == nil || !strings.Contains(err.Error(), "already canceled") {
		t.Errorf("second cancel: %v", err)
	}
	if _, err := q.store.Cancel(ctx, 999); !errors.Is(err, jobstore.ErrNotFound) {
		t.Errorf("cancel of a missing job: %v", err)
	}
	if sum := q.runUntilIdle(t); sum.Completed+sum.Failed+sum.Canceled+sum.Interrupted != 0 {
		t.Errorf("ran %+v", sum)
	}
}

// TestRunnerGone: a task that looks running while no process holds the
// runner lock under the pid that claimed it is shown interrupted, with that
// pid.
func TestRunnerGone(t *testing.T) {
	tests := []struct {
		name       string
		lock       bool  // a runner holds the lock (this process)
		attemptPid int64 // 0: this process claimed it
		gone       bool
	}{
		{"no runner", false, 0, true},
		{"its runner is alive", true, 0, false},
		{"another runner holds the lock", true, 999999, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t, 1)
			ctx := context.Background()
			id := q.submit(t, `name = "g"`+"\n"+echoTask("a", "x")+echoTask("b", "y", "a"), jobstore.Submission{})
			claims, err := q.store.ClaimTasks(ctx, 1, time.Now(), q.runner.logPath)
			if err != nil || len(claims) != 1 {
				t.Fatalf("claim: %v %d", err, len(claims))
			}
			pid := os.Getpid()
			if tt.attemptPid != 0 {
				pid = int(tt.attemptPid)
				if _, err := q.db(t).Exec(`UPDATE attempts SET pid = ?`, pid); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lock {
				release, err := q.store.LockRunner()
				if err != nil {
					t.Fatal(err)
				}
				defer release()
			}
			wantJob, wantTask, wantPid := jobstore.JobRunning, jobstore.TaskRunning, 0
			if tt.gone {
				wantJob, wantTask, wantPid = jobstore.JobInterrupted, jobstore.TaskInterrupted, pid
			}
			j, tasks := q.job(t, id)
			if st := j.Status(time.Now()); st != wantJob || j.RunnerGone != wantPid || j.Tasks[wantTask] != 1 {
				t.Errorf("show: job %s, runner gone %d, tasks %v; want %s, %d", st, j.RunnerGone, j.Tasks, wantJob, wantPid)
			}
			if a := tasks["a"]; a.Status != wantTask || a.RunnerGone != wantPid {
				t.Errorf("show: task %s, runner gone %d; want %s, %d", a.Status, a.RunnerGone, wantTask, wantPid)
			}
			jobs, err := q.store.Jobs(ctx)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("list: %v %d", err, len(jobs))
			}
			if st := jobs[0].Status(time.Now()); st != wantJob || jobs[0].RunnerGone != wantPid || jobs[0].Tasks[wantTask] != 1 {
				t.Errorf("list: job %s, runner gone %d, tasks %v; want %s, %d", st, jobs[0].RunnerGone, jobs[0].Tasks, wantJob, wantPid)
			}
		})
	}
}

// fullDisk makes a runner's records fail while it is full, as SQLite fails
// on a full disk.
type fullDisk struct {
	store *jobstore.Store
	mu    sync.Mutex
	full  bool
	tries int
}

var errDiskFull = errors.New("database or disk is full (13)")

func (d *fullDisk) record(ctx context.Context, c jobstore.Claim, e jobstore.Ending) (*jobstore.JobEnd, error) {
	d.mu.Lock()
	d.tries++
	full := d.full
	d.mu.Unlock()
	if full {
		return nil, errDiskFull
	}
	return d.store.FinishTask(ctx, c, e)
}

func (d *fullDisk) set(full bool) { d.mu.Lock(); d.full = full; d.mu.Unlock() }

func (d *fullDisk) triesSoFar() int { d.mu.Lock(); defer d.mu.Unlock(); return d.tries }

func (q *queue) started(task string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.events {
		if e.Kind == TaskStarted && e.Task == task {
			return true
		}
	}
	return false
}

// TestUnrecordedEndStopsTheQueue: when the end of a task cannot be recorded,
// no other task starts, the record is retried, and once the disk has room
// the queue goes on with the task recorded once.
func TestUnrecordedEndStopsTheQueue(t *testing.T) {
	q := newQueue(t, 1)
	disk := &fullDisk{store: q.store, full: true}
	q.runner.record = disk.record
	id := q.submit(t, `name = "full"`+"\n"+echoTask("a", "x")+echoTask("b", "y"), jobstore.Submission{})
	done := make(chan Summary, 1)
	go func() { done <- q.runUntilIdle(t) }()
	// Each retry is a turn of the loop that would have claimed b.
	testwait.For(t, "the record to be retried", func() bool { return disk.triesSoFar() >= 4 })
	if q.started("b") {
		t.Fatal("task b started while the end of a was not recorded")
	}
	if _, tasks := q.job(t, id); tasks["a"].Status != jobstore.TaskRunning || tasks["b"].Status != jobstore.TaskQueued {
		t.Fatalf("while the disk is full: a %s, b %s", tasks["a"].Status, tasks["b"].Status)
	}
	disk.set(false)
	sum := <-done
	if sum.Completed != 2 {
		t.Errorf("summary %+v", sum)
	}
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobCompleted || len(tasks["a"].Attempts) != 1 || tasks["a"].Attempts[0].Status != jobstore.AttemptCompleted {
		t.Errorf("job %s, attempts of a %+v", j.State, tasks["a"].Attempts)
	}
}

// TestUnrecordedEndFailsTheRun: a record that never succeeds ends the run
// with an error naming the store and its disk; the task runs again next time.
func TestUnrecordedEndFailsTheRun(t *testing.T) {
	q := newQueue(t, 1)
	disk := &fullDisk{store: q.store, full: true}
	q.runner.record = disk.record
	q.runner.RecordPatience = 300 * time.Millisecond
	id := q.submit(t, `name = "full"`+"\n"+echoTask("a", "x")+echoTask("b", "y"), jobstore.Submission{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := q.runner.Run(ctx, true)
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Run = %v, want the disk's error", err)
	}
	want := fmt.Sprintf(`could not record the end of task "a" of job %d in %s (refused `, id, q.store.Path())
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "the disk holding "+q.dir+" (mounted at ") ||
		!strings.Contains(msg, "free space there; it will run again at the next 'cajon local run'") {
		t.Errorf("error:\n%s\nwant it to start with %q and name the disk", msg, want)
	}
	if q.started("b") {
		t.Error("task b started while the end of a was not recorded")
	}
	disk.set(false)
	q.runUntilIdle(t)
	_, tasks := q.job(t, id)
	if a := tasks["a"]; a.Status != jobstore.TaskCompleted || len(a.Attempts) != 2 || a.Attempts[0].Status != jobstore.AttemptInterrupted {
		t.Errorf("a after the next run: %s, attempts %+v", a.Status, a.Attempts)
	}
}

// TestStopBetweenTasks: a runner that stops between two tasks of a job
// leaves the job queued, not running; and a job left so by a crash is shown
// queued while no runner works the queue.
func TestStopBetweenTasks(t *testing.T) {
	t.Run("clean stop", func(t *testing.T) {
		q := newQueue(t, 1)
		id := q.submit(t, `name = "two"`+"\n"+echoTask("a", "x")+echoTask("b", "y", "a"), jobstore.Submission{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		q.runner.record = func(rctx context.Context, c jobstore.Claim, e jobstore.Ending) (*jobstore.JobEnd, error) {
			end, err := q.store.FinishTask(rctx, c, e)
			cancel() // stop once a is recorded, before b starts
			return end, err
		}
		if _, err := q.runner.Run(ctx, false); err != nil {
			t.Fatal(err)
		}
		j, tasks := q.job(t, id)
		if j.State != jobstore.JobWaiting || tasks["a"].Status != jobstore.TaskCompleted || tasks["b"].Status != jobstore.TaskQueued {
			t.Errorf("after a stop between tasks: job %s, a %s, b %s; want waiting, completed, queued", j.State, tasks["a"].Status, tasks["b"].Status)
		}
	})
	t.Run("crash", func(t *testing.T) {
		q := newQueue(t, 1)
		ctx := context.Background()
		id := q.submit(t, `name = "two"`+"\n"+echoTask("a", "x")+echoTask("b", "y", "a"), jobstore.Submission{})
		claims, err := q.store.ClaimTasks(ctx, 1, time.Now(), q.runner.logPath)
		if err != nil || len(claims) != 1 {
			t.Fatalf("claim: %v %d", err, len(claims))
		}
		if _, err := q.store.FinishTask(ctx, claims[0], jobstore.Ending{Status: jobstore.TaskCompleted, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// The runner died here: the job's row still says running.
		j, _ := q.job(t, id)
		jobs, err := q.store.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status(time.Now()) != "queued" || jobs[0].Status(time.Now()) != "queued" {
			t.Errorf("show %s, list %s; want queued", j.Status(time.Now()), jobs[0].Status(time.Now()))
		}
	})
}
