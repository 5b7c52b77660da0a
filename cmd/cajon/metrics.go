package main

import (
	"context"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/hashicorp/go-hclog"
)

// farmMetrics is the [metrics] of one cajon process: /metrics and /healthz.
// It is nil when metrics.listen is empty, and a nil *farmMetrics does
// nothing, so the commands wire it without asking.
type farmMetrics struct {
	m      *metrics.Metrics
	cfg    config.MetricsConfig
	log    hclog.Logger
	checks []metrics.Check
	srv    *metrics.Server
}

// newFarmMetrics returns the metrics of this process, or nil when they are off.
func newFarmMetrics(cfg *config.Config, log hclog.Logger) *farmMetrics {
	if cfg.Metrics.Listen == "" {
		return nil
	}
	return &farmMetrics{m: metrics.New(), cfg: cfg.Metrics, log: log}
}

// plugins is the observer for the plugin registry; nil when metrics are off
// (a nil *metrics.Metrics must not become a non-nil interface).
func (f *farmMetrics) plugins() plugins.Observer {
	if f == nil {
		return nil
	}
	return f.m
}

// worker returns the metrics of the worker named name, or nil when metrics
// are off.
func (f *farmMetrics) worker(name string) *metrics.Worker {
	if f == nil {
		return nil
	}
	return f.m.Worker(name)
}

// check adds a /healthz check.
func (f *farmMetrics) check(name string, run func(ctx context.Context) error) {
	if f != nil {
		f.checks = append(f.checks, metrics.Check{Name: name, Run: run})
	}
}

// managerCheck adds the /healthz check that the Manager answers wm. While
// away says why the worker deliberately does not talk to the Manager (a
// person uses the workstation), the check passes and says so; away may be nil.
func (f *farmMetrics) managerCheck(wm *metrics.Worker, away func() string) {
	if f == nil {
		return
	}
	c := wm.ManagerCheck(f.cfg.ManagerAnswerMaxAge)
	if away != nil {
		run := c.Run
		c.Run = func(ctx context.Context) error {
			if away() != "" {
				return nil
			}
			return run(ctx)
		}
		c.Note = away
	}
	f.checks = append(f.checks, c)
}

// serve starts serving; a port in use is an error.
func (f *farmMetrics) serve() error {
	if f == nil {
		return nil
	}
	srv, err := metrics.Listen(f.cfg.Listen, f.m.Handler(f.checks...), f.cfg.WebConfigFile)
	if err != nil {
		return err
	}
	f.srv = srv
	f.log.Info("serving metrics and health", "addr", srv.Addr(), "metrics", srv.URL()+"/metrics",
		"health", srv.URL()+"/healthz")
	return nil
}

// close stops serving.
func (f *farmMetrics) close() {
	if f == nil || f.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Close(ctx); err != nil {
		f.log.Warn("stopping the metrics server", "error", err)
	}
}
