// Package workertest runs an in-process Cajon worker against the fake
// Manager (internal/managertest) with real plugins, wired as `cajon run`
// wires it: the worker's own tests, the end-to-end tests, the fault suite,
// the identities and metrics tests and benchmarks use it. Tests of the
// worker's unexported parts cannot (this package imports the worker).
package workertest

import (
	"context"
	"testing"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/managerevents"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/internal/managertest"
	"github.com/cajonfarm/cajon/internal/proctest"
	"github.com/hashicorp/go-hclog"
)

// stopLimit bounds Stop and Wait: a worker that takes longer is hung.
const stopLimit = 60 * time.Second

// FastTimings shorten the worker's internal delays so that tests do not wait
// out production backoffs.
func FastTimings() worker.Timings {
	return worker.Timings{
		FetchBackoffMin:   20 * time.Millisecond,
		RetryMin:          20 * time.Millisecond,
		RetryMax:          200 * time.Millisecond,
		LogBatch:          50 * time.Millisecond,
		UpdatesMinBackoff: 20 * time.Millisecond,
		UpdatesMaxBackoff: 300 * time.Millisecond,
		ShutdownDelivery:  5 * time.Second,
		SignOffTimeout:    2 * time.Second,
		PreviewBackoffMax: 200 * time.Millisecond,
		Events: managerevents.Timings{
			BackoffMin: 20 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
			PingEvery: 100 * time.Millisecond, DeadAfter: 500 * time.Millisecond, DialTimeout: 5 * time.Second,
		},
	}
}

// Config is the default configuration pointed at mgr, with a state directory
// of the test's own.
func Config(tb testing.TB, mgr *managertest.Manager, name string) *config.Config {
	cfg := config.Defaults()
	cfg.StateDir = tb.TempDir()
	cfg.Manager.URL = mgr.URL()
	cfg.Manager.WorkerName = name
	return &cfg
}

// FastConfig is Config with the Manager polled often (may-i-run and the
// asleep worker's state every 100 ms, fetches at least every 200 ms, with
// the event stream up or not) and a request timeout of 5 s, so that tests do
// not wait out production intervals.
func FastConfig(tb testing.TB, mgr *managertest.Manager, name string) *config.Config {
	cfg := Config(tb, mgr, name)
	cfg.Manager.MayIRunInterval = 100 * time.Millisecond
	cfg.Manager.AsleepPollInterval = 100 * time.Millisecond
	cfg.Manager.FetchBackoffMax = 200 * time.Millisecond
	cfg.Manager.EventMayIRunInterval = cfg.Manager.MayIRunInterval
	cfg.Manager.EventFetchBackoffMax = cfg.Manager.FetchBackoffMax
	cfg.Manager.RequestTimeout = 5 * time.Second
	return cfg
}

// OpenPlugins opens the plugins of opts and closes them when the test ends.
func OpenPlugins(tb testing.TB, opts plugins.Options) *plugins.Registry {
	tb.Helper()
	reg, err := plugins.Open(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close)
	return reg
}

// Worker is a worker running in the background of a test.
type Worker struct {
	*worker.Worker
	// Log holds the worker's messages, at debug level.
	Log *proctest.Output

	tb     testing.TB
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	err    error
}

// Start runs a worker of cfg with the plugins of reg, as `cajon run` wires
// it; see StartOptions.
func Start(tb testing.TB, cfg *config.Config, reg *plugins.Registry, tm worker.Timings, log *proctest.Output) *Worker {
	tb.Helper()
	return StartOptions(tb, worker.Options{
		Config: cfg,
		Runner: &task.Runner{Commands: reg, Grace: cfg.KillGrace,
			Guard: plugins.Guard{StallTimeout: cfg.StallTimeout, MaxMemory: cfg.MaxTaskMemory}},
		Plugins: reg,
		Timings: tm,
	}, log)
}

// StartOptions runs a worker made with opts until Stop or the end of the
// test, logging at debug level to log (nil: a new one); when the test
// failed, the log is printed then.
func StartOptions(tb testing.TB, opts worker.Options, log *proctest.Output) *Worker {
	tb.Helper()
	if log == nil {
		log = &proctest.Output{}
	}
	opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.Debug, Output: log})
	w, err := worker.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Worker{Worker: w, Log: log, tb: tb, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.code, r.err = w.Run(ctx)
	}()
	tb.Cleanup(func() {
		r.Stop()
		if tb.Failed() {
			tb.Logf("worker log:\n%s", tail(log.String(), 20000))
		}
	})
	return r
}

// Stop shuts the worker down as SIGTERM does and returns Run's exit code.
// Calling it again returns the same.
func (r *Worker) Stop() int {
	r.tb.Helper()
	r.cancel()
	return r.Wait()
}

// Wait waits for Run to return on its own (the Manager sent the worker
// offline, or asked it to restart) and returns its exit code.
func (r *Worker) Wait() int {
	r.tb.Helper()
	select {
	case <-r.done:
	case <-time.After(stopLimit):
		r.tb.Fatalf("the worker did not stop within %s", stopLimit)
	}
	if r.err != nil {
		r.tb.Errorf("worker Run: %v", r.err)
	}
	return r.code
}

// Exited reports whether Run has returned.
func (r *Worker) Exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// ShellTask is a task that runs an sh script through the testkit plugin's
// test-tree command.
func ShellTask(name, script string) managertest.Task {
	return CommandTask(name, "test", "test-tree", map[string]any{"script": script})
}

// CommandTask is a task of one command.
func CommandTask(name, typ, command string, params map[string]any) managertest.Task {
	return managertest.Task{Name: name, Type: typ, Commands: []managertest.Command{{Name: command, Parameters: params}}}
}

// tail returns the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
