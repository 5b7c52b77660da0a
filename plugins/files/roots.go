package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cajonfarm/cajon/plugins/internal/pluginconf"
)

// settings is the plugin's [plugins.files] table. The host fills in
// allowed_roots from its files.allowed_roots setting (for `cajon run` by
// default the Manager's shared storage and the temp folder).
type settings struct {
	// AllowedRoots are the folders the commands may act under; empty means
	// anywhere, and so does "/".
	AllowedRoots []string `json:"allowed_roots" desc:"Set by the host from files.allowed_roots (do not set it here): the folders the commands may act under; empty = anywhere."`
}

// maxLinks bounds the symbolic links followed while resolving one path, as
// the kernel's ELOOP does.
const maxLinks = 255

// guard keeps a command's paths under the allowed roots. A nil guard allows
// anything and changes nothing.
type guard struct {
	command string
	roots   []string // as configured, for messages
	real    []string // resolved
}

// newGuard reads the allowed roots from the plugin config.
func newGuard(src pluginconf.Source, command string) (*guard, error) {
	var s settings
	if err := pluginconf.Decode(src, "files", &s); err != nil {
		return nil, err
	}
	if len(s.AllowedRoots) == 0 {
		return nil, nil
	}
	g := &guard{command: command, roots: s.AllowedRoots}
	for _, root := range s.AllowedRoots {
		if root == "/" {
			return nil, nil // anywhere, on every OS
		}
		if !filepath.IsAbs(root) {
			return nil, fmt.Errorf("%s: files.allowed_roots entry %q is not an absolute path", command, root)
		}
		real, err := resolve(root)
		if err != nil {
			return nil, fmt.Errorf("%s: files.allowed_roots entry %s: %w", command, root, err)
		}
		g.real = append(g.real, real)
	}
	return g, nil
}

// abs makes a path parameter absolute (relative ones are relative to the
// work dir) and checks it. Unguarded, it is cleaned as it always was;
// guarded, it is resolved as the kernel would, not cleaned first, since
// cleaning "link/.." to "" is not what the kernel does.
func (g *guard) abs(param, path, workDir string) (string, error) {
	if g == nil {
		return absPath(param, path, workDir)
	}
	if path == "" {
		return "", fmt.Errorf("parameter %s is empty", param)
	}
	if !filepath.IsAbs(path) {
		base := workDir
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return "", fmt.Errorf("parameter %s %q: %w", param, path, err)
			}
			base = wd
		}
		path = base + string(filepath.Separator) + path
	}
	return g.check(param, path)
}

// check resolves path (absolute) and refuses it when it is outside every
// allowed root. The command must then act on the resolved path it returns,
// so that what was checked is what is touched.
func (g *guard) check(param, path string) (string, error) {
	if g == nil {
		return path, nil
	}
	real, err := resolve(path)
	if err != nil {
		return "", fmt.Errorf("%s: %s %s: %w", g.command, param, path, err)
	}
	if !g.inside(real) {
		return "", g.outside(param, path, real)
	}
	return real, nil
}

// inside reports whether an already resolved path is under an allowed root.
func (g *guard) inside(real string) bool {
	if g == nil {
		return true
	}
	for _, root := range g.real {
		if within(real, root) {
			return true
		}
	}
	return false
}

// outside is the error for a path outside the allowed roots.
func (g *guard) outside(param, path, real string) error {
	shown := path
	if real != path {
		shown = fmt.Sprintf("%s (that is %s)", path, real)
	}
	return fmt.Errorf("%s: %s %s is outside files.allowed_roots [%s]; to allow it, add its folder to files.allowed_roots in cajon.toml ([\"/\"] allows anywhere)",
		g.command, param, shown, strings.Join(g.roots, ", "))
}

// resolve makes an absolute path real: every part that exists is followed
// if it is a symbolic link, and ".." goes to the parent of what came before
// it, as the kernel does, not of the text before it. Parts that do not exist
// are taken as written. Lexical cleaning alone would be fooled by a link:
// root/link/.. is the link target's parent, not root.
func resolve(path string) (string, error) {
	vol := filepath.VolumeName(path)
	cur := vol + string(filepath.Separator)
	todo := parts(path[len(vol):])
	links := 0
	for len(todo) > 0 {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, part)
		target, isLink, err := readLink(next)
		if err != nil {
			return "", err
		}
		if !isLink {
			// Missing (or unreadable, which the command then cannot
			// use either) or not a link: take it as it is.
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", errors.New("too many levels of symbolic links")
		}
		switch tvol := filepath.VolumeName(target); {
		case filepath.IsAbs(target):
			cur = tvol + string(filepath.Separator)
			target = target[len(tvol):]
		case tvol == "" && target != "" && os.IsPathSeparator(target[0]):
			// Windows: \x is on the link's own drive.
			cur = filepath.VolumeName(cur) + string(filepath.Separator)
		}
		todo = append(parts(target), todo...)
	}
	return cur, nil
}

// followJunctions says whether resolve follows Windows junctions (mount
// points) as well as symbolic links. Since Go 1.23 os.Lstat reports a
// junction as irregular, not as a link, and filepath.EvalSymlinks then
// stops at it (ENOTDIR below it), so resolve reads it with os.Readlink.
const followJunctions = runtime.GOOS == "windows"

// readLink reads path if it is a link: a symbolic link, or on Windows a
// junction. A missing or unreadable path, or any other kind of file, is
// no link.
func readLink(path string) (target string, isLink bool, err error) {
	info, err := os.Lstat(path)
	if err != nil {
		return "", false, nil
	}
	switch mode := info.Mode(); {
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(path)
		return target, err == nil, err
	case followJunctions && mode&os.ModeIrregular != 0:
		// Another kind of reparse point (a deduplicated or cloud file)
		// has no target: it is a file like any other.
		target, err := os.Readlink(path)
		return target, err == nil, nil
	}
	return "", false, nil
}

// parts splits a path into its names, dropping empty ones.
func parts(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return os.IsPathSeparator(uint8(r)) })
}
