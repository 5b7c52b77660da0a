package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cajonfarm/cajon/host/conformance"
	"github.com/cajonfarm/cajon/host/fileroots"
	"github.com/cajonfarm/cajon/host/plugins"
	"github.com/cajonfarm/cajon/host/task"
	"github.com/cajonfarm/cajon/sdk/wire"
	"github.com/hashicorp/go-hclog"
)

func cmdPlugins(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && args[0] == "run" {
		return cmdPluginsRun(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "check" {
		return cmdPluginsCheck(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "verify" {
		return cmdPluginsVerify(env, args[1:])
	}
	var common commonFlags
	fs := newFlags(env, "plugins", "plugins [flags]\n       cajon plugins run COMMAND --params JSON\n       cajon plugins check BINARY\n       cajon plugins verify",
		"List the plugins found, their commands and the commands' parameters.\nRun one command on this machine with 'cajon plugins run'.\nCheck that a plugin keeps the protocol with 'cajon plugins check'.\nCheck the plugin binaries without starting them with 'cajon plugins verify'.")
	common.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, _, err := common.load(env, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.stderr)
	// The plugin tables are checked after the listing, which shows the keys
	// each plugin accepts: the fix for what the check reports.
	reg, err := openRegistry(ctx, cfg, log, fileroots.Configured(cfg.Files.AllowedRoots), nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	w := env.stdout
	for _, p := range reg.Plugins() {
		fmt.Fprintf(w, "%s %s (SDK %s)  %s\n", p.Name, p.Version, p.SDKVersion, reg.PluginPath(p.Name))
		if len(p.Capabilities) > 0 {
			fmt.Fprintf(w, "  capabilities: %s\n", strings.Join(p.Capabilities, ", "))
		}
		switch {
		case !p.ConfigDeclared:
			fmt.Fprintf(w, "  [plugins.%s]  not declared: passed on unchecked\n", p.Name)
		case len(p.Config) == 0:
			fmt.Fprintf(w, "  [plugins.%s]  takes no table\n", p.Name)
		default:
			fmt.Fprintf(w, "  [plugins.%s]\n", p.Name)
			printParams(w, p.Config)
		}
		for _, c := range p.Commands {
			fmt.Fprintf(w, "  %s  [task type %s]  %s\n", c.Name, c.TaskType, c.Description)
			printParams(w, c.Params)
			if c.Example != nil {
				raw, _ := json.Marshal(c.Example)
				fmt.Fprintf(w, "    example: --params '%s'\n", raw)
			}
		}
	}
	for _, n := range reg.Notes() {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if err := reg.CheckConfig(); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// printParams prints parameters or config keys, one a line, in columns.
func printParams(w io.Writer, params []plugins.ParamInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, prm := range params {
		req := "optional"
		if prm.Required {
			req = "required"
		}
		def := ""
		if prm.Default != nil {
			def = " (default " + string(prm.Default) + ")"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s%s\n", prm.Name, prm.Type, req, prm.Description, def)
	}
	tw.Flush()
}

func cmdPluginsRun(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "plugins run", "plugins run COMMAND [--params JSON] [flags]",
		`Run one command through its plugin on this machine, streaming its log to the
terminal. Ctrl+C or SIGTERM aborts it and kills its whole process tree.
Exit status: 0 when the command completed, 1 when it failed, 130 when aborted.

Example: cajon plugins run exec --params '{"exe": "ls", "args": ["-l"]}'`)
	common.register(fs)
	params := fs.String("params", "{}", "the command's parameters as a JSON object")
	grace := fs.Duration("grace", 0, "time between SIGTERM and SIGKILL on abort (default: kill_grace)")
	steps := fs.Int("steps", 0, "the command's step count, as a job's total_step_count gives it (0: none, one step)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("expected one COMMAND, got %d arguments", fs.NArg())}
	}
	command := fs.Arg(0)
	var p map[string]any
	dec := json.NewDecoder(strings.NewReader(*params))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--params is not a JSON object: %w", err)}
	}
	cfg, _, err := common.load(env, nil)
	if err != nil {
		return err
	}
	if *grace > 0 {
		cfg.KillGrace = *grace
	}
	log := newLogger(cfg, env.stderr)
	reg, err := openPlugins(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	if err := reg.CheckParams(command, p, false); err != nil {
		return &exitError{code: 2, err: err}
	}
	runner := task.Runner{Commands: reg, Grace: cfg.KillGrace, Guard: commandGuard(cfg)}
	start := time.Now()
	tk := task.Task{ID: "cli", Name: command, Commands: []task.Command{{Name: command, Params: p, TotalSteps: max(*steps, 0)}}}
	rep := &terminalReporter{env: env, total: tk.StepsTotal(), steps: -1}
	out := runner.Run(ctx, tk, rep)
	rep.end(out.Message)
	took := time.Since(start).Round(time.Millisecond)
	switch out.Status {
	case task.Completed:
		fmt.Fprintf(env.stderr, "cajon: %s completed in %s\n", command, took)
		return nil
	case task.Canceled:
		return &exitError{code: 130, err: fmt.Errorf("%s after %s", out.Message, took)}
	default:
		return &exitError{code: 1, err: fmt.Errorf("%s (after %s)", out.Message, took)}
	}
}

func cmdPluginsVerify(env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "plugins verify", "plugins verify [flags]",
		`Check every plugin binary found, without starting any, as the worker does
before it runs one: the binary and its folder must be writable only by their
owner, who must be root or the user running cajon; with a plugins.sha256
allowlist, the binary's digest must be the listed one. Prints each plugin's
sha256 and verdict. Exit status: 0 when every plugin would run, 1 otherwise.`)
	common.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	cfg, _, err := common.load(env, nil)
	if err != nil {
		return err
	}
	digests := cfg.PluginDigests()
	verdicts, notes := plugins.Verify(pluginDirs(cfg), digests)
	refused := 0
	for _, v := range verdicts {
		verdict := "ok, not pinned (no plugins.sha256 allowlist)"
		switch {
		case v.Refused != nil:
			verdict = "REFUSED: " + v.Refused.Error()
			refused++
		case v.Pinned:
			verdict = "ok, matches plugins.sha256." + v.Name
		}
		digest := v.SHA256
		if digest == "" {
			digest = "(unreadable)"
		}
		fmt.Fprintf(env.stdout, "%s  %s\n  sha256 %s\n  %s\n", v.Name, v.Path, digest, verdict)
	}
	for _, n := range notes {
		fmt.Fprintf(env.stdout, "note: %s\n", n)
	}
	switch {
	case len(verdicts) == 0:
		return fmt.Errorf("no plugins found in %s", strings.Join(pluginDirs(cfg), ", "))
	case refused > 0:
		return &exitError{code: 1, err: fmt.Errorf("%d of %d plugins would be refused", refused, len(verdicts))}
	}
	return nil
}

// terminalReporter shows a running command on the terminal: its log on
// stdout; on stderr, a bar with the task's steps as the Manager sees them,
// and the activity, whenever either changes, and the outputs.
type terminalReporter struct {
	env      *cliEnv
	total    int // the task's steps
	steps    int // last shown, -1 = none yet
	activity string
	// held is the latest of the host's own log lines ("cajon: ..."), printed
	// when another line follows: the one that says how the command ended is
	// said once, by the final message on stderr.
	held string
}

func (t *terminalReporter) Log(lines []string) {
	for _, l := range lines {
		if t.held != "" {
			fmt.Fprintln(t.env.stdout, t.held)
			t.held = ""
		}
		if strings.HasPrefix(l, wire.HostLinePrefix) {
			t.held = l
			continue
		}
		fmt.Fprintln(t.env.stdout, l)
	}
}

// end prints the held line unless it is the outcome's message.
func (t *terminalReporter) end(outcome string) {
	if t.held != "" && t.held != wire.HostLinePrefix+outcome {
		fmt.Fprintln(t.env.stdout, t.held)
	}
	t.held = ""
}

func (t *terminalReporter) Progress(steps int, activity string) {
	changed := false
	if steps >= 0 && steps != t.steps {
		t.steps, changed = steps, true
	}
	if activity != "" && activity != t.activity {
		t.activity, changed = activity, true
	}
	if changed {
		fmt.Fprintf(t.env.stderr, "cajon: %s %d/%d  %s\n", stepBar(max(t.steps, 0), t.total, 20), max(t.steps, 0), t.total, t.activity)
	}
}

func (t *terminalReporter) Output(path, _ string) {
	fmt.Fprintf(t.env.stderr, "cajon: output %s\n", path)
}

func (t *terminalReporter) Child(int, bool) {}

func cmdPluginsCheck(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlags(env, "plugins check", "plugins check BINARY [--grace D] [--timeout D] [flags]",
		`Check that a plugin keeps the Cajon plugin protocol, whatever its language:
the handshake, a valid Describe, each command run with its example
parameters and well-formed events, a cancel that ends the command's process
tree within the grace period, an exit of its own when the lifeline closes,
and no process left behind. BINARY is a path, or a plugin name looked up in
the plugin folders. Prints a table; --log-level debug shows the plugin's
stderr.
Every step has a deadline, and the whole check has one (--timeout): a
plugin that hangs is a failed row naming the step, and it is killed with
its process tree.
Exit status: 0 when no check failed, 1 when one did.

Example: cajon plugins check ./cajon-plugin-checksum`)
	common.register(fs)
	grace := fs.Duration("grace", 0, "time between SIGTERM and SIGKILL when a command is canceled (default: kill_grace)")
	timeout := fs.Duration("timeout", conformance.DefaultTimeout, "give up on the check after this long: the step it is in fails and the plugin is killed with its process tree")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, err: fmt.Errorf("expected one BINARY, got %d arguments", fs.NArg())}
	}
	cfg, _, err := common.load(env, nil)
	if err != nil {
		return err
	}
	path, err := pluginBinary(fs.Arg(0), pluginDirs(cfg))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *grace <= 0 {
		*grace = cfg.KillGrace
	}
	// go-plugin logs a plugin's stderr at debug level.
	level := hclog.LevelFromString(cfg.LogLevel)
	if level > hclog.Debug {
		level = max(level, hclog.Warn)
	}
	// The plugin's socket and the runs' folders go in the state dir, not
	// in the system's temporary folder.
	run, err := plugins.OpenRunDir(cfg.StateDir)
	if err != nil {
		return err
	}
	defer run.Close()
	rep := conformance.Run(ctx, path, conformance.Options{
		Grace: *grace, Timeout: *timeout, RunDir: run.Path(), Config: cfg.PluginTables()[plugins.NameOf(path)],
		Logger: hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: env.stderr, Level: level}),
	})
	if err := rep.WriteTable(env.stdout); err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: 1, err: fmt.Errorf("%s does not keep the plugin protocol: see the failed checks above", path)}
	}
	return nil
}

// pluginBinary is arg as a path when it names a file, else the plugin of
// that name in the plugin folders.
func pluginBinary(arg string, dirs []string) (string, error) {
	if _, err := os.Stat(arg); err == nil || strings.ContainsRune(arg, filepath.Separator) {
		return filepath.Abs(arg)
	}
	file := plugins.BinaryPrefix + arg
	if runtime.GOOS == "windows" && !strings.HasSuffix(strings.ToLower(file), ".exe") {
		file += ".exe"
	}
	for _, d := range dirs {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no file %s, and no plugin %q in %s", arg, arg, strings.Join(dirs, ", "))
}

// reorder moves flags before positional arguments so that
// `plugins run echo --params ...` works as users expect. Every flag of these
// subcommands takes a value.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && a != "-h" && a != "--help" && a != "-help" {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
