// The database file: schema, integrity check, corruption handling.

package updates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const schema = `
CREATE TABLE IF NOT EXISTS task_updates (
	id              INTEGER PRIMARY KEY, -- delivery order
	task_id         TEXT    NOT NULL,
	status          TEXT    NOT NULL DEFAULT '',
	activity        TEXT    NOT NULL DEFAULT '',
	log             TEXT    NOT NULL DEFAULT '',
	steps_completed INTEGER              -- NULL: unchanged
);
PRAGMA user_version = 1;
`

// openDB opens the file and checks it. It returns the number of queued rows.
func openDB(ctx context.Context, path string) (*sql.DB, int, error) {
	// Pragmas go in the DSN so that they hold on every connection the pool
	// opens. journal_size_limit trims the WAL after a big backlog was sent.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=journal_size_limit(4194304)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("task update queue: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and the sender's reads are
	// short, so the pool only adds SQLITE_BUSY cases.
	db.SetMaxOpenConns(1)

	fail := func(what string, err error) (*sql.DB, int, error) {
		db.Close()
		return nil, 0, fmt.Errorf("task update queue %s: %s: %w", path, what, err)
	}
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fail("read schema version", err)
	}
	if version > 1 {
		return fail("check schema version", fmt.Errorf("schema version %d is newer than this cajon knows (1): deliver it with the newer cajon (`cajon flush`) or move the file away", version))
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check(1)`).Scan(&check); err != nil {
		return fail("check integrity", err)
	}
	if check != "ok" {
		return fail("check integrity", &corruptError{detail: check})
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fail("create schema", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM task_updates`).Scan(&n); err != nil {
		return fail("count queued updates", err)
	}
	return db, n, nil
}

// corruptError is a failed integrity check.
type corruptError struct{ detail string }

func (e *corruptError) Error() string { return "database is corrupt: " + e.detail }

// isCorrupt reports whether err says the file is damaged or not a database,
// as opposed to, say, a permission or disk-full problem that moving the file
// aside would not fix.
func isCorrupt(err error) bool {
	if err == nil {
		return false
	}
	var ce *corruptError
	if errors.As(err, &ce) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // primary code, without the extended bits
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
	}
	return false
}

// moveAside renames a corrupt database and its WAL out of the way and returns
// the new name.
func moveAside(path string) (string, error) {
	moved := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(path, moved); err != nil {
		return "", err
	}
	if err := os.Rename(path+"-wal", moved+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.Remove(path + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return moved, nil
}
