package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/hashicorp/go-hclog"
)

// fastTimings shorten the worker's internal delays for tests (the same as
// host/worker's own tests use).
var fastTimings = worker.Timings{
	FetchBackoffMin:   20 * time.Millisecond,
	RetryMin:          20 * time.Millisecond,
	RetryMax:          200 * time.Millisecond,
	LogBatch:          50 * time.Millisecond,
	UpdatesMinBackoff: 20 * time.Millisecond,
	UpdatesMaxBackoff: 200 * time.Millisecond,
	ShutdownDelivery:  5 * time.Second,
	SignOffTimeout:    2 * time.Second,
	PreviewBackoffMax: 200 * time.Millisecond,
}

// workerConfig is the default configuration pointed at mgr, with a state
// directory of the test's own.
func workerConfig(tb testing.TB, mgr *managertest.Manager) *config.Config {
	cfg := config.Defaults()
	cfg.StateDir = tb.TempDir()
	cfg.Manager.URL = mgr.URL()
	cfg.Manager.WorkerName = "e2e-render-node"
	return &cfg
}

// syncBuffer collects the worker's log across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningWorker is a worker running in the background, with the plugins
// built by TestMain, as `cajon run` wires it.
type runningWorker struct {
	tb     testing.TB
	reg    *plugins.Registry
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	err    error

	closePlugins sync.Once
}

// startWorker opens the plugins and runs a worker of cfg until stop or the
// end of the test. Start it after isolateTemp: the plugins inherit the
// environment.
func startWorker(tb testing.TB, cfg *config.Config, tm worker.Timings) *runningWorker {
	tb.Helper()
	reg, err := plugins.Open(context.Background(), plugins.Options{
		Dirs: []string{filepath.Join(binDir, "plugins")}, IdleTimeout: cfg.PluginIdleTimeout, Config: cfg.Plugins,
	})
	if err != nil {
		tb.Fatal(err)
	}
	logBuf := &syncBuffer{}
	w, err := worker.New(worker.Options{
		Config:  cfg,
		Runner:  &task.Runner{Commands: reg, Grace: cfg.KillGrace},
		Plugins: reg,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.Debug, Output: logBuf}),
		Timings: tm,
	})
	if err != nil {
		reg.Close()
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningWorker{tb: tb, reg: reg, log: logBuf, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.code, r.err = w.Run(ctx)
	}()
	tb.Cleanup(func() {
		r.stop()
		if tb.Failed() {
			tb.Logf("worker log:\n%s", logBuf.String())
		}
	})
	return r
}

// stop shuts the worker down like SIGTERM, stops its plugins and returns
// Run's exit code. Calling it again returns the same.
func (r *runningWorker) stop() int {
	r.tb.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.tb.Fatalf("the worker did not stop within 60 s; log:\n%s", r.log.String())
	}
	r.closePlugins.Do(r.reg.Close)
	if r.err != nil {
		r.tb.Fatalf("worker Run: %v", r.err)
	}
	return r.code
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
