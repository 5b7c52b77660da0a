package main

import (
	"path/filepath"

	"github.com/cajonfarm/cajon/plugins/internal/ospath"
)

// inputPattern makes inputGlob absolute and clean in path syntax s, the
// system's the plugin runs on: relative to dir, or without one to the
// plugin's own folder (then s must be the native syntax). On Windows the
// Manager's two-way variables hand out C:\render\*.png, C:/render/*.png
// and \\server\share\render/*.png; all come out with backslashes, the
// share kept, for filepath.Glob, where a backslash is a separator and
// never an escape.
func inputPattern(s ospath.Syntax, pattern, dir string) (string, error) {
	if !s.IsAbs(pattern) && dir != "" {
		pattern = s.Join(dir, pattern)
	}
	if s.IsAbs(pattern) {
		return s.Clean(pattern), nil
	}
	return filepath.Abs(pattern)
}
