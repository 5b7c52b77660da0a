package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/discovery"
	"github.com/cajonfarm/cajon/host/fileroots"
	"github.com/cajonfarm/cajon/host/flamenco"
	"github.com/cajonfarm/cajon/host/stockworker"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
)

// managerFlags are the flags of the subcommands that talk to a Manager.
type managerFlags struct {
	manager         string
	name            string
	restartExitCode int
}

func (m *managerFlags) register(fs *flag.FlagSet, withRestart bool) {
	fs.StringVar(&m.manager, "manager", "", "the Flamenco Manager, e.g. http://flamenco:8080 or flamenco:8080 (overrides manager.url; none: find it on the network)")
	fs.StringVar(&m.name, "name", "", "the worker's name in the Manager (overrides manager.worker_name)")
	if withRestart {
		fs.IntVar(&m.restartExitCode, "restart-exit-code", 0,
			"exit with this code when the Manager asks for a restart, for a supervisor to start cajon again; 0 refuses restarts (overrides manager.restart_exit_code)")
	}
}

// layer returns the config keys of the flags given on the command line.
func (m *managerFlags) layer(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "manager":
			// As the stock worker reads -manager: a bare host:port is http.
			out["manager.url"] = m.manager
			if u, err := stockworker.ManagerURL(m.manager); err == nil {
				out["manager.url"] = u
			}
		case "name":
			out["manager.worker_name"] = m.name
		case "restart-exit-code":
			out["manager.restart_exit_code"] = strconv.Itoa(m.restartExitCode)
		}
	})
	return out
}

// parseNoArgs parses the flags of a command that takes no arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

// loadManagerConfig loads the config of parsed flags. With takeOver
// (cajon run), the first start in a stock worker's working folder takes
// its settings and identity over. With no Manager URL configured, it finds
// one on the network (SSDP), as the stock worker does, searching until one
// answers or ctx ends.
func loadManagerConfig(ctx context.Context, env *cliEnv, fs *flag.FlagSet, common *commonFlags, mf *managerFlags, takeOver bool) (*config.Config, error) {
	cfg, _, err := common.load(env, mf.layer(fs))
	if err != nil {
		return nil, err
	}
	if takeOver {
		wrote, err := takeOverStockWorker(env, cfg, newLogger(cfg, env.stderr))
		if err != nil {
			return nil, err
		}
		if wrote {
			if cfg, _, err = common.load(env, mf.layer(fs)); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Manager.URL == "" {
		log := newLogger(cfg, env.stderr).Named("discovery")
		log.Info("no Flamenco Manager configured (manager.url, --manager): searching the network for one over SSDP, as flamenco-worker does; Ctrl+C stops ('cajon help' lists the commands)")
		found, err := discovery.Wait(ctx, discovery.Options{Logger: log})
		if errors.Is(err, context.Canceled) {
			// Stopped (a signal) while searching: a clean stop, exit 0.
			log.Info("stopped before a Manager was found", "cause", context.Cause(ctx))
			return nil, &exitError{code: 0}
		}
		if err != nil {
			return nil, err
		}
		cfg.Manager.URL = found[0].URL
	}
	return cfg, nil
}

func cmdRun(ctx context.Context, env *cliEnv, args []string) error {
	var (
		common commonFlags
		mf     managerFlags
	)
	fs := newFlags(env, "run", "run [--manager URL] [--name NAME] [--restart-exit-code N] [flags]",
		`Work for a Flamenco 3 Manager: register when there are no credentials yet,
sign on, then run the tasks the Manager hands out until it asks the worker to
go offline or to restart. Plain 'cajon' does the same, and takes flamenco-worker's
flags. With no Manager configured, it finds one on the network (SSDP), searching
until one answers. On its first start in a folder with a stock worker's
flamenco-worker.yaml, it takes that worker over (cajon import flamenco-worker).

SIGINT/SIGTERM/SIGHUP stop cleanly: the running task is aborted (or finished,
with manager.finish_task_on_shutdown), queued task updates are delivered, and
the worker signs off so the Manager requeues the task. A second signal exits at
once.
SIGUSR1 logs what the worker is doing.

Exit status: 0 after going offline or a clean shutdown, restart_exit_code when
the Manager asked for a restart, 1 when the worker could not start.`)
	common.register(fs)
	mf.register(fs, true)
	identityCount := fs.Int("identities", 0,
		"work as N Flamenco workers in this process, named <worker_name>-1 to -N, each with its own state in <state_dir>/identity-<n>, sharing the plugins (or [[worker.identities]])")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := loadManagerConfig(ctx, env, fs, &common, &mf, *identityCount == 0)
	if err != nil {
		return err
	}
	configured, err := identitiesToRun(cfg, *identityCount)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.stderr)
	// Before the plugins' describe cache, the first file written there.
	if err := worker.PrepareStateDir(cfg.StateDir, nil); err != nil { // the worker warns about its mode
		return err
	}

	fm := newFarmMetrics(cfg, log)
	// By default file commands act only in the Manager's shared storage.
	storage, err := flamenco.New(flamenco.Config{BaseURL: cfg.Manager.URL, Timeout: cfg.Manager.RequestTimeout})
	if err != nil {
		return err
	}
	roots := fileroots.ForManager(cfg.Files.AllowedRoots, storage, os.TempDir())
	reg, err := openPluginsWith(ctx, cfg, log, roots, fm.plugins())
	if err != nil {
		return err
	}
	defer reg.Close()
	ws, stopWatching, err := startWorkstation(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopWatching()
	if len(configured) > 0 {
		return runIdentities(ctx, cfg, configured, reg, log, fm, ws)
	}
	opts := worker.Options{
		Config:  cfg,
		Runner:  &task.Runner{Commands: reg, Grace: cfg.KillGrace, Guard: commandGuard(cfg)},
		Plugins: reg,
		Logger:  log.Named("worker"),
	}
	if ws != nil {
		opts.Workstation = ws
	}
	name, err := cfg.Manager.NameAtStart()
	if err != nil {
		return err
	}
	wm := fm.worker(name)
	if wm != nil {
		opts.Runner, opts.Observer = wm.Tasks(opts.Runner), wm
	}
	w, err := worker.New(opts)
	if err != nil {
		return err
	}
	fm.check("update queue of worker "+name, w.CheckQueue)
	fm.managerCheck(wm, w.NotWorkingBecause)
	if wm != nil {
		wm.WatchActivity(w.Activity)
	}
	if err := fm.serve(); err != nil {
		return err
	}
	defer fm.close()
	code, err := w.Run(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// identitiesToRun are the worker identities of this process: --identities N
// with the defaults, or the [[worker.identities]] tables; none for one plain
// worker.
func identitiesToRun(cfg *config.Config, n int) ([]config.IdentityConfig, error) {
	switch {
	case n < 0:
		return nil, &exitError{code: 2, err: fmt.Errorf("--identities %d: must be 1 or more", n)}
	case n > 0 && len(cfg.Worker.Identities) > 0:
		return nil, &exitError{code: 2, err: fmt.Errorf("--identities %d and %d [[worker.identities]] tables: use one or the other", n, len(cfg.Worker.Identities))}
	case n > 0:
		return make([]config.IdentityConfig, n), nil
	}
	return cfg.Worker.Identities, nil
}
