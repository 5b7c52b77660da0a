package worker

import (
	"context"
	"runtime"
	"time"

	"github.com/cajonfarm/cajon/host/backoff"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// Register registers the worker anew with the Manager and saves the new
// credentials, replacing any old ones. It retries until it succeeds or ctx
// ends. It is for `cajon register`, on a Worker that does not Run: Run
// registers on its own when needed.
func (w *Worker) Register(ctx context.Context) (Credentials, error) {
	if err := w.register(ctx); err != nil {
		return Credentials{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.creds, nil
}

// register gets new credentials from the Manager, retrying every failure
// with a capped backoff: registration is never fatal, since a Manager that is
// down or misconfigured now may be fine in a minute. It returns only ctx's
// error.
func (w *Worker) register(ctx context.Context) error {
	w.setState(StateRegistering)
	reg := flamenco.WorkerRegistration{
		Name:               w.mc.WorkerName,
		Secret:             newSecret(),
		Platform:           runtime.GOOS,
		SupportedTaskTypes: w.taskTypes,
	}
	retry := backoff.Backoff{Min: w.tm.RetryMin, Max: w.tm.RetryMax, Jitter: 0.2}
	for {
		rw, err := w.base.Register(ctx, reg)
		if err == nil {
			c := Credentials{WorkerID: rw.UUID, Secret: reg.Secret, Manager: w.mc.URL, Name: rw.Name, RegisteredAt: time.Now().UTC()}
			path := CredentialsPath(w.cfg.StateDir)
			if err := SaveCredentials(path, c); err != nil {
				// Keep working with them: losing them only costs a new
				// registration at the next start.
				w.log.Error("registered, but the credentials could not be saved: the next start registers again", "error", err)
			}
			w.setCredentials(c)
			w.log.Info("registered with the Manager", "worker_id", c.WorkerID, "name", c.Name, "credentials", path,
				"task_types", w.taskTypes)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := retry.NextAtLeast(flamenco.RetryAfterOf(err))
		w.log.Warn("registering with the Manager failed; retrying", "attempt", retry.Failures(), "retry_in", d.Round(time.Millisecond), "error", err)
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}
