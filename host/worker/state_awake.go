package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// stateAwake is the fetch loop: ask for a task, run it, ask again at once.
// With no task (204) or a failed fetch, the wait grows from
// Timings.FetchBackoffMin to manager.fetch_backoff_max (±10% jitter), or to
// manager.event_fetch_backoff_max while the event stream is up, whose
// "fetch now" ends an idle wait early. A 423
// moves to the requested status: such lazy requests take effect between
// tasks. A 409 (the Manager no longer considers the worker awake, e.g. it
// timed it out) or 403 signs on again. A task the worker will not run (it
// is malformed, or of a task type the worker did not sign on with) is
// reported failed, and the loop goes on.
func (w *Worker) stateAwake(ctx context.Context) stateFunc {
	w.setState(StateAwake)
	wait := backoff.Backoff{Min: w.tm.FetchBackoffMin, Max: max(w.mc.FetchBackoffMax, w.tm.FetchBackoffMin), Jitter: 0.1}
	failed := 0     // fetches in a row that failed
	hinted := false // the stream's hint brought this fetch forward
	for {
		if !w.waitForQueue(ctx) {
			return nil
		}
		if w.inUse() != "" {
			return w.stateInUse
		}
		at, err := w.client().ScheduleTask(ctx)
		if err == nil {
			w.rejoin.Reset()
			if failed > 0 {
				w.log.Info("fetching tasks works again", "failed_attempts", failed)
				failed = 0
			}
			if at == nil {
				fetch, hint := w.waitIdle(ctx, &wait)
				if !fetch {
					return nil
				}
				hinted = hint
				continue
			}
			if w.obs != nil {
				w.obs.TaskPickedUp(sourceOf(hinted))
			}
			hinted = false
			wait.Reset()
			if !slices.Contains(w.taskTypes, at.TaskType) {
				w.refuseTask(at.UUID, fmt.Sprintf("its task type %q is not one this worker signed on with (%s); "+
					"check the worker's task_types and plugins", at.TaskType, strings.Join(w.taskTypes, ", ")))
				continue
			}
			if next := w.runTask(ctx, at); next != nil {
				return next
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		switch flamenco.KindOf(err) {
		case flamenco.KindLocked:
			status, _ := flamenco.RequestedStatus(err)
			w.log.Info("the Manager requests a status change", "status_requested", status)
			return w.enter(ctx, status)
		case flamenco.KindConflict:
			w.log.Warn("the Manager does not consider this worker awake (it may have timed it out); signing on again", "error", err)
			return w.stateSignOn
		case flamenco.KindUnauthorized:
			w.log.Warn("the Manager rejected the worker's credentials; signing on again", "error", err)
			return w.stateSignOn
		case flamenco.KindBadTask:
			var fe *flamenco.Error
			if errors.As(err, &fe) && fe.TaskID != "" {
				wait.Reset()
				w.refuseTask(fe.TaskID, "the Manager handed it out malformed: "+errors.Unwrap(fe).Error())
				continue
			}
			// Without an id it cannot be failed: the Manager hands it out
			// again, and every time is an error in the log.
			w.log.Error("the Manager handed out a malformed task whose id cannot be read, so it cannot be reported failed; "+
				"fetching again with backoff: see the Manager's job", "error", err)
		}
		failed++
		d := wait.NextAtLeast(flamenco.RetryAfterOf(err))
		if failed == 1 {
			w.log.Warn("fetching a task failed; retrying with backoff", "retry_in", d.Round(time.Millisecond), "error", err)
		} else {
			w.log.Debug("fetching a task failed again", "attempt", failed, "retry_in", d.Round(time.Millisecond), "error", err)
		}
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// waitForQueue holds the next fetch back while task updates wait to be
// delivered. After a task (and at start-up with a backlog) it waits until the
// queue is empty: the Manager hands a task that is still active on its side
// back to the same worker, so fetching before the previous task's
// `completed` has landed would run that task twice. Otherwise it waits while
// the queue is above manager.update_queue_high_water. It reports false when
// ctx ended.
func (w *Worker) waitForQueue(ctx context.Context) bool {
	limit := w.mc.UpdateQueueHighWater
	if w.settle {
		limit = 0
	}
	if w.queue.Over(limit) {
		if w.queue.Pending() > w.mc.UpdateQueueHighWater {
			w.log.Info("waiting for queued task updates to be delivered before fetching a task",
				"queued", w.queue.Pending(), "high_water", w.mc.UpdateQueueHighWater)
		}
		if err := w.queue.WaitNotOver(ctx, limit); err != nil {
			return false
		}
	}
	w.settle = false
	return true
}
