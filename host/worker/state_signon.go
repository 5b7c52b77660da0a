package worker

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/version"
)

// stateSignOn tells the Manager the worker is here, registering first when
// it has no credentials, then goes to the status the Manager asks for.
//
// Sign-on retries network errors, 5xx, 401s and malformed answers forever.
// Only a 403 (the Manager's answer to credentials it does not know) leads
// to a new registration: a 502 from a proxy in front of a restarting Manager,
// or a 401 from an authenticating proxy, must not create a second worker.
func (w *Worker) stateSignOn(ctx context.Context) stateFunc {
	w.setState(StateSigningOn)
	w.ignored = ""
	if w.inUse() != "" {
		return w.stateInUse
	}
	if w.signedOn {
		// Signing on again (timed out, credentials lost, a rejected state
		// change): slow down when it keeps happening.
		d := w.rejoin.Next()
		if w.rejoin.Failures() > 1 && !sleep(ctx, d) {
			return nil
		}
	}
	if !w.hasCredentials() {
		if err := w.register(ctx); err != nil {
			return nil
		}
		w.setState(StateSigningOn)
	}
	retry := backoff.Backoff{Min: w.tm.RetryMin, Max: w.tm.RetryMax, Jitter: 0.2}
	for {
		ans, err := w.client().SignOn(ctx, flamenco.WorkerSignOn{
			Name:               w.mc.WorkerName,
			SupportedTaskTypes: w.taskTypes,
			SoftwareVersion:    version.Version,
			CanRestart:         w.mc.RestartExitCode != 0,
		})
		if err == nil {
			w.signedOn = true
			w.log.Info("signed on", "manager", w.mc.URL, "worker_id", w.client().WorkerID(), "name", w.mc.WorkerName,
				"status_requested", ans.StatusRequested, "task_types", w.taskTypes, "can_restart", w.mc.RestartExitCode != 0)
			return w.enter(ctx, ans.StatusRequested)
		}
		if ctx.Err() != nil {
			w.cutOff = true
			return nil
		}
		if flamenco.KindOf(err) == flamenco.KindUnauthorized {
			w.log.Warn("the Manager rejected the worker's credentials; registering as a new worker", "error", err)
			if err := w.register(ctx); err != nil {
				return nil
			}
			w.setState(StateSigningOn)
			retry.Reset()
			continue
		}
		d := retry.NextAtLeast(flamenco.RetryAfterOf(err))
		w.log.Warn("signing on failed; retrying", "attempt", retry.Failures(), "retry_in", d.Round(time.Millisecond), "error", err)
		if !sleep(ctx, d) {
			return nil
		}
	}
}
