package cmdline

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Program says where a plugin may find the program it runs, in order: the
// task's exe parameter, the plugin's configured exe, a copy bundled beside
// the worker, then Name in PATH.
type Program struct {
	// Name is the program's usual name, e.g. "blender". A task parameter
	// equal to Name (a Manager that knows no better) defers to the config.
	Name string
	// Plugin is the plugin's name, for messages ("[plugins.<Plugin>] exe").
	Plugin string
	// Param is the task's exe parameter; "" when the task gave none.
	Param string
	// Configured is the exe from the plugin's config table; "" when unset.
	Configured string
	// Dir is the directory the program will run in: a relative path with a
	// directory part is relative to it ("" = the current directory).
	Dir string
	// Bundled are paths of the program bundled beside the worker, most
	// specific first (tools/ffmpeg-linux-amd64, ...): the first that exists
	// is taken after the configured exe and before PATH.
	Bundled []string
}

// Find returns the program to run. A value with a directory part is a path
// that must exist; a bare name is looked up in PATH. An explicit value that
// does not resolve is an error (no silent fallback to another program); the
// error says where Find looked.
func (p Program) Find() (string, error) {
	if p.Param != "" && p.Param != p.Name {
		path, err := p.resolve(p.Param)
		if err != nil {
			return "", fmt.Errorf("%s from the task's exe parameter: %w", p.Name, err)
		}
		return path, nil
	}
	if p.Configured != "" {
		path, err := p.resolve(p.Configured)
		if err != nil {
			return "", fmt.Errorf("%s from [plugins.%s] exe in cajon.toml: %w", p.Name, p.Plugin, err)
		}
		return path, nil
	}
	for _, b := range p.Bundled {
		if info, err := os.Stat(b); err == nil && !info.IsDir() {
			return b, nil
		}
	}
	path, err := exec.LookPath(p.Name)
	if err != nil {
		param := "the task gave no exe parameter"
		if p.Param != "" {
			param = fmt.Sprintf("the task's exe parameter is just %q", p.Param)
		}
		bundled := ""
		if len(p.Bundled) > 0 {
			bundled = fmt.Sprintf(", none of %s exists", strings.Join(p.Bundled, ", "))
		}
		return "", fmt.Errorf("%s not found: %s, [plugins.%s] exe is not set in cajon.toml%s, and %q is not in PATH (%s); install %s or set one of these",
			p.Name, param, p.Plugin, bundled, p.Name, os.Getenv("PATH"), p.Name)
	}
	return path, nil
}

// resolve finds one explicit program value: a path, or a name in PATH.
func (p Program) resolve(value string) (string, error) {
	if !strings.ContainsAny(value, `/\`) {
		path, err := exec.LookPath(value)
		if err != nil {
			return "", fmt.Errorf("%q is not in PATH (%s)", value, os.Getenv("PATH"))
		}
		return path, nil
	}
	check := value
	if !filepath.IsAbs(value) && p.Dir != "" {
		check = filepath.Join(p.Dir, value)
	}
	info, err := os.Stat(check)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s does not exist", check)
	case err != nil:
		return "", fmt.Errorf("cannot use %s: %w", check, err)
	case info.IsDir():
		return "", fmt.Errorf("%s is a directory, not a program", check)
	}
	return value, nil
}
