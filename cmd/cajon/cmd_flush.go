package main

import (
	"context"
	"fmt"

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
Failures are retried until --timeout (default: until interrupted).
Exit status: 0 when the queue is empty, 1 otherwise.`)
	common.register(fs)
	mf.register(fs, false)
	timeout := retryTimeoutFlag(fs)
	cfg, err := loadManagerConfig(env, fs, &common, &mf, args)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.stderr)
	ctx, cancel := withRetryTimeout(ctx, *timeout)
	defer cancel()
	n, err := worker.Flush(ctx, cfg, log.Named("flush"), nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "sent %d queued task updates; the queue is empty\n", n)
	return nil
}
