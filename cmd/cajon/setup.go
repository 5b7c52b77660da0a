package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/fileroots"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/hashicorp/go-hclog"
)

// commonFlags are the flags every worker subcommand takes.
type commonFlags struct {
	configFile string
	logLevel   string
	stateDir   string
	pluginDirs string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "read this cajon.toml after the default ones (it must exist)")
	fs.StringVar(&c.logLevel, "log-level", "", "trace, debug, info, warn or error (overrides log_level)")
	fs.StringVar(&c.stateDir, "state-dir", "", "state directory (overrides state_dir)")
	fs.StringVar(&c.pluginDirs, "plugin-dir", "", "comma-separated folders with cajon-plugin-* binaries, searched after plugins/ beside cajon and ../libexec/cajon/plugins (overrides plugin_dirs)")
}

// flagLayer turns the set flags into config keys, the highest layer.
func (c *commonFlags) flagLayer(extra map[string]string) map[string]string {
	m := map[string]string{}
	if c.logLevel != "" {
		m["log_level"] = c.logLevel
	}
	if c.stateDir != "" {
		m["state_dir"] = c.stateDir
	}
	if c.pluginDirs != "" {
		m["plugin_dirs"] = c.pluginDirs
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// load reads the effective configuration.
func (c *commonFlags) load(env *cliEnv, extra map[string]string) (*config.Config, *config.Provenance, error) {
	cfg, prov, err := config.Load(config.DefaultSources(c.configFile, env.environ, c.flagLayer(extra)))
	if err != nil {
		return nil, nil, err
	}
	return cfg, prov, nil
}

// newLogger makes the host's logger as the config asks.
func newLogger(cfg *config.Config, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "cajon",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		Output:     w,
		JSONFormat: strings.EqualFold(cfg.LogFormat, "json"),
	})
}

// pluginDirs are the folders searched for plugins: those of the cajon
// binary (plugins/ beside it, ../libexec/cajon/plugins), then the configured
// ones.
func pluginDirs(cfg *config.Config) []string {
	dirs := []string{}
	if def, err := plugins.DefaultDirs(); err == nil {
		dirs = append(dirs, def...)
	}
	return append(dirs, cfg.PluginDirs...)
}

// openPlugins finds and starts the plugins the config names; file commands
// may act anywhere unless files.allowed_roots says otherwise.
func openPlugins(ctx context.Context, cfg *config.Config, log hclog.Logger) (*plugins.Registry, error) {
	return openPluginsWith(ctx, cfg, log, fileroots.Configured(cfg.Files.AllowedRoots), nil)
}

// openPluginsWith is openPlugins with the folders file commands may act in
// and an observer of the plugins (nil: none). A [plugins.<name>] table that
// does not fit its plugin stops it here, before any task.
func openPluginsWith(ctx context.Context, cfg *config.Config, log hclog.Logger, roots *fileroots.Source, obs plugins.Observer) (*plugins.Registry, error) {
	reg, err := openRegistryFor(ctx, cfg, log, roots, obs, memoryCapped(cfg))
	if err != nil {
		return nil, err
	}
	if err := reg.CheckConfig(); err != nil {
		reg.Close()
		return nil, fmt.Errorf("%w\n('cajon plugins' lists the keys each plugin accepts)", err)
	}
	return reg, nil
}

// openRegistry is openPluginsWith without the check of the plugin tables,
// for `cajon plugins`, which reports it after the listing.
func openRegistry(ctx context.Context, cfg *config.Config, log hclog.Logger, roots *fileroots.Source, obs plugins.Observer) (*plugins.Registry, error) {
	return openRegistryFor(ctx, cfg, log, roots, obs, false)
}

// memoryCapped is true when max_task_memory caps some identity's commands:
// only then does the worker make memory cgroups (which, on cgroup v2, moves
// it into a leaf of its own cgroup).
func memoryCapped(cfg *config.Config) bool {
	if cfg.MaxTaskMemory > 0 {
		return true
	}
	for _, id := range cfg.Worker.Identities {
		if id.MaxTaskMemory > 0 {
			return true
		}
	}
	return false
}

// openRegistryFor is openRegistry; cgroups gives capped commands a memory
// cgroup each (plugins.Options.MemoryCgroups).
func openRegistryFor(ctx context.Context, cfg *config.Config, log hclog.Logger, roots *fileroots.Source, obs plugins.Observer, cgroups bool) (*plugins.Registry, error) {
	dirs := pluginDirs(cfg)
	// A typo in a folder would otherwise show only later, as "no plugin
	// provides command". (Unreadable folders are the registry's notes.)
	for _, d := range cfg.PluginDirs {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			log.Warn(fmt.Sprintf("plugin folder %s (plugin_dirs, --plugin-dir) does not exist: no plugin is loaded from it", d))
		}
	}
	reg, err := plugins.Open(ctx, plugins.Options{
		Dirs:        dirs,
		IdleTimeout: cfg.PluginIdleTimeout,
		Config:      cfg.PluginTables(),
		RunConfig:   roots.RunConfig,
		SHA256:      cfg.PluginDigests(),
		Logger:      log.Named("plugins"),
		// Plugins whose binary did not change start only when needed.
		DescribeCache:  filepath.Join(cfg.StateDir, "plugins-described.json"),
		StateDir:       cfg.StateDir,
		Observer:       obs,
		OOMScoreAdjust: cfg.OOMScoreAdjust,
		MemoryCgroups:  cgroups,
		ProcessLogger: hclog.New(&hclog.LoggerOptions{
			Name: "plugin", Output: os.Stderr, JSONFormat: strings.EqualFold(cfg.LogFormat, "json"),
			Level: max(hclog.LevelFromString(cfg.LogLevel), hclog.Warn),
		}),
	})
	if err != nil {
		return nil, err
	}
	for _, n := range reg.Notes() {
		log.Warn(n)
	}
	if len(reg.Plugins()) == 0 {
		notes := reg.Notes()
		reg.Close()
		if len(notes) > 0 {
			// Plugins were found but none could be used: say why, not
			// that there are none.
			return nil, fmt.Errorf("no plugin in %s could be used: %s", strings.Join(dirs, ", "), strings.Join(notes, "; "))
		}
		return nil, fmt.Errorf("no plugins found in %s: build them with 'make build' or set plugin_dirs", strings.Join(dirs, ", "))
	}
	return reg, nil
}

// retryTimeoutFlag is --timeout of the commands that retry until they reach
// the Manager.
func retryTimeoutFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("timeout", 0, "give up after this long (0: retry until interrupted)")
}

// withRetryTimeout bounds ctx by d, when d is set.
func withRetryTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// commandGuard is the node guard of the process's commands (stall_timeout,
// max_task_memory); identities set their own memory cap (host/identities).
func commandGuard(cfg *config.Config) plugins.Guard {
	return plugins.Guard{StallTimeout: cfg.StallTimeout, MaxMemory: cfg.MaxTaskMemory}
}
