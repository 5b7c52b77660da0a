// Command cajon is the Cajon render-farm worker. This package only parses the
// command line; the work is done by the packages under host/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// exitError carries a process exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// subcommand is one `cajon <name>` entry.
type subcommand struct {
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every subcommand gets from main: streams and the process
// environment, so tests can run subcommands in-process.
type cliEnv struct {
	stdout, stderr io.Writer
	environ        []string
}

func subcommands() map[string]subcommand {
	return map[string]subcommand{
		"plugins":      {"list plugins and their commands, run one command (cajon plugins run), or check the binaries (cajon plugins verify)", cmdPlugins},
		"run":          {"work for a Flamenco Manager, found on the network when none is configured (plain 'cajon' too)", cmdRun},
		"find-manager": {"find Flamenco Managers on the network (SSDP), print their URLs and exit", cmdFindManager},
		"import":       {"take over a stock flamenco-worker: its settings, worker id and secret (cajon import flamenco-worker [DIR])", cmdImport},
		"register":     {"register with the Flamenco Manager as a new worker and save the credentials", cmdRegister},
		"flush":        {"deliver the queued task updates to the Manager and exit", cmdFlush},
		"local":        {"the local job queue: submit, list, show, logs, cancel, run, prune", cmdLocal},
		"config":       {"print the effective configuration and where each value came from", cmdConfig},
		"version":      {"print the version (also cajon --version, cajon -v)", cmdVersion},
		"service":      {"the Windows service: install, uninstall, start, stop, status", cmdService},
		"idle-helper":  {"workstation mode on Windows: report this desktop session's input to the worker (start it at logon)", cmdIdleHelper},
	}
}

func main() {
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()}
	os.Exit(runCLI(env, os.Args[1:]))
}

func runCLI(env *cliEnv, args []string) int {
	return runWith(env, args, signalContext)
}

// runWith runs the command line args with the context newContext makes:
// signalContext for a console, the service manager's for the Windows
// service (cajon service run).
func runWith(env *cliEnv, args []string, newContext func() (context.Context, func())) int {
	cmds := subcommands()
	if len(args) > 0 && isVersionFlag(args[0]) {
		args = append([]string{"version"}, args[1:]...)
	}
	args, notes, err := plainCommand(args)
	if err != nil {
		fmt.Fprintf(env.stderr, "cajon: %v\n", err)
		return 2
	}
	for _, n := range notes {
		fmt.Fprintf(env.stderr, "cajon: %s\n", n)
	}
	if isHelpFlag(args[0]) {
		usage(env.stderr, cmds)
		return 0
	}
	sc, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "cajon: unknown command %q\n\n", args[0])
		usage(env.stderr, cmds)
		return 2
	}
	// The first SIGINT/SIGTERM/SIGHUP cancels ctx: subcommands abort
	// cleanly. A second one ends the process at once.
	ctx, stop := newContext()
	defer stop()
	err = sc.run(ctx, env, args[1:])
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	name := commandName(args)
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(env.stderr, "cajon %s: %v\n", name, ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(env.stderr, "cajon %s: %v\n", name, err)
	return 1
}

// commandName is the command that messages name: "local submit",
// "plugins run", "run".
func commandName(args []string) string {
	if len(args) > 1 {
		_, isLocal := localCommands()[args[1]]
		if (args[0] == "local" && isLocal) || (args[0] == "plugins" && args[1] == "run") {
			return args[0] + " " + args[1]
		}
	}
	return args[0]
}

func usage(w io.Writer, cmds map[string]subcommand) {
	fmt.Fprintln(w, "Cajon is a render-farm worker: it runs tasks from a Flamenco 3 Manager or from its")
	fmt.Fprintln(w, "own local queue, every command in an out-of-process plugin.")
	fmt.Fprintln(w, "\nUsage: cajon <command> [flags] [arguments]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'cajon <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Plain 'cajon' is 'cajon run', and takes flamenco-worker's flags too: -manager, -register,")
	fmt.Fprintln(w, "-find-manager, -flush, -restart-exit-code, -quiet, -debug, -trace, -version (docs/MANAGER.md).")
}

// signalContext is cancelled by the first SIGINT, SIGTERM or SIGHUP, with a
// signalCause naming it; the second one exits the process immediately with
// status 130. SIGHUP (the terminal went away, or a supervisor's reload) is
// a stop like the others: by default it would kill the process on the
// spot, without a sign-off.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "\ncajon: %s: stopping cleanly (send it again to exit at once)\n", signalName(sig))
		cancel(signalCause{sig})
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "cajon: second signal: exiting now")
			os.Exit(130)
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel(nil) }
}

// signalCause is the cause of a signalContext that a signal ended, for the
// worker's log ("the worker is shutting down: received SIGHUP").
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "received " + signalName(c.sig) }

// signalName is the name an admin knows a signal by: on Windows, the
// console event that Go delivers as it.
func signalName(sig os.Signal) string {
	return signalNameOn(runtime.GOOS, sig)
}

func signalNameOn(goos string, sig os.Signal) string {
	switch {
	case sig == syscall.SIGINT && goos == "windows":
		return "Ctrl+C (or Ctrl+Break)"
	case sig == syscall.SIGTERM && goos == "windows":
		return "console closed, logoff or shutdown"
	case sig == syscall.SIGINT:
		return "SIGINT"
	case sig == syscall.SIGTERM:
		return "SIGTERM"
	case sig == syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// newFlags makes a flag set whose --help prints a usage line and the flags.
func newFlags(env *cliEnv, name, usageLine, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("cajon "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: cajon %s\n\n%s\n", usageLine, strings.TrimSpace(about))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(env.stderr, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}
