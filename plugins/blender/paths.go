package main

import (
	"path/filepath"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// resolve makes a path Blender printed or was given absolute, relative to
// the directory Blender runs in.
func resolve(workDir, path string) string {
	return resolveIn(ospath.Native, workDir, path)
}

// resolveIn is resolve for paths in syntax s: Blender on Windows prints
// C:\x, C:/x or \\server\share\x, and the Manager's two-way variables
// hand out the same forms. An absolute path is cleaned (C:/render/f.png
// becomes C:\render\f.png), a relative one joined to workDir; without a
// workDir it is relative to the plugin's own (then s must be the native
// syntax).
func resolveIn(s ospath.Syntax, workDir, path string) string {
	if s.IsAbs(path) {
		return s.Clean(path)
	}
	if workDir == "" {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
		return path
	}
	return s.Join(workDir, path)
}
