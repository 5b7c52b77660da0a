// Package jobstore is the local queue's job store: one SQLite file in the
// state directory that holds the jobs, their tasks, dependencies and every
// attempt to run them. Several processes use one store at once (submit,
// list, show and cancel beside a running 'cajon local run'); one of them at a
// time holds the runner lock and claims tasks, records their progress and
// their end, re-arms recurring jobs and recovers what a crash left running.
package jobstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

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
