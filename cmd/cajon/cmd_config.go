package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cajonfarm/cajon/host/config"
)

func cmdConfig(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "config", "config [flags]",
		`Print the effective configuration as a cajon.toml, with where each value came
from: a built-in default, a file (/etc/cajon/cajon.toml, the user's, ./cajon.toml,
--config), a CAJON_* environment variable, or a flag. See docs/CONFIG.md.`)
	common.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	cfg, prov, err := common.load(env, nil)
	if err != nil {
		return err
	}
	return config.Print(env.stdout, cfg, prov)
}
