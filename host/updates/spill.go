// Appending, and holding updates in memory while the disk refuses them.

package updates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

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
	q.queuedLocked(n)
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
