package main

import (
	"fmt"
	"path/filepath"
)

// absPath makes a command's path parameter absolute: relative paths are
// relative to the task's working directory, or the worker's when it has none.
func absPath(param, path, workDir string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("parameter %s is empty", param)
	}
	if !filepath.IsAbs(path) && workDir != "" {
		path = filepath.Join(workDir, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("parameter %s %q: %w", param, path, err)
	}
	return abs, nil
}
