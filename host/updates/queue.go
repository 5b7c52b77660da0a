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
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/sqlitefile"
	"github.com/hashicorp/go-hclog"
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
	pieceMax   int // MaxRequestLogBytes: the pieces Append queues
	fullLog    func(taskID string) string
	obs        Observer

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
	if err := sqlitefile.Prepare(opts.Path); err != nil {
		return nil, fmt.Errorf("task update queue: %w", err)
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
