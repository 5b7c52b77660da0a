package worker

import (
	"context"
	"errors"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/host/updates"
)

// Observer watches a worker for metrics and health checks (host/metrics):
// every request to the Manager, and the update queue's depth and
// deliveries. Options.Observer may be nil (a nil Observer is a nil
// flamenco.Observer and updates.Observer too, so they skip their bookkeeping).
type Observer interface {
	flamenco.Observer
	updates.Observer
	managerevents.Observer
	// TaskPickedUp is called for every task fetched to run, with what
	// brought its fetch: SourceStream (a hint of the event stream) or
	// SourcePoll.
	TaskPickedUp(source string)
	// TaskAborted is called when the Manager's may-i-run answer aborts a
	// task, with what brought that request: SourceStream or SourcePoll.
	TaskAborted(source string)
}

// errQueueNotOpen is CheckQueue's answer before Run opened the queue.
var errQueueNotOpen = errors.New("the task update queue is not open yet (the worker is starting)")

// CheckQueue reports whether the worker's update queue database answers and
// takes writes, for a health check; it is safe to call at any time.
func (w *Worker) CheckQueue(ctx context.Context) error {
	w.mu.Lock()
	q := w.queue
	w.mu.Unlock()
	if q == nil {
		return errQueueNotOpen
	}
	return q.Check(ctx)
}
