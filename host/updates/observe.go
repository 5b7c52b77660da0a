package updates

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Observer watches the queue for metrics (host/metrics): its depth, the age
// of its oldest update and the log bytes delivered. Options.Observer may be
// nil; the queue then keeps no arrival times at all.
type Observer interface {
	// QueueChanged reports the number of queued updates and when the oldest
	// of them was queued (the zero time when none are). It is called with
	// the queue's lock held, so calls arrive in order: it must return at
	// once and must not call the Queue.
	QueueChanged(pending int, oldest time.Time)
	// UpdateDelivered reports a request the Manager accepted (one update,
	// or several merged) and the size of the log it carried, before the
	// QueueChanged that takes it off the queue.
	UpdateDelivered(logBytes int)
}

// arrivals holds the queue times of the queued updates, oldest first.
// Delivery is in queue order, so the oldest arrival is always at the front.
type arrivals struct {
	times []time.Time
	head  int
}

// push records n updates queued at t.
func (a *arrivals) push(t time.Time, n int) {
	for range n {
		a.times = append(a.times, t)
	}
}

// pop forgets the n oldest arrivals.
func (a *arrivals) pop(n int) {
	a.head = min(a.head+n, len(a.times))
	if a.head == len(a.times) {
		a.times, a.head = a.times[:0], 0
	} else if a.head > 1024 && a.head > len(a.times)/2 {
		// Reclaim the front now and then, not on every pop.
		a.times = append(a.times[:0], a.times[a.head:]...)
		a.head = 0
	}
}

// oldest is the queue time of the oldest queued update; zero when none is.
func (a *arrivals) oldest() time.Time {
	if a.head == len(a.times) {
		return time.Time{}
	}
	return a.times[a.head]
}

// queuedLocked records n newly queued updates for the observer. Call with mu
// held, after pending changed.
func (q *Queue) queuedLocked(n int) {
	if q.obs == nil {
		return
	}
	q.arrived.push(time.Now(), n)
	q.obs.QueueChanged(q.pending, q.arrived.oldest())
}

// takenLocked records n updates taken off the queue for the observer. Call
// with mu held, after pending changed.
func (q *Queue) takenLocked(n int) {
	if q.obs == nil {
		return
	}
	q.arrived.pop(n)
	q.obs.QueueChanged(q.pending, q.arrived.oldest())
}

// delivered tells the observer that the Manager accepted u.
func (q *Queue) delivered(u Update) {
	if q.obs != nil {
		q.obs.UpdateDelivered(len(u.Log))
	}
}

// Check reports whether the queue's database answers and takes writes, for a
// health check: an error says what is wrong.
func (q *Queue) Check(ctx context.Context) error {
	if q.isClosed() {
		return ErrClosed
	}
	var last sql.NullInt64
	if err := q.db.QueryRowContext(ctx, `SELECT max(id) FROM task_updates`).Scan(&last); err != nil {
		return fmt.Errorf("task update queue %s does not answer: %w", q.path, err)
	}
	q.mu.Lock()
	held := len(q.overflow)
	q.mu.Unlock()
	if held > 0 {
		return fmt.Errorf("task update queue %s: the disk refuses writes; %d updates are held in memory only (free space on the state directory's disk)", q.path, held)
	}
	return nil
}
