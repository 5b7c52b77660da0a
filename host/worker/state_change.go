package worker

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// enter goes to the state for a status the Manager requested, acknowledging
// it first where the state needs it.
//
//   - awake, asleep: acknowledged, then the fetch loop or the sleep poll.
//   - offline: acknowledged, queue delivered, signed off, exit 0.
//   - restart: the same with restart_exit_code. A worker without one signed
//     on without can_restart, so a conforming Manager never asks; if one
//     does, the worker refuses by going asleep (a restart it cannot do must
//     not turn into a silent exit), and stays asleep until asked for
//     another status.
//   - error: the Manager considers the worker failed or timed out: sign on
//     again.
//   - anything else (starting, testing, a status of a newer Manager): asleep.
func (w *Worker) enter(ctx context.Context, status flamenco.WorkerStatus) stateFunc {
	switch status {
	case flamenco.WorkerAwake:
		w.ignored = ""
		if !w.acknowledge(ctx, status) {
			return w.afterFailedAck(ctx)
		}
		return w.stateAwake
	case flamenco.WorkerAsleep:
		w.ignored = ""
		if !w.acknowledge(ctx, status) {
			return w.afterFailedAck(ctx)
		}
		return w.stateAsleep
	case flamenco.WorkerOffline:
		return w.stateOffline
	case flamenco.WorkerRestart:
		if w.mc.RestartExitCode == 0 {
			if w.ignored != string(status) {
				w.log.Warn("the Manager asks the worker to restart, but manager.restart_exit_code is 0 (no supervisor restarts it): " +
					"refusing by going asleep; set restart_exit_code (e.g. 47, with systemd's RestartForceExitStatus=47) to allow restarts")
			}
			return w.sleepInstead(ctx, status)
		}
		return w.stateRestart
	case flamenco.WorkerError:
		w.log.Warn("the Manager puts the worker in status error; signing on again")
		return w.stateSignOn
	}
	if w.ignored != string(status) {
		w.log.Warn("the Manager requests a status this worker does not support; going asleep instead", "status_requested", status)
	}
	return w.sleepInstead(ctx, status)
}

// sleepInstead answers a request the worker cannot follow by going asleep.
// The request stays pending on the Manager; the sleep poll ignores it until
// another one comes.
func (w *Worker) sleepInstead(ctx context.Context, status flamenco.WorkerStatus) stateFunc {
	already := w.state == StateAsleep
	w.ignored = string(status)
	if !already && !w.acknowledge(ctx, flamenco.WorkerAsleep) {
		return w.afterFailedAck(ctx)
	}
	return w.stateAsleep
}

// afterFailedAck picks the state after an acknowledgement the Manager
// refused: sign on again (which registers anew after a 403), or stop when
// ctx ended.
func (w *Worker) afterFailedAck(ctx context.Context) stateFunc {
	if ctx.Err() != nil {
		return nil
	}
	return w.stateSignOn
}

// acknowledge tells the Manager the worker is now in status, retrying network
// errors and 5xx until it lands. It reports false when ctx ended or the
// Manager refused (403, 409, 400): the caller signs on again.
func (w *Worker) acknowledge(ctx context.Context, status flamenco.WorkerStatus) bool {
	retry := backoff.Backoff{Min: w.tm.RetryMin, Max: w.tm.RetryMax, Jitter: 0.2}
	for {
		err := w.client().StateChanged(ctx, status)
		if err == nil {
			w.log.Info("worker status changed", "status", status)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !flamenco.Retryable(err) {
			w.log.Warn("the Manager refused the status change; signing on again", "status", status, "error", err)
			return false
		}
		d := retry.NextAtLeast(flamenco.RetryAfterOf(err))
		w.log.Warn("telling the Manager about the status change failed; retrying", "status", status,
			"attempt", retry.Failures(), "retry_in", d.Round(time.Millisecond), "error", err)
		if !sleep(ctx, d) {
			return false
		}
	}
}
