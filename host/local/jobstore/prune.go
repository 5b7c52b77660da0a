package jobstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// This file holds retention: removing finished jobs, with everything kept
// for them, once they are old enough.

// Pruned says what a prune removed.
type Pruned struct {
	// Jobs are the ids of the removed jobs, lowest first.
	Jobs []int64
	// Tasks are the ids of their tasks (a kept preview is named by its task's id).
	Tasks []int64
	// LogFiles and LogBytes count the full task logs removed, Previews the
	// kept preview images; Store.DeleteFinished leaves them 0.
	LogFiles int
	LogBytes int64
	Previews int
}

// DeleteFinished deletes the finished jobs whose last run ended before
// `before`, with their tasks, dependencies and attempts, in one transaction,
// and returns their ids so the caller can remove their files (the
// scheduler's Pruner does).
// Finished means completed, failed or canceled with no task still running: a
// waiting or running job is never deleted, nor a recurring job that is still
// armed (only a canceled one ends). Ids are never given out again.
func (s *Store) DeleteFinished(ctx context.Context, before time.Time) (Pruned, error) {
	var p Pruned
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM jobs j
			WHERE state IN (?, ?, ?) AND finished_at IS NOT NULL AND finished_at < ?
			  AND (every_ns = 0 OR state = ?)
			  AND NOT EXISTS (SELECT 1 FROM tasks WHERE job_id = j.id AND status = ?)
			ORDER BY id`,
			JobCompleted, JobFailed, JobCanceled, before.UnixNano(), JobCanceled, TaskRunning)
		if err != nil {
			return err
		}
		p.Jobs, err = scanIDs(rows)
		if err != nil {
			return err
		}
		// Children first: foreign keys are on.
		deletes := []string{
			`DELETE FROM attempts WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?)`,
			`DELETE FROM task_deps WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?)`,
			`DELETE FROM tasks WHERE job_id = ?`,
			`DELETE FROM jobs WHERE id = ?`,
		}
		stmts := make([]*sql.Stmt, len(deletes))
		for i, q := range deletes {
			if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			defer stmts[i].Close()
		}
		for _, id := range p.Jobs {
			rows, err := tx.QueryContext(ctx, `SELECT id FROM tasks WHERE job_id = ? ORDER BY id`, id)
			if err != nil {
				return err
			}
			tasks, err := scanIDs(rows)
			if err != nil {
				return err
			}
			p.Tasks = append(p.Tasks, tasks...)
			for _, st := range stmts {
				if _, err := st.ExecContext(ctx, id); err != nil {
					return fmt.Errorf("job %d: %w", id, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return Pruned{}, s.wrap(fmt.Sprintf("delete finished jobs that ended before %s", before.Format(time.RFC3339)), err)
	}
	return p, nil
}

func scanIDs(rows *sql.Rows) ([]int64, error) { return scanColumn[int64](rows) }

// scanColumn reads the one column of every row and closes rows.
func scanColumn[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var vals []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, rows.Err()
}
