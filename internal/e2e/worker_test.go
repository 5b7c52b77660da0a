package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/workertest"
)

// workerConfig is the default configuration pointed at mgr.
func workerConfig(tb testing.TB, mgr *managertest.Manager) *config.Config {
	return workertest.Config(tb, mgr, "e2e-render-node")
}

// runningWorker is a worker with its own plugins, as `cajon run` wires it.
type runningWorker struct {
	*workertest.Worker
	reg *plugins.Registry
}

// startWorker opens the plugins built by TestMain and runs a worker of cfg
// until stop or the end of the test. Start it after isolateTemp: the plugins
// inherit the environment.
func startWorker(tb testing.TB, cfg *config.Config, tm worker.Timings) *runningWorker {
	tb.Helper()
	reg, err := plugins.Open(context.Background(), plugins.Options{
		Dirs: []string{filepath.Join(binDir, "plugins")}, IdleTimeout: cfg.PluginIdleTimeout, Config: cfg.Plugins,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close) // after the worker's own cleanup stopped it
	return &runningWorker{Worker: workertest.Start(tb, cfg, reg, tm, nil), reg: reg}
}

// stop shuts the worker down like SIGTERM, stops its plugins and returns
// Run's exit code.
func (r *runningWorker) stop() int {
	code := r.Stop()
	r.reg.Close()
	return code
}

// waitJobEnd waits until the job is completed, failed or canceled on mgr
// and returns its state; a deadline only stops a hung test.
func waitJobEnd(tb testing.TB, mgr *managertest.Manager, id string, within time.Duration) managertest.JobState {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var js managertest.JobState
	err := mgr.WaitFor(ctx, func() bool {
		js, _ = mgr.Job(id)
		switch js.Status {
		case managertest.StatusCompleted, managertest.StatusFailed, managertest.StatusCanceled:
			return true
		}
		return false
	})
	if err != nil {
		tb.Fatalf("job %s did not end within %s (status %s): %v", id, within, js.Status, err)
	}
	return js
}
