package worker

import (
	"context"
	"errors"
	"time"

	"github.com/cajonfarm/cajon/sdk/phrase"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/updates"
)

// runningTask is the task the worker runs now.
type runningTask struct {
	id, name string
	since    time.Time
	rep      *reporter
	abort    context.CancelCauseFunc
}

// abortCause is why the worker aborted a task on its own account (the
// Manager said no, the task is gone, the worker shuts down). Such a task is
// not reported failed: it is no longer this worker's to report.
type abortCause struct {
	reason string
	// statusChange: an immediate worker status change is pending.
	statusChange bool
}

func (a *abortCause) Error() string { return "task aborted: " + a.reason }

// shutdownReason says why ctx, the worker's own, ended: the signal when the
// caller gave it as the cause (cmd/cajon does).
func shutdownReason(ctx context.Context) string {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) {
		return "the worker is shutting down"
	}
	return "the worker is shutting down: " + cause.Error()
}

// runTask runs one assigned task to its end and returns the next state when
// an immediate status change interrupted it, else nil (fetch again).
func (w *Worker) runTask(ctx context.Context, at *flamenco.AssignedTask) stateFunc {
	t := taskOf(at)
	// The task outlives ctx when it may finish on shutdown; otherwise the
	// end of ctx aborts it like a "no" from the Manager.
	taskCtx, abort := context.WithCancelCause(context.WithoutCancel(ctx))
	defer abort(nil)
	if !w.mc.FinishTaskOnShutdown {
		stop := context.AfterFunc(ctx, func() { abort(&abortCause{reason: shutdownReason(ctx)}) })
		defer stop()
	}

	rep := w.newReporter(t)
	cur := &runningTask{id: t.ID, name: t.Name, since: time.Now(), rep: rep, abort: abort}
	w.mu.Lock()
	w.cur = cur
	w.mu.Unlock()
	w.log.Info("task started", "task", t.ID, "name", t.Name, "job", t.JobID, "task_type", t.Type, "commands", len(t.Commands))
	rep.begin()

	watchCtx, stopWatch := context.WithCancel(taskCtx)
	watched := make(chan struct{}, 2)
	go func() {
		defer func() { watched <- struct{}{} }()
		w.watchTask(watchCtx, t.JobID, t.ID, abort)
	}()
	go func() {
		defer func() { watched <- struct{}{} }()
		w.watchWorkstation(watchCtx, t.ID, abort)
	}()
	out := w.runner.Run(taskCtx, t, rep)
	stopWatch()
	<-watched
	<-watched

	var cause *abortCause
	if taskCtx.Err() != nil {
		errors.As(context.Cause(taskCtx), &cause)
	}
	w.mu.Lock()
	w.cur = nil
	w.mu.Unlock()
	// Whatever happened, the next fetch waits until this task's updates are
	// delivered (or dropped as no longer ours).
	w.settle = true
	took := time.Since(cur.since).Round(time.Millisecond)
	switch {
	case cause != nil:
		rep.finish("", "")
		w.log.Info("task aborted; not reported as failed, it is no longer this worker's", "task", t.ID, "reason", cause.reason, "took", took)
	case out.Status == task.Completed:
		rep.finish(flamenco.TaskCompleted, "")
		w.log.Info("task completed", "task", t.ID, "took", took)
	default:
		msg := out.Message
		if msg == "" {
			msg = "the task ended without saying why"
		}
		rep.finish(flamenco.TaskFailed, msg)
		w.log.Warn("task failed", "task", t.ID, "error", msg, "took", took)
	}
	if cause != nil && cause.statusChange && ctx.Err() == nil {
		return w.requestedState(ctx)
	}
	return nil
}

// requestedState asks the Manager which status it wants now, after a
// may-i-run "no" announced an immediate change. It returns nil to go on
// fetching (the fetch then gets a 423 if a change is still pending).
func (w *Worker) requestedState(ctx context.Context) stateFunc {
	st, changed, err := w.client().State(ctx)
	if err != nil {
		w.log.Warn("asking the Manager for the requested status failed; fetching again", "error", err)
		return nil
	}
	if !changed {
		return nil
	}
	w.log.Info("the Manager requests a status change", "status_requested", st.StatusRequested)
	return w.enter(ctx, st.StatusRequested)
}

// watchTask asks the Manager every may_i_run_interval (while the event
// stream is up, every event_may_i_run_interval, and at once when the stream
// says the task or its job changed) whether the task may go on, and aborts
// it on a "no". Failed requests leave the task running: the Manager being
// unreachable is no reason to give up work.
func (w *Worker) watchTask(ctx context.Context, jobID, taskID string, abort context.CancelCauseFunc) {
	hints, stopHints := w.watchHints(jobID, taskID)
	defer stopHints()
	last := time.Now()
	failed := 0
	for {
		up, changed := w.streamUp()
		t := time.NewTimer(time.Until(last.Add(w.mayIRunInterval(up))))
		source := SourcePoll
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
			// The period follows the stream's state.
			t.Stop()
			continue
		case <-hints:
			source = SourceStream
		case <-t.C:
		}
		t.Stop()
		last = time.Now()
		ans, err := w.client().MayIRun(ctx, taskID)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			switch flamenco.KindOf(err) {
			case flamenco.KindNotFound, flamenco.KindConflict:
				w.log.Info("the Manager no longer knows the task as this worker's: aborting it", "task", taskID, "error", err)
				w.observeAbort(source)
				abort(&abortCause{reason: err.Error()})
				return
			}
			failed++
			if failed == 1 {
				w.log.Warn("may-i-run failed; the task keeps running", "task", taskID, "error", err)
			}
			continue
		}
		failed = 0
		if !ans.MayKeepRunning {
			w.log.Info("the Manager says the task may not keep running: aborting it", "task", taskID,
				"reason", ans.Reason, "status_change_requested", ans.StatusChangeRequested, "noticed_by", source)
			w.observeAbort(source)
			abort(&abortCause{reason: "the Manager says: " + ans.Reason, statusChange: ans.StatusChangeRequested})
			return
		}
	}
}

func (w *Worker) observeAbort(source string) {
	if w.obs != nil {
		w.obs.TaskAborted(source)
	}
}

// sourceOf names what brought a poll forward.
func sourceOf(hinted bool) string {
	if hinted {
		return SourceStream
	}
	return SourcePoll
}

// refuseTask reports a task failed without running it, through the queue
// like any status, with the reason as its activity and in its log. The next
// fetch waits until the Manager has it: the Manager may hand the same task
// out again, until its own limits fail the task for good.
func (w *Worker) refuseTask(taskID, reason string) {
	w.log.Error("refusing a task: reporting it failed without running it", "task", taskID, "reason", reason)
	msg := "cajon refused to run this task: " + reason
	err := w.queue.Append(context.Background(), updates.Update{
		TaskID: taskID, Status: string(flamenco.TaskFailed), Activity: phrase.Cut(phrase.FirstLine(msg), maxActivityBytes), Log: msg,
	})
	if err != nil && !errors.Is(err, updates.ErrNotDurable) {
		w.log.Error("queueing the failure of a refused task failed; the Manager will hand it out again", "task", taskID, "error", err)
	}
	w.settle = true
}

// taskGone is the update queue's OnTaskGone: an update was answered 409/404,
// so the task is no longer this worker's; abort it if it still runs.
func (w *Worker) taskGone(taskID string) {
	w.mu.Lock()
	cur := w.cur
	w.mu.Unlock()
	if cur != nil && cur.id == taskID {
		w.log.Info("the Manager refused an update of the running task: it is no longer this worker's; aborting it", "task", taskID)
		cur.abort(&abortCause{reason: "the Manager refused a task update: the task is no longer assigned to this worker"})
	}
}

// taskOf converts an assigned task for the runner.
func taskOf(at *flamenco.AssignedTask) task.Task {
	t := task.Task{ID: at.UUID, JobID: at.Job, Name: at.Name, Type: at.TaskType, Commands: make([]task.Command, 0, len(at.Commands))}
	for _, c := range at.Commands {
		t.Commands = append(t.Commands, task.Command{Name: c.Name, Params: c.Parameters, TotalSteps: c.TotalStepCount})
	}
	return t
}
