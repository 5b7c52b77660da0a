//go:build unix

package scheduler

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/local/jobstore"
	"github.com/cajonfarm/cajon/host/logstore"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/cajonfarm/cajon/internal/testwait"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// queue is a store, log store and runner in a temporary state directory.
type queue struct {
	dir    string
	store  *jobstore.Store
	logs   *logstore.Store
	runner *Runner

	mu     sync.Mutex
	events []Event
}

func newQueue(t testing.TB, slots int) *queue {
	t.Helper()
	dir := t.TempDir()
	store, err := jobstore.Open(context.Background(), filepath.Join(dir, jobstore.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logs, err := logstore.Open(filepath.Join(dir, "logs"), logstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	q := &queue{dir: dir, store: store, logs: logs}
	q.runner = &Runner{
		Store: store, Logs: logs, Slots: slots, PreviewDir: filepath.Join(dir, "previews"),
		Tasks: &task.Runner{Commands: testPlugins, Grace: 2 * time.Second},
		Poll:  50 * time.Millisecond,
		Events: func(e Event) {
			q.mu.Lock()
			q.events = append(q.events, e)
			q.mu.Unlock()
		},
	}
	return q
}

// db opens a second connection to the store's file, for the rows a test
// sets up or reads that no method of the store touches (as another process
// would).
func (q *queue) db(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", q.store.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// submit parses, validates and stores a job given as TOML.
func (q *queue) submit(t testing.TB, toml string, sub jobstore.Submission) int64 {
	t.Helper()
	job, err := jobfile.ParseJob(context.Background(), "test.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Validate(context.Background(), "test.toml", registry(t)); err != nil {
		t.Fatal(err)
	}
	id, err := q.store.Submit(context.Background(), job, sub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (q *queue) runUntilIdle(t testing.TB) Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := q.runner.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func (q *queue) job(t testing.TB, id int64) (*jobstore.JobInfo, map[string]*jobstore.TaskInfo) {
	t.Helper()
	j, tasks, err := q.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*jobstore.TaskInfo{}
	for _, tk := range tasks {
		byName[tk.Name] = tk
	}
	return j, byName
}

// dependsOn is a depends_on line, or nothing.
func dependsOn(deps []string) string {
	if len(deps) == 0 {
		return ""
	}
	quoted := make([]string, len(deps))
	for i, d := range deps {
		quoted[i] = fmt.Sprintf("%q", d)
	}
	return "depends_on = [" + strings.Join(quoted, ", ") + "]\n"
}

// echoTask is a TOML task with one echo command.
func echoTask(name, message string, deps ...string) string {
	d := dependsOn(deps)
	return fmt.Sprintf("[[tasks]]\nname = %q\n%s[[tasks.commands]]\nname = \"echo\"\nparameters = { message = %q }\n", name, d, message)
}

// treeTask is a TOML task running a shell script through testkit.
func treeTask(name, script string, deps ...string) string {
	d := dependsOn(deps)
	return fmt.Sprintf("[[tasks]]\nname = %q\n%s[[tasks.commands]]\nname = \"test-tree\"\nparameters = { script = '''%s''' }\n", name, d, script)
}

func TestRunJobWithDependencies(t *testing.T) {
	q := newQueue(t, 2)
	id := q.submit(t, `name = "deps"`+"\n"+
		echoTask("a", "from a")+
		treeTask("b", "sleep 0.2; echo b done", "a")+
		treeTask("c", "echo c done", "a")+
		echoTask("d", "from d", "b", "c"), jobstore.Submission{Source: "deps.toml"})
	sum := q.runUntilIdle(t)
	if sum.Completed != 4 || sum.Failed != 0 || len(sum.FailedJobs) != 0 {
		t.Errorf("summary %+v", sum)
	}
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobCompleted || j.Finished == nil || j.StepsDone != 4 || j.StepsTotal != 4 {
		t.Errorf("job %+v", j)
	}
	for name, tk := range tasks {
		if tk.Status != jobstore.TaskCompleted || tk.Started == nil || tk.Finished == nil || len(tk.Attempts) != 1 {
			t.Errorf("task %s: %+v", name, tk)
		}
	}
	after := func(x, y string) {
		if tasks[x].Started.Before(*tasks[y].Finished) {
			t.Errorf("task %s started at %v, before %s finished at %v", x, tasks[x].Started, y, tasks[y].Finished)
		}
	}
	after("b", "a")
	after("c", "a")
	after("d", "b")
	after("d", "c")
	if got := tasks["d"].DependsOn; strings.Join(got, ",") != "b,c" {
		t.Errorf("d depends on %v", got)
	}
	raw, err := os.ReadFile(tasks["b"].LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "b done") || !strings.Contains(string(raw), `task "b" completed`) {
		t.Errorf("log of b:\n%s", raw)
	}
	if !strings.HasPrefix(tasks["b"].LogPath, filepath.Join(q.dir, "logs", "local-")) {
		t.Errorf("log path %s is not in the log store", tasks["b"].LogPath)
	}
}

func TestSlotsOverlap(t *testing.T) {
	for _, slots := range []int{1, 2} {
		t.Run(fmt.Sprint(slots), func(t *testing.T) {
			q := newQueue(t, slots)
			id := q.submit(t, `name = "pair"`+"\n"+treeTask("x", "sleep 0.5")+treeTask("y", "sleep 0.5"), jobstore.Submission{})
			q.runUntilIdle(t)
			_, tasks := q.job(t, id)
			x, y := tasks["x"], tasks["y"]
			overlap := x.Started.Before(*y.Finished) && y.Started.Before(*x.Finished)
			if overlap != (slots > 1) {
				t.Errorf("slots %d: overlap %v (x %v-%v, y %v-%v)", slots, overlap, x.Started, x.Finished, y.Started, y.Finished)
			}
		})
	}
}

func TestPriorityThenAge(t *testing.T) {
	q := newQueue(t, 1)
	low := q.submit(t, "name = \"low\"\npriority = 10\n"+echoTask("t", "low"), jobstore.Submission{})
	older := q.submit(t, "name = \"older\"\npriority = 70\n"+echoTask("t", "older"), jobstore.Submission{})
	newer := q.submit(t, "name = \"newer\"\npriority = 70\n"+echoTask("t", "newer"), jobstore.Submission{})
	q.runUntilIdle(t)
	var order []int64
	for _, e := range q.events {
		if e.Kind == TaskStarted {
			order = append(order, e.JobID)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint([]int64{older, newer, low}) {
		t.Errorf("jobs ran in order %v, want %v", order, []int64{older, newer, low})
	}
}

func TestFailureFailsJob(t *testing.T) {
	q := newQueue(t, 1)
	id := q.submit(t, `name = "fails"`+"\n"+
		echoTask("first", "ok")+
		"[[tasks]]\nname = \"broken\"\ndepends_on = [\"first\"]\n[[tasks.commands]]\nname = \"test-fail\"\nparameters = { message = \"the render farm is on fire\" }\n"+
		echoTask("after", "never", "broken"), jobstore.Submission{})
	sum := q.runUntilIdle(t)
	if sum.Failed != 1 || len(sum.FailedJobs) != 1 || sum.FailedJobs[0] != id {
		t.Errorf("summary %+v", sum)
	}
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobFailed || !strings.Contains(j.Message, `task "broken" failed`) || !strings.Contains(j.Message, "the render farm is on fire") {
		t.Errorf("job state %q, message %q", j.State, j.Message)
	}
	if tasks["broken"].Status != jobstore.TaskFailed || !strings.Contains(tasks["broken"].Message, "the render farm is on fire") {
		t.Errorf("broken: %+v", tasks["broken"])
	}
	if tasks["after"].Status != jobstore.TaskSkipped || tasks["after"].Started != nil {
		t.Errorf("after: %+v", tasks["after"])
	}
	if _, err := q.store.Cancel(context.Background(), id); err == nil || !strings.Contains(err.Error(), "already failed") {
		t.Errorf("cancel of a failed job: %v", err)
	}
}

func TestScheduledJobWaits(t *testing.T) {
	q := newQueue(t, 1)
	due := time.Now().Add(time.Hour)
	id := q.submit(t, `name = "later"`+"\n"+echoTask("t", "later"), jobstore.Submission{At: due})
	sum := q.runUntilIdle(t)
	if sum.Completed+sum.Failed+sum.Canceled+sum.Interrupted != 0 {
		t.Errorf("ran something: %+v", sum)
	}
	j, tasks := q.job(t, id)
	if j.Status(time.Now()) != "scheduled" || !j.DueAt.Equal(due) || tasks["t"].Status != jobstore.TaskQueued || len(tasks["t"].Attempts) != 0 {
		t.Errorf("job %+v, task %+v", j, tasks["t"])
	}
}

func TestRecurringJob(t *testing.T) {
	q := newQueue(t, 1)
	const every = time.Hour
	src := `name = "hourly"` + "\n" + echoTask("t", "tick")
	first := time.Now()
	id := q.submit(t, src, jobstore.Submission{Every: every})
	q.runUntilIdle(t)
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobWaiting || j.Run != 2 || j.LastState != jobstore.JobCompleted || j.LastFinished == nil {
		t.Fatalf("after run 1: %+v", j)
	}
	if j.DueAt.Before(first.Add(every)) {
		t.Errorf("next run due %v, before one interval after the first due time", j.DueAt)
	}
	if tasks["t"].Status != jobstore.TaskQueued || len(tasks["t"].Attempts) != 1 || tasks["t"].Attempts[0].Status != jobstore.AttemptCompleted {
		t.Errorf("task after run 1: %+v", tasks["t"])
	}
	var ended *Event
	for i, e := range q.events {
		if e.Kind == JobEnded {
			ended = &q.events[i]
		}
	}
	if ended == nil || ended.Status != jobstore.JobCompleted || !ended.NextDue.Equal(j.DueAt) {
		t.Errorf("job end event %+v", ended)
	}

	// The same again is refused; another interval or content is not.
	job, err := jobfile.ParseJob(context.Background(), "again.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Validate(context.Background(), "again.toml", registry(t)); err != nil {
		t.Fatal(err)
	}
	_, err = q.store.Submit(context.Background(), job, jobstore.Submission{Every: every})
	var dup *jobstore.DuplicateError
	if !errors.As(err, &dup) || dup.ID != id || !strings.Contains(err.Error(), fmt.Sprintf("job %d", id)) {
		t.Errorf("duplicate submit: %v", err)
	}
	if _, err := q.store.Submit(context.Background(), job, jobstore.Submission{Every: 2 * every}); err != nil {
		t.Errorf("another interval: %v", err)
	}
	if _, err := q.store.Submit(context.Background(), job, jobstore.Submission{}); err != nil {
		t.Errorf("a one-off copy: %v", err)
	}

	// Once canceled, it can be added again.
	if _, err := q.store.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := q.store.Submit(context.Background(), job, jobstore.Submission{Every: every}); err != nil {
		t.Errorf("after cancel: %v", err)
	}
}

func TestRecurringRunsAgainWhenDue(t *testing.T) {
	q := newQueue(t, 1)
	// An hour, so that a slow first run does not make the second due at
	// once; then its time comes by moving the due time into the past.
	id := q.submit(t, `name = "fast"`+"\n"+echoTask("t", "tick"), jobstore.Submission{Every: time.Hour})
	q.runUntilIdle(t)
	if _, err := q.db(t).Exec(`UPDATE jobs SET due_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixNano(), id); err != nil {
		t.Fatal(err)
	}
	j, _ := q.job(t, id)
	q.runUntilIdle(t)
	j2, tasks := q.job(t, id)
	if j2.Run != 3 || len(tasks["t"].Attempts) != 2 {
		t.Fatalf("after two runs: run %d, attempts %+v", j2.Run, tasks["t"].Attempts)
	}
	second := tasks["t"].Attempts[1]
	if second.Run != 2 || second.Started.Before(j.DueAt) {
		t.Errorf("run 2 started %v, before it was due at %v", second.Started, j.DueAt)
	}
	// Later runs have their own log.
	if !strings.HasSuffix(tasks["t"].LogPath, "t.run2.log") {
		t.Errorf("run 2 log %s", tasks["t"].LogPath)
	}
}

func TestCancelRunningTask(t *testing.T) {
	q := newQueue(t, 1)
	pidFile := filepath.Join(t.TempDir(), "pids")
	id := q.submit(t, `name = "long"`+"\n"+
		treeTask("wait", fmt.Sprintf("sleep 60 & echo $! >> %s; echo $$ >> %s; wait", pidFile, pidFile))+
		echoTask("next", "never", "wait"), jobstore.Submission{})
	done := make(chan Summary, 1)
	go func() { done <- q.runUntilIdle(t) }()
	testwait.For(t, "the script to start", func() bool {
		raw, _ := os.ReadFile(pidFile)
		return len(strings.Fields(string(raw))) == 2
	})
	res, err := q.store.Cancel(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Aborting, ",") != "wait" || res.RunnerPid != os.Getpid() {
		t.Errorf("cancel result %+v", res)
	}
	sum := <-done
	if sum.Canceled != 1 {
		t.Errorf("summary %+v", sum)
	}
	j, tasks := q.job(t, id)
	if j.State != jobstore.JobCanceled || tasks["wait"].Status != jobstore.TaskCanceled || tasks["next"].Status != jobstore.TaskCanceled {
		t.Errorf("job %s, wait %s, next %s", j.State, tasks["wait"].Status, tasks["next"].Status)
	}
	raw, _ := os.ReadFile(pidFile)
	for _, f := range strings.Fields(string(raw)) {
		var pid int
		fmt.Sscan(f, &pid)
		testwait.For(t, fmt.Sprintf("pid %d to be gone", pid), func() bool { return !proctest.Alive(pid) })
	}
}

func TestShutdownRequeues(t *testing.T) {
	q := newQueue(t, 1)
	marker := filepath.Join(t.TempDir(), "runs")
	id := q.submit(t, `name = "interrupted"`+"\n"+
		treeTask("slow", fmt.Sprintf("echo run >> %s; sleep 1", marker)), jobstore.Submission{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Summary, 1)
	go func() {
		sum, err := q.runner.Run(ctx, false)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	testwait.For(t, "the task to start", func() bool { _, err := os.Stat(marker); return err == nil })
	cancel()
	if sum := <-done; sum.Interrupted != 1 {
		t.Errorf("summary %+v", sum)
	}
	j, tasks := q.job(t, id)
	if tasks["slow"].Status != jobstore.TaskQueued || len(tasks["slow"].Attempts) != 1 || tasks["slow"].Attempts[0].Status != jobstore.AttemptInterrupted {
		t.Fatalf("after shutdown: %+v", tasks["slow"])
	}
	// Nothing of it runs now: the job waits, and no running time grows.
	if st := j.Status(time.Now()); st != "queued" || tasks["slow"].Started != nil {
		t.Errorf("after shutdown: job %s, task started %v; want queued, not started", st, tasks["slow"].Started)
	}
	q.runUntilIdle(t)
	_, tasks = q.job(t, id)
	if tasks["slow"].Status != jobstore.TaskCompleted || len(tasks["slow"].Attempts) != 2 {
		t.Errorf("after the next run: %+v", tasks["slow"])
	}
}

func TestOneRunnerPerStore(t *testing.T) {
	q := newQueue(t, 1)
	release, err := q.store.LockRunner()
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.runner.Run(context.Background(), true)
	if !errors.Is(err, jobstore.ErrRunnerActive) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second runner: %v", err)
	}
	release()
	if _, err := q.runner.Run(context.Background(), true); err != nil {
		t.Errorf("after release: %v", err)
	}
}

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

func TestProgressOutputsAndPreviews(t *testing.T) {
	q := newQueue(t, 1)
	preview := filepath.Join(t.TempDir(), wire.PreviewFolder, "run-1", "frame-0001.jpg")
	if err := os.MkdirAll(filepath.Dir(preview), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(preview, []byte("jpeg"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := q.submit(t, `name = "steps"`+"\n[[tasks]]\nname = \"s\"\n[[tasks.commands]]\nname = \"test-steps\"\ntotal_step_count = 4\nparameters = { count = 4 }\n", jobstore.Submission{})
	q.runUntilIdle(t)
	_, tasks := q.job(t, id)
	s := tasks["s"]
	if s.StepsDone != 4 || s.StepsTotal != 4 || s.Output != "/tmp/step-4.png" {
		t.Errorf("task %+v", s)
	}

	// A preview reported by a plugin is kept in the state directory.
	rt := &runningTask{claim: jobstore.Claim{TaskID: 7}, previewDir: filepath.Join(q.dir, "previews"), pids: map[int]bool{}}
	rt.Output(preview, "image/jpeg")
	rt.Output("/renders/frame-0001.png", "image/png")
	if rt.preview != filepath.Join(q.dir, "previews", "7.jpg") || rt.output != "/renders/frame-0001.png" {
		t.Errorf("preview %q, output %q", rt.preview, rt.output)
	}
	if _, err := os.Stat(preview); !os.IsNotExist(err) {
		t.Errorf("the plugin's preview file was left: %v", err)
	}
	if raw, _ := os.ReadFile(rt.preview); string(raw) != "jpeg" {
		t.Errorf("kept preview holds %q", raw)
	}
}

// TestRelativePathsFromJobFolder: a job's commands run in its file's folder,
// wherever the runner was started, so relative paths in a job stay beside it.
func TestRelativePathsFromJobFolder(t *testing.T) {
	q := newQueue(t, 1)
	jobDir := t.TempDir()
	id := q.submit(t, `name = "here"`+"\n"+treeTask("t", "pwd > where.txt"), jobstore.Submission{Source: filepath.Join(jobDir, "job.toml")})
	q.runUntilIdle(t)
	_, tasks := q.job(t, id)
	if tasks["t"].Status != jobstore.TaskCompleted {
		t.Fatalf("task %+v", tasks["t"])
	}
	raw, err := os.ReadFile(filepath.Join(jobDir, "where.txt"))
	if err != nil {
		t.Fatalf("the relative path did not land beside the job file: %v", err)
	}
	if got := strings.TrimSpace(string(raw)); got != jobDir {
		t.Errorf("the command ran in %s, want the job file's folder %s", got, jobDir)
	}
	log, err := os.ReadFile(tasks["t"].LogPath)
	if err != nil || !strings.Contains(string(log), "in "+jobDir) {
		t.Errorf("the task log does not say where it ran (%v):\n%s", err, log)
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

// TestJobHash: the hash that finds duplicate recurring jobs (also ones
// stored by an older cajon) is that of the job's JSON, and the JSON itself is
// not kept in the job's row, which every change of its state rewrites.
func TestJobHash(t *testing.T) {
	q := newQueue(t, 1)
	job, err := jobfile.ParseJob(context.Background(), "c.toml", []byte(`name = "c"`+"\n"+echoTask("a", "x <&> y")+echoTask("b", "y", "a")))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Validate(context.Background(), "c.toml", registry(t)); err != nil {
		t.Fatal(err)
	}
	id, err := q.store.Submit(context.Background(), job, jobstore.Submission{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	var content, hash string
	if err := q.db(t).QueryRow(`SELECT content, content_hash FROM jobs WHERE id = ?`, id).Scan(&content, &hash); err != nil {
		t.Fatal(err)
	}
	if hash != hex.EncodeToString(sum[:]) || content != "" {
		t.Errorf("stored hash %s, content %q; want %x and no content", hash, content, sum)
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
