// Package identities runs several Flamenco worker identities in one host
// process: one worker.Worker per identity, each with its own name, state
// directory (credentials, update queue, task logs), environment for its
// commands and task types, all sharing one plugin registry. It is a layer
// above host/worker, which knows nothing of it.
//
// Each identity lives on its own: sleep, offline and cancels from the
// Manager reach only the identity they target; an identity asked to restart
// signs off and signs on again inside the process (whatever
// manager.restart_exit_code says: no supervisor is involved). The end of the context
// (SIGINT/SIGTERM) signs every identity off; Run returns when all are done.
package identities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/config"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/host/worker"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
)

// Identity is one worker of the process, as it runs.
type Identity struct {
	// N numbers the identities from 1, in configuration order.
	N int
	// Name is the identity's name in the Manager.
	Name string
	// StateDir holds its credentials, update queue and task logs.
	StateDir string
	// Env is added to the environment of its commands: the configured env
	// over the variables its GPUs and Cycles device give (DeviceEnv).
	Env map[string]string
	// TaskTypes narrows the task types it asks for; empty = all.
	TaskTypes []string
	// GPU and CyclesDevice are the configured ones (config.IdentityConfig).
	GPU          []string
	CyclesDevice string
	// EnvConflicts are the variables that env sets otherwise than GPU and
	// CyclesDevice would, each said as a warning when the farm starts.
	EnvConflicts []string
	// MaxTaskMemory caps the resident memory of each of its commands, in
	// bytes (0 = no cap): its own max_task_memory, else the process's.
	MaxTaskMemory int64
}

// StateDir is where identity n keeps its state, under the process's
// state directory.
func StateDir(stateDir string, n int) string {
	return filepath.Join(stateDir, "identity-"+strconv.Itoa(n))
}

// Resolve turns configured identities into the ones that run: an empty name
// becomes <worker_name>-<n> (worker_name itself the host name when unset),
// empty task types the top-level task_types. Names must differ.
func Resolve(cfg *config.Config, configured []config.IdentityConfig) ([]Identity, error) {
	base := ""
	ids := make([]Identity, 0, len(configured))
	seen := map[string]int{}
	for i, c := range configured {
		n := i + 1
		name := c.Name
		if name == "" {
			if base == "" {
				var err error
				if base, err = cfg.Manager.NameAtStart(); err != nil {
					return nil, err
				}
			}
			name = base + "-" + strconv.Itoa(n)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("worker identities %d and %d are both named %q: give one a name of its own in [[worker.identities]]", first, n, name)
		}
		seen[name] = n
		types := c.TaskTypes
		if len(types) == 0 {
			types = cfg.TaskTypes
		}
		env, conflicts := mergeEnv(DeviceEnv(c.GPU, c.CyclesDevice), c.Env)
		memory := c.MaxTaskMemory
		if memory == 0 {
			memory = cfg.MaxTaskMemory
		}
		ids = append(ids, Identity{N: n, Name: name, StateDir: StateDir(cfg.StateDir, n), Env: env, TaskTypes: types,
			GPU: slices.Clone(c.GPU), CyclesDevice: c.CyclesDevice, EnvConflicts: conflicts, MaxTaskMemory: memory})
	}
	return ids, nil
}

// Options configure a Farm.
type Options struct {
	// Config is the process's configuration; each identity gets a copy with
	// its own name, state directory and task types.
	Config *config.Config
	// Identities are the workers to run (see Resolve).
	Identities []Identity
	// Commands runs the commands of every identity (the shared registry).
	Commands task.CommandRunner
	// Plugins tell each worker what the plugins offer.
	Plugins worker.Plugins
	// Logger receives the messages; each identity's go to a sub-logger
	// named after it. nil logs nothing.
	Logger hclog.Logger
	// Timings tune the workers (tests); zero fields take defaults.
	Timings worker.Timings
	// Decorate, when not nil, may change the options of each worker before
	// it is created (metrics wrap the runner and set the observer). It is
	// called again when an identity restarts.
	Decorate func(id Identity, opts *worker.Options)
	// RestartDelay is the pause before an identity signs on again after a
	// restart request (default 1 s).
	RestartDelay time.Duration
}

// Farm runs the identities of one process. Create it with New.
type Farm struct {
	opts Options
	log  hclog.Logger

	mu      sync.Mutex
	workers []*worker.Worker // the current worker of each identity
}

// New checks opts and creates the first worker of every identity, so that a
// configuration problem shows before anything runs.
func New(opts Options) (*Farm, error) {
	if opts.Config == nil || opts.Commands == nil || opts.Plugins == nil {
		return nil, errors.New("identities: a config, a command runner and the plugins are required")
	}
	if len(opts.Identities) == 0 {
		return nil, errors.New("identities: no identity to run")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = time.Second
	}
	f := &Farm{opts: opts, log: opts.Logger, workers: make([]*worker.Worker, len(opts.Identities))}
	for i, id := range opts.Identities {
		f.logDevice(id)
		w, err := f.newWorker(id)
		if err != nil {
			return nil, fmt.Errorf("worker identity %q: %w", id.Name, err)
		}
		f.workers[i] = w
	}
	return f, nil
}

// logDevice says where identity id renders, and warns of env variables
// that override its GPUs.
func (f *Farm) logDevice(id Identity) {
	log := f.log.Named(id.Name)
	if id.CyclesDevice != "" {
		gpus := "every one it sees"
		switch {
		case len(id.GPU) > 0:
			gpus = strings.Join(id.GPU, ", ")
		case wire.CyclesGPU(id.CyclesDevice) == "":
			gpus = "none"
		}
		args := []any{"identity", id.N, "cycles_device", id.CyclesDevice, "gpu", gpus}
		if v := wire.GPUVisibilityVar(id.CyclesDevice); v != "" && id.Env[v] != "" {
			args = append(args, "env", v+"="+id.Env[v]) // what the commands get, env's own included
		}
		log.Info("Blender renders on the identity's Cycles device", args...)
	}
	for _, c := range id.EnvConflicts {
		log.Warn("worker identity "+strconv.Itoa(id.N)+": "+c, "identity", id.N)
	}
}

// restartCode is the exit code an identity's worker uses for the Manager's
// "restart": the farm then signs it on again in the process, so identities
// always accept restarts (no supervisor needs to start anything).
const restartCode = 3

// newWorker builds a worker of identity id.
func (f *Farm) newWorker(id Identity) (*worker.Worker, error) {
	cfg := *f.opts.Config
	cfg.StateDir = id.StateDir
	cfg.Manager.WorkerName = id.Name
	cfg.Manager.RestartExitCode = restartCode
	cfg.TaskTypes = id.TaskTypes
	opts := worker.Options{
		Config: &cfg,
		Runner: &task.Runner{Commands: f.opts.Commands, Grace: cfg.KillGrace, Env: id.Env,
			Guard: plugins.Guard{StallTimeout: cfg.StallTimeout, MaxMemory: id.MaxTaskMemory}},
		Plugins: f.opts.Plugins,
		Logger:  f.log.Named(id.Name),
		Timings: f.opts.Timings,
	}
	if f.opts.Decorate != nil {
		f.opts.Decorate(id, &opts)
	}
	return worker.New(opts)
}

// Identities are the identities the farm runs.
func (f *Farm) Identities() []Identity { return append([]Identity(nil), f.opts.Identities...) }

// CheckQueue returns a health check of identity i's update queue (0-based),
// which follows the identity across restarts.
func (f *Farm) CheckQueue(i int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		f.mu.Lock()
		w := f.workers[i]
		f.mu.Unlock()
		return w.CheckQueue(ctx)
	}
}

// Activity returns identity i's worker.Activity (busy, idle or
// workstation_in_use), following it across restarts, for a metric.
func (f *Farm) Activity(i int) func() string {
	return func() string { return f.worker(i).Activity() }
}

// NotWorkingBecause returns identity i's worker.NotWorkingBecause, following
// it across restarts, for /healthz.
func (f *Farm) NotWorkingBecause(i int) func() string {
	return func() string { return f.worker(i).NotWorkingBecause() }
}

func (f *Farm) worker(i int) *worker.Worker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.workers[i]
}

// Run runs every identity until each has gone offline, or until ctx ends
// (all sign off). It returns 0; an error means an identity could not start
// (an unusable state directory), and the others are then stopped too.
func (f *Farm) Run(ctx context.Context) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(f.opts.Identities))
	for i, id := range f.opts.Identities {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = f.runIdentity(ctx, i, id); errs[i] != nil {
				cancel(errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 1, err
	}
	return 0, nil
}

// runIdentity runs identity i until it goes offline or ctx ends, signing on
// again after each restart request.
func (f *Farm) runIdentity(ctx context.Context, i int, id Identity) error {
	log := f.log.Named(id.Name)
	for {
		f.mu.Lock()
		w := f.workers[i]
		f.mu.Unlock()
		code, err := w.Run(ctx)
		if err != nil {
			return fmt.Errorf("worker identity %q: %w", id.Name, err)
		}
		if ctx.Err() != nil || code != restartCode {
			if ctx.Err() == nil {
				log.Info("identity is offline; the others go on", "identity", id.N)
			}
			return nil
		}
		log.Info("restarting the identity inside the process, as the Manager asked", "identity", id.N)
		t := time.NewTimer(f.opts.RestartDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		next, err := f.newWorker(id)
		if err != nil {
			return fmt.Errorf("worker identity %q: restart: %w", id.Name, err)
		}
		f.mu.Lock()
		f.workers[i] = next
		f.mu.Unlock()
	}
}

// ExistingStateDirs lists the identity state directories under stateDir
// that exist, in identity order: what `cajon flush` delivers.
func ExistingStateDirs(stateDir string) ([]string, error) {
	entries, err := os.ReadDir(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the identities in %s: %w", stateDir, err)
	}
	var ns []int
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "identity-")
		if n, err := strconv.Atoi(rest); ok && err == nil && n > 0 && e.IsDir() {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	dirs := make([]string, len(ns))
	for i, n := range ns {
		dirs[i] = StateDir(stateDir, n)
	}
	return dirs, nil
}
