package jobstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
)

// This file holds the store's side of running jobs: claiming ready tasks,
// recording how they ended, re-arming recurring jobs and recovering from a
// crash. Only the runner that holds the runner lock (see LockRunner) calls
// these.

// Claim is a task handed to the runner to run: one attempt.
type Claim struct {
	TaskID, JobID, AttemptID int64
	JobName                  string
	// Run is the job's run the attempt belongs to (a recurring job has many).
	Run     int
	Task    jobfile.Task
	LogPath string
	Started time.Time
	// WorkDir is the job file's folder: relative paths in the job are
	// relative to it, wherever 'cajon local run' was started.
	WorkDir string
}

// LogPathFunc names the log file of a task's run.
type LogPathFunc func(jobID int64, task string, run int) (string, error)

// ClaimTasks marks up to limit ready tasks running and returns them: queued
// tasks of due jobs that are waiting or running, whose dependencies have all
// completed, by job priority (highest first), then job id, then task order.
func (s *Store) ClaimTasks(ctx context.Context, limit int, now time.Time, logPath LogPathFunc) ([]Claim, error) {
	var claims []Claim
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Jobs first, then each job's tasks in order: both queries walk an
		// index and stop at the limit, where one joined query would sort
		// every ready task of every job for each claim.
		type dueJob struct {
			id           int64
			name, source string
			run          int
		}
		var jobs []dueJob
		rows, err := tx.QueryContext(ctx, `SELECT id, name, run, source FROM jobs WHERE state IN (?, ?) AND due_at <= ?
			ORDER BY priority DESC, id`, JobWaiting, JobRunning, now.UnixNano())
		if err != nil {
			return err
		}
		for rows.Next() {
			var j dueJob
			if err := rows.Scan(&j.id, &j.name, &j.run, &j.source); err != nil {
				rows.Close()
				return err
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, j := range jobs {
			if len(claims) >= limit {
				break
			}
			rows, err := tx.QueryContext(ctx, `SELECT t.id, t.name, t.type, t.commands FROM tasks t
				WHERE t.job_id = ? AND t.status = ?
				  AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks dt ON dt.id = d.dep_id
				                  WHERE d.task_id = t.id AND dt.status != ?)
				ORDER BY t.idx LIMIT ?`, j.id, TaskQueued, TaskCompleted, limit-len(claims))
			if err != nil {
				return err
			}
			for rows.Next() {
				c := Claim{JobID: j.id, JobName: j.name, Run: j.run}
				if filepath.IsAbs(j.source) {
					c.WorkDir = filepath.Dir(j.source)
				}
				var cmds string
				if err := rows.Scan(&c.TaskID, &c.Task.Name, &c.Task.Type, &cmds); err != nil {
					rows.Close()
					return err
				}
				if c.Task.Commands, err = decodeCommands(cmds); err != nil {
					rows.Close()
					return fmt.Errorf("task %q of job %d: stored commands: %w", c.Task.Name, c.JobID, err)
				}
				claims = append(claims, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for i := range claims {
			c := &claims[i]
			c.Started = now
			if c.LogPath, err = logPath(c.JobID, c.Task.Name, c.Run); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO attempts (task_id, run, status, started_at, pid) VALUES (?, ?, ?, ?, ?)`,
				c.TaskID, c.Run, AttemptRunning, now.UnixNano(), os.Getpid())
			if err != nil {
				return err
			}
			if c.AttemptID, err = res.LastInsertId(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, attempt_id = ?, started_at = ?, finished_at = NULL,
				steps_done = 0, activity = '', pids = '', message = '', log_path = ? WHERE id = ?`,
				TaskRunning, c.AttemptID, now.UnixNano(), c.LogPath, c.TaskID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?) WHERE id = ?`,
				JobRunning, now.UnixNano(), c.JobID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("claim ready tasks", err)
	}
	return claims, nil
}

// TaskProgress is what a running task reports, saved a few times a second.
// Output and Preview, when "", keep the task's latest ones.
type TaskProgress struct {
	TaskID, AttemptID int64
	StepsDone         int
	Activity          string
	Pids              []int
	Output, Preview   string
}

// SaveProgress records running tasks' progress. Rows of attempts that are no
// longer current are left alone.
func (s *Store) SaveProgress(ctx context.Context, ps []TaskProgress) error {
	if len(ps) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, p := range ps {
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET steps_done = ?, activity = ?, pids = ?,
				output_path = CASE WHEN ? = '' THEN output_path ELSE ? END,
				preview_path = CASE WHEN ? = '' THEN preview_path ELSE ? END
				WHERE id = ? AND attempt_id = ? AND status = ?`,
				p.StepsDone, p.Activity, formatPids(p.Pids), p.Output, p.Output, p.Preview, p.Preview,
				p.TaskID, p.AttemptID, TaskRunning); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("save task progress", err)
}

// Ending is how an attempt ended, as the runner records it.
type Ending struct {
	Status  string // completed, failed, canceled, or queued (interrupted: runs again)
	Message string
	Steps   int
	At      time.Time
}

// JobEnd is the end of a job's run, when recording a task ended it.
type JobEnd struct {
	State   string // completed, failed or canceled
	Message string
	// Rearmed: a recurring job that runs again at Next.
	Rearmed bool
	Next    time.Time
}

// ErrStale is returned for an attempt that is no longer the task's current
// one: its outcome is not recorded.
var ErrStale = errors.New("the task is no longer running under this attempt")

// FinishTask records how an attempt ended and what follows for its job: a
// failure fails the job and skips its queued tasks; the last task of a run
// ends the run, and a recurring job is re-armed. The attempt must be the
// task's current one and the task running: so no task is recorded completed
// twice (the attempts table enforces it too).
func (s *Store) FinishTask(ctx context.Context, c Claim, e Ending) (*JobEnd, error) {
	var end *JobEnd
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		var attempt sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT status, attempt_id FROM tasks WHERE id = ?`, c.TaskID).Scan(&status, &attempt); err != nil {
			return err
		}
		if status != TaskRunning || !attempt.Valid || attempt.Int64 != c.AttemptID {
			return ErrStale
		}
		at := e.At.UnixNano()
		attemptStatus := e.Status
		switch e.Status {
		case TaskCompleted:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = steps_total, activity = '',
				pids = '', message = '' WHERE id = ?`, TaskCompleted, at, c.TaskID); err != nil {
				return err
			}
		case TaskFailed:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = ?, pids = '', message = ?
				WHERE id = ?`, TaskFailed, at, e.Steps, e.Message, c.TaskID); err != nil {
				return err
			}
			why := fmt.Sprintf("task %q failed: %s", c.Task.Name, e.Message)
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, message = ? WHERE id = ? AND state IN (?, ?)`,
				JobFailed, why, c.JobID, JobWaiting, JobRunning); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, message = ?, finished_at = ? WHERE job_id = ? AND status = ?`,
				TaskSkipped, fmt.Sprintf("not run: task %q failed", c.Task.Name), at, c.JobID, TaskQueued); err != nil {
				return err
			}
		case TaskCanceled:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = ?, pids = '', message = ?
				WHERE id = ?`, TaskCanceled, at, e.Steps, e.Message, c.TaskID); err != nil {
				return err
			}
		case TaskQueued:
			attemptStatus = AttemptInterrupted
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, started_at = NULL, finished_at = NULL, steps_done = 0, pids = '',
				activity = '', message = ?, attempt_id = NULL WHERE id = ?`, TaskQueued, e.Message, c.TaskID); err != nil {
				return err
			}
			if err := requeueJob(ctx, tx, c.JobID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown task ending %q", e.Status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?, finished_at = ?, message = ? WHERE id = ?`,
			attemptStatus, at, e.Message, c.AttemptID); err != nil {
			return err
		}
		var err error
		end, err = endRun(ctx, tx, c.JobID, e.At)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrStale) {
			return nil, fmt.Errorf("task %q of job %d: %w", c.Task.Name, c.JobID, err)
		}
		return nil, s.wrap(fmt.Sprintf("record the end of task %q of job %d", c.Task.Name, c.JobID), err)
	}
	return end, nil
}

// endRun ends a job's run when no task of it is running or can still run:
// all completed, or the job failed or was canceled. A recurring job that
// completed or failed is re-armed: its tasks queued again, due one interval
// after the run's due time (or now, when that has passed).
func endRun(ctx context.Context, tx *sql.Tx, jobID int64, now time.Time) (*JobEnd, error) {
	var state, message string
	var every, due int64
	if err := tx.QueryRowContext(ctx, `SELECT state, every_ns, due_at, message FROM jobs WHERE id = ?`, jobID).
		Scan(&state, &every, &due, &message); err != nil {
		return nil, err
	}
	// Index lookups, not counts: this runs after every task of a job that
	// may have thousands.
	has := func(status string) (bool, error) {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM tasks WHERE job_id = ? AND status = ? LIMIT 1)`,
			jobID, status).Scan(&n)
		return n > 0, err
	}
	if running, err := has(TaskRunning); err != nil || running {
		return nil, err
	}
	end := &JobEnd{}
	switch state {
	case JobWaiting, JobRunning:
		// Tasks of a job that has not failed nor been canceled are queued,
		// running or completed.
		if queued, err := has(TaskQueued); err != nil || queued {
			return nil, err
		}
		end.State = JobCompleted
	case JobFailed:
		end.State = JobFailed
		end.Message = message
	case JobCanceled:
		end.State = JobCanceled
		end.Message = message
		return end, nil // already marked ended by Cancel
	default:
		return nil, nil
	}
	if every > 0 {
		next := jobfile.NextDue(time.Unix(0, due), time.Duration(every), now)
		end.Rearmed, end.Next = true, next
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, run = run + 1, due_at = ?, started_at = NULL, finished_at = NULL,
			message = '', last_state = ?, last_finished = ?, last_message = ? WHERE id = ?`,
			JobWaiting, next.UnixNano(), end.State, now.UnixNano(), end.Message, jobID); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, steps_done = 0, activity = '', pids = '', attempt_id = NULL,
			started_at = NULL, finished_at = NULL, message = '' WHERE job_id = ?`, TaskQueued, jobID)
		return end, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, finished_at = ? WHERE id = ?`, end.State, now.UnixNano(), jobID)
	return end, err
}

// requeueJob makes a running job with no running task queued again: its
// interrupted tasks wait for the next runner, and nothing of it runs now.
func requeueJob(ctx context.Context, tx querier, jobID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ? WHERE id = ? AND state = ?
		AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = ? AND status = ?)`, JobWaiting, jobID, JobRunning, jobID, TaskRunning)
	return err
}

// RequeueIdleJobs queues again every running job with no running task, as a
// runner leaves the queue: between two tasks a job is running, but without
// a runner it only waits.
func (s *Store) RequeueIdleJobs(ctx context.Context) error {
	_, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE jobs SET state = ? WHERE state = ?
		AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = jobs.id AND status = ?)`, JobWaiting, JobRunning, TaskRunning)
	return s.wrap("queue the jobs of a stopping runner again", err)
}

// Recovered is a task that was running when the previous runner stopped
// without recording its end (a crash, SIGKILL, power cut).
type Recovered struct {
	JobID   int64
	JobName string
	Task    string
	Status  string // queued again, or canceled when its job was canceled or failed
}

// RecoverInterrupted puts the tasks that a crashed runner left running back
// in the queue (or cancels them, when their job was canceled or has failed
// meanwhile), so they run again. It must run before the first claim, under
// the runner lock.
func (s *Store) RecoverInterrupted(ctx context.Context) ([]Recovered, error) {
	var out []Recovered
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT t.id, t.job_id, j.name, t.name, j.state FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.status = ? ORDER BY t.job_id, t.idx`, TaskRunning)
		if err != nil {
			return err
		}
		type row struct {
			taskID int64
			rec    Recovered
			state  string
		}
		var found []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.taskID, &r.rec.JobID, &r.rec.JobName, &r.rec.Task, &r.state); err != nil {
				rows.Close()
				return err
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := time.Now()
		jobs := map[int64]bool{}
		for _, r := range found {
			msg := "interrupted: the cajon that ran it stopped without recording its end (crash?); it runs again"
			r.rec.Status = TaskQueued
			if r.state != JobWaiting && r.state != JobRunning {
				r.rec.Status = TaskCanceled
				msg = "interrupted: the cajon that ran it stopped without recording its end, and the job has " + r.state
			}
			if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?, finished_at = ?, message = ?
				WHERE task_id = ? AND status = ?`, AttemptInterrupted, now.UnixNano(), msg, r.taskID, AttemptRunning); err != nil {
				return err
			}
			if r.rec.Status == TaskQueued {
				_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = ?, attempt_id = NULL, started_at = NULL, steps_done = 0, pids = '',
					activity = '', message = ? WHERE id = ?`, TaskQueued, msg, r.taskID)
				if err == nil {
					err = requeueJob(ctx, tx, r.rec.JobID)
				}
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = ?, pids = '', finished_at = ?, message = ? WHERE id = ?`,
					TaskCanceled, now.UnixNano(), msg, r.taskID)
			}
			if err != nil {
				return err
			}
			jobs[r.rec.JobID] = true
			out = append(out, r.rec)
		}
		for id := range jobs {
			if _, err := endRun(ctx, tx, id, now); err != nil {
				return err
			}
		}
		// A crash between two tasks leaves a running job with none running.
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ? WHERE state = ?
			AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = jobs.id AND status = ?)`, JobWaiting, JobRunning, TaskRunning)
		return err
	})
	if err != nil {
		return nil, s.wrap("recover tasks interrupted by a crash", err)
	}
	return out, nil
}

// JobStates returns the state of each of the given jobs.
func (s *Store) JobStates(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		marks[i] = "?"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, state FROM jobs WHERE id IN (`+strings.Join(marks, ",")+`)`, args...)
	if err != nil {
		return nil, s.wrap("read job states", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, s.wrap("read job states", err)
		}
		out[id] = state
	}
	return out, s.wrap("read job states", rows.Err())
}
