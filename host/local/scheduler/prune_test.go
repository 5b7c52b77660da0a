//go:build unix

package scheduler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobstore"
)

// age moves a job's end (and a recurring job's last end) back to ago before now.
func (q *queue) age(t testing.TB, id int64, ago time.Duration) {
	t.Helper()
	at := time.Now().Add(-ago).UnixNano()
	if _, err := q.db(t).Exec(`UPDATE jobs SET
		finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END,
		last_finished = CASE WHEN last_finished IS NULL THEN NULL ELSE ? END WHERE id = ?`, at, at, id); err != nil {
		t.Fatal(err)
	}
}

// keepPreviews gives every task of a job a kept preview, as a render plugin's
// preview output does.
func (q *queue) keepPreviews(t testing.TB, id int64) []string {
	t.Helper()
	_, tasks := q.job(t, id)
	var kept []string
	for _, tk := range tasks {
		src := filepath.Join(t.TempDir(), "cajon-preview", "run", "frame.jpg")
		if err := os.MkdirAll(filepath.Dir(src), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(src, []byte("jpeg"), 0o600); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, keepPreview(q.runner.PreviewDir, tk.ID, src))
	}
	return kept
}

// maxIDs is the highest job and task id in the store.
func (q *queue) maxIDs(t testing.TB) (job, task int64) {
	t.Helper()
	if err := q.db(t).QueryRow(`SELECT (SELECT max(id) FROM jobs), (SELECT max(id) FROM tasks)`).Scan(&job, &task); err != nil {
		t.Fatal(err)
	}
	return job, task
}

func TestPruneFinishedJobs(t *testing.T) {
	ctx := context.Background()
	q := newQueue(t, 2)
	const old, recent = 40 * 24 * time.Hour, time.Hour
	later := jobstore.Submission{At: time.Now().Add(time.Hour)}
	failing := "[[tasks]]\nname = \"broken\"\n[[tasks.commands]]\nname = \"test-fail\"\nparameters = { message = \"no\" }\n"

	// Each case is a job in one store; they are made in this order, so the
	// last one has the highest id (and task ids) and is pruned.
	type job struct {
		name string
		// make submits the job and brings it to its state; runs the queue
		// when the job needs a real run first.
		make   func(t *testing.T) int64
		ended  time.Duration // how long ago its (last) run ended; 0: leave it
		pruned bool
	}
	ran := map[string]bool{} // jobs that need the runner, submitted before it runs
	cases := []job{
		{"completed long ago, with dependencies", func(t *testing.T) int64 {
			return q.submit(t, `name = "done-old"`+"\n"+echoTask("a", "x")+echoTask("b", "y", "a"), jobstore.Submission{})
		}, old, true},
		{"completed recently", func(t *testing.T) int64 {
			return q.submit(t, `name = "done-new"`+"\n"+echoTask("a", "x"), jobstore.Submission{})
		}, recent, false},
		{"failed long ago", func(t *testing.T) int64 {
			return q.submit(t, `name = "failed-old"`+"\n"+echoTask("a", "x")+failing, jobstore.Submission{})
		}, old, true},
		{"recurring, armed, last run long ago", func(t *testing.T) int64 {
			return q.submit(t, `name = "every-armed"`+"\n"+echoTask("a", "x"), jobstore.Submission{Every: time.Hour})
		}, old, false},
		{"recurring, canceled long ago", func(t *testing.T) int64 {
			return q.submit(t, `name = "every-canceled"`+"\n"+echoTask("a", "x"), jobstore.Submission{Every: time.Hour})
		}, old, true},
	}
	for _, c := range cases {
		ran[c.name] = true
	}
	cases = append(cases,
		job{"scheduled", func(t *testing.T) int64 {
			return q.submit(t, `name = "scheduled"`+"\n"+echoTask("a", "x"), later)
		}, 0, false},
		job{"running", func(t *testing.T) int64 {
			id := q.submit(t, `name = "running"`+"\n"+echoTask("a", "x"), jobstore.Submission{})
			if _, err := q.store.ClaimTasks(ctx, 10, time.Now(), q.runner.logPath); err != nil {
				t.Fatal(err)
			}
			return id
		}, 0, false},
		job{"canceled long ago, task still being aborted", func(t *testing.T) int64 {
			id := q.submit(t, `name = "aborting"`+"\n"+echoTask("a", "x"), jobstore.Submission{})
			if _, err := q.store.ClaimTasks(ctx, 10, time.Now(), q.runner.logPath); err != nil {
				t.Fatal(err)
			}
			release, err := q.store.LockRunner() // a runner is at work: it will abort the task
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if res, err := q.store.Cancel(ctx, id); err != nil || len(res.Aborting) != 1 {
				t.Fatalf("cancel: %+v, %v", res, err)
			}
			return id
		}, old, false},
		job{"canceled long ago, never ran", func(t *testing.T) int64 {
			id := q.submit(t, `name = "canceled-old"`+"\n"+echoTask("a", "x"), later)
			if _, err := q.store.Cancel(ctx, id); err != nil {
				t.Fatal(err)
			}
			return id
		}, old, true},
	)

	ids := map[string]int64{}
	for _, c := range cases {
		if ran[c.name] {
			ids[c.name] = c.make(t)
		}
	}
	if sum := q.runUntilIdle(t); sum.Completed != 6 || sum.Failed != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	if _, err := q.store.Cancel(ctx, ids["recurring, canceled long ago"]); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !ran[c.name] {
			ids[c.name] = c.make(t)
		}
	}
	previews := map[string][]string{}
	logDirs := map[string]string{}
	var wantPruned []int64
	for _, c := range cases {
		id := ids[c.name]
		if c.ended > 0 {
			q.age(t, id, c.ended)
		}
		previews[c.name] = q.keepPreviews(t, id)
		logDirs[c.name] = filepath.Join(q.logs.Dir(), logJobKey(id))
		if ran[c.name] {
			if _, err := os.Stat(logDirs[c.name]); err != nil {
				t.Fatalf("%s: no logs before the prune: %v", c.name, err)
			}
		}
		if c.pruned {
			wantPruned = append(wantPruned, id)
		}
	}
	maxJob, maxTask := q.maxIDs(t)

	res, err := Pruner{Store: q.store, Logs: q.logs, PreviewDir: q.runner.PreviewDir}.Prune(ctx, time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Jobs, wantPruned) {
		t.Errorf("pruned jobs %v, want %v", res.Jobs, wantPruned)
	}
	// Tasks: done-old 2, failed-old 2, every-canceled 1, canceled-old 1; all
	// but canceled-old's ran and have a log.
	if len(res.Tasks) != 6 || res.Previews != 6 || res.LogFiles != 5 || res.LogBytes == 0 {
		t.Errorf("prune removed %d tasks, %d previews, %d log files (%d bytes); want 6, 6, 5", len(res.Tasks), res.Previews, res.LogFiles, res.LogBytes)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := ids[c.name]
			_, _, err := q.store.Job(ctx, id)
			if gone := errors.Is(err, jobstore.ErrNotFound); gone != c.pruned {
				t.Errorf("job %d: removed = %v (%v), want %v", id, gone, err, c.pruned)
			}
			for _, p := range previews[c.name] {
				if _, err := os.Stat(p); os.IsNotExist(err) != c.pruned {
					t.Errorf("preview %s: removed = %v, want %v", p, os.IsNotExist(err), c.pruned)
				}
			}
			if ran[c.name] {
				if _, err := os.Stat(logDirs[c.name]); os.IsNotExist(err) != c.pruned {
					t.Errorf("logs %s: removed = %v, want %v", logDirs[c.name], os.IsNotExist(err), c.pruned)
				}
			}
		})
	}
	db := q.db(t)
	for _, q2 := range []string{
		`SELECT count(*) FROM tasks WHERE job_id NOT IN (SELECT id FROM jobs)`,
		`SELECT count(*) FROM attempts WHERE task_id NOT IN (SELECT id FROM tasks)`,
		`SELECT count(*) FROM task_deps WHERE task_id NOT IN (SELECT id FROM tasks) OR dep_id NOT IN (SELECT id FROM tasks)`,
	} {
		var n int
		if err := db.QueryRow(q2).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows left (%v)", q2, n, err)
		}
	}

	// Nothing more is old enough; the ids of the removed jobs stay unused.
	if again, err := q.store.DeleteFinished(ctx, time.Now().Add(-30*24*time.Hour)); err != nil || len(again.Jobs) != 0 {
		t.Errorf("second prune: %+v, %v", again, err)
	}
	id := q.submit(t, `name = "after-prune"`+"\n"+echoTask("t", "hi"), jobstore.Submission{At: time.Now().Add(time.Hour)})
	if _, tasks := q.job(t, id); id <= maxJob || tasks["t"].ID <= maxTask {
		t.Errorf("job submitted after the prune: id %d, task id %d; the highest before were %d and %d", id, tasks["t"].ID, maxJob, maxTask)
	}
}

func TestRunnerPrunesAtStart(t *testing.T) {
	tests := []struct {
		name   string
		keep   time.Duration
		ended  time.Duration
		pruned bool
	}{
		{"older than keep_finished", 24 * time.Hour, 48 * time.Hour, true},
		{"younger than keep_finished", 24 * time.Hour, time.Hour, false},
		{"keep forever", 0, 1000 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t, 1)
			id := q.submit(t, `name = "j"`+"\n"+echoTask("a", "x"), jobstore.Submission{})
			q.runUntilIdle(t)
			q.age(t, id, tt.ended)
			q.runner.KeepFinished = tt.keep
			q.runUntilIdle(t)
			_, _, err := q.store.Job(context.Background(), id)
			if gone := errors.Is(err, jobstore.ErrNotFound); gone != tt.pruned {
				t.Errorf("job removed = %v (%v), want %v", gone, err, tt.pruned)
			}
			if _, err := os.Stat(filepath.Join(q.logs.Dir(), logJobKey(id))); os.IsNotExist(err) != tt.pruned {
				t.Errorf("logs removed = %v, want %v", os.IsNotExist(err), tt.pruned)
			}
		})
	}
}
