package jobstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// This file holds canceling a job, and waiting for the runner to abort its
// running tasks.

// CancelResult says what Cancel did.
type CancelResult struct {
	// Aborting lists the tasks that were running: the `cajon local run` that
	// runs them (RunnerPid) aborts them, with their whole process tree,
	// within a moment.
	Aborting  []string
	RunnerPid int
}

// stateError is a request that the job's state does not allow.
type stateError struct{ msg string }

func (e *stateError) Error() string { return e.msg }

// Cancel cancels a job: its queued tasks will not run, its running tasks are
// aborted by the `cajon local run` that runs them, and a recurring job does
// not run again. Canceling a job that has ended is an error. When no runner
// is active, tasks left running by a crashed one are marked canceled at once.
func (s *Store) Cancel(ctx context.Context, id int64) (CancelResult, error) {
	var res CancelResult
	active, pid := s.runnerActive()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state, name string
		var every int64
		err := tx.QueryRowContext(ctx, `SELECT state, name, every_ns FROM jobs WHERE id = ?`, id).Scan(&state, &name, &every)
		if errors.Is(err, sql.ErrNoRows) {
			return s.notFound(id)
		}
		if err != nil {
			return err
		}
		running, err := tasksWithStatus(ctx, tx, id, TaskRunning)
		if err != nil {
			return err
		}
		switch {
		case state == JobCanceled:
			return &stateError{fmt.Sprintf("job %d (%q) is already canceled", id, name)}
		case state == JobCompleted:
			return &stateError{fmt.Sprintf("job %d (%q) has already completed", id, name)}
		case state == JobFailed && every == 0 && len(running) == 0:
			return &stateError{fmt.Sprintf("job %d (%q) has already failed", id, name)}
		}
		now := time.Now().UnixNano()
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, message = 'the job was canceled', finished_at = ?
			WHERE job_id = ? AND status = ?`, TaskCanceled, now, id, TaskQueued); err != nil {
			return err
		}
		if !active && len(running) > 0 {
			msg := "the job was canceled while no cajon was running it (the one that started it had stopped)"
			if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = ?, finished_at = ?, message = ?
				WHERE status = ? AND task_id IN (SELECT id FROM tasks WHERE job_id = ? AND status = ?)`,
				AttemptCanceled, now, msg, AttemptRunning, id, TaskRunning); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tasks SET status = ?, message = ?, finished_at = ?, pids = ''
				WHERE job_id = ? AND status = ?`, TaskCanceled, msg, now, id, TaskRunning); err != nil {
				return err
			}
			running = nil
		}
		res.Aborting, res.RunnerPid = running, pid
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ?, message = CASE WHEN message = '' THEN 'canceled' ELSE message END,
			finished_at = ? WHERE id = ?`, JobCanceled, now, id)
		return err
	})
	var se *stateError
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.As(err, &se) {
		err = s.wrap(fmt.Sprintf("cancel job %d", id), err)
	}
	return res, err
}

// AbortSlack is how long, beyond the kill grace, WaitAborted waits for the
// running tasks of a canceled job: the runner notices the cancel within its
// poll, then the plugin ends each task's process tree (SIGTERM, kill grace,
// SIGKILL) and the runner records the end.
const AbortSlack = 30 * time.Second

// abortPoll is how often WaitAborted looks at the job's tasks.
const abortPoll = 100 * time.Millisecond

// ErrStillAborting is WaitAborted's error when its ctx ends first.
var ErrStillAborting = errors.New("stopped waiting; the tasks are still being aborted")

// WaitAborted waits until the running tasks of job id, canceled by Cancel
// (which returned res), have ended. It gives up after grace + AbortSlack,
// with an error that names the runner, and returns ErrStillAborting when ctx
// ends first. When the runner stops before it has aborted the tasks, it says
// so: the next runner marks them canceled.
func (s *Store) WaitAborted(ctx context.Context, id int64, res CancelResult, grace time.Duration) error {
	limit := grace + AbortSlack
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(abortPoll)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		_, tasks, err := s.Job(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return ErrStillAborting // the read failed for it
			}
			return err
		}
		running, gone := 0, 0
		for _, t := range tasks {
			switch t.Status {
			case TaskRunning:
				running++
			case TaskInterrupted:
				gone = t.RunnerGone
			}
		}
		if gone != 0 {
			return fmt.Errorf("job %d is canceled, but cajon local run (pid %d) stopped before it had aborted its tasks: the next 'cajon local run' marks them canceled", id, gone)
		}
		if running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ErrStillAborting
		case <-tick.C:
		}
	}
	return fmt.Errorf("job %d: its running tasks were not aborted within %s; is cajon local run (pid %d) stuck?", id, limit, res.RunnerPid)
}

// tasksWithStatus names a job's tasks in a status.
func tasksWithStatus(ctx context.Context, q querier, jobID int64, status string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM tasks WHERE job_id = ? AND status = ? ORDER BY idx`, jobID, status)
	if err != nil {
		return nil, err
	}
	return scanColumn[string](rows)
}
