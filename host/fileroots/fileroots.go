// Package fileroots decides where the file-management commands may act
// (files.allowed_roots) and hands that to the files plugin: the configured
// folders, or by default for a worker of a Flamenco Manager the Manager's
// shared storage plus the temp folder, or anywhere in local mode.
package fileroots

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cajonfarm/cajon/host/flamenco"
)

// FilesPlugin is the plugin whose commands the roots bound.
const FilesPlugin = "files"

// ConfigKey is the key of the files plugin's table that carries the roots.
const ConfigKey = "allowed_roots"

// StorageLocator tells where the Manager's shared storage is; a
// *flamenco.Client is one.
type StorageLocator interface {
	SharedStorage(ctx context.Context, platform string) (flamenco.SharedStorage, error)
}

// Source gives the allowed roots. It is safe for concurrent use.
type Source struct {
	configured []string
	manager    StorageLocator // nil: no default bound
	tempDir    string

	mu      sync.Mutex
	learned []string // the Manager's default, once learned
}

// Configured allows the configured roots; none configured means anywhere
// (cajon local, cajon plugins run).
func Configured(roots []string) *Source {
	return &Source{configured: roots}
}

// ForManager allows the configured roots or, when none are configured, the
// Manager's shared storage for this platform plus tempDir (cajon run). The
// Manager is asked when a file command first needs it, and again after a
// failure; until it answers, file commands fail.
func ForManager(roots []string, m StorageLocator, tempDir string) *Source {
	return &Source{configured: roots, manager: m, tempDir: tempDir}
}

// Roots returns the allowed roots; nil means anywhere.
func (s *Source) Roots(ctx context.Context) ([]string, error) {
	if len(s.configured) > 0 || s.manager == nil {
		return s.configured, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.learned != nil {
		return s.learned, nil
	}
	loc, err := s.manager.SharedStorage(ctx, runtime.GOOS)
	if err != nil {
		return nil, fmt.Errorf("files.allowed_roots is not set, and the Manager's shared storage, the default, could not be learned: %w; set files.allowed_roots in cajon.toml", err)
	}
	if !filepath.IsAbs(loc.Location) {
		return nil, fmt.Errorf("files.allowed_roots is not set, and the Manager's shared storage for %s workers, the default, is %q, not an absolute path (check the Manager's shared_storage_path and its two-way variables); set files.allowed_roots in cajon.toml",
			runtime.GOOS, loc.Location)
	}
	s.learned = []string{loc.Location}
	if s.tempDir != "" {
		s.learned = append(s.learned, s.tempDir)
	}
	return s.learned, nil
}

// RunConfig is for plugins.Options.RunConfig: the files plugin's table gets
// the roots as allowed_roots; other plugins get nothing.
func (s *Source) RunConfig(ctx context.Context, plugin string) (map[string]any, error) {
	if plugin != FilesPlugin {
		return nil, nil
	}
	roots, err := s.Roots(ctx)
	if err != nil || len(roots) == 0 {
		return nil, err
	}
	return map[string]any{ConfigKey: roots}, nil
}
