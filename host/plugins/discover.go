package plugins

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
)

// BinaryPrefix starts the file name of every plugin executable.
const BinaryPrefix = "cajon-plugin-"

// candidate is a plugin executable found on disk.
type candidate struct {
	name string // plugin name: the file name without prefix and .exe
	path string
}

// DefaultDirs are the plugin folders of the running cajon binary, in search
// order: plugins/ beside it (a build tree, an unpacked archive), then
// ../libexec/cajon/plugins (an installed tree: <prefix>/bin/cajon and
// <prefix>/libexec/cajon/plugins, as `make install` lays it out). Symbolic
// links to the binary are resolved first.
func DefaultDirs() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the cajon binary to find its plugin folders: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return dirsBeside(exe), nil
}

// hostDir is the folder of the running cajon binary, symbolic links
// resolved: plugins get it (wire.EnvHostDir) to find programs bundled beside
// the worker, as in a Flamenco worker bundle's tools/ folder.
func hostDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the cajon binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Dir(exe), nil
}

// dirsBeside is DefaultDirs for the binary at exe.
func dirsBeside(exe string) []string {
	dir := filepath.Dir(exe)
	return []string{
		filepath.Join(dir, "plugins"),
		filepath.Join(filepath.Dir(dir), "libexec", "cajon", "plugins"),
	}
}

// discover lists the plugin executables in dirs, in order. A plugin name found
// in more than one folder is taken from the first, like PATH lookup; the
// shadowed copies are reported as notes. Missing folders are skipped.
func discover(dirs []string) (found []candidate, notes []string) {
	seen := map[string]string{}
	var searched []os.FileInfo
	for _, dir := range dirs {
		// The same folder may come twice, spelled differently: as the
		// default and in plugin_dirs, with another case or separator on
		// Windows, through a link, with a trailing separator. Its plugins
		// do not shadow themselves.
		if info, err := os.Stat(dir); err == nil {
			if slices.ContainsFunc(searched, func(s os.FileInfo) bool { return os.SameFile(s, info) }) {
				continue
			}
			searched = append(searched, info)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !os.IsNotExist(err) {
				notes = append(notes, fmt.Sprintf("cannot read plugin folder %s: %v", dir, err))
			}
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			file := e.Name()
			if !strings.HasPrefix(file, BinaryPrefix) || e.IsDir() {
				continue
			}
			name := strings.TrimPrefix(file, BinaryPrefix)
			if runtime.GOOS == "windows" {
				if !strings.HasSuffix(strings.ToLower(name), ".exe") {
					continue
				}
				name = name[:len(name)-4]
			}
			if name == "" || strings.ContainsAny(name, ". ") {
				continue // editor backups, "cajon-plugin-x.old" and the like
			}
			path := filepath.Join(dir, file)
			info, err := os.Stat(path)
			if err != nil {
				notes = append(notes, fmt.Sprintf("plugin %s: %v", path, err))
				continue
			}
			if runtime.GOOS != "windows" && info.Mode().Perm()&0o111 == 0 {
				notes = append(notes, fmt.Sprintf("plugin %s is not executable (chmod +x it to use it)", path))
				continue
			}
			if first, dup := seen[name]; dup {
				notes = append(notes, fmt.Sprintf("plugin %s is shadowed by %s", path, first))
				continue
			}
			seen[name] = path
			found = append(found, candidate{name: name, path: path})
		}
	}
	return found, notes
}
