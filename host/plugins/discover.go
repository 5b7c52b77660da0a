package plugins

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// DefaultDir is the plugins/ folder beside the running cajon binary.
func DefaultDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the cajon binary to find its plugins/ folder: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Join(filepath.Dir(exe), "plugins"), nil
}

// discover lists the plugin executables in dirs, in order. A plugin name found
// in more than one folder is taken from the first, like PATH lookup; the
// shadowed copies are reported as notes. Missing folders are skipped.
func discover(dirs []string) (found []candidate, notes []string) {
	seen := map[string]string{}
	for _, dir := range dirs {
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
