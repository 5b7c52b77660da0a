package worker

import (
	"context"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// stateOffline follows the Manager's request to go offline: acknowledge,
// deliver the queue, sign off, exit 0.
func (w *Worker) stateOffline(ctx context.Context) stateFunc {
	w.acknowledgeLeaving(ctx, flamenco.WorkerOffline)
	return w.leave(0, "the Manager asked the worker to go offline")
}

// stateRestart follows the Manager's request to restart: acknowledge,
// deliver the queue, sign off, exit with restart_exit_code so that the
// supervisor (systemd's RestartForceExitStatus) starts the worker again.
func (w *Worker) stateRestart(ctx context.Context) stateFunc {
	w.acknowledgeLeaving(ctx, flamenco.WorkerRestart)
	return w.leave(w.mc.RestartExitCode, "the Manager asked the worker to restart")
}

// stateShutdown is the clean shutdown on SIGINT/SIGTERM/SIGHUP (ctx has
// ended; its cause names the signal). The running task was already aborted
// (or finished, with finish_task_on_shutdown) without being reported
// failed; the sign-off makes the Manager requeue it.
func (w *Worker) stateShutdown(ctx context.Context) stateFunc {
	return w.leave(0, shutdownReason(ctx))
}

// acknowledgeLeaving tells the Manager the worker takes the status, trying
// for at most ShutdownDelivery: a worker on its way out does not wait for an
// unreachable Manager forever.
func (w *Worker) acknowledgeLeaving(ctx context.Context, status flamenco.WorkerStatus) {
	ctx, cancel := context.WithTimeout(ctx, w.tm.ShutdownDelivery)
	defer cancel()
	w.acknowledge(ctx, status)
}

// leave delivers the update queue (bounded by ShutdownDelivery), signs off
// (bounded by SignOffTimeout) and makes Run return code.
//
// A worker that never signed on leaves at once, as the stock worker does: it
// has not reached the Manager, so waiting for it would only hold up the
// shutdown, and the queue stays on disk for the next start. When the
// shutdown cut a sign-on request off, the Manager may have taken it, so the
// worker signs off all the same: else the Manager would show it starting
// until it timed it out.
func (w *Worker) leave(code int, why string) stateFunc {
	w.leaving = true
	w.exit = code
	w.setState(StateLeaving)
	deliver := w.hasCredentials() && w.signedOn
	signOff := w.hasCredentials() && (w.signedOn || w.cutOff)
	switch {
	case deliver:
		w.log.Info("leaving: delivering queued task updates, then signing off", "reason", why, "queued", w.queue.Pending())
	case signOff:
		w.log.Info("leaving while signing on: signing off, in case the Manager took the sign-on", "reason", why, "queued", w.queue.Pending())
	default:
		w.log.Info("leaving before the worker signed on: queued task updates stay on disk for the next start", "reason", why, "queued", w.queue.Pending())
	}

	if deliver {
		ctx, cancel := context.WithTimeout(context.Background(), w.tm.ShutdownDelivery)
		err := w.queue.Flush(ctx, sender{w})
		cancel()
		if err != nil {
			w.log.Warn("not every task update could be delivered; they stay queued on disk and are delivered "+
				"by the next start or by `cajon flush`", "error", err)
		}
	}
	if signOff {
		ctx, cancel := context.WithTimeout(context.Background(), w.tm.SignOffTimeout)
		err := w.client().SignOff(ctx)
		cancel()
		if err != nil {
			w.log.Warn("signing off failed; the Manager will time the worker out and requeue its tasks", "error", err)
		} else {
			w.log.Info("signed off")
		}
	}
	w.log.Info("worker stopped", "exit_code", code)
	return nil
}
