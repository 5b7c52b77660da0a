// Package workertest runs an in-process Cajon worker against the fake
// Manager (internal/managertest) with real plugins, wired as `cajon run`
// wires it. The end-to-end tests, the fault suite and benchmarks use it;
// host/worker's own tests keep a harness of their own (they test unexported
// parts, and importing this package there would be a cycle).
package workertest

import (
	"bytes"
	"context"
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

// LogBuffer collects a log written from several goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Worker is a worker running in the background of a test.
type Worker struct {
	*worker.Worker
	// Log holds the worker's messages, at debug level.
	Log *LogBuffer

	tb     testing.TB
	cancel context.CancelFunc
	done   chan struct{}
	code   int
	err    error
}

// Start runs a worker of cfg with the plugins of reg until Stop or the end of
// the test; when the test failed, its log is printed then. log may be nil.
func Start(tb testing.TB, cfg *config.Config, reg *plugins.Registry, tm worker.Timings, log *LogBuffer) *Worker {
	tb.Helper()
	if log == nil {
		log = &LogBuffer{}
	}
	w, err := worker.New(worker.Options{
		Config:  cfg,
		Runner:  &task.Runner{Commands: reg, Grace: cfg.KillGrace},
		Plugins: reg,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "worker", Level: hclog.Debug, Output: log}),
		Timings: tm,
	})
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
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.tb.Fatalf("the worker did not stop within 60 s")
	}
	if r.err != nil {
		r.tb.Errorf("worker Run: %v", r.err)
	}
	return r.code
}

// tail returns the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
