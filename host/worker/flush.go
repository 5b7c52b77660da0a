package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/updates"
	"github.com/hashicorp/go-hclog"
)

// Flush delivers the task updates queued in cfg.StateDir to the Manager with
// the saved credentials and returns how many were queued, once all are
// delivered (or dropped by the Manager as no longer this worker's). It does
// not sign on: `cajon flush` only empties the queue, e.g. before a worker is
// retired. It retries failures until ctx ends.
func Flush(ctx context.Context, cfg *config.Config, log hclog.Logger, httpClient *http.Client) (int, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.Manager.URL == "" {
		return 0, errors.New("no Manager URL: set manager.url in cajon.toml, CAJON_MANAGER_URL or --manager")
	}
	qpath := QueuePath(cfg.StateDir)
	q, err := updates.Open(ctx, updates.Options{Path: qpath, Logger: log.Named("updates"), MaxBackoff: Timings{}.withDefaults().UpdatesMaxBackoff,
		MaxRequestLogBytes: cfg.Manager.MaxUpdateLogBytes, FullLog: newFullLogs(LogDir(cfg.StateDir)).where})
	if err != nil {
		return 0, err
	}
	defer q.Close()
	n := q.Pending()
	if n == 0 {
		log.Info("no task updates are queued", "queue", qpath)
		return 0, nil
	}
	creds, err := LoadCredentials(CredentialsPath(cfg.StateDir))
	if err != nil {
		return 0, fmt.Errorf("%d task updates are queued in %s, but they cannot be sent: %w", n, qpath, err)
	}
	base, err := flamenco.New(flamenco.Config{BaseURL: cfg.Manager.URL, WorkerID: creds.WorkerID, Secret: creds.Secret,
		Timeout: cfg.Manager.RequestTimeout, HTTPClient: httpClient})
	if err != nil {
		return 0, err
	}
	log.Info("delivering queued task updates", "queued", n, "manager", cfg.Manager.URL, "worker_id", creds.WorkerID)
	if err := q.Flush(ctx, clientSender{base}); err != nil {
		return n, err
	}
	return n, nil
}
