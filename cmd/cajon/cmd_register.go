package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
)

func cmdRegister(ctx context.Context, env *cliEnv, args []string) error {
	var (
		common commonFlags
		mf     managerFlags
	)
	fs := newFlags(env, "register", "register [--manager URL] [--name NAME] [flags]",
		`Register this machine with the Flamenco Manager as a new worker, and save the
new credentials in the state directory (mode 0600), replacing the old ones.
The Manager then lists a new worker; the old entry can be removed there.
'cajon run' registers on its own when it has no credentials: use this to start
afresh, e.g. after cloning a machine image. Stop a running worker first.
Failures are retried until --timeout (default: until interrupted).`)
	common.register(fs)
	mf.register(fs, false)
	timeout := retryTimeoutFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	// The timeout bounds the search for a Manager too.
	ctx, cancel := withRetryTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := loadManagerConfig(ctx, env, fs, &common, &mf, false)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.stderr)
	reg, err := openPlugins(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	w, err := worker.New(worker.Options{
		Config:  cfg,
		Runner:  &task.Runner{Commands: reg},
		Plugins: reg,
		Logger:  log.Named("worker"),
	})
	if err != nil {
		return err
	}
	creds, err := w.Register(ctx)
	if err != nil {
		return fmt.Errorf("registering with %s: %w", cfg.Manager.URL, err)
	}
	fmt.Fprintf(env.stdout, "registered as worker %s (%q) with %s at %s\ntask types: %v\ncredentials: %s\n",
		creds.WorkerID, creds.Name, creds.Manager, creds.RegisteredAt.Format(time.RFC3339),
		w.TaskTypes(), worker.CredentialsPath(cfg.StateDir))
	return nil
}
