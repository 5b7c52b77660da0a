package jobstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
)

// This file holds submitting a job: its tasks and dependencies in one
// transaction, and the check for a duplicate recurring job.

// Submission says when a job runs.
type Submission struct {
	// Source is the job file's path, shown by list and show.
	Source string
	// At is when the job may start; zero means now.
	At time.Time
	// Every, when > 0, makes the job recurring: after each run it runs again
	// Every after its previous due time (never earlier, never piling up).
	Every time.Duration
}

// DuplicateError is returned by Submit for a recurring job that is already in
// the store: same name, same content, same interval, not canceled.
type DuplicateError struct {
	ID    int64
	Name  string
	Every time.Duration
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("recurring job %q (every %s) is already in the queue as job %d, with the same content; cancel it first with 'cajon local cancel %d' to replace it",
		e.Name, jobfile.FormatDuration(e.Every), e.ID, e.ID)
}

// Submit stores a validated job and returns its id.
func (s *Store) Submit(ctx context.Context, job *jobfile.Job, sub Submission) (int64, error) {
	// Each task's commands are encoded once, for its row and for the hash
	// of the job's JSON (the same bytes as encoding the whole job at once).
	// The JSON itself is not stored: it is all in the tasks, and a job row
	// of megabytes would be rewritten by every update of its state.
	commands := make([]json.RawMessage, len(job.Tasks))
	stored := storedJob{Name: job.Name, Priority: job.Priority, Tasks: make([]storedTask, len(job.Tasks))}
	for i, t := range job.Tasks {
		raw, err := json.Marshal(t.Commands)
		if err != nil {
			return 0, fmt.Errorf("local job store: encode task %q of job %q: %w", t.Name, job.Name, err)
		}
		commands[i] = raw
		stored.Tasks[i] = storedTask{Name: t.Name, Type: t.Type, DependsOn: t.DependsOn, Commands: raw}
	}
	content, err := json.Marshal(stored)
	if err != nil {
		return 0, fmt.Errorf("local job store: encode job %q: %w", job.Name, err)
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	now := time.Now()
	due := sub.At
	if due.IsZero() {
		due = now
	}
	var id int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if sub.Every > 0 {
			var dup int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM jobs WHERE every_ns = ? AND content_hash = ? AND name = ?
				AND state != ? AND every_ns > 0 ORDER BY id LIMIT 1`,
				int64(sub.Every), hash, job.Name, JobCanceled).Scan(&dup)
			if err == nil {
				return &DuplicateError{ID: dup, Name: job.Name, Every: sub.Every}
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, priority, source, content, content_hash, state, every_ns, due_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			job.Name, job.Priority, sub.Source, "", hash, JobWaiting, int64(sub.Every), due.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		// Many rows per statement: a job may have 100,000 tasks.
		err = insertRows(ctx, tx, `INSERT INTO tasks (job_id, idx, name, type, commands, status, steps_total) VALUES `, 7, len(job.Tasks),
			func(i int, row []any) ([]any, error) {
				t := &job.Tasks[i]
				return append(row, id, i, t.Name, t.Type, string(commands[i]), TaskQueued, t.StepsTotal()), nil
			})
		if err != nil {
			return err
		}
		taskIDs := make(map[string]int64, len(job.Tasks))
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM tasks WHERE job_id = ?`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var tid int64
			var name string
			if err := rows.Scan(&tid, &name); err != nil {
				rows.Close()
				return err
			}
			taskIDs[name] = tid
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		type dep struct{ task, dep int64 }
		var deps []dep
		for _, t := range job.Tasks {
			for _, d := range t.DependsOn {
				deps = append(deps, dep{taskIDs[t.Name], taskIDs[d]})
			}
		}
		return insertRows(ctx, tx, `INSERT INTO task_deps (task_id, dep_id) VALUES `, 2, len(deps),
			func(i int, row []any) ([]any, error) { return append(row, deps[i].task, deps[i].dep), nil })
	})
	if err != nil {
		var dup *DuplicateError
		if errors.As(err, &dup) {
			return 0, err
		}
		return 0, fmt.Errorf("local job store %s: submit job %q: %w", s.path, job.Name, err)
	}
	return id, nil
}

// storedJob is Job as its hash is taken: its JSON, with the commands encoded
// beforehand.
type storedJob struct {
	Name     string       `json:"name"`
	Priority int          `json:"priority"`
	Tasks    []storedTask `json:"tasks"`
}

type storedTask struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	DependsOn []string        `json:"depends_on,omitempty"`
	Commands  json.RawMessage `json:"commands"`
}

// insertBatch is how many rows one INSERT of insertRows writes: far fewer
// statements for a big job, and far below SQLite's limit on variables.
const insertBatch = 256

// insertRows runs head ("INSERT INTO t (a, b) VALUES ") for n rows of width
// values each, insertBatch rows per statement; row appends the values of
// row i to its argument.
func insertRows(ctx context.Context, tx *sql.Tx, head string, width, n int, row func(i int, args []any) ([]any, error)) error {
	one := "(" + strings.Repeat("?, ", width-1) + "?)"
	var full *sql.Stmt // the statement of a whole batch, prepared once
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, width*insertBatch)
	for start := 0; start < n; start += insertBatch {
		end := min(start+insertBatch, n)
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = row(i, args); err != nil {
				return err
			}
		}
		if end-start < insertBatch {
			query := head + strings.Repeat(one+", ", end-start-1) + one
			if _, err := tx.ExecContext(ctx, query, args...); err != nil {
				return err
			}
			continue
		}
		if full == nil {
			var err error
			if full, err = tx.PrepareContext(ctx, head+strings.Repeat(one+", ", insertBatch-1)+one); err != nil {
				return err
			}
		}
		if _, err := full.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}
