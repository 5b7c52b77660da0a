package main

import (
	"context"
	"strings"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/identities"
	"github.com/cajonfarm/cajon/host/metrics"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/host/workstation"
	"github.com/hashicorp/go-hclog"
)

// runIdentities works as several Flamenco workers in this process, one per
// configured identity, sharing reg.
func runIdentities(ctx context.Context, cfg *config.Config, configured []config.IdentityConfig, reg *plugins.Registry,
	log hclog.Logger, fm *farmMetrics, ws *workstation.Watcher) error {
	ids, err := identities.Resolve(cfg, configured)
	if err != nil {
		return err
	}
	// One metrics.Worker per identity, kept across its restarts.
	observed := map[int]*metrics.Worker{}
	for _, id := range ids {
		if wm := fm.worker(id.Name); wm != nil {
			observed[id.N] = wm
			wm.Device(id.GPU, id.CyclesDevice)
		}
	}
	farm, err := identities.New(identities.Options{
		Config: cfg, Identities: ids, Commands: reg, Plugins: reg, Logger: log.Named("worker"),
		Decorate: func(id identities.Identity, opts *worker.Options) {
			if wm := observed[id.N]; wm != nil {
				opts.Runner, opts.Observer = wm.Tasks(opts.Runner), wm
			}
			if ws != nil {
				// Every identity gives way to the person at the machine.
				opts.Workstation = ws
			}
		},
	})
	if err != nil {
		return err
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.Name
		fm.check("update queue of worker "+id.Name, farm.CheckQueue(i))
		if wm := observed[id.N]; wm != nil {
			fm.managerCheck(wm, farm.NotWorkingBecause(i))
			wm.WatchActivity(farm.Activity(i))
		}
	}
	if err := fm.serve(); err != nil {
		return err
	}
	defer fm.close()
	log.Info("working as several workers in one process", "identities", strings.Join(names, ", "), "state_dir", cfg.StateDir)
	_, err = farm.Run(ctx)
	return err
}
