//go:build !unix

package jobstore

import "path/filepath"

// diskOf names the disk that holds path, for messages about a disk that
// refuses writes.
func diskOf(path string) string { return "the disk holding " + filepath.Dir(path) }
