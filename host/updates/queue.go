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
//
// # Size
//
// No request carries more than Options.MaxRequestLogBytes of log: a longer
// log is queued as pieces ahead of the status. A 413 (a proxy's body limit
// below that) halves the pieces for the rest of the run. When the Manager
// refuses even a small piece, or rejects an update as invalid, the update is
// sent again without its log (a note in the task's log says where the full
// log is kept), then with its status alone: a status change is dropped only
// when the Manager refuses it on its own, and that is logged as an error.
//
// The database and its WAL and shared-memory files are private (0600), as
// the logs in them may be: SQLite creates the latter two with the
// database's mode.
package updates

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
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
	// update as malformed (400 and the like). Sending it again cannot help:
	// it is sent without its log, then with its status alone, and dropped
	// with an error (a bug) when even that is rejected.
	ErrRejected = errors.New("the Manager rejected the task update as invalid")
	// ErrTooLarge is wrapped by a Sender error when the Manager, or a proxy
	// in front of it, refused the request as too large (413). The log is
	// sent in smaller pieces; see the package documentation.
	ErrTooLarge = errors.New("the Manager refused the task update as too large")
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
	// updates (default 1 MiB, and never above MaxRequestLogBytes). A
	// negative value turns merging off.
	MergeMaxLogBytes int
	// MaxRequestLogBytes caps the log one request carries (the worker
	// passes manager.max_update_log_bytes); 0 means no cap. An appended
	// update with a longer log is queued as pieces: log-only updates cut
	// after a newline, then the rest of the update with its status.
	MaxRequestLogBytes int
	// FullLog, when not nil, returns where the full log of a task is kept
	// on this machine ("" when nowhere), for the note that stands in for a
	// log the Manager refused.
	FullLog func(taskID string) string
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
	pieceMax   int // MaxRequestLogBytes: the pieces Append queues
	fullLog    func(taskID string) string

	wake   chan struct{} // capacity 1: an Append tells the sender there is work
	done   chan struct{} // closed by Close
	sendMu sync.Mutex    // one request in flight: read, send, delete

	// Used under sendMu only.
	sendLimit int    // the log cap of a request now: pieceMax, halved by each 413
	inflight  *batch // the batch being delivered, kept across failed attempts

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
	if err := makePrivate(opts.Path); err != nil {
		return nil, fmt.Errorf("task update queue %s: %w", opts.Path, err)
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
		pieceMax:   max(opts.MaxRequestLogBytes, 0),
		sendLimit:  max(opts.MaxRequestLogBytes, 0),
		fullLog:    opts.FullLog,
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

// makePrivate creates the database file 0600 when it is missing, so that
// SQLite gives its WAL and shared-memory files the same mode, and takes
// group and other access away from the files of an older Cajon, which made
// them 0644.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	f.Close()
	if runtime.GOOS == "windows" {
		return nil // no mode bits; the state directory's ACL applies
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s private (chmod go-rwx): %w", p, err)
			}
		}
	}
	return nil
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
	pieces := splitLog(u, q.pieceMax)
	if q.spilled() {
		q.unspill(ctx)
	}
	var err error
	if !q.spilled() {
		if err = q.store(ctx, pieces...); err == nil {
			q.added(len(pieces))
			return nil
		}
		if q.isClosed() {
			return ErrClosed
		}
	}
	q.mu.Lock()
	first := len(q.overflow) == 0
	q.overflow = append(q.overflow, pieces...)
	q.mu.Unlock()
	q.added(len(pieces))
	if err == nil {
		err = errors.New("earlier updates are still held in memory")
	}
	if first {
		q.log.Error("the task update queue's disk refuses writes: holding updates in memory until they are delivered; they are lost if the worker dies first",
			"path", q.path, "error", err)
	}
	return fmt.Errorf("queue update of task %s in %s: %w (%v)", u.TaskID, q.path, ErrNotDurable, err)
}

// store inserts us into the database, all of them or (on an error) none:
// the pieces of one update never land without the status that ends them.
func (q *Queue) store(ctx context.Context, us ...Update) error {
	if len(us) == 1 {
		return q.storeWith(ctx, q.insert, us[0])
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	insert := tx.StmtContext(ctx, q.insert)
	for _, u := range us {
		if err := q.storeWith(ctx, insert, u); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (q *Queue) storeWith(ctx context.Context, insert *sql.Stmt, u Update) error {
	var steps any
	if u.StepsCompleted != nil {
		steps = *u.StepsCompleted
	}
	_, err := insert.ExecContext(ctx, u.TaskID, u.Status, u.Activity, u.Log, steps)
	return err
}

// added counts n more queued updates and wakes the sender.
func (q *Queue) added(n int) {
	q.mu.Lock()
	q.pending += n
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
// takes them. It excludes the sender, and leaves them all in memory while
// the oldest is being delivered (a failed attempt keeps it in flight).
func (q *Queue) unspill(ctx context.Context) {
	q.sendMu.Lock()
	defer q.sendMu.Unlock()
	if q.inflight != nil && q.inflight.held {
		return
	}
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

// batch is one request's worth of the queue: the rows firstID..lastID
// merged into u, or the oldest update held in memory. u is what is left to
// deliver: a piece that went out, or a refused log that a note replaced, is
// gone from it, so a retry after a failed attempt goes on from there.
type batch struct {
	u               Update
	firstID, lastID int64
	rows            int
	held            bool // u is overflow[0]
	noted           bool // u's log was refused and replaced by a note
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
	b := q.inflight
	if b == nil {
		var err error
		if b, err = q.next(ctx, upTo); err != nil {
			return 0, err
		}
		if b == nil {
			if b = q.oldestHeld(); b == nil {
				return 0, nil
			}
		}
		q.inflight = b
	}
	sendErr := q.deliver(ctx, s, b)
	if err := q.settled(b.u, sendErr); err != nil {
		return 0, err
	}
	q.inflight = nil
	// Rows are done with even if deleting them fails (a full disk): they
	// are never sent again by this process, and deleting is retried.
	q.mu.Lock()
	if b.held {
		q.overflow = q.overflow[1:]
	} else {
		q.sentThrough = b.lastID
	}
	q.pending -= b.rows
	close(q.drained)
	q.drained = make(chan struct{})
	q.mu.Unlock()
	if !b.held {
		q.deleteSent(ctx)
	}
	if errors.Is(sendErr, ErrTaskGone) && q.onTaskGone != nil {
		q.onTaskGone(b.u.TaskID)
	}
	return b.rows, nil
}

// oldestHeld is the batch of the oldest update held in memory, or nil.
func (q *Queue) oldestHeld() *batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.overflow) == 0 {
		return nil
	}
	return &batch{u: q.overflow[0], rows: 1, held: true}
}

// deliver sends what is left of b, one request per piece of at most
// sendLimit bytes of log. On a 413 it halves the pieces (down to
// minLogPiece); when the Manager refuses the smallest piece or rejects the
// update, it degrades the rest (see degrade). It returns nil when all of b
// went out, else the error that ended it: a failure to retry, or a
// definitive answer (gone, rejected, too large) that settled judges.
func (q *Queue) deliver(ctx context.Context, s Sender, b *batch) error {
	for {
		piece, rest := nextPiece(b.u, q.sendLimit)
		err := s.SendTaskUpdate(ctx, piece)
		switch {
		case err == nil:
			if rest == nil {
				return nil
			}
			b.u = *rest
		case errors.Is(err, ErrTooLarge) && len(piece.Log) > minLogPiece:
			q.shrink(len(piece.Log), err)
		case errors.Is(err, ErrTooLarge), errors.Is(err, ErrRejected):
			if !q.degrade(b, err) {
				return err
			}
		default:
			return err
		}
	}
}

// shrink halves the log of a request after the Manager refused refused
// bytes of it as too large, for every request from now on: a proxy's limit
// does not change while the worker runs.
func (q *Queue) shrink(refused int, err error) {
	q.sendLimit = max(refused/2, minLogPiece)
	q.log.Warn("the Manager, or a proxy in front of it, refused a task update as too large (HTTP 413): "+
		"sending logs in smaller pieces from now on; raise the proxy's body limit (nginx: client_max_body_size) "+
		"or lower manager.max_update_log_bytes",
		"refused_log_bytes", refused, "piece_bytes", q.sendLimit, "error", err)
}

// degrade makes what is left of b smaller after the Manager refused it for
// good: first its log gives way to a short note that says where the full log
// is kept, then everything but the status goes. It reports false when there
// is nothing left to leave out: b is lost, and settled says so.
func (q *Queue) degrade(b *batch, err error) bool {
	u := &b.u
	switch {
	case u.Log != "" && !b.noted:
		where := ""
		if q.fullLog != nil {
			where = q.fullLog(u.TaskID)
		}
		q.log.Error("the Manager refused the log of a task update: sending the rest of the update without it",
			"task", u.TaskID, "log_bytes_not_delivered", len(u.Log), "log_start", prefix(u.Log, 200),
			"full_log", cmp.Or(where, "not kept on this worker: that log is lost"), "error", err)
		u.Log = refusedNote(len(u.Log), err, where)
		b.noted = true
		return true
	case u.Status != "" && (u.Log != "" || u.Activity != "" || u.StepsCompleted != nil):
		q.log.Error("the Manager refused a task update: sending its status alone",
			"task", u.TaskID, "status", u.Status, "activity", u.Activity, "steps_completed", stepsText(u.StepsCompleted), "error", err)
		*u = Update{TaskID: u.TaskID, Status: u.Status}
		return true
	}
	return false
}

// refusedNote is the line sent to the Manager in place of n bytes of log it
// refused.
func refusedNote(n int, err error, where string) string {
	why := "rejected them as invalid"
	if errors.Is(err, ErrTooLarge) {
		why = "refused them as too large (HTTP 413)"
	}
	if where == "" {
		return fmt.Sprintf("cajon: %d bytes of this task's log are missing here: the Manager %s, and the worker keeps no full log of this task", n, why)
	}
	return fmt.Sprintf("cajon: %d bytes of this task's log are missing here: the Manager %s; the full log is on the worker, in %s", n, why, where)
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
	case errors.Is(sendErr, ErrTooLarge):
		q.log.Error("the Manager refused a task update as too large even in its smallest form; dropped it",
			"task", u.TaskID, "status", u.Status, "activity", u.Activity, "steps_completed", stepsText(u.StepsCompleted),
			"log_bytes", len(u.Log), "error", sendErr)
	default:
		return fmt.Errorf("send update of task %s: %w", u.TaskID, sendErr)
	}
	return nil
}

// next reads the oldest queued update with id <= upTo and merges the ones
// that may follow it into one batch; nil when nothing is queued. The rows
// it read have consecutive positions in the queue, and a later Append always
// gets a higher id, so deleting firstID..lastID deletes exactly them.
func (q *Queue) next(ctx context.Context, upTo int64) (*batch, error) {
	limit := mergeRowLimit
	if q.mergeMax < 0 {
		limit = 1
	}
	maxLog := q.mergeMax
	if q.sendLimit > 0 {
		maxLog = min(maxLog, q.sendLimit)
	}
	rows, err := q.db.QueryContext(ctx,
		`SELECT id, task_id, status, activity, log, steps_completed FROM task_updates WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`,
		q.sent(), upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("task update queue %s: read queued updates: %w", q.path, err)
	}
	defer rows.Close()
	m := merger{maxLog: maxLog}
	var b batch
	for rows.Next() {
		var (
			id    int64
			row   Update
			steps sql.NullInt64
		)
		if err := rows.Scan(&id, &row.TaskID, &row.Status, &row.Activity, &row.Log, &steps); err != nil {
			return nil, fmt.Errorf("task update queue %s: read queued update: %w", q.path, err)
		}
		if steps.Valid {
			n := int(steps.Int64)
			row.StepsCompleted = &n
		}
		if !m.add(row) {
			break
		}
		if b.firstID == 0 {
			b.firstID = id
		}
		b.lastID = id
		b.rows++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("task update queue %s: read queued updates: %w", q.path, err)
	}
	if b.firstID == 0 {
		return nil, nil
	}
	b.u = m.update()
	return &b, nil
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
	// The first failure is worth a warning, and so is a failure that goes
	// on (a redirect or a proxy the admin must fix): at 1, 10, 100, ...
	// attempts. The rest of an outage is noise.
	if isPowerOf10(b.failures) {
		b.log.Warn("sending a task update failed; retrying with backoff", "attempt", b.failures, "retry_in", d, "error", err)
	} else {
		b.log.Debug("sending a task update failed again", "attempt", b.failures, "retry_in", d, "error", err)
	}
	return d
}

func (b *backoff) reset() { b.step, b.failures = 0, 0 }

func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

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
