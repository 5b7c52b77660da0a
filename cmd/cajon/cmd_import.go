package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/stockworker"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/hashicorp/go-hclog"
)

func cmdImport(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "import", "import flamenco-worker [DIR] [--force] [--credentials FILE] [--to FILE] [flags]",
		`Take over a stock Flamenco worker on this machine, so that the Manager keeps
seeing the same worker (id, name, tags, history) and no second one appears.
Reads flamenco-worker.yaml in DIR (default: the current folder) and the stock
worker's credentials where it keeps them ($FLAMENCO_HOME, else
~/.local/share/flamenco; --credentials names another file). Writes
manager_url, worker_name, task_types, restart_exit_code and oom_score_adjust
into DIR/cajon.toml (created, or added to: keys it sets already stay), and
worker_id and worker_secret into Cajon's credentials (<state_dir>, mode 0600).
Cajon credentials that exist already are never replaced without --force.
Stop the stock worker first: two workers with one identity confuse the
Manager. 'cajon run' does this by itself on its first start in a folder with
a flamenco-worker.yaml.`)
	common.register(fs)
	force := fs.Bool("force", false, "replace Cajon credentials that exist already")
	credentials := fs.String("credentials", "", "the stock worker's credentials file (default: where the stock worker keeps it)")
	to := fs.String("to", "", "the cajon.toml to write the settings into (default: DIR/cajon.toml)")
	if len(args) == 0 || isHelpFlag(args[0]) {
		fs.Usage()
		if len(args) == 0 {
			return &exitError{code: 2, err: fmt.Errorf("say what to import: cajon import flamenco-worker [DIR]")}
		}
		return nil
	}
	if args[0] != "flamenco-worker" {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("cannot import %q: only flamenco-worker (the stock Flamenco 3 worker) can be imported", args[0])}
	}
	// Flags may come before or after DIR.
	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) > 1 {
		return &exitError{code: 2, err: fmt.Errorf("one folder at most, got %q", positional)}
	}
	dir := "."
	if len(positional) == 1 {
		dir = positional[0]
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cfg, _, err := common.load(env, nil)
	if err != nil {
		return err
	}
	opt := importOptions(env, cfg, dir)
	opt.Force, opt.Credentials = *force, *credentials
	if *to != "" {
		if opt.ConfigFile, err = filepath.Abs(*to); err != nil {
			return err
		}
	}
	r, err := stockworker.Import(opt)
	if err != nil {
		return fmt.Errorf("taking over the stock worker in %s: %w", dir, err)
	}
	printImport(env.stdout, r)
	if cwd, _ := os.Getwd(); r.ConfigFile != "" && *to == "" && filepath.Clean(cwd) != filepath.Clean(dir) {
		fmt.Fprintf(env.stdout, "cajon reads ./cajon.toml of its working folder: start it in %s, as the stock worker was, or move the settings to /etc/cajon/cajon.toml\n", dir)
	}
	return nil
}

// importOptions are the options of a takeover of the stock worker in dir by
// this Cajon setup.
func importOptions(env *cliEnv, cfg *config.Config, dir string) stockworker.Options {
	getenv := func(name string) string {
		v := ""
		for _, kv := range env.environ {
			if k, val, ok := strings.Cut(kv, "="); ok && k == name {
				v = val
			}
		}
		return v
	}
	return stockworker.Options{
		Dir: dir, Getenv: getenv, GOOS: runtime.GOOS,
		ConfigFile: filepath.Join(dir, "cajon.toml"), StateDir: cfg.StateDir,
	}
}

// printImport tells the admin what an import took and left.
func printImport(w io.Writer, r stockworker.Report) {
	if r.StockConfig != "" {
		fmt.Fprintf(w, "read %s\n", r.StockConfig)
	}
	if r.StockCredentials != "" {
		fmt.Fprintf(w, "read %s\n", r.StockCredentials)
	}
	for _, s := range r.Settings {
		switch {
		case s.Key == "":
			fmt.Fprintf(w, "  %-20s %s\n", s.From, s.Note)
		case s.Note != "":
			fmt.Fprintf(w, "  %-20s -> %-26s %s\n", s.From, s.Key, s.Note)
		default:
			fmt.Fprintf(w, "  %-20s -> %-26s %s\n", s.From, s.Key, s.Value)
		}
	}
	if r.WorkerID != "" {
		fmt.Fprintf(w, "  %-20s -> %-26s %s (the secret is not shown)\n", "worker_id, secret", "credentials", r.WorkerID)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.ConfigFile != "" {
		fmt.Fprintf(w, "wrote %s\n", r.ConfigFile)
	}
	if r.Credentials != "" {
		fmt.Fprintf(w, "wrote %s (mode 0600)\n", r.Credentials)
	}
	if r.ConfigFile == "" && r.Credentials == "" {
		fmt.Fprintln(w, "nothing to write: Cajon has all of it already")
	}
}

// takeOverStockWorker is the first start of `cajon run` in the working
// folder of a stock worker: when flamenco-worker.yaml is there and Cajon
// has no credentials yet, it imports them and reports whether it wrote
// anything (the config is then loaded again).
func takeOverStockWorker(env *cliEnv, cfg *config.Config, log hclog.Logger) (bool, error) {
	dir, err := os.Getwd()
	if err != nil || !stockworker.Found(dir) {
		return false, nil
	}
	if len(cfg.Worker.Identities) > 0 {
		log.Warn("this folder has a stock worker's " + stockworker.ConfigFile + ", but this process runs several identities ([[worker.identities]]): nothing was taken over; 'cajon import flamenco-worker' does it by hand")
		return false, nil
	}
	if _, err := worker.LoadCredentials(worker.CredentialsPath(cfg.StateDir)); err == nil {
		return false, nil // taken over already, or Cajon's own: never replaced here
	}
	r, err := stockworker.Import(importOptions(env, cfg, dir))
	if err != nil {
		return false, fmt.Errorf("taking over the stock worker in %s (its %s is here): %w\n(fix the file, or move it away to start as a new worker; "+
			"where this folder is read-only for the worker, run 'cajon import flamenco-worker %s --to /etc/cajon/cajon.toml' once)", dir, stockworker.ConfigFile, err, dir)
	}
	if r.ConfigFile == "" && r.Credentials == "" {
		return false, nil
	}
	var b strings.Builder
	printImport(&b, r)
	log.Info("took over the stock Flamenco worker of this folder (cajon import flamenco-worker):\n" + b.String())
	return true, nil
}
