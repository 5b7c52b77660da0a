package local

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
// crash. Only the Runner that holds the runner lock calls these.

// claim is a task handed to the Runner to run: one attempt.
type claim struct {
	taskID, jobID, attemptID int64
	jobName                  string
	run                      int
	task                     jobfile.Task
	logPath                  string
	started                  time.Time
	// workDir is the job file's folder: relative paths in the job are
	// relative to it, wherever 'cajon local run' was started.
	workDir string
}

// logPathFunc names the log file of a task's run.
type logPathFunc func(jobID int64, task string, run int) (string, error)

// claimTasks marks up to limit ready tasks running and returns them: queued
// tasks of due jobs that are waiting or running, whose dependencies have all
// completed, by job priority (highest first), then job id, then task order.
func (s *Store) claimTasks(ctx context.Context, limit int, now time.Time, logPath logPathFunc) ([]claim, error) {
	var claims []claim
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
			ORDER BY priority DESC, id`, jobWaiting, jobRunning, now.UnixNano())
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
				c := claim{jobID: j.id, jobName: j.name, run: j.run}
				if filepath.IsAbs(j.source) {
					c.workDir = filepath.Dir(j.source)
				}
				var cmds string
				if err := rows.Scan(&c.taskID, &c.task.Name, &c.task.Type, &cmds); err != nil {
					rows.Close()
					return err
				}
				if c.task.Commands, err = decodeCommands(cmds); err != nil {
					rows.Close()
					return fmt.Errorf("task %q of job %d: stored commands: %w", c.task.Name, c.jobID, err)
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
			c.started = now
			if c.logPath, err = logPath(c.jobID, c.task.Name, c.run); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO attempts (task_id, run, status, started_at, pid) VALUES (?, ?, ?, ?, ?)`,
				c.taskID, c.run, attemptRunning, now.UnixNano(), os.Getpid())
			if err != nil {
				return err
			}
			if c.attemptID, err = res.LastInsertId(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, attempt_id = ?, started_at = ?, finished_at = NULL,
				steps_done = 0, activity = '', pids = '', message = '', log_path = ? WHERE id = ?`,
				TaskRunning, c.attemptID, now.UnixNano(), c.logPath, c.taskID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?) WHERE id = ?`,
				jobRunning, now.UnixNano(), c.jobID); err != nil {
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

// progress is what a running task reports, saved a few times a second.
type progress struct {
	taskID, attemptID int64
	stepsDone         int
	activity          string
	pids              []int
	output, preview   string
}

// saveProgress records running tasks' progress. Rows of attempts that are no
// longer current are left alone.
func (s *Store) saveProgress(ctx context.Context, ps []progress) error {
	if len(ps) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, p := range ps {
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET steps_done = ?, activity = ?, pids = ?,
				output_path = CASE WHEN ? = '' THEN output_path ELSE ? END,
				preview_path = CASE WHEN ? = '' THEN preview_path ELSE ? END
				WHERE id = ? AND attempt_id = ? AND status = ?`,
				p.stepsDone, p.activity, formatPids(p.pids), p.output, p.output, p.preview, p.preview,
				p.taskID, p.attemptID, TaskRunning); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("save task progress", err)
}

// ending is how an attempt ended, as the Runner records it.
type ending struct {
	status  string // completed, failed, canceled, or queued (interrupted: runs again)
	message string
	steps   int
	at      time.Time
}

// jobEnd is the end of a job's run, when recording a task ended it.
type jobEnd struct {
	state   string // completed, failed or canceled
	message string
	// rearmed: a recurring job that runs again at next.
	rearmed bool
	next    time.Time
}

// errStale is returned for an attempt that is no longer the task's current
// one: its outcome is not recorded.
var errStale = errors.New("the task is no longer running under this attempt")

// finishTask records how an attempt ended and what follows for its job: a
// failure fails the job and skips its queued tasks; the last task of a run
// ends the run, and a recurring job is re-armed. The attempt must be the
// task's current one and the task running: so no task is recorded completed
// twice (the attempts table enforces it too).
func (s *Store) finishTask(ctx context.Context, c claim, e ending) (*jobEnd, error) {
	var end *jobEnd
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		var attempt sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT status, attempt_id FROM tasks WHERE id = ?`, c.taskID).Scan(&status, &attempt); err != nil {
			return err
		}
		if status != TaskRunning || !attempt.Valid || attempt.Int64 != c.attemptID {
			return errStale
		}
		at := e.at.UnixNano()
		attemptStatus := e.status
		switch e.status {
		case TaskCompleted:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = steps_total, activity = '',
				pids = '', message = '' WHERE id = ?`, TaskCompleted, at, c.taskID); err != nil {
				return err
			}
		case TaskFailed:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = ?, pids = '', message = ?
				WHERE id = ?`, TaskFailed, at, e.steps, e.message, c.taskID); err != nil {
				return err
			}
			why := fmt.Sprintf("task %q failed: %s", c.task.Name, e.message)
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, message = ? WHERE id = ? AND state IN (?, ?)`,
				jobFailed, why, c.jobID, jobWaiting, jobRunning); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, message = ?, finished_at = ? WHERE job_id = ? AND status = ?`,
				TaskSkipped, fmt.Sprintf("not run: task %q failed", c.task.Name), at, c.jobID, TaskQueued); err != nil {
				return err
			}
		case TaskCanceled:
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, finished_at = ?, steps_done = ?, pids = '', message = ?
				WHERE id = ?`, TaskCanceled, at, e.steps, e.message, c.taskID); err != nil {
				return err
			}
		case TaskQueued:
			attemptStatus = attemptInterrupted
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, started_at = NULL, finished_at = NULL, steps_done = 0, pids = '',
				activity = '', message = ?, attempt_id = NULL WHERE id = ?`, TaskQueued, e.message, c.taskID); err != nil {
				return err
			}
			if err := requeueJob(ctx, tx, c.jobID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown task ending %q", e.status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?, finished_at = ?, message = ? WHERE id = ?`,
			attemptStatus, at, e.message, c.attemptID); err != nil {
			return err
		}
		var err error
		end, err = endRun(ctx, tx, c.jobID, e.at)
		return err
	})
	if err != nil {
		if errors.Is(err, errStale) {
			return nil, fmt.Errorf("task %q of job %d: %w", c.task.Name, c.jobID, err)
		}
		return nil, s.wrap(fmt.Sprintf("record the end of task %q of job %d", c.task.Name, c.jobID), err)
	}
	return end, nil
}

// endRun ends a job's run when no task of it is running or can still run:
// all completed, or the job failed or was canceled. A recurring job that
// completed or failed is re-armed: its tasks queued again, due one interval
// after the run's due time (or now, when that has passed).
func endRun(ctx context.Context, tx *sql.Tx, jobID int64, now time.Time) (*jobEnd, error) {
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
	end := &jobEnd{}
	switch state {
	case jobWaiting, jobRunning:
		// Tasks of a job that has not failed nor been canceled are queued,
		// running or completed.
		if queued, err := has(TaskQueued); err != nil || queued {
			return nil, err
		}
		end.state = jobCompleted
	case jobFailed:
		end.state = jobFailed
		end.message = message
	case jobCanceled:
		end.state = jobCanceled
		end.message = message
		return end, nil // already marked ended by Cancel
	default:
		return nil, nil
	}
	if every > 0 {
		next := jobfile.NextDue(time.Unix(0, due), time.Duration(every), now)
		end.rearmed, end.next = true, next
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, run = run + 1, due_at = ?, started_at = NULL, finished_at = NULL,
			message = '', last_state = ?, last_finished = ?, last_message = ? WHERE id = ?`,
			jobWaiting, next.UnixNano(), end.state, now.UnixNano(), end.message, jobID); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, steps_done = 0, activity = '', pids = '', attempt_id = NULL,
			started_at = NULL, finished_at = NULL, message = '' WHERE job_id = ?`, TaskQueued, jobID)
		return end, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, finished_at = ? WHERE id = ?`, end.state, now.UnixNano(), jobID)
	return end, err
}

// requeueJob makes a running job with no running task queued again: its
// interrupted tasks wait for the next runner, and nothing of it runs now.
func requeueJob(ctx context.Context, tx querier, jobID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ? WHERE id = ? AND state = ?
		AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = ? AND status = ?)`, jobWaiting, jobID, jobRunning, jobID, TaskRunning)
	return err
}

// requeueIdleJobs queues again every running job with no running task, as a
// runner leaves the queue: between two tasks a job is running, but without
// a runner it only waits.
func (s *Store) requeueIdleJobs(ctx context.Context) error {
	_, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE jobs SET state = ? WHERE state = ?
		AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = jobs.id AND status = ?)`, jobWaiting, jobRunning, TaskRunning)
	return s.wrap("queue the jobs of a stopping runner again", err)
}

// recovered is a task that was running when the previous runner stopped
// without recording its end (a crash, SIGKILL, power cut).
type recovered struct {
	jobID   int64
	jobName string
	task    string
	status  string // queued again, or canceled when its job was canceled or failed
}

// recoverInterrupted puts the tasks that a crashed runner left running back
// in the queue (or cancels them, when their job was canceled or has failed
// meanwhile), so they run again. It must run before the first claim, under
// the runner lock.
func (s *Store) recoverInterrupted(ctx context.Context) ([]recovered, error) {
	var out []recovered
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT t.id, t.job_id, j.name, t.name, j.state FROM tasks t JOIN jobs j ON j.id = t.job_id
			WHERE t.status = ? ORDER BY t.job_id, t.idx`, TaskRunning)
		if err != nil {
			return err
		}
		type row struct {
			taskID int64
			rec    recovered
			state  string
		}
		var found []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.taskID, &r.rec.jobID, &r.rec.jobName, &r.rec.task, &r.state); err != nil {
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
			r.rec.status = TaskQueued
			if r.state != jobWaiting && r.state != jobRunning {
				r.rec.status = TaskCanceled
				msg = "interrupted: the cajon that ran it stopped without recording its end, and the job has " + r.state
			}
			if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?, finished_at = ?, message = ?
				WHERE task_id = ? AND status = ?`, attemptInterrupted, now.UnixNano(), msg, r.taskID, attemptRunning); err != nil {
				return err
			}
			if r.rec.status == TaskQueued {
				_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = ?, attempt_id = NULL, started_at = NULL, steps_done = 0, pids = '',
					activity = '', message = ? WHERE id = ?`, TaskQueued, msg, r.taskID)
				if err == nil {
					err = requeueJob(ctx, tx, r.rec.jobID)
				}
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE tasks SET status = ?, pids = '', finished_at = ?, message = ? WHERE id = ?`,
					TaskCanceled, now.UnixNano(), msg, r.taskID)
			}
			if err != nil {
				return err
			}
			jobs[r.rec.jobID] = true
			out = append(out, r.rec)
		}
		for id := range jobs {
			if _, err := endRun(ctx, tx, id, now); err != nil {
				return err
			}
		}
		// A crash between two tasks leaves a running job with none running.
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ? WHERE state = ?
			AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = jobs.id AND status = ?)`, jobWaiting, jobRunning, TaskRunning)
		return err
	})
	if err != nil {
		return nil, s.wrap("recover tasks interrupted by a crash", err)
	}
	return out, nil
}

// jobStates returns the state of each of the given jobs.
func (s *Store) jobStates(ctx context.Context, ids []int64) (map[int64]string, error) {
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
