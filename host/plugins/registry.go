// Package plugins finds Cajon plugin binaries, launches them lazily through
// hashicorp/go-plugin, keeps a registry from command name to plugin, reuses
// warm plugins, stops idle ones and restarts crashed or replaced ones.
package plugins

import (
	"context"
	"fmt"
	"github.com/cajonfarm/cajon/host/cgroups"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cajonfarm/cajon/host/rundir"
	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
)

// Options configure a Registry.
type Options struct {
	// Dirs are searched in order for cajon-plugin-* binaries.
	Dirs []string
	// IdleTimeout stops a plugin that ran nothing for this long (0 = never).
	IdleTimeout time.Duration
	// Config holds each plugin's [plugins.<name>] table, by plugin name.
	Config map[string]map[string]any
	// RunConfig, when set, adds keys to a plugin's table for each run, learned
	// when the run starts (the files plugin's allowed_roots, which may come
	// from the Manager). An error fails that command with its message.
	RunConfig func(ctx context.Context, plugin string) (map[string]any, error)
	// Logger receives the host's messages about plugins.
	Logger hclog.Logger
	// DescribeCache is a file that remembers the plugins' descriptions, so
	// unchanged plugins are not started until a command needs them ("" = no
	// cache: every plugin is started once by Open to describe itself).
	DescribeCache string
	// ProcessLogger receives go-plugin's messages and the plugins' own stderr
	// (nil = discarded). Give it a level of its own: go-plugin is chatty.
	ProcessLogger hclog.Logger
	// Observer, when not nil, is told about plugin processes and commands
	// (metrics).
	Observer Observer
	// SHA256 is the plugins.sha256 allowlist: plugin name -> hex digest of its
	// binary. When set, a plugin not in it or with another digest is refused.
	SHA256 map[string]string
	// StateDir holds this process's runtime folder (host/rundir), swept of
	// dead processes' folders at Open, in which each plugin process gets a
	// private folder for its socket and temporary files ("" = the system's
	// temporary folder).
	StateDir string
	// OOMScoreAdjust, when not 0, is the Linux OOM-killer adjustment of
	// each plugin process and so of every process of its commands
	// (oom_score_adjust); the host's own is left alone.
	OOMScoreAdjust int
	// MemoryCgroups gives each command with a memory cap (Guard.MaxMemory)
	// a memory cgroup of its own with that limit, where the node lets this
	// process manage one (host/cgroups): the kernel then holds the
	// command's whole tree to the cap. Open logs which way the cap is
	// enforced; without a cgroup the watchdog enforces it alone.
	MemoryCgroups bool
}

// Registry maps command names to the plugins that provide them.
type Registry struct {
	opts    Options
	log     hclog.Logger
	plugins map[string]*Plugin // by plugin name
	notes   []string
	// stopReaping ends the reaping of orphans begun by Open.
	stopReaping func()
	// runDir is the process's runtime folder (nil without Options.StateDir).
	runDir *rundir.Dir

	closeOnce sync.Once
	// found names every plugin binary found, sorted, those left out too.
	found []string

	mu       sync.RWMutex
	commands map[string]*Plugin // by command name

	// ooms is the kernel's OOM kill count as runs start (the node guard).
	ooms oomCounter
	// cgroups makes the runs' memory cgroups; nil: none, the watchdog
	// alone enforces the memory cap.
	cgroups *cgroups.Manager
}

// Open finds the plugins in opts.Dirs, starts each one to learn its commands,
// and builds the registry. Two plugins that claim the same command are an
// error naming both. A plugin that fails to start is left out and reported by
// Notes, so one broken plugin does not take the worker down.
//
// Open makes the process a child subreaper (Linux) and reaps orphans until
// Close: the sweep after a plugin crash needs the crashed plugin's
// processes to reparent to the host.
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.ProcessLogger == nil {
		opts.ProcessLogger = hclog.NewNullLogger()
	}
	r := &Registry{opts: opts, log: opts.Logger, plugins: map[string]*Plugin{}, commands: map[string]*Plugin{}}
	if opts.StateDir != "" {
		d, err := OpenRunDir(opts.StateDir)
		if err != nil {
			return nil, err
		}
		r.runDir = d
	}
	r.stopReaping = becomeSubreaper(r.log)
	if opts.MemoryCgroups {
		r.cgroups = openCgroups(ctx, r.log)
	}
	all, notes := discover(opts.Dirs)
	for _, c := range all {
		r.found = append(r.found, c.name)
	}
	sort.Strings(r.found)
	found, notes := r.trusted(all, notes)
	r.notes = notes

	// Plugins whose binary is unchanged since they last described themselves
	// are not started; the others start side by side (cold start is
	// dominated by process start-up).
	cache := loadDescribeCache(opts.DescribeCache, describeRequest())
	var wg sync.WaitGroup
	errs := make([]error, len(found))
	ps := make([]*Plugin, len(found))
	for i, c := range found {
		ps[i] = newPlugin(r, c.name, c.path)
		if d := cache.lookup(c.path); d != nil && d.GetName() == c.name {
			ps[i].info = d
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inst *instance
			inst, errs[i] = ps[i].acquire(ctx)
			if errs[i] == nil {
				ps[i].release(inst)
			}
		}()
	}
	wg.Wait()
	keep := map[string]bool{}
	for i, p := range ps {
		if errs[i] != nil {
			r.notes = append(r.notes, errs[i].Error())
			r.log.Warn("plugin left out", "plugin", p.name, "error", errs[i])
			continue
		}
		r.plugins[p.name] = p
		r.notes = append(r.notes, DescribeWarnings(p.describe())...)
		keep[p.path] = true
		if inst := p.running(); inst != nil {
			cache.store(p.path, inst.stamp, inst.info)
		}
	}
	if err := cache.save(keep); err != nil {
		r.log.Debug("cannot write the plugin description cache", "path", opts.DescribeCache, "error", err)
	}
	if err := r.rebuild(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// trusted leaves out the plugins that must not run (see trust.go), each with
// a note saying why and how to fix it.
func (r *Registry) trusted(found []candidate, notes []string) ([]candidate, []string) {
	kept := found[:0]
	seen := map[string]bool{}
	for _, c := range found {
		seen[c.name] = true
		if err := checkPlugin(c, r.opts.SHA256); err != nil {
			notes = append(notes, err.Error())
			continue
		}
		kept = append(kept, c)
	}
	return kept, append(notes, missingPinned(r.opts.SHA256, seen)...)
}

// rebuild computes the command map from the plugins' descriptions, once,
// when the registry opens.
func (r *Registry) rebuild() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	commands, conflicts := r.commandsOf(nil, nil)
	if len(conflicts) > 0 {
		return fmt.Errorf("plugin conflict: %s; remove or rename one of them", strings.Join(conflicts, "; "))
	}
	r.commands = commands
	return nil
}

// adopt makes info the description of p, a plugin whose binary changed, and
// maps the commands anew; when its commands conflict with another plugin's,
// nothing changes and the error names both plugins, their binaries and the
// command. Adopts are serialised (r.mu), so two plugins replaced at once are
// judged one after the other.
func (r *Registry) adopt(p *Plugin, info *pluginv1.DescribeResponse) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	commands, conflicts := r.commandsOf(p, info)
	if len(conflicts) > 0 {
		return fmt.Errorf("plugin %s is not used: its binary %s changed, and now %s; remove the command from one of them (cajon takes the fixed binary at the next command, no restart needed)",
			p.name, p.path, strings.Join(conflicts, "; "))
	}
	p.mu.Lock()
	p.info = info
	p.mu.Unlock()
	r.commands = commands
	return nil
}

// commandsOf maps each command to its plugin, from the plugins' latest
// descriptions, or info for plugin p (when not nil). Two plugins that claim
// the same command are a conflict, described naming both. Call with r.mu
// held.
func (r *Registry) commandsOf(p *Plugin, info *pluginv1.DescribeResponse) (map[string]*Plugin, []string) {
	commands := map[string]*Plugin{}
	names := make([]string, 0, len(r.plugins))
	for name := range r.plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	var conflicts []string
	for _, name := range names {
		q := r.plugins[name]
		desc := info
		if q != p {
			desc = q.describe()
		}
		for _, c := range desc.GetCommands() {
			if other, dup := commands[c.GetName()]; dup {
				conflicts = append(conflicts, fmt.Sprintf("command %q is provided by both plugin %q (%s) and plugin %q (%s)",
					c.GetName(), other.name, other.path, q.name, q.path))
				continue
			}
			commands[c.GetName()] = q
		}
	}
	return commands, conflicts
}

// Notes are problems found while discovering plugins that did not stop the
// registry: unreadable folders, binaries that are not executable, plugins
// that failed to start, doubtful descriptions (DescribeWarnings).
func (r *Registry) Notes() []string { return append([]string(nil), r.notes...) }

// Plugins returns the working plugins' descriptions, sorted by name.
func (r *Registry) Plugins() []Info {
	var out []Info
	for _, p := range r.plugins {
		out = append(out, infoOf(p.describe()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PluginPath is the binary behind a plugin name.
func (r *Registry) PluginPath(name string) string {
	if p, ok := r.plugins[name]; ok {
		return p.path
	}
	return ""
}

// Command looks up the plugin and spec of a command.
func (r *Registry) Command(name string) (CommandInfo, bool) {
	r.mu.RLock()
	p, ok := r.commands[name]
	r.mu.RUnlock()
	if !ok {
		return CommandInfo{}, false
	}
	for _, c := range p.describe().GetCommands() {
		if c.GetName() == name {
			return commandOf(p.name, c), true
		}
	}
	return CommandInfo{}, false
}

// Commands lists every command, sorted by name.
func (r *Registry) Commands() []CommandInfo {
	r.mu.RLock()
	names := make([]string, 0, len(r.commands))
	for name := range r.commands {
		names = append(names, name)
	}
	r.mu.RUnlock()
	sort.Strings(names)
	out := make([]CommandInfo, 0, len(names))
	for _, n := range names {
		if ci, ok := r.Command(n); ok {
			out = append(out, ci)
		}
	}
	return out
}

// TaskTypes is the set of task types the plugins' commands belong to, sorted.
func (r *Registry) TaskTypes() []string {
	set := map[string]bool{}
	for _, c := range r.Commands() {
		if t := c.TaskType; t != "" {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// CheckParams checks a command's parameters against its plugin's description
// (rejectUnknown: also refuse parameters the command does not declare), as
// Run normalises them before sending (wire.NormalizeParams): a job accepted
// here is accepted by Run.
func (r *Registry) CheckParams(command string, params map[string]any, rejectUnknown bool) error {
	ci, ok := r.Command(command)
	if !ok {
		return r.missingCommand(command)
	}
	return wire.CheckParams(ci.spec, params, rejectUnknown)
}

// NormalizeParams returns a command's parameters as Run sends them to its
// plugin (wire.NormalizeParams): checked against the plugin's description
// (rejectUnknown: also refusing parameters it does not declare), the
// stock worker's loose forms made strict.
func (r *Registry) NormalizeParams(command string, params map[string]any, rejectUnknown bool) (map[string]any, error) {
	ci, ok := r.Command(command)
	if !ok {
		return nil, r.missingCommand(command)
	}
	return wire.NormalizeParams(ci.spec, params, rejectUnknown)
}

// missingCommand is the error for a command no plugin provides: it names the
// command and each plugin with its commands, since a task type is only a
// routing label and the command name alone picks the plugin.
func (r *Registry) missingCommand(command string) error {
	var have []string
	for _, d := range r.Plugins() {
		names := make([]string, 0, len(d.Commands))
		for _, c := range d.Commands {
			names = append(names, c.Name)
		}
		have = append(have, fmt.Sprintf("%s (%s)", d.Name, strings.Join(names, ", ")))
	}
	if len(have) == 0 {
		return fmt.Errorf("no plugin provides command %q: no plugins were found; install the plugin that provides it", command)
	}
	return fmt.Errorf("no plugin provides command %q; the plugins are: %s; install the plugin that provides it or fix the job type",
		command, strings.Join(have, "; "))
}

// Process is one running plugin process.
type Process struct {
	Plugin string
	PID    int
	// Active is the number of commands it runs now.
	Active int
	Up     time.Duration
}

func (p Process) String() string {
	return fmt.Sprintf("%s (pid %d, %d running, up %s)", p.Plugin, p.PID, p.Active, p.Up.Round(time.Second))
}

// Processes lists the plugin processes alive now, sorted by plugin name.
func (r *Registry) Processes() []Process {
	var out []Process
	for _, p := range r.plugins {
		if proc, ok := p.process(); ok {
			out = append(out, proc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Plugin < out[j].Plugin })
	return out
}

// Running describes the plugin processes alive now, for status reports.
func (r *Registry) Running() []string {
	var out []string
	for _, p := range r.Processes() {
		out = append(out, p.String())
	}
	return out
}

// Close stops every plugin process, then the reaping of orphans.
func (r *Registry) Close() {
	var wg sync.WaitGroup
	for _, p := range r.plugins {
		wg.Add(1)
		go func() { defer wg.Done(); p.close() }()
	}
	wg.Wait()
	r.closeOnce.Do(func() {
		if r.stopReaping != nil {
			r.stopReaping()
		}
		if r.runDir != nil {
			if err := r.runDir.Close(); err != nil {
				r.log.Warn(err.Error())
			}
		}
		if r.cgroups != nil {
			if err := r.cgroups.Close(); err != nil {
				r.log.Warn(err.Error())
			}
		}
	})
}

// runDirPath is the folder the plugin processes' private folders go in.
func (r *Registry) runDirPath() string {
	if r.runDir == nil {
		return ""
	}
	return r.runDir.Path()
}
