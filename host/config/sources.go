package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// FileSource is one cajon.toml layer.
type FileSource struct {
	// Path of the file.
	Path string
	// Required makes a missing file an error (the --config file); other files are
	// skipped when they do not exist.
	Required bool
}

// Sources names everything Load reads, so a caller (or a test) decides which files,
// which environment and which flags count.
type Sources struct {
	// Files in increasing precedence: a later file overrides an earlier one.
	Files []FileSource
	// Environ is the environment as "NAME=value" entries (os.Environ()); nil is an
	// empty environment. Only CAJON_* entries set keys; HOME, XDG_STATE_HOME and
	// LOCALAPPDATA are read for the default state directory.
	Environ []string
	// Flags maps a key ("manager.url") to its raw command-line value, parsed like an
	// environment value. Flags override everything else.
	Flags map[string]string
}

// DefaultSources returns the real layers: the system file (/etc/cajon/cajon.toml;
// %ProgramData%\cajon\cajon.toml on Windows), the user's file
// (os.UserConfigDir()/cajon/cajon.toml), ./cajon.toml and, when configFlag is not
// empty, that file, which must exist. environ and flags are passed through.
// A file named twice (e.g. --config ./cajon.toml) is read once, at its later place.
func DefaultSources(configFlag string, environ []string, flags map[string]string) Sources {
	var files []FileSource
	if sys := systemConfigFile(runtime.GOOS, envLookup(environ)); sys != "" {
		files = append(files, FileSource{Path: sys})
	}
	if dir, err := os.UserConfigDir(); err == nil {
		files = append(files, FileSource{Path: filepath.Join(dir, "cajon", "cajon.toml")})
	}
	files = append(files, FileSource{Path: absPath("cajon.toml")})
	if configFlag != "" {
		files = append(files, FileSource{Path: absPath(configFlag), Required: true})
	}
	return Sources{Files: dedupeFiles(files), Environ: environ, Flags: flags}
}

// systemConfigFile is the machine-wide cajon.toml of an OS; "" when it has none.
func systemConfigFile(goos string, getenv func(string) string) string {
	if goos == "windows" {
		if pd := getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "cajon", "cajon.toml")
		}
		return ""
	}
	return "/etc/cajon/cajon.toml"
}

// absPath makes path absolute so messages and `cajon config` name the file fully; it
// keeps path as is when the working directory is unknown.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// dedupeFiles drops earlier occurrences of a path named twice; the kept one is
// required when any occurrence was.
func dedupeFiles(files []FileSource) []FileSource {
	var out []FileSource
	for i, f := range files {
		later := false
		for _, g := range files[i+1:] {
			if filepath.Clean(g.Path) == filepath.Clean(f.Path) {
				later = true
				break
			}
		}
		if later {
			continue
		}
		for _, g := range files[:i] {
			if filepath.Clean(g.Path) == filepath.Clean(f.Path) && g.Required {
				f.Required = true
			}
		}
		out = append(out, f)
	}
	return out
}

// DefaultStateDir is the state directory used when no layer sets state_dir, for this
// process: /var/lib/cajon for root on Unix; otherwise $XDG_STATE_HOME/cajon or
// ~/.local/state/cajon; %LOCALAPPDATA%\cajon on Windows. "" when none can be found.
func DefaultStateDir() string {
	return defaultStateDir(runtime.GOOS, isRoot(), os.Getenv)
}

// isRoot reports whether the process runs as uid 0 (always false on Windows, where
// Geteuid returns -1).
func isRoot() bool {
	return os.Geteuid() == 0
}

// defaultStateDir computes DefaultStateDir from explicit inputs, so Load can use the
// environment of its Sources and tests can cover every OS branch.
func defaultStateDir(goos string, root bool, getenv func(string) string) string {
	if goos == "windows" {
		if dir := getenv("LOCALAPPDATA"); dir != "" {
			return filepath.Join(dir, "cajon")
		}
		if home := getenv("USERPROFILE"); home != "" {
			return filepath.Join(home, "AppData", "Local", "cajon")
		}
		return ""
	}
	if root {
		return "/var/lib/cajon"
	}
	// The XDG spec says to ignore a relative XDG_STATE_HOME.
	if dir := getenv("XDG_STATE_HOME"); strings.HasPrefix(dir, "/") {
		return filepath.Join(dir, "cajon")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "state", "cajon")
	}
	return ""
}

// envLookup turns an environment list into a getenv function; a later entry of the
// same name wins, as with exec.Cmd.
func envLookup(environ []string) func(string) string {
	return func(name string) string {
		value := ""
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && envNameEqual(k, name) {
				value = v
			}
		}
		return value
	}
}

// envNameEqual compares environment variable names the way the OS does: Windows
// ignores case.
func envNameEqual(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}
