// Delivery: one sender, oldest first, merged batches, deleting what landed.

package updates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/cajonfarm/cajon/sdk/phrase"
)

// Run sends queued updates, oldest first, until ctx ends or the queue is
// closed. It sleeps while the queue is empty and backs off while sending
// fails. It returns ctx's error, or ErrClosed.
func (q *Queue) Run(ctx context.Context, s Sender) error {
	retry := q.newRetry()
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
		if retry.failures() > 0 {
			q.log.Info("task updates are being delivered again", "failed_attempts", retry.failures())
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
	retry := q.newRetry()
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
	q.takenLocked(b.rows)
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
			q.delivered(piece)
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
			"log_bytes", len(u.Log), "log_start", phrase.Cut(u.Log, 200), "error", sendErr)
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
