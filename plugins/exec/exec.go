package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cajonfarm/cajon/sdk"
	"github.com/cajonfarm/cajon/sdk/process"
	"github.com/cajonfarm/cajon/sdk/wire"
)

// Exec runs a program without a shell, or an inline script.
type Exec struct {
	Exe    string            `param:"exe" desc:"Program to run: a path, or a name looked up in PATH. Either exe or script is required."`
	Args   []string          `param:"args" desc:"Arguments, passed as they are (no shell)."`
	Env    map[string]string `param:"env" desc:"Extra environment variables."`
	Dir    string            `param:"dir" desc:"Working directory (default: the worker's)."`
	Script string            `param:"script" desc:"An inline script starting with a #! line; written to a private temporary file, run, and removed."`
}

// failureTail is how many of the last output lines go into a failure message.
const failureTail = 5

// Run starts the program or script and fails when it exits non-zero.
func (e *Exec) Run(ctx context.Context, run *sdk.Run) error {
	if (e.Exe == "") == (e.Script == "") {
		return errors.New(`give exactly one of "exe" (a program) or "script" (an inline script with a #! line)`)
	}
	path, args := e.Exe, e.Args
	if e.Script != "" {
		file, cleanup, err := writeScript(e.Script)
		if err != nil {
			return err
		}
		defer cleanup()
		path = file
	}
	argv, err := commandLine(path, args)
	if err != nil {
		return err
	}
	var env []string
	if len(e.Env) > 0 {
		env = os.Environ()
		keys := make([]string, 0, len(e.Env))
		for k := range e.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, k+"="+e.Env[k])
		}
	}
	tail := make([]string, 0, failureTail)
	res, err := run.Exec(ctx, process.Command{
		Path: argv[0], Args: argv[1:], Env: env, Dir: e.Dir,
		OnLine: func(_ process.Stream, line string) {
			run.Log(line)
			if len(tail) == failureTail {
				tail = tail[1:]
			}
			tail = append(tail, line)
		},
	})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		name := e.Exe
		if e.Script != "" {
			name = "script"
		}
		msg := fmt.Sprintf("%s exited with status %d", name, res.ExitCode)
		if len(tail) > 0 {
			msg += "; last output:\n" + strings.Join(tail, "\n")
		}
		return errors.New(msg)
	}
	return nil
}

// writeScript stores an inline script in a private temporary folder.
func writeScript(script string) (string, func(), error) {
	if !strings.HasPrefix(script, "#!") {
		return "", nil, errors.New(`script must start with a #! line naming its interpreter, e.g. "#!/bin/sh"`)
	}
	// In the plugin's private folder, which the host removes with the
	// plugin: a plugin killed while the script runs leaves nothing in /tmp.
	dir, err := os.MkdirTemp(os.Getenv(wire.EnvPrivateDir), "cajon-script-")
	if err != nil {
		return "", nil, fmt.Errorf("creating a temporary folder for the script: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "script")
	if err := os.WriteFile(file, []byte(script), 0o700); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("writing the script to %s: %w", file, err)
	}
	return file, cleanup, nil
}

// commandLine turns a program and its arguments into argv. A file that starts
// with #! is run through its interpreter, so a script runs even without the
// execute bit (or from a noexec temp folder).
func commandLine(path string, args []string) ([]string, error) {
	interp, err := shebang(path)
	if err != nil {
		return nil, err
	}
	if len(interp) == 0 {
		return append([]string{path}, args...), nil
	}
	argv := append(interp, path)
	return append(argv, args...), nil
}

// shebang returns the interpreter and its optional argument from a file's #!
// line, or nil when the file is not a script (or is a name found in PATH).
func shebang(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsRune(path, os.PathSeparator) {
			return nil, nil // a bare name: leave it to PATH lookup
		}
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.IsDir() {
		return nil, fmt.Errorf("%s is not a program file", path)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return nil, nil
	}
	if !strings.HasPrefix(line, "#!") {
		return nil, nil
	}
	// Like the kernel: the interpreter, then at most one argument.
	fields := strings.Fields(strings.TrimSpace(line[2:]))
	if len(fields) == 0 {
		return nil, fmt.Errorf("%s: the #! line names no interpreter", path)
	}
	interp := []string{fields[0]}
	if len(fields) > 1 {
		interp = append(interp, strings.Join(fields[1:], " "))
	}
	return interp, nil
}
