// Package updates is the worker's durable, ordered queue of task updates.
//
// Every update is written to a SQLite file first and delivered to the Manager
// afterwards by one sender, in the order it was queued. A row is deleted only
// after the Manager accepted it or gave a definitive answer, so a worker that
// crashes, or a Manager that is down for an hour, loses no update: the queue
// is delivered when the worker runs again (or by `cajon flush`).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: an Append that returned
// has been written and fsynced, so it survives a SIGKILL of the worker and a
// power cut or kernel crash of the render node too. synchronous=NORMAL would
// survive a process crash only: the last commits could be lost with the
// machine. A lost `completed` makes the Manager re-render the task, so the
// fsync (a few milliseconds, a few times a second at most, since logs are
// batched before they reach the queue) is worth it.
//
// Delivery is at least once: an update whose request reached the Manager but
// whose answer did not (a dropped connection, a crash before the delete) is
// sent again. For the Manager that repeats some log lines; statuses and
// activity are idempotent.
package updates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Update is one change to a task, as the Manager's taskUpdate takes it.
// Empty fields are left unchanged on the Manager.
type Update struct {
	TaskID string
	// Status is the new task status ("active", "completed", "failed", ...);
	// "" leaves it unchanged.
	Status string
	// Activity replaces the task's one-line activity text; "" leaves it.
	Activity string
	// Log is appended to the task's log on the Manager; the Manager adds a
	// newline when it lacks one.
	Log string
	// StepsCompleted, when not nil, is the number of steps done so far.
	StepsCompleted *int
}

// Sender delivers one update to the Manager. The worker implements it with the
// Flamenco client. Its errors decide what happens to the update: one that
// wraps ErrTaskGone or ErrRejected drops it; any other is retried.
type Sender interface {
	SendTaskUpdate(ctx context.Context, u Update) error
}

var (
	// ErrTaskGone is wrapped by a Sender error when the Manager answered that
	// the task is no longer this worker's (409, 404). The update is dropped
	// and Options.OnTaskGone is called.
	ErrTaskGone = errors.New("the task is no longer assigned to this worker")
	// ErrRejected is wrapped by a Sender error when the Manager refused the
	// update as malformed (400). Sending it again cannot help: it is dropped
	// and logged as a bug.
	ErrRejected = errors.New("the Manager rejected the task update as invalid")
	// ErrClosed is returned by a Queue that was closed.
	ErrClosed = errors.New("task update queue is closed")
	// ErrNotDurable is wrapped by an Append error when the disk refused the
	// update (full, or a file size limit): the update is held in memory and
	// delivered in order all the same, but it is lost if the worker dies
	// before it goes out.
	ErrNotDurable = errors.New("task update held in memory only: the queue's disk refused it")
)

// Default delays between attempts to send an update that failed.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// maxRetryAfter bounds how long a server's Retry-After can stall the queue.
	maxRetryAfter = 10 * time.Minute
	// mergeRowLimit bounds how many rows one request is read from.
	mergeRowLimit = 1000
)

// Options configure a Queue.
type Options struct {
	// Path of the SQLite file; its directory is created when missing.
	Path string
	// Logger receives warnings (retries, dropped updates); nil logs nothing.
	Logger hclog.Logger
	// OnTaskGone, when not nil, is called with the task's id after the
	// Manager answered that the task is no longer this worker's, so a task
	// that still runs can be aborted. It is called from the sender goroutine
	// and must not block for long.
	OnTaskGone func(taskID string)
	// MinBackoff is the first delay after a failed send (default 250 ms);
	// the delay doubles per failure up to MaxBackoff (default 30 s), with
	// jitter. A Sender error with a `RetryAfter() time.Duration` method that
	// asks for longer is honoured (up to 10 minutes).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MergeMaxLogBytes caps the log of a request merged from several queued
	// updates (default 1 MiB). A negative value turns merging off.
	MergeMaxLogBytes int
	// Observer, when not nil, watches the queue's depth and deliveries.
	// Updates found queued by Open count as queued when Open ran.
	Observer Observer
}

// Queue is the durable task-update queue. Its methods are safe for concurrent
// use. Run (or Flush) is the one place updates are sent from: a Run and a
// Flush that overlap take turns per request, so order is still kept.
type Queue struct {
	db         *sql.DB
	insert     *sql.Stmt
	path       string
	log        hclog.Logger
	onTaskGone func(taskID string)
	minBackoff time.Duration
	maxBackoff time.Duration
	mergeMax   int
	obs        Observer

	wake   chan struct{} // capacity 1: an Append tells the sender there is work
	done   chan struct{} // closed by Close
	sendMu sync.Mutex    // one request in flight: read, send, delete

	mu      sync.Mutex
	pending int           // updates queued (rows + overflow), for cheap backpressure checks
	drained chan struct{} // closed and replaced whenever pending drops
	closed  bool
	// sentThrough: rows up to this id were delivered but could not be
	// deleted yet (the disk refused); 0 when none are left.
	sentThrough int64
	// overflow holds, in order, the updates the disk refused; all of them
	// come after every row on disk. Appends join it while it is not empty,
	// so order is kept, and move it back to disk as soon as the disk takes
	// writes again.
	overflow []Update
	// arrived holds the queue times of the queued updates; kept only for
	// an observer.
	arrived arrivals
}

// Open opens the queue at opts.Path, creating the file and its directory when
// missing. A database file that SQLite finds corrupt is renamed to
// <path>.corrupt-<UTC time> with a warning, and an empty queue is started:
// the worker keeps working, and the damaged file is kept for inspection.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	if opts.Path == "" {
		return nil, errors.New("task update queue: no database path given")
	}
	if strings.ContainsRune(opts.Path, '?') {
		return nil, fmt.Errorf("task update queue %q: the path must not contain '?'", opts.Path)
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("task update queue: create directory for %s: %w", opts.Path, err)
	}

	db, pending, err := openDB(ctx, opts.Path)
	if isCorrupt(err) {
		moved, moveErr := moveAside(opts.Path)
		if moveErr != nil {
			return nil, fmt.Errorf("task update queue %s is corrupt (%v), and moving it aside failed: %w", opts.Path, err, moveErr)
		}
		log.Warn("task update queue database was corrupt: moved it aside and started an empty queue; updates queued in it are not sent",
			"path", opts.Path, "moved_to", moved, "error", err)
		db, pending, err = openDB(ctx, opts.Path)
	}
	if err != nil {
		return nil, err
	}
	insert, err := db.PrepareContext(ctx,
		`INSERT INTO task_updates (task_id, status, activity, log, steps_completed) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("task update queue %s: prepare insert: %w", opts.Path, err)
	}

	q := &Queue{
		db:         db,
		insert:     insert,
		path:       opts.Path,
		log:        log,
		onTaskGone: opts.OnTaskGone,
		minBackoff: opts.MinBackoff,
		maxBackoff: opts.MaxBackoff,
		mergeMax:   opts.MergeMaxLogBytes,
		obs:        opts.Observer,
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		pending:    pending,
		drained:    make(chan struct{}),
	}
	if q.minBackoff <= 0 {
		q.minBackoff = DefaultMinBackoff
	}
	if q.maxBackoff <= 0 {
		q.maxBackoff = DefaultMaxBackoff
	}
	q.maxBackoff = max(q.maxBackoff, q.minBackoff)
	if q.mergeMax == 0 {
		q.mergeMax = DefaultMergeMaxLogBytes
	}
	if pending > 0 {
		q.wake <- struct{}{}
	}
	q.mu.Lock()
	q.queuedLocked(pending)
	q.mu.Unlock()
	return q, nil
}

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

// Append queues u. When it returns nil, u is on disk and will be delivered.
// When the disk refuses it, u is held in memory and still delivered in order:
// the error then wraps ErrNotDurable. Any other error means u was not queued.
func (q *Queue) Append(ctx context.Context, u Update) error {
	if u.TaskID == "" {
		return errors.New("task update queue: update without a task id")
	}
	if q.isClosed() {
		return ErrClosed
	}
	if q.spilled() {
		q.unspill(ctx)
	}
	var err error
	if !q.spilled() {
		if err = q.store(ctx, u); err == nil {
			q.added()
			return nil
		}
		if q.isClosed() {
			return ErrClosed
		}
	}
	q.mu.Lock()
	first := len(q.overflow) == 0
	q.overflow = append(q.overflow, u)
	q.mu.Unlock()
	q.added()
	if err == nil {
		err = errors.New("earlier updates are still held in memory")
	}
	if first {
		q.log.Error("the task update queue's disk refuses writes: holding updates in memory until they are delivered; they are lost if the worker dies first",
			"path", q.path, "error", err)
	}
	return fmt.Errorf("queue update of task %s in %s: %w (%v)", u.TaskID, q.path, ErrNotDurable, err)
}

// store inserts u into the database.
func (q *Queue) store(ctx context.Context, u Update) error {
	var steps any
	if u.StepsCompleted != nil {
		steps = *u.StepsCompleted
	}
	_, err := q.insert.ExecContext(ctx, u.TaskID, u.Status, u.Activity, u.Log, steps)
	return err
}

// added counts one more queued update and wakes the sender.
func (q *Queue) added() {
	q.mu.Lock()
	q.pending++
	q.queuedLocked(1)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // the sender has a wake-up waiting already
	}
}

func (q *Queue) spilled() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.overflow) > 0
}

// unspill moves held updates back to disk, oldest first, while the disk
// takes them. It excludes the sender, which may be sending the oldest one.
func (q *Queue) unspill(ctx context.Context) {
	q.sendMu.Lock()
	defer q.sendMu.Unlock()
	for {
		q.mu.Lock()
		if len(q.overflow) == 0 {
			q.mu.Unlock()
			q.log.Info("the task update queue's disk takes writes again", "path", q.path)
			return
		}
		u := q.overflow[0]
		q.mu.Unlock()
		if err := q.store(ctx, u); err != nil {
			return
		}
		q.mu.Lock()
		q.overflow = q.overflow[1:]
		q.mu.Unlock()
	}
}

// Run sends queued updates, oldest first, until ctx ends or the queue is
// closed. It sleeps while the queue is empty and backs off while sending
// fails. It returns ctx's error, or ErrClosed.
func (q *Queue) Run(ctx context.Context, s Sender) error {
	retry := q.newBackoff()
	for {
		n, err := q.sendNext(ctx, s, math.MaxInt64)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if q.isClosed() {
			return ErrClosed
		}
		if err != nil {
			if err := q.sleep(ctx, retry.after(err)); err != nil {
				return err
			}
			continue
		}
		if retry.failures > 0 {
			q.log.Info("task updates are being delivered again", "failed_attempts", retry.failures)
		}
		retry.reset()
		if n > 0 {
			continue
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.done:
			return ErrClosed
		}
	}
}

// Flush sends every update queued when it is called, retrying failures, and
// returns nil when they are all delivered (updates queued meanwhile are left
// for Run). When ctx ends first, it returns an error that says how many
// updates are still queued.
func (q *Queue) Flush(ctx context.Context, s Sender) error {
	var upTo int64
	if err := q.db.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM task_updates`).Scan(&upTo); err != nil {
		return fmt.Errorf("flush task update queue %s: %w", q.path, err)
	}
	retry := q.newBackoff()
	var lastErr error
	for {
		n, err := q.sendNext(ctx, s, upTo)
		if err == nil && n == 0 {
			return nil
		}
		if q.isClosed() {
			return ErrClosed
		}
		if err != nil {
			lastErr = err
			err = q.sleep(ctx, retry.after(err))
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			left := q.Pending()
			if lastErr != nil {
				return fmt.Errorf("flush task update queue %s: %d updates still queued: %w (last send error: %v)", q.path, left, err, lastErr)
			}
			return fmt.Errorf("flush task update queue %s: %d updates still queued: %w", q.path, left, err)
		}
	}
}

// sendNext sends the oldest queued update with id <= upTo, merged with the
// ones that can go along, and deletes what the Manager answered for. It
// returns how many queued updates it took off the queue (0: none are
// queued). An error means nothing was taken off and the send should be
// retried.
func (q *Queue) sendNext(ctx context.Context, s Sender, upTo int64) (int, error) {
	q.sendMu.Lock()
	defer q.sendMu.Unlock()

	q.deleteSent(ctx)
	u, firstID, lastID, rows, err := q.next(ctx, upTo)
	if err != nil {
		return 0, err
	}
	if firstID == 0 {
		return q.sendOverflow(ctx, s)
	}
	sendErr := s.SendTaskUpdate(ctx, u)
	if err := q.settled(u, sendErr); err != nil {
		return 0, err
	}
	q.delivered(u, sendErr)
	// The rows are done with even if deleting them fails (a full disk):
	// they are never sent again by this process, and deleting is retried.
	q.mu.Lock()
	q.sentThrough = lastID
	q.pending -= rows
	q.takenLocked(rows)
	close(q.drained)
	q.drained = make(chan struct{})
	q.mu.Unlock()
	q.deleteSent(ctx)

	if errors.Is(sendErr, ErrTaskGone) && q.onTaskGone != nil {
		q.onTaskGone(u.TaskID)
	}
	return rows, nil
}

// deleteSent deletes the rows that were sent, when there are any left on
// disk. Delivery is in order, so they are always the oldest rows. Call with
// sendMu held.
func (q *Queue) deleteSent(ctx context.Context) {
	q.mu.Lock()
	through := q.sentThrough
	q.mu.Unlock()
	if through == 0 {
		return
	}
	// Even when ctx has just ended: the Manager has these updates, and
	// sending them again after a restart would repeat their logs.
	if _, err := q.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM task_updates WHERE id <= ?`, through); err != nil {
		q.log.Warn("cannot delete delivered task updates from the queue; trying again with the next one (they are sent again only if the worker restarts first)",
			"path", q.path, "error", err)
		return
	}
	// Every row up to through is gone, so the marks start again from zero:
	// SQLite gives an emptied table's next row id 1 again, and such a row
	// must not look delivered.
	q.mu.Lock()
	q.sentThrough = 0
	q.mu.Unlock()
}

// settled judges a send: nil when the update is done with (delivered, or
// dropped for good with a log line), else the error to retry on.
func (q *Queue) settled(u Update, sendErr error) error {
	switch {
	case sendErr == nil:
	case errors.Is(sendErr, ErrTaskGone):
		q.log.Info("dropped a task update: the task is no longer assigned to this worker",
			"task", u.TaskID, "error", sendErr)
	case errors.Is(sendErr, ErrRejected):
		q.log.Error("BUG: the Manager rejected a task update; dropped it",
			"task", u.TaskID, "status", u.Status, "activity", u.Activity, "steps_completed", stepsText(u.StepsCompleted),
			"log_bytes", len(u.Log), "log_start", prefix(u.Log, 200), "error", sendErr)
	default:
		return fmt.Errorf("send update of task %s: %w", u.TaskID, sendErr)
	}
	return nil
}

// sendOverflow sends the oldest update held in memory, once the disk has no
// older one. Call with sendMu held.
func (q *Queue) sendOverflow(ctx context.Context, s Sender) (int, error) {
	q.mu.Lock()
	if len(q.overflow) == 0 {
		q.mu.Unlock()
		return 0, nil
	}
	u := q.overflow[0]
	q.mu.Unlock()
	sendErr := s.SendTaskUpdate(ctx, u)
	if err := q.settled(u, sendErr); err != nil {
		return 0, err
	}
	q.delivered(u, sendErr)
	q.mu.Lock()
	q.overflow = q.overflow[1:]
	q.pending--
	q.takenLocked(1)
	close(q.drained)
	q.drained = make(chan struct{})
	q.mu.Unlock()
	if errors.Is(sendErr, ErrTaskGone) && q.onTaskGone != nil {
		q.onTaskGone(u.TaskID)
	}
	return 1, nil
}

// next reads the oldest queued update with id <= upTo and merges the ones
// that may follow it into one request. firstID is 0 when nothing is queued.
// The rows it read have consecutive positions in the queue, and a later
// Append always gets a higher id, so deleting firstID..lastID deletes exactly
// them.
func (q *Queue) next(ctx context.Context, upTo int64) (u Update, firstID, lastID int64, n int, err error) {
	limit := mergeRowLimit
	if q.mergeMax < 0 {
		limit = 1
	}
	rows, err := q.db.QueryContext(ctx,
		`SELECT id, task_id, status, activity, log, steps_completed FROM task_updates WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`,
		q.sent(), upTo, limit)
	if err != nil {
		return Update{}, 0, 0, 0, fmt.Errorf("task update queue %s: read queued updates: %w", q.path, err)
	}
	defer rows.Close()
	m := merger{maxLog: q.mergeMax}
	for rows.Next() {
		var (
			id    int64
			row   Update
			steps sql.NullInt64
		)
		if err := rows.Scan(&id, &row.TaskID, &row.Status, &row.Activity, &row.Log, &steps); err != nil {
			return Update{}, 0, 0, 0, fmt.Errorf("task update queue %s: read queued update: %w", q.path, err)
		}
		if steps.Valid {
			n := int(steps.Int64)
			row.StepsCompleted = &n
		}
		if !m.add(row) {
			break
		}
		if firstID == 0 {
			firstID = id
		}
		lastID = id
		n++
	}
	if err := rows.Err(); err != nil {
		return Update{}, 0, 0, 0, fmt.Errorf("task update queue %s: read queued updates: %w", q.path, err)
	}
	if firstID == 0 {
		return Update{}, 0, 0, 0, nil
	}
	return m.update(), firstID, lastID, n, nil
}

// sent is the id through which rows were delivered.
func (q *Queue) sent() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sentThrough
}

// Len returns the number of queued updates, as counted in the database.
func (q *Queue) Len(ctx context.Context) (int, error) {
	var n int
	if err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM task_updates WHERE id > ?`, q.sent()).Scan(&n); err != nil {
		return 0, fmt.Errorf("task update queue %s: count: %w", q.path, err)
	}
	return n, nil
}

// Pending returns the number of queued updates without asking the database.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Over reports whether more than threshold updates are queued: the worker
// fetches no new task while it is true.
func (q *Queue) Over(threshold int) bool { return q.Pending() > threshold }

// WaitNotOver blocks until at most threshold updates are queued, ctx ends
// (its error is returned) or the queue is closed (ErrClosed).
func (q *Queue) WaitNotOver(ctx context.Context, threshold int) error {
	for {
		q.mu.Lock()
		n, drained, closed := q.pending, q.drained, q.closed
		q.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if n <= threshold {
			return nil
		}
		select {
		case <-drained:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.done:
			return ErrClosed
		}
	}
}

// Close closes the database. Queued updates stay on disk for the next Open.
// A running Run returns ErrClosed.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.done)
	lost := len(q.overflow)
	q.mu.Unlock()
	if lost > 0 {
		q.log.Error("task updates held in memory (the queue's disk refused them) are lost: they were not delivered before the queue closed",
			"path", q.path, "lost", lost)
	}
	q.insert.Close()
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close task update queue %s: %w", q.path, err)
	}
	return nil
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// sleep waits d, or until ctx ends or the queue closes.
func (q *Queue) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		return ErrClosed
	}
}

func (q *Queue) newBackoff() *backoff {
	return &backoff{min: q.minBackoff, max: q.maxBackoff, log: q.log}
}

// backoff is the delay between failed sends: doubling from min to max, each
// delay drawn between half and all of the current step so that workers that
// lost the Manager together do not come back in step.
type backoff struct {
	min, max time.Duration
	step     time.Duration
	failures int
	log      hclog.Logger
}

// retryAfterError is an error that knows how long the server asked to wait.
type retryAfterError interface{ RetryAfter() time.Duration }

func (b *backoff) after(err error) time.Duration {
	b.failures++
	if b.step == 0 {
		b.step = b.min
	} else {
		b.step = min(2*b.step, b.max)
	}
	d := b.step/2 + rand.N(b.step/2+1)
	var ra retryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.RetryAfter(), maxRetryAfter))
	}
	// The first failure is worth a warning; the rest of an outage is noise.
	if b.failures == 1 {
		b.log.Warn("sending a task update failed; retrying with backoff", "retry_in", d, "error", err)
	} else {
		b.log.Debug("sending a task update failed again", "attempt", b.failures, "retry_in", d, "error", err)
	}
	return d
}

func (b *backoff) reset() { b.step, b.failures = 0, 0 }

func stepsText(steps *int) string {
	if steps == nil {
		return "unchanged"
	}
	return fmt.Sprint(*steps)
}

// prefix returns the start of s, at most n bytes, cut at a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
