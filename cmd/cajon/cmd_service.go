package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/cajonfarm/cajon/host/winservice"
)

// serviceUsage is the usage line of cajon service.
const serviceUsage = `service install [--name NAME] [--config FILE] [--restart-exit-code N] [--log FILE] [--user USER --password PASSWORD] [-- RUN FLAGS]
       cajon service uninstall|start|stop|status [--name NAME]`

// serviceAbout explains cajon service.
const serviceAbout = `Run cajon as a Windows service (docs/WINDOWS.md). Run these from an
administrator's command prompt.

  install    create the service: it runs 'cajon run' at boot, as LocalSystem or
             --user, with recovery actions that restart it when it exits with
             restart_exit_code (the Manager asked for a restart) or crashes
  uninstall  stop the service and remove it
  start      start the service and wait until it runs
  stop       stop the service: the worker aborts its task, delivers its updates
             and signs off, as on Ctrl+C
  status     print the service's state and command line

A service has no console: the worker's log goes to --log (rotated at 64 MiB),
start and stop to the Application event log. On Linux use the systemd unit
examples/cajon-worker.service instead.`

func cmdService(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		newFlags(env, "service", serviceUsage, serviceAbout).Usage()
		return &exitError{code: 2, err: errors.New("say what to do: install, uninstall, start, stop or status")}
	}
	action, rest := args[0], args[1:]
	switch action {
	case "-h", "--help", "help":
		newFlags(env, "service", serviceUsage, serviceAbout).Usage()
		return nil
	case "install":
		return cmdServiceInstall(env, rest)
	case "run":
		return cmdServiceRun(env, rest)
	case "uninstall", "start", "stop", "status":
		return cmdServiceControl(env, action, rest)
	}
	newFlags(env, "service", serviceUsage, serviceAbout).Usage()
	return &exitError{code: 2, err: fmt.Errorf("unknown action %q: install, uninstall, start, stop or status", action)}
}

// windowsOnly is the error of cajon service on other systems.
func windowsOnly() error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return &exitError{code: 2, err: winservice.ErrWindowsOnly}
}

func cmdServiceInstall(env *cliEnv, args []string) error {
	fs := newFlags(env, "service install", serviceUsage, serviceAbout)
	name := fs.String("name", winservice.DefaultName, "the service's name")
	display := fs.String("display-name", "Cajon render-farm worker", "the name services.msc shows")
	configFile := fs.String("config", "", `the cajon.toml the service reads after the default ones (default: only %ProgramData%\cajon\cajon.toml)`)
	restart := fs.Int("restart-exit-code", winservice.DefaultRestartExitCode, "the exit code that restarts the service when the Manager asks for a restart (manager.restart_exit_code; 0 refuses restarts)")
	logFile := fs.String("log", "", `the service's log file (default %ProgramData%\cajon\NAME.log)`)
	user := fs.String("user", "", `the account the service runs as, e.g. .\render or DOMAIN\render (default LocalSystem)`)
	password := fs.String("password", "", "the password of --user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := windowsOnly(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating cajon.exe for the service: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	in := winservice.Install{Name: *name, DisplayName: *display, Exe: exe, Log: *logFile, User: *user, Password: *password}
	if in.Log == "" {
		in.Log = filepath.Join(programData(env.environ), "cajon", *name+".log")
	}
	if in.Log, err = filepath.Abs(in.Log); err != nil {
		return err
	}
	if *configFile != "" {
		abs, err := filepath.Abs(*configFile)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--config %s: %w", abs, err)}
		}
		in.RunArgs = append(in.RunArgs, "--config", abs)
	}
	in.RunArgs = append(in.RunArgs, "--restart-exit-code", strconv.Itoa(*restart))
	in.RunArgs = append(in.RunArgs, fs.Args()...)
	warnings, err := winservice.InstallService(in)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(env.stderr, "cajon service install: warning: %s\n", w)
	}
	fmt.Fprintf(env.stdout, "installed service %s: %s %q\nlog: %s\nstart it with: cajon service start --name %s\n",
		in.Name, exe, in.ServiceArgs(), in.Log, in.Name)
	return nil
}

// programData is the machine-wide application data folder.
func programData(environ []string) string {
	if dir := lookupEnv(environ, "ProgramData"); dir != "" {
		return dir
	}
	return `C:\ProgramData`
}

// lookupEnv finds key in an environment list.
func lookupEnv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := cutEnv(environ[i]); ok && k == key {
			return v
		}
	}
	return ""
}

func cutEnv(kv string) (string, string, bool) {
	for i := 1; i < len(kv); i++ { // a Windows entry may start with "="
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

func cmdServiceControl(env *cliEnv, action string, args []string) error {
	fs := newFlags(env, "service "+action, serviceUsage, serviceAbout)
	name := fs.String("name", winservice.DefaultName, "the service's name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	if err := windowsOnly(); err != nil {
		return err
	}
	switch action {
	case "uninstall":
		if err := winservice.UninstallService(*name); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "removed service %s\n", *name)
	case "start":
		if err := winservice.StartService(*name); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "service %s is running\n", *name)
	case "stop":
		if err := winservice.StopService(*name); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "service %s stopped\n", *name)
	case "status":
		st, err := winservice.QueryService(*name)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "service %s: %s\n", *name, st)
		if st.Command != "" { // wine cannot say
			fmt.Fprintf(env.stdout, "start: %s\ncommand: %s\n", st.StartType, st.Command)
		}
	}
	return nil
}

// cmdServiceRun is what the service manager starts: cajon run, with a
// service stop as its SIGTERM and its output in the log file.
func cmdServiceRun(env *cliEnv, args []string) error {
	fs := newFlags(env, "service run", "service run --log FILE NAME -- [RUN FLAGS]",
		"Run as the Windows service NAME; the service manager starts this (cajon service install sets it up).")
	logFile := fs.String("log", "", "the service's log file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || *logFile == "" {
		return &exitError{code: 2, err: errors.New("give --log FILE and the service's name")}
	}
	name, runArgs := fs.Arg(0), fs.Args()[1:]
	if len(runArgs) > 0 && runArgs[0] == "--" {
		runArgs = runArgs[1:]
	}
	if err := windowsOnly(); err != nil {
		return err
	}
	return winservice.Run(name, *logFile, func(ctx context.Context, out io.Writer) int {
		senv := &cliEnv{stdout: out, stderr: out, environ: env.environ}
		return runWith(senv, append([]string{"run"}, runArgs...), func() (context.Context, func()) {
			return ctx, func() {}
		})
	})
}
