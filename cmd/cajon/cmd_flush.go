package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cajonfarm/cajon/host/identities"
	"github.com/cajonfarm/cajon/host/worker"
)

func cmdFlush(ctx context.Context, env *cliEnv, args []string) error {
	var (
		common commonFlags
		mf     managerFlags
	)
	fs := newFlags(env, "flush", "flush [--manager URL] [--timeout D] [flags]",
		`Deliver the task updates queued in the state directory to the Manager, with
the saved credentials, and exit. Use it after a worker stopped with updates
still queued (the Manager was unreachable) when it will not run again soon.
Stop a running worker first: 'cajon run' delivers the queue on its own.
The queues of a process with several identities (<state_dir>/identity-<n>)
are delivered too, each with its identity's credentials.
Failures are retried until --timeout (default: until interrupted).
Exit status: 0 when the queue is empty, 1 otherwise.`)
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
	// The queue of a plain worker, and those of the identities of a
	// process that ran several ([[worker.identities]]).
	dirs, err := identities.ExistingStateDirs(cfg.StateDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(worker.QueuePath(cfg.StateDir)); err == nil || len(dirs) == 0 {
		dirs = append([]string{cfg.StateDir}, dirs...)
	}
	total := 0
	for _, dir := range dirs {
		c := *cfg
		c.StateDir = dir
		n, err := worker.Flush(ctx, &c, log.Named("flush"), nil)
		total += n
		if err != nil {
			return err
		}
	}
	if len(dirs) > 1 {
		fmt.Fprintf(env.stdout, "sent %d queued task updates of %d workers; the queues are empty\n", total, len(dirs))
		return nil
	}
	fmt.Fprintf(env.stdout, "sent %d queued task updates; the queue is empty\n", total)
	return nil
}
