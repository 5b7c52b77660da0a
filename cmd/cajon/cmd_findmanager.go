package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/discovery"
)

func cmdFindManager(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "find-manager", "find-manager [--timeout D] [--group ADDR]",
		`Find Flamenco Managers on the local network, as the stock worker does: an SSDP
M-SEARCH for urn:flamenco:manager:0, then /api/v3/version at each address that
answered. Prints the Managers' URLs, one per line, the one 'cajon run' would
use first, and exits. Searches again, waiting longer each time, until one
answers or --timeout passes. The Manager must have autodiscoverable: true.
Exit status: 0 when a Manager was found, 1 otherwise.`)
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	group := fs.String("group", discovery.GroupAddr, "the SSDP multicast group and port to search")
	logLevel := fs.String("log-level", "", "trace, debug, info, warn or error (debug shows the answers that were ignored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	cfg := config.Defaults()
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	log := newLogger(&cfg, env.stderr)
	ctx, cancel := withRetryTimeout(ctx, *timeout)
	defer cancel()
	found, err := discovery.Wait(ctx, discovery.Options{Group: *group, Logger: log.Named("discovery")})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no Flamenco Manager answered within %v: is its autodiscoverable setting on, and is multicast (%s) allowed between here and there?", *timeout, *group)
		}
		return err
	}
	for _, m := range found {
		fmt.Fprintln(env.stdout, m.URL)
	}
	return nil
}
