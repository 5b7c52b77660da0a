package worker

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/workstation"
)

// Workstation tells whether a person uses the machine; *workstation.Watcher
// is one. Options.Workstation nil means the worker works whenever asked.
type Workstation interface {
	// Watch returns the latest status and a channel closed when InUse changes.
	Watch() (workstation.Status, <-chan struct{})
	// IdleBeforeWork is how long without input before the machine is free.
	IdleBeforeWork() time.Duration
}

// StateInUse is the state of a worker that signed off because a person uses
// the workstation ([workstation]).
const StateInUse = "workstation in use"

// Activities, as Activity reports them for metrics.
const (
	ActivityBusy  = "busy"               // a task runs
	ActivityIdle  = "idle"               // no task runs
	ActivityInUse = "workstation_in_use" // a person uses the machine: no task is taken
)

// inUse returns why the worker must take no task now, or "" when it may.
func (w *Worker) inUse() string {
	if w.ws == nil {
		return ""
	}
	st, _ := w.ws.Watch()
	return st.Reason(w.ws.IdleBeforeWork())
}

// stateInUse is a worker that gives way to a person at the machine. It
// signs off, which is what the Manager's worker API has for "not working
// now": the Manager shows the worker offline, requeues any task it still
// holds (with on_activity = "requeue", the one just aborted), and remembers
// its status (awake or asleep) for the next sign-on. A worker can not put
// itself asleep: asleep is the Manager's to request, and an admin's request
// would then be lost. Once nobody gave input for idle_before_work, the
// worker signs on again.
func (w *Worker) stateInUse(ctx context.Context) stateFunc {
	w.setState(StateInUse)
	if w.signedOn && w.hasCredentials() {
		w.log.Info("a person is using this workstation: delivering queued task updates, then signing off",
			"reason", w.inUse(), "queued", w.queue.Pending())
		dctx, cancel := context.WithTimeout(ctx, w.tm.ShutdownDelivery)
		if err := w.queue.Flush(dctx, sender{w}); err != nil && ctx.Err() == nil {
			w.log.Warn("not every task update could be delivered before signing off; they stay queued", "error", err)
		}
		cancel()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.tm.SignOffTimeout)
		err := w.client().SignOff(sctx)
		cancel()
		if err != nil {
			w.log.Warn("signing off failed; the Manager will time the worker out and requeue its tasks", "error", err)
		}
		// Signed off: a shutdown from here has nothing to sign off.
		w.signedOn = false
	}
	for {
		st, changed := w.ws.Watch()
		if !st.InUse {
			w.log.Info("nobody used this workstation for idle_before_work: signing on to take tasks",
				"input_ago", st.Idle.Round(time.Second), "idle_before_work", w.ws.IdleBeforeWork())
			return w.stateSignOn
		}
		w.log.Info("taking no task: "+st.Reason(w.ws.IdleBeforeWork()), "state", StateInUse)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// watchWorkstation runs beside a task: when a person comes back, it aborts
// the task (on_activity = "requeue") or lets it finish ("finish"); the fetch
// loop then finds the machine in use and signs off.
func (w *Worker) watchWorkstation(ctx context.Context, taskID string, abort context.CancelCauseFunc) {
	if w.ws == nil {
		return
	}
	for {
		st, changed := w.ws.Watch()
		if st.InUse {
			why := st.Reason(w.ws.IdleBeforeWork())
			if w.cfg.Workstation.OnActivity == config.OnActivityRequeue {
				w.log.Info("aborting the running task to hand it back (workstation.on_activity = requeue): "+why, "task", taskID)
				abort(&abortCause{reason: why})
			} else {
				w.log.Info("the running task finishes, then the worker takes no new one (workstation.on_activity = finish): "+why, "task", taskID)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// Activity says what the worker does, for a busy/idle metric: ActivityBusy,
// ActivityInUse or ActivityIdle.
func (w *Worker) Activity() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.cur != nil:
		return ActivityBusy
	case w.state == StateInUse:
		return ActivityInUse
	}
	return ActivityIdle
}

// NotWorkingBecause says why the worker takes no task now, for /healthz and
// the status log: "" when it works or waits for a task.
func (w *Worker) NotWorkingBecause() string {
	if w.Activity() != ActivityInUse {
		return ""
	}
	if why := w.inUse(); why != "" {
		return why
	}
	return "a person used this workstation; signing on again"
}
