package worker

import (
	"context"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// stateAsleep runs no task and asks the Manager every asleep_poll_interval
// whether it wants another status, and at once when the event stream says
// the Manager requested a change of this worker. Failed polls are retried at the same
// pace; a 403 or 409 signs on again.
func (w *Worker) stateAsleep(ctx context.Context) stateFunc {
	w.setState(StateAsleep)
	failed := 0
	for {
		if !w.sleepOrHint(ctx, backoff.Jitter(w.mc.AsleepPollInterval, 0.1)) {
			return nil
		}
		st, changed, err := w.client().State(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			switch flamenco.KindOf(err) {
			case flamenco.KindUnauthorized, flamenco.KindConflict:
				w.log.Warn("the Manager refused the state poll; signing on again", "error", err)
				return w.stateSignOn
			}
			failed++
			if failed == 1 {
				w.log.Warn("asking the Manager for the requested status failed; retrying", "error", err)
			}
			continue
		}
		w.rejoin.Reset()
		if failed > 0 {
			w.log.Info("the Manager answers again", "failed_attempts", failed)
			failed = 0
		}
		if !changed || string(st.StatusRequested) == w.ignored {
			continue
		}
		w.log.Info("the Manager requests a status change", "status_requested", st.StatusRequested)
		return w.enter(ctx, st.StatusRequested)
	}
}
