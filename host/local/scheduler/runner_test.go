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
