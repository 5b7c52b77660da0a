// Package jobstore is the local queue's job store: one SQLite file in the
// state directory that holds the jobs, their tasks, dependencies and every
// attempt to run them. Several processes use one store at once (submit,
// list, show and cancel beside a running 'cajon local run'); one of them at a
// time holds the runner lock and claims tasks, records their progress and
// their end, re-arms recurring jobs and recovers what a crash left running.
package jobstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/local/jobfile"
	"github.com/cajonfarm/cajon/host/sqlitefile"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// DBFile is the job store's file name in the state directory.
const DBFile = "local.db"

// Job states as stored. A waiting job shows as "scheduled" before its time
// and "queued" after (see JobInfo.Status).
const (
	JobWaiting   = "waiting"
	JobRunning   = "running"
	JobCompleted = "completed"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Task statuses.
const (
	TaskQueued    = "queued"
	TaskRunning   = "running"
	TaskCompleted = "completed"
	TaskFailed    = "failed"
	TaskSkipped   = "skipped"
	TaskCanceled  = "canceled"
	// TaskInterrupted is shown, never stored: the task is running under a
	// 'cajon local run' that is gone (killed, crashed). The next runner
	// queues it again.
	TaskInterrupted = "interrupted"
)

// JobInterrupted is the status of a running job whose runner is gone.
const JobInterrupted = "interrupted"

// Attempt statuses: how one execution of a task ended.
const (
	AttemptRunning     = "running"
	AttemptCompleted   = "completed"
	AttemptFailed      = "failed"
	AttemptCanceled    = "canceled"
	AttemptInterrupted = "interrupted"
)

// ErrNotFound is wrapped by errors about a job id that does not exist.
var ErrNotFound = errors.New("no such job")

// Store is the local job store: a SQLite file. Several processes may use one
// store at once (submit, show and cancel while `cajon local run` works the
// queue); only one may run its jobs (see LockRunner).
type Store struct {
	db   *sql.DB
	path string
	// lockFile is the database file opened for the runner lock (see
	// LockRunner); it is closed after db.
	lockFile *os.File
	lockMu   sync.Mutex
	locked   bool // this Store holds the runner lock
}

// schemaVersion is the store's PRAGMA user_version. Version 2 made job and
// task ids AUTOINCREMENT: Prune deletes jobs, and a new job must never get
// the id (nor its tasks the ids) of a removed one, which names its logs and
// previews and which people may have noted.
const schemaVersion = 2

// jobsTable and tasksTable create the tables under a name, so a migration can
// build them beside the old ones.
func jobsTable(name string) string {
	return `CREATE TABLE ` + name + ` (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT    NOT NULL,
	priority      INTEGER NOT NULL,
	source        TEXT    NOT NULL,           -- the job file, as given to submit
	content       TEXT    NOT NULL,           -- '': the job is in its tasks (older versions kept its JSON here)
	content_hash  TEXT    NOT NULL,           -- sha256 of the validated job as JSON, for duplicate recurring jobs
	state         TEXT    NOT NULL,           -- waiting, running, completed, failed, canceled
	every_ns      INTEGER NOT NULL DEFAULT 0, -- > 0: recurring
	due_at        INTEGER NOT NULL,           -- unix ns: not before
	run           INTEGER NOT NULL DEFAULT 1, -- the current run of a recurring job
	created_at    INTEGER NOT NULL,
	started_at    INTEGER,                    -- of the current run
	finished_at   INTEGER,
	message       TEXT    NOT NULL DEFAULT '',
	last_state    TEXT    NOT NULL DEFAULT '', -- a recurring job's previous run
	last_finished INTEGER,
	last_message  TEXT    NOT NULL DEFAULT ''
);`
}

func tasksTable(name string) string {
	return `CREATE TABLE ` + name + ` (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id       INTEGER NOT NULL REFERENCES jobs(id),
	idx          INTEGER NOT NULL,            -- order in the job file
	name         TEXT    NOT NULL,
	type         TEXT    NOT NULL,
	commands     TEXT    NOT NULL,            -- JSON
	status       TEXT    NOT NULL,
	steps_done   INTEGER NOT NULL DEFAULT 0,
	steps_total  INTEGER NOT NULL,
	activity     TEXT    NOT NULL DEFAULT '',
	pids         TEXT    NOT NULL DEFAULT '', -- space-separated, of the running command
	attempt_id   INTEGER,                     -- the current execution (fences stale writers)
	started_at   INTEGER,
	finished_at  INTEGER,
	message      TEXT    NOT NULL DEFAULT '',
	output_path  TEXT    NOT NULL DEFAULT '',
	preview_path TEXT    NOT NULL DEFAULT '',
	log_path     TEXT    NOT NULL DEFAULT '',
	UNIQUE (job_id, name)
);`
}

const (
	jobsColumns  = `id, name, priority, source, content, content_hash, state, every_ns, due_at, run, created_at, started_at, finished_at, message, last_state, last_finished, last_message`
	tasksColumns = `id, job_id, idx, name, type, commands, status, steps_done, steps_total, activity, pids, attempt_id, started_at, finished_at, message, output_path, preview_path, log_path`
	jobsIndexes  = `CREATE INDEX jobs_by_state ON jobs(state, due_at);`
	tasksIndexes = `CREATE INDEX tasks_by_status ON tasks(status, job_id);
CREATE INDEX tasks_by_job ON tasks(job_id, status, idx);`
)

// schema creates a new store.
var schema = jobsTable("jobs") + "\n" + jobsIndexes + "\n" + tasksTable("tasks") + "\n" + tasksIndexes + `
CREATE TABLE task_deps (
	task_id INTEGER NOT NULL REFERENCES tasks(id),
	dep_id  INTEGER NOT NULL REFERENCES tasks(id),
	PRIMARY KEY (task_id, dep_id)
);
CREATE TABLE attempts (
	id          INTEGER PRIMARY KEY,
	task_id     INTEGER NOT NULL REFERENCES tasks(id),
	run         INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	message     TEXT    NOT NULL DEFAULT '',
	pid         INTEGER NOT NULL              -- of the cajon process that ran it
);
-- A task completes at most once per run, whatever happens.
CREATE UNIQUE INDEX one_completion ON attempts(task_id, run) WHERE status = 'completed';
`

// migrateV1 rebuilds the jobs and tasks tables of a version 1 store with
// AUTOINCREMENT ids (SQLite cannot add it to a table in place). The copies
// keep every id; AUTOINCREMENT starts above the highest one.
var migrateV1 = jobsTable("jobs_v2") + `
INSERT INTO jobs_v2 (` + jobsColumns + `) SELECT ` + jobsColumns + ` FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
` + jobsIndexes + "\n" + tasksTable("tasks_v2") + `
INSERT INTO tasks_v2 (` + tasksColumns + `) SELECT ` + tasksColumns + ` FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_v2 RENAME TO tasks;
` + tasksIndexes

// Open opens the job store at path, creating it when missing, and brings an
// older store's schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("local job store %q: the path must not contain '?'", path)
	}
	// The file is made first, private: SQLite gives its WAL files the
	// database's permissions, and all of them hold task logs.
	if err := sqlitefile.Prepare(path); err != nil {
		return nil, fmt.Errorf("local job store: %w", err)
	}
	// Pragmas in the DSN hold on every connection. Write transactions take
	// the lock at BEGIN, so two processes never deadlock upgrading a read.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("local job store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("local job store: %w", sqlitefile.Explain(path, err))
	}
	lockFile, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("local job store: open %s for the runner lock: %w", path, err)
	}
	return &Store{db: db, path: path, lockFile: lockFile}, nil
}

// migrate creates the schema of a new store, or upgrades an older one, in one
// write transaction: of several processes opening the store at once, one
// migrates and the others find it done.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version == schemaVersion {
		return nil
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this cajon knows (%d): use the newer cajon, or move the file away", version, schemaVersion)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer conn.Close()
	// Rebuilding a table that others reference needs foreign keys off, which
	// SQLite only allows outside a transaction; the check below stands in.
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer func() {
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil && err == nil {
			err = fmt.Errorf("migrate schema: turn foreign keys back on: %w", ferr)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version == 0 {
		// Version 1 wrote its tables before their version: a store left by a
		// crash in between is a version 1 store.
		var tables int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'`).Scan(&tables); err != nil {
			return fmt.Errorf("read schema: %w", err)
		}
		if tables > 0 {
			version = 1
		}
	}
	switch version {
	case 0:
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	case 1:
		if _, err := tx.ExecContext(ctx, migrateV1); err != nil {
			return fmt.Errorf("migrate schema from version 1 to %d: %w", schemaVersion, err)
		}
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return fmt.Errorf("migrate schema: check foreign keys: %w", err)
		}
		broken := rows.Next()
		rerr := rows.Err()
		rows.Close()
		if rerr != nil {
			return fmt.Errorf("migrate schema: check foreign keys: %w", rerr)
		}
		if broken {
			return fmt.Errorf("migrate schema from version 1 to %d: rows refer to missing jobs or tasks; nothing was changed", schemaVersion)
		}
	case schemaVersion:
		return nil // another process was first
	default:
		return fmt.Errorf("schema version %d is newer than this cajon knows (%d): use the newer cajon, or move the file away", version, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Disk names the file system that holds the store, with its mount point and
// free space, for messages about a disk that refuses writes.
func (s *Store) Disk() string { return diskOf(s.path) }

// Close closes the database, and releases the runner lock if this Store
// holds it.
func (s *Store) Close() error {
	err := s.db.Close()
	// After the database: closing a descriptor of the file drops the
	// process's POSIX locks on it, SQLite's among them (not on Linux, where
	// the runner lock is an open file description lock, but elsewhere).
	s.lockMu.Lock()
	s.locked = false
	s.lockMu.Unlock()
	if cerr := s.lockFile.Close(); err == nil {
		err = cerr
	}
	return err
}

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

// JobInfo is a job as list and show report it.
type JobInfo struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	Priority int           `json:"priority"`
	Source   string        `json:"source"`
	State    string        `json:"state"`
	Every    time.Duration `json:"every_ns,omitempty"`
	DueAt    time.Time     `json:"due_at"`
	Run      int           `json:"run"`
	Created  time.Time     `json:"created_at"`
	Started  *time.Time    `json:"started_at,omitempty"`
	Finished *time.Time    `json:"finished_at,omitempty"`
	// Message says why the job (its current or last run) failed or was
	// canceled: the task and its failure.
	Message string `json:"message,omitempty"`
	// LastState, LastFinished and LastMessage describe a recurring job's
	// previous run.
	LastState    string     `json:"last_state,omitempty"`
	LastFinished *time.Time `json:"last_finished_at,omitempty"`
	LastMessage  string     `json:"last_message,omitempty"`
	// RunnerGone is the pid of the 'cajon local run' that claimed the job's
	// running tasks, when that process no longer holds the runner lock: the
	// tasks are interrupted (see TaskInterrupted).
	RunnerGone int `json:"runner_gone_pid,omitempty"`
	// Tasks counts the job's tasks by status.
	Tasks map[string]int `json:"tasks"`
	// StepsDone and StepsTotal add up the tasks' steps.
	StepsDone  int `json:"steps_done"`
	StepsTotal int `json:"steps_total"`
}

// Status is the job's state as people read it: a waiting job is "scheduled"
// until its due time and "queued" from then on.
func (j *JobInfo) Status(now time.Time) string {
	switch {
	case j.State == JobWaiting && j.DueAt.After(now):
		return "scheduled"
	case j.State == JobWaiting:
		return "queued"
	case j.RunnerGone != 0:
		return JobInterrupted
	}
	return j.State
}

// TaskInfo is a task as show reports it.
type TaskInfo struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	DependsOn  []string          `json:"depends_on,omitempty"`
	Commands   []jobfile.Command `json:"commands"`
	Status     string            `json:"status"`
	StepsDone  int               `json:"steps_done"`
	StepsTotal int               `json:"steps_total"`
	Activity   string            `json:"activity,omitempty"`
	Pids       []int             `json:"pids,omitempty"`
	Started    *time.Time        `json:"started_at,omitempty"`
	Finished   *time.Time        `json:"finished_at,omitempty"`
	Message    string            `json:"message,omitempty"`
	Output     string            `json:"output,omitempty"`
	Preview    string            `json:"preview,omitempty"`
	LogPath    string            `json:"log_path,omitempty"`
	// RunnerGone is the pid of the gone runner of an interrupted task.
	RunnerGone int `json:"runner_gone_pid,omitempty"`
	// Attempts lists every execution of the task, oldest first.
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one execution of a task.
type Attempt struct {
	Run      int        `json:"run"`
	Status   string     `json:"status"`
	Started  time.Time  `json:"started_at"`
	Finished *time.Time `json:"finished_at,omitempty"`
	Message  string     `json:"message,omitempty"`
	// Pid is the cajon process that ran it.
	Pid int `json:"pid"`
}

const jobColumns = `id, name, priority, source, state, every_ns, due_at, run, created_at, started_at, finished_at,
	message, last_state, last_finished, last_message`

func scanJob(row interface{ Scan(...any) error }) (*JobInfo, error) {
	var j JobInfo
	var every, due, created int64
	var started, finished, lastFinished sql.NullInt64
	if err := row.Scan(&j.ID, &j.Name, &j.Priority, &j.Source, &j.State, &every, &due, &j.Run, &created,
		&started, &finished, &j.Message, &j.LastState, &lastFinished, &j.LastMessage); err != nil {
		return nil, err
	}
	j.Every = time.Duration(every)
	j.DueAt = time.Unix(0, due)
	j.Created = time.Unix(0, created)
	j.Started = nullTime(started)
	j.Finished = nullTime(finished)
	j.LastFinished = nullTime(lastFinished)
	j.Tasks = map[string]int{}
	return &j, nil
}

func nullTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64)
	return &t
}

// Jobs lists every job, newest first, with task counts.
func (s *Store) Jobs(ctx context.Context) ([]*JobInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs ORDER BY id DESC`)
	if err != nil {
		return nil, s.wrap("list jobs", err)
	}
	var jobs []*JobInfo
	byID := map[int64]*JobInfo{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, s.wrap("list jobs", err)
		}
		jobs = append(jobs, j)
		byID[j.ID] = j
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list jobs", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT job_id, status, count(*), sum(steps_done), sum(steps_total) FROM tasks GROUP BY job_id, status`)
	if err != nil {
		return nil, s.wrap("count tasks", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var status string
		var n, done, total int
		if err := rows.Scan(&id, &status, &n, &done, &total); err != nil {
			return nil, s.wrap("count tasks", err)
		}
		if j := byID[id]; j != nil {
			j.Tasks[status] = n
			j.StepsDone += done
			j.StepsTotal += total
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("count tasks", err)
	}
	gone, err := s.goneRunners(ctx, 0)
	if err != nil {
		return nil, err
	}
	if active, _ := s.runnerActive(); !active {
		for _, j := range jobs {
			idleJob(j)
		}
	}
	for _, g := range gone {
		if j := byID[g.jobID]; j != nil {
			j.RunnerGone = g.pid
			j.Tasks[TaskRunning]--
			j.Tasks[TaskInterrupted]++
			if j.Tasks[TaskRunning] == 0 {
				delete(j.Tasks, TaskRunning)
			}
		}
	}
	return jobs, nil
}

// idleJob shows a running job that has no running task, while no runner
// works the queue, as the next runner finds it: waiting (a crash between two
// of its tasks left it so).
func idleJob(j *JobInfo) {
	if j.State == JobRunning && j.Tasks[TaskRunning] == 0 {
		j.State = JobWaiting
	}
}

// goneRun is a running task whose runner is gone.
type goneRun struct {
	taskID, jobID int64
	pid           int
}

// goneRunners finds the running tasks (of one job, or of all when jobID is
// 0) whose attempt was made by a process that no longer holds the runner
// lock: it was killed or crashed, and the tasks only look running.
func (s *Store) goneRunners(ctx context.Context, jobID int64) ([]goneRun, error) {
	active, livePid := s.runnerActive()
	if active && livePid == 0 {
		return nil, nil // a runner whose pid is unknown: assume it is theirs
	}
	q := `SELECT t.id, t.job_id, a.pid FROM tasks t JOIN attempts a ON a.id = t.attempt_id WHERE t.status = ?`
	args := []any{TaskRunning}
	if jobID != 0 {
		q += ` AND t.job_id = ?`
		args = append(args, jobID)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("check the runner of running tasks", err)
	}
	defer rows.Close()
	var out []goneRun
	for rows.Next() {
		var g goneRun
		if err := rows.Scan(&g.taskID, &g.jobID, &g.pid); err != nil {
			return nil, s.wrap("check the runner of running tasks", err)
		}
		if !active || g.pid != livePid {
			out = append(out, g)
		}
	}
	return out, s.wrap("check the runner of running tasks", rows.Err())
}

// LatestJob is the id of the job submitted last, or ErrNotFound.
func (s *Store) LatestJob(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM jobs ORDER BY id DESC LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("the local queue %s has no jobs: %w", s.path, ErrNotFound)
	}
	return id, s.wrap("find the latest job", err)
}

// Job returns one job and its tasks in file order.
func (s *Store) Job(ctx context.Context, id int64) (*JobInfo, []*TaskInfo, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, s.notFound(id)
	}
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read job %d", id), err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, type, commands, status, steps_done, steps_total, activity, pids,
		started_at, finished_at, message, output_path, preview_path, log_path FROM tasks WHERE job_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
	}
	var tasks []*TaskInfo
	byID := map[int64]*TaskInfo{}
	for rows.Next() {
		var t TaskInfo
		var cmds, pids string
		var started, finished sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Type, &cmds, &t.Status, &t.StepsDone, &t.StepsTotal, &t.Activity, &pids,
			&started, &finished, &t.Message, &t.Output, &t.Preview, &t.LogPath); err != nil {
			rows.Close()
			return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
		}
		t.Commands, err = decodeCommands(cmds)
		if err != nil {
			rows.Close()
			return nil, nil, s.wrap(fmt.Sprintf("read task %q of job %d", t.Name, id), err)
		}
		t.Pids = parsePids(pids)
		t.Started, t.Finished = nullTime(started), nullTime(finished)
		t.Attempts = []Attempt{}
		tasks = append(tasks, &t)
		byID[t.ID] = &t
		j.Tasks[t.Status]++
		j.StepsDone += t.StepsDone
		j.StepsTotal += t.StepsTotal
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read tasks of job %d", id), err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT d.task_id, t.name FROM task_deps d JOIN tasks t ON t.id = d.dep_id
		WHERE t.job_id = ? ORDER BY d.task_id, t.idx`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read dependencies of job %d", id), err)
	}
	for rows.Next() {
		var tid int64
		var dep string
		if err := rows.Scan(&tid, &dep); err != nil {
			rows.Close()
			return nil, nil, s.wrap("read dependencies", err)
		}
		if t := byID[tid]; t != nil {
			t.DependsOn = append(t.DependsOn, dep)
		}
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT a.task_id, a.run, a.status, a.started_at, a.finished_at, a.message, a.pid
		FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = ? ORDER BY a.id`, id)
	if err != nil {
		return nil, nil, s.wrap(fmt.Sprintf("read attempts of job %d", id), err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid, started int64
		var finished sql.NullInt64
		var a Attempt
		if err := rows.Scan(&tid, &a.Run, &a.Status, &started, &finished, &a.Message, &a.Pid); err != nil {
			return nil, nil, s.wrap("read attempts", err)
		}
		a.Started = time.Unix(0, started)
		a.Finished = nullTime(finished)
		if t := byID[tid]; t != nil {
			t.Attempts = append(t.Attempts, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrap("read attempts", err)
	}
	gone, err := s.goneRunners(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if active, _ := s.runnerActive(); !active {
		idleJob(j)
	}
	for _, g := range gone {
		if t := byID[g.taskID]; t != nil {
			t.Status, t.RunnerGone, t.Pids = TaskInterrupted, g.pid, nil
			t.Message = fmt.Sprintf("interrupted: the 'cajon local run' that ran it (pid %d) is gone; it runs again at the next 'cajon local run'", g.pid)
			j.RunnerGone = g.pid
			j.Tasks[TaskRunning]--
			j.Tasks[TaskInterrupted]++
			if j.Tasks[TaskRunning] == 0 {
				delete(j.Tasks, TaskRunning)
			}
		}
	}
	return j, tasks, nil
}

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

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	// Not ctx: a shutdown must still be able to record what it did.
	tx, err := s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("local job store %s: %s: %w", s.path, what, err)
}

func (s *Store) notFound(id int64) error {
	return fmt.Errorf("job %d is not in the local queue %s (see 'cajon local list'): %w", id, s.path, ErrNotFound)
}

func decodeCommands(raw string) ([]jobfile.Command, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber() // keep integers exact
	var cmds []jobfile.Command
	if err := dec.Decode(&cmds); err != nil {
		return nil, err
	}
	for i := range cmds {
		if cmds[i].Parameters == nil {
			cmds[i].Parameters = map[string]any{}
		}
	}
	return cmds, nil
}

func parsePids(s string) []int {
	var pids []int
	for _, f := range strings.Fields(s) {
		var p int
		if _, err := fmt.Sscan(f, &p); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func formatPids(pids []int) string {
	parts := make([]string, len(pids))
	for i, p := range pids {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, " ")
}
